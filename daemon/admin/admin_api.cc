#include "daemon/admin/admin_api.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "daemon/base/mutex.h"
#include "daemon/base/version.h"
#include "daemon/config/engine_setup.h"
#include "metrics/catalog.h"
#include "metrics/exposition.h"
#include "metrics/process_collector.h"
#include "model/fusion.h"
#include "state/user_state_codec.h"
#include "stream/utf8.h"

namespace recsd::daemon {
namespace {

// The learned weights and the feedback on the lists, by feature and variant.
void AddLearning(const Pipeline& p, metrics::PipelineSnapshot* snapshot) {
  const PipelineStats& s = p.stats();
  const auto n = [](const auto& atomic) { return static_cast<double>(atomic.load()); };
  metrics::PipelineSnapshot& out = *snapshot;
  const WeightsView w = p.weights();
  for (std::size_t i = 0; i < w.names.size(); ++i) {
    out.fusion_weights.emplace_back(w.names[i], w.weights.w[i]);
  }
  out.fusion_weights_version = static_cast<double>(w.weights.version);
  out.learner_restarts = n(s.learner_restarts);
  for (std::size_t v = 0; v < model::kVariantCount; ++v) {
    for (std::size_t i = 0; i < w.names.size(); ++i) {
      out.feedback.push_back({w.names[i],
                              std::string(model::VariantName(static_cast<model::Variant>(v))),
                              n(s.impressions[v][i]), n(s.clicks[v][i])});
    }
  }
  out.guard_reverted = w.reverted;
}

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
  out.lists_republished = n(s.lists_republished);
  out.lists_failed = n(s.delivery_failures);
  out.dead_letters_delivered = n(s.dead_letters_delivered);
  out.dead_letters_failed = n(s.dead_letter_failures);
  out.refreshes_coalesced = n(s.coalesced);
  out.list_items = s.list_items.Snapshot();

  const KafkaObservations::View kafka = s.kafka.Get();
  out.events_topic = p.config().topics.events;
  out.consumer_lag = kafka.lag;
  out.assigned_partitions = n(s.assigned_partitions);
  out.rebalances = {{"assign", n(s.rebalances_assign)},
                    {"revoke", n(s.rebalances_revoke)},
                    {"error", n(s.rebalances_error)},
                    {"lost", n(s.rebalances_lost)}};
  out.commits = {{"ok", n(s.commits_ok)}, {"failed", n(s.commits_failed)}};
  out.broker_rtt_seconds = kafka.rtt_seconds;
  out.kafka_errors = kafka.errors;
  out.producer_queue_messages = static_cast<double>(kafka.producer_queue);

  out.paused_partitions = n(s.paused_partitions);
  out.pauses = n(s.pauses);
  out.worker_queue_messages = p.WorkerQueueSizes();
  out.users = n(s.users);
  out.user_state_bytes = n(s.user_state_bytes);
  out.evictions = {{"forget", n(s.evicted_forget)},
                   {"revoke", n(s.evicted_revoke)},
                   {"lost", n(s.evicted_lost)},
                   {"negligible", n(s.evicted_negligible)},
                   {"lru", n(s.evicted_lru)}};
  out.catalog_items = n(s.catalog_items);
  out.catalog_updated_seconds = n(s.catalog_updated_ms) / 1000.0;

  AddLearning(p, &out);
  // The pipeline runs, so the catalog is loaded.
  out.ready = s.assignment_received.load() && s.restoring_partitions.load() == 0;
  out.restoring_partitions = n(s.restoring_partitions);
  out.restored_records = n(s.restored_records);
  out.restore_fenced_records = n(s.restore_fenced);
  out.consumer_stalls = n(s.stalls);
  out.snapshots = {{"written", n(s.snapshots_written)},
                   {"write_failed", n(s.snapshot_failures)},
                   {"loaded", n(s.snapshots_loaded)},
                   {"ignored", n(s.snapshots_ignored)}};
  out.model_stats_published = {{"delivered", n(s.model_stats_delivered)},
                               {"failed", n(s.model_stats_failures)}};
  out.model_stats_read = {{"merged", n(s.model_stats_merged)},
                          {"deleted", n(s.model_stats_deleted)},
                          {"invalid", n(s.model_stats_invalid)},
                          {"unsupported_version", n(s.model_stats_unsupported)},
                          {"incompatible", n(s.model_stats_incompatible)}};
  out.model_stats_partitions = n(s.model_stats_partitions);
  out.changelog_writes = {{"upsert", n(s.changelog_upserts)},
                          {"tombstone", n(s.changelog_tombstones)}};
  return out;
}

using nlohmann::json;
using Response = AdminServer::Response;

// How long a /v1/ request waits for the workers (behind their queues) before a 503.
constexpr auto kVisitTimeout = std::chrono::seconds(2);

Response Json(unsigned status, const json& body) { return {status, body.dump()}; }
Response Error(unsigned status, std::string_view message) {
  return Json(status, {{"error", message}});
}

// The id of /v1/<kind>/<id>: percent-decoded; nothing when malformed or not a valid id.
std::optional<std::string> IdFrom(std::string_view rest) {
  std::string id;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '/') return std::nullopt;
    if (rest[i] != '%') {
      id.push_back(rest[i]);
      continue;
    }
    if (i + 2 >= rest.size()) return std::nullopt;
    int value = 0;
    for (char c : rest.substr(i + 1, 2)) {
      const int digit = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
      if (digit < 0) return std::nullopt;
      value = value * 16 + digit;
    }
    id.push_back(static_cast<char>(value));
    i += 2;
  }
  if (id.empty() || id.size() > kMaxIdBytes || !stream::IsValidUtf8(id)) return std::nullopt;
  return id;
}

