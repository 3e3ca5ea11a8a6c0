// Errors shaped like Node's own, shared by the addon's modules (netlink_socket, process_watch).
#pragma once

#include <napi.h>
#include <uv.h>  // uv_err_name_r / uv_strerror_r: Node's own errno names and messages

#include <string>

namespace nle {

// A JS Error shaped like Node's system errors: message "ENOENT: no such file or directory,
// open '/run/netns/x'", errno -2 (libuv's negative convention), code 'ENOENT', syscall, path.
inline Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path = "") {
  char code[64];
  char text[256];
  uv_err_name_r(-err, code, sizeof code);
  uv_strerror_r(-err, text, sizeof text);
  std::string message = std::string(code) + ": " + text + ", " + syscall;
  if (!path.empty()) message += " '" + path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("code", Napi::String::New(env, code));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) error.Set("path", Napi::String::New(env, path));
  return error;
}

// An error that is not a system call's: { code: 'ERR_SOCKET_CLOSED', message }.
inline Napi::Error CodeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

}  // namespace nle
