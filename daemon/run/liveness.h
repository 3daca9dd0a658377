#pragma once

#include <atomic>
#include <chrono>

#include "daemon/base/clock.h"

namespace recsd::daemon {

// Whether this member can still believe it owns its partitions. When the consumer thread went
// longer than the group's session timeout without a poll (the process was paused: SIGSTOP, a
// long GC, CPU throttling, a frozen VM), the group may have given the partitions to another
// member, and librdkafka reports that (a revoke with the assignment lost) only from a poll
// after it has checked the session, about a second after waking. Until the consumer has polled
// again and `hold` has passed since, the workers refresh, publish, write, snapshot and store
// nothing; events are still applied to state, which a loss drops. ARCHITECTURE.md, "Fencing".
class Liveness {
 public:
  // 3 s: librdkafka checks the session at least once a second.
  static constexpr std::chrono::seconds kDefaultHold{3};

  Liveness(const Clock& clock, Clock::Steady::duration session_timeout,
           Clock::Steady::duration hold = kDefaultHold)
      : clock_(clock),
        session_timeout_(session_timeout),
        hold_(hold),
        last_poll_(clock.Now().time_since_epoch().count()),
        hold_until_(0) {}

  // The consumer thread, after each poll. True when the gap since the previous poll was longer
  // than the session timeout (the outputs are held from now for `hold`).
  bool Polled() {
    const auto now = clock_.Now();
    const Clock::Steady::duration gap =
        now.time_since_epoch() - Clock::Steady::duration(last_poll_.load());
    last_poll_.store(now.time_since_epoch().count());
    if (gap <= session_timeout_) return false;
    hold_until_.store((now + hold_).time_since_epoch().count());
    return true;
  }

  Clock::Steady::duration hold() const { return hold_; }

  // Any thread: whether outputs must wait (a poll is overdue, or one came after a long gap and
  // the hold has not passed).
  bool Suspect() const {
    const auto now = clock_.Now().time_since_epoch();
    return now - Clock::Steady::duration(last_poll_.load()) > session_timeout_ ||
           now < Clock::Steady::duration(hold_until_.load());
  }

 private:
  const Clock& clock_;
  const Clock::Steady::duration session_timeout_;
  const Clock::Steady::duration hold_;
  std::atomic<Clock::Steady::rep> last_poll_;
  std::atomic<Clock::Steady::rep> hold_until_;
};

}  // namespace recsd::daemon