json ListJson(const RecommendationList& list) {
  json items = json::array();
  for (const RecommendedItem& item : list.items) {
    json src = json::object();
    for (const auto& [source, contribution] : item.src) src[source] = contribution;
    items.push_back({{"item", item.item.str()}, {"score", item.score}, {"src", src}});
  }
  json out = {{"user", list.user.str()}, {"ts", list.ts.ms},        {"event_ts", list.event_ts.ms},
              {"model", list.model},     {"variant", list.variant}, {"items", items}};
  if (!list.rec.empty()) out["rec"] = list.rec;
  return out;
}

json UserJson(std::int32_t partition, const model::Engine& engine, const UserId& user) {
  const model::UserState& state = *engine.FindUser(user);
  const std::vector<double>& half_lives = engine.options().user.half_lives;
  json interest = json::array();
  for (std::size_t j = 0; j < state.interest().components(); ++j) {
    interest.push_back(
        {{"half_life", half_lives.at(j)}, {"mass", state.interest().MassAt(j, state.clock())}});
  }
  json categories = json::array();
  const model::Catalog& catalog = engine.catalog();
  for (const model::CategoryAffinity& c : state.categories()) {
    // Ids are interned by the catalog and kept across snapshots; guard anyway: never abort here.
    const bool named =
        c.category >= 0 && static_cast<std::size_t>(c.category) < catalog.category_count();
    const std::string name = named ? catalog.CategoryName(c.category)
                                   : fmt::format("#{}", c.category);  // (not "#" + string: GCC
                                                                      // -O3 -Wrestrict)
    categories.push_back({{"category", name}, {"affinity", c.value}});
  }
  json recent = json::array();
  for (const model::RecentItem& r : state.Recent()) recent.push_back(r.item.str());
  const std::optional<RecommendationList> current = engine.CurrentList(user);
  return {{"user", user.str()},
          {"partition", partition},
          {"digest", state::StateDigest(user, *engine.ExportUser(user), catalog)},
          {"events", state.event_count()},
          {"last_offset", state.last_offset()},
          {"clock", state.clock()},
          {"interest", interest},
          {"categories", categories},
          {"recent_items", recent},
          {"pending_lists", state.pending().size()},
          {"variant", model::VariantName(engine.VariantOf(user))},
          {"current_list", current ? ListJson(*current) : json(nullptr)}};
}

// GET /v1/users/{id}: the user's state and current list, from whichever partition holds it.
Response UserEndpoint(const Pipeline& p, const UserId& user) {
  struct Found {
    Mutex mu;
    std::optional<json> body GUARDED_BY(mu);
  };
  auto found = std::make_shared<Found>();
  const bool answered = p.Visit(
      [found, user](std::int32_t partition, model::Engine& engine, TimestampMs) {
        if (engine.FindUser(user) == nullptr) return;
        json body = UserJson(partition, engine, user);
        MutexLock lock(found->mu);
        found->body = std::move(body);
      },
      kVisitTimeout);
  if (!answered) return Error(503, "the workers did not answer in time; try again");
  MutexLock lock(found->mu);
  if (!found->body) return Error(404, "no state for this user on this instance");
  return Json(200, *found->body);
}

