#include "metrics/catalog.h"

#include <limits>

namespace recsd::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric Value(MetricType type, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return m;
}

MetricFamily One(const char* name, const char* help, MetricType type, double value) {
  return MetricFamily{name, help, type, {Value(type, value)}};
}

MetricFamily ByLabel(const char* name, const char* help, MetricType type, const char* label,
                     const Labelled& values) {
  MetricFamily f{name, help, type, {}};
  for (const auto& [v, x] : values) f.metric.push_back(Value(type, x, {{label, v}}));
  return f;
}

ClientMetric Histogram(const HistogramSnapshot& h, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    const double bound =
        i < h.bounds.size() ? h.bounds[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back({cumulative, bound});
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = h.sum;
  return m;
}

MetricFamily Build(const BuildInfo& build) {
  return MetricFamily{"recsd_build_info",
                      "recsd's version and revision and librdkafka's run-time version.",
                      MetricType::Gauge,
                      {Value(MetricType::Gauge, 1,
                             {{"librdkafka_version", build.librdkafka_version},
                              {"revision", build.revision},
                              {"version", build.version}})}};
}

MetricFamily Ready(bool ready) {
  return One("recsd_ready",
             "1 when /readyz answers 200: the catalog is loaded and this member has its "
             "partitions.",
             MetricType::Gauge, ready ? 1 : 0);
}

}  // namespace

std::vector<MetricFamily> StartingFamilies(const BuildInfo& build) {
  return {Build(build), Ready(false)};
}

