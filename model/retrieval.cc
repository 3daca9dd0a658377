#include "model/retrieval.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>
#include <limits>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "model/check.h"
#include "model/decay.h"
#include "model/row_scores.h"

namespace recsd::model {
namespace {

// The order of candidates: higher score first, then the lower row (deterministic ties). A
// function object, so the sort and selection algorithms inline it.
struct BetterT {
  bool operator()(const ScoredRow& a, const ScoredRow& b) const {
    return a.score != b.score ? a.score > b.score : a.row < b.row;
  }
};
constexpr BetterT kBetter;

// The best n rows offered so far. Not a heap: candidates above the threshold are appended to a
// buffer of 2n, and when it fills, nth_element keeps the best n and raises the threshold to the
// worst of them. An offer is then an append (a heap's sift mispredicts a branch per level, which
// made it the largest cost of a scan), and the selection costs O(n) per n offers.
class TopNSelector {
  static constexpr std::size_t kBatch = 64;

 public:
  TopNSelector(std::size_t n, std::vector<ScoredRow>* out) : n_(n), out_(out) {
    out_->clear();
    out_->reserve(2 * n + kBatch);
  }

  // Offers rows first_row, first_row + 1, ... with these scores.
  void OfferBlock(const float* scores, std::size_t len, std::uint32_t first_row,
                  const Catalog& catalog) {
    OfferEach(
        scores, len,
        [first_row](std::size_t k) { return first_row + static_cast<std::uint32_t>(k); }, nullptr,
        catalog);
  }

  // Offers rows[i] with scores[i] (rows in any order), except those `skip` marks (null: none).
  void OfferRows(const float* scores, const std::uint32_t* rows, std::size_t len,
                 const std::uint8_t* skip, const Catalog& catalog) {
    OfferEach(
        scores, len, [rows](std::size_t k) { return rows[k]; }, skip, catalog);
  }

  // Leaves the kept rows best first.
  void Finish() {
    std::sort(out_->begin(), out_->end(), kBetter);
    if (out_->size() > n_) out_->resize(n_);
  }

 private:
  // Offers row_at(k) with scores[k] for k < len, except rows `skip` marks and rows not available.
  // Rows below the threshold are passed over four at a time (SSE2, part of every x86-64): most
  // rows, after the first prune. The others go in batches: their marks and availability are
  // looked up in loops of independent loads (the bytes of rows spread over a large catalog miss
  // the cache; a branch on each one in turn waited for each miss), then the rows that pass join
  // the kept ones. A tie with the threshold goes to the lower row.
  template <class RowAt>
  void OfferEach(const float* scores, std::size_t len, RowAt row_at, const std::uint8_t* skip,
                 const Catalog& catalog) {
    if (n_ == 0) return;
    std::array<std::uint32_t, kBatch> at;  // offsets k of the batch's rows
    std::array<std::uint32_t, kBatch> rows;
    std::array<std::uint8_t, kBatch> keep;
    std::size_t r = 0;
    while (r < len) {
      std::size_t m = 0;
#if defined(__SSE2__)
      for (; r + 4 <= len && m + 4 <= kBatch; r += 4) {
        int bits = _mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(scores + r), _mm_set1_ps(threshold_)));
        for (; bits != 0; bits &= bits - 1) {
          at[m++] = static_cast<std::uint32_t>(r + static_cast<std::size_t>(__builtin_ctz(bits)));
        }
      }
#endif
      for (; r < len && m < kBatch; ++r) {
        if (scores[r] >= threshold_) at[m++] = static_cast<std::uint32_t>(r);
      }
      for (std::size_t i = 0; i < m; ++i) rows[i] = row_at(at[i]);
      for (std::size_t i = 0; i < m; ++i)
        keep[i] = static_cast<std::uint8_t>(catalog.available(rows[i]));
      if (skip != nullptr) {
        for (std::size_t i = 0; i < m; ++i)
          keep[i] &= static_cast<std::uint8_t>(skip[rows[i]] == 0);
      }
      for (std::size_t i = 0; i < m; ++i) {
        const float score = scores[at[i]];
        if (keep[i] == 0 || (score == threshold_ && rows[i] > threshold_row_)) continue;
        out_->push_back({rows[i], score});
      }
      if (out_->size() >= 2 * n_) Prune();
    }
  }

