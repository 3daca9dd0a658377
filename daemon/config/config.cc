#include "daemon/config/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <tuple>

#include <librdkafka/rdkafka.h>
#include <toml++/toml.h>

#include "model/sources/registry.h"

extern char** environ;

namespace recsd::daemon {
namespace {

enum class Type { kString, kInt, kFloat, kBool, kDuration, kAnyScalar };

// One key of the schema. A key ending in "." is an open table: any key below it is accepted with
// the table's type (kafka.*, events.weights.*).
struct KeySpec {
  std::string_view key;
  Type type;
  std::string_view default_value;
  std::int64_t min = 0;  // for kInt: allowed range when min < max
  std::int64_t max = 0;
  std::vector<std::string_view> allowed = {};  // for kString: allowed values when not empty
};

const std::vector<KeySpec>& Schema() {
  static const std::vector<KeySpec> schema = {
      {"kafka.", Type::kAnyScalar, ""},
      {"topics.events", Type::kString, "recsd.events"},
      {"topics.items", Type::kString, "recsd.items"},
      {"topics.recommendations", Type::kString, "recsd.recommendations"},
      {"topics.dlq", Type::kString, "recsd.events.dlq"},
      {"topics.changelog", Type::kString, "recsd.state-changelog"},
      {"topics.model_stats", Type::kString, "recsd.model-stats"},
      {"admin.listen", Type::kString, "127.0.0.1:9464"},
      {"admin.token", Type::kString, ""},
      {"admin.token_file", Type::kString, ""},
      {"log.level",
       Type::kString,
       "info",
       0,
       0,
       {"trace", "debug", "info", "warn", "error", "critical", "off"}},
      {"log.format", Type::kString, "text", 0, 0, {"text", "json"}},
      {"model.embedding_dim", Type::kInt, "64", 1, 4096},
      {"model.half_life_short", Type::kDuration, "30m"},
      {"model.half_life_long", Type::kDuration, "7d"},
      {"model.list_size", Type::kInt, "20", 1, 1000},
      {"model.clock", Type::kString, "event_time", 0, 0, {"event_time", "activity"}},
      {"model.long_kernel", Type::kString, "exponential", 0, 0, {"exponential", "logarithmic"}},
      {"model.activity_half_life_short", Type::kFloat, "10", 0, 1'000'000'000},
      {"model.activity_half_life_long", Type::kFloat, "200", 0, 1'000'000'000},
      {"model.seen_items", Type::kInt, "64", 1, 4096},
      {"model.seen_capacity", Type::kInt, "10000", 1, 1'000'000},
      {"model.repeatable_types", Type::kString, ""},
      {"model.sources", Type::kString,
       "emb_short,emb_long,covisit,sequence,trending,category,fresh"},
      {"model.offering", Type::kString, "emb_short,covisit,sequence,trending,category,fresh"},
      {"model.category_affinities", Type::kInt, "8", 1, 256},
      {"model.candidates_per_source", Type::kInt, "50", 1, 10000},
      {"model.trending_half_life", Type::kDuration, "1d"},
      {"model.fresh_half_life", Type::kDuration, "30d"},
      {"model.covisit_window", Type::kDuration, "1h"},
      {"model.covisit_half_life", Type::kDuration, "365d"},
      {"model.covisit_neighbours", Type::kInt, "128", 1, 4096},
      {"model.covisit_gaps", Type::kInt, "5", 1, 64},
      {"model.covisit_seeds", Type::kInt, "10", 1, 4096},
      {"model.covisit_recency", Type::kFloat, "0.8", 0, 1},
      {"model.sequence_gaps", Type::kInt, "5", 1, 64},
      {"model.sequence_backward", Type::kFloat, "0", 0, 1},
      {"model.sequence_window", Type::kDuration, "0s"},
      {"model.sequence_seeds", Type::kInt, "10", 1, 4096},
      {"model.sequence_recency", Type::kFloat, "0.8", 0, 1},
      {"model.sequence_half_life", Type::kDuration, "365d"},
      {"model.sequence_neighbours", Type::kInt, "256", 1, 4096},
      {"model.learned_embeddings", Type::kBool, "true"},
      {"model.learned_window", Type::kInt, "5", 1, 64},
      {"model.learned_half_life", Type::kDuration, "365d"},
      {"model.learned_prior_mass", Type::kFloat, "5", 0, 1'000'000},
      {"model.learned_items", Type::kInt, "1000000", 1, 100'000'000},
      {"model.global_refresh", Type::kDuration, "1m"},
      {"model.refresh_batch", Type::kInt, "32", 1, 1024},
      {"model.diversity", Type::kString, "none", 0, 0, {"none", "mmr", "category_cap"}},
      {"model.mmr_lambda", Type::kFloat, "0.8", 0, 1},
      {"model.category_cap", Type::kInt, "3", 1, 1000},
      {"fusion.normalisation", Type::kString, "max", 0, 0, {"reciprocal_rank", "rank", "max"}},
      {"fusion.weights.emb_short", Type::kFloat, "1", 0, 1000},
      {"fusion.weights.emb_long", Type::kFloat, "0.1", 0, 1000},
      {"fusion.weights.covisit", Type::kFloat, "1", 0, 1000},
      {"fusion.weights.sequence", Type::kFloat, "1", 0, 1000},
      {"fusion.weights.trending", Type::kFloat, "0.1", 0, 1000},
      {"fusion.weights.category", Type::kFloat, "0.1", 0, 1000},
      {"fusion.weights.fresh", Type::kFloat, "0.1", 0, 1000},
      {"learning.enabled", Type::kBool, "true"},
      {"learning.feedback_types", Type::kString, "click"},
      {"learning.attribution_window", Type::kDuration, "30m"},
      {"learning.pending_lists", Type::kInt, "4", 1, 64},
      {"learning.examine_k", Type::kInt, "5", 1, 1000},
      {"learning.propensity_power", Type::kFloat, "0", 0, 10},
      {"learning.max_propensity_weight", Type::kFloat, "10", 1, 1000},
      {"learning.exploration", Type::kFloat, "0", 0, 10},
      {"learning.prior_variance", Type::kFloat, "1", 0, 1000},
      {"learning.bias_prior_mean", Type::kFloat, "-1.5", -100, 100},
      {"learning.beta", Type::kFloat, "1", 0, 1000},
      {"learning.drift_variance", Type::kFloat, "1e-05", 0, 1},
      {"learning.restart_threshold", Type::kFloat, "40", 0, 1'000'000},
      {"learning.restart_ratio", Type::kFloat, "4", 1, 1'000'000},
      {"learning.min_weight", Type::kFloat, "0", 0, 1000},
      {"learning.max_weight", Type::kFloat, "10", 0, 1000},
      {"learning.segment_keys", Type::kString, ""},
      {"learning.segment_min_examples", Type::kInt, "1000", 0, 1'000'000'000},
      {"learning.max_segments", Type::kInt, "1024", 0, 1'000'000},
      {"learning.holdout_share", Type::kFloat, "0.1", 0, 1},
      {"learning.guard", Type::kBool, "true"},
      {"learning.guard_window", Type::kInt, "20000", 1, 1'000'000'000},
      {"learning.guard_min_lists", Type::kInt, "2000", 0, 1'000'000'000},
      {"learning.guard_z", Type::kFloat, "3", 0, 100},
      {"pipeline.workers", Type::kInt, "0", 0, 1024},
      {"pipeline.queue_capacity", Type::kInt, "10000", 1, 10'000'000},
      {"pipeline.catch_up_events", Type::kInt, "100000", 0, std::int64_t{1} << 40},
      {"pipeline.refresh_interval", Type::kDuration, "100ms"},
      {"pipeline.min_refresh_interval", Type::kDuration, "1s"},
      {"pipeline.shutdown_timeout", Type::kDuration, "8s"},
      {"pipeline.catalog_load_timeout", Type::kDuration, "1m"},
      {"pipeline.catalog_publish_interval", Type::kDuration, "1s"},
      {"pipeline.stats_interval", Type::kDuration, "10s"},
      {"pipeline.freshness_objective", Type::kDuration, "5s"},
      {"state.changelog", Type::kBool, "true"},
      {"state.flush_interval", Type::kDuration, "1s"},
      {"state.max_bytes", Type::kInt, "1073741824", 0, std::int64_t{1} << 50},
      {"state.negligible_mass", Type::kFloat, "0.01", 0, 1000},
      {"state.dir", Type::kString, ""},
      {"state.snapshot_interval", Type::kDuration, "5m"},
      {"state.snapshot_max_age", Type::kDuration, "12h"},
      {"state.model_stats_interval", Type::kDuration, "10s"},
      {"state.model_stats_items", Type::kInt, "1000", 1, 100'000},
      {"state.model_stats_edges", Type::kInt, "5000", 1, 100'000},
      {"state.model_stats_vectors", Type::kInt, "500", 0, 100'000},
      {"events.weights.", Type::kFloat, ""},
  };
  return schema;
}

// Defaults inside open tables.
std::vector<std::pair<std::string, std::string>> OpenTableDefaults() {
  std::vector<std::pair<std::string, std::string>> defaults = {
      {"kafka.bootstrap.servers", "127.0.0.1:9092"},
      {"kafka.group.id", "recsd"},
      // librdkafka defaults to "latest": a new consumer group would silently skip existing data.
      {"kafka.auto.offset.reset", "earliest"},
      // Partition user keys like Java clients do, so every producer agrees on a user's partition.
      {"kafka.partitioner", "murmur2_random"},
      {"kafka.compression.type", "lz4"},
      {"kafka.partition.assignment.strategy", "cooperative-sticky"},
      {"kafka.enable.idempotence", "true"},
      // How often stored offsets are committed: after a crash, events since the last commit are
      // consumed again (and their lists repeated), so commit about as often as the changelog
      // is written (state.flush_interval), not librdkafka's 5 s.
      {"kafka.auto.commit.interval.ms", "1000"},
      // Consumer lag, broker round trips and the producer's queue for /metrics; 0 turns them off.
      {"kafka.statistics.interval.ms", "5000"},
  };
  const EventTypeTable builtin;
  for (const EventTypeSpec& t : builtin.types()) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), t.weight);
    defaults.emplace_back("events.weights." + t.name, std::string(buf, end));
  }
  return defaults;
}

const KeySpec* FindSpec(std::string_view key) {
  for (const KeySpec& spec : Schema()) {
    if (spec.key.ends_with('.') ? (key.starts_with(spec.key) && key.size() > spec.key.size())
                                : key == spec.key) {
      return &spec;
    }
  }
  return nullptr;
}

// True when some schema key lies below `table` (so a TOML table of that name is expected).
bool IsKnownTable(std::string_view table) {
  const std::string prefix = std::string(table) + ".";
  return std::any_of(Schema().begin(), Schema().end(), [&](const KeySpec& spec) {
    return spec.key.starts_with(prefix) || std::string_view(prefix).starts_with(spec.key);
  });
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kString:
      return "a string";
    case Type::kInt:
      return "an integer";
    case Type::kFloat:
      return "a number";
    case Type::kBool:
      return "true or false";
    case Type::kDuration:
      return "a duration string like \"250ms\", \"30m\" or \"7d\"";
    case Type::kAnyScalar:
      return "a string, number or boolean";
  }
  return "?";
}

std::string FormatDouble(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, end);
}

// Checks `text` against the spec; on success `*canonical` is its canonical form.
std::optional<std::string> ValidateText(const KeySpec& spec, const std::string& text,
                                        std::string* canonical) {
  switch (spec.type) {
    case Type::kString:
    case Type::kAnyScalar:
      if (!spec.allowed.empty() &&
          std::find(spec.allowed.begin(), spec.allowed.end(), text) == spec.allowed.end()) {
        std::string list;
        for (std::string_view a : spec.allowed) {
          list += (list.empty() ? "" : ", ") + std::string(a);
        }
        return "\"" + text + "\" is not one of " + list;
      }
      *canonical = text;
      return std::nullopt;
    case Type::kInt: {
      std::int64_t v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
        return "expected " + std::string(TypeName(spec.type)) + ", got \"" + text + "\"";
      }
      if (spec.min < spec.max && (v < spec.min || v > spec.max)) {
        return std::to_string(v) + " is outside [" + std::to_string(spec.min) + ", " +
               std::to_string(spec.max) + "]";
      }
      *canonical = std::to_string(v);
      return std::nullopt;
    }
    case Type::kFloat: {
      double v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
        return "expected " + std::string(TypeName(spec.type)) + ", got \"" + text + "\"";
      }
      if (!std::isfinite(v)) {
        return "must be finite";
      }
      if (spec.min < spec.max &&
          (v < static_cast<double>(spec.min) || v > static_cast<double>(spec.max))) {
        return FormatDouble(v) + " is outside [" + std::to_string(spec.min) + ", " +
               std::to_string(spec.max) + "]";
      }
      *canonical = FormatDouble(v);
      return std::nullopt;
    }
    case Type::kBool:
      if (text != "true" && text != "false") {
        return "expected true or false, got \"" + text + "\"";
      }
      *canonical = text;
      return std::nullopt;
    case Type::kDuration: {
      Milliseconds d{};
      if (!ParseDuration(text, &d)) {
        return "bad duration \"" + text + "\": expected an integer and a unit (ms, s, m, h, d)";
      }
      *canonical = text;
      return std::nullopt;
    }
  }
  return "unsupported type";
}

// Converts a TOML value to text for ValidateText; a type mismatch is reported here.
std::optional<std::string> TomlToText(const KeySpec& spec, const toml::node& node,
                                      std::string* text) {
  const auto wrong = [&](const char* got) {
    return "expected " + std::string(TypeName(spec.type)) + ", got " + got;
  };
  if (const auto* s = node.as_string()) {
    if (spec.type != Type::kString && spec.type != Type::kDuration &&
        spec.type != Type::kAnyScalar) {
      return wrong("a string");
    }
    *text = s->get();
    return std::nullopt;
  }
  if (const auto* i = node.as_integer()) {
    if (spec.type != Type::kInt && spec.type != Type::kFloat && spec.type != Type::kAnyScalar) {
      return wrong("an integer");
    }
    *text = std::to_string(i->get());
    return std::nullopt;
  }
  if (const auto* f = node.as_floating_point()) {
    if (spec.type != Type::kFloat && spec.type != Type::kAnyScalar) {
      return wrong("a float");
    }
    *text = FormatDouble(f->get());
    return std::nullopt;
  }
  if (const auto* b = node.as_boolean()) {
    if (spec.type != Type::kBool && spec.type != Type::kAnyScalar) {
      return wrong("a boolean");
    }
    *text = b->get() ? "true" : "false";
    return std::nullopt;
  }
  if (node.is_array()) {
    return wrong("an array");
  }
  if (node.is_table()) {
    return wrong("a table");
  }
  return wrong("a date or time");
}

class Loader {
 public:
  explicit Loader(LoadedConfig* out) : out_(out) {}

  void Defaults() {
    for (const KeySpec& spec : Schema()) {
      if (!spec.key.ends_with('.')) {
        out_->settings[std::string(spec.key)] = {std::string(spec.default_value), "default"};
      }
    }
    for (auto& [key, value] : OpenTableDefaults()) {
      out_->settings[key] = {value, "default"};
    }
  }

  void File(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      Problem("", path, "cannot read the file (missing, or not a regular file)");
      return;
    }
    toml::table root;
    try {
      root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      Problem("", path + ":" + std::to_string(e.source().begin.line),
              "TOML syntax error: " + std::string(e.description()));
      return;
    } catch (const std::exception& e) {
      Problem("", path, std::string("cannot read the file: ") + e.what());
      return;
    }
    Walk(root, "", path);
  }

  void Env(const std::vector<std::string>& env) {
    for (const std::string& entry : env) {
      const std::size_t eq = entry.find('=');
      const std::string name = entry.substr(0, eq);
      if (!name.starts_with("RECSD_") || name.find("__") == std::string::npos ||
          eq == std::string::npos) {
        continue;
      }
      std::string key;
      std::string_view rest = std::string_view(name).substr(6);
      bool kafka = false;
      for (std::size_t part = 0; !rest.empty(); ++part) {
        const std::size_t sep = rest.find("__");
        std::string piece(rest.substr(0, sep));
        std::transform(piece.begin(), piece.end(), piece.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (part == 0) {
          kafka = piece == "kafka";
        } else if (kafka) {
          std::replace(piece.begin(), piece.end(), '_', '.');
        }
        key += (key.empty() ? "" : ".") + piece;
        rest = sep == std::string_view::npos ? std::string_view() : rest.substr(sep + 2);
      }
      SetText(key, entry.substr(eq + 1), "env " + name);
    }
  }

  void Sets(const std::vector<std::string>& sets) {
    for (const std::string& s : sets) {
      const std::size_t eq = s.find('=');
      if (eq == std::string::npos || eq == 0) {
        Problem("", "--set", "\"" + s + "\" is not section.key=value");
        continue;
      }
      SetText(s.substr(0, eq), s.substr(eq + 1), "--set");
    }
  }

  void Build() {
    const Settings& st = out_->settings;
    Config& c = out_->config;
    const auto get = [&](const char* key) -> const std::string& { return st.at(key).value; };
    c.topics = {get("topics.events"), get("topics.items"),     get("topics.recommendations"),
                get("topics.dlq"),    get("topics.changelog"), get("topics.model_stats")};
    c.admin = {get("admin.listen"), get("admin.token"), get("admin.token_file")};
    c.log = {get("log.level"), get("log.format")};
    Config::Model& m = c.model;
    for (auto [key, field] :
         {std::pair{"model.embedding_dim", &m.embedding_dim},
          std::pair{"model.list_size", &m.list_size}, std::pair{"model.seen_items", &m.seen_items},
          std::pair{"model.category_affinities", &m.category_affinities},
          std::pair{"model.candidates_per_source", &m.candidates_per_source},
          std::pair{"model.covisit_neighbours", &m.covisit_neighbours},
          std::pair{"model.seen_capacity", &m.seen_capacity},
          std::pair{"model.sequence_gaps", &m.sequence_gaps},
          std::pair{"model.covisit_gaps", &m.covisit_gaps},
          std::pair{"model.learned_window", &m.learned_window},
          std::pair{"model.learned_items", &m.learned_items},
          std::pair{"model.covisit_seeds", &m.covisit_seeds},
          std::pair{"model.sequence_seeds", &m.sequence_seeds},
          std::pair{"model.sequence_neighbours", &m.sequence_neighbours},
          std::pair{"model.refresh_batch", &m.refresh_batch},
          std::pair{"model.category_cap", &m.category_cap}}) {
      *field = std::stoul(get(key));
    }
    m.clock = get("model.clock");
    m.long_kernel = get("model.long_kernel");
    m.diversity = get("model.diversity");
    m.mmr_lambda = std::stod(get("model.mmr_lambda"));
    m.sequence_recency = std::stod(get("model.sequence_recency"));
    m.sequence_backward = std::stod(get("model.sequence_backward"));
    m.covisit_recency = std::stod(get("model.covisit_recency"));
    m.learned_embeddings = get("model.learned_embeddings") == "true";
    m.learned_prior_mass = std::stod(get("model.learned_prior_mass"));
    if (m.learned_prior_mass <= 0) {
      Problem("model.learned_prior_mass", st.at("model.learned_prior_mass").origin,
              "must be greater than 0");
    }
    for (const char* key : {"model.sequence_recency", "model.covisit_recency"}) {
      if (std::stod(get(key)) <= 0) Problem(key, st.at(key).origin, "must be greater than 0");
    }
    BuildSources();
    for (auto [key, field] :
         {std::pair{"model.activity_half_life_short", &m.activity_half_life_short},
          std::pair{"model.activity_half_life_long", &m.activity_half_life_long}}) {
      *field = std::stod(get(key));
      if (*field <= 0) {
        Problem(key, st.at(key).origin, "must be greater than 0");
      }
    }
    // Half-lives must be positive; a window or interval of 0 is allowed (it turns the thing off).
    for (auto [key, field, positive] :
         {std::tuple{"model.half_life_short", &m.half_life_short, true},
          std::tuple{"model.half_life_long", &m.half_life_long, true},
          std::tuple{"model.trending_half_life", &m.trending_half_life, true},
          std::tuple{"model.fresh_half_life", &m.fresh_half_life, true},
          std::tuple{"model.covisit_half_life", &m.covisit_half_life, true},
          std::tuple{"model.covisit_window", &m.covisit_window, false},
          std::tuple{"model.sequence_half_life", &m.sequence_half_life, true},
          std::tuple{"model.learned_half_life", &m.learned_half_life, true},
          std::tuple{"model.sequence_window", &m.sequence_window, false},
          std::tuple{"model.global_refresh", &m.global_refresh, false}}) {
      ParseDuration(get(key), field);
      if (positive && field->count() <= 0) {
        Problem(key, st.at(key).origin, "must be longer than 0");
      }
    }
    c.fusion.normalisation = get("fusion.normalisation");
    double weight_sum = 0;
    for (const auto& [key, s] : st) {
      if (key.starts_with("fusion.weights.")) {
        c.fusion.weights[key.substr(15)] = std::stod(s.value);
        const auto& sources = m.sources;
        if (std::find(sources.begin(), sources.end(), key.substr(15)) != sources.end()) {
          weight_sum += std::stod(s.value);
        }
      }
    }
    if (weight_sum <= 0) {
      Problem("fusion.weights", "", "at least one of model.sources needs a weight above 0");
    }
    std::vector<EventTypeSpec> weights;
    for (const auto& [key, s] : st) {
      if (key.starts_with("events.weights.")) {
        weights.push_back({key.substr(15), std::stod(s.value)});
      } else if (key.starts_with("kafka.")) {
        c.kafka[key.substr(6)] = s.value;
      }
    }
    if (!c.event_types.Configure(weights)) {
      Problem("events.weights", "",
              "more than " + std::to_string(EventTypeTable::kMaxTypes) + " event types");
    }
    for (const std::string& name : SplitList(get("model.repeatable_types"))) {
      if (!c.event_types.Find(name)) {
        Problem("model.repeatable_types", st.at("model.repeatable_types").origin,
                "\"" + name + "\" is not an event type");
      } else {
        m.repeatable_types.push_back(name);
      }
    }
    BuildLearning();
    BuildPipeline();
    CheckKafka();
  }

 private:
  void BuildPipeline() {
    const Settings& st = out_->settings;
    Config::Pipeline& p = out_->config.pipeline;
    const auto get = [&](const char* key) -> const std::string& { return st.at(key).value; };
    p.workers = std::stoull(get("pipeline.workers"));
    out_->config.state.max_bytes = std::stoull(get("state.max_bytes"));
    out_->config.state.negligible_mass = std::stod(get("state.negligible_mass"));
    out_->config.state.changelog = get("state.changelog") == "true";
    ParseDuration(get("state.flush_interval"), &out_->config.state.flush_interval);
    if (out_->config.state.flush_interval.count() <= 0) {
      Problem("state.flush_interval", st.at("state.flush_interval").origin,
              "must be longer than 0");
    }
    Config::State& state = out_->config.state;
    state.dir = get("state.dir");
    ParseDuration(get("state.snapshot_interval"), &state.snapshot_interval);
    ParseDuration(get("state.snapshot_max_age"), &state.snapshot_max_age);
    for (auto [key, value] : {std::pair{"state.snapshot_interval", state.snapshot_interval},
                              std::pair{"state.snapshot_max_age", state.snapshot_max_age}}) {
      if (value.count() <= 0) Problem(key, st.at(key).origin, "must be longer than 0");
    }
    ParseDuration(get("state.model_stats_interval"), &state.model_stats_interval);
    state.model_stats_items = std::stoull(get("state.model_stats_items"));
    state.model_stats_edges = std::stoull(get("state.model_stats_edges"));
    state.model_stats_vectors = std::stoull(get("state.model_stats_vectors"));
    if (!state.dir.empty() && !state.changelog) {
      Problem("state.dir", st.at("state.dir").origin,
              "snapshots need state.changelog = true (a snapshot is a point in the changelog)");
    }
    p.queue_capacity = std::stoull(get("pipeline.queue_capacity"));
    p.catch_up_events = std::stoull(get("pipeline.catch_up_events"));
    for (auto [key, field, positive] :
         {std::tuple{"pipeline.refresh_interval", &p.refresh_interval, true},
          std::tuple{"pipeline.min_refresh_interval", &p.min_refresh_interval, false},
          std::tuple{"pipeline.shutdown_timeout", &p.shutdown_timeout, true},
          std::tuple{"pipeline.catalog_load_timeout", &p.catalog_load_timeout, true},
          std::tuple{"pipeline.catalog_publish_interval", &p.catalog_publish_interval, true},
          std::tuple{"pipeline.stats_interval", &p.stats_interval, false},
          std::tuple{"pipeline.freshness_objective", &p.freshness_objective, true}}) {
      ParseDuration(get(key), field);
      if (positive && field->count() <= 0) {
        Problem(key, st.at(key).origin, "must be longer than 0");
      }
    }
  }

  // model.sources: known feature names, each once, at most model::kMaxSources.
  void BuildSources() {
    const Setting& s = out_->settings.at("model.sources");
    Config::Model& m = out_->config.model;
    m.sources = SplitList(s.value);
    if (m.sources.empty()) Problem("model.sources", s.origin, "names no source");
    std::string known;
    for (std::string_view k : model::KnownFeatures())
      known.append(known.empty() ? "" : ", ").append(k);
    const auto not_a_source = [&](const std::string& name) {
      return std::string("\"")
          .append(name)
          .append("\" is not a source (")
          .append(known)
          .append(")");
    };
    for (std::size_t i = 0; i < m.sources.size(); ++i) {
      const std::string& name = m.sources[i];
      if (!model::IsKnownFeature(name)) {
        Problem("model.sources", s.origin, not_a_source(name));
      } else if (std::find(m.sources.begin(), m.sources.begin() + static_cast<long>(i), name) !=
                 m.sources.begin() + static_cast<long>(i)) {
        Problem("model.sources", s.origin, "\"" + name + "\" is named twice");
      }
    }
    // Offering sources that are not configured are ignored (a pipeline without them); at least
    // one configured source must offer.
    const Setting& offering = out_->settings.at("model.offering");
    m.offering.clear();
    for (const std::string& name : SplitList(offering.value)) {
      if (!model::IsKnownFeature(name)) {
        Problem("model.offering", offering.origin, not_a_source(name));
      } else if (std::find(m.sources.begin(), m.sources.end(), name) != m.sources.end()) {
        m.offering.push_back(name);
      }
    }
    if (m.offering.empty() && !m.sources.empty()) {
      Problem("model.offering", offering.origin, "none of model.sources offers candidates");
    }
  }

  void BuildLearning() {
    const Settings& st = out_->settings;
    Config::Learning& l = out_->config.learning;
    const auto get = [&](const char* key) -> const std::string& { return st.at(key).value; };
    const auto problem = [&](const char* key, const std::string& message) {
      Problem(key, st.at(key).origin, message);
    };
    l.enabled = get("learning.enabled") == "true";
    l.guard = get("learning.guard") == "true";
    l.feedback_types = SplitList(get("learning.feedback_types"));
    for (const std::string& name : l.feedback_types) {
      if (!out_->config.event_types.Find(name)) {
        problem("learning.feedback_types", "\"" + name + "\" is not an event type");
      }
    }
    l.segment_keys = SplitList(get("learning.segment_keys"));
    ParseDuration(get("learning.attribution_window"), &l.attribution_window);
    for (auto [key, field] : {std::pair{"learning.pending_lists", &l.pending_lists},
                              std::pair{"learning.examine_k", &l.examine_k},
                              std::pair{"learning.segment_min_examples", &l.segment_min_examples},
                              std::pair{"learning.max_segments", &l.max_segments},
                              std::pair{"learning.guard_window", &l.guard_window},
                              std::pair{"learning.guard_min_lists", &l.guard_min_lists}}) {
      *field = std::stoull(get(key));
    }
    for (auto [key, field] : {std::pair{"learning.propensity_power", &l.propensity_power},
                              std::pair{"learning.max_propensity_weight", &l.max_propensity_weight},
                              std::pair{"learning.prior_variance", &l.prior_variance},
                              std::pair{"learning.bias_prior_mean", &l.bias_prior_mean},
                              std::pair{"learning.beta", &l.beta},
                              std::pair{"learning.drift_variance", &l.drift_variance},
                              std::pair{"learning.restart_threshold", &l.restart_threshold},
                              std::pair{"learning.restart_ratio", &l.restart_ratio},
                              std::pair{"learning.min_weight", &l.min_weight},
                              std::pair{"learning.max_weight", &l.max_weight},
                              std::pair{"learning.holdout_share", &l.holdout_share},
                              std::pair{"learning.guard_z", &l.guard_z},
                              std::pair{"learning.exploration", &l.exploration}}) {
      *field = std::stod(get(key));
    }
    for (const char* key : {"learning.prior_variance", "learning.beta", "learning.guard_z"}) {
      if (std::stod(get(key)) <= 0) problem(key, "must be greater than 0");
    }
    if (l.restart_ratio <= 1) problem("learning.restart_ratio", "must be greater than 1");
    if (l.min_weight > l.max_weight) {
      problem("learning.min_weight", "is above learning.max_weight");
    }
    // The guard's decayed count of holdout lists levels off at share × window / ln 2: below
    // guard_min_lists the guard could never act, which must not pass silently.
    const double holdout_lists =
        l.holdout_share * static_cast<double>(l.guard_window) / std::log(2.0);
    if (l.guard && l.holdout_share > 0 && holdout_lists < static_cast<double>(l.guard_min_lists)) {
      problem("learning.guard_min_lists",
              "the guard could never act: its window holds at most " +
                  std::to_string(static_cast<long long>(holdout_lists)) +
                  " holdout lists (holdout_share × guard_window / ln 2); raise "
                  "learning.holdout_share or learning.guard_window, or lower this");
    }
  }

  // "a, b,c" → {"a", "b", "c"}; empty parts are dropped.
  static std::vector<std::string> SplitList(std::string_view text) {
    std::vector<std::string> parts;
    while (!text.empty()) {
      const std::size_t comma = text.find(',');
      std::string_view part = text.substr(0, comma);
      text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
      if (!part.empty()) parts.emplace_back(part);
    }
    return parts;
  }

  void Problem(std::string key, std::string origin, std::string message) {
    out_->problems.push_back({std::move(key), std::move(origin), std::move(message)});
  }

  void Walk(const toml::table& table, const std::string& prefix, const std::string& path) {
    for (const auto& [k, node] : table) {
      const std::string key =
          prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      const std::string origin = path + ":" + std::to_string(node.source().begin.line);
      const KeySpec* spec = FindSpec(key);
      if (spec == nullptr && node.is_table() && IsKnownTable(key)) {
        Walk(*node.as_table(), key, path);
        continue;
      }
      if (spec != nullptr && spec->key.ends_with('.') && node.is_table()) {
        Walk(*node.as_table(), key, path);  // dotted keys inside an open table: kafka.a.b = ...
        continue;
      }
      if (spec == nullptr) {
        Problem(key, origin, "unknown key");
        continue;
      }
      std::string text;
      if (auto err = TomlToText(*spec, node, &text)) {
        Problem(key, origin, Redact(key, *err));
        continue;
      }
      Accept(*spec, key, text, origin);
    }
  }

  void SetText(const std::string& key, const std::string& text, const std::string& origin) {
    const KeySpec* spec = FindSpec(key);
    if (spec == nullptr) {
      Problem(key, origin, "unknown key");
      return;
    }
    Accept(*spec, key, text, origin);
  }

  void Accept(const KeySpec& spec, const std::string& key, const std::string& text,
              const std::string& origin) {
    std::string canonical;
    if (auto err = ValidateText(spec, text, &canonical)) {
      Problem(key, origin, Redact(key, *err));
      return;
    }
    if (spec.key == "events.weights." && !IsTypeName(key.substr(spec.key.size()))) {
      Problem(key, origin, "an event type name is 1 to 64 of [a-z0-9_]");
      return;
    }
    out_->settings[key] = {canonical, origin};
  }

  static bool IsTypeName(std::string_view name) {
    return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
  }

  static std::string Redact(const std::string& key, const std::string& message) {
    return IsSecretKey(key) ? "invalid value (not shown: secret)" : message;
  }

  // librdkafka knows its own properties: let it reject unknown names and bad values now, at
  // check-config time, instead of at start-up.
  void CheckKafka() {
    std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)> conf(rd_kafka_conf_new(),
                                                                            &rd_kafka_conf_destroy);
    for (const auto& [name, value] : out_->config.kafka) {
      char err[512] = {0};
      if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err, sizeof(err)) !=
          RD_KAFKA_CONF_OK) {
        const std::string key = "kafka." + name;
        Problem(key, out_->settings.at(key).origin, Redact(key, "librdkafka: " + std::string(err)));
      }
    }
  }

