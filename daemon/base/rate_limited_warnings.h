#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "daemon/base/clock.h"
#include "daemon/base/mutex.h"

namespace recsd::daemon {

// At most one warning per kind per 10 s, with how many were left out. Any thread.
class RateLimitedWarnings {
 public:
  explicit RateLimitedWarnings(const Clock& clock = SystemClock()) : clock_(clock) {}

  template <class... Args>
  void Warn(const std::string& kind, spdlog::format_string_t<Args...> format, Args&&... args) {
    MutexLock lock(mu_);
    Entry& e = entries_[kind];
    const Clock::Steady::time_point now = clock_.Now();
    if (e.last != Clock::Steady::time_point{} && now - e.last < std::chrono::seconds(10)) {
      ++e.suppressed;
      return;
    }
    const std::uint64_t suppressed = e.suppressed;
    e = {now, 0};
    lock.Unlock();
    const std::string msg = fmt::format(format, std::forward<Args>(args)...);
    if (suppressed > 0) {
      spdlog::warn("{} ({} more like it in the last 10 s)", msg, suppressed);
    } else {
      spdlog::warn("{}", msg);
    }
  }

 private:
  struct Entry {
    Clock::Steady::time_point last;
    std::uint64_t suppressed = 0;
  };
  const Clock& clock_;
  Mutex mu_;
  std::map<std::string, Entry> entries_ GUARDED_BY(mu_);
};

}  // namespace recsd::daemon
