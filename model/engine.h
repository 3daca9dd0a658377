#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/attribution.h"
#include "model/catalog.h"
#include "model/decay.h"
#include "model/event.h"
#include "model/fusion.h"
#include "model/global_stats.h"
#include "model/guard.h"
#include "model/ids.h"
#include "model/learner.h"
#include "model/recommendation.h"
#include "model/sources/registry.h"
#include "model/user_state.h"

namespace recsd::model {

// How user interest ages (ARCHITECTURE.md, "User state and interest decay").
enum class InterestClock : std::uint8_t {
  kEventTime,  // clock units are seconds of event time
  kActivity,   // every event of a user advances that user's clock by 1: decay per event
};

// Which weights ranked a list: the static defaults (learning off, or reverted by the guard), the
// learned ones, or the static defaults for a holdout user while learning is on.
enum class Variant : std::uint8_t { kStatic, kLearned, kHoldout };
inline constexpr std::size_t kVariantCount = 3;
std::string_view VariantName(Variant variant) noexcept;  // "static", "learned", "holdout"

// The closed loop of ARCHITECTURE.md, "Online weight learning": feedback on published lists is
// attributed to them (model/attribution.h); a finished list (replaced by newer ones or older than
// the attribution window) yields examples for the learner (model/learner.h); the learned weights
// rank the lists of every user outside the holdout.
struct LearningOptions {
  bool learn = false;  // off: the static weights rank every list, nothing is learned
  // Exploration: each published list of a learned user is ranked with a Thompson sample of the
  // weights whose posterior standard deviations are scaled by this (1: Thompson sampling; 0: no
  // exploration, the weights at their lower confidence bounds, WeightLearner::Weights).
  double exploration = 0.0;
  LearnerOptions learner;
  AttributionOptions attribution;
  // Event types that are positive feedback (a click on a list when they name its `rec` or, with
  // attribute_by_item, hit an item of a pending list within the window).
  std::vector<EventTypeId> feedback_types = {event_type::kClick};
  bool attribute_by_item = true;
  // ctx keys whose values name the learner's segment (e.g. "device"); empty = global only.
  std::vector<std::string> segment_keys;
  // Share of users (by a stable hash of the user id) served the static weights while learning.
  double holdout_share = 0.1;
  GuardOptions guard;
};

// Finished lists and their clicks, per variant.
struct VariantCounts {
  std::uint64_t lists = 0;
  std::uint64_t clicked_lists = 0;  // lists with at least one click
  std::uint64_t clicks = 0;
};

// Feedback on finished lists by the source that scored each item highest (its largest normalised
// source score): positions examined (as ExamplesOf counts them) and clicks.
struct SourceFeedback {
  std::uint64_t impressions = 0;
  std::uint64_t clicks = 0;
};

struct GuardState {
  bool reverted = false;
  double z = 0;                   // latest z of learned against holdout (> 0: learned does better)
  std::array<double, 2> lists{};  // decayed counts: learned, holdout
};

// Users evicted to bound memory (Engine::Evict), by reason.
struct EvictionCounts {
  std::size_t negligible = 0;  // every interest component's mass below the threshold
  std::size_t lru = 0;         // the least recently active (by event time) after those
};

// Everything that shapes an Engine. Times of the global statistics are in seconds of event time;
// interest half-lives are in the units of `clock`.
struct EngineOptions {
  InterestClock clock = InterestClock::kEventTime;
  // Per-user state. user.half_lives are the interest components; sources.embedding's short_mix
  // and long_mix weigh them into the `emb_short` and `emb_long` vectors (SetInterestKernels fills
  // all three).
  UserStateOptions user;

  // The fused features, in the order of the feature vector x (model/sources/registry.h names
  // them; each is scored by its source room). The sources' own options are in `sources`.
  std::vector<std::string> features = DefaultFeatures();
  SourceOptions sources;
  std::size_t candidates_per_source = 100;  // top-N each feature offers to fusion
  // The catalog's nearest-neighbour index, for whoever builds the catalog the engine ranks
  // (CatalogBuilder): the engine searches the index its catalog comes with.
  AnnOptions ann;
  std::size_t refresh_batch = 32;  // users whose embedding retrieval shares one catalog scan
  // Event types whose items may be recommended again (consumables bought again, songs played
  // again): they do not enter the user's seen set. Every other type's items never return.
  std::vector<EventTypeId> repeatable_types;

