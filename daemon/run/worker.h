#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "daemon/base/clock.h"
#include "daemon/base/rate_limited_warnings.h"
#include "daemon/config/config.h"
#include "daemon/run/dead_letter.h"
#include "daemon/run/liveness.h"
#include "daemon/run/mailbox.h"
#include "daemon/run/outputs.h"
#include "daemon/run/partition.h"
#include "daemon/run/pipeline_stats.h"
#include "daemon/run/references.h"
#include "daemon/run/shutdown.h"
#include "daemon/run/transport.h"
#include "daemon/run/weights_board.h"
#include "model/engine.h"
#include "state/changelog_fence.h"
#include "state/snapshot.h"

namespace recsd::daemon {

// What the workers share with the rest of the pipeline; all of it outlives them.
struct WorkerContext {
  const Config& config;
  const model::EngineOptions& engine_options;
  PipelineStats& stats;
  RateLimitedWarnings& warnings;
  References& references;
  Transport& transport;
  Outputs& outputs;
  Shutdown& shutdown;
  WeightsBoard& weights;
  const Clock& clock;
  const Liveness& liveness;
};

// One worker: owns the engines of its partitions (every assigned partition p with p mod W = its
// index) and is their only writer. Its thread (Start) takes what the dispatcher queues (events,
// assignments, revokes, visits) and ticks every pipeline.refresh_interval; a test drives the same
// steps with Drain and Tick on its own thread. ARCHITECTURE.md, "Threads".
//
// Its methods live in one file per concern: worker.cc (the loop, assignment, the tick),
// event_apply.cc (an event, and resuming a partition), publish_lists.cc (refresh and the lists),
// restore.cc (changelog read-back), snapshots.cc, changelog_writer.cc, offset_store.cc,
// hand_over.cc, memory_bound.cc and global_stats.cc.
class Worker : public model::ListSink {
 public:
  Worker(const WorkerContext& context, std::size_t index);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // The worker's thread; Join returns after it has handled a kStop (Control{}).
  void Start();
  void Join();
  Mailbox& Queue() { return mailbox_; }

  // One round of the thread without waiting: handles everything queued, then ticks when the
  // refresh interval has passed on the clock (or a stop came). False once a stop was handled
  // (every partition is handed over then).
  bool Drain();
  // Refreshes, flushes, snapshots, stores offsets and publishes statistics as they fall due.
  void Tick();

  // The engine of partition p, when this worker owns it (tests and Visit: the worker's thread).
  const model::Engine* engine(std::int32_t p) const;

  // ListSink: a refreshed list goes to the recommendations topic.
  void Publish(RecommendationList list) override;

 private:
  void Run();
  // Handles one queued item; false for a stop.
  bool Process(MailItem& item);
  bool RunRound(std::chrono::steady_clock::duration wait);
  void Finish();

  // worker.cc
  void FreshEngine(Partition& part);
  // Takes over newly assigned partitions (consecutive assignments in the mailbox, before any of
  // their events): every fence first, then each restore.
  void Assign(std::span<const std::int32_t> ps);
  void TakeOverAssigned();  // Assign(assigned_), if any
  void Report(std::int32_t p, Partition& part, bool bytes);
  void Observe(PipelineStats::Stage stage, Clock::Steady::duration took);
  // publish_lists.cc (and Publish above)
  void Refresh(std::int32_t p, Partition& part, bool flush);
  // event_apply.cc
  void Handle(const ConsumedMessage& msg);
  void DeadLetter(const ConsumedMessage& msg, Partition& part, const Rejection& rejection,
                  PipelineStats::Result result);
  void Resume(std::int32_t p, Partition& part, std::int64_t offset);
  // restore.cc
  std::shared_ptr<OutputBatch> StartFence(std::int32_t p, Partition& part);
  bool FinishFence(Partition& part, const std::shared_ptr<OutputBatch>& batch);
  bool Restore(std::int32_t p, Partition& part);
  ChangelogRead ReadChangelog(std::int32_t p, Partition& part, std::int64_t from,
                              state::ChangelogFence& fence, std::uint64_t* records);
  bool RestoreRecord(std::int32_t p, Partition& part, state::ChangelogFence& fence,
                     const ConsumedMessage& msg);
  // snapshots.cc
  std::optional<state::SnapshotHeader> LoadSnapshot(std::int32_t p, Partition& part);
  void WriteSnapshot(std::int32_t p, Partition& part);
  std::string SnapshotPath(std::int32_t p, std::int64_t epoch) const;
  void RemoveOlderSnapshots(std::int32_t p, std::int64_t epoch) const;
  // changelog_writer.cc
  void Flush(std::int32_t p, Partition& part);
  // offset_store.cc
  void Store(std::int32_t p, Partition& part);
  // hand_over.cc
  void HandOver(std::int32_t p);
  void Drop(std::int32_t p);
  void Release(std::map<std::int32_t, Partition>::iterator it, std::atomic<std::uint64_t>& evicted);
  // memory_bound.cc
  std::size_t BoundMemory();
  // global_stats.cc
  void SeedStats(std::int32_t p, Partition& part);
  void UpdatePeers(std::int32_t p, Partition& part);
  void PublishStats(std::int32_t p, Partition& part);

  model::ExportLimits ModelStatsLimits() const {
    const Config::State& s = ctx_.config.state;
    return {s.model_stats_items, s.model_stats_edges, s.model_stats_vectors};
  }

  const WorkerContext ctx_;
  const std::size_t index_;
  Mailbox mailbox_;
  std::thread thread_;
  std::deque<MailItem> items_;          // taken from the mailbox, being handled
  std::vector<std::int32_t> assigned_;  // a run of assignments among items_
  std::map<std::int32_t, Partition> partitions_;
  std::shared_ptr<OutputBatch> batch_;      // of the refresh in progress
  Clock::Steady::duration publish_time_{};  // spent in Publish during the refresh in progress
  Clock::Steady::time_point next_tick_;
  bool tick_now_ = false;  // a partition's backlog is applied: tick when the round ends
  Clock::Steady::time_point next_measure_;  // of the partitions' state sizes
  std::int64_t users_reported_ = 0;
  bool stopped_ = false;
};

}  // namespace recsd::daemon