  LoadedConfig* out_;
};

}  // namespace

std::string ConfigProblem::ToString() const {
  std::string out = origin.empty() ? "" : origin + ": ";
  if (!key.empty()) {
    out += "key '" + key + "': ";
  }
  return out + message;
}

LoadedConfig LoadConfig(const ConfigSources& sources) {
  LoadedConfig out;
  Loader loader(&out);
  loader.Defaults();
  if (!sources.file.empty()) {
    loader.File(sources.file);
  }
  loader.Env(sources.env);
  loader.Sets(sources.sets);
  loader.Build();
  // Report a file's problems in file order (TOML tables iterate by key name).
  const auto line_of = [](const ConfigProblem& p) {
    const std::size_t colon = p.origin.rfind(':');
    return colon == std::string::npos ? 0 : std::atoi(p.origin.c_str() + colon + 1);
  };
  std::stable_sort(
      out.problems.begin(), out.problems.end(),
      [&](const ConfigProblem& a, const ConfigProblem& b) { return line_of(a) < line_of(b); });
  return out;
}

std::vector<std::string> ProcessEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    env.emplace_back(*e);
  }
  return env;
}

bool IsSecretKey(std::string_view key) {
  std::string lower(key);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string_view word : {"password", "secret", "token", "private", "credential", "ssl.key",
                                "keystore", "oauthbearer.config"}) {
    if (lower.find(word) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string RenderConfig(const Settings& settings) {
  std::ostringstream out;
  std::string section;
  for (const auto& [key, setting] : settings) {
    // Sections are the first component, except the open tables that have two (events.weights).
    std::string table = key.substr(0, key.find('.'));
    if (key.starts_with("events.weights.")) {
      table = "events.weights";
    }
    if (table != section) {
      out << (section.empty() ? "" : "\n") << "[" << table << "]\n";
      section = table;
    }
    const std::string name = key.substr(table.size() + 1);
    const KeySpec* spec = FindSpec(key);
    const bool quoted_name = name.find('.') != std::string::npos;
    const bool number =
        spec != nullptr &&
        (spec->type == Type::kInt || spec->type == Type::kFloat || spec->type == Type::kBool);
    std::string value = IsSecretKey(key) && !setting.value.empty() ? "<redacted>" : setting.value;
    if (!number) {
      std::string escaped;
      for (char c : value) {
        if (c == '"' || c == '\\') {
          escaped.push_back('\\');
        }
        escaped.push_back(c);
      }
      value = "\"" + escaped + "\"";
    }
    out << (quoted_name ? "\"" + name + "\"" : name) << " = " << value << "  # " << setting.origin
        << "\n";
  }
  return out.str();
}

bool ParseDuration(std::string_view text, Milliseconds* out) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) {
    return false;
  }
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (ec != std::errc()) {
    return false;
  }
  const std::string_view unit = text.substr(digits);
  std::int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else if (unit == "d") {
    scale = 86'400'000;
  } else {
    return false;
  }
  if (n > std::numeric_limits<std::int64_t>::max() / scale) {
    return false;
  }
  *out = Milliseconds(n * scale);
  return true;
}

}  // namespace recsd::daemon