  void Prune() {
    std::nth_element(out_->begin(), out_->begin() + static_cast<std::ptrdiff_t>(n_ - 1),
                     out_->end(), kBetter);
    out_->resize(n_);
    const ScoredRow& worst = (*out_)[n_ - 1];  // nth_element put the n-th best here
    threshold_ = worst.score;
    threshold_row_ = worst.row;
  }

  std::size_t n_;
  std::vector<ScoredRow>* out_;
  float threshold_ = -std::numeric_limits<float>::infinity();
  std::uint32_t threshold_row_ = 0;
};

}  // namespace

void SelectTopN(std::span<const float> scores, const Catalog& catalog, std::size_t n,
                std::vector<ScoredRow>* out) {
  RECSD_CHECK(scores.size() == catalog.size(), "one score per catalog row");
  TopNSelector selector(n, out);
  selector.OfferBlock(scores.data(), scores.size(), 0, catalog);
  selector.Finish();
}

namespace {

// Scales each row of `users` to unit length (zero rows stay zero).
std::vector<float> UnitRows(const float* users, std::size_t count, std::size_t dim) {
  std::vector<float> unit(users, users + count * dim);
  for (std::size_t b = 0; b < count; ++b) {
    float* u = unit.data() + b * dim;
    double norm = 0;
    for (std::size_t d = 0; d < dim; ++d) norm += static_cast<double>(u[d]) * u[d];
    if (norm > 0) {
      const auto inv = static_cast<float>(1.0 / std::sqrt(norm));
      for (std::size_t d = 0; d < dim; ++d) u[d] *= inv;
    }
  }
  return unit;
}

}  // namespace

void EmbeddingScores(const Catalog& catalog, std::span<const float> user, std::span<float> scores) {
  RECSD_CHECK(user.size() == catalog.dim() && scores.size() == catalog.size(), "shapes");
  const std::vector<float> unit = UnitRows(user.data(), 1, user.size());
  ScoreRows(catalog.embeddings().data(), catalog.size(), catalog.dim(), unit.data(), 1,
            scores.data());
}

void EmbeddingTopNBatch(const Catalog& catalog, const EmbeddingMatrix& users, std::size_t n,
                        std::vector<std::vector<ScoredRow>>* out) {
  EmbeddingTopNBatch(catalog, catalog.embeddings(), users, n, out);
}

void EmbeddingTopNBatch(const Catalog& catalog, const EmbeddingMatrix& items,
                        const EmbeddingMatrix& users, std::size_t n,
                        std::vector<std::vector<ScoredRow>>* out) {
  RECSD_CHECK(static_cast<std::size_t>(users.cols()) == catalog.dim() &&
                  static_cast<std::size_t>(items.cols()) == catalog.dim() &&
                  static_cast<std::size_t>(items.rows()) == catalog.size(),
              "dimensions");
  const std::size_t dim = catalog.dim();
  const auto users_count = static_cast<std::size_t>(users.rows());
  const std::vector<float> unit = UnitRows(users.data(), users_count, dim);
  // Blocks of catalog rows whose scores stay in cache: the N × B score matrix is never
  // materialised (at 1M items and 32 users it would be 128 MB, as much traffic as the catalog
  // itself), and every block's scores go straight into the users' selections.
  constexpr std::size_t kBlockRows = 512;
  out->resize(users_count);
  std::vector<TopNSelector> selectors;
  selectors.reserve(users_count);
  for (std::size_t b = 0; b < users_count; ++b) selectors.emplace_back(n, &(*out)[b]);
  std::vector<float> block(kBlockRows * users_count);
  const std::size_t rows = catalog.size();
  const float* data = items.data();
  for (std::size_t start = 0; start < rows; start += kBlockRows) {
    const std::size_t len = std::min(kBlockRows, rows - start);
    ScoreRows(data + start * dim, len, dim, unit.data(), users_count, block.data());
    for (std::size_t b = 0; b < users_count; ++b) {
      const float* scores = block.data() + b * len;
      selectors[b].OfferBlock(scores, len, static_cast<std::uint32_t>(start), catalog);
    }
  }
  for (TopNSelector& selector : selectors) selector.Finish();
}

