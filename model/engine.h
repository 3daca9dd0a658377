#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/catalog.h"
#include "model/covisit.h"
#include "model/decay.h"
#include "model/event.h"
#include "model/fusion.h"
#include "model/ids.h"
#include "model/popularity.h"
#include "model/recommendation.h"
#include "model/retrieval.h"
#include "model/user_state.h"

namespace recsd::model {

// How user interest ages (ARCHITECTURE.md, "The model").
enum class InterestClock : std::uint8_t {
  kEventTime,  // clock units are seconds of event time
  kActivity,   // every event of a user advances that user's clock by 1: decay per event
};

// Everything that shapes an Engine. Times of the global statistics are in seconds of event time;
// interest half-lives are in the units of `clock`.
struct EngineOptions {
  InterestClock clock = InterestClock::kEventTime;
  // Per-user state. user.half_lives are the interest components; short_mix and long_mix weigh
  // them into the `emb_short` and `emb_long` vectors (SetInterestKernels fills all three).
  UserStateOptions user;
  std::vector<double> short_mix = {1.0, 0.0};
  std::vector<double> long_mix = {0.0, 1.0};

  double trending_half_life = 24 * 3600.0;  // decayed item popularity (`trending`, `category`)
  std::size_t trending_max_items = 1'000'000;
  CovisitGraph::Options covisit;
  // Consecutive interactions of a user at most this far apart (clock units) are co-visits; 0 turns
  // co-visits off. Under the activity clock consecutive events are 1 apart, so any window >= 1
  // pairs every consecutive interaction.
  double covisit_window = 3600.0;
  std::size_t covisit_seeds = 5;            // the user's most recent items whose neighbours count
  double fresh_half_life = 30 * 86400.0;    // `fresh`: 2^(−age/half-life) of the item's age
  std::size_t candidates_per_source = 100;  // top-N each source offers to fusion
  // The global candidate lists (trending, per category, freshest) are recomputed when this much
  // event time has passed or the catalog changed; every candidate is still scored exactly.
  double global_refresh = 60.0;
  std::size_t refresh_batch = 32;  // users whose embedding retrieval shares one catalog scan

  // Which sources offer candidates (all by default; `replay --only-source` keeps one). Every
  // candidate is scored by every source whatever this says.
  std::array<bool, kSourceCount> offer{true, true, true, true, true, true};
  Normalisation normalisation =
      Normalisation::kReciprocalRank;  // of each source's scores, per list
  FusionWeights weights;  // static weights (the learner of the next layer plugs in here)
  RankOptions rank;
  std::string variant = "static";
};

// Makes the user's interest components the union of the two kernels' components, and the
// short/long mixes their weights over it.
void SetInterestKernels(const DecayKernel& short_kernel, const DecayKernel& long_kernel,
                        EngineOptions* options);

// Where refreshed lists go (the Kafka producer, the replay evaluator, a test).
class ListSink {
 public:
  virtual ~ListSink() = default;
  virtual void Publish(RecommendationList list) = 0;
};

// Where an event came from: its input partition and offset. The offset orders a user's events
// (state skips any event at or below the last it applied) and, with the partition, names the list
// the event triggers (`rec`), so a repeated list is recognisable.
struct EventPosition {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
};

enum class ApplyOutcome : std::uint8_t {
  kApplied,      // interest, popularity and co-visits updated; the user is dirty
  kUnknownItem,  // applied, but the item is not in the catalog: no interest direction from it
  kNoInterest,   // a type with no interest weight (impression): only the offset is recorded
  kDuplicate,    // at or below the user's last applied offset: nothing changed
  kForgotten,    // `forget`: the user's state is erased
};

// The transport-agnostic core: applies events to user state and global statistics, refreshes
// dirty users in batches and publishes their lists to a sink. No I/O, no clock, no threads: the
// caller supplies event time and decides when to refresh (the daemon on a timer, replay after
// every event). Deterministic: the same events, catalogs and calls give the same lists. One
// thread at a time.
class Engine {
 public:
  Engine(EngineOptions options, EventTypeTable types);
  // User states point at the engine's options: an engine stays where it was made.
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The catalog that events and refreshes resolve items against. Kept until replaced.
  void SetCatalog(std::shared_ptr<const Catalog> catalog);
  const Catalog& catalog() const { return *catalog_; }

  ApplyOutcome Apply(const Event& event, EventPosition position);

  // Refreshes every dirty user as of event time `now` (oldest dirty first) and publishes one
  // list each. Returns how many lists were published.
  std::size_t Refresh(TimestampMs now, ListSink& sink);

  // A list for `user` as of `now` without marking anything (cold users get trending and
  // category). It has no `rec` and is not kept pending.
  RecommendationList Recommend(const UserId& user, TimestampMs now);

  const UserState* FindUser(const UserId& user) const;
  std::size_t users() const noexcept { return users_.size(); }
  // Bytes all user states hold (UserState::ApproxBytes summed; O(users)).
  std::size_t UserStateBytes() const noexcept;
  std::size_t dirty() const noexcept { return dirty_.size(); }
  // Decayed popularity of an item at event time `now` (the `trending` score before normalisation).
  double Popularity(const ItemId& item, TimestampMs now) const;

 private:
  struct UserEntry {
    explicit UserEntry(const UserStateOptions& options) : state(options) {}
    UserState state;
    bool dirty = false;
    EventPosition trigger;  // the event that made the user dirty
    TimestampMs trigger_ts;
  };
  // Global candidate lists as of `computed_at`, rows of the current catalog.
  struct GlobalLists {
    bool valid = false;
    double computed_at = 0;
    std::vector<std::uint32_t> trending;
    std::unordered_map<CategoryId, std::vector<std::uint32_t>> by_category;
    std::vector<std::pair<CategoryId, double>> category_prior;  // popular categories, normalised
    std::vector<std::uint32_t> fresh;
  };

  double ClockTime(const UserState& state, double now_s) const;
  void RefreshGlobalLists(double now_s);
  // Ranks for the users (entries may be null: a cold user with no state).
  // keep_pending: remember each list with its feature vectors for attribution (published lists).
  void RankBatch(const std::vector<const UserId*>& ids, const std::vector<UserEntry*>& entries,
                 TimestampMs now, std::vector<RecommendationList>* out, bool keep_pending);

  EngineOptions options_;
  EventTypeTable types_;
  std::shared_ptr<const Catalog> catalog_;
  std::unordered_map<UserId, UserEntry> users_;
  std::vector<UserId> dirty_;  // in the order users became dirty
  DecayedCounter<ItemId> popularity_;
  CovisitGraph covisit_;
  GlobalLists global_;
  std::uint64_t events_since_global_ = 0;
  std::vector<std::int32_t> slot_;      // per catalog row, scratch of RankBatch (-1 between uses)
  std::vector<double> covisit_weight_;  // per catalog row, scratch of RankBatch (0 between uses)
};

}  // namespace recsd::model
