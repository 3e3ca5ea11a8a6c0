// NetlinkSocket: a thin rtnetlink socket for Node (the JS surface is src/netlink/native.ts).
//
// The addon opens, configures and drains the socket; it never parses messages. A reader thread
// blocks in poll() on the socket and an eventfd, drains datagrams into chunks and hands each
// chunk to JS through one thread-safe function with a bounded queue. It never waits for JS:
// when the queue is full a full chunk is dropped and reported as an overrun, like ENOBUFS
// (see "Hand-off policy" below).
//
// Chunk framing, per datagram: [u32 length, host order][datagram][zero pad to 4 bytes].

#include <napi.h>
#include <uv.h>  // uv_err_name_r / uv_strerror_r: Node's own errno names and messages

#include <fcntl.h>
#include <malloc.h>  // malloc_trim
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

// The reader stops filling a chunk once less than this is free, so any datagram up to 64 KiB
// always fits in full (rtnetlink datagrams are far smaller: notifications about a page, dump
// datagrams at most 32 KiB).
constexpr size_t kMaxDatagram = 64 * 1024;
constexpr size_t kFrameHeader = 4;
constexpr size_t kMinChunkBytes = kMaxDatagram + kFrameHeader;
/** EINVALs in a row, with no datagram between, after which the socket is taken as broken. */
constexpr unsigned kMaxSpuriousInRow = 64;
/** Datagrams per recvmmsg call. */
constexpr unsigned kBatch = 16;
/**
 * A partial chunk waits this long for company when the previous hand-over was this recent:
 * under a steady trickle (thousands a second) each notification would otherwise cost a wake-up
 * of both threads and a call into JS. A first notification after a quiet moment goes at once.
 * Measured on an address burst (about 12,000 notifications a second): 500 us gave 21-25 us of
 * CPU a notification, 2 ms 14-17 us, and later, with cheaper JS, 2 ms 6-13.5 us and 5 ms
 * 4.25-11.75 us (two runs of each, alternated). The cost is at most 5 ms more latency inside a
 * burst; a change after a quiet moment is not delayed.
 */
constexpr std::chrono::microseconds kGatherWindow{5000};
constexpr size_t kMaxChunkBytes = 64 * 1024 * 1024;
constexpr size_t kDefaultChunkBytes = 256 * 1024;
constexpr size_t kDefaultMaxQueuedChunks = 64;
constexpr size_t kMaxMaxQueuedChunks = 1 << 20;

// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    Reset(other.Release());
    return *this;
  }
  ~UniqueFd() { Reset(); }

  int Get() const { return fd_; }
  bool Valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1) {
    // close() is not retried on EINTR: on Linux the fd is released either way.
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A JS Error shaped like Node's system errors: message "ENOENT: no such file or directory,
// open '/run/netns/x'", errno -2 (libuv's negative convention), code 'ENOENT', syscall, path.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path = "") {
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
Napi::Error CodeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

void BlockAllSignals() {
  // Signals belong to Node's main thread; our threads only poll and recv.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

struct OpenResult {
  int fd = -1;
  int err = 0;
  const char* syscall = nullptr;
};

OpenResult OpenSocket() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) return {-1, errno, "socket"};
  return {fd, 0, nullptr};
}

// A socket belongs for its whole life to the namespace it was created in. To create one in
// another namespace without moving Node's main thread, a short-lived thread joins the
// namespace (setns changes only the calling thread), creates the socket and exits.
OpenResult OpenSocketInNamespace(const std::string& path) {
  OpenResult result;
  std::thread thread([&path, &result] {
    BlockAllSignals();
    UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns.Valid()) {
      result = {-1, errno, "open"};
      return;
    }
    if (::setns(ns.Get(), CLONE_NEWNET) != 0) {
      result = {-1, errno, "setns"};
      return;
    }
    result = OpenSocket();
  });
  thread.join();
  return result;
}

