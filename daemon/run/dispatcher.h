#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <vector>

#include "daemon/base/clock.h"
#include "daemon/base/rate_limited_warnings.h"
#include "daemon/config/config.h"
#include "daemon/run/liveness.h"
#include "daemon/run/pipeline_stats.h"
#include "daemon/run/shutdown.h"
#include "daemon/run/transport.h"
#include "daemon/run/worker.h"

namespace recsd::daemon {

// The consumer thread: polls the events topic, hands each message to the worker owning its
// partition (p mod W), tells workers of assignments and revokes, and pauses a worker's
// partitions while its queue is full (backpressure.cc). The consumer thread only, apart from
// construction.
class Dispatcher {
 public:
  Dispatcher(const Config& config, PipelineStats& stats, RateLimitedWarnings& warnings,
             Transport& transport, Shutdown& shutdown, const Clock& clock, Liveness& liveness,
             std::vector<Worker*> workers);

  // Polls until the pipeline stops.
  void Run();
  // One poll of up to `timeout`: resumes workers that have room again, logs the periodic stats
  // line, and dispatches the message if one came.
  void PollOnce(std::chrono::milliseconds timeout);

  // TransportEvents::assigned: each new partition goes to its worker, which restores it before
  // it handles any of its events; a paused worker's new partitions are paused too.
  void Assigned(std::span<const std::int32_t> partitions);
  // TransportEvents::revoked: each worker hands its revoked partitions over (everything queued
  // before the revoke first); returns when all are handed over or the shutdown timeout (or
  // deadline) passed. `lost`: the partitions already belong to another member, so each worker
  // drops them instead, publishing, writing and storing nothing more of them.
  void Revoked(std::span<const std::int32_t> partitions, bool lost = false);

 private:
  std::size_t WorkerIndex(std::int32_t partition) const {
    return static_cast<std::size_t>(partition) % workers_.size();
  }
  void Dispatch(ConsumedMessage msg);
  void LogStats();
  // backpressure.cc
  void PauseWorker(std::size_t w, bool pause);
  void ResumeDrained();

  const Config& config_;
  PipelineStats& stats_;
  RateLimitedWarnings& warnings_;
  Transport& transport_;
  Shutdown& shutdown_;
  const Clock& clock_;
  Liveness& liveness_;
  const std::vector<Worker*> workers_;
  std::set<std::int32_t> assigned_;
  std::vector<bool> paused_;  // by worker
  Clock::Steady::time_point last_stats_;
  std::uint64_t last_events_ = 0;
  std::uint64_t last_lists_ = 0;
};

}  // namespace recsd::daemon
