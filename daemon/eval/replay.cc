#include "daemon/eval/replay.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/base/exit_codes.h"
#include "daemon/config/engine_setup.h"
#include "daemon/eval/baselines.h"
#include "daemon/eval/simulate.h"
#include "daemon/eval/tune.h"
#include "model/evaluation.h"
#include "state/user_state_codec.h"

namespace recsd::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// A user's current list as published: its id and items (model.list_size of them).
struct ShownList {
  std::string rec;
  std::vector<ItemId> items;
  std::span<const ItemId> TopK(std::size_t k) const {
    return std::span<const ItemId>(items).first(std::min(k, items.size()));
  }
};

// Keeps every user's latest list (its top k) and counts what was served.
class ListKeeper final : public model::ListSink {
 public:
  explicit ListKeeper(model::PrequentialEvaluator* evaluator) : evaluator_(evaluator) {}

  void Publish(RecommendationList list) override {
    ShownList& shown = lists_[list.user];
    shown.rec = std::move(list.rec);
    shown.items.clear();
    for (RecommendedItem& item : list.items) shown.items.push_back(std::move(item.item));
    evaluator_->Served(shown.TopK(evaluator_->k()));
    ++published_;
  }

  const ShownList* Find(const UserId& user) const {
    auto it = lists_.find(user);
    return it == lists_.end() ? nullptr : &it->second;
  }
  void Erase(const UserId& user) { lists_.erase(user); }
  std::uint64_t PublishedCount() const noexcept { return published_; }

 private:
  model::PrequentialEvaluator* evaluator_;
  std::unordered_map<UserId, ShownList> lists_;
  std::uint64_t published_ = 0;
};

// Replay order: by timestamp, ties in file order.
void SortByEventTime(std::vector<Event>* events) {
  std::stable_sort(events->begin(), events->end(),
                   [](const Event& a, const Event& b) { return a.ts < b.ts; });
}

std::string PathIn(const std::string& dir, const char* file) {
  return (std::filesystem::path(dir) / file).string();
}

// A progress bar on a terminal, a log line every 5 s otherwise.
ReplayProgress MakeProgress() {
  const bool tty = isatty(STDERR_FILENO) == 1;
  return [tty, last = Clock::now(), start = Clock::now()](std::uint64_t done,
                                                          std::uint64_t total) mutable {
    const Clock::time_point now = Clock::now();
    const bool finished = done == total;
    if (!finished &&
        now - last < (tty ? std::chrono::milliseconds(100) : std::chrono::seconds(5))) {
      return;
    }
    last = now;
    const double seconds = std::chrono::duration<double>(now - start).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
    const double share = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
    if (tty) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(share * kWidth);
      std::fprintf(stderr, "\r[%s%s] %3.0f%%  %llu/%llu events  %.0f events/s%s",
                   std::string(static_cast<std::size_t>(filled), '#').c_str(),
                   std::string(static_cast<std::size_t>(kWidth - filled), ' ').c_str(), share * 100,
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                   rate, finished ? "\n" : "");
      std::fflush(stderr);
    } else if (!finished) {
      spdlog::info("replay: {}/{} events ({:.0f}%), {:.0f} events/s", done, total, share * 100,
                   rate);
    }
  };
}

std::string Ctr(const model::VariantCounts& c) {
  return c.lists == 0
             ? std::string("-")
             : fmt::format("{:.4f}", static_cast<double>(c.clicks) / static_cast<double>(c.lists));
}

// One line on clicks and learning: "learning on: ...", or the click rate of the static lists.
std::string FeedbackSummary(const ReplayReport& r) {
  const auto& learned = r.feedback[static_cast<std::size_t>(model::Variant::kLearned)];
  const auto& holdout = r.feedback[static_cast<std::size_t>(model::Variant::kHoldout)];
  if (!r.learn) {
    return fmt::format("learning off: {} clicks, ctr {:.4f}", r.clicks, r.ctr);
  }
  std::string weights;
  if (!r.weight_trajectory.empty()) {
    const WeightPoint& last = r.weight_trajectory.back();
    for (std::size_t s = 0; s < r.features.size(); ++s) {
      weights += fmt::format("{}{}={:.3f}", s == 0 ? "" : ",", r.features[s], last.weights[s]);
    }
  }
  return fmt::format(
      "learning on: {} clicks, ctr {:.4f} (learned {} over {} lists, holdout {} over {}); guard "
      "{} (z {:.2f}); {} restarts from the prior\n  learned weights {}",
      r.clicks, r.ctr, Ctr(learned), learned.lists, Ctr(holdout), holdout.lists,
      r.guard.reverted ? "REVERTED to the static weights" : "ok", r.guard.z, r.learner_restarts,
      weights);
}