// State shared by the socket object and the thread-safe function's callback. It lives as long as
// the longer of the two (the TSFN finalizer may run after the socket object is gone).
struct Shared {
  // Events (chunks and signals) handed to the TSFN and not yet taken by JS.
  std::atomic<size_t> queued{0};
  // Of those, chunks: queueDepth().
  std::atomic<int64_t> depth{0};
  // Set by the reader when something stayed behind (queue full, or JS busy): the JS thread then
  // pokes the eventfd after it takes an item off the queue, so the reader tries again at once.
  std::atomic<bool> wakeOnDequeue{false};
  // Set at construction: a chunk stays counted (queued, depth) until JS calls release() after
  // processing it, not merely until JS receives it. JS can then process chunks in slices,
  // yielding to its event loop between them, and the bound still covers every chunk not done.
  bool explicitRelease = false;
  // JS thread only.
  int wakeFd = -1;
  bool closed = false;
};

// After JS took (or, with explicitRelease, finished) an item: if the reader left something
// behind for want of room, it waits on the eventfd for exactly this.
void PokeReaderIfWaiting(Shared& shared) {
  if (shared.wakeOnDequeue.exchange(false)) {
    uint64_t one = 1;
    ssize_t ignored = ::write(shared.wakeFd, &one, sizeof one);
    (void)ignored;  // a failed write to an eventfd can only mean its counter is saturated
  }
}

enum OverrunReason { kEnobufs = 0, kQueue = 1, kTruncated = 2, kSocketError = 3, kReasonCount = 4 };
const char* const kReasonNames[kReasonCount] = {"enobufs", "queue", "truncated", "socket_error"};

struct Event {
  enum Kind { kData, kOverrun, kError } kind;
  uint8_t* data = nullptr;  // kData: malloc'd, ownership moves to the JS Buffer
  size_t length = 0;
  uint64_t count = 0;  // kData: datagrams in the chunk; kOverrun: overruns since the last signal
  OverrunReason reason = kEnobufs;
  int err = 0;  // kError
  const char* syscall = nullptr;

  ~Event() { std::free(data); }
};

void CallJs(Napi::Env env, Napi::Function onEvent, std::shared_ptr<Shared>* context, Event* raw);
void Deliver(Napi::Env env, Napi::Function onEvent, Event& event);

using Tsfn = Napi::TypedThreadSafeFunction<std::shared_ptr<Shared>, Event, CallJs>;

// Runs on the JS thread for each queued event. env is null when the TSFN is being torn down
// with items still queued (after close): those are only freed. By then the context may
// already be deleted (Node runs the finalizer first), so it is not touched.
void CallJs(Napi::Env env, Napi::Function onEvent, std::shared_ptr<Shared>* context, Event* raw) {
  std::unique_ptr<Event> event(raw);
  if (env == nullptr || onEvent.IsEmpty() || !event) return;
  Shared& shared = **context;
  // A chunk JS must release stays counted until then (NetlinkSocket::Release).
  bool held = event->kind == Event::kData && shared.explicitRelease;
  if (!held) {
    // Lowered before wakeOnDequeue is read: see NetlinkSocket::Deliver.
    shared.queued.fetch_sub(1);
    if (event->kind == Event::kData) shared.depth.fetch_sub(1);
  }
  if (shared.closed) return;
  if (!held) PokeReaderIfWaiting(shared);

  try {
    Deliver(env, onEvent, *event);
  } catch (const Napi::Error& error) {
    // onEvent threw. Node 20 would only print a deprecation warning for an exception escaping
    // a thread-safe function's callback (unless --force-node-api-uncaught-exceptions-policy),
    // so raise it as an uncaught exception ourselves: process 'uncaughtException', else exit.
    napi_fatal_exception(env, error.Value());
  }
}

void Deliver(Napi::Env env, Napi::Function onEvent, Event& event) {
  switch (event.kind) {
    case Event::kData: {
      // Copied into a V8-owned buffer and freed here: an external buffer would need a finalizer
      // per chunk, which costs more than copying the few hundred bytes a chunk usually holds.
      Napi::Buffer<uint8_t> chunk = Napi::Buffer<uint8_t>::Copy(env, event.data, event.length);
      std::free(event.data);
      event.data = nullptr;
      onEvent.Call({Napi::String::New(env, "data"), chunk,
                    Napi::Number::New(env, static_cast<double>(event.count))});
      break;
    }
    case Event::kOverrun:
      onEvent.Call({Napi::String::New(env, "overrun"),
                    Napi::String::New(env, kReasonNames[event.reason]),
                    Napi::Number::New(env, static_cast<double>(event.count))});
      break;
    case Event::kError:
      onEvent.Call({Napi::String::New(env, "error"),
                    ErrnoError(env, event.err, event.syscall).Value(), Napi::Number::New(env, 1)});
      break;
  }
}

