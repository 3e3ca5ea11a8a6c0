// Reader: one epoll thread for every netlink socket (see reader.h).

#include "reader.h"

#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <system_error>

namespace nle {

namespace {

// Token layout: (channel id << 1) | which fd; the stop eventfd is token 0.
constexpr uint64_t kStopToken = 0;
constexpr uint64_t kWakeBit = 1;
constexpr int kMaxEvents = 64;

void BlockAllSignals() {
  // Signals belong to Node's main thread; ours only wait and read.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

}  // namespace

Reader& Reader::Instance() {
  // Leaked on purpose: a static with a joinable std::thread would terminate the process at
  // exit if a socket were still open then (a worker's or the main env's cleanup hooks close
  // them, but static destructors do not wait for that).
  static Reader* reader = new Reader();
  return *reader;
}

int Reader::Add(Channel* channel, const char** syscall) {
  std::lock_guard<std::mutex> life(lifecycle_);
  if (!thread_.joinable()) {
    int err = StartThread(syscall);
    if (err != 0) return err;
  }
  int err = 0;
  bool none;
  {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t id = nextId_++;
    epoll_event wake{};
    wake.events = EPOLLIN;
    wake.data.u64 = (id << 1) | kWakeBit;
    if (::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, channel->WakeFd(), &wake) == 0) {
      channel->wakeInEpoll = true;
      channels_[id] = channel;
      ids_[channel] = id;
      Update(channel);
    } else {
      err = errno;
      *syscall = "epoll_ctl";
    }
    none = channels_.empty();
  }
  if (none) StopThread();
  return err;
}

void Reader::Remove(Channel* channel) {
  std::lock_guard<std::mutex> life(lifecycle_);
  bool last;
  {
    // Taken only between two services: the reader is not inside this channel now, and will
    // not find it by its id afterwards.
    std::lock_guard<std::mutex> lock(mu_);
    auto it = ids_.find(channel);
    if (it == ids_.end()) return;
    channels_.erase(it->second);
    ids_.erase(it);
    if (channel->socketInEpoll) ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, channel->SocketFd(), nullptr);
    if (channel->wakeInEpoll) ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, channel->WakeFd(), nullptr);
    channel->socketInEpoll = channel->wakeInEpoll = false;
    gathering_.erase(std::remove(gathering_.begin(), gathering_.end(), channel), gathering_.end());
    channel->inGatherList = false;
    last = channels_.empty();
  }
  if (last) StopThread();
}

int Reader::StartThread(const char** syscall) {
  epoll_.Reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.Valid()) {
    *syscall = "epoll_create1";
    return errno;
  }
  stopFd_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  epoll_event stop{};
  stop.events = EPOLLIN;
  stop.data.u64 = kStopToken;
  if (!stopFd_.Valid() || ::epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, stopFd_.Get(), &stop) != 0) {
    *syscall = stopFd_.Valid() ? "epoll_ctl" : "eventfd";
    int err = errno;
    stopFd_.Reset();
    epoll_.Reset();
    return err;
  }
  scratch_ = static_cast<uint8_t*>(std::malloc(kScratchBytes));
  if (scratch_ == nullptr) {
    *syscall = "malloc";
    stopFd_.Reset();
    epoll_.Reset();
    return ENOMEM;
  }
  stop_ = false;
  try {
    thread_ = std::thread(&Reader::Main, this);
  } catch (const std::system_error& e) {
    *syscall = "pthread_create";
    std::free(scratch_);
    scratch_ = nullptr;
    stopFd_.Reset();
    epoll_.Reset();
    return e.code().value();
  }
  return 0;
}

// With no channel left: the thread goes, and with it the scratch area.
void Reader::StopThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  uint64_t one = 1;
  ssize_t ignored = ::write(stopFd_.Get(), &one, sizeof one);
  (void)ignored;
  if (thread_.joinable()) thread_.join();
  std::free(scratch_);
  scratch_ = nullptr;
  stopFd_.Reset();
  epoll_.Reset();
}

