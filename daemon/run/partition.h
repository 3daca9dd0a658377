#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "daemon/base/clock.h"
#include "daemon/run/offset_tracker.h"
#include "model/engine.h"

namespace recsd::daemon {

// Everything a worker keeps for one partition it owns. The worker's thread only.
struct Partition {
  using TimePoint = Clock::Steady::time_point;

  std::unique_ptr<model::Engine> engine;
  OffsetTracker tracker;
  std::uint64_t catalog_version = 0;
  TimestampMs now{0};    // latest event time seen: the engine's clock
  TimePoint last_event;  // wall time of the latest event handled
  std::optional<std::int64_t> stored;
  // What Worker::Report has added to the pipeline's counters so far.
  std::uint64_t coalesced = 0;
  std::array<std::array<model::SourceFeedback, model::kMaxSources>, model::kVariantCount>
      feedback{};
  std::int64_t bytes = 0;
  bool guard_reverted = false;
  std::uint64_t learner_restarts = 0;
  // Changelog: the first input offset whose state change is not yet written, and when the
  // partition last wrote.
  std::optional<std::int64_t> unflushed_since;
  TimePoint last_flush;
  // This owner's changelog fence (state/changelog_fence.h), the epoch its records carry; kNoEpoch
  // without a changelog.
  std::int64_t epoch = -1;
  std::string epoch_text;
  // One past the last changelog record known to be in the changelog (restored or acknowledged).
  std::shared_ptr<std::atomic<std::int64_t>> changelog_end =
      std::make_shared<std::atomic<std::int64_t>>(0);
  // Snapshots (state.dir): when the last was written, and the changelog end it recorded.
  TimePoint last_snapshot;
  std::int64_t snapshot_end = -1;
  // Resuming after assignment: whether the first event has come, the offset after the latest
  // event handled, and the end of the backlog whose lists wait until it is all applied.
  bool resumed = false;
  std::int64_t next_offset = -1;
  std::optional<std::int64_t> catch_up_end;
  TimePoint resumed_at;
  // Global statistics: the version of the table its peer view is from, and when it last
  // published its own aggregates.
  std::uint64_t model_stats_version = 0;
  TimePoint last_stats;
};

}  // namespace recsd::daemon
