{
  "targets": [
    {
      "target_name": "netlink_socket",
      "sources": ["addon/netlink_socket.cc", "addon/reader.cc", "addon/channel.cc"],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      # NAPI 8 = Node >= 12.22/14.17; everything used here exists in Node 20.
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      # node's common.gypi builds Release with -O3 and -std=gnu++17: keep gnu++17, use -O2.
      "cflags!": ["-O3"],
      "cflags_cc!": ["-O3"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "cflags_cc": ["-O2"]
    },
    {
      # pidfd_open + a libuv poll handle: tells JS when a process exits (a /proc/PID/ns/net
      # namespace lives as long as that process). Its own module: nothing shared with the socket.
      "target_name": "process_watch",
      "sources": ["addon/process_watch.cc"],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-O3"],
      "cflags_cc!": ["-O3"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "cflags_cc": ["-O2"]
    }
  ]
}
