#pragma once

#include <chrono>
#include <cstdint>

namespace recsd::daemon {

// Time as the daemon's threads see it, injected so that the pipeline's timing (refresh and flush
// intervals, hand-over and shutdown deadlines, rate limits) can be driven by a test without
// sleeping. Any thread.
class Clock {
 public:
  using Steady = std::chrono::steady_clock;
  virtual ~Clock() = default;
  // Monotonic time: intervals and deadlines.
  virtual Steady::time_point Now() const = 0;
  // Wall time in ms since the Unix epoch: snapshot ages and list freshness.
  virtual std::int64_t WallMs() const = 0;
  // Waits `d` (a short back-off while polling for acknowledgements or producer room).
  virtual void SleepFor(Steady::duration d) const = 0;
};

// The process's clocks: steady_clock, system_clock and this_thread::sleep_for.
const Clock& SystemClock();

}  // namespace recsd::daemon
