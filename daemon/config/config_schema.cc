#include "daemon/config/config_schema.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <system_error>

#include "daemon/config/config.h"
#include "model/event.h"

namespace recsd::daemon {

namespace config_schema {

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
      {"log.raw_ids", Type::kBool, "false"},
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
      {"model.ann_min_items", Type::kInt, "50000", 0, 1'000'000'000},
      {"model.ann_lists", Type::kInt, "0", 0, 1'000'000},
      {"model.ann_probes", Type::kInt, "16", 1, 1'000'000},
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
      {"learning.confidence", Type::kFloat, "0.5", 0, 10},
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
      {"pipeline.pause_after", Type::kDuration, "500ms"},
      {"pipeline.catch_up_events", Type::kInt, "100000", 0, std::int64_t{1} << 40},
      {"pipeline.refresh_interval", Type::kDuration, "100ms"},
      {"pipeline.min_refresh_interval", Type::kDuration, "1s"},
      {"pipeline.shutdown_timeout", Type::kDuration, "8s"},
      {"pipeline.catalog_load_timeout", Type::kDuration, "1m"},
      {"pipeline.catalog_publish_interval", Type::kDuration, "1s"},
      {"pipeline.stats_interval", Type::kDuration, "10s"},
      {"pipeline.freshness_objective", Type::kDuration, "5s"},
      {"pipeline.max_event_bytes", Type::kInt, "65536", 64, 64 << 20},
      {"pipeline.max_item_bytes", Type::kInt, "262144", 64, 64 << 20},
      {"pipeline.max_event_future", Type::kDuration, "1h"},
      {"pipeline.dead_letter_max_bytes", Type::kInt, "65536", 0, 64 << 20},
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
      // After a crash the group waits this long for the dead member before its partitions move:
      // librdkafka's 45 s kept them idle that long (ops/README.md, "How long a crash takes").
      {"kafka.session.timeout.ms", "10000"},
      {"kafka.heartbeat.interval.ms", "1000"},
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

}  // namespace config_schema

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

// What the key table says about keys and values, outside the table's own namespace (config.h).

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
    const config_schema::KeySpec* spec = config_schema::FindSpec(key);
    const bool quoted_name = name.find('.') != std::string::npos;
    const bool number = spec != nullptr && (spec->type == config_schema::Type::kInt ||
                                            spec->type == config_schema::Type::kFloat ||
                                            spec->type == config_schema::Type::kBool);
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

}  // namespace recsd::daemon
