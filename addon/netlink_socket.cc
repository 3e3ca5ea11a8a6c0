// NetlinkSocket: a thin rtnetlink socket for Node (the JS surface is src/runtime/native.ts).
//
// This file is the Node glue: options, opening the socket (inside another network namespace
// when asked), send, release, close, and the calls into JS. Reading is elsewhere: every socket
// of the process is drained by one reader thread (reader.h), each through its own Channel
// (channel.h: chunks, the bounded queue to JS, overrun signals, the sender check). The addon
// never parses messages.

#include <napi.h>

#include <fcntl.h>
#include <linux/netlink.h>
#include <malloc.h>  // malloc_trim
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "channel.h"
#include "errors.h"
#include "reader.h"
#include "unique_fd.h"

namespace nle {

namespace {

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
// namespace (setns changes only the calling thread), creates the socket and exits. It is gone
// before the constructor returns: threads do not grow with namespaces.
OpenResult OpenSocketInNamespace(const std::string& path) {
  OpenResult result;
  std::thread thread([&path, &result] {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);  // signals belong to Node's main thread
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

void Deliver(Napi::Env env, Napi::Function onEvent, Event& event, const std::shared_ptr<Shared>& shared);

}  // namespace

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
    // Lowered before wakeOnDequeue is read: see Channel::Deliver.
    shared.queued.fetch_sub(1);
    if (event->kind == Event::kData) shared.depth.fetch_sub(1);
  }
  if (shared.closed) return;
  if (!held) PokeReaderIfWaiting(shared);

