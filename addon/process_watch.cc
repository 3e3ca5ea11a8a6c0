// ProcessWatch: calls back once when a process exits (the JS surface is src/runtime/process-watch.ts).
//
// A namespace named by /proc/PID/ns/net lives as long as that process; procfs has no inotify,
// so the exporter learns of the exit through a pidfd (pidfd_open(2), Linux >= 5.3), which
// becomes readable when the process exits. The pidfd sits in a libuv poll handle on Node's own
// loop: no thread, no timer. Nothing here knows about namespaces.
//
//   const w = new ProcessWatch(pid, (err) => { ... });  // throws ESRCH (Node-shaped) if no such process
//   w.unref();  // do not keep the event loop alive for it
//   w.close();  // idempotent; the callback is not called after it

#include <napi.h>
#include <uv.h>

#include "errors.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <memory>
#include <string>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434  // the same number on every architecture
#endif

namespace {

using nle::ErrnoError;

class ProcessWatch;

// What libuv owns from uv_poll_init until the close callback: the handle and the pidfd. It
// outlives the JS object if that is collected first (the close callback frees it).
struct PollState {
  uv_poll_t handle;
  int fd = -1;
  ProcessWatch* owner = nullptr;  // null once nobody is to be told
};

class ProcessWatch : public Napi::ObjectWrap<ProcessWatch> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ProcessWatch",
                       {
                           InstanceMethod<&ProcessWatch::Close>("close"),
                           InstanceMethod<&ProcessWatch::Unref>("unref"),
                           InstanceAccessor<&ProcessWatch::Pid>("pid"),
                       });
  }

  explicit ProcessWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessWatch>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
      throw Napi::TypeError::New(env, "ProcessWatch(pid: number, onExit: function)");
    }
    double pid = info[0].As<Napi::Number>().DoubleValue();
    if (!(pid >= 1 && pid <= 4194304 && std::floor(pid) == pid)) {
      throw Napi::RangeError::New(env, "pid must be an integer from 1 to 4194304");
    }
    pid_ = static_cast<int>(pid);
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));  // a pidfd is always close-on-exec
    if (fd < 0) throw ErrnoError(env, errno, "pidfd_open");

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      ::close(fd);
      throw Napi::Error::New(env, "no libuv event loop");
    }
    auto state = std::make_unique<PollState>();
    state->fd = fd;
    int r = uv_poll_init(loop, &state->handle, fd);
    if (r != 0) {
      ::close(fd);
      throw ErrnoError(env, -r, "uv_poll_init");
    }
    // From here on the handle is live: only its close callback may free the state.
    state_ = state.release();
    state_->handle.data = state_;
    state_->owner = this;
    r = uv_poll_start(&state_->handle, UV_READABLE, OnReadable);
    if (r != 0) {
      Stop();
      throw ErrnoError(env, -r, "uv_poll_start");
    }
    onExit_ = Napi::Persistent(info[1].As<Napi::Function>());
    // The wrapper is both the async resource and the receiver: Node looks up the context
    // (AsyncLocalStorage's store) on the receiver of MakeCallback.
    context_ = std::make_unique<Napi::AsyncContext>(env, "ProcessWatch", info.This().As<Napi::Object>());
    // Kept alive while armed, even if JS drops it: the callback is the point.
    Ref();
    armed_ = true;
    if (napi_add_env_cleanup_hook(env, OnEnvCleanup, this) == napi_ok) cleanupHook_ = true;
  }

  ~ProcessWatch() override {
    if (cleanupHook_) napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
    cleanupHook_ = false;
    Stop();
  }

 private:
  void Close(const Napi::CallbackInfo&) { Disarm(); }

  void Unref(const Napi::CallbackInfo&) {
    if (state_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(&state_->handle));
  }

  Napi::Value Pid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), pid_); }

  // Closes the handle (its close callback closes the pidfd). Idempotent.
  void Stop() {
    if (state_ == nullptr) return;
    state_->owner = nullptr;
    uv_poll_stop(&state_->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&state_->handle), OnClosed);
    state_ = nullptr;
  }

  // Stop, and let JS collect us. JS thread only.
  void Disarm() {
    Stop();
    onExit_.Reset();
    context_.reset();
    if (armed_) {
      armed_ = false;
      Napi::ObjectWrap<ProcessWatch>::Unref();
    }
  }

  static void OnClosed(uv_handle_t* handle) {
    auto* state = static_cast<PollState*>(handle->data);
    if (state->fd >= 0) ::close(state->fd);
    delete state;
  }

  static void OnEnvCleanup(void* self) {
    auto* watch = static_cast<ProcessWatch*>(self);
    watch->cleanupHook_ = false;
    watch->Stop();
  }

  // The pidfd is readable: the process has exited (or polling failed, which is reported).
  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    auto* state = static_cast<PollState*>(handle->data);
    ProcessWatch* watch = state->owner;
    if (watch == nullptr) return;
    watch->Fire(status);
  }

  void Fire(int status) {
    Napi::Env env = env_;
    Napi::HandleScope scope(env);
    Napi::FunctionReference onExit = std::move(onExit_);
    std::unique_ptr<Napi::AsyncContext> context = std::move(context_);
    Napi::Value arg = status < 0 ? ErrnoError(env, -status, "uv_poll").Value() : env.Null();
    Napi::Object self = Value();  // the receiver (MakeCallback wants an object); held by this scope
    Disarm();  // once: the handle goes before JS runs, so nothing fires twice
    if (onExit.IsEmpty() || !context) return;
    try {
      // MakeCallback with the creator's async context: AsyncLocalStorage and tracing follow it.
      onExit.MakeCallback(self, {arg}, *context);
    } catch (const Napi::Error& error) {
      napi_fatal_exception(env, error.Value());
    }
  }

  napi_env env_;
  PollState* state_ = nullptr;
  Napi::FunctionReference onExit_;
  std::unique_ptr<Napi::AsyncContext> context_;
  int pid_ = 0;
  bool armed_ = false;
  bool cleanupHook_ = false;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("ProcessWatch", ProcessWatch::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(process_watch, Init)
