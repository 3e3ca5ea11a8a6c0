// Channel: one netlink socket as the shared reader thread (reader.h) sees it: the chunk being
// filled, the overrun and error signals not yet handed over, the sender check, and the hand-off
// policy to JS over the socket's own bounded queue (a thread-safe function). Everything here
// except Shared runs on the reader thread; nothing parses messages.
//
// Chunk framing, per datagram: [u32 length, host order][datagram][zero pad to 4 bytes].
#pragma once

#include <napi.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace nle {

// The reader stops filling a chunk once less than this is free, so any datagram up to 64 KiB
// always fits in full (rtnetlink datagrams are far smaller: notifications about a page, dump
// datagrams at most 32 KiB).
constexpr size_t kMaxDatagram = 64 * 1024;
constexpr size_t kFrameHeader = 4;
constexpr size_t kMinChunkBytes = kMaxDatagram + kFrameHeader;
constexpr size_t kMaxChunkBytes = 64 * 1024 * 1024;
constexpr size_t kDefaultChunkBytes = 256 * 1024;
constexpr size_t kDefaultMaxQueuedChunks = 64;
constexpr size_t kMaxMaxQueuedChunks = 1 << 20;
/** Datagrams per recvmmsg call. */
constexpr unsigned kBatch = 16;
/** recvmmsg calls per socket per turn of the reader, so one namespace's burst cannot starve the others. */
constexpr unsigned kBatchesPerTurn = 64;
/** The reader's scratch area: kBatch slots of kMaxDatagram bytes, shared by every socket. */
constexpr size_t kScratchBytes = kBatch * kMaxDatagram;

// State shared by the socket object (JS thread), the reader thread and the thread-safe
// function's callback. It lives as long as the longest of them (the TSFN finalizer may run after
// the socket object is gone).
struct Shared {
  // Events (chunks and signals) handed to the TSFN and not yet taken by JS.
  std::atomic<size_t> queued{0};
  // Of those, chunks: queueDepth().
  std::atomic<int64_t> depth{0};
  // Set by the reader when something stayed behind (queue full, or JS busy): the JS thread then
  // pokes the socket's eventfd after it takes an item off the queue, so the reader tries again.
  std::atomic<bool> wakeOnDequeue{false};
  // Set at construction: a chunk stays counted (queued, depth) until JS calls release() after
  // processing it, not merely until JS receives it. JS can then process chunks in slices,
  // yielding to its event loop between them, and the bound still covers every chunk not done.
  bool explicitRelease = false;
  // JS thread only.
  int wakeFd = -1;
  bool closed = false;

  // ---- The chunk pool (explicitRelease only) ----
  // With explicitRelease JS says when it is done with each chunk, so the reader fills fixed
  // slots and JS reads them in place: no allocation, copy or garbage per chunk (a flap burst
  // handed JS about 150 MB of copies, and collecting them cost as much CPU as reading them).
  // A slot is the reader's (free or being filled) or JS's (handed over, not yet released),
  // never both: JS gives each back with release(), oldest first, and must keep no reference
  // into a chunk after that. At most maxQueuedChunks are JS's (the queue bound counts them)
  // and one is being filled, so the pool never holds more than maxQueuedChunks + 1 slots; they
  // are made as needed, and free ones beyond a couple (kWarmSlots) give their pages back.
  Shared() = default;
  ~Shared();
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;
  /** Reader thread: a free slot (made if none and the pool may grow), or -1 (out of memory). */
  int AcquireSlot(uint8_t** data);
  /** Any thread: the slot is free again (JS released it, or it was never handed over). */
  void ReturnSlot(uint32_t slot);

  size_t slotBytes = 0;  // set with explicitRelease, before the reader starts
  size_t maxSlots = 0;
  std::mutex poolMu;
  std::vector<uint8_t*> slots;       // under poolMu: each slot's memory (mmap), by index
  std::vector<uint32_t> freeSlots;   // under poolMu: a stack, the warm slots on top
  size_t warmFree = 0;               // under poolMu: how many of the top free slots kept their pages
  // JS thread only: each slot's JS Buffer once made (strong references, deleted at close so
  // the Buffers, which keep this object alive, can be collected), and the slots JS holds.
  std::vector<napi_ref> wrappers;
  std::deque<uint32_t> handedOut;
};

// After JS took (or, with explicitRelease, finished) an item: if the reader left something
// behind for want of room, it waits on the eventfd for exactly this. JS thread.
void PokeReaderIfWaiting(Shared& shared);