  try {
    Deliver(env, onEvent, *event, *context);
  } catch (const Napi::Error& error) {
    // onEvent threw. Node 20 would only print a deprecation warning for an exception escaping
    // a thread-safe function's callback (unless --force-node-api-uncaught-exceptions-policy),
    // so raise it as an uncaught exception ourselves: process 'uncaughtException', else exit.
    napi_fatal_exception(env, error.Value());
  }
}

namespace {

void FreeSlotWrapper(napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<Shared>*>(hint); }

// The JS Buffer over a pool slot: made the first time the slot is handed over, then the same
// object every time (so chunks keep one shape, and nothing is allocated per chunk). It keeps
// the pool's memory alive as long as JS can reach it.
napi_value SlotBuffer(Napi::Env env, const std::shared_ptr<Shared>& shared, uint32_t slot, uint8_t* data) {
  auto& wrappers = shared->wrappers;
  if (slot >= wrappers.size()) wrappers.resize(slot + 1, nullptr);
  napi_value buffer;
  if (wrappers[slot] != nullptr) {
    NAPI_THROW_IF_FAILED(env, napi_get_reference_value(env, wrappers[slot], &buffer), nullptr);
    return buffer;
  }
  auto* owner = new std::shared_ptr<Shared>(shared);
  napi_status status = napi_create_external_buffer(env, shared->slotBytes, data, FreeSlotWrapper, owner, &buffer);
  if (status != napi_ok) delete owner;
  NAPI_THROW_IF_FAILED(env, status, nullptr);
  NAPI_THROW_IF_FAILED(env, napi_create_reference(env, buffer, 1, &wrappers[slot]), nullptr);
  return buffer;
}

void Deliver(Napi::Env env, Napi::Function onEvent, Event& event, const std::shared_ptr<Shared>& shared) {
  switch (event.kind) {
    case Event::kData: {
      if (event.slot >= 0) {
        // The pool: JS reads the slot's first `length` bytes in place and releases it.
        auto slot = static_cast<uint32_t>(event.slot);
        shared->handedOut.push_back(slot);
        napi_value buffer = SlotBuffer(env, shared, slot, event.slotData);
        onEvent.Call({Napi::String::New(env, "data"), buffer,
                      Napi::Number::New(env, static_cast<double>(event.count)),
                      Napi::Number::New(env, static_cast<double>(event.length))});
        break;
      }
      // Copied into a V8-owned buffer and freed here: an external buffer would need a finalizer
      // per chunk, which costs more than copying the few hundred bytes a chunk usually holds.
      Napi::Buffer<uint8_t> chunk = Napi::Buffer<uint8_t>::Copy(env, event.data, event.length);
      std::free(event.data);
      event.data = nullptr;
      onEvent.Call({Napi::String::New(env, "data"), chunk,
                    Napi::Number::New(env, static_cast<double>(event.count)),
                    Napi::Number::New(env, static_cast<double>(event.length))});
      break;
    }
    case Event::kOverrun:
      onEvent.Call({Napi::String::New(env, "overrun"),
                    Napi::String::New(env, kReasonNames[event.reason]),
                    Napi::Number::New(env, static_cast<double>(event.count))});
      break;
    case Event::kForeign:
      onEvent.Call({Napi::String::New(env, "foreign"), Napi::Number::New(env, event.senderPort),
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

  // Takes the socket off the reader, drops the TSFN, closes the fds. JS thread; idempotent.
  void Shutdown();
  static void OnEnvCleanup(void* self);
  void ThrowIfClosed(Napi::Env env) const {
    if (closed_) throw CodeError(env, "ERR_SOCKET_CLOSED", "NetlinkSocket is closed");
  }

  napi_env env_;
  UniqueFd socket_;
  UniqueFd wake_;  // eventfd: the JS thread wakes the reader through it after taking an item
  uint32_t portId_ = 0;
  int receiveBufferBytes_ = 0;
  bool receiveBufferForced_ = false;
  size_t chunkBytes_ = kDefaultChunkBytes;
  size_t maxQueuedChunks_ = kDefaultMaxQueuedChunks;

  Napi::FunctionReference onEvent_;  // until start() hands it to the TSFN
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  Tsfn tsfn_;
  bool tsfnLive_ = false;
  std::unique_ptr<Channel> channel_;  // served by the reader from start() to close()
  bool started_ = false;
  bool closed_ = false;
  bool cleanupHookAdded_ = false;
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
  shared_->slotBytes = chunkBytes_;
  shared_->maxSlots = maxQueuedChunks_ + 1;  // every chunk the bound lets JS hold, and one being filled

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
  // Connected to the kernel (nl_pid 0): the kernel then refuses unicast to us from any other
  // port (the sender gets ECONNREFUSED), as systemd-networkd does. Multicast is not covered by
  // connect(); the reader checks every datagram's sender (channel.cc).
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) != 0) throw ErrnoError(env, errno, "connect");

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
  // started: take it off the reader before the TSFN and the addon's code are torn down.
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

  channel_ = std::make_unique<Channel>(socket_.Get(), wake_.Get(), shared_, tsfn_, chunkBytes_, maxQueuedChunks_);
  const char* syscall = "epoll_ctl";
  int err = Reader::Instance().Add(channel_.get(), &syscall);
  if (err != 0) {
    channel_.reset();
    tsfn_.Abort();
    tsfnLive_ = false;
    throw ErrnoError(env, err, syscall);
  }
  started_ = true;
  // The TSFN's callback reaches this object's shared state only; still, keep the JS object
  // alive until close(), as a listening server is.
  Ref();
  // Added after the TSFN: hooks run in reverse order, so ours stops the reading first.
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
  // One datagram, however many nlmsghdr it holds; the kernel processes them all inside send.
  // The socket is connected to the kernel (nl_pid 0), so send() goes there.
  ssize_t sent;
  do {
    sent = ::send(socket_.Get(), request.Data(), request.ByteLength(), 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) throw ErrnoError(env, errno, "send");
}

Napi::Value NetlinkSocket::QueueDepth(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(shared_->depth.load()));
}

// With explicitRelease: JS finished one chunk (the oldest it holds); it no longer counts against
// the queue bound, and its slot is the reader's again.
void NetlinkSocket::Release(const Napi::CallbackInfo& info) {
  (void)info;
  if (closed_ || !shared_->explicitRelease || shared_->depth.load() <= 0) return;
  if (!shared_->handedOut.empty()) {
    shared_->ReturnSlot(shared_->handedOut.front());
    shared_->handedOut.pop_front();
  }
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
  if (channel_) {
    // Returns once the reader will not touch the channel (nor its fds) again; the other
    // sockets are not disturbed.
    Reader::Instance().Remove(channel_.get());
    channel_.reset();
  }
  if (tsfnLive_) {
    // Abort, not Release: queued events are freed without being delivered, and the event loop
    // is no longer held.
    tsfn_.Abort();
    tsfnLive_ = false;
  }
  onEvent_.Reset();
  // The slots' Buffers may be collected from here (each keeps the pool's memory until then).
  for (napi_ref& wrapper : shared_->wrappers) {
    if (wrapper != nullptr) napi_delete_reference(env_, wrapper);
    wrapper = nullptr;
  }
  shared_->handedOut.clear();
  shared_->depth.store(0);
  shared_->queued.store(0);
  shared_->wakeFd = -1;
  wake_.Reset();
  socket_.Reset();  // the namespace is no longer held by us from here
}

// Returns freed heap memory to the kernel. After a burst the chunks and the route table's pages
// are freed, but glibc keeps the pages mapped: RSS would stay tens of MB above where it began.
Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
}

// The byte order this module was compiled for, named as Node's os.endianness() names it.
// Netlink headers and attributes are in host order, and the TypeScript codec reads them
// little-endian: src/runtime/byte-order.ts refuses to start when this is not "LE".
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr const char* kByteOrder = "LE";
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
constexpr const char* kByteOrder = "BE";
#else
constexpr const char* kByteOrder = "unknown";
#endif

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NetlinkSocket", NetlinkSocket::Define(env));
  exports.Set("trimMemory", Napi::Function::New(env, TrimMemory, "trimMemory"));
  exports.Set("byteOrder", Napi::String::New(env, kByteOrder));
  return exports;
}

}  // namespace

Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return Init(env, exports); }

}  // namespace nle

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) { return nle::InitModule(env, exports); }
}  // namespace

NODE_API_MODULE(netlink_socket, Init)
