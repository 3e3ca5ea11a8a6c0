#!/bin/sh
# /usr/bin/netlink-exporter: the exporter installed in /usr/lib/netlink-exporter, run by the
# system's Node.js (>= 20). exec keeps one process, so signals and systemd's MAINPID reach node.
if ! command -v node >/dev/null 2>&1; then
  echo "netlink-exporter: Node.js (node, >= 20) is not on PATH" >&2
  exit 127
fi
exec node /usr/lib/netlink-exporter/dist/src/main.js "$@"
