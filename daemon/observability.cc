#include "daemon/observability.h"

#include <librdkafka/rdkafka.h>

#include <memory>

#include <spdlog/spdlog.h>

#include "daemon/version.h"
#include "metrics/catalog.h"
#include "metrics/exposition.h"
#include "metrics/process_collector.h"
#include "model/fusion.h"

namespace recsd::daemon {
namespace {

metrics::PipelineSnapshot Snapshot(const Pipeline& p) {
  const PipelineStats& s = p.stats();
  metrics::PipelineSnapshot out;
  out.events_consumed = s.events_consumed.load();
  const EventTypeTable& types = p.config().event_types;
  for (std::size_t t = 0; t < types.size(); ++t) {
    out.consumed_by_type.emplace_back(types.Get(static_cast<EventTypeId>(t)).name,
                                      s.consumed_by_type[t].load());
  }
  out.consumed_by_type.emplace_back("unknown", s.consumed_untyped.load());
  out.events_ok = s.events_applied.load();
  out.events_duplicate = s.events_skipped.load();
  out.events_dlq = s.events_dead_lettered.load();
  out.lists_delivered = s.lists_delivered.load();
  out.lists_failed = s.delivery_failures.load();
  out.rebalances = s.rebalances.load();
  out.pauses = s.pauses.load();
  out.assigned_partitions = s.assigned_partitions.load();
  out.paused_partitions = s.paused_partitions.load();
  out.users = s.users.load();
  out.catalog_items = s.catalog_items.load();
  out.catalog_updated_seconds = static_cast<double>(s.catalog_updated_ms.load()) / 1000.0;
  out.worker_queue_messages = p.WorkerQueueSizes();
  for (std::size_t i = 0; i < FreshnessHistogram::kBuckets; ++i) {
    out.freshness_bounds_seconds.push_back(FreshnessHistogram::UpperBound(i) / 1000.0);
    out.freshness_counts.push_back(s.freshness.bucket(i));
  }
  out.freshness_sum_seconds = static_cast<double>(s.freshness.sum_ms()) / 1000.0;
  const WeightsView w = p.weights();
  static_assert(std::tuple_size_v<decltype(out.fusion_weights)> == model::kSourceCount);
  for (std::size_t i = 0; i < model::kSourceCount; ++i) {
    out.fusion_weights[i] = w.weights.w[i];
    out.sources[i] = model::SourceName(static_cast<model::Source>(i)).data();
  }
  out.guard_reverted = w.reverted;
  return out;
}

}  // namespace

AdminServer::Handlers PipelineHandlers(const std::atomic<Pipeline*>& pipeline) {
  auto process = std::make_shared<metrics::ProcessCollector>();
  const metrics::BuildInfo build{Version(), Revision(), rd_kafka_version_str()};
  AdminServer::Handlers h;
  h.metrics = [&pipeline, process, build] {
    std::vector<prometheus::MetricFamily> families = process->Collect();
    if (const Pipeline* p = pipeline.load()) {
      auto own = metrics::Families(build, Snapshot(*p));
      families.insert(families.end(), own.begin(), own.end());
    }
    return metrics::Render(families);
  };
  h.readiness = [&pipeline] {
    const Pipeline* p = pipeline.load();
    std::vector<AdminServer::Check> checks;
    checks.push_back({"catalog", p != nullptr, p != nullptr ? "" : "loading"});
    const bool assigned = p != nullptr && p->stats().assignment_received.load();
    checks.push_back({"assignment", assigned, assigned ? "" : "waiting for the group"});
    return checks;
  };
  return h;
}

Result<std::unique_ptr<AdminServer>, std::string> StartAdmin(
    const Config& config, const std::atomic<Pipeline*>& pipeline) {
  if (config.admin.listen.empty()) return std::unique_ptr<AdminServer>();
  auto server = AdminServer::Start(config.admin.listen, PipelineHandlers(pipeline));
  if (server)
    spdlog::info("admin: serving /metrics, /livez and /readyz on port {}", (*server)->port());
  return server;
}

}  // namespace recsd::daemon
