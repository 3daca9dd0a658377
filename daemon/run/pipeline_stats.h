#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/base/mutex.h"
#include "metrics/histogram.h"
#include "model/engine.h"
#include "model/event.h"
#include "model/fusion.h"
#include "stream/kafka_stats.h"

namespace recsd::daemon {

// Kafka's side of the pipeline as librdkafka reports it: errors by code (error callbacks, failed
// deliveries and commits) and the latest statistics (lag, broker round trips, producer queue).
// Any thread; a mutex, taken only by librdkafka's callbacks and by scrapes.
class KafkaObservations {
 public:
  struct View {
    std::map<std::string, std::uint64_t> errors;  // by librdkafka error name, e.g. _TRANSPORT
    std::map<std::int32_t, std::int64_t> lag;     // by partition of the events topic
    std::map<std::int32_t, double> rtt_seconds;   // by broker node id
    std::int64_t producer_queue = 0;
  };
  // Starts the usual errors at 0, so rates and alerts work before the first one.
  KafkaObservations();
  void CountError(const std::string& code);
  void Update(const stream::KafkaStats& stats);  // consumer: lag and RTT; producer: queue
  View Get() const;

 private:
  mutable Mutex mu_;
  View view_ GUARDED_BY(mu_);
};

// Counters of a running pipeline, updated by its threads with relaxed atomics.
struct PipelineStats {
  explicit PipelineStats(double freshness_objective_seconds);

  // What became of an event (recsd_events_processed_total{result}); each event counts once.
  enum class Result : std::uint8_t {
    kOk,                  // applied in order
    kLate,                // applied, older than its user's latest event
    kDuplicate,           // at or below its user's last applied offset: skipped
    kDecodeError,         // dead-lettered: not a document
    kInvalid,             // dead-lettered: not a valid event
    kUnsupportedVersion,  // dead-lettered: a schema version this build does not read
    kDlq,                 // dead-lettered for another reason (the key is not the event's user)
  };
  static constexpr std::size_t kResults = 7;
  static std::string_view ResultName(Result result) noexcept;
  // The stages of recsd_event_processing_duration_seconds{stage}.
  enum class Stage : std::uint8_t { kDecode, kState, kScore, kPublish };
  static constexpr std::size_t kStages = 4;
  static std::string_view StageName(Stage stage) noexcept;