// GET /v1/state/digests: the state digest of every user this instance holds, by user (what
// `recsd replay --state-digests` writes), so a whole instance can be compared with a replay.
Response DigestsEndpoint(const Pipeline& p) {
  struct Digests {
    Mutex mu;
    std::map<std::string, std::string> by_user GUARDED_BY(mu);
  };
  auto digests = std::make_shared<Digests>();
  const bool answered = p.Visit(
      [digests](std::int32_t, model::Engine& engine, TimestampMs) {
        std::vector<std::pair<std::string, std::string>> mine;
        for (const UserId& user : engine.UserIds()) {
          mine.emplace_back(user.str(),
                            state::StateDigest(user, *engine.ExportUser(user), engine.catalog()));
        }
        MutexLock lock(digests->mu);
        digests->by_user.insert(mine.begin(), mine.end());
      },
      kVisitTimeout);
  if (!answered) return Error(503, "the workers did not answer in time; try again");
  MutexLock lock(digests->mu);
  return Json(200, {{"users", digests->by_user.size()}, {"digests", digests->by_user}});
}

// GET /v1/recommendations/{id}: a list computed now, on the partition that holds the user (a
// user with no state gets the cold-start list of any partition this instance owns).
Response RecommendationsEndpoint(const Pipeline& p, const UserId& user) {
  struct Lists {
    Mutex mu;
    std::optional<json> known GUARDED_BY(mu);  // from the partition holding the user
    std::optional<json> cold GUARDED_BY(mu);   // from the lowest partition owned
    std::int32_t cold_partition GUARDED_BY(mu) = -1;
  };
  auto lists = std::make_shared<Lists>();
  const bool answered = p.Visit(
      [lists, user](std::int32_t partition, model::Engine& engine, TimestampMs now) {
        const bool known = engine.FindUser(user) != nullptr;
        {
          MutexLock lock(lists->mu);
          if (!known && lists->cold_partition >= 0 && lists->cold_partition < partition) return;
        }
        json list = ListJson(engine.Recommend(user, now));
        list["partition"] = partition;
        MutexLock lock(lists->mu);
        if (known) {
          lists->known = std::move(list);
        } else if (lists->cold_partition < 0 || partition < lists->cold_partition) {
          lists->cold = std::move(list);
          lists->cold_partition = partition;
        }
      },
      kVisitTimeout);
  if (!answered) return Error(503, "the workers did not answer in time; try again");
  MutexLock lock(lists->mu);
  if (lists->known) return Json(200, *lists->known);
  if (lists->cold) return Json(200, *lists->cold);
  return Error(503, "this instance owns no partitions yet");
}

// GET /v1/weights: the learned weights by segment, learned against holdout, the guard.
Response WeightsEndpoint(const Pipeline& p) {
  struct Totals {
    Mutex mu;
    std::array<model::VariantCounts, model::kVariantCount> counts GUARDED_BY(mu){};
    std::map<std::string, std::pair<model::FusionWeights, std::size_t>> segments GUARDED_BY(mu);
    json partitions GUARDED_BY(mu) = json::array();
  };
  auto totals = std::make_shared<Totals>();
  const bool answered = p.Visit(
      [totals](std::int32_t partition, model::Engine& engine, TimestampMs) {
        const model::WeightLearner& learner = engine.learner();
        const model::GuardState& g = engine.guard();
        json part = {{"partition", partition},
                     {"version", learner.version()},
                     {"guard", {{"reverted", g.reverted}, {"z", g.z}}}};
        MutexLock lock(totals->mu);
        for (std::size_t v = 0; v < model::kVariantCount; ++v) {
          const model::VariantCounts& c = engine.counts(static_cast<model::Variant>(v));
          totals->counts[v].lists += c.lists;
          totals->counts[v].clicked_lists += c.clicked_lists;
          totals->counts[v].clicks += c.clicks;
        }
        if (learner.version() > 0) {
          std::vector<std::string> names = {""};
          for (const auto& [name, posterior] : learner.segment_posteriors()) names.push_back(name);
          for (const std::string& name : names) {
            auto& [sum, n] = totals->segments[name.empty() ? "global" : name];
            const model::FusionWeights w = learner.Weights(name);
            for (std::size_t s = 0; s < model::kMaxSources; ++s) sum.w[s] += w.w[s];
            ++n;
          }
        }
        totals->partitions.push_back(std::move(part));
      },
      kVisitTimeout);
  if (!answered) return Error(503, "the workers did not answer in time; try again");
  const WeightsView view = p.weights();
  MutexLock lock(totals->mu);
  std::sort(totals->partitions.begin(), totals->partitions.end(),
            [](const json& a, const json& b) { return a["partition"] < b["partition"]; });
  const auto by_source = [&](const model::FusionWeights& w) {
    json out = json::object();
    for (std::size_t s = 0; s < view.names.size(); ++s) out[view.names[s]] = w.w[s];
    return out;
  };
  json segments = json::object();
  for (auto& [name, entry] : totals->segments) {
    auto& [sum, n] = entry;
    for (double& x : sum.w) x /= static_cast<double>(n);
    segments[name] = by_source(sum);
  }
  if (segments.empty()) segments["global"] = by_source(view.weights);  // nothing learned yet
  json variants = json::object();
  for (std::size_t v = 0; v < model::kVariantCount; ++v) {
    const model::VariantCounts& c = totals->counts[v];
    variants[std::string(model::VariantName(static_cast<model::Variant>(v)))] = {
        {"lists", c.lists},
        {"clicked_lists", c.clicked_lists},
        {"clicks", c.clicks},
        {"ctr",
         c.lists > 0 ? static_cast<double>(c.clicked_lists) / static_cast<double>(c.lists) : 0.0}};
  }
  return Json(200, {{"learning", p.config().learning.enabled},
                    {"version", view.weights.version},
                    {"segments", segments},
                    {"static", by_source(EngineOptionsFromConfig(p.config()).weights)},
                    {"variants", variants},
                    {"guard_reverted", view.reverted},
                    {"partitions", totals->partitions}});
}

