#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "model/event.h"

namespace recsd::daemon {

// recsd's configuration: one TOML file, then environment overrides, then --set, over defaults.
// Every key, its type and default is declared once, in the schema of config.cc, and documented in
// ops/recsd.example.toml (a test checks that the two agree).
//
//   environment   RECSD_<SECTION>__<KEY>=value, e.g. RECSD_TOPICS__EVENTS=prod.events; nested
//                 tables use more "__" (RECSD_EVENTS__WEIGHTS__VIEW=2). In the kafka section "_"
//                 stands for "." (RECSD_KAFKA__BOOTSTRAP_SERVERS), as librdkafka keys have no "_".
//                 Variables starting RECSD_ without "__" are not configuration and are ignored.
//   --set         section.key=value, e.g. --set kafka.bootstrap.servers=broker:9092
//   durations     strings: an integer and a unit, one of ms, s, m, h, d ("250ms", "30m", "7d")
//   kafka.*       any key is passed to librdkafka as is (validated by librdkafka itself)
// Unknown keys, wrong types and bad values are problems: nothing is silently ignored.

using Milliseconds = std::chrono::milliseconds;

struct Config {
  std::map<std::string, std::string> kafka;  // librdkafka properties, without the "kafka." prefix

  struct Topics {
    std::string events;
    std::string items;
    std::string recommendations;
    std::string dlq;
    std::string changelog;
    std::string model_stats;
  } topics;

  struct Admin {
    std::string listen;      // host:port of the admin HTTP server
    std::string token;       // bearer token for /v1/ endpoints; empty = no auth
    std::string token_file;  // or a file holding it
  } admin;

  struct Log {
    std::string level;     // trace, debug, info, warn, error, critical, off
    std::string format;    // text or json
    bool raw_ids = false;  // user ids in logs as they are, not pseudonyms (LoggedId)
  } log;

  struct Model {
    std::size_t embedding_dim = 0;
    Milliseconds half_life_short{0};
    Milliseconds half_life_long{0};
    std::size_t list_size = 0;
    std::string clock;                    // event_time or activity
    std::string long_kernel;              // exponential or logarithmic
    double activity_half_life_short = 0;  // in events, for clock = activity
    double activity_half_life_long = 0;
    std::size_t seen_items = 0;                 // the ring of recent items
    std::size_t seen_capacity = 0;              // items the seen filter remembers
    std::vector<std::string> repeatable_types;  // event types whose items may come back
    std::vector<std::string> sources;           // the fused features, in order
    std::vector<std::string> offering;          // those that also offer candidates
    std::size_t category_affinities = 0;
    std::size_t candidates_per_source = 0;
    std::size_t ann_min_items = 0;  // catalog size from which retrieval uses the index; 0: never
    std::size_t ann_lists = 0;      // 0: √N
    std::size_t ann_probes = 0;
    Milliseconds trending_half_life{0};
    Milliseconds fresh_half_life{0};
    Milliseconds covisit_window{0};
    Milliseconds covisit_half_life{0};
    std::size_t covisit_neighbours = 0;
    std::size_t covisit_gaps = 0;
    std::size_t covisit_seeds = 0;
    double covisit_recency = 0;
    std::size_t sequence_gaps = 0;
    double sequence_backward = 0;
    Milliseconds sequence_window{0};
    std::size_t sequence_seeds = 0;
    double sequence_recency = 0;
    Milliseconds sequence_half_life{0};
    std::size_t sequence_neighbours = 0;
    bool learned_embeddings = false;
    std::size_t learned_window = 0;
    Milliseconds learned_half_life{0};
    double learned_prior_mass = 0;
    std::size_t learned_items = 0;
    Milliseconds global_refresh{0};
    std::size_t refresh_batch = 0;
    std::string diversity;  // none, mmr or category_cap
    double mmr_lambda = 0;
    std::size_t category_cap = 0;
  } model;

  struct Fusion {
    std::string normalisation;              // reciprocal_rank, rank or max
    std::map<std::string, double> weights;  // by source name (emb_short, ..., fresh)
  } fusion;

  // The online learning of the fusion weights (model/engine.h, LearningOptions).
  struct Learning {
    bool enabled = false;
    std::vector<std::string> feedback_types;  // event type names that are positive feedback
    Milliseconds attribution_window{0};
    std::size_t pending_lists = 0;
    std::size_t examine_k = 0;
    double propensity_power = 0;
    double max_propensity_weight = 0;
    double exploration = 0;
    double confidence = 0;  // weights ranked at μ − confidence·σ
    double prior_variance = 0;
    double bias_prior_mean = 0;
    double beta = 0;
    double drift_variance = 0;
    double restart_threshold = 0;  // 0: the learner never restarts from the prior
    double restart_ratio = 0;
    double min_weight = 0;
    double max_weight = 0;
    std::vector<std::string> segment_keys;  // ctx keys
    std::size_t segment_min_examples = 0;
    std::size_t max_segments = 0;
    double holdout_share = 0;
    bool guard = false;
    std::size_t guard_window = 0;  // lists (the half-life of the guard's decayed counts)
    std::size_t guard_min_lists = 0;
    double guard_z = 0;
  } learning;