std::vector<MetricFamily> Families(const BuildInfo& build, const PipelineSnapshot& s) {
  constexpr auto kCounter = MetricType::Counter;
  constexpr auto kGauge = MetricType::Gauge;
  std::vector<MetricFamily> out;
  out.push_back(Build(build));
  out.push_back(Ready(s.ready));
  // Events.
  out.push_back(ByLabel("recsd_events_consumed_total",
                        "Messages consumed from the events topic, by event type (unknown: the "
                        "message did not decode).",
                        kCounter, "type", s.consumed_by_type));
  out.push_back(ByLabel(
      "recsd_events_processed_total",
      "Events by what became of them, each once: ok and late (applied; late is older than its "
      "user's latest event), duplicate (skipped), decode_error, invalid, unsupported_version and "
      "dlq (dead-lettered; dlq: any other reason, such as a key that is not the event's user).",
      kCounter, "result", s.processed));
  {
    MetricFamily f{"recsd_event_processing_duration_seconds",
                   "Time spent per stage: decode and state per event, score per refresh of a "
                   "partition's dirty users (lists built, not published), publish per list "
                   "(encoded and handed to the producer).",
                   MetricType::Histogram,
                   {}};
    for (const auto& [stage, h] : s.stage_seconds)
      f.metric.push_back(Histogram(h, {{"stage", stage}}));
    out.push_back(std::move(f));
  }
  // Lists.
  out.push_back(MetricFamily{
      "recsd_recommendation_freshness_seconds",
      "Event time of the event that triggered a list to the list acknowledged by Kafka; one "
      "bucket bound is the configured objective (pipeline.freshness_objective).",
      MetricType::Histogram,
      {Histogram(s.freshness_seconds)}});
  out.push_back(ByLabel("recsd_recommendations_published_total",
                        "Recommendation lists produced, by delivery result.", kCounter, "result",
                        {{"ok", s.lists_delivered}, {"failed", s.lists_failed}}));
  out.push_back(ByLabel("recsd_dead_letters_total",
                        "Rejected input messages sent to the dead-letter topic, by delivery "
                        "result; a failed one is skipped (bad input never blocks a partition).",
                        kCounter, "result",
                        {{"ok", s.dead_letters_delivered}, {"failed", s.dead_letters_failed}}));
  out.push_back(One("recsd_recommendations_republished_total",
                    "Lists published again after a restore, same rec and items: the previous "
                    "owner published them but the committed offset says they may not have "
                    "arrived.",
                    kCounter, s.lists_republished));
  out.push_back(One("recsd_refreshes_coalesced_total",
                    "Events that did not get a list of their own: their user was already waiting "
                    "for a refresh, so one list stands for several events.",
                    kCounter, s.refreshes_coalesced));
  out.push_back(MetricFamily{"recsd_recommendation_list_items",
                             "Items per published list.",
                             MetricType::Histogram,
                             {Histogram(s.list_items)}});
  // Kafka.
  {
    MetricFamily f{"recsd_kafka_consumer_lag_messages",
                   "Messages of an assigned partition not yet consumed (librdkafka's statistics, "
                   "every kafka.statistics.interval.ms).",
                   kGauge,
                   {}};
    for (const auto& [p, lag] : s.consumer_lag) {
      f.metric.push_back(Value(kGauge, static_cast<double>(lag),
                               {{"partition", std::to_string(p)}, {"topic", s.events_topic}}));
    }
    out.push_back(std::move(f));
  }
  out.push_back(One("recsd_kafka_assigned_partitions", "Partitions of the events topic assigned.",
                    kGauge, s.assigned_partitions));
  out.push_back(ByLabel("recsd_kafka_rebalances_total",
                        "Rebalance callbacks of the group consumer, by type (lost: a revoke of "
                        "partitions the group had already given away).",
                        kCounter, "type", s.rebalances));
  out.push_back(One("recsd_consumer_stalls_total",
                    "Polls of the events consumer after a gap longer than the group's session "
                    "timeout (the process was paused?); outputs were held until librdkafka could "
                    "report a lost assignment.",
                    kCounter, s.consumer_stalls));
  out.push_back(ByLabel("recsd_kafka_commits_total",
                        "Offset commits of the group consumer, by result.", kCounter, "result",
                        s.commits));
  {
    MetricFamily f{"recsd_kafka_broker_rtt_seconds",
                   "Average request round trip to a broker over librdkafka's last statistics "
                   "window.",
                   kGauge,
                   {}};
    for (const auto& [id, rtt] : s.broker_rtt_seconds) {
      f.metric.push_back(Value(kGauge, rtt, {{"broker", std::to_string(id)}}));
    }
    out.push_back(std::move(f));
  }
  {
    MetricFamily f{"recsd_kafka_errors_total",
                   "Kafka errors by librdkafka error name: client errors, failed deliveries and "
                   "failed commits.",
                   kCounter,
                   {}};
    for (const auto& [code, n] : s.kafka_errors) {
      f.metric.push_back(Value(kCounter, static_cast<double>(n), {{"code", code}}));
    }
    out.push_back(std::move(f));
  }
  out.push_back(One("recsd_kafka_producer_queue_messages",
                    "Messages in the producer's queues, waiting to be sent or acknowledged.",
                    kGauge, s.producer_queue_messages));
  // Backpressure.
  out.push_back(One("recsd_partitions_paused", "Partitions paused because a worker queue is full.",
                    kGauge, s.paused_partitions));
  out.push_back(One("recsd_partition_pauses_total", "Times a worker's partitions were paused.",
                    kCounter, s.pauses));
  {
    MetricFamily f{"recsd_worker_queue_messages",
                   "Messages waiting in a worker's queue (its partitions pause when full).",
                   kGauge,
                   {}};
    for (std::size_t w = 0; w < s.worker_queue_messages.size(); ++w) {
      f.metric.push_back(Value(kGauge, static_cast<double>(s.worker_queue_messages[w]),
                               {{"worker", std::to_string(w)}}));
    }
    out.push_back(std::move(f));
  }
  // State and catalog.
  out.push_back(One("recsd_users_tracked", "Users with state in memory.", kGauge, s.users));
  out.push_back(One("recsd_user_state_bytes",
                    "Approximate bytes of user state in memory (measured every 5 s).", kGauge,
                    s.user_state_bytes));
  out.push_back(ByLabel("recsd_user_state_evictions_total",
                        "Users whose state was dropped, by reason: forget (a forget event), "
                        "revoke (their partition went to another member), lost (their partition "
                        "was lost without a hand-over), negligible and lru "
                        "(state.max_bytes reached: negligible interest first, then the least "
                        "recently active).",
                        kCounter, "reason", s.evictions));
  out.push_back(One("recsd_state_restoring_partitions",
                    "Assigned partitions whose state is still being read back from the changelog "
                    "(their events wait; /readyz is 503 meanwhile).",
                    kGauge, s.restoring_partitions));
  out.push_back(One("recsd_state_restored_records_total",
                    "Changelog records read back while restoring partitions.", kCounter,
                    s.restored_records));
  out.push_back(One("recsd_state_restore_fenced_records_total",
                    "Changelog records skipped while restoring because their writer had been "
                    "fenced off by a newer owner of the partition (it lost the partition without "
                    "knowing, e.g. paused past its session timeout).",
                    kCounter, s.restore_fenced_records));
  out.push_back(ByLabel("recsd_state_changelog_writes_total",
                        "User states written to the changelog: upsert, or tombstone (a user "
                        "forgotten or evicted).",
                        kCounter, "type", s.changelog_writes));
  out.push_back(ByLabel("recsd_state_snapshots_total",
                        "Partition snapshots (state.dir) by result: written, write_failed (the "
                        "changelog still has everything), loaded (a restore started from one), "
                        "ignored (corrupt, truncated, of another version, too old, or ahead of the "
                        "changelog: the restore read the whole changelog).",
                        kCounter, "result", s.snapshots));
  out.push_back(ByLabel("recsd_model_stats_published_total",
                        "Partition aggregates published to topics.model_stats by result: "
                        "delivered, failed (logged; the next interval publishes again).",
                        kCounter, "result", s.model_stats_published));
  out.push_back(ByLabel("recsd_model_stats_records_total",
                        "Records read from topics.model_stats by result: merged, deleted (a "
                        "tombstone), invalid (dead-lettered), unsupported_version (dead-lettered), "
                        "incompatible (made with other half-lives or prior: not merged).",
                        kCounter, "result", s.model_stats_read));
  out.push_back(One("recsd_model_stats_partitions",
                    "Partitions whose aggregates are in this instance's global view.", kGauge,
                    s.model_stats_partitions));
  out.push_back(One("recsd_catalog_items", "Items in the current catalog snapshot.", kGauge,
                    s.catalog_items));
  out.push_back(One("recsd_catalog_last_update_timestamp_seconds",
                    "When the current catalog snapshot was made (seconds since the Unix epoch).",
                    kGauge, s.catalog_updated_seconds));
  // Fusion and feedback.
  {
    MetricFamily f{"recsd_fusion_weight",
                   "Fusion weight by source: the learned weight ranked with (averaged over "
                   "partitions), or the static weight before anything is learned.",
                   kGauge,
                   {}};
    for (const auto& [source, w] : s.fusion_weights) {
      f.metric.push_back(Value(kGauge, w, {{"segment", "global"}, {"source", source}}));
    }
    out.push_back(std::move(f));
  }
  out.push_back(One("recsd_fusion_weights_version",
                    "Learner updates behind the current weights (summed over partitions); it "
                    "rises as feedback is learned.",
                    kGauge, s.fusion_weights_version));
  out.push_back(One("recsd_learner_restarts_total",
                    "Times a partition's learner restarted from the static weights because clicks "
                    "departed abruptly from what the learned weights predict.",
                    kCounter, s.learner_restarts));
  {
    MetricFamily impressions{"recsd_feedback_impressions_total",
                             "Examined positions of finished lists, by the source that scored "
                             "the item highest and the variant that ranked the list.",
                             kCounter,
                             {}};
    MetricFamily clicks{"recsd_feedback_clicks_total",
                        "Clicks on finished lists, by the source that scored the clicked item "
                        "highest and the variant that ranked the list.",
                        kCounter,
                        {}};
    for (const SourceFeedbackCount& f : s.feedback) {
      impressions.metric.push_back(
          Value(kCounter, f.impressions, {{"source", f.source}, {"variant", f.variant}}));
      clicks.metric.push_back(
          Value(kCounter, f.clicks, {{"source", f.source}, {"variant", f.variant}}));
    }
    out.push_back(std::move(impressions));
    out.push_back(std::move(clicks));
  }
  out.push_back(One("recsd_fusion_guard_reverted",
                    "1 when the guard reverted some partition to the static weights.", kGauge,
                    s.guard_reverted ? 1 : 0));
  return out;
}

}  // namespace recsd::metrics