  // Which features offer candidates, by position in `features` (all by default;
  // `replay --only-source` keeps one). Every candidate is scored by every feature whatever this
  // says.
  std::array<bool, kMaxSources> offer = AllOffer();
  Normalisation normalisation =
      Normalisation::kReciprocalRank;  // of each source's scores, per list
  FusionWeights weights;               // static weights by feature: the defaults, the holdout's
  RankOptions rank;
  LearningOptions learning;

  static constexpr std::array<bool, kMaxSources> AllOffer() {
    std::array<bool, kMaxSources> all{};
    all.fill(true);
    return all;
  }
  // The position of feature `name` in `features`, or nothing.
  std::optional<std::size_t> FeatureIndex(std::string_view name) const;
};

// Why a record of topics.model_stats does not add up with the aggregates of engines configured
// as `options` (other features or learner prior, or a source's share made with another
// half-life), or "" when it does. Records that do not are the caller's to refuse.
std::string StatsIncompatibility(const EngineOptions& options, const PartitionStats& record);

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

// Sees the candidates of every published list, normalised, after the seen and availability
// filter: what any other weights would have ranked (replay --tune). The engine calls it from its
// refresh, on its thread.
class RankObserver {
 public:
  virtual ~RankObserver() = default;
  virtual void Ranked(const UserId& user, const Catalog& catalog,
                      std::span<const Candidate> candidates) = 0;
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
  kDuplicate,    // at or below the user's last applied offset: nothing changed (the user's
                 // last event, when it has no list yet, makes the user dirty for one)
  kForgotten,    // `forget`: the user's state is erased (pending lists too, unlearned)
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
  // Replaces the static weights (the defaults and the holdout's) for lists ranked from now on.
  void SetStaticWeights(const FusionWeights& weights) { options_.weights = weights; }
  const Catalog& catalog() const { return *catalog_; }

  // Applies one event of the input at `position`. `late`, when given, says whether the event is
  // older than the latest event applied to its user before it: such an event is still applied,
  // with its decay (ARCHITECTURE.md, "User state and interest decay"), but arrived out of order.
  ApplyOutcome Apply(const Event& event, EventPosition position, bool* late = nullptr);

  // Finishes the pending lists whose attribution window has passed at event time `now` (learns
  // from them), then refreshes the dirty users (oldest dirty first) and publishes one list each.
  // A user whose last list was published less than `min_interval_ms` of event time before `now`
  // stays dirty for a later call (bursts coalesce into one list); 0 refreshes every dirty user.
  // Returns how many lists were published.
  std::size_t Refresh(TimestampMs now, ListSink& sink, std::int64_t min_interval_ms = 0);

  // The lowest input offset among the events of users still dirty (applied, their list not yet
  // published), or nothing when no user is dirty. The daemon commits no input offset above it.
  std::optional<std::int64_t> OldestDirtyOffset() const;

  // Finishes every pending list shown before `now` minus the attribution window (Refresh does
  // this; a replay's end passes a time past them all). Returns how many.
  std::size_t FinishPending(TimestampMs now);

  // A list for `user` as of `now` without marking anything (cold users get trending and
  // category). It has no `rec` and is not kept pending. Ranked with the weights the user's variant
  // gets (the learner's Weights for learned users), or with `weights` when given (what-if
  // rankings).
  RecommendationList Recommend(const UserId& user, TimestampMs now,
                               const FusionWeights* weights = nullptr);

