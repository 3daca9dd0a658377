#include "daemon/config/config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <tuple>

#include <librdkafka/rdkafka.h>
#include <toml++/toml.h>

#include "daemon/config/config_schema.h"
#include "model/sources/registry.h"

extern char** environ;

namespace recsd::daemon {
namespace {

using config_schema::FindSpec;
using config_schema::FormatDouble;
using config_schema::IsKnownTable;
using config_schema::KeySpec;
using config_schema::OpenTableDefaults;
using config_schema::Schema;
using config_schema::Type;
using config_schema::TypeName;
using config_schema::ValidateText;

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
    Config& c = out_->config;
    c.topics = {Get("topics.events"), Get("topics.items"),     Get("topics.recommendations"),
                Get("topics.dlq"),    Get("topics.changelog"), Get("topics.model_stats")};
    c.admin = {Get("admin.listen"), Get("admin.token"), Get("admin.token_file")};
    c.log = {Get("log.level"), Get("log.format"), Get("log.raw_ids") == "true"};
    BuildModel();
    BuildSources();
    BuildDecay();
    BuildFusion();
    BuildEvents();
    BuildLearning();
    BuildPipeline();
    CheckKafka();
  }

 private:
  const std::string& Get(const char* key) const { return out_->settings.at(key).value; }
  const std::string& Origin(const char* key) const { return out_->settings.at(key).origin; }

  void BuildModel() {
    Config::Model& m = out_->config.model;
    for (auto [key, field] :
         {std::pair{"model.embedding_dim", &m.embedding_dim},
          std::pair{"model.list_size", &m.list_size}, std::pair{"model.seen_items", &m.seen_items},
          std::pair{"model.category_affinities", &m.category_affinities},
          std::pair{"model.candidates_per_source", &m.candidates_per_source},
          std::pair{"model.ann_min_items", &m.ann_min_items},
          std::pair{"model.ann_lists", &m.ann_lists}, std::pair{"model.ann_probes", &m.ann_probes},
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
      *field = std::stoul(Get(key));
    }
    m.clock = Get("model.clock");
    m.long_kernel = Get("model.long_kernel");
    m.diversity = Get("model.diversity");
    m.mmr_lambda = std::stod(Get("model.mmr_lambda"));
    m.sequence_recency = std::stod(Get("model.sequence_recency"));
    m.sequence_backward = std::stod(Get("model.sequence_backward"));
    m.covisit_recency = std::stod(Get("model.covisit_recency"));
    m.learned_embeddings = Get("model.learned_embeddings") == "true";
    m.learned_prior_mass = std::stod(Get("model.learned_prior_mass"));
    for (const char* key :
         {"model.learned_prior_mass", "model.sequence_recency", "model.covisit_recency"}) {
      if (std::stod(Get(key)) <= 0) Problem(key, Origin(key), "must be greater than 0");
    }
  }

  // Half-lives must be positive; a window or interval of 0 is allowed (it turns the thing off).
  void BuildDecay() {
    Config::Model& m = out_->config.model;
    for (auto [key, field] :
         {std::pair{"model.activity_half_life_short", &m.activity_half_life_short},
          std::pair{"model.activity_half_life_long", &m.activity_half_life_long}}) {
      *field = std::stod(Get(key));
      if (*field <= 0) Problem(key, Origin(key), "must be greater than 0");
    }
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
      ParseDuration(Get(key), field);
      if (positive && field->count() <= 0) Problem(key, Origin(key), "must be longer than 0");
    }
  }

  void BuildFusion() {
    Config& c = out_->config;
    c.fusion.normalisation = Get("fusion.normalisation");
    double weight_sum = 0;
    for (const auto& [key, s] : out_->settings) {
      if (key.starts_with("fusion.weights.")) {
        c.fusion.weights[key.substr(15)] = std::stod(s.value);
        const auto& sources = c.model.sources;
        if (std::find(sources.begin(), sources.end(), key.substr(15)) != sources.end()) {
          weight_sum += std::stod(s.value);
        }
      }
    }
    if (weight_sum <= 0) {
      Problem("fusion.weights", "", "at least one of model.sources needs a weight above 0");
    }
  }