  // The streaming pipeline of `recsd run` (daemon/run/pipeline.h).
  struct Pipeline {
    std::size_t workers = 0;         // worker threads; 0 = one per core
    std::size_t queue_capacity = 0;  // messages per worker queue before its partitions pause
    // How long the consumer waits for a full worker to take its queue before pausing the
    // worker's partitions (0: pause at once).
    Milliseconds pause_after{0};
    // After assignment, the lists of at most this many backlog events wait until all of them are
    // applied (one list per user for the lot); 0 = publish while catching up.
    std::size_t catch_up_events = 0;
    Milliseconds refresh_interval{0};      // wall time between refreshes of a worker's dirty users
    Milliseconds min_refresh_interval{0};  // event time between two lists of one user; 0 = none
    Milliseconds shutdown_timeout{0};      // hard deadline of a shutdown or a revoke
    Milliseconds catalog_load_timeout{0};  // reading the items topic up to its end at start
    Milliseconds catalog_publish_interval{0};  // catalog changes batched into one snapshot
    // Event time to list acknowledged that counts as fresh: a bucket bound of
    // recsd_recommendation_freshness_seconds, the objective the alert rules measure.
    Milliseconds freshness_objective{0};
    Milliseconds stats_interval{0};  // a log line of throughput and freshness; 0 = none
    // Input bounds: larger events and items are dead-lettered as too_large without decoding; an
    // event dated more than max_event_future after the wall clock as future_timestamp.
    std::size_t max_event_bytes = 0;
    std::size_t max_item_bytes = 0;
    Milliseconds max_event_future{0};
    // Of a dead-lettered message's value, at most this many bytes are sent (the header
    // recsd.source.size has the original size), so that any rejected message fits the topic.
    std::size_t dead_letter_max_bytes = 0;
  } pipeline;

  struct State {
    // Write changed users to topics.changelog and restore partitions from it on assignment.
    bool changelog = true;
    Milliseconds flush_interval{0};  // how often a partition writes its changed users
    // Bytes of user state (all partitions of this instance) above which users are evicted: first
    // those with negligible interest, then the least recently active; 0 = no bound.
    std::size_t max_bytes = 0;
    double negligible_mass =
        0;  // interest mass below which (every time scale) a user is negligible
    // Snapshot files of each owned partition's users (state/snapshot.h); empty: none, a restore
    // reads the whole changelog.
    std::string dir;
    Milliseconds snapshot_interval{0};  // how often a partition writes its snapshot
    // A snapshot older than this is ignored: the changelog's compaction may since have removed
    // tombstones of users it still holds (Kafka keeps them delete.retention.ms, 24 h by default).
    Milliseconds snapshot_max_age{0};
    // Global statistics (topics.model_stats): how often each owned partition publishes its
    // aggregates (0 = never, and nothing is read: each partition ranks from its own), and how many
    // of its most popular items and strongest co-visit edges a record holds.
    Milliseconds model_stats_interval{0};
    std::size_t model_stats_items = 0;
    std::size_t model_stats_edges = 0;
    std::size_t model_stats_vectors = 0;
    bool SharesModelStats() const { return model_stats_interval.count() > 0; }
  } state;

  EventTypeTable event_types;  // built-in types with [events.weights] applied, plus custom types
};

// One thing wrong with a configuration: which key, where it came from, and what is wrong.
struct ConfigProblem {
  std::string key;     // "topics.events"; empty for a problem with the file as a whole
  std::string origin;  // "FILE:LINE", "env RECSD_X__Y", "--set" or "default"
  std::string message;

  std::string ToString() const;  // "recsd.toml:12: key 'topics.events': expected a string, got 1"
};

// The effective configuration as flat "section.key" → value text, each with where it came from.
struct Setting {
  std::string value;   // canonical text (strings unquoted, durations as written, bools true/false)
  std::string origin;  // as in ConfigProblem
};
using Settings = std::map<std::string, Setting>;

struct ConfigSources {
  std::string file;               // TOML file; empty = defaults only
  std::vector<std::string> sets;  // "--set" arguments, "section.key=value"
  std::vector<std::string> env;   // "NAME=value" entries, usually from environ
};

struct LoadedConfig {
  Settings settings;
  Config config;  // valid only when problems is empty
  std::vector<ConfigProblem> problems;
  std::vector<std::string> warnings;  // e.g. a secret given with --set
};

// Reads, layers and validates. Never throws for bad content: every problem found is reported (a
// TOML syntax error stops reading that file, so it is the only problem reported for it).
LoadedConfig LoadConfig(const ConfigSources& sources);

// The environment of this process as "NAME=value" entries.
std::vector<std::string> ProcessEnvironment();

// True for keys whose values must never be printed: any key containing password, secret, token,
// private, credential, or key material (ssl.key, keystore, oauthbearer config).
bool IsSecretKey(std::string_view key);

// The settings as a TOML document, secrets shown as "<redacted>", with each value's origin as a
// comment.
std::string RenderConfig(const Settings& settings);

// Parses "250ms", "30s", "30m", "7d", "1h". Returns false for anything else (no unit, negative,
// fractions, overflow).
bool ParseDuration(std::string_view text, Milliseconds* out);

}  // namespace recsd::daemon
