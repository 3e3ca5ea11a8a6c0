// Channel: one socket's side of the shared reader thread (see channel.h).
//
// Hand-off policy. The reader never waits for JS. It hands JS, in order, the overrun, refusal
// and error signals it holds, then the chunk it is filling:
// - a partial chunk (the socket ran dry) goes at once if JS has no chunk of this socket waiting,
//   so an idle exporter sees each notification immediately; if JS is busy, handing it more tiny
//   chunks would only fill the queue, so the chunk stays here and keeps filling;
// - a full chunk goes if the queue has room, else it is dropped: a 'queue' overrun.
// Whenever something stays behind, JS pokes the socket's eventfd when it takes the next item off
// the queue, and the reader tries again. So while JS stalls, up to (maxQueuedChunks + 1) nearly
// full chunks per socket wait for it, besides the kernel's receive buffer.

#include "channel.h"

#include <linux/netlink.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace nle {

namespace {

/** EINVALs in a row, with no datagram between, after which the socket is taken as broken. */
constexpr unsigned kMaxSpuriousInRow = 64;
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

/**
 * Free pool slots kept with their pages; one freed beyond these gives its pages back
 * (MADV_DONTNEED) and goes under the warm ones, so that after a burst a socket keeps about
 * this many chunks resident, not every slot the burst needed.
 */
constexpr size_t kWarmSlots = 2;

}  // namespace

Shared::~Shared() {
  for (uint8_t* slot : slots) ::munmap(slot, slotBytes);
}

