#include "daemon/base/clock.h"

#include <thread>

#include "daemon/base/lifecycle.h"

namespace recsd::daemon {

namespace {

class RealClock final : public Clock {
 public:
  Steady::time_point Now() const override { return Steady::now(); }
  std::int64_t WallMs() const override { return daemon::WallMs(); }
  void SleepFor(Steady::duration d) const override { std::this_thread::sleep_for(d); }
};

}  // namespace

const Clock& SystemClock() {
  static const RealClock clock;
  return clock;
}

}  // namespace recsd::daemon