  const UserState* FindUser(const UserId& user) const;
  // The user's latest published list as it was served (items in order, each with its per-source
  // contributions, weight × normalised score, and their sum as the score), from the pending list
  // kept for attribution; nothing when the user has none pending.
  std::optional<RecommendationList> CurrentList(const UserId& user) const;
  // After a restore, before the partition's first event: publishes again, through `sink`, the
  // current list (CurrentList: same rec, same items) of every user whose list stands for an
  // event at or after `resume_offset`, the offset consumption resumes at. The previous owner
  // published those lists, but commits only past acknowledged outputs, so they may never have
  // arrived; their events are duplicates now and would not bring them back. Returns how many.
  std::size_t RepublishUnconfirmed(std::int64_t resume_offset, ListSink& sink) const;
  // The user's state in canonical parts (the changelog's and the snapshots' record), or nothing.
  std::optional<UserStateParts> ExportUser(const UserId& user) const;
  // Creates or replaces the user's state (a restore). The user is not dirty: nothing new to
  // publish. False, and nothing changed, when the parts do not fit the options.
  bool RestoreUser(const UserId& user, UserStateParts parts);
  // Removes the user's state (a tombstone read back from the changelog); not a change.
  void EraseUser(const UserId& user);
  // The users whose state changed (applied events, published or finished lists, forgotten or
  // evicted) since the last call, in no particular order; a user without state now was erased.
  // The changelog writes these.
  std::vector<UserId> TakeChanged();
  // Every user with state, in no particular order.
  std::vector<UserId> UserIds() const;
  // Evicts users until the users' state takes at most `target_bytes` (UserStateBytes): first those
  // whose interest mass at `now` is below `negligible_mass` in every component, then the least
  // recently active by event time. Users waiting for a list (dirty) are never evicted: their
  // events are not acknowledged yet. An evicted user's pending lists are finished (learned from)
  // first; the user starts fresh on their next event. O(users log users).
  EvictionCounts Evict(std::size_t target_bytes, TimestampMs now, double negligible_mass);

  std::size_t users() const noexcept { return users_.size(); }
  // Bytes all users take: their states (UserState::ApproxBytes) and their entries in the user
  // map (EntryBytes; O(users)).
  std::size_t UserStateBytes() const noexcept;
  std::size_t dirty() const noexcept { return dirty_.size(); }
  // Decayed popularity of an item at event time `now` (the `trending` score before normalisation):
  // this engine's own plus its peers'; 0 when no feature uses popularity.
  double Popularity(const ItemId& item, TimestampMs now) const;

  // The fused features' names, in the order of the feature vector (and of FusionWeights).
  const std::vector<std::string>& feature_names() const noexcept { return sources_.names; }

  // Global statistics across partitions (README, "Global statistics").
  // This engine's own aggregates as of `now` for partition `partition`: each source's share
  // within `limits`, and the learner's global posterior.
  PartitionStats ExportStats(std::int32_t partition, TimestampMs now,
                             const ExportLimits& limits) const;
  // Adds a record's aggregates to this engine's own (a partition's record read back by its next
  // owner, before its first event): each source's share, and the learner's global posterior,
  // which replaces the engine's. Events at or below the record's offset (consumed again after a
  // crash) then update user state but not these aggregates, which hold them already.
  void SeedStats(const PartitionStats& record);
  // Every partition's aggregates but those of `own` (this engine's partition, whose live
  // aggregates are its own), added to this engine's when it ranks (each source reads its share)
  // and to the learner's evidence. Replaces the previous; null removes them.
  void SetPeerStats(std::shared_ptr<const PeerStats> peers, std::int32_t own);
  const PeerStats* peer_stats() const noexcept { return peers_.get(); }

  // Which variant serves `user` now, and the weights a list for it would be ranked with (the
  // learner's Weights for learned users: no exploration).
  Variant VariantOf(const UserId& user) const;
  const WeightLearner& learner() const noexcept { return learner_; }
  const VariantCounts& counts(Variant variant) const noexcept {
    return counts_[static_cast<std::size_t>(variant)];
  }
  // By feature (the first feature_names().size() entries).
  const std::array<SourceFeedback, kMaxSources>& source_feedback(Variant variant) const noexcept {
    return source_feedback_[static_cast<std::size_t>(variant)];
  }
  // State-changing events that did not get a list of their own: they arrived while their user was
  // already dirty, so one later list stands for them all.
  std::uint64_t coalesced() const noexcept { return coalesced_; }
  const GuardState& guard() const noexcept { return guard_; }
  const EngineOptions& options() const noexcept { return options_; }
  // Null: none (the default). The observer must outlive its use.
  void set_rank_observer(RankObserver* observer) noexcept { rank_observer_ = observer; }