class NetlinkSocket : public Napi::ObjectWrap<NetlinkSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NetlinkSocket",
        {
            InstanceMethod<&NetlinkSocket::Start>("start"),
            InstanceMethod<&NetlinkSocket::Send>("send"),
            InstanceMethod<&NetlinkSocket::QueueDepth>("queueDepth"),
            InstanceMethod<&NetlinkSocket::Release>("release"),
            InstanceMethod<&NetlinkSocket::Close>("close"),
            InstanceAccessor<&NetlinkSocket::PortId>("portId"),
            InstanceAccessor<&NetlinkSocket::ReceiveBufferBytes>("receiveBufferBytes"),
            InstanceAccessor<&NetlinkSocket::ReceiveBufferForced>("receiveBufferForced"),
        });
  }

  explicit NetlinkSocket(const Napi::CallbackInfo& info);
  ~NetlinkSocket() override;

 private:
  // JS methods.
  void Start(const Napi::CallbackInfo& info);
  void Send(const Napi::CallbackInfo& info);
  Napi::Value QueueDepth(const Napi::CallbackInfo& info);
  void Release(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  Napi::Value PortId(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), portId_);
  }
  Napi::Value ReceiveBufferBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), receiveBufferBytes_);
  }
  Napi::Value ReceiveBufferForced(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), receiveBufferForced_);
  }

  // Stops the reader, drops the TSFN, closes the fds. JS thread; idempotent.
  void Shutdown();
  static void OnEnvCleanup(void* self);
  void ThrowIfClosed(Napi::Env env) const {
    if (closed_) throw CodeError(env, "ERR_SOCKET_CLOSED", "NetlinkSocket is closed");
  }

  // Reader thread.
  void ReaderMain();
  void Drain();
  void DrainedPartial();
  void Overrun(OverrunReason reason);
  void Fail(int err, const char* syscall);
  void Deliver(bool mustEmpty);
  bool TryDeliver(bool chunkIsDue);
  bool HasRoom() const;
  bool Push(Event* event);

  napi_env env_;
  UniqueFd socket_;
  UniqueFd wake_;  // eventfd: close() and the JS thread wake the reader through it
  uint32_t portId_ = 0;
  int receiveBufferBytes_ = 0;
  bool receiveBufferForced_ = false;
  size_t chunkBytes_ = kDefaultChunkBytes;
  size_t maxQueuedChunks_ = kDefaultMaxQueuedChunks;

  Napi::FunctionReference onEvent_;  // until start() hands it to the TSFN
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  Tsfn tsfn_;
  bool tsfnLive_ = false;
  bool started_ = false;
  bool closed_ = false;
  bool cleanupHookAdded_ = false;
  std::thread reader_;
  std::atomic<bool> stop_{false};

  // Reader thread only.
  uint8_t* chunk_ = nullptr;
  /** kBatch slots of kMaxDatagram bytes that recvmmsg fills (only the bytes received are touched). */
  uint8_t* scratch_ = nullptr;
  size_t used_ = 0;
  std::chrono::steady_clock::time_point lastHandover_{};
  std::chrono::steady_clock::time_point gatherUntil_{};
  bool gathering_ = false;  // a partial chunk waits for the gather window to close
  uint64_t datagrams_ = 0;
  unsigned spuriousInRow_ = 0;  // EINVALs from recvmmsg since the last datagram (see Drain)
  uint64_t pending_[kReasonCount] = {};  // overruns not yet signalled, per reason
  bool errorPending_ = false;
  int errorErrno_ = 0;
  const char* errorSyscall_ = nullptr;
  bool failed_ = false;       // the socket failed: stop reading, deliver the error, exit
  bool tsfnClosing_ = false;  // the TSFN said napi_closing
};