void GroupByList(std::span<const std::uint32_t> rows, std::span<const float* const> vectors,
                 std::span<const std::uint32_t> lists, std::size_t list_count, RowsByList* out) {
  RECSD_CHECK(vectors.size() == rows.size() && lists.size() == rows.size(), "a list per row");
  out->begin.assign(list_count + 1, 0);
  for (const std::uint32_t l : lists) {
    RECSD_CHECK(l < list_count, "a row's list is one of the index's");
    ++out->begin[l + 1];
  }
  for (std::size_t l = 0; l < list_count; ++l) out->begin[l + 1] += out->begin[l];
  std::vector<std::uint32_t> at(out->begin.begin(), out->begin.end() - 1);
  out->rows.resize(rows.size());
  out->vectors.resize(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::uint32_t k = at[lists[i]]++;
    out->rows[k] = rows[i];
    out->vectors[k] = vectors[i];
  }
}

void IndexedTopNBatch(const Catalog& catalog, const EmbeddingMatrix& users,
                      std::span<const std::uint32_t> exact_rows,
                      std::span<const float* const> exact_vectors,
                      std::span<const std::uint8_t> exact_mark, std::size_t n,
                      std::vector<std::vector<ScoredRow>>* out, const RowsByList* exact_by_list) {
  const AnnIndex* index = catalog.index();
  RECSD_CHECK(index != nullptr, "a catalog with an index");
  RECSD_CHECK(exact_rows.empty() || exact_mark.size() == catalog.size(), "a mark per row");
  RECSD_CHECK(exact_vectors.size() == exact_rows.size(), "a vector per exact row");
  RECSD_CHECK(static_cast<std::size_t>(users.cols()) == catalog.dim(), "dimensions");
  const std::size_t dim = catalog.dim();
  const auto users_count = static_cast<std::size_t>(users.rows());
  const std::vector<float> unit = UnitRows(users.data(), users_count, dim);

  const std::size_t lists = index->lists();
  const std::size_t exact = exact_rows.size();
  RECSD_CHECK(exact_by_list == nullptr ||
                  (exact_by_list->begin.size() == lists + 1 &&
                   exact_by_list->rows.size() == exact && exact_by_list->vectors.size() == exact),
              "exact rows grouped by the index's lists");
  std::vector<float> exact_scores;
  constexpr std::size_t kBlockRows = 512;
  std::vector<float> scores;
  if (exact_by_list == nullptr) {
    // Every exact row for the whole batch, in blocks of rows that stay in cache while every user
    // is scored against them (as EmbeddingTopNBatch); exact_scores[b * E + i].
    exact_scores.resize(exact * users_count);
    scores.resize(std::min(exact, kBlockRows) * users_count);
    for (std::size_t start = 0; start < exact; start += kBlockRows) {
      const std::size_t len = std::min(kBlockRows, exact - start);
      ScorePointedRows(exact_vectors.data() + start, len, dim, unit.data(), users_count,
                       scores.data());
      for (std::size_t b = 0; b < users_count; ++b) {
        std::copy_n(scores.data() + b * len, len, exact_scores.data() + b * exact + start);
      }
    }
  }
  // A chosen row's vector: its exact one, or the catalog's.
  const auto vector_of = [&](std::uint32_t row) -> const float* {
    if (!exact_mark.empty() && exact_mark[row] != 0) {
      const auto at = std::lower_bound(exact_rows.begin(), exact_rows.end(), row);
      RECSD_CHECK(at != exact_rows.end() && *at == row, "a marked row is an exact row");
      return exact_vectors[static_cast<std::size_t>(at - exact_rows.begin())];
    }
    return catalog.embeddings().data() + std::size_t{row} * dim;
  };

  // Each user's probed lists, those whose centroids are nearest its vector, nearest first.
  const std::size_t probes = index->probes();
  std::vector<std::uint32_t> probed(users_count * probes);
  {
    std::vector<float> centroid_scores(lists);
    std::vector<std::uint32_t> order(lists);
    for (std::size_t b = 0; b < users_count; ++b) {
      ScoreRows(index->centroids().data(), lists, dim, unit.data() + b * dim, 1,
                centroid_scores.data());
      for (std::size_t l = 0; l < lists; ++l) order[l] = static_cast<std::uint32_t>(l);
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(probes),
                        order.end(), [&](std::uint32_t x, std::uint32_t y) {
                          return centroid_scores[x] != centroid_scores[y]
                                     ? centroid_scores[x] > centroid_scores[y]
                                     : x < y;
                        });
      std::copy_n(order.begin(), probes, probed.begin() + static_cast<std::ptrdiff_t>(b * probes));
    }
  }
  // Each list is read once for all the users that probe it, one after another while it is in
  // cache: at a million items the scan is bound by memory (D + 4 bytes a row), and a user's two
  // time scales, or users of one taste, probe mostly the same lists. Lists go in the order of
  // their best rank among their users, so every user still reads its nearest lists first (its
  // selection's threshold rises early). The lists come out the same whatever the order.
  struct Visit {
    std::uint32_t list;
    std::uint32_t rank;
    std::uint32_t user;
  };
  std::vector<Visit> visits;
  visits.reserve(probed.size());
  for (std::size_t b = 0; b < users_count; ++b) {
    for (std::size_t p = 0; p < probes; ++p) {
      visits.push_back(
          {probed[b * probes + p], static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(b)});
    }
  }
  std::sort(visits.begin(), visits.end(), [](const Visit& x, const Visit& y) {
    return x.list != y.list   ? x.list < y.list
           : x.rank != y.rank ? x.rank < y.rank
                              : x.user < y.user;
  });
  std::vector<std::pair<std::uint32_t, std::uint32_t>> groups;  // (best rank, first visit)
  for (std::size_t i = 0; i < visits.size(); ++i) {
    if (i == 0 || visits[i].list != visits[i - 1].list) {
      groups.emplace_back(visits[i].rank, static_cast<std::uint32_t>(i));
    }
  }
  std::sort(groups.begin(), groups.end());

  // The users quantised as the lists' rows are: a list's rows are scored in integers.
  std::vector<std::int8_t> user_codes(users_count * dim);
  std::vector<float> user_scales(users_count);
  for (std::size_t b = 0; b < users_count; ++b) {
    user_scales[b] = QuantizeRow(unit.data() + b * dim, dim, user_codes.data() + b * dim);
  }

  out->resize(users_count);
  // Quantised scores are a little off: the best 2n of each user's are scored exactly, n kept.
  std::vector<TopNSelector> selectors;
  selectors.reserve(users_count);
  for (std::size_t b = 0; b < users_count; ++b) selectors.emplace_back(2 * n, &(*out)[b]);
  for (const auto& [rank, first_visit] : groups) {
    const std::uint32_t l = visits[first_visit].list;
    const AnnIndex::List& list = index->list(l);
    for (std::size_t i = first_visit; i < visits.size() && visits[i].list == l; ++i) {
      const std::uint32_t b = visits[i].user;
      const float* u = unit.data() + std::size_t{b} * dim;
      scores.resize(list.rows.size());
      ScoreQuantizedRows(list.codes.data(), list.scales.data(), list.rows.size(), dim,
                         user_codes.data() + std::size_t{b} * dim, user_scales[b], scores.data());
      selectors[b].OfferRows(scores.data(), list.rows.data(), list.rows.size(),
                             exact_mark.empty() ? nullptr : exact_mark.data(), catalog);
      if (exact_by_list != nullptr) {
        const std::uint32_t first = exact_by_list->begin[l];
        const std::size_t len = exact_by_list->begin[l + 1] - first;
        scores.resize(len);
        ScorePointedRows(exact_by_list->vectors.data() + first, len, dim, u, 1, scores.data());
        selectors[b].OfferRows(scores.data(), exact_by_list->rows.data() + first, len, nullptr,
                               catalog);
      }
    }
  }
  for (std::size_t b = 0; b < users_count; ++b) {
    const float* u = unit.data() + b * dim;
    if (exact_by_list == nullptr) {
      selectors[b].OfferRows(exact_scores.data() + b * exact, exact_rows.data(), exact, nullptr,
                             catalog);
    }
    selectors[b].Finish();
    std::vector<ScoredRow>& chosen = (*out)[b];
    for (ScoredRow& c : chosen) {
      constexpr std::uint32_t kFirst = 0;
      ScoreGatheredRows(vector_of(c.row), {&kFirst, 1}, dim, u, &c.score);
    }
    std::sort(chosen.begin(), chosen.end(), kBetter);
    if (chosen.size() > n) chosen.resize(n);
  }
}

float FreshScore(TimestampMs item_ts, TimestampMs now, double half_life_ms) {
  const double age = static_cast<double>(now.ms - item_ts.ms);
  return age <= 0 ? 1.0F : static_cast<float>(DecayFactor(age, half_life_ms));
}

void FreshScores(const Catalog& catalog, TimestampMs now, double half_life_ms,
                 std::span<float> scores) {
  RECSD_CHECK(scores.size() == catalog.size(), "one score per catalog row");
  for (std::size_t row = 0; row < catalog.size(); ++row) {
    scores[row] = FreshScore(catalog.item(row).ts, now, half_life_ms);
  }
}

}  // namespace recsd::model