 private:
  struct UserEntry {
    explicit UserEntry(const UserStateOptions& options) : state(options) {}
    UserState state;
    bool dirty = false;
    std::int64_t dirty_since = 0;          // offset of the first event since the user's last list
    EventPosition trigger;                 // the latest event since the user's last list
    std::optional<TimestampMs> published;  // event time of the user's last published list
    TimestampMs trigger_ts;
    TimestampMs latest_ts;  // of the latest event applied (the user's event-time high mark)
    std::string segment;    // learner segment of the trigger event (configured ctx keys)
    GuardUser guard;        // the user's lists in the guard's counts
    bool changed = false;   // listed in changed_
  };
  // Bytes one user takes: its state (UserState::ApproxBytes) and its entry in users_.
  static std::size_t EntryBytes(const UserId& id, const UserEntry& entry) noexcept;
  // Lists the user for the next TakeChanged (once).
  void MarkChanged(const UserId& id, UserEntry& entry);
  // Makes the user wait for a list triggered by `event` at `position` (the latest trigger wins).
  void MarkDirty(const UserId& id, UserEntry& entry, const Event& event, EventPosition position);
  double ClockTime(const UserState& state, double now_s) const;
  bool Holdout(const UserId& user) const;
  std::string SegmentOf(const Event& event) const;
  void Attribute(const Event& event, UserState* state);
  // A list's feedback is final: count it, learn from it, update the guard (`user`: its user's
  // entry; null for a user whose entry is gone).
  void Finish(const PendingList& list, UserEntry* user);
  // Ranks for the users (entries may be null: a cold user with no state).
  // keep_pending: remember each list with its feature vectors for attribution (published lists).
  void RankBatch(const std::vector<const UserId*>& ids, const std::vector<UserEntry*>& entries,
                 TimestampMs now, std::vector<RecommendationList>* out, bool keep_pending,
                 const FusionWeights* weights_override = nullptr);

  EngineOptions options_;
  EventTypeTable types_;
  std::shared_ptr<const Catalog> catalog_;
  std::unordered_map<UserId, UserEntry> users_;
  std::vector<UserId> dirty_;  // in the order users became dirty
  SourceSet sources_;
  PopularitySource* popularity_ = nullptr;  // the room of trending and category, if configured
  std::shared_ptr<const PeerStats> peers_;  // every partition's aggregates, or null
  std::int32_t own_partition_ = -1;         // left out of peers_
  // The highest input offset of a seeded record (events up to it are in the aggregates already),
  // and the highest of an event applied since.
  std::int64_t seeded_offset_ = -1;
  std::int64_t applied_offset_ = -1;
  std::vector<std::int32_t> slot_;  // per catalog row, scratch of RankBatch (-1 between uses)
  RankObserver* rank_observer_ = nullptr;

  std::vector<bool> feedback_type_;    // by EventTypeId: positive feedback
  std::vector<bool> repeatable_type_;  // by EventTypeId: items not remembered as seen
  WeightLearner learner_;
  std::array<VariantCounts, kVariantCount> counts_{};
  std::array<std::array<SourceFeedback, kMaxSources>, kVariantCount> source_feedback_{};
  std::uint64_t coalesced_ = 0;
  // Since the last TakeChanged: users whose state changed, each once (UserEntry::changed), and
  // users erased (forgotten, evicted). A list and a flag, not a set of ids: a change costs no
  // hash lookup or allocation on the per-event path.
  std::vector<UserId> changed_;
  std::unordered_set<UserId> erased_;
  GuardState guard_;
  GuardStats guard_stats_;
  // Published lists in the order shown, for expiry; an entry whose list was replaced already
  // finds nothing. Holds at most the lists of one attribution window.
  std::deque<std::pair<TimestampMs, UserId>> expiry_;
  std::vector<FeedbackExample> examples_;  // scratch of Finish
};

}  // namespace recsd::model
