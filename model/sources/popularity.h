#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/id_index.h"
#include "model/popularity.h"
#include "model/sources/source.h"

namespace recsd::model {

class SourcePeers;

struct PopularityOptions {
  double half_life = 24 * 3600.0;  // seconds of event time
  std::size_t max_items = 1'000'000;
  // The global candidate lists (most popular overall and per category) are recomputed when this
  // much event time has passed (and enough events changed the counts); every candidate is still
  // scored exactly.
  double refresh = 60.0;
};

// `trending` and `category`, from one decayed popularity count per item (interest weight per
// interaction, halving every half_life; this partition's own plus every other partition's, read
// from topics.model_stats). trending: the item's popularity. category: the user's decayed
// affinity to the item's category (their strongest categories; the most popular categories for
// a user with none) times the item's popularity. Offers the most popular items overall, and for
// category the most popular of each of the user's categories (at least 10 each).
class PopularitySource final : public Source {
 public:
  static constexpr std::string_view kName = "popularity";
  PopularitySource(const PopularityOptions& options, std::size_t max_categories);

  std::string_view name() const noexcept override { return kName; }
  std::span<const std::string_view> features() const noexcept override;
  void SetCatalog(const Catalog& catalog) override;
  void Learn(const Interaction& interaction) override;
  void Prepare(std::span<const RankUser> users, const RankContext& ctx) override;
  void BeginUser(const RankUser& user, const RankContext& ctx) override;
  void Offer(std::size_t feature, const RankUser& user, const RankContext& ctx,
             CandidateSink& sink) override;
  void Score(std::size_t feature, const RankUser& user, const RankContext& ctx,
             std::span<Candidate> candidates, std::size_t x) override;
  void EndUser(const RankUser& user) override;
  void Export(double now_s, const ExportLimits& limits, SourceStats* out) const override;
  void Seed(const SourceStats& record, double as_of_s) override;
  void SetPeers(const PeerStats* peers, std::int32_t own) override;
  bool Compatible(const SourceStats& share) const override;

  // The item's decayed popularity at event time now_s: this partition's own plus its peers'.
  double Popularity(const ItemId& item, double now_s) const;
  double half_life() const noexcept { return options_.half_life; }

 private:
  void Recompute(const RankContext& ctx);

  PopularityOptions options_;
  std::size_t max_categories_;
  DecayedCounter<ItemId> counts_;
  const SourcePeers* peers_ = nullptr;
  std::int32_t own_ = -1;
  // The global lists, as of computed_at_, rows of the current catalog.
  bool valid_ = false;
  double computed_at_ = 0;
  std::uint64_t events_since_ = 0;
  std::vector<std::uint32_t> trending_;
  std::unordered_map<CategoryId, std::vector<std::uint32_t>> by_category_;
  std::vector<std::pair<CategoryId, double>> category_prior_;  // popular categories, normalised
  std::vector<double> scratch_;                                // per catalog row, 0 between uses
  // Per catalog row: 1 when its item may have a popularity (counted here or by a peer since the
  // catalog was set), 0 when it has none for sure: Score looks up only the marked rows (at a
  // million items most candidates are never counted, and a lookup reads the id of a row far
  // from the cache).
  std::vector<std::uint8_t> counted_;
  // The catalog rows of the ids Recompute visits (kNoRow: not in the catalog): a small table
  // that stays in cache, where Catalog::Find reads a million-row one. Emptied with the catalog,
  // and when it holds over twice the ids of a recomputation (bounded).
  static constexpr std::uint32_t kNoRow = UINT32_MAX;
  std::optional<std::uint32_t> CachedRow(const Catalog& catalog, const ItemId& id);
  void ForgetRows();
  std::vector<ItemId> cached_ids_;
  std::vector<std::uint32_t> cached_rows_;
  FlatIndex<ItemId> row_cache_;
  // The user being ranked: category affinities, and per candidate its popularity (computed once
  // for both features).
  std::vector<std::pair<CategoryId, double>> affinity_;
  std::vector<double> popularity_;
  bool popularity_ready_ = false;
};

}  // namespace recsd::model