void Reader::Main() {
  BlockAllSignals();
  epoll_event events[kMaxEvents];
  for (;;) {
    int timeoutMs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      timeoutMs = TimeoutMs();
    }
    int ready = ::epoll_wait(epoll_.Get(), events, kMaxEvents, timeoutMs);
    if (ready < 0) {
      if (errno == EINTR) continue;
      // EBADF/EINVAL/EFAULT: a bug, not a condition; without a loop to wait in, every socket
      // would go silent, so say so loudly rather than spin.
      std::abort();
    }
    for (int i = 0; i < ready; i++) {
      if (events[i].data.u64 == kStopToken) continue;  // stop_ is checked at the top
      Serve(events[i].data.u64, events[i].events);
    }
    ServeDeadlines();
  }
}

void Reader::Serve(uint64_t token, uint32_t events) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) return;
  auto it = channels_.find(token >> 1);
  if (it == channels_.end()) return;  // removed since epoll_wait returned
  Channel* channel = it->second;
  if (token & kWakeBit) {
    channel->OnWake();
  } else if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    // EPOLLERR is how netlink reports ENOBUFS: the next recv() returns it (and clears it).
    channel->OnSocketReady(scratch_);
  }
  Update(channel);
}

void Reader::ServeDeadlines() {
  std::lock_guard<std::mutex> lock(mu_);
  if (gathering_.empty() || stop_) return;
  auto now = std::chrono::steady_clock::now();
  // Update may shrink the list: walk a copy.
  due_.clear();
  for (Channel* channel : gathering_) {
    if (!channel->Gathering() || channel->GatherUntil() <= now) due_.push_back(channel);
  }
  for (Channel* channel : due_) {
    if (channel->Gathering()) channel->OnGatherDeadline(scratch_);
    Update(channel);
  }
}

int Reader::TimeoutMs() {
  if (gathering_.empty()) return -1;
  auto now = std::chrono::steady_clock::now();
  auto first = gathering_.front()->GatherUntil();
  for (Channel* channel : gathering_) first = std::min(first, channel->GatherUntil());
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(first - now).count();
  return left <= 0 ? 0 : static_cast<int>((left + 999) / 1000);
}

void Reader::Update(Channel* channel) {
  uint64_t id = ids_[channel];
  // A socket that failed is no longer watched (epoll would report its error for ever); its
  // eventfd stays until the error is handed over (it waits for queue room, which the eventfd
  // announces), then goes too.
  if (channel->SocketDone()) {
    if (channel->socketInEpoll) ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, channel->SocketFd(), nullptr);
    channel->socketInEpoll = false;
  } else {
    // While a gather window is open the socket is not watched for input: what arrives meanwhile
    // waits in the kernel's buffer and is read in one go when the window closes. A trickle of
    // notifications then costs one wake-up and one recvmmsg per window, not one per datagram.
    // Errors (EPOLLERR: ENOBUFS) are reported whatever the mask; while gathering they end the
    // window early.
    uint32_t wanted = channel->Gathering() ? 0u : static_cast<uint32_t>(EPOLLIN);
    if (!channel->socketInEpoll || channel->watchedSocketEvents != wanted) {
      epoll_event event{};
      event.events = wanted;
      event.data.u64 = id << 1;
      int op = channel->socketInEpoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
      if (::epoll_ctl(epoll_.Get(), op, channel->SocketFd(), &event) == 0) {
        channel->socketInEpoll = true;
        channel->watchedSocketEvents = wanted;
      }
    }
  }
  if (channel->Finished() && channel->wakeInEpoll) {
    ::epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, channel->WakeFd(), nullptr);
    channel->wakeInEpoll = false;
  }
  bool gathering = channel->Gathering() && !channel->SocketDone();
  if (gathering && !channel->inGatherList) {
    gathering_.push_back(channel);
    channel->inGatherList = true;
  } else if (!gathering && channel->inGatherList) {
    gathering_.erase(std::remove(gathering_.begin(), gathering_.end(), channel), gathering_.end());
    channel->inGatherList = false;
  }
}

}  // namespace nle