size_t SizeOption(Napi::Env env, Napi::Object options, const char* key, size_t fallback,
                  size_t min, size_t max) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined() || value.IsNull()) return fallback;
  if (!value.IsNumber()) throw Napi::TypeError::New(env, std::string("options.") + key + " must be a number");
  double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= static_cast<double>(min) && number <= static_cast<double>(max)) ||
      number != static_cast<double>(static_cast<uint64_t>(number))) {
    throw Napi::RangeError::New(env, std::string("options.") + key + " must be an integer from " +
                                         std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<size_t>(number);
}

NetlinkSocket::NetlinkSocket(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<NetlinkSocket>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    throw Napi::TypeError::New(env, "new NetlinkSocket(options, onEvent): options object and function required");
  }
  Napi::Object options = info[0].As<Napi::Object>();

  std::string netnsPath;
  Napi::Value nsValue = options.Get("netnsPath");
  if (!nsValue.IsUndefined() && !nsValue.IsNull()) {
    if (!nsValue.IsString()) throw Napi::TypeError::New(env, "options.netnsPath must be a string");
    netnsPath = nsValue.As<Napi::String>().Utf8Value();
    if (netnsPath.empty()) throw Napi::TypeError::New(env, "options.netnsPath must not be empty");
  }

  std::vector<uint32_t> groups;
  Napi::Value groupsValue = options.Get("groups");
  if (!groupsValue.IsArray()) throw Napi::TypeError::New(env, "options.groups must be an array of RTNLGRP_* numbers");
  Napi::Array groupArray = groupsValue.As<Napi::Array>();
  for (uint32_t i = 0; i < groupArray.Length(); i++) {
    Napi::Value g = groupArray.Get(i);
    double number = g.IsNumber() ? g.As<Napi::Number>().DoubleValue() : -1;
    if (!(number >= 1 && number <= UINT32_MAX) || number != static_cast<double>(static_cast<uint32_t>(number))) {
      throw Napi::RangeError::New(env, "options.groups[" + std::to_string(i) + "] must be a positive integer");
    }
    groups.push_back(static_cast<uint32_t>(number));
  }

  size_t askedBuffer = SizeOption(env, options, "receiveBufferBytes", 0, 0, INT_MAX);
  chunkBytes_ = SizeOption(env, options, "chunkBytes", kDefaultChunkBytes, kMinChunkBytes, kMaxChunkBytes);
  maxQueuedChunks_ = SizeOption(env, options, "maxQueuedChunks", kDefaultMaxQueuedChunks, 1, kMaxMaxQueuedChunks);
  Napi::Value releaseValue = options.Get("explicitRelease");
  if (!releaseValue.IsUndefined() && !releaseValue.IsBoolean()) throw Napi::TypeError::New(env, "options.explicitRelease must be a boolean");
  shared_->explicitRelease = releaseValue.IsBoolean() && releaseValue.As<Napi::Boolean>().Value();

  OpenResult opened;
  try {
    opened = netnsPath.empty() ? OpenSocket() : OpenSocketInNamespace(netnsPath);
  } catch (const std::system_error& e) {  // std::thread could not start
    throw ErrnoError(env, e.code().value(), "pthread_create");
  }
  if (opened.fd < 0) {
    bool aboutPath = std::strcmp(opened.syscall, "socket") != 0;
    throw ErrnoError(env, opened.err, opened.syscall, aboutPath ? netnsPath : "");
  }
  socket_.Reset(opened.fd);
  int fd = socket_.Get();

  // nl_pid 0: the kernel assigns a unique port id, read back below.
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) throw ErrnoError(env, errno, "bind");
  socklen_t localLength = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &localLength) != 0) {
    throw ErrnoError(env, errno, "getsockname");
  }
  portId_ = local.nl_pid;

  // Groups by setsockopt, not the bind() bitmask, which cannot name groups >= 32 (NEXTHOP).
  for (uint32_t group : groups) {
    if (::setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
      throw ErrnoError(env, errno, "setsockopt");
    }
  }
  // Error replies then carry the kernel's reason (NLMSGERR_ATTR_MSG); best effort.
  int one = 1;
  ::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  // NETLINK_NO_ENOBUFS is deliberately never set: ENOBUFS is the only sign of lost messages.

  if (askedBuffer > 0) {
    int size = static_cast<int>(askedBuffer);
    // SO_RCVBUFFORCE (CAP_NET_ADMIN) ignores net.core.rmem_max; SO_RCVBUF is capped by it.
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) == 0) {
      receiveBufferForced_ = true;
    } else if (errno == EPERM) {
      if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0) {
        throw ErrnoError(env, errno, "setsockopt");
      }
    } else {
      throw ErrnoError(env, errno, "setsockopt");
    }
  }
  socklen_t sizeLength = sizeof receiveBufferBytes_;
  if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBufferBytes_, &sizeLength) != 0) {
    throw ErrnoError(env, errno, "getsockopt");
  }

  wake_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_.Valid()) throw ErrnoError(env, errno, "eventfd");
  shared_->wakeFd = wake_.Get();
  onEvent_ = Napi::Persistent(info[1].As<Napi::Function>());
}

