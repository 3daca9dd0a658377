#include "model/fusion.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

#include "model/check.h"

namespace recsd::model {
namespace {

constexpr double kReciprocalRankK = 60;

struct Scored {
  std::uint32_t row;
  double score;
  const Candidate* candidate;
};

double Cosine(const Catalog& catalog, std::uint32_t a, std::uint32_t b) {
  const auto x = catalog.Embedding(a);
  const auto y = catalog.Embedding(b);
  double dot = 0;
  for (std::size_t d = 0; d < x.size(); ++d) dot += static_cast<double>(x[d]) * y[d];
  return dot;  // rows are unit (or zero)
}

}  // namespace

void NormaliseFeatures(std::vector<Candidate>* candidates, std::size_t features,
                       Normalisation normalisation, std::size_t rank_scale) {
  RECSD_CHECK(features <= kMaxSources, "feature count");
  if (normalisation != Normalisation::kMax) {
    RECSD_CHECK(rank_scale > 0, "rank scale");
    std::vector<std::pair<float, std::size_t>> order;  // (raw score, candidate index)
    order.reserve(candidates->size());
    const auto scale = static_cast<double>(rank_scale);
    for (std::size_t s = 0; s < features; ++s) {
      order.clear();
      for (std::size_t i = 0; i < candidates->size(); ++i) {
        if ((*candidates)[i].x[s] > 0) order.emplace_back((*candidates)[i].x[s], i);
        (*candidates)[i].x[s] = 0.0F;
      }
      std::sort(order.begin(), order.end(),
                [](const auto& a, const auto& b) { return a.first > b.first; });
      std::size_t rank = 0;
      for (std::size_t j = 0; j < order.size(); ++j) {
        if (j > 0 && order[j].first < order[j - 1].first) rank = j;
        const auto r = static_cast<double>(rank);
        (*candidates)[order[j].second].x[s] = static_cast<float>(
            normalisation == Normalisation::kRank ? std::max(0.0, 1.0 - r / scale)
                                                  : kReciprocalRankK / (kReciprocalRankK + r));
      }
    }
    return;
  }
  FeatureVector max{};
  for (Candidate& c : *candidates) {
    for (std::size_t s = 0; s < features; ++s) {
      c.x[s] = std::max(0.0F, c.x[s]);
      max[s] = std::max(max[s], c.x[s]);
    }
  }
  for (Candidate& c : *candidates) {
    for (std::size_t s = 0; s < features; ++s) {
      c.x[s] = max[s] > 0 ? c.x[s] / max[s] : 0.0F;
    }
  }
}

std::vector<RecommendedItem> Rank(const std::vector<Candidate>& candidates,
                                  const FusionWeights& weights, std::span<const std::string> names,
                                  const Catalog& catalog, const RankOptions& options,
                                  const std::function<bool(std::uint32_t row)>& keep) {
  const std::size_t features = names.size();
  RECSD_CHECK(features <= kMaxSources, "feature count");
  std::vector<Scored> pool;
  pool.reserve(candidates.size());
  for (const Candidate& c : candidates) {
    RECSD_CHECK(c.row < catalog.size(), "candidate row of this catalog");
    if (!keep(c.row)) continue;
    double score = 0;
    for (std::size_t s = 0; s < features; ++s) score += weights.w[s] * c.x[s];
    pool.push_back({c.row, score, &c});
  }
  std::sort(pool.begin(), pool.end(), [](const Scored& a, const Scored& b) {
    return a.score != b.score ? a.score > b.score : a.row < b.row;
  });
  // A row offered twice (by a caller that did not merge) counts once, at its best score: the
  // pool is sorted best first, so the first occurrence is kept. The engine's candidates are
  // distinct already: a sorted copy of the rows says so without a set per list.
  std::vector<std::uint32_t> rows;
  rows.reserve(pool.size());
  for (const Scored& s : pool) rows.push_back(s.row);
  std::sort(rows.begin(), rows.end());
  if (std::adjacent_find(rows.begin(), rows.end()) != rows.end()) {
    std::unordered_set<std::uint32_t> seen;
    std::erase_if(pool, [&](const Scored& s) { return !seen.insert(s.row).second; });
  }

  std::vector<Scored> picked;
  picked.reserve(options.k);
  if (options.diversity == RankOptions::Diversity::kMmr) {
    std::vector<bool> used(pool.size(), false);
    while (picked.size() < options.k && picked.size() < pool.size()) {
      double best_value = -std::numeric_limits<double>::infinity();
      std::size_t best = pool.size();
      for (std::size_t i = 0; i < pool.size(); ++i) {
        if (used[i]) continue;
        double redundancy = 0;
        for (const Scored& p : picked) {
          redundancy = std::max(redundancy, Cosine(catalog, pool[i].row, p.row));
        }
        const double value =
            options.mmr_lambda * pool[i].score - (1 - options.mmr_lambda) * redundancy;
        if (value > best_value) {  // strict: ties keep the earlier (better-ranked) candidate
          best_value = value;
          best = i;
        }
      }
      used[best] = true;
      picked.push_back(pool[best]);
    }
  } else {
    std::vector<std::pair<CategoryId, std::size_t>> per_category;
    for (const Scored& s : pool) {
      if (picked.size() == options.k) break;
      if (options.diversity == RankOptions::Diversity::kCategoryCap) {
        const CategoryId cat = catalog.item(s.row).category;
        auto it = std::find_if(per_category.begin(), per_category.end(),
                               [&](const auto& pc) { return pc.first == cat; });
        if (it == per_category.end()) {
          per_category.emplace_back(cat, 0);
          it = per_category.end() - 1;
        }
        if (cat != kNoCategory && it->second >= options.category_cap) continue;
        ++it->second;
      }
      picked.push_back(s);
    }
  }

  std::vector<RecommendedItem> out;
  out.reserve(picked.size());
  for (const Scored& s : picked) {
    RecommendedItem item{catalog.item(s.row).id, static_cast<float>(s.score), {}};
    for (std::size_t src = 0; src < features; ++src) {
      const double contribution = weights.w[src] * s.candidate->x[src];
      if (contribution != 0.0) {
        item.src.emplace_back(names[src], static_cast<float>(contribution));
      }
    }
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace recsd::model