  void Count(Result result) noexcept {
    results[static_cast<std::size_t>(result)].fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t Counted(Result result) const noexcept {
    return results[static_cast<std::size_t>(result)].load(std::memory_order_relaxed);
  }
  std::uint64_t DeadLettered() const noexcept;  // the four dead-letter results
  std::uint64_t Applied() const noexcept { return Counted(Result::kOk) + Counted(Result::kLate); }

  std::atomic<std::uint64_t> events_consumed{0};
  // By event type id (EventTypeTable), and the events whose type is unknown (undecodable).
  std::array<std::atomic<std::uint64_t>, EventTypeTable::kMaxTypes> consumed_by_type{};
  std::atomic<std::uint64_t> consumed_untyped{0};
  std::array<std::atomic<std::uint64_t>, kResults> results{};
  std::atomic<std::uint64_t> lists_delivered{0};  // acknowledged by the cluster
  std::atomic<std::uint64_t> lists_republished{
      0};  // after a restore (Engine::RepublishUnconfirmed)
  std::atomic<std::uint64_t> dead_letters_delivered{0};
  std::atomic<std::uint64_t> list_tombstones{0};  // forgotten users' lists deleted, acknowledged
  std::atomic<std::uint64_t> dead_letter_failures{0};  // not enqueued or not delivered: skipped
  std::atomic<std::uint64_t> delivery_failures{0};
  std::atomic<std::uint64_t> coalesced{0};      // events whose list also stands for later ones
  std::atomic<std::uint64_t> items_applied{0};  // catalog upserts and deletes
  std::atomic<std::uint64_t> items_dead_lettered{0};
  std::atomic<std::uint64_t> pauses{0};            // times a worker's partitions were paused
  std::atomic<std::uint64_t> learner_restarts{0};  // learners restarted from the prior
  std::atomic<std::uint64_t> rebalances_assign{0};
  std::atomic<std::uint64_t> rebalances_revoke{0};
  std::atomic<std::uint64_t> rebalances_error{0};
  std::atomic<std::uint64_t> rebalances_lost{0};  // revokes of an assignment already lost
  std::atomic<std::uint64_t> stalls{0};      // polls after a gap longer than the session timeout
  std::atomic<std::uint64_t> ticks_held{0};  // worker ticks skipped meanwhile (Liveness)
  std::atomic<std::uint64_t> restore_fenced{0};  // changelog records of fenced-off owners
  std::atomic<std::uint64_t> commits_ok{0};
  std::atomic<std::uint64_t> commits_failed{0};
  std::atomic<std::uint64_t> evicted_forget{0};      // users erased by a `forget` event
  std::atomic<std::uint64_t> evicted_revoke{0};      // users dropped with a revoked partition
  std::atomic<std::uint64_t> evicted_lost{0};        // users dropped with a lost partition
  std::atomic<std::uint64_t> evicted_negligible{0};  // state.max_bytes: negligible interest
  std::atomic<std::uint64_t> evicted_lru{0};         // state.max_bytes: least recently active
  std::atomic<std::int64_t> users{0};                // tracked, summed over workers at their ticks
  std::atomic<std::int64_t> user_state_bytes{0};     // summed over workers every few seconds
  std::atomic<std::int64_t> catalog_items{0};
  std::atomic<std::int64_t> catalog_updated_ms{0};  // wall time of the latest snapshot
  std::atomic<std::int64_t> assigned_partitions{0};
  std::atomic<std::int64_t> paused_partitions{0};
  std::atomic<bool> assignment_received{false};       // the group has given this member its share
  std::atomic<std::int64_t> restoring_partitions{0};  // assigned, changelog not yet read back
  std::atomic<std::uint64_t> restored_records{0};     // changelog records read back
  std::atomic<std::uint64_t> changelog_upserts{0};    // user states written to the changelog
  std::atomic<std::uint64_t> changelog_tombstones{0};
  std::atomic<std::uint64_t> snapshots_written{0};  // state.dir
  std::atomic<std::uint64_t> snapshot_failures{0};  // not written (the changelog has it all)
  std::atomic<std::uint64_t> snapshots_loaded{0};   // restores that started from a snapshot
  std::atomic<std::uint64_t> snapshots_ignored{0};  // corrupt, foreign, too old, ahead of the log
  // Global statistics (topics.model_stats): records published and acknowledged or failed, and
  // records read, by what became of them; partitions in the global view.
  std::atomic<std::uint64_t> model_stats_delivered{0};
  std::atomic<std::uint64_t> model_stats_failures{0};
  std::atomic<std::uint64_t> model_stats_merged{0};
  std::atomic<std::uint64_t> model_stats_deleted{0};
  std::atomic<std::uint64_t> model_stats_invalid{0};
  std::atomic<std::uint64_t> model_stats_unsupported{0};
  std::atomic<std::uint64_t> model_stats_incompatible{0};
  std::atomic<std::int64_t> model_stats_partitions{0};
  // Feedback on finished lists by variant and dominant feature (model::SourceFeedback), by the
  // position of the feature in the configured list (Pipeline::feature_names).
  std::array<std::array<std::atomic<std::uint64_t>, model::kMaxSources>, model::kVariantCount>
      impressions{};
  std::array<std::array<std::atomic<std::uint64_t>, model::kMaxSources>, model::kVariantCount>
      clicks{};
  metrics::AtomicHistogram freshness;  // seconds, event time to list acknowledged
  metrics::AtomicHistogram list_items;
  std::array<metrics::AtomicHistogram, kStages> stages;  // seconds
  KafkaObservations kafka;
};

// What the learned weights look like now: the mean of the global weights ranked with over the
// partitions that have learned anything (each partition learns from its own users).
struct WeightsView {
  model::FusionWeights weights;  // by feature, as `names`
  std::vector<std::string> names;
  std::size_t partitions = 0;  // partitions contributing
  bool reverted = false;       // the guard of some partition reverted to the static weights
};

}  // namespace recsd::daemon