NetlinkSocket::~NetlinkSocket() {
  // Runs when the object is collected. A started socket holds a strong reference to itself
  // until close(), so this only finds a socket never started or already closed.
  Shutdown();
  if (cleanupHookAdded_) napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
}

void NetlinkSocket::OnEnvCleanup(void* self) {
  // The environment is going away (process exit, worker terminated) with the socket still
  // started: stop the thread before the TSFN and the addon's code are torn down.
  auto* socket = static_cast<NetlinkSocket*>(self);
  socket->cleanupHookAdded_ = false;
  socket->Shutdown();
}

void NetlinkSocket::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThrowIfClosed(env);
  if (started_) throw CodeError(env, "ERR_INVALID_STATE", "NetlinkSocket is already started");

  // The TSFN's queue is the bound between the reader and JS. It keeps the event loop alive
  // (like a listening server) until close() aborts it. Its async context is the one current
  // at start(), so AsyncLocalStorage state survives into onEvent.
  tsfn_ = Tsfn::New(
      env, onEvent_.Value(), "NetlinkSocket", maxQueuedChunks_, 1,
      new std::shared_ptr<Shared>(shared_),
      [](Napi::Env, void*, std::shared_ptr<Shared>* context) { delete context; });
  tsfnLive_ = true;
  onEvent_.Reset();

  try {
    reader_ = std::thread(&NetlinkSocket::ReaderMain, this);
  } catch (const std::system_error& e) {
    tsfn_.Abort();
    tsfnLive_ = false;
    throw ErrnoError(env, e.code().value(), "pthread_create");
  }
  started_ = true;
  // The reader thread uses `this`: keep the JS object (and so this object) alive until close().
  Ref();
  // Added after the TSFN: hooks run in reverse order, so ours stops the reader first.
  if (napi_add_env_cleanup_hook(env, OnEnvCleanup, this) == napi_ok) cleanupHookAdded_ = true;
}

void NetlinkSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThrowIfClosed(env);
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "send(request): request must be a Buffer or Uint8Array");
  }
  Napi::Uint8Array request = info[0].As<Napi::Uint8Array>();
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;  // nl_pid 0: the kernel
  // One datagram, however many nlmsghdr it holds; the kernel processes them all inside sendto.
  ssize_t sent;
  do {
    sent = ::sendto(socket_.Get(), request.Data(), request.ByteLength(), 0,
                    reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) throw ErrnoError(env, errno, "sendto");
}

Napi::Value NetlinkSocket::QueueDepth(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(shared_->depth.load()));
}

// With explicitRelease: JS finished one chunk; it no longer counts against the queue bound.
void NetlinkSocket::Release(const Napi::CallbackInfo& info) {
  (void)info;
  if (closed_ || !shared_->explicitRelease || shared_->depth.load() <= 0) return;
  shared_->queued.fetch_sub(1);
  shared_->depth.fetch_sub(1);
  PokeReaderIfWaiting(*shared_);
}