enum OverrunReason { kEnobufs = 0, kQueue = 1, kTruncated = 2, kSocketError = 3, kReasonCount = 4 };
extern const char* const kReasonNames[kReasonCount];

struct Event {
  enum Kind { kData, kOverrun, kError, kForeign } kind;
  uint8_t* data = nullptr;  // kData without the pool: malloc'd, freed once copied into a JS Buffer
  size_t length = 0;
  // kData: datagrams in the chunk; kOverrun: overruns since the last signal; kForeign:
  // datagrams refused since the last signal.
  uint64_t count = 0;
  OverrunReason reason = kEnobufs;
  int err = 0;  // kError
  const char* syscall = nullptr;
  uint32_t senderPort = 0;  // kForeign: the port id of the first sender refused since the last signal
  int slot = -1;                // kData with the pool: the slot JS reads in place
  uint8_t* slotData = nullptr;  // and its memory (owned by Shared)

  ~Event() { std::free(data); }
};

void CallJs(Napi::Env env, Napi::Function onEvent, std::shared_ptr<Shared>* context, Event* raw);
using Tsfn = Napi::TypedThreadSafeFunction<std::shared_ptr<Shared>, Event, CallJs>;

class Channel {
 public:
  Channel(int socketFd, int wakeFd, std::shared_ptr<Shared> shared, Tsfn tsfn, size_t chunkBytes,
          size_t maxQueuedChunks);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  int SocketFd() const { return socketFd_; }
  int WakeFd() const { return wakeFd_; }

  // ---- Reader thread ----
  /** The socket is readable or has a pending error (ENOBUFS comes as EPOLLERR). */
  void OnSocketReady(uint8_t* scratch);
  /** The eventfd is readable: close() is not its business (see Reader); JS took an item off the queue. */
  void OnWake();
  /** The gather window closed: read what waited meanwhile, then hand it all over. */
  void OnGatherDeadline(uint8_t* scratch);
  /** The socket is not to be read any more (it failed, or JS is gone). */
  bool SocketDone() const { return failed_ || tsfnClosing_; }
  /** The socket failed and the error is delivered (or JS is gone): the reader is done with it. */
  bool Finished() const { return (failed_ && !errorPending_) || tsfnClosing_; }
  bool Gathering() const { return gathering_; }
  std::chrono::steady_clock::time_point GatherUntil() const { return gatherUntil_; }

  // Reader-owned bookkeeping of what epoll watches for this channel (see Reader::Update).
  uint32_t watchedSocketEvents = 0;
  bool socketInEpoll = false;
  bool wakeInEpoll = false;
  bool inGatherList = false;

 private:
  void Drain(uint8_t* scratch);
  void DrainedPartial();
  void Overrun(OverrunReason reason);
  void Fail(int err, const char* syscall);
  void Refuse(uint32_t senderPort);
  void Deliver(bool mustEmpty);
  bool TryDeliver(bool chunkIsDue);
  bool HasRoom() const;
  bool Push(Event* event);
  bool AcquireChunk();

  const int socketFd_;
  const int wakeFd_;
  const std::shared_ptr<Shared> shared_;
  Tsfn tsfn_;
  const size_t chunkBytes_;
  const size_t maxQueuedChunks_;

  const bool pooled_;  // the chunk is a slot of Shared's pool (explicitRelease)
  uint8_t* chunk_ = nullptr;  // pooled: null until a datagram needs a slot
  int slot_ = -1;
  size_t used_ = 0;
  std::chrono::steady_clock::time_point lastHandover_{};
  std::chrono::steady_clock::time_point gatherUntil_{};
  bool gathering_ = false;  // a partial chunk waits for the gather window to close
  uint64_t datagrams_ = 0;
  unsigned spuriousInRow_ = 0;  // EINVALs from recvmmsg since the last datagram (see Drain)
  uint64_t pending_[kReasonCount] = {};  // overruns not yet signalled, per reason
  uint64_t refusedPending_ = 0;          // foreign datagrams not yet signalled
  uint32_t refusedFirstPort_ = 0;
  bool errorPending_ = false;
  int errorErrno_ = 0;
  const char* errorSyscall_ = nullptr;
  bool failed_ = false;       // the socket failed: stop reading, deliver the error, stop
  bool tsfnClosing_ = false;  // the TSFN said napi_closing
};

}  // namespace nle
