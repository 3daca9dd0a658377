#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <spdlog/spdlog.h>

#include "daemon/base/clock.h"
#include "daemon/base/mutex.h"

namespace recsd::daemon {

// The pipeline's stop state: asked to stop, failed (the exit code becomes 1), and the deadline a
// shutdown must finish by. Any thread.
class Shutdown {
 public:
  explicit Shutdown(const Clock& clock) : clock_(clock) {}

  // The pipeline cannot go on (an output not delivered, a fatal Kafka error): logs why, once,
  // and asks it to stop.
  void Fail(const std::string& why) {
    if (!failed_.exchange(true)) spdlog::error("pipeline failed: {}", why);
    RequestStop();
  }
  void RequestStop() {
    {
      MutexLock lock(mu_);
      stop_.store(true);
    }
    cv_.NotifyAll();
  }
  void WaitForStop() {
    MutexLock lock(mu_);
    while (!stop_.load()) cv_.Wait(lock);
  }
  // Also stopping once `*requested` is true (a stop asked for before the pipeline existed, read
  // by the loops of its start-up). Before any other thread uses this object.
  void Follow(const std::atomic<bool>* requested) { requested_ = requested; }
  bool stopping() const { return stop_.load() || (requested_ != nullptr && requested_->load()); }
  bool failed() const { return failed_.load(); }

  // Sets the moment everything must be done by.
  void SetDeadline(Clock::Steady::time_point deadline) {
    deadline_ns_.store(deadline.time_since_epoch().count());
  }
  bool PastDeadline() const {
    const std::int64_t d = deadline_ns_.load();
    return d != 0 && clock_.Now().time_since_epoch().count() > d;
  }
  // The deadline when a shutdown has started, otherwise `timeout` from now.
  Clock::Steady::time_point DeadlineOr(Clock::Steady::duration timeout) const {
    const std::int64_t d = deadline_ns_.load();
    return d != 0 ? Clock::Steady::time_point(Clock::Steady::duration(d)) : clock_.Now() + timeout;
  }

 private:
  const Clock& clock_;
  Mutex mu_;
  CondVar cv_;
  std::atomic<bool> stop_{false};
  const std::atomic<bool>* requested_ = nullptr;
  std::atomic<bool> failed_{false};
  std::atomic<std::int64_t> deadline_ns_{0};  // since the steady clock's epoch; 0: none
};

}  // namespace recsd::daemon