void NetlinkSocket::Close(const Napi::CallbackInfo& info) {
  if (closed_) return;
  bool wasStarted = started_;
  Shutdown();
  if (cleanupHookAdded_) {
    napi_remove_env_cleanup_hook(info.Env(), OnEnvCleanup, this);
    cleanupHookAdded_ = false;
  }
  if (wasStarted) Unref();
}

void NetlinkSocket::Shutdown() {
  if (closed_) return;
  closed_ = true;
  shared_->closed = true;  // queued events are dropped from here on
  if (reader_.joinable()) {
    stop_.store(true);
    uint64_t one = 1;
    ssize_t ignored = ::write(wake_.Get(), &one, sizeof one);
    (void)ignored;
    reader_.join();
  }
  if (tsfnLive_) {
    // Abort, not Release: queued events are freed without being delivered, and the event loop
    // is no longer held.
    tsfn_.Abort();
    tsfnLive_ = false;
  }
  onEvent_.Reset();
  shared_->depth.store(0);
  shared_->queued.store(0);
  shared_->wakeFd = -1;
  wake_.Reset();
  socket_.Reset();
}

// ---- Reader thread -------------------------------------------------------------------------
//
// Hand-off policy. The reader never waits for JS. It hands JS, in order, the overrun and error
// signals it holds, then the chunk it is filling:
// - a partial chunk (the socket ran dry) goes at once if JS has no chunk waiting, so an idle
//   exporter sees each notification immediately; if JS is busy, handing it more tiny chunks
//   would only fill the queue, so the chunk stays here and keeps filling;
// - a full chunk goes if the queue has room, else it is dropped: a 'queue' overrun.
// Whenever something stays behind, JS pokes the eventfd when it takes the next item off the
// queue, and the reader tries again. So while JS stalls, up to (maxQueuedChunks + 1) nearly
// full chunks wait for it, besides the kernel's receive buffer.

void NetlinkSocket::ReaderMain() {
  BlockAllSignals();
  chunk_ = static_cast<uint8_t*>(std::malloc(chunkBytes_));
  scratch_ = static_cast<uint8_t*>(std::malloc(kBatch * kMaxDatagram));
  if (chunk_ == nullptr || scratch_ == nullptr) Fail(ENOMEM, "malloc");

  while (!stop_.load(std::memory_order_relaxed) && !tsfnClosing_) {
    if (failed_ && !errorPending_) break;  // the error is delivered: the reader is done
    pollfd fds[2] = {{wake_.Get(), POLLIN, 0}, {socket_.Get(), POLLIN, 0}};
    // After a failure only the eventfd is watched: the error waits there for queue room.
    // While a gather window is open the socket is not watched either: what arrives meanwhile
    // waits in the kernel's buffer and is read in one go when the window closes. A trickle of
    // notifications (an address or flap burst: a few thousand a second) then costs one wake-up
    // and one recvmmsg per window instead of one per datagram.
    int timeoutMs = -1;
    nfds_t watched = failed_ ? 1 : 2;
    if (gathering_) {
      watched = 1;
      auto left = std::chrono::duration_cast<std::chrono::microseconds>(gatherUntil_ - std::chrono::steady_clock::now());
      timeoutMs = left.count() <= 0 ? 0 : static_cast<int>((left.count() + 999) / 1000);
    }
    int ready = ::poll(fds, watched, timeoutMs);
    if (ready < 0) {
      if (errno == EINTR) continue;
      Fail(errno, "poll");
      continue;
    }
    if (gathering_ && std::chrono::steady_clock::now() >= gatherUntil_) {
      gathering_ = false;
      // The window closed: read what waited in the socket meanwhile, then hand it all over.
      if (!failed_) Drain();
      if (!gathering_) Deliver(false);
      continue;
    }
    if (fds[0].revents & POLLIN) {
      uint64_t value;
      ssize_t ignored = ::read(wake_.Get(), &value, sizeof value);
      (void)ignored;
      if (stop_.load()) break;
      Deliver(false);  // JS took an item: hand over what stayed behind
    }
    if (failed_) continue;
    if (fds[1].revents & POLLNVAL) {
      Fail(EBADF, "poll");
    } else if (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) {
      // POLLERR is how netlink reports ENOBUFS: the next recv() returns it (and clears it).
      Drain();
    }
  }
  std::free(chunk_);
  chunk_ = nullptr;
  std::free(scratch_);
  scratch_ = nullptr;
}

