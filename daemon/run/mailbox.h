#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <variant>

#include "daemon/base/mutex.h"
#include "daemon/run/transport.h"
#include "model/engine.h"

namespace recsd::daemon {

// Called for every partition a worker owns, on the worker's thread (Pipeline::Visit).
using PartitionVisitor =
    std::function<void(std::int32_t partition, model::Engine& engine, TimestampMs now)>;

// A partition given to or taken from a worker, a visit, or the end. A revoke is done when the
// worker has handed the partition over (refreshed, acknowledged, offset stored); a loss when it
// has dropped the partition (nothing more of it published, written or stored).
struct Control {
  enum class Kind { kAssign, kRevoke, kLose, kVisit, kStop } kind = Kind::kStop;
  std::int32_t partition = 0;
  std::shared_ptr<std::promise<void>> done;       // kRevoke, kLose, kVisit
  std::shared_ptr<const PartitionVisitor> visit;  // kVisit
};
using MailItem = std::variant<ConsumedMessage, Control>;

// A worker's queue: the consumer thread pushes, the worker takes everything at once.
class Mailbox {
 public:
  // Returns the number queued after the push.
  std::size_t Push(MailItem item) {
    std::size_t size = 0;
    {
      MutexLock lock(mu_);
      items_.push_back(std::move(item));
      size = items_.size();
      size_.store(size, std::memory_order_relaxed);
    }
    cv_.NotifyOne();
    return size;
  }
  // Waits up to `wait` until something is queued, then takes all of it.
  void TakeAll(std::deque<MailItem>* out, std::chrono::steady_clock::duration wait) {
    MutexLock lock(mu_);
    const auto until = std::chrono::steady_clock::now() + wait;
    while (items_.empty() && cv_.WaitUntil(lock, until)) {
    }
    out->swap(items_);
    size_.store(0, std::memory_order_relaxed);
    lock.Unlock();
    taken_.NotifyAll();
  }
  // Waits up to `wait` until fewer than `limit` are queued; false when still not.
  bool WaitBelow(std::size_t limit, std::chrono::steady_clock::duration wait) {
    MutexLock lock(mu_);
    const auto until = std::chrono::steady_clock::now() + wait;
    while (items_.size() >= limit) {
      if (!taken_.WaitUntil(lock, until)) return items_.size() < limit;
    }
    return true;
  }
  std::size_t Size() const noexcept { return size_.load(std::memory_order_relaxed); }

 private:
  Mutex mu_;
  CondVar cv_;     // something queued
  CondVar taken_;  // the queue taken
  std::deque<MailItem> items_ GUARDED_BY(mu_);
  std::atomic<std::size_t> size_{0};
};

}  // namespace recsd::daemon
