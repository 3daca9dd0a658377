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
  const auto n = [](const auto& atomic) { return static_cast<double>(atomic.load()); };
  metrics::PipelineSnapshot out;
  const EventTypeTable& types = p.config().event_types;
  for (std::size_t t = 0; t < types.size(); ++t) {
    out.consumed_by_type.emplace_back(types.Get(static_cast<EventTypeId>(t)).name,
                                      n(s.consumed_by_type[t]));
  }
  out.consumed_by_type.emplace_back("unknown", n(s.consumed_untyped));
  for (std::size_t r = 0; r < PipelineStats::kResults; ++r) {
    const auto result = static_cast<PipelineStats::Result>(r);
    out.processed.emplace_back(PipelineStats::ResultName(result),
                               static_cast<double>(s.Counted(result)));
  }
  for (std::size_t i = 0; i < PipelineStats::kStages; ++i) {
    out.stage_seconds.emplace_back(PipelineStats::StageName(static_cast<PipelineStats::Stage>(i)),
                                   s.stages[i].Snapshot());
  }
  out.freshness_seconds = s.freshness.Snapshot();
  out.lists_delivered = n(s.lists_delivered);
  out.lists_failed = n(s.delivery_failures);
  out.refreshes_coalesced = n(s.coalesced);
  out.list_items = s.list_items.Snapshot();

  const KafkaObservations::View kafka = s.kafka.Get();
  out.events_topic = p.config().topics.events;
  out.consumer_lag = kafka.lag;
  out.assigned_partitions = n(s.assigned_partitions);
  out.rebalances = {{"assign", n(s.rebalances_assign)},
                    {"revoke", n(s.rebalances_revoke)},
                    {"error", n(s.rebalances_error)}};
  out.commits = {{"ok", n(s.commits_ok)}, {"failed", n(s.commits_failed)}};
  out.broker_rtt_seconds = kafka.rtt_seconds;
  out.kafka_errors = kafka.errors;
  out.producer_queue_messages = static_cast<double>(kafka.producer_queue);

  out.paused_partitions = n(s.paused_partitions);
  out.pauses = n(s.pauses);
  out.worker_queue_messages = p.WorkerQueueSizes();
  out.users = n(s.users);
  out.user_state_bytes = n(s.user_state_bytes);
  out.evictions = {{"forget", n(s.evicted_forget)}, {"revoke", n(s.evicted_revoke)}};
  out.catalog_items = n(s.catalog_items);
  out.catalog_updated_seconds = n(s.catalog_updated_ms) / 1000.0;

  const WeightsView w = p.weights();
  for (std::size_t i = 0; i < model::kSourceCount; ++i) {
    out.fusion_weights.emplace_back(model::SourceName(static_cast<model::Source>(i)),
                                    w.weights.w[i]);
  }
  out.fusion_weights_version = static_cast<double>(w.weights.version);
  for (std::size_t v = 0; v < model::kVariantCount; ++v) {
    for (std::size_t i = 0; i < model::kSourceCount; ++i) {
      out.feedback.push_back({std::string(model::SourceName(static_cast<model::Source>(i))),
                              std::string(model::VariantName(static_cast<model::Variant>(v))),
                              n(s.impressions[v][i]), n(s.clicks[v][i])});
    }
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