int Shared::AcquireSlot(uint8_t** data) {
  std::lock_guard<std::mutex> lock(poolMu);
  if (!freeSlots.empty()) {
    uint32_t slot = freeSlots.back();
    freeSlots.pop_back();
    if (warmFree > 0) warmFree--;
    *data = slots[slot];
    return static_cast<int>(slot);
  }
  if (slots.size() >= maxSlots) return -1;  // cannot happen while the queue bound holds
  // Its own mapping: page-aligned, so that its pages can be given back while it stays mapped.
  void* memory = ::mmap(nullptr, slotBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return -1;
  slots.push_back(static_cast<uint8_t*>(memory));
  *data = static_cast<uint8_t*>(memory);
  return static_cast<int>(slots.size() - 1);
}

// Warm slots go on top and are taken first; only a slot freed while kWarmSlots warm ones are
// already free gives its pages back. So a socket whose reader and JS keep pace reuses the same
// two or three slots without a page fault, and only the extra slots a stall needed go cold.
void Shared::ReturnSlot(uint32_t slot) {
  uint8_t* data;
  {
    std::lock_guard<std::mutex> lock(poolMu);
    if (warmFree < kWarmSlots) {
      freeSlots.push_back(slot);
      warmFree++;
      return;
    }
    data = slots[slot];
  }
  // Outside the lock (the reader may be waiting for a slot); the slot is nobody's meanwhile.
  ::madvise(data, slotBytes, MADV_DONTNEED);
  std::lock_guard<std::mutex> lock(poolMu);
  freeSlots.insert(freeSlots.begin(), slot);
}

const char* const kReasonNames[kReasonCount] = {"enobufs", "queue", "truncated", "socket_error"};

void PokeReaderIfWaiting(Shared& shared) {
  if (shared.wakeOnDequeue.exchange(false)) {
    uint64_t one = 1;
    ssize_t ignored = ::write(shared.wakeFd, &one, sizeof one);
    (void)ignored;  // a failed write to an eventfd can only mean its counter is saturated
  }
}

Channel::Channel(int socketFd, int wakeFd, std::shared_ptr<Shared> shared, Tsfn tsfn, size_t chunkBytes,
                 size_t maxQueuedChunks)
    : socketFd_(socketFd),
      wakeFd_(wakeFd),
      shared_(std::move(shared)),
      tsfn_(tsfn),
      chunkBytes_(chunkBytes),
      maxQueuedChunks_(maxQueuedChunks),
      pooled_(shared_->explicitRelease) {
  if (pooled_) return;  // a slot is taken when the first datagram comes
  // Virtual memory until used: glibc maps a block this size on its own and the kernel backs
  // only the pages a burst writes.
  chunk_ = static_cast<uint8_t*>(std::malloc(chunkBytes_));
  if (chunk_ == nullptr) Fail(ENOMEM, "malloc");
}

Channel::~Channel() {
  if (!pooled_) std::free(chunk_);
  else if (slot_ >= 0) shared_->ReturnSlot(static_cast<uint32_t>(slot_));
}

bool Channel::AcquireChunk() {
  slot_ = shared_->AcquireSlot(&chunk_);
  if (slot_ < 0) chunk_ = nullptr;
  return slot_ >= 0;
}

void Channel::OnSocketReady(uint8_t* scratch) {
  if (failed_ || tsfnClosing_) return;
  // While gathering the socket is not watched for input, but epoll reports an error (ENOBUFS)
  // whatever it is asked: read it now, which hands over the gathered chunk before the signal.
  Drain(scratch);
}

void Channel::OnWake() {
  uint64_t value;
  ssize_t ignored = ::read(wakeFd_, &value, sizeof value);
  (void)ignored;
  Deliver(false);  // JS took an item: hand over what stayed behind
}

void Channel::OnGatherDeadline(uint8_t* scratch) {
  gathering_ = false;
  if (!failed_ && !tsfnClosing_) Drain(scratch);
  if (!gathering_) Deliver(false);
}

// Reads datagrams until EAGAIN, a failure, or the turn's budget (the socket stays readable and
// epoll reports it again on the next turn). recvmmsg takes up to kBatch datagrams per system
// call (a burst is hundreds of thousands of small ones, and the call, not the copy, is what
// costs) into 64 KiB slots of the reader's scratch area; each is then checked and framed.
void Channel::Drain(uint8_t* scratch) {
  for (unsigned turn = 0; turn < kBatchesPerTurn && !failed_ && !tsfnClosing_; turn++) {
    if (chunk_ == nullptr && !pooled_) {
      Fail(ENOMEM, "malloc");
      return;
    }
    mmsghdr messages[kBatch];
    iovec slots[kBatch];
    sockaddr_nl senders[kBatch];
    std::memset(messages, 0, sizeof messages);
    for (unsigned i = 0; i < kBatch; i++) {
      slots[i] = {scratch + i * kMaxDatagram, kMaxDatagram};
      messages[i].msg_hdr.msg_iov = &slots[i];
      messages[i].msg_hdr.msg_iovlen = 1;
      messages[i].msg_hdr.msg_name = &senders[i];
      messages[i].msg_hdr.msg_namelen = sizeof senders[i];
    }
    // MSG_TRUNC: msg_len is the datagram's real length even when it did not fit.
    int received = ::recvmmsg(socketFd_, messages, kBatch, MSG_DONTWAIT | MSG_TRUNC, nullptr);
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
      // Only the kernel is believed. Its datagrams, unicast replies and multicast notifications
      // alike, come from port id 0; any other sender is a process that forged them (connect()
      // already makes the kernel refuse unicast from anyone else: what arrives here is
      // multicast from a process with CAP_NET_ADMIN in the namespace). Refused unread.
      const sockaddr_nl& sender = senders[i];
      if (messages[i].msg_hdr.msg_namelen < sizeof sender || sender.nl_family != AF_NETLINK || sender.nl_pid != 0) {
        Refuse(sender.nl_pid);
        continue;
      }
      size_t length = messages[i].msg_len;
      if ((messages[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || length > kMaxDatagram) {
        Overrun(kTruncated);
        continue;
      }
      size_t padded = (length + 3) & ~static_cast<size_t>(3);
      if (chunk_ != nullptr && chunkBytes_ - used_ < kFrameHeader + padded) Deliver(true);
      // Pooled, the chunk just handed over is JS's now: fill another slot. None (only when
      // out of memory) loses the datagram, which is repaired as a full queue's would be.
      if (chunk_ == nullptr && !AcquireChunk()) {
        Overrun(kQueue);
        continue;
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
// within the gather window, wait for the window to close (the reader's timeout wakes us then).
void Channel::DrainedPartial() {
  auto now = std::chrono::steady_clock::now();
  if (used_ > 0 && !gathering_ && now - lastHandover_ < kGatherWindow) {
    gathering_ = true;
    gatherUntil_ = lastHandover_ + kGatherWindow;
    return;
  }
  if (gathering_) return;  // the deadline delivers it
  Deliver(false);
}

// An overrun comes after the data read before it: that chunk goes first (or is dropped).
void Channel::Overrun(OverrunReason reason) {
  Deliver(true);
  pending_[reason]++;
  Deliver(false);
}

// A refusal is a count, not data: it never disturbs the chunk and needs no order.
void Channel::Refuse(uint32_t senderPort) {
  if (refusedPending_++ == 0) refusedFirstPort_ = senderPort;
}

void Channel::Fail(int err, const char* syscall) {
  Deliver(true);
  failed_ = true;
  errorPending_ = true;
  errorErrno_ = err;
  errorSyscall_ = syscall;
  Deliver(false);
}

// Hands over what the policy above allows. `mustEmpty`: the chunk cannot stay (it is full, or a
// signal must follow it), so if it cannot go it is dropped.
void Channel::Deliver(bool mustEmpty) {
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

bool Channel::TryDeliver(bool chunkIsDue) {
  for (int r = 0; r < kReasonCount; r++) {
    if (pending_[r] == 0) continue;
    auto* event = new Event{Event::kOverrun};
    event->reason = static_cast<OverrunReason>(r);
    event->count = pending_[r];
    if (!Push(event)) return false;
    pending_[r] = 0;
  }
  if (refusedPending_ > 0) {
    auto* event = new Event{Event::kForeign};
    event->count = refusedPending_;
    event->senderPort = refusedFirstPort_;
    if (!Push(event)) return false;
    refusedPending_ = 0;
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
  if (pooled_) {
    // JS reads the slot in place until it releases it; the next datagram takes another slot.
    auto* event = new Event{Event::kData};
    event->slot = slot_;
    event->slotData = chunk_;
    event->length = used_;
    event->count = datagrams_;
    int slot = slot_;
    chunk_ = nullptr;
    slot_ = -1;
    lastHandover_ = std::chrono::steady_clock::now();
    gathering_ = false;
    used_ = 0;
    datagrams_ = 0;
    if (!Push(event)) {  // cannot happen while only this thread pushes, unless closing
      shared_->ReturnSlot(static_cast<uint32_t>(slot));
      pending_[kQueue]++;
    }
    return true;
  }
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

bool Channel::HasRoom() const {
  // `queued` is raised before each push and lowered only after Node takes the item off the
  // queue, so it is never below the real queue length: room here means room in the TSFN.
  return !tsfnClosing_ && shared_->queued.load() < maxQueuedChunks_;
}

// Queues one event; takes ownership.
bool Channel::Push(Event* event) {
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

}  // namespace nle
