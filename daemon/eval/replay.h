#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/config/config.h"
#include "model/engine.h"
#include "model/evaluation.h"
#include "model/result.h"
#include "stream/replay_input.h"

namespace recsd::daemon {

// `recsd replay`: drives the engine from files in event-time order (ties keep file order), or in
// file order (ReplayOrder::kInput: as a daemon applies a topic's events, in log order), and
// evaluates prequentially: before each interaction (an event whose type has a positive interest
// weight) of a user who has been served a list, it records whether the item is in that list's top
// k and at which rank; then the engine applies the event and refreshes the user's list, as a
// daemon with no refresh delay would. The catalog is loaded before the first event.
//
// Feedback is simulated: an interaction whose item is in the top k of the user's current list is
// a click on that list at that position (it carries the list's rec and pos into the engine);
// every other interaction is organic (any rec/pos recorded in the input is dropped). With
// learning on, finished lists teach the fusion weights as in the daemon.
struct ReplayOptions {
  std::string input_format = "movielens";  // movielens, jsonl or msgpack
  // "event-time": events sorted by timestamp (ties keep file order); "input": the file's order.
  // A daemon applies each partition's events in log order, whatever their timestamps, so the
  // oracle for a daemon's state is a replay of the topic's events in "input" order.
  std::string order = "event-time";
  // MovieLens directory for the defaults of the three paths below (movielens only).
  std::string data_dir = "../shared/data/movielens-latest-small";
  std::string events;  // ratings.csv, or a v1 events file
  std::string items;   // movies.csv, or a v1 items file
  std::string tags;    // tags.csv (movielens only; optional)
  std::size_t k = 10;
  std::string only_source;  // rank by this source alone (a baseline)
  std::string weights;      // "name=value,...": overrides of fusion.weights
  std::string json_report;  // write the report as JSON to this file ("-" = stdout)
  // Write every evaluated interaction's rank (0-based; -1 for a miss) to this file, one per
  // line in replay order, so two rankings can be compared event by event (a paired test).
  std::string ranks_file;
  // Write "user digest" for every user at the end, sorted by user (state/user_state_codec.h,
  // StateDigest): the oracle a daemon's state is compared with.
  std::string state_digests;
  std::string learn;                   // "on" or "off"; empty = learning.enabled of the config
  std::uint64_t trajectory_every = 0;  // events between two points of weight_trajectory; 0: /50
  // A simulated environment instead of files (daemon/eval/simulate.h): "drift". Then `events`, when
  // given, is the number of interest events.
  std::string simulate;
  std::uint64_t seed = 1;
  // Search static fusion weights offline (daemon/eval/tune.h) instead of one replay.
  bool tune = false;
  // Simple recommenders to replay beside the engine under the same protocol, each compared with
  // it by McNemar's test (daemon/eval/baselines.h).
  std::vector<std::string> baselines;
};

// The learned weights ranked with (global, WeightLearner::Weights) after `events` events.
struct WeightPoint {
  std::uint64_t events = 0;
  std::uint64_t version = 0;
  std::array<double, model::kMaxSources> weights{};  // by feature, as the report's `features`
};

struct ReplayReport {
  std::string input_format;
  std::uint64_t events = 0;     // events replayed
  std::uint64_t evaluated = 0;  // interactions tested against the user's list
  std::uint64_t hits = 0;
  std::uint64_t lists = 0;  // lists published
  std::uint64_t unknown_items = 0;
  std::uint64_t rejected = 0;  // records that did not decode (what the daemon dead-letters)
  std::size_t users = 0;
  std::size_t user_state_bytes = 0;  // all users' state at the end (approximate, heap included)
  std::size_t items = 0;
  std::size_t k = 0;
  double hit_rate = 0;
  double ndcg = 0;
  double mrr = 0;
  double coverage = 0;
  double wall_seconds = 0;
  double events_per_second = 0;
  std::string only_source;
  std::vector<std::string> features;                 // the fused features, in order
  std::array<double, model::kMaxSources> weights{};  // the static weights, by feature
  // Feedback: simulated clicks on finished lists, by the variant that ranked them.
  bool learn = false;
  std::array<model::VariantCounts, model::kVariantCount> feedback{};
  std::uint64_t clicks = 0;
  double ctr = 0;  // clicks per finished list
  std::vector<WeightPoint> weight_trajectory;
  model::GuardState guard;
  std::uint64_t learner_restarts = 0;  // the learner restarted from the prior (a change detected)
  std::vector<std::int32_t> ranks;     // per evaluated interaction: rank in the top k, or -1
  // Every user's state digest at the end, sorted by user (only when asked for).
  std::vector<std::pair<std::string, std::string>> state_digests;
  // Baselines replayed beside the engine (--baseline), with McNemar's test engine vs each.
  struct Baseline {
    std::string name;
    double hit_rate = 0, ndcg = 0, mrr = 0, coverage = 0, wall_seconds = 0;
    std::uint64_t engine_only = 0, baseline_only = 0;
    double z = 0, p_two_sided = 1;
  };
  std::vector<Baseline> baselines;

