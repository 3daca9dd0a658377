// The inputs of a replay: files read into events and items, and the weight options applied.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "daemon/eval/replay.h"
#include "stream/replay_input.h"

namespace recsd::daemon {
namespace {

std::string PathIn(const std::string& dir, const char* file) {
  return (std::filesystem::path(dir) / file).string();
}

}  // namespace

Result<stream::ReplayInput, std::string> ReadReplayInput(const ReplayOptions& options,
                                                         const Config& config,
                                                         const model::EngineOptions& engine) {
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
    input.catalog = BuildReplayCatalog(engine, input.items);
    input.items = {};
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
  stream::ReadResult read = 0;
  input.catalog = BuildReplayCatalog(engine, [&](model::CatalogBuilder* builder) {
    // As many rows as a msgpack file of items with embeddings can hold (4 bytes a value at
    // least): reserved up front, the tables of such a file never grow by copying, and the rows
    // an overestimate leaves unused are never touched (a hint: other files may grow them).
    std::error_code error;
    const std::uintmax_t bytes = std::filesystem::file_size(options.items, error);
    if (!error) builder->Reserve(static_cast<std::size_t>(bytes / (4 * engine.user.dim)));
    read = stream::ReadItemRecords(options.items, format, engine.user.dim, &input,
                                   [builder](ItemRecord&& item) { builder->Upsert(item); });
    return read.has_value();
  });
  if (!read) return Fail(std::move(read).error());
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

}  // namespace recsd::daemon
