#include "daemon/replay.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/cli.h"
#include "daemon/engine_setup.h"
#include "model/evaluation.h"

namespace recsd::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// Keeps every user's latest list (its top k) and counts what was served.
class ListKeeper final : public model::ListSink {
 public:
  explicit ListKeeper(model::PrequentialEvaluator* evaluator) : evaluator_(evaluator) {}

  void Publish(RecommendationList list) override {
    std::vector<ItemId>& items = lists_[list.user];
    items.clear();
    for (std::size_t i = 0; i < std::min(evaluator_->k(), list.items.size()); ++i) {
      items.push_back(std::move(list.items[i].item));
    }
    evaluator_->Served(items);
    ++published_;
  }

  const std::vector<ItemId>* Find(const UserId& user) const {
    auto it = lists_.find(user);
    return it == lists_.end() ? nullptr : &it->second;
  }
  void Erase(const UserId& user) { lists_.erase(user); }
  std::uint64_t PublishedCount() const noexcept { return published_; }

 private:
  model::PrequentialEvaluator* evaluator_;
  std::unordered_map<UserId, std::vector<ItemId>> lists_;
  std::uint64_t published_ = 0;
};

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

}  // namespace

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
  for (std::size_t s = 0; s < model::kSourceCount; ++s) {
    w[std::string(model::SourceName(static_cast<model::Source>(s)))] = weights[s];
  }
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
  return j;
}

ReplayReport RunReplay(stream::ReplayInput input, const model::EngineOptions& options,
                       const EventTypeTable& types, std::size_t k, const ReplayProgress& progress) {
  const Clock::time_point start = Clock::now();
  model::CatalogBuilder builder(options.user.dim);
  for (const ItemRecord& item : input.items) builder.Upsert(item);
  model::Engine engine(options, types);
  engine.SetCatalog(builder.Build());

  std::stable_sort(input.events.begin(), input.events.end(),
                   [](const Event& a, const Event& b) { return a.ts < b.ts; });
  model::PrequentialEvaluator evaluator(k);
  ListKeeper lists(&evaluator);
  ReplayReport report;
  report.k = k;
  report.rejected = input.rejected;
  const std::uint64_t total = input.events.size();
  for (std::size_t i = 0; i < input.events.size(); ++i) {
    const Event& event = input.events[i];
    if (types.Get(event.type).weight > 0) {
      if (const std::vector<ItemId>* list = lists.Find(event.user)) {
        const std::optional<std::size_t> rank = evaluator.Evaluate(*list, event.item);
        report.ranks.push_back(rank ? static_cast<std::int32_t>(*rank) : -1);
      }
    }
    const model::ApplyOutcome outcome = engine.Apply(event, {0, static_cast<std::int64_t>(i)});
    if (outcome == model::ApplyOutcome::kUnknownItem) ++report.unknown_items;
    if (outcome == model::ApplyOutcome::kForgotten) lists.Erase(event.user);
    engine.Refresh(event.ts, lists);
    ++report.events;
    if (progress && (i % 1024 == 0 || i + 1 == total)) progress(i + 1, total);
  }
  if (progress && total == 0) progress(0, 0);

  report.evaluated = evaluator.evaluated();
  report.hits = evaluator.hits();
  report.lists = lists.PublishedCount();
  report.users = engine.users();
  report.user_state_bytes = engine.UserStateBytes();
  report.items = engine.catalog().size();
  report.hit_rate = evaluator.HitRate();
  report.ndcg = evaluator.Ndcg();
  report.mrr = evaluator.Mrr();
  report.coverage = evaluator.Coverage(engine.catalog().size());
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
  std::string_view rest = options.weights;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const std::size_t eq = part.find('=');
    const auto source = model::ParseSource(part.substr(0, eq));
    double value = 0;
    const std::string number(eq == std::string_view::npos ? "" : part.substr(eq + 1));
    std::size_t used = 0;
    try {
      value = std::stod(number, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (!source || number.empty() || used != number.size() || !std::isfinite(value) || value < 0) {
      return Fail("--weights: \"" + std::string(part) +
                  "\" is not source=weight (sources: emb_short, emb_long, covisit, trending, "
                  "category, fresh; weights >= 0)");
    }
    engine->weights.w[static_cast<std::size_t>(*source)] = value;
  }
  if (!options.only_source.empty()) {
    const auto source = model::ParseSource(options.only_source);
    if (!source) {
      return Fail("--only-source: \"" + options.only_source +
                  "\" is not one of emb_short, emb_long, covisit, trending, category, fresh");
    }
    engine->offer.fill(false);
    engine->weights.w.fill(0.0);
    engine->offer[static_cast<std::size_t>(*source)] = true;
    engine->weights.w[static_cast<std::size_t>(*source)] = 1.0;
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
  if (auto applied = ApplyWeightOptions(options, &engine); !applied) {
    spdlog::error("recsd replay: {}", applied.error());
    return kExitUsage;
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
  ReplayReport report =
      RunReplay(std::move(input).value(), engine, config.event_types, options.k, MakeProgress());
  report.input_format = options.input_format;
  report.only_source = options.only_source;

  std::string weights;
  for (std::size_t s = 0; s < model::kSourceCount; ++s) {
    weights += fmt::format("{}{}={:g}", s == 0 ? "" : ",",
                           model::SourceName(static_cast<model::Source>(s)), report.weights[s]);
  }
  std::cout << fmt::format(
      "replay {}: {} events, {} users, {} items; {} interactions evaluated at k={}\n"
      "  hit_rate {:.4f}  ndcg {:.4f}  mrr {:.4f}  coverage {:.4f}\n"
      "  weights {}{}\n"
      "  {:.2f} s, {:.0f} events/s; {} lists; {} events on unknown items; {} records rejected\n"
      "  user state {:.1f} KB per user\n",
      report.input_format, report.events, report.users, report.items, report.evaluated, report.k,
      report.hit_rate, report.ndcg, report.mrr, report.coverage, weights,
      report.only_source.empty() ? "" : " (only " + report.only_source + ")", report.wall_seconds,
      report.events_per_second, report.lists, report.unknown_items, report.rejected,
      report.BytesPerUser() / 1024.0);
  if (!options.ranks_file.empty()) {
    std::ofstream out(options.ranks_file, std::ios::binary | std::ios::trunc);
    for (const std::int32_t rank : report.ranks) out << rank << '\n';
    out.flush();
    if (!out) {
      spdlog::error("recsd replay: cannot write the ranks to {}", options.ranks_file);
      return kExitFailure;
    }
  }
  if (!options.json_report.empty()) {
    const std::string json = report.ToJson().dump(2) + "\n";
    if (options.json_report == "-") {
      std::cout << json;
    } else {
      std::ofstream out(options.json_report, std::ios::binary | std::ios::trunc);
      out << json;
      out.flush();
      if (!out) {
        spdlog::error("recsd replay: cannot write the report to {}", options.json_report);
        return kExitFailure;
      }
    }
  }
  return kExitOk;
}

}  // namespace recsd::daemon