  double BytesPerUser() const {
    return users == 0 ? 0.0 : static_cast<double>(user_state_bytes) / static_cast<double>(users);
  }
  nlohmann::ordered_json ToJson() const;
  // What the engine and the evaluator know at the end of a run (once its pending lists are
  // finished): quality, users, items and state size, feedback by variant, clicks and
  // click-through, the guard and the learner's restarts. Returns the lists finished (ctr's
  // denominator). Replay and simulation both end with it.
  std::uint64_t FillFromRun(const model::Engine& engine,
                            const model::PrequentialEvaluator& evaluator, bool learning);
};

// Sees a replay from inside (replay --tune): every published list's candidates
// (model::RankObserver) and every evaluated interaction, before the engine applies it.
class ReplayObserver : public model::RankObserver {
 public:
  virtual void Evaluating(const UserId& user, const ItemId& item) = 0;
};

// Called every so often with events done and the total.
using ReplayProgress = std::function<void(std::uint64_t done, std::uint64_t total)>;

enum class ReplayOrder { kEventTime, kInput };

// Runs a replay of `input` with these engine options: its events sorted by timestamp (kEventTime;
// ties keep their order), or as they come (kInput), against input.catalog (or, without one, a
// catalog of input.items). Every event type with a positive interest weight is feedback (when it
// hits the current list). `state_digests`: also fill the report's state digests. The report's
// wall time is the replay's, from the catalog's hand-over to the engine.
ReplayReport RunReplay(stream::ReplayInput input, model::EngineOptions options,
                       const EventTypeTable& types, std::size_t k, std::uint64_t trajectory_every,
                       const ReplayProgress& progress, bool state_digests = false,
                       ReplayOrder order = ReplayOrder::kEventTime,
                       ReplayObserver* observer = nullptr);

// Reads the inputs that `options` name, the items straight into a catalog (the result's
// `catalog`, built as BuildReplayCatalog does with `engine`'s options). Problems with single
// records are counted in the result; an unreadable file is an error.
Result<stream::ReplayInput, std::string> ReadReplayInput(const ReplayOptions& options,
                                                         const Config& config,
                                                         const model::EngineOptions& engine);

// A replay's catalog: `fill` upserts the items into a builder with the engine's dimension and
// index options (the index trains on every core); the builder's tables become the catalog, and
// the time it took is logged. Null, and nothing logged, when `fill` returns false (its input
// failed).
std::shared_ptr<const model::Catalog> BuildReplayCatalog(
    const model::EngineOptions& engine, const std::function<bool(model::CatalogBuilder*)>& fill);
// The same with these items.
std::shared_ptr<const model::Catalog> BuildReplayCatalog(const model::EngineOptions& engine,
                                                         std::span<const ItemRecord> items);

// Applies --only-source and --weights to engine options; an error names the bad part.
Result<bool, std::string> ApplyWeightOptions(const ReplayOptions& options,
                                             model::EngineOptions* engine);

// The whole subcommand: read, replay with a progress display on stderr, print the summary and
// write the report. Returns the exit code.
int ReplayCommand(const ReplayOptions& options, const Config& config);

// Prints the summary of `report` (and `extra` lines after it), writes --ranks-file,
// --state-digests and --json-report (`json_report`): an exit code.
int WriteReport(const ReplayOptions& options, const ReplayReport& report,
                const nlohmann::ordered_json& json_report, const std::string& extra);
// Writes `json` to --json-report (nothing when it is not given; "-" is stdout): an exit code.
int WriteJsonReport(const ReplayOptions& options, const nlohmann::ordered_json& json);

}  // namespace recsd::daemon
