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
#include "daemon/base/parallel.h"
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

}  // namespace

// --tune: one replay records the candidate table, the search runs on it, a second replay
// verifies the best weights.
int TuneCommand(const ReplayOptions& options, stream::ReplayInput input,
                const model::EngineOptions& engine, const Config& config, ReplayOrder order);
// The simulated environment of --simulate (daemon/eval/simulate.h).
int SimulateCommand(const ReplayOptions& options, const Config& config,
                    const model::EngineOptions& engine);

namespace {

// The engine options of a replay: feedback is what the replay says it is (an interaction on the
// current list, named by rec), on the whole list as published.
model::EngineOptions ReplayEngineOptions(model::EngineOptions options,
                                         const EventTypeTable& types) {
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
  return options;
}

// Scores an interaction against the user's current list (prequential: the list was computed
// from everything before it) and, when the item is on the list, marks the event as a click on it.
void EvaluateAgainstList(const ListKeeper& lists, std::size_t k,
                         model::PrequentialEvaluator* evaluator, ReplayObserver* observer,
                         Event* event, ReplayReport* report) {
  const ShownList* list = lists.Find(event->user);
  if (list == nullptr) return;
  const std::optional<std::size_t> rank = evaluator->Evaluate(list->TopK(k), event->item);
  if (observer != nullptr) observer->Evaluating(event->user, event->item);
  report->ranks.push_back(rank ? static_cast<std::int32_t>(*rank) : -1);
  // A click on the current list: wherever the item is in it (the user sees all of it).
  const auto at = std::find(list->items.begin(), list->items.end(), event->item);
  if (at != list->items.end()) {
    event->rec = list->rec;
    event->pos = static_cast<std::uint32_t>(at - list->items.begin());
  }
}

void AddStateDigests(const model::Engine& engine, ReplayReport* report) {
  for (const UserId& user : engine.UserIds()) {
    report->state_digests.emplace_back(
        user.str(), state::StateDigest(user, *engine.ExportUser(user), engine.catalog()));
  }
  std::sort(report->state_digests.begin(), report->state_digests.end());
}

}  // namespace

std::shared_ptr<const model::Catalog> BuildReplayCatalog(
    const model::EngineOptions& engine, const std::function<bool(model::CatalogBuilder*)>& fill) {
  const Clock::time_point start = Clock::now();
  model::CatalogBuilder builder(engine.user.dim, engine.ann);
  builder.set_parallel_for(ParallelForThreads());
  if (!fill(&builder)) return nullptr;
  std::shared_ptr<const model::Catalog> catalog = std::move(builder).Build();
  spdlog::info("replay: catalog of {} items built in {:.2f} s{}", catalog->size(),
               std::chrono::duration<double>(Clock::now() - start).count(),
               catalog->index() != nullptr ? fmt::format(" (nearest-neighbour index of {} lists)",
                                                         catalog->index()->lists())
                                           : std::string());
  return catalog;
}

std::shared_ptr<const model::Catalog> BuildReplayCatalog(const model::EngineOptions& engine,
                                                         std::span<const ItemRecord> items) {
  return BuildReplayCatalog(engine, [items](model::CatalogBuilder* builder) {
    builder->Reserve(items.size());
    for (const ItemRecord& item : items) builder->Upsert(item);
    return true;
  });
}

ReplayReport RunReplay(stream::ReplayInput input, model::EngineOptions options,
                       const EventTypeTable& types, std::size_t k, std::uint64_t trajectory_every,
                       const ReplayProgress& progress, bool state_digests, ReplayOrder order,
                       ReplayObserver* observer) {
  options = ReplayEngineOptions(std::move(options), types);
  std::shared_ptr<const model::Catalog> catalog = std::move(input.catalog);
  if (catalog == nullptr) catalog = BuildReplayCatalog(options, input.items);
  input.items = {};  // the catalog holds them now
  const Clock::time_point start = Clock::now();
  model::Engine engine(options, types);
  engine.SetCatalog(std::move(catalog));
  engine.set_rank_observer(observer);

  if (order == ReplayOrder::kEventTime) SortByEventTime(&input.events);
  model::PrequentialEvaluator evaluator(k);
  ListKeeper lists(&evaluator);
  ReplayReport report;
  report.k = k;
  report.rejected = input.rejected;
  const std::uint64_t total = input.events.size();
  const auto weight_point = [&](std::uint64_t events) {
    const model::FusionWeights w = engine.learner().Weights();
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
      EvaluateAgainstList(lists, k, &evaluator, observer, &event, &report);
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
  if (state_digests) AddStateDigests(engine, &report);
  report.features = options.features;
  report.weights = options.weights.w;
  report.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.events_per_second =
      report.wall_seconds > 0 ? static_cast<double>(report.events) / report.wall_seconds : 0.0;
  return report;
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
  auto input = ReadReplayInput(options, config, engine);
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
  spdlog::info("replay: {} items, {} events ({}), k={}", input->catalog->size(),
               input->events.size(), options.input_format, options.k);
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
  const std::size_t catalog_size = input->catalog->size();
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

}  // namespace recsd::daemon
