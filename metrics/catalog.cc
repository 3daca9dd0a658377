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

}  // namespace

std::vector<MetricFamily> Families(const BuildInfo& build, const PipelineSnapshot& s) {
  std::vector<MetricFamily> out;
  out.push_back(MetricFamily{"recsd_build_info",
                             "recsd's version and revision and librdkafka's run-time version.",
                             MetricType::Gauge,
                             {Value(MetricType::Gauge, 1,
                                    {{"librdkafka_version", build.librdkafka_version},
                                     {"revision", build.revision},
                                     {"version", build.version}})}});
  {
    MetricFamily consumed{"recsd_events_consumed_total",
                          "Messages consumed from the events topic, by event type (unknown: the "
                          "message did not decode).",
                          MetricType::Counter,
                          {}};
    for (const auto& [type, count] : s.consumed_by_type) {
      consumed.metric.push_back(
          Value(MetricType::Counter, static_cast<double>(count), {{"type", type}}));
    }
    out.push_back(std::move(consumed));
  }
  out.push_back(MetricFamily{
      "recsd_events_processed_total",
      "Events by what became of them: applied, skipped as duplicates, or dead-lettered.",
      MetricType::Counter,
      {Value(MetricType::Counter, static_cast<double>(s.events_ok), {{"result", "ok"}}),
       Value(MetricType::Counter, static_cast<double>(s.events_duplicate),
             {{"result", "duplicate"}}),
       Value(MetricType::Counter, static_cast<double>(s.events_dlq), {{"result", "dlq"}})}});
  out.push_back(MetricFamily{
      "recsd_recommendations_published_total",
      "Recommendation lists produced, by delivery result.",
      MetricType::Counter,
      {Value(MetricType::Counter, static_cast<double>(s.lists_delivered), {{"result", "ok"}}),
       Value(MetricType::Counter, static_cast<double>(s.lists_failed), {{"result", "failed"}})}});
  {
    ClientMetric h;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < s.freshness_counts.size(); ++i) {
      cumulative += s.freshness_counts[i];
      const double bound = i + 1 == s.freshness_counts.size()
                               ? std::numeric_limits<double>::infinity()
                               : s.freshness_bounds_seconds[i];
      h.histogram.bucket.push_back({cumulative, bound});
    }
    h.histogram.sample_count = cumulative;
    h.histogram.sample_sum = s.freshness_sum_seconds;
    out.push_back(MetricFamily{"recsd_recommendation_freshness_seconds",
                               "Event time of the triggering event to the list acknowledged.",
                               MetricType::Histogram,
                               {h}});
  }
  out.push_back(One("recsd_kafka_rebalances_total", "Rebalance callbacks (assign and revoke).",
                    MetricType::Counter, static_cast<double>(s.rebalances)));
  out.push_back(One("recsd_kafka_assigned_partitions", "Partitions of the events topic assigned.",
                    MetricType::Gauge, static_cast<double>(s.assigned_partitions)));
  out.push_back(One("recsd_partitions_paused", "Partitions paused because a worker queue is full.",
                    MetricType::Gauge, static_cast<double>(s.paused_partitions)));
  out.push_back(One("recsd_partition_pauses_total", "Times a worker's partitions were paused.",
                    MetricType::Counter, static_cast<double>(s.pauses)));
  out.push_back(One("recsd_users_tracked", "Users with state in memory.", MetricType::Gauge,
                    static_cast<double>(s.users)));
  out.push_back(One("recsd_catalog_items", "Items in the current catalog snapshot.",
                    MetricType::Gauge, static_cast<double>(s.catalog_items)));
  out.push_back(One("recsd_catalog_last_update_timestamp_seconds",
                    "When the current catalog snapshot was made (seconds since the Unix epoch).",
                    MetricType::Gauge, s.catalog_updated_seconds));
  {
    MetricFamily queues{"recsd_worker_queue_messages",
                        "Messages waiting in a worker's queue (its partitions pause when full).",
                        MetricType::Gauge,
                        {}};
    for (std::size_t w = 0; w < s.worker_queue_messages.size(); ++w) {
      queues.metric.push_back(Value(MetricType::Gauge,
                                    static_cast<double>(s.worker_queue_messages[w]),
                                    {{"worker", std::to_string(w)}}));
    }
    out.push_back(std::move(queues));
  }
  {
    MetricFamily weights{"recsd_fusion_weight",
                         "Fusion weight by source: the learned posterior mean (averaged over "
                         "partitions), or the static weight before anything is learned.",
                         MetricType::Gauge,
                         {}};
    for (std::size_t i = 0; i < s.fusion_weights.size(); ++i) {
      if (s.sources[i] == nullptr) continue;
      weights.metric.push_back(Value(MetricType::Gauge, s.fusion_weights[i],
                                     {{"segment", "global"}, {"source", s.sources[i]}}));
    }
    out.push_back(std::move(weights));
  }
  out.push_back(One("recsd_fusion_guard_reverted",
                    "1 when the guard reverted some partition to the static weights.",
                    MetricType::Gauge, s.guard_reverted ? 1 : 0));
  return out;
}

}  // namespace recsd::metrics