// Reads datagrams until EAGAIN, a failure or close(). recvmmsg takes up to kBatch datagrams per
// system call (a burst is hundreds of thousands of small ones, and the call, not the copy, is
// what costs) into 64 KiB slots of a scratch area; each is then framed into the chunk.
void NetlinkSocket::Drain() {
  while (!stop_.load(std::memory_order_relaxed) && !tsfnClosing_) {
    if (chunk_ == nullptr || scratch_ == nullptr) {
      Fail(ENOMEM, "malloc");
      return;
    }
    mmsghdr messages[kBatch];
    iovec slots[kBatch];
    std::memset(messages, 0, sizeof messages);
    for (unsigned i = 0; i < kBatch; i++) {
      slots[i] = {scratch_ + i * kMaxDatagram, kMaxDatagram};
      messages[i].msg_hdr.msg_iov = &slots[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    // MSG_TRUNC: msg_len is the datagram's real length even when it did not fit.
    int received = ::recvmmsg(socket_.Get(), messages, kBatch, MSG_DONTWAIT | MSG_TRUNC, nullptr);
    if (received < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        DrainedPartial();
        return;
      }
      if (err == ENOBUFS) {
        // The kernel dropped messages for us. The socket stays usable: keep reading.
        Overrun(kEnobufs);
        continue;
      }
      if (err == EBADF || err == ENOTSOCK || err == EFAULT) {
        Fail(err, "recvmmsg");
        return;
      }
      // Any other errno is the socket's pending error (sk_err), reported once and cleared by
      // this very call; the socket stays usable.
      if (err == EINVAL) {
        // netlink_recvmsg tests cb_running without the dump lock, then continues the dump
        // under it: when our own sendmsg started and finished a dump (an empty one, say) in
        // between, the continuation finds no dump and sets EINVAL. Nothing was lost. Only a
        // run of them with no datagram between would be a real fault.
        if (++spuriousInRow_ < kMaxSpuriousInRow) continue;
        Fail(err, "recvmmsg");
        return;
      }
      // Others (a notification the kernel failed to build, rtnl_set_sk_err) mean lost messages.
      Overrun(kSocketError);
      continue;
    }
    spuriousInRow_ = 0;
    for (int i = 0; i < received; i++) {
      size_t length = messages[i].msg_len;
      if ((messages[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || length > kMaxDatagram) {
        Overrun(kTruncated);
        continue;
      }
      size_t padded = (length + 3) & ~static_cast<size_t>(3);
      if (chunkBytes_ - used_ < kFrameHeader + padded) {
        Deliver(true);
        if (chunk_ == nullptr) {
          Fail(ENOMEM, "malloc");
          return;
        }
      }
      uint8_t* frame = chunk_ + used_;
      uint32_t length32 = static_cast<uint32_t>(length);
      std::memcpy(frame, &length32, sizeof length32);
      std::memcpy(frame + kFrameHeader, slots[i].iov_base, length);
      std::memset(frame + kFrameHeader + length, 0, padded - length);
      used_ += kFrameHeader + padded;
      datagrams_++;
    }
    // Fewer than asked: the socket ran dry (an error after some datagrams waits for the next call).
    if (received < static_cast<int>(kBatch)) {
      DrainedPartial();
      return;
    }
  }
}

// The socket ran dry with a partial chunk: hand it over now, or, if the last hand-over was
// within the gather window, wait for the window to close (poll wakes us then).
void NetlinkSocket::DrainedPartial() {
  auto now = std::chrono::steady_clock::now();
  if (used_ > 0 && !gathering_ && now - lastHandover_ < kGatherWindow) {
    gathering_ = true;
    gatherUntil_ = lastHandover_ + kGatherWindow;
    return;
  }
  if (gathering_) return;  // poll's timeout delivers it
  Deliver(false);
}

// An overrun comes after the data read before it: that chunk goes first (or is dropped).
void NetlinkSocket::Overrun(OverrunReason reason) {
  Deliver(true);
  pending_[reason]++;
  Deliver(false);
}

void NetlinkSocket::Fail(int err, const char* syscall) {
  Deliver(true);
  failed_ = true;
  errorPending_ = true;
  errorErrno_ = err;
  errorSyscall_ = syscall;
  Deliver(false);
}

// Hands over what the policy above allows. `mustEmpty`: the chunk cannot stay (it is full, or a
// signal must follow it), so if it cannot go it is dropped.
void NetlinkSocket::Deliver(bool mustEmpty) {
  if (TryDeliver(mustEmpty) || tsfnClosing_) return;
  shared_->wakeOnDequeue.store(true);
  // JS may have taken an item between the first try and the request, and will not poke: retry.
  if (TryDeliver(mustEmpty) || tsfnClosing_) return;
  if (mustEmpty && used_ > 0) {
    used_ = 0;
    datagrams_ = 0;
    pending_[kQueue]++;
  }
}

bool NetlinkSocket::TryDeliver(bool chunkIsDue) {
  for (int r = 0; r < kReasonCount; r++) {
    if (pending_[r] == 0) continue;
    auto* event = new Event{Event::kOverrun};
    event->reason = static_cast<OverrunReason>(r);
    event->count = pending_[r];
    if (!Push(event)) return false;
    pending_[r] = 0;
  }
  if (errorPending_) {
    auto* event = new Event{Event::kError};
    event->err = errorErrno_;
    event->syscall = errorSyscall_;
    if (!Push(event)) return false;
    errorPending_ = false;
  }
  if (used_ == 0) return true;
  if (!chunkIsDue && shared_->depth.load() > 0) return false;  // JS is busy: keep filling
  if (!HasRoom()) return false;
  // The chunk stays here and is reused; JS gets a right-sized copy. A fresh 256 KiB block per
  // hand-over would be an mmap/munmap pair (and page faults) per notification when they come
  // one at a time, far more than copying the bytes received.
  auto* data = static_cast<uint8_t*>(std::malloc(used_));
  if (data == nullptr) {
    // Out of memory: the chunk is lost like a full queue's, and repaired the same way.
    used_ = 0;
    datagrams_ = 0;
    pending_[kQueue]++;
    return true;
  }
  std::memcpy(data, chunk_, used_);
  auto* event = new Event{Event::kData, data, used_, datagrams_};
  lastHandover_ = std::chrono::steady_clock::now();
  gathering_ = false;
  used_ = 0;
  datagrams_ = 0;
  if (!Push(event)) pending_[kQueue]++;  // cannot happen while only this thread pushes
  return true;
}

bool NetlinkSocket::HasRoom() const {
  // `queued` is raised before each push and lowered only after Node takes the item off the
  // queue, so it is never below the real queue length: room here means room in the TSFN.
  return !tsfnClosing_ && shared_->queued.load() < maxQueuedChunks_;
}

// Queues one event; takes ownership.
bool NetlinkSocket::Push(Event* event) {
  if (!HasRoom()) {
    delete event;
    return false;
  }
  bool data = event->kind == Event::kData;
  shared_->queued.fetch_add(1);
  if (data) shared_->depth.fetch_add(1);
  napi_status status = tsfn_.NonBlockingCall(event);
  if (status == napi_ok) return true;
  shared_->queued.fetch_sub(1);
  if (data) shared_->depth.fetch_sub(1);
  delete event;
  if (status != napi_queue_full) tsfnClosing_ = true;  // napi_closing: never touch it again
  return false;
}

// Returns freed heap memory to the kernel. After a burst the chunks and the route table's pages
// are freed, but glibc keeps the pages mapped: RSS would stay tens of MB above where it began.
Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NetlinkSocket", NetlinkSocket::Define(env));
  exports.Set("trimMemory", Napi::Function::New(env, TrimMemory, "trimMemory"));
  return exports;
}

}  // namespace

NODE_API_MODULE(netlink_socket, Init)
