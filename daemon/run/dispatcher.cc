#include "daemon/run/dispatcher.h"

#include <algorithm>
#include <future>
#include <memory>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

namespace recsd::daemon {

namespace {

std::string Names(std::span<const std::int32_t> partitions) {
  std::string names;
  for (const std::int32_t p : partitions) {
    if (!names.empty()) names += ',';
    names += std::to_string(p);
  }
  return names;
}

}  // namespace

Dispatcher::Dispatcher(const Config& config, PipelineStats& stats, RateLimitedWarnings& warnings,
                       Transport& transport, Shutdown& shutdown, const Clock& clock,
                       Liveness& liveness, std::vector<Worker*> workers)
    : config_(config),
      stats_(stats),
      warnings_(warnings),
      transport_(transport),
      shutdown_(shutdown),
      clock_(clock),
      liveness_(liveness),
      workers_(std::move(workers)),
      paused_(workers_.size(), false),
      last_stats_(clock.Now()) {}

void Dispatcher::Run() {
  // While a worker is paused, look at its queue often: it resumes once drained to half.
  while (!shutdown_.stopping()) {
    const bool any_paused = std::find(paused_.begin(), paused_.end(), true) != paused_.end();
    PollOnce(std::chrono::milliseconds(any_paused ? 5 : 100));
  }
}

void Dispatcher::PollOnce(std::chrono::milliseconds timeout) {
  std::optional<ConsumedMessage> msg = transport_.Poll(timeout);
  if (liveness_.Polled()) {
    stats_.stalls.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn(
        "no poll for longer than the group's session timeout (was the process paused?): the "
        "partitions may belong to another member by now; outputs wait {} s for librdkafka to "
        "say",
        std::chrono::duration_cast<std::chrono::seconds>(liveness_.hold()).count());
  }
  ResumeDrained();
  if (const auto interval = config_.pipeline.stats_interval;
      interval.count() > 0 && clock_.Now() - last_stats_ >= interval) {
    LogStats();
  }
  if (msg) Dispatch(std::move(*msg));
}

void Dispatcher::Dispatch(ConsumedMessage msg) {
  const std::size_t w = WorkerIndex(msg.partition);
  Mailbox& queue = workers_[w]->Queue();
  const std::size_t capacity = config_.pipeline.queue_capacity;
  // Messages already fetched still arrive after a pause; the queue is bounded by capacity plus
  // what the transport had fetched (queued.max.messages.kbytes).
  if (queue.Push(std::move(msg)) < capacity || paused_[w]) return;
  // A worker takes its whole queue when it finishes the batch in hand, so a full queue usually
  // empties soon: wait for that first. A pause is dear with librdkafka: it drops the paused
  // partitions' prefetched messages, and a resumed partition is fetched again only when the
  // broker thread next wakes, up to a second later when every partition was paused. The wait
  // holds back the other workers' messages too, so it is bounded: a worker that stays full
  // (a long restore, a slow producer) is paused and the others go on.
  if (!queue.WaitBelow(capacity, config_.pipeline.pause_after)) PauseWorker(w, true);
}

void Dispatcher::Assigned(std::span<const std::int32_t> partitions) {
  stats_.rebalances_assign.fetch_add(1, std::memory_order_relaxed);
  if (!partitions.empty()) {
    spdlog::info("assigned {} partition(s) of {}: [{}]", partitions.size(), config_.topics.events,
                 Names(partitions));
  }
  for (const std::int32_t p : partitions) {
    if (!assigned_.insert(p).second) continue;
    stats_.restoring_partitions.fetch_add(1, std::memory_order_relaxed);
    const std::size_t w = WorkerIndex(p);
    workers_[w]->Queue().Push(Control{Control::Kind::kAssign, p, nullptr, nullptr});
    if (paused_[w]) {  // a paused worker's new partitions wait too
      transport_.Pause(std::span<const std::int32_t>(&p, 1));
      stats_.paused_partitions.fetch_add(1, std::memory_order_relaxed);
    }
  }
  stats_.assigned_partitions.store(static_cast<std::int64_t>(assigned_.size()));
  if (!stats_.assignment_received.exchange(true)) {
    spdlog::info("ready: catalog loaded and {} partition(s) assigned", assigned_.size());
  }
}

void Dispatcher::Revoked(std::span<const std::int32_t> partitions, bool lost) {
  stats_.rebalances_revoke.fetch_add(1, std::memory_order_relaxed);
  if (lost) {
    spdlog::warn(
        "lost {} partition(s) of {}: [{}]: the group gave them to another member (this one's "
        "session expired: a pause, a freeze or a network partition longer than "
        "session.timeout.ms); dropping them without publishing, writing or committing",
        partitions.size(), config_.topics.events, Names(partitions));
  } else {
    spdlog::info("revoking {} partition(s) of {}: [{}]", partitions.size(), config_.topics.events,
                 Names(partitions));
  }
  const Control::Kind kind = lost ? Control::Kind::kLose : Control::Kind::kRevoke;
  std::vector<std::future<void>> handed;
  for (const std::int32_t p : partitions) {
    if (assigned_.erase(p) == 0) continue;
    const std::size_t w = WorkerIndex(p);
    if (paused_[w]) stats_.paused_partitions.fetch_sub(1, std::memory_order_relaxed);
    auto done = std::make_shared<std::promise<void>>();
    handed.push_back(done->get_future());
    workers_[w]->Queue().Push(Control{kind, p, std::move(done), nullptr});
  }
  // Real time: the workers' own waits (on the injected clock) end by the same deadline.
  const auto left = shutdown_.DeadlineOr(config_.pipeline.shutdown_timeout) - clock_.Now();
  const auto until = std::chrono::steady_clock::now() + left;
  for (auto& f : handed) {
    if (f.wait_until(until) != std::future_status::ready) {
      spdlog::warn("revoke: a worker did not hand its partitions over in time");
      break;
    }
  }
  stats_.assigned_partitions.store(static_cast<std::int64_t>(assigned_.size()));
  spdlog::info("revoked {} partition(s) of {}: [{}]", partitions.size(), config_.topics.events,
               Names(partitions));
}

void Dispatcher::LogStats() {
  const double seconds = std::chrono::duration<double>(clock_.Now() - last_stats_).count();
  last_stats_ = clock_.Now();
  const std::uint64_t events = stats_.events_consumed.load();
  const std::uint64_t lists = stats_.lists_delivered.load();
  const metrics::HistogramSnapshot freshness = stats_.freshness.Snapshot();
  spdlog::info(
      "stats: {} events ({:.0f}/s), {} lists delivered ({:.0f}/s), {} dead-lettered, {} users, "
      "{} items, freshness p50 {:.0f} ms p99 {:.0f} ms, {} partitions ({} paused)",
      events, static_cast<double>(events - last_events_) / seconds, lists,
      static_cast<double>(lists - last_lists_) / seconds, stats_.DeadLettered(),
      stats_.users.load(), stats_.catalog_items.load(), freshness.Quantile(0.5) * 1000,
      freshness.Quantile(0.99) * 1000, stats_.assigned_partitions.load(),
      stats_.paused_partitions.load());
  last_events_ = events;
  last_lists_ = lists;
}

}  // namespace recsd::daemon