// Writes `json` to --json-report (nothing when it is not given; "-" is stdout): an exit code.
int WriteJsonReport(const ReplayOptions& options, const nlohmann::ordered_json& json) {
  if (options.json_report.empty()) return kExitOk;
  const std::string text = json.dump(2) + "\n";
  if (options.json_report == "-") {
    std::cout << text;
    return kExitOk;
  }
  std::ofstream out(options.json_report, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) {
    spdlog::error("recsd replay: cannot write the report to {}", options.json_report);
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

std::uint64_t ReplayReport::FillFromRun(const model::Engine& engine,
                                        const model::PrequentialEvaluator& evaluator,
                                        bool learning) {
  learn = learning;
  std::uint64_t finished = 0;
  for (std::size_t v = 0; v < model::kVariantCount; ++v) {
    feedback[v] = engine.counts(static_cast<model::Variant>(v));
    clicks += feedback[v].clicks;
    finished += feedback[v].lists;
  }
  ctr = finished == 0 ? 0.0 : static_cast<double>(clicks) / static_cast<double>(finished);
  guard = engine.guard();
  learner_restarts = engine.learner().restarts();
  users = engine.users();
  items = engine.catalog().size();
  user_state_bytes = engine.UserStateBytes();
  evaluated = evaluator.evaluated();
  hits = evaluator.hits();
  hit_rate = evaluator.HitRate();
  ndcg = evaluator.Ndcg();
  mrr = evaluator.Mrr();
  coverage = evaluator.Coverage(items);
  return finished;
}

nlohmann::ordered_json ReplayReport::ToJson() const {
  nlohmann::ordered_json j;
  j["events"] = events;
  j["evaluated"] = evaluated;
  j["users"] = users;
  j["items"] = items;
  j["k"] = k;
  j["hit_rate"] = hit_rate;
  j["ndcg"] = ndcg;
  j["mrr"] = mrr;
  j["coverage"] = coverage;
  j["events_per_second"] = events_per_second;
  j["wall_seconds"] = wall_seconds;
  nlohmann::ordered_json w = nlohmann::ordered_json::object();
  for (std::size_t s = 0; s < features.size(); ++s) w[features[s]] = weights[s];
  j["weights"] = std::move(w);
  j["only_source"] =
      only_source.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(only_source);
  j["input_format"] = input_format;
  j["hits"] = hits;
  j["lists"] = lists;
  j["unknown_items"] = unknown_items;
  j["rejected"] = rejected;
  j["user_state_bytes"] = user_state_bytes;
  j["bytes_per_user"] = BytesPerUser();
  j["learn"] = learn;
  j["clicks"] = clicks;
  j["ctr"] = ctr;
  const auto rate = [](const model::VariantCounts& c) {
    return c.lists == 0 ? nlohmann::ordered_json()
                        : nlohmann::ordered_json(static_cast<double>(c.clicks) /
                                                 static_cast<double>(c.lists));
  };
  j["ctr_learned"] = rate(feedback[static_cast<std::size_t>(model::Variant::kLearned)]);
  j["ctr_holdout"] = rate(feedback[static_cast<std::size_t>(model::Variant::kHoldout)]);
  nlohmann::ordered_json variants = nlohmann::ordered_json::object();
  for (std::size_t v = 0; v < model::kVariantCount; ++v) {
    variants[std::string(model::VariantName(static_cast<model::Variant>(v)))] = {
        {"lists", feedback[v].lists},
        {"clicked_lists", feedback[v].clicked_lists},
        {"clicks", feedback[v].clicks},
        {"ctr", rate(feedback[v])}};
  }
  j["variants"] = std::move(variants);
  j["guard"] = {{"reverted", guard.reverted}, {"z", guard.z}};
  j["learner_restarts"] = learner_restarts;
  nlohmann::ordered_json trajectory = nlohmann::ordered_json::array();
  for (const WeightPoint& p : weight_trajectory) {
    nlohmann::ordered_json point;
    point["events"] = p.events;
    point["version"] = p.version;
    for (std::size_t s = 0; s < features.size(); ++s) point[features[s]] = p.weights[s];
    trajectory.push_back(std::move(point));
  }
  j["weight_trajectory"] = std::move(trajectory);
  if (!baselines.empty()) {
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const Baseline& b : baselines) {
      all.push_back({{"name", b.name},
                     {"hit_rate", b.hit_rate},
                     {"ndcg", b.ndcg},
                     {"mrr", b.mrr},
                     {"coverage", b.coverage},
                     {"wall_seconds", b.wall_seconds},
                     {"mcnemar",
                      {{"engine_only", b.engine_only},
                       {"baseline_only", b.baseline_only},
                       {"z", b.z},
                       {"p_two_sided", b.p_two_sided}}}});
    }
    j["baselines"] = std::move(all);
  }
  return j;
}

// --tune: one replay records the candidate table, the search runs on it, a second replay
// verifies the best weights.
int TuneCommand(const ReplayOptions& options, stream::ReplayInput input,
                const model::EngineOptions& engine, const Config& config, ReplayOrder order);
// The simulated environment of --simulate (daemon/eval/simulate.h).
int SimulateCommand(const ReplayOptions& options, const Config& config,
                    const model::EngineOptions& engine);
// Prints the summary (and `extra` lines after it), writes the ranks and the JSON report.
int WriteReport(const ReplayOptions& options, const ReplayReport& report,
                const nlohmann::ordered_json& json_report, const std::string& extra);

ReplayReport RunReplay(stream::ReplayInput input, model::EngineOptions options,
                       const EventTypeTable& types, std::size_t k, std::uint64_t trajectory_every,
                       const ReplayProgress& progress, bool state_digests, ReplayOrder order,
                       ReplayObserver* observer) {
  const Clock::time_point start = Clock::now();
  // Feedback is what the replay says it is: an interaction on the current list, named by rec.
  options.learning.feedback_types.clear();
  for (std::size_t t = 0; t < types.size(); ++t) {
    if (types.Get(static_cast<EventTypeId>(t)).weight > 0) {
      options.learning.feedback_types.push_back(static_cast<EventTypeId>(t));
    }
  }
  options.learning.attribute_by_item = false;
  // The replay's user sees the whole list as published (model.list_size items; an interaction
  // anywhere in it is a click, whatever the k the ranking is evaluated at): a list without one
  // says that every one of its items was passed over.
  options.learning.attribution.examine_k = options.rank.k;
  model::CatalogBuilder builder(options.user.dim);
  for (const ItemRecord& item : input.items) builder.Upsert(item);
  model::Engine engine(options, types);
  engine.SetCatalog(builder.Build());
  engine.set_rank_observer(observer);

  if (order == ReplayOrder::kEventTime) SortByEventTime(&input.events);
  model::PrequentialEvaluator evaluator(k);
  ListKeeper lists(&evaluator);
  ReplayReport report;
  report.k = k;
  report.rejected = input.rejected;
  const std::uint64_t total = input.events.size();
  const auto weight_point = [&](std::uint64_t events) {
    const model::FusionWeights w = engine.learner().Mean();
    report.weight_trajectory.push_back({events, w.version, w.w});
  };
  if (trajectory_every == 0) trajectory_every = std::max<std::uint64_t>(1, total / 50);
  if (options.learning.learn) weight_point(0);
  bool guard_logged = false;
  for (std::size_t i = 0; i < input.events.size(); ++i) {
    Event& event = input.events[i];
    event.rec.reset();
    event.pos.reset();
    if (types.Get(event.type).weight > 0) {
      if (const ShownList* list = lists.Find(event.user)) {
        const std::optional<std::size_t> rank = evaluator.Evaluate(list->TopK(k), event.item);
        if (observer != nullptr) observer->Evaluating(event.user, event.item);
        report.ranks.push_back(rank ? static_cast<std::int32_t>(*rank) : -1);
        // A click on the current list: wherever the item is in it (the user sees all of it).
        const auto at = std::find(list->items.begin(), list->items.end(), event.item);
        if (at != list->items.end()) {
          event.rec = list->rec;
          event.pos = static_cast<std::uint32_t>(at - list->items.begin());
        }
      }
    }
    const model::ApplyOutcome outcome = engine.Apply(event, {0, static_cast<std::int64_t>(i)});
    if (outcome == model::ApplyOutcome::kUnknownItem) ++report.unknown_items;
    if (outcome == model::ApplyOutcome::kForgotten) lists.Erase(event.user);
    engine.Refresh(event.ts, lists);
    if (engine.guard().reverted && !guard_logged) {
      guard_logged = true;
      spdlog::warn(
          "replay: the learning guard reverted to the static weights after {} events: learned "
          "lists were clicked less often than holdout lists (z = {:.2f})",
          i + 1, engine.guard().z);
    }
    ++report.events;
    if (options.learning.learn && report.events % trajectory_every == 0) {
      weight_point(report.events);
    }
    if (progress && (i % 1024 == 0 || i + 1 == total)) progress(i + 1, total);
  }
  if (progress && total == 0) progress(0, 0);
  // The lists still pending have all the feedback they will get.
  engine.FinishPending({std::numeric_limits<std::int64_t>::max()});
  if (options.learning.learn &&
      (report.weight_trajectory.empty() || report.weight_trajectory.back().events != total)) {
    weight_point(total);
  }
  report.FillFromRun(engine, evaluator, options.learning.learn);
  report.lists = lists.PublishedCount();
  if (state_digests) {
    for (const UserId& user : engine.UserIds()) {
      report.state_digests.emplace_back(
          user.str(), state::StateDigest(user, *engine.ExportUser(user), engine.catalog()));
    }
    std::sort(report.state_digests.begin(), report.state_digests.end());
  }
  report.features = options.features;
  report.weights = options.weights.w;
  report.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.events_per_second =
      report.wall_seconds > 0 ? static_cast<double>(report.events) / report.wall_seconds : 0.0;
  return report;
}

Result<stream::ReplayInput, std::string> ReadReplayInput(const ReplayOptions& options,
                                                         const Config& config) {
  stream::ReplayInput input;
  if (options.input_format == "movielens") {
    const std::string events =
        options.events.empty() ? PathIn(options.data_dir, "ratings.csv") : options.events;
    const std::string items =
        options.items.empty() ? PathIn(options.data_dir, "movies.csv") : options.items;
    std::string tags = options.tags;
    if (tags.empty() && options.events.empty()) {
      tags = PathIn(options.data_dir, "tags.csv");
      if (!std::filesystem::exists(tags)) tags.clear();  // optional
    }
    if (options.events.empty() && !std::filesystem::exists(events)) {
      return Fail("no MovieLens data at " + options.data_dir +
                  " (ratings.csv, movies.csv, tags.csv): pass --data DIR, or --events and --items");
    }
    if (auto r = stream::ReadMovieLensItems(items, tags, &input); !r) {
      return Fail(std::move(r).error());
    }
    if (auto r = stream::ReadMovieLensRatings(events, config.event_types, &input); !r) {
      return Fail(std::move(r).error());
    }
    return input;
  }
  const stream::RecordFormat format = options.input_format == "msgpack"
                                          ? stream::RecordFormat::kMsgpack
                                          : stream::RecordFormat::kJsonLines;
  if (options.events.empty() || options.items.empty()) {
    return Fail("--input-format " + options.input_format + " needs --events FILE and --items FILE");
  }
  if (!options.tags.empty()) {
    return Fail(std::string("--tags is for --input-format movielens only"));
  }
  if (auto r = stream::ReadItemRecords(options.items, format, config.model.embedding_dim, &input);
      !r) {
    return Fail(std::move(r).error());
  }
  if (auto r = stream::ReadEventRecords(options.events, format, config.event_types, &input); !r) {
    return Fail(std::move(r).error());
  }
  return input;
}

Result<bool, std::string> ApplyWeightOptions(const ReplayOptions& options,
                                             model::EngineOptions* engine) {
  std::string configured;  // "emb_short, emb_long, ..." for the messages
  for (const std::string& f : engine->features) {
    configured.append(configured.empty() ? "" : ", ").append(f);
  }
  std::string_view rest = options.weights;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const std::size_t eq = part.find('=');
    const auto feature = engine->FeatureIndex(part.substr(0, eq));
    double value = 0;
    const std::string number(eq == std::string_view::npos ? "" : part.substr(eq + 1));
    std::size_t used = 0;
    try {
      value = std::stod(number, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (!feature || number.empty() || used != number.size() || !std::isfinite(value) || value < 0) {
      return Fail(fmt::format("--weights: \"{}\" is not source=weight (sources: {}; weights >= 0)",
                              part, configured));
    }
    engine->weights.w[*feature] = value;
  }
  if (!options.only_source.empty()) {
    const auto feature = engine->FeatureIndex(options.only_source);
    if (!feature) {
      return Fail(
          fmt::format("--only-source: \"{}\" is not one of {}", options.only_source, configured));
    }
    engine->offer.fill(false);
    engine->weights.w.fill(0.0);
    engine->offer[*feature] = true;
    engine->weights.w[*feature] = 1.0;
  }
  const auto& w = engine->weights.w;
  if (std::all_of(w.begin(), w.end(), [](double x) { return x == 0.0; })) {
    return Fail(std::string("--weights: every weight is 0, nothing would be ranked"));
  }
  return true;
}

int ReplayCommand(const ReplayOptions& options, const Config& config) {
  model::EngineOptions engine = EngineOptionsFromConfig(config);
  engine.rank.k = std::max(engine.rank.k, options.k);
  if (!options.learn.empty()) {
    if (options.learn != "on" && options.learn != "off") {
      spdlog::error("recsd replay: --learn takes on or off, not \"{}\"", options.learn);
      return kExitUsage;
    }
    engine.learning.learn = options.learn == "on";
  }
  if (!options.only_source.empty()) {  // a single-source baseline has static weights
    if (options.learn == "on") {
      spdlog::error("recsd replay: --only-source ranks by one source: it cannot --learn on");
      return kExitUsage;
    }
    engine.learning.learn = false;
  }
  if (auto applied = ApplyWeightOptions(options, &engine); !applied) {
    spdlog::error("recsd replay: {}", applied.error());
    return kExitUsage;
  }
  if (!options.simulate.empty()) return SimulateCommand(options, config, engine);
  if (options.tune) {
    if (options.learn == "on") {
      spdlog::error("recsd replay: --tune searches static weights: it cannot --learn on");
      return kExitUsage;
    }
    engine.learning.learn = false;
  }
  auto input = ReadReplayInput(options, config);
  if (!input) {
    spdlog::error("recsd replay: {}", input.error());
    return kExitFailure;
  }
  for (const std::string& problem : input->problems) {
    spdlog::warn("replay: skipped {}", problem);
  }
  if (input->rejected > input->problems.size()) {
    spdlog::warn("replay: {} more records skipped", input->rejected - input->problems.size());
  }
  spdlog::info("replay: {} items, {} events ({}), k={}", input->items.size(), input->events.size(),
               options.input_format, options.k);
  const ReplayOrder order =
      options.order == "input" ? ReplayOrder::kInput : ReplayOrder::kEventTime;
  if (options.tune) return TuneCommand(options, std::move(input).value(), engine, config, order);
  for (const std::string& name : options.baselines) {
    if (!MakeBaseline(name)) {
      spdlog::error(
          "recsd replay: --baseline takes popularity, cooccurrence or sequential-rules, "
          "not \"{}\"",
          name);
      return kExitUsage;
    }
  }
  std::vector<Event> events;
  if (!options.baselines.empty()) {
    events = input->events;
    if (order == ReplayOrder::kEventTime) SortByEventTime(&events);
  }
  const std::size_t catalog_size = input->items.size();
  ReplayReport report =
      RunReplay(std::move(input).value(), engine, config.event_types, options.k,
                options.trajectory_every, MakeProgress(), !options.state_digests.empty(), order);
  for (const std::string& name : options.baselines) {
    spdlog::info("replay: baseline {}", name);
    const BaselineRun run = RunBaseline(name, events, config.event_types, options.k, catalog_size);
    const McNemar m = McNemarTest(report.ranks, run.ranks, options.k);
    report.baselines.push_back({run.name, run.hit_rate, run.ndcg, run.mrr, run.coverage,
                                run.wall_seconds, m.first_only, m.second_only, m.z, m.p_two_sided});
  }
  report.input_format = options.input_format;
  report.only_source = options.only_source;
  return WriteReport(options, report, report.ToJson(), "");
}

int TuneCommand(const ReplayOptions& options, stream::ReplayInput input,
                const model::EngineOptions& engine, const Config& config, ReplayOrder order) {
  const Clock::time_point start = Clock::now();
  CandidateTable table(engine.features.size(), options.k);
  spdlog::info("replay --tune: recording the candidates of every list (static weights)");
  stream::ReplayInput again = input;  // the verification replays the same events
  TuneReport report;
  report.record = RunReplay(std::move(input), engine, config.event_types, options.k,
                            options.trajectory_every, MakeProgress(), false, order, &table);
  report = [&] {
    TuneReport searched = TuneWeights(table, engine.weights, options.seed);
    searched.record = std::move(report.record);
    return searched;
  }();
  report.features = engine.features;
  spdlog::info(
      "replay --tune: {} evaluations on {} interactions ({} with the item among the "
      "candidates, {} candidate rows kept); verifying the best",
      report.evaluations, report.interactions, report.reachable, table.rows_kept());
  model::EngineOptions best = engine;
  best.weights.w = report.best.w;
  report.verified = RunReplay(std::move(again), best, config.event_types, options.k,
                              options.trajectory_every, MakeProgress(), false, order);
  report.verified.input_format = options.input_format;
  report.record.input_format = options.input_format;
  const auto line = [&](const model::FusionWeights& w) {
    std::string out;
    for (std::size_t f = 0; f < engine.features.size(); ++f) {
      out += fmt::format("{}{}={:.3g}", f == 0 ? "" : ",", engine.features[f], w.w[f]);
    }
    return out;
  };
  std::cout << fmt::format(
      "tune {}: {} interactions at k={}, {} with the item among the candidates; {} evaluations\n"
      "  configured  {}\n    hit_rate {:.4f}  ndcg {:.4f}  mrr {:.4f}\n"
      "  best        {}\n    hit_rate {:.4f}  ndcg {:.4f}  mrr {:.4f}  (verified by a replay: "
      "hit_rate {:.4f}  ndcg {:.4f}  mrr {:.4f})\n"
      "  {:.1f} s\n",
      options.input_format, report.interactions, options.k, report.reachable, report.evaluations,
      line(report.start), report.start_quality.hit_rate, report.start_quality.ndcg,
      report.start_quality.mrr, line(report.best), report.best_quality.hit_rate,
      report.best_quality.ndcg, report.best_quality.mrr, report.verified.hit_rate,
      report.verified.ndcg, report.verified.mrr,
      std::chrono::duration<double>(Clock::now() - start).count());
  return WriteJsonReport(options, report.ToJson());
}

int SimulateCommand(const ReplayOptions& options, const Config& config,
                    const model::EngineOptions& engine) {
  SimulationOptions simulation;
  simulation.seed = options.seed;
  simulation.k = options.k;
  simulation.trajectory_every = options.trajectory_every;
  if (!options.events.empty()) {
    const auto [end, ec] = std::from_chars(
        options.events.data(), options.events.data() + options.events.size(), simulation.events);
    if (ec != std::errc() || end != options.events.data() + options.events.size() ||
        simulation.events < 100) {
      spdlog::error("recsd replay --simulate: --events takes a number of events >= 100, not \"{}\"",
                    options.events);
      return kExitUsage;
    }
  }
  spdlog::info("simulate {}: seed {}, {} interest events, {} users, {} items, k={}",
               options.simulate, simulation.seed, simulation.events, simulation.users,
               simulation.items, simulation.k);
  const SimulationReport report =
      RunDriftSimulation(simulation, engine, config.event_types, MakeProgress());
  std::string phases =
      "  phase  events           w*                       expected ctr: learned  "
      "holdout  oracle  learned/oracle  holdout/oracle   clicked: learned  holdout\n";
  for (std::size_t p = 0; p < report.phases.size(); ++p) {
    const SimulatedPhase& ph = report.phases[p];
    std::string w;
    for (std::size_t s = 0; s < report.replay.features.size(); ++s) {
      if (ph.w_star[s] != 0) {
        w +=
            fmt::format("{}{}={:g}", w.empty() ? "" : ",", report.replay.features[s], ph.w_star[s]);
      }
    }
    const auto ratio = [](const SimulatedCounts& arm, const SimulatedCounts& oracle) {
      return oracle.ExpectedCtr() > 0 ? arm.ExpectedCtr() / oracle.ExpectedCtr() : 0.0;
    };
    phases += fmt::format(
        "  {:<5}  {:>6}-{:<6}  {:<23}  {:>21.4f}  {:>7.4f}  {:>6.4f}  {:>14.3f}  {:>14.3f}  "
        "{:>16.4f}  {:>7.4f}\n",
        p + 1, ph.first_event, ph.end_event, w, ph.learned.ExpectedCtr(), ph.holdout.ExpectedCtr(),
        ph.oracle.ExpectedCtr(), ratio(ph.learned, ph.oracle), ratio(ph.holdout, ph.holdout_oracle),
        ph.learned.Ctr(), ph.holdout.Ctr());
  }
  phases +=
      "  (first list of each request, from 10% into each phase to its end; expected: under the\n"
      "  click model; oracle: for the learned users' requests, holdout/oracle: against the "
      "holdout\n"
      "  users' own; clicked: the share the simulated users clicked)";
  return WriteReport(options, report.replay, report.ToJson(), phases);
}

int WriteReport(const ReplayOptions& options, const ReplayReport& report,
                const nlohmann::ordered_json& json_report, const std::string& extra) {
  std::string weights;
  for (std::size_t s = 0; s < report.features.size(); ++s) {
    weights += fmt::format("{}{}={:g}", s == 0 ? "" : ",", report.features[s], report.weights[s]);
  }
  std::cout << fmt::format(
      "replay {}: {} events, {} users, {} items; {} interactions evaluated at k={}\n"
      "  hit_rate {:.4f}  ndcg {:.4f}  mrr {:.4f}  coverage {:.4f}\n"
      "  weights {}{}\n"
      "  {:.2f} s, {:.0f} events/s; {} lists; {} events on unknown items; {} records rejected\n"
      "  user state {:.1f} KB per user\n"
      "  {}\n",
      report.input_format, report.events, report.users, report.items, report.evaluated, report.k,
      report.hit_rate, report.ndcg, report.mrr, report.coverage, weights,
      report.only_source.empty() ? "" : " (only " + report.only_source + ")", report.wall_seconds,
      report.events_per_second, report.lists, report.unknown_items, report.rejected,
      report.BytesPerUser() / 1024.0, FeedbackSummary(report));
  for (const ReplayReport::Baseline& b : report.baselines) {
    std::cout << fmt::format(
        "baseline {}: hit_rate {:.4f}  ndcg {:.4f}  mrr {:.4f}  coverage {:.4f}  ({:.2f} s)\n"
        "  engine vs {}: hits only the engine's {}, only the baseline's {}; McNemar z {:.2f}, "
        "two-sided p {:.2g}\n",
        b.name, b.hit_rate, b.ndcg, b.mrr, b.coverage, b.wall_seconds, b.name, b.engine_only,
        b.baseline_only, b.z, b.p_two_sided);
  }
  if (!extra.empty()) std::cout << extra << "\n";
  if (!options.ranks_file.empty()) {
    std::ofstream out(options.ranks_file, std::ios::binary | std::ios::trunc);
    for (const std::int32_t rank : report.ranks) out << rank << '\n';
    out.flush();
    if (!out) {
      spdlog::error("recsd replay: cannot write the ranks to {}", options.ranks_file);
      return kExitFailure;
    }
  }
  if (!options.state_digests.empty()) {
    std::ofstream out(options.state_digests, std::ios::binary | std::ios::trunc);
    for (const auto& [user, digest] : report.state_digests) out << user << ' ' << digest << '\n';
    out.flush();
    if (!out) {
      spdlog::error("recsd replay: cannot write the state digests to {}", options.state_digests);
      return kExitFailure;
    }
  }
  return WriteJsonReport(options, json_report);
}

}  // namespace recsd::daemon
