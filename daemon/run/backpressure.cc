// Dispatcher: backpressure. A worker whose queue reaches pipeline.queue_capacity and is not
// taken within pipeline.pause_after has its partitions paused at the transport; they resume once
// the queue is down to half of it.

#include <spdlog/spdlog.h>

#include "daemon/run/dispatcher.h"

namespace recsd::daemon {

void Dispatcher::PauseWorker(std::size_t w, bool pause) {
  std::vector<std::int32_t> partitions;
  for (const std::int32_t p : assigned_) {
    if (WorkerIndex(p) == w) partitions.push_back(p);
  }
  paused_[w] = pause;
  spdlog::debug("worker {}: {} {} partition(s), {} queued", w, pause ? "pausing" : "resuming",
                partitions.size(), workers_[w]->Queue().Size());
  const auto n = static_cast<std::int64_t>(partitions.size());
  if (pause) {
    transport_.Pause(partitions);
    stats_.pauses.fetch_add(1, std::memory_order_relaxed);
    stats_.paused_partitions.fetch_add(n, std::memory_order_relaxed);
  } else {
    transport_.Resume(partitions);
    stats_.paused_partitions.fetch_sub(n, std::memory_order_relaxed);
  }
}

void Dispatcher::ResumeDrained() {
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    if (paused_[w] && workers_[w]->Queue().Size() <= config_.pipeline.queue_capacity / 2) {
      PauseWorker(w, false);
    }
  }
}

}  // namespace recsd::daemon
