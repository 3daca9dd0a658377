#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "model/event.h"
#include "model/fusion.h"
#include "model/result.h"

namespace recsd::daemon {

// Event time to acknowledged output, in log-spaced millisecond buckets (lock-free; any thread
// records, any thread reads).
class FreshnessHistogram {
 public:
  static constexpr std::size_t kBuckets = 48;  // upper bounds 1 ms × 1.5^i, the last one open
  void Record(std::int64_t ms) noexcept;
  std::uint64_t count() const noexcept;
  std::uint64_t bucket(std::size_t i) const noexcept {
    return counts_[i].load(std::memory_order_relaxed);
  }
  std::uint64_t sum_ms() const noexcept { return sum_ms_.load(std::memory_order_relaxed); }
  // The upper bound (ms) of the bucket holding the q-quantile (0 < q <= 1); 0 when empty.
  double Quantile(double q) const noexcept;
  static double UpperBound(std::size_t bucket) noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> counts_{};
  std::atomic<std::uint64_t> sum_ms_{0};
};

// Counters of a running pipeline, updated by its threads with relaxed atomics.
struct PipelineStats {
  std::atomic<std::uint64_t> events_consumed{0};
  // By event type id (EventTypeTable), and the events whose type is unknown (undecodable).
  std::array<std::atomic<std::uint64_t>, EventTypeTable::kMaxTypes> consumed_by_type{};
  std::atomic<std::uint64_t> consumed_untyped{0};
  std::atomic<std::uint64_t> events_applied{0};  // changed a user's state
  std::atomic<std::uint64_t> events_skipped{0};  // at or below a user's last applied offset
  std::atomic<std::uint64_t> events_dead_lettered{0};
  std::atomic<std::uint64_t> lists_delivered{0};  // acknowledged by the cluster
  std::atomic<std::uint64_t> dead_letters_delivered{0};
  std::atomic<std::uint64_t> delivery_failures{0};
  std::atomic<std::uint64_t> items_applied{0};  // catalog upserts and deletes
  std::atomic<std::uint64_t> items_dead_lettered{0};
  std::atomic<std::uint64_t> pauses{0};  // times a worker's partitions were paused
  std::atomic<std::uint64_t> rebalances{0};
  std::atomic<std::int64_t> users{0};  // tracked, summed over workers at their ticks
  std::atomic<std::int64_t> catalog_items{0};
  std::atomic<std::int64_t> catalog_updated_ms{0};  // wall time of the latest snapshot
  std::atomic<std::int64_t> assigned_partitions{0};
  std::atomic<std::int64_t> paused_partitions{0};
  std::atomic<bool> assignment_received{false};  // the group has given this member its share
  FreshnessHistogram freshness;
};

// What the learned weights look like now: the mean of the global posterior means over the
// partitions that have learned anything (each partition learns from its own users).
struct WeightsView {
  model::FusionWeights weights;
  std::size_t partitions = 0;  // partitions contributing
  bool reverted = false;       // the guard of some partition reverted to the static weights
};

// `recsd run`: the streaming daemon of ARCHITECTURE.md.
//
//   consumer thread   one consumer in group kafka.group.id on topics.events (cooperative-sticky,
//                     incremental assign/unassign); forwards each message to the worker owning its
//                     partition (p mod W); pauses a worker's partitions while its queue is full.
//   W workers         each partition has its own Engine (user state, statistics, learner) owned
//                     by exactly one worker; decode, apply, refresh every refresh_interval, produce
//                     lists; store a partition's offset only when everything caused by the events
//                     before it is acknowledged (OffsetTracker).
//   catalog thread    reads topics.items from the beginning (all partitions, no group; a null value
//                     deletes) and swaps immutable catalog snapshots.
//   producer poller   serves delivery reports of the idempotent producer (lists and dead letters).
//
// Bad input (undecodable, invalid, unsupported version, a key that is not the event's user) goes
// to topics.dlq with recsd.error.reason, recsd.error.detail and recsd.source.topic|partition|
// offset headers, and processing goes on. An output that cannot be delivered stops the pipeline
// (exit 1) without committing past it: after a restart the events are consumed again.
class Pipeline {
 public:
  // Connects, checks that the topics exist, loads the catalog to the end of topics.items and
  // starts every thread. An error says what failed; nothing is left running then.
  static Result<std::unique_ptr<Pipeline>, std::string> Start(const Config& config);
  ~Pipeline();  // Stop() and Wait()
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Asks the pipeline to stop (any thread, any number of times; async-signal-safe is not needed:
  // the caller waits for signals with sigwait).
  void Stop() noexcept;
  // True once the pipeline has failed or been asked to stop.
  bool stopping() const noexcept;
  // Stops consuming, finishes in-flight work, flushes the producer, stores and commits offsets
  // and closes the consumer, within pipeline.shutdown_timeout of the call (or of Stop(), when the
  // pipeline failed on its own). Returns the exit code: 0 clean, 1 when the pipeline failed (an
  // output not delivered, a fatal Kafka error) or the deadline cut the shutdown short.
  int Wait();

  const PipelineStats& stats() const noexcept;
  // Messages waiting in each worker's queue.
  std::vector<std::size_t> WorkerQueueSizes() const;
  const Config& config() const noexcept;
  WeightsView weights() const;

  struct Impl;  // the threads and their shared state (pipeline.cc)

 private:
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `recsd run --config FILE`: runs the pipeline until SIGTERM or SIGINT. Returns the exit code.
int RunCommand(const Config& config);

}  // namespace recsd::daemon
