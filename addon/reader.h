// Reader: the one thread that drains every netlink socket of the process.
//
// One thread, however many namespaces are watched: it blocks in epoll_wait on each socket and
// on each socket's eventfd (JS pokes it after taking an item off a full queue), plus one eventfd
// of its own to stop. A socket's reading, framing and hand-off live in its Channel; the reader
// only decides whom to serve: a bounded number of reads per socket per turn (level-triggered
// epoll brings a busy socket back on the next turn), so one namespace's burst delays the others
// by at most one turn and never starves them. It never waits for JS.
//
// The thread starts with the first channel and stops with the last. Add and Remove run on JS
// threads; Remove returns only once the thread will never touch the channel again, so the
// caller may close its fds at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "channel.h"
#include "unique_fd.h"

namespace nle {

class Reader {
 public:
  /** The process's reader. Never destroyed: the thread is stopped by the last Remove. */
  static Reader& Instance();

  /** Starts serving `channel`. Returns 0 or an errno (epoll/eventfd/thread creation); `syscall` names the call. */
  int Add(Channel* channel, const char** syscall);
  /** Stops serving `channel`; on return the reader thread no longer uses it. Idempotent. */
  void Remove(Channel* channel);

 private:
  Reader() = default;
  int StartThread(const char** syscall);
  void StopThread();
  void Main();
  void Serve(uint64_t token, uint32_t events);
  void ServeDeadlines();
  int TimeoutMs();
  /** Makes epoll watch what `channel` wants now; called under mu_ after every service. */
  void Update(Channel* channel);

  // Add/Remove, one at a time (they may start or stop the thread).
  std::mutex lifecycle_;
  // The channels and epoll's view of them. Held by the reader while it serves one channel, so
  // Remove cannot pull a channel from under it.
  std::mutex mu_;
  std::unordered_map<uint64_t, Channel*> channels_;  // by id: epoll tokens are ids, never pointers
  std::unordered_map<Channel*, uint64_t> ids_;
  std::vector<Channel*> gathering_;  // channels with a gather deadline
  std::vector<Channel*> due_;        // reader thread: those whose deadline passed (reused, no allocation per turn)
  uint64_t nextId_ = 1;

  UniqueFd epoll_;
  UniqueFd stopFd_;  // eventfd: wakes the thread to stop
  std::thread thread_;
  bool stop_ = false;  // under mu_
  uint8_t* scratch_ = nullptr;  // reader thread only
};

}  // namespace nle
