#include "model/sources/popularity.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "model/check.h"
#include "model/global_stats.h"
#include "model/sources/ranked_rows.h"

namespace recsd::model {
namespace {

constexpr std::array<std::string_view, 2> kFeatures = {"trending", "category"};
constexpr std::size_t kTrending = 0;

// The global lists are recomputed once `refresh` of event time has passed and at least this
// many events changed the counts, or after kStaleRefreshes intervals whatever the count. A
// daemon's minute holds far more events than this; a replay that compresses years of sparse
// history into seconds would otherwise spend its time re-sorting popularity.
constexpr std::uint64_t kRefreshEvents = 64;
constexpr double kStaleRefreshes = 60;

}  // namespace

PopularitySource::PopularitySource(const PopularityOptions& options, std::size_t max_categories)
    : options_(options),
      max_categories_(max_categories),
      counts_(options.half_life, options.max_items) {
  RECSD_CHECK(options.refresh >= 0 && max_categories > 0, "popularity options");
}

std::span<const std::string_view> PopularitySource::features() const noexcept { return kFeatures; }

void PopularitySource::SetCatalog(const Catalog& catalog) {
  valid_ = false;  // rows changed; Recompute marks counted_ again before the next Score
  scratch_.assign(catalog.size(), 0.0);
  counted_.assign(catalog.size(), 0);
  ForgetRows();
}

void PopularitySource::Learn(const Interaction& interaction) {
  counts_.Add(interaction.now_s, interaction.weight, *interaction.item);
  if (interaction.row && *interaction.row < counted_.size()) counted_[*interaction.row] = 1;
  ++events_since_;
}

void PopularitySource::ForgetRows() {
  cached_ids_.clear();
  cached_rows_.clear();
  row_cache_ = {};
}

std::optional<std::uint32_t> PopularitySource::CachedRow(const Catalog& catalog, const ItemId& id) {
  const auto id_of = [this](std::uint32_t n) -> const ItemId& { return cached_ids_[n]; };
  std::uint32_t row = kNoRow;
  if (const std::optional<std::uint32_t> n = row_cache_.Find(id, id_of)) {
    row = cached_rows_[*n];
  } else {
    if (const std::optional<std::size_t> found = catalog.Find(id)) {
      row = static_cast<std::uint32_t>(*found);
    }
    cached_ids_.push_back(id);
    cached_rows_.push_back(row);
    row_cache_.Insert(id, static_cast<std::uint32_t>(cached_ids_.size() - 1));
  }
  if (row == kNoRow) return std::nullopt;
  return row;
}

double PopularitySource::Popularity(const ItemId& item, double now_s) const {
  return counts_.ValueAt(item, now_s) +
         (peers_ != nullptr ? peers_->ItemValue(item, now_s, own_) : 0.0);
}

void PopularitySource::Prepare(std::span<const RankUser> /*users*/, const RankContext& ctx) {
  const double elapsed = std::fabs(ctx.now_s - computed_at_);
  if (!valid_ ||
      (events_since_ > 0 && ((elapsed >= options_.refresh && events_since_ >= kRefreshEvents) ||
                             elapsed >= kStaleRefreshes * options_.refresh))) {
    Recompute(ctx);
  }
}

void PopularitySource::Recompute(const RankContext& ctx) {
  const Catalog& catalog = *ctx.catalog;
  std::vector<std::pair<std::uint32_t, double>> all;
  std::unordered_map<CategoryId, std::vector<std::pair<std::uint32_t, double>>> by_category;
  std::unordered_map<CategoryId, double> category_total;
  // This partition's popularity plus its peers', summed per row in scratch_.
  std::vector<std::uint32_t> rows;
  std::size_t visited = 0;
  const auto add = [&](const ItemId& id, double value) {
    ++visited;
    const std::optional<std::uint32_t> row = CachedRow(catalog, id);
    if (!row) return;
    counted_[*row] = 1;
    if (!catalog.item(*row).available || !(value > 0)) return;
    if (scratch_[*row] == 0.0) rows.push_back(*row);
    scratch_[*row] += value;
  };
  counts_.ForEach(ctx.now_s, add);
  if (peers_ != nullptr) peers_->ForEachItem(ctx.now_s, own_, add);
  if (cached_ids_.size() > 2 * visited + 1024) ForgetRows();  // ids no longer counted
  std::sort(rows.begin(), rows.end());                        // hash order must not reach the lists
  for (std::uint32_t r : rows) {
    const double value = std::exchange(scratch_[r], 0.0);
    all.emplace_back(r, value);
    const CategoryId cat = catalog.item(r).category;
    if (cat != kNoCategory) {
      by_category[cat].emplace_back(r, value);
      category_total[cat] += value;
    }
  }
  SortAndTruncate(&all, ctx.n);
  trending_ = Rows(all);
  by_category_.clear();
  for (auto& [cat, scored] : by_category) {
    SortAndTruncate(&scored, ctx.n);
    by_category_.emplace(cat, Rows(scored));
  }
  std::vector<std::pair<CategoryId, double>> prior(category_total.begin(), category_total.end());
  std::sort(prior.begin(), prior.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  prior.resize(std::min(prior.size(), max_categories_));
  for (auto& [cat, value] : prior) value /= prior.front().second;
  category_prior_ = std::move(prior);
  valid_ = true;
  computed_at_ = ctx.now_s;
  events_since_ = 0;
}

void PopularitySource::BeginUser(const RankUser& user, const RankContext& /*ctx*/) {
  // The user's affinities, or for a user with none the popular categories.
  affinity_.clear();
  if (user.state != nullptr) {
    for (const CategoryAffinity& c : user.state->categories()) {
      const double a = user.state->CategoryAffinityAt(c.category, user.clock);
      if (a > 0) affinity_.emplace_back(c.category, a);
    }
  }
  if (affinity_.empty()) affinity_ = category_prior_;
  popularity_ready_ = false;
}

void PopularitySource::Offer(std::size_t feature, const RankUser& /*user*/, const RankContext& ctx,
                             CandidateSink& sink) {
  if (feature == kTrending) {
    for (std::uint32_t row : trending_) sink.Offer(row);
    return;
  }
  if (affinity_.empty()) return;
  const std::size_t per =
      std::max<std::size_t>(10, (ctx.n + affinity_.size() - 1) / affinity_.size());
  for (const auto& [cat, a] : affinity_) {
    auto it = by_category_.find(cat);
    if (it == by_category_.end()) continue;
    for (std::size_t i = 0; i < std::min(per, it->second.size()); ++i) sink.Offer(it->second[i]);
  }
}

void PopularitySource::Score(std::size_t feature, const RankUser& /*user*/, const RankContext& ctx,
                             std::span<Candidate> candidates, std::size_t x) {
  if (!popularity_ready_) {
    popularity_.resize(candidates.size());
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      const std::uint32_t row = candidates[i].row;
      popularity_[i] = counted_[row] != 0 ? Popularity(ctx.catalog->item(row).id, ctx.now_s) : 0.0;
    }
    popularity_ready_ = true;
  }
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    Candidate& c = candidates[i];
    if (feature == kTrending) {
      c.x[x] = static_cast<float>(popularity_[i]);
      continue;
    }
    const CategoryId category = ctx.catalog->item(c.row).category;
    c.x[x] = 0.0F;
    for (const auto& [cat, a] : affinity_) {
      if (cat == category) {
        c.x[x] = static_cast<float>(a * popularity_[i]);
        break;
      }
    }
  }
}

void PopularitySource::EndUser(const RankUser& /*user*/) { popularity_ready_ = false; }

void PopularitySource::Export(double now_s, const ExportLimits& limits, SourceStats* out) const {
  out->source = std::string(kName);
  out->half_life = options_.half_life;
  out->items = counts_.TopN(limits.items, now_s);
  std::erase_if(out->items, [](const auto& entry) { return !(entry.second > 0); });
}

void PopularitySource::Seed(const SourceStats& record, double as_of_s) {
  for (const auto& [item, v] : record.items) {
    if (v > 0) counts_.Add(as_of_s, v, item);
  }
  valid_ = false;
}

bool PopularitySource::Compatible(const SourceStats& share) const {
  return share.half_life == options_.half_life;
}

void PopularitySource::SetPeers(const PeerStats* peers, std::int32_t own) {
  peers_ = peers != nullptr ? peers->Find(kName) : nullptr;
  own_ = own;
  valid_ = false;
}

}  // namespace recsd::model
