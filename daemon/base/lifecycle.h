#pragma once

#include <signal.h>

#include <chrono>
#include <cstdint>

namespace recsd::daemon {

// Wall time in ms since the Unix epoch: the event time of generated events, and the far end of
// freshness (event time to acknowledgement).
std::int64_t WallMs();

// SIGTERM and SIGINT, the signals that stop recsd's long-running subcommands. Constructing it
// blocks them in the calling thread and so in every thread started after it (librdkafka's
// included), so that only Wait takes them: construct it before any thread starts.
class StopSignals {
 public:
  StopSignals();
  // Waits up to `timeout` for one of them: "SIGTERM" or "SIGINT", or nullptr when none came.
  const char* Wait(std::chrono::milliseconds timeout) const;

 private:
  sigset_t set_;
};

}  // namespace recsd::daemon
