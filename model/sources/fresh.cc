#include "model/sources/fresh.h"

#include <array>

#include "model/check.h"
#include "model/retrieval.h"
#include "model/sources/ranked_rows.h"

namespace recsd::model {
namespace {

constexpr std::array<std::string_view, 1> kFeatures = {"fresh"};

}  // namespace

FreshSource::FreshSource(const FreshOptions& options) : options_(options) {
  RECSD_CHECK(options.half_life > 0, "fresh half-life");
}

std::span<const std::string_view> FreshSource::features() const noexcept { return kFeatures; }

void FreshSource::SetCatalog(const Catalog& catalog) {
  catalog_ = &catalog;
  newest_n_ = 0;  // the list depends on the catalog only
}

void FreshSource::Prepare(std::span<const RankUser> /*users*/, const RankContext& ctx) {
  if (newest_n_ == ctx.n) return;
  std::vector<std::pair<std::uint32_t, double>> scored;
  scored.reserve(ctx.catalog->size());
  for (std::size_t row = 0; row < ctx.catalog->size(); ++row) {
    if (ctx.catalog->item(row).available) {
      scored.emplace_back(static_cast<std::uint32_t>(row),
                          static_cast<double>(ctx.catalog->item(row).ts.ms));
    }
  }
  SortAndTruncate(&scored, ctx.n);
  newest_ = Rows(scored);
  newest_n_ = ctx.n;
}

void FreshSource::Offer(std::size_t /*feature*/, const RankUser& /*user*/,
                        const RankContext& /*ctx*/, CandidateSink& sink) {
  for (std::uint32_t row : newest_) sink.Offer(row);
}

void FreshSource::Score(std::size_t /*feature*/, const RankUser& /*user*/, const RankContext& ctx,
                        std::span<Candidate> candidates, std::size_t x) {
  const double half_life_ms = options_.half_life * 1000.0;
  for (Candidate& c : candidates) {
    c.x[x] = FreshScore(ctx.catalog->item(c.row).ts, ctx.now, half_life_ms);
  }
}

}  // namespace recsd::model
