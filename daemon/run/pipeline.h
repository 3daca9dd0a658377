#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/run/mailbox.h"
#include "daemon/run/pipeline_stats.h"
#include "model/engine.h"
#include "model/result.h"

namespace recsd::daemon {

// `recsd run`: the streaming daemon of ARCHITECTURE.md ("Threads and what each owns"). This
// facade composes the parts, each in its own file of daemon/run/: Dispatcher (consumer thread),
// Worker (one per W), Outputs, ReferenceReader (catalog thread) and KafkaTransport (run/kafka/).
//
//   consumer thread   one consumer in group kafka.group.id on topics.events (cooperative-sticky,
//                     incremental assign/unassign); forwards each message to the worker owning its
//                     partition (p mod W); pauses a worker's partitions while its queue is full.
//   W workers         each partition has its own Engine (user state, statistics, learner) owned
//                     by exactly one worker; decode, apply, refresh every refresh_interval, produce
//                     lists; store a partition's offset only when everything caused by the events
//                     before it is acknowledged (OffsetTracker); publish the partition's
//                     aggregates to topics.model_stats every state.model_stats_interval and at
//                     hand-over.
//   catalog thread    reads topics.items from the beginning (all partitions, no group; a null value
//                     deletes) and swaps immutable catalog snapshots; reads topics.model_stats the
//                     same way and swaps tables of every partition's latest aggregates, which each
//                     worker merges into its partitions' peer views (global statistics).
//   producer poller   serves delivery reports of the idempotent producer (lists and dead letters).
//
// Bad input (undecodable, invalid, unsupported version, a key that is not the event's user) goes
// to topics.dlq with recsd.error.reason, recsd.error.detail and recsd.source.topic|partition|
// offset headers, and processing goes on. An output that cannot be delivered stops the pipeline
// (exit 1) without committing past it: after a restart the events are consumed again.
class Pipeline {
 public:
  // Connects, checks that the topics exist, loads the catalog to the end of topics.items and
  // starts every thread. An error says what failed; nothing is left running then. Once
  // `*stop_requested` (if given) is true, the start-up gives up (an error) instead of waiting for
  // the brokers, and a pipeline started meanwhile reports stopping().
  static Result<std::unique_ptr<Pipeline>, std::string> Start(
      const Config& config, const std::atomic<bool>* stop_requested = nullptr);
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

  // Calls `visit` for every partition this instance owns, on the thread of the worker that owns
  // it, between two of its messages (no lock, no pause; it waits behind the worker's queue), and
  // waits up to `timeout` for all of them. Workers run their calls concurrently. False at once
  // when the pipeline is stopping, and when some worker did not get to it in time or is gone:
  // `visit` may still run later, so it must own (or share) everything it touches.
  using PartitionVisitor = daemon::PartitionVisitor;
  bool Visit(PartitionVisitor visit, std::chrono::milliseconds timeout) const;

  struct Impl;  // the parts and their threads (pipeline.cc)

 private:
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace recsd::daemon
