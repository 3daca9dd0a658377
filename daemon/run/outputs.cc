#include "daemon/run/outputs.h"

#include <algorithm>
#include <string>

namespace recsd::daemon {

bool Outputs::Produce(const OutgoingRecord& record, std::unique_ptr<Delivery> delivery) {
  OutputBatch& batch = *delivery->batch;
  batch.outstanding.fetch_add(1, std::memory_order_acq_rel);
  while (true) {
    ProduceResult r = transport_.Produce(record, delivery.get());
    if (r.status == ProduceStatus::kOk) {
      static_cast<void>(delivery.release());  // enqueued: its delivery report frees it
      return true;
    }
    if (r.status == ProduceStatus::kQueueFull && !shutdown_.PastDeadline()) {
      clock_.SleepFor(std::chrono::milliseconds(2));
      continue;
    }
    const std::string why =
        r.status == ProduceStatus::kQueueFull ? "the producer's queue stayed full" : r.error;
    if (std::holds_alternative<DeadLetterOutput>(delivery->output)) {
      batch.outstanding.fetch_sub(1, std::memory_order_acq_rel);
      DeadLetterFailed(std::get<DeadLetterOutput>(delivery->output), record.topic, why);
      return false;
    }
    batch.failed.store(true);
    batch.outstanding.fetch_sub(1, std::memory_order_acq_rel);
    shutdown_.Fail("cannot produce to " + std::string(record.topic) + ": " + why);
    return false;
  }
}

bool Outputs::ProduceModelStats(const OutgoingRecord& record, std::unique_ptr<Delivery> delivery,
                                std::string_view what) {
  delivery->batch->outstanding.fetch_add(1, std::memory_order_acq_rel);
  const ProduceResult r = transport_.Produce(record, delivery.get());
  if (r.status == ProduceStatus::kOk) {
    static_cast<void>(delivery.release());
    return true;
  }
  stats_.model_stats_failures.fetch_add(1, std::memory_order_relaxed);
  warnings_.Warn("model-stats-produce", "{}: cannot produce its {}-byte record to {}: {}", what,
                 record.value ? record.value->size() : 0, record.topic,
                 r.status == ProduceStatus::kQueueFull ? "the producer's queue is full" : r.error);
  return false;
}

void Outputs::DeadLetterFailed(const DeadLetterOutput& dead, std::string_view topic,
                               std::string_view why) {
  stats_.dead_letter_failures.fetch_add(1, std::memory_order_relaxed);
  warnings_.Warn("dead-letter-failed",
                 "the dead letter of {} could not be sent to {}: {}; the rejected message is "
                 "skipped",
                 dead.source, topic, why);
}

void Outputs::Delivered(void* opaque, const DeliveryReport& report) {
  std::unique_ptr<Delivery> d(static_cast<Delivery*>(opaque));
  if (!d) return;
  if (std::holds_alternative<ModelStatsOutput>(d->output)) {
    // The next interval publishes the partition's aggregates again: nothing waits for this one.
    if (!report.ok) {
      stats_.model_stats_failures.fetch_add(1, std::memory_order_relaxed);
      stats_.kafka.CountError(report.error_name);
      warnings_.Warn("model-stats-delivery", "delivery to {} failed: {}", report.topic,
                     report.error);
    } else {
      stats_.model_stats_delivered.fetch_add(1, std::memory_order_relaxed);
    }
  } else if (!report.ok && std::holds_alternative<DeadLetterOutput>(d->output)) {
    stats_.kafka.CountError(report.error_name);
    DeadLetterFailed(std::get<DeadLetterOutput>(d->output), report.topic, report.error);
  } else if (!report.ok) {
    stats_.delivery_failures.fetch_add(1, std::memory_order_relaxed);
    stats_.kafka.CountError(report.error_name);
    d->batch->failed.store(true, std::memory_order_release);
    shutdown_.Fail("delivery to " + std::string(report.topic) + " failed: " + report.error);
  } else if (const auto* changelog = std::get_if<ChangelogOutput>(&d->output)) {
    std::int64_t end = changelog->end->load(std::memory_order_relaxed);
    while (report.offset + 1 > end && !changelog->end->compare_exchange_weak(
                                          end, report.offset + 1, std::memory_order_relaxed)) {
    }
  } else if (const auto* list = std::get_if<ListOutput>(&d->output)) {
    stats_.lists_delivered.fetch_add(1, std::memory_order_relaxed);
    stats_.freshness.Observe(
        static_cast<double>(std::max<std::int64_t>(0, clock_.WallMs() - list->event_ts_ms)) /
        1000.0);
  } else if (std::holds_alternative<ForgetOutput>(d->output)) {
    stats_.list_tombstones.fetch_add(1, std::memory_order_relaxed);
  } else {
    stats_.dead_letters_delivered.fetch_add(1, std::memory_order_relaxed);
  }
  d->batch->outstanding.fetch_sub(1, std::memory_order_acq_rel);
}

}  // namespace recsd::daemon