  void BuildEvents() {
    Config& c = out_->config;
    std::vector<EventTypeSpec> weights;
    for (const auto& [key, s] : out_->settings) {
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
    for (const std::string& name : SplitList(Get("model.repeatable_types"))) {
      if (!c.event_types.Find(name)) {
        Problem("model.repeatable_types", Origin("model.repeatable_types"),
                "\"" + name + "\" is not an event type");
      } else {
        c.model.repeatable_types.push_back(name);
      }
    }
  }

  void BuildPipeline() {
    Config::Pipeline& p = out_->config.pipeline;
    p.workers = std::stoull(Get("pipeline.workers"));
    out_->config.state.max_bytes = std::stoull(Get("state.max_bytes"));
    out_->config.state.negligible_mass = std::stod(Get("state.negligible_mass"));
    out_->config.state.changelog = Get("state.changelog") == "true";
    ParseDuration(Get("state.flush_interval"), &out_->config.state.flush_interval);
    if (out_->config.state.flush_interval.count() <= 0) {
      Problem("state.flush_interval", Origin("state.flush_interval"), "must be longer than 0");
    }
    Config::State& state = out_->config.state;
    state.dir = Get("state.dir");
    ParseDuration(Get("state.snapshot_interval"), &state.snapshot_interval);
    ParseDuration(Get("state.snapshot_max_age"), &state.snapshot_max_age);
    for (auto [key, value] : {std::pair{"state.snapshot_interval", state.snapshot_interval},
                              std::pair{"state.snapshot_max_age", state.snapshot_max_age}}) {
      if (value.count() <= 0) Problem(key, Origin(key), "must be longer than 0");
    }
    ParseDuration(Get("state.model_stats_interval"), &state.model_stats_interval);
    state.model_stats_items = std::stoull(Get("state.model_stats_items"));
    state.model_stats_edges = std::stoull(Get("state.model_stats_edges"));
    state.model_stats_vectors = std::stoull(Get("state.model_stats_vectors"));
    if (!state.dir.empty() && !state.changelog) {
      Problem("state.dir", Origin("state.dir"),
              "snapshots need state.changelog = true (a snapshot is a point in the changelog)");
    }
    p.queue_capacity = std::stoull(Get("pipeline.queue_capacity"));
    p.catch_up_events = std::stoull(Get("pipeline.catch_up_events"));
    p.max_event_bytes = std::stoull(Get("pipeline.max_event_bytes"));
    p.max_item_bytes = std::stoull(Get("pipeline.max_item_bytes"));
    p.dead_letter_max_bytes = std::stoull(Get("pipeline.dead_letter_max_bytes"));
    for (auto [key, field, positive] :
         {std::tuple{"pipeline.refresh_interval", &p.refresh_interval, true},
          std::tuple{"pipeline.min_refresh_interval", &p.min_refresh_interval, false},
          std::tuple{"pipeline.shutdown_timeout", &p.shutdown_timeout, true},
          std::tuple{"pipeline.catalog_load_timeout", &p.catalog_load_timeout, true},
          std::tuple{"pipeline.catalog_publish_interval", &p.catalog_publish_interval, true},
          std::tuple{"pipeline.stats_interval", &p.stats_interval, false},
          std::tuple{"pipeline.pause_after", &p.pause_after, false},
          std::tuple{"pipeline.freshness_objective", &p.freshness_objective, true},
          std::tuple{"pipeline.max_event_future", &p.max_event_future, true}}) {
      ParseDuration(Get(key), field);
      if (positive && field->count() <= 0) {
        Problem(key, Origin(key), "must be longer than 0");
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
    Config::Learning& l = out_->config.learning;
    const auto problem = [&](const char* key, const std::string& message) {
      Problem(key, Origin(key), message);
    };
    l.enabled = Get("learning.enabled") == "true";
    l.guard = Get("learning.guard") == "true";
    l.feedback_types = SplitList(Get("learning.feedback_types"));
    for (const std::string& name : l.feedback_types) {
      if (!out_->config.event_types.Find(name)) {
        problem("learning.feedback_types", "\"" + name + "\" is not an event type");
      }
    }
    l.segment_keys = SplitList(Get("learning.segment_keys"));
    ParseDuration(Get("learning.attribution_window"), &l.attribution_window);
    for (auto [key, field] : {std::pair{"learning.pending_lists", &l.pending_lists},
                              std::pair{"learning.examine_k", &l.examine_k},
                              std::pair{"learning.segment_min_examples", &l.segment_min_examples},
                              std::pair{"learning.max_segments", &l.max_segments},
                              std::pair{"learning.guard_window", &l.guard_window},
                              std::pair{"learning.guard_min_lists", &l.guard_min_lists}}) {
      *field = std::stoull(Get(key));
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
                              std::pair{"learning.exploration", &l.exploration},
                              std::pair{"learning.confidence", &l.confidence}}) {
      *field = std::stod(Get(key));
    }
    for (const char* key : {"learning.prior_variance", "learning.beta", "learning.guard_z"}) {
      if (std::stod(Get(key)) <= 0) problem(key, "must be greater than 0");
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
  for (const auto& [key, s] : out.settings) {  // a path to a secret is no secret
    if (s.origin == "--set" && IsSecretKey(key) && !key.ends_with("_file") &&
        !key.ends_with(".location")) {
      out.warnings.push_back(
          "--set " + key +
          ": a secret on the command line is visible to every local user "
          "(ps, /proc/PID/cmdline); put it in the environment (RECSD_SECTION__KEY) or in the "
          "configuration file (mode 0600), or use a *_file key where there is one");
    }
  }
  return out;
}

std::vector<std::string> ProcessEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    env.emplace_back(*e);
  }
  return env;
}

}  // namespace recsd::daemon
