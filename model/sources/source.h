#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "model/catalog.h"
#include "model/fusion.h"
#include "model/ids.h"
#include "model/user_state.h"

namespace recsd::model {

class PeerStats;
struct SourceStats;

// One of the user's recent items that the catalog holds: its row and the user's clock time of the
// interaction.
struct RecentRow {
  std::uint32_t row = 0;
  double t = 0;
  double weight = 1.0;  // the interaction's interest weight
};

// A user being ranked, as the engine hands it to every source.
struct RankUser {
  std::size_t index = 0;              // position in the batch given to Source::Prepare
  const UserState* state = nullptr;   // null: a user without state (a cold what-if list)
  double clock = 0;                   // the user's interest clock now (its InterestClock units)
  std::span<const RecentRow> recent;  // the user's recent items the catalog holds, oldest first
};

// What is the same for every user of one refresh.
struct RankContext {
  const Catalog* catalog = nullptr;
  TimestampMs now;
  double now_s = 0;   // `now` in seconds of event time
  std::size_t n = 0;  // candidates each feature offers
};

// An interaction that teaches the global statistics: an applied event with a positive interest
// weight that the aggregates do not hold yet (Engine::SeedStats).
struct Interaction {
  const ItemId* item = nullptr;
  std::optional<std::uint32_t> row;  // in the current catalog, when it is there
  double weight = 0;                 // the event type's interest weight, > 0
  double now_s = 0;                  // event time, seconds
  double clock = 0;                  // the user's clock time of this interaction
  const UserState* user = nullptr;   // the user's state before it (RecentAt: earlier items)
};

// Where a source puts the rows it offers, best first. The engine merges the offers of every
// feature into one candidate set.
class CandidateSink {
 public:
  virtual ~CandidateSink() = default;
  virtual void Offer(std::uint32_t row) = 0;
};

// Limits of one partition's record in topics.model_stats (Engine::ExportStats).
struct ExportLimits {
  std::size_t items = 0;    // most item values (popularity) per source
  std::size_t edges = 0;    // most edges (co-visits, transitions) per source
  std::size_t vectors = 0;  // most item vectors (learned embeddings) per source
};

// A candidate source: a room of its own (model/sources/), with its options, its state, its
// share of topics.model_stats and its tests. It scores one or more features of the fused vector
// x (an embedding room scores emb_short and emb_long from one set of item vectors). The engine
// calls, per refresh: Prepare once with the batch, then for each user BeginUser, Offer for each
// feature that offers, Score for each feature, EndUser. Learn sees every interaction that teaches
// the global statistics. Pure, deterministic and single-threaded like the engine that owns it.
class Source {
 public:
  virtual ~Source() = default;

  // The room's name (its share of topics.model_stats goes by it), and the names of the features
  // it scores, in order ("emb_short", "emb_long").
  virtual std::string_view name() const noexcept = 0;
  virtual std::span<const std::string_view> features() const noexcept = 0;

  // The catalog that rows refer to from now on (the engine's; it outlives the source's use).
  virtual void SetCatalog(const Catalog& /*catalog*/) {}
  virtual void Learn(const Interaction& /*interaction*/) {}
  virtual void Prepare(std::span<const RankUser> /*users*/, const RankContext& /*ctx*/) {}
  virtual void BeginUser(const RankUser& /*user*/, const RankContext& /*ctx*/) {}
  // Offers feature `feature`'s best ctx.n rows for the user, best first.
  virtual void Offer(std::size_t feature, const RankUser& user, const RankContext& ctx,
                     CandidateSink& sink) = 0;
  // Writes feature `feature`'s raw score of each candidate into c.x[x] (higher is better; 0 or
  // less: the feature gives the candidate nothing). Every feature scores every candidate,
  // whichever feature offered it.
  virtual void Score(std::size_t feature, const RankUser& user, const RankContext& ctx,
                     std::span<Candidate> candidates, std::size_t x) = 0;
  virtual void EndUser(const RankUser& /*user*/) {}

  // Global statistics across partitions (README, "Global statistics"). Export: this source's
  // share of a partition's record as of `now_s` (nothing to share: leave `out` empty). Seed: adds
  // a record's share to this source's own state (the partition's previous owner's). SetPeers:
  // every partition's merged shares, of which the source uses all but partition `own`'s (null:
  // none).
  virtual void Export(double /*now_s*/, const ExportLimits& /*limits*/,
                      SourceStats* /*out*/) const {}
  virtual void Seed(const SourceStats& /*record*/, double /*as_of_s*/) {}
  virtual void SetPeers(const PeerStats* /*peers*/, std::int32_t /*own*/) {}
  // Whether another engine's share of this source adds up with this one's (same half-life, ...).
  virtual bool Compatible(const SourceStats& /*share*/) const { return true; }

  // Whether feature `feature` offers candidates (all do unless the engine was told otherwise,
  // e.g. a single-source baseline); a source may skip work for features that do not.
  bool offers(std::size_t feature) const noexcept { return offers_[feature]; }
  void set_offers(std::size_t feature, bool offers) noexcept { offers_[feature] = offers; }

 private:
  std::array<bool, kMaxSources> offers_ = MakeAll();
  static constexpr std::array<bool, kMaxSources> MakeAll() {
    std::array<bool, kMaxSources> all{};
    all.fill(true);
    return all;
  }
};

}  // namespace recsd::model
