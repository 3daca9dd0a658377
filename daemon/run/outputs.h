#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "daemon/base/clock.h"
#include "daemon/base/rate_limited_warnings.h"
#include "daemon/run/offset_tracker.h"
#include "daemon/run/pipeline_stats.h"
#include "daemon/run/shutdown.h"
#include "daemon/run/transport.h"

namespace recsd::daemon {

// What a produced message stands for, handed back by its delivery report.
struct ListOutput {
  std::int64_t event_ts_ms = 0;  // the event time of the list's trigger (freshness)
};
struct DeadLetterOutput {
  std::string
      source;  // "topic [partition] at offset N" of the rejected message (set by DeadLetter)
};
struct ChangelogOutput {
  // Raised to one past the record's offset once acknowledged: the partition's acknowledged end
  // of the changelog, which a snapshot records.
  std::shared_ptr<std::atomic<std::int64_t>> end;
};
struct ModelStatsOutput {};  // a partition's aggregates: a failed delivery is counted, not fatal
struct ForgetOutput {};      // a tombstone for a forgotten user's list
struct Delivery {
  std::shared_ptr<OutputBatch> batch;
  std::variant<ListOutput, DeadLetterOutput, ChangelogOutput, ModelStatsOutput, ForgetOutput>
      output;
};

// Everything recsd produces goes through here: lists, dead letters, changelog records and model
// statistics. Each message counts in its batch (OffsetTracker) from the enqueue to its delivery
// report. Produce and DeadLetter from any worker or the catalog thread; Delivered from the
// transport's delivery reports.
class Outputs {
 public:
  Outputs(Transport& transport, const Clock& clock, PipelineStats& stats,
          RateLimitedWarnings& warnings, Shutdown& shutdown, std::string dlq_topic,
          std::size_t dead_letter_max_bytes)
      : transport_(transport),
        clock_(clock),
        stats_(stats),
        warnings_(warnings),
        shutdown_(shutdown),
        dlq_topic_(std::move(dlq_topic)),
        dead_letter_max_bytes_(dead_letter_max_bytes) {}

  // Produces, waiting while the producer's queue is full but never past the shutdown deadline.
  // False when the message could not be enqueued: its batch is marked failed and the pipeline
  // fails (nothing at or after the batch's floor is ever committed). A dead letter is the
  // exception: one that cannot be sent or delivered is counted and logged, and its batch goes
  // on, so bad input never blocks its partition.
  bool Produce(const OutgoingRecord& record, std::unique_ptr<Delivery> delivery);
  // Produces a partition's model statistics once: they are best effort, so a record that cannot
  // be enqueued is counted (recsd_model_stats_published_total{result="failed"}) and logged, and
  // the next interval sends a newer one. False then.
  bool ProduceModelStats(const OutgoingRecord& record, std::unique_ptr<Delivery> delivery,
                         std::string_view what);

  // Sends a rejected input message to the dead-letter topic with the reason headers of
  // ARCHITECTURE.md ("Dead letters") and at most dead_letter_max_bytes of its key and value, as
  // Produce.
  bool DeadLetter(const ConsumedMessage& msg, std::string_view reason, std::string_view detail,
                  std::unique_ptr<Delivery> delivery);

  // A delivery report of a message produced here (`opaque` is its Delivery).
  void Delivered(void* opaque, const DeliveryReport& report);

 private:
  Transport& transport_;
  const Clock& clock_;
  PipelineStats& stats_;
  RateLimitedWarnings& warnings_;
  Shutdown& shutdown_;
  // A dead letter that could not be enqueued or delivered.
  void DeadLetterFailed(const DeadLetterOutput& dead, std::string_view topic, std::string_view why);

  const std::string dlq_topic_;
  const std::size_t dead_letter_max_bytes_;
};

}  // namespace recsd::daemon