Response Api(const Pipeline* p, std::string_view path) {
  if (p == nullptr) return Error(503, "starting: the catalog is loading");
  if (path == "/v1/weights") return WeightsEndpoint(*p);
  if (path == "/v1/state/digests") return DigestsEndpoint(*p);
  for (const auto& [prefix, endpoint] :
       {std::pair{std::string_view("/v1/users/"), &UserEndpoint},
        std::pair{std::string_view("/v1/recommendations/"), &RecommendationsEndpoint}}) {
    if (!path.starts_with(prefix)) continue;
    const std::optional<std::string> id = IdFrom(path.substr(prefix.size()));
    if (!id) return Error(400, "expected a user id (1 to 256 bytes, percent-encoded)");
    return endpoint(*p, UserId(*id));
  }
  return Error(404,
               "not found: /v1/users/{id}, /v1/recommendations/{id}, /v1/weights, "
               "/v1/state/digests");
}

}  // namespace

AdminServer::Handlers PipelineHandlers(const std::atomic<Pipeline*>& pipeline) {
  auto process = std::make_shared<metrics::ProcessCollector>();
  const metrics::BuildInfo build{Version(), Revision(), rd_kafka_version_str()};
  AdminServer::Handlers h;
  h.metrics = [&pipeline, process, build] {
    std::vector<prometheus::MetricFamily> families = process->Collect();
    const Pipeline* p = pipeline.load();
    auto own =
        p != nullptr ? metrics::Families(build, Snapshot(*p)) : metrics::StartingFamilies(build);
    families.insert(families.end(), own.begin(), own.end());
    return metrics::Render(families);
  };
  h.api = [&pipeline](std::string_view path) { return Api(pipeline.load(), path); };
  h.readiness = [&pipeline] {
    const Pipeline* p = pipeline.load();
    std::vector<AdminServer::Check> checks;
    checks.push_back({"catalog", p != nullptr, p != nullptr ? "" : "loading"});
    const bool assigned = p != nullptr && p->stats().assignment_received.load();
    checks.push_back({"assignment", assigned, assigned ? "" : "waiting for the group"});
    const std::int64_t restoring = p != nullptr ? p->stats().restoring_partitions.load() : 0;
    checks.push_back({"restore", assigned && restoring == 0,
                      restoring > 0 ? std::to_string(restoring) + " partition(s) restoring" : ""});
    return checks;
  };
  return h;
}

Result<std::string, std::string> AdminToken(const Config& config) {
  const Config::Admin& a = config.admin;
  if (!a.token.empty() && !a.token_file.empty()) {
    return Fail(std::string("admin.token and admin.token_file are both set: keep one"));
  }
  if (a.token_file.empty()) return a.token;
  std::ifstream in(a.token_file);
  std::string token;
  if (!in || !std::getline(in, token)) {
    return Fail("admin.token_file \"" + a.token_file + "\" cannot be read");
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return Fail("admin.token_file \"" + a.token_file + "\" holds no token");
  return token;
}

Result<std::unique_ptr<AdminServer>, std::string> StartAdmin(
    const Config& config, const std::atomic<Pipeline*>& pipeline) {
  if (config.admin.listen.empty()) return std::unique_ptr<AdminServer>();
  auto token = AdminToken(config);
  if (!token) return Fail(token.error());
  AdminServer::Handlers handlers = PipelineHandlers(pipeline);
  handlers.token = *token;
  auto server = AdminServer::Start(config.admin.listen, std::move(handlers));
  if (server) {
    spdlog::info("admin: serving /metrics, /livez, /readyz and /v1/ ({}) on port {}",
                 token->empty() ? "no token required" : "bearer token required", (*server)->port());
  }
  return server;
}

}  // namespace recsd::daemon
