#include "model/retrieval.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "model/check.h"
#include "model/decay.h"

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
 public:
  TopNSelector(std::size_t n, std::vector<ScoredRow>* out) : n_(n), out_(out) {
    out_->clear();
    out_->reserve(2 * n);
  }

  void Offer(std::uint32_t row, float score, const Catalog& catalog) {
    if (n_ == 0 || score < threshold_ || (score == threshold_ && row > threshold_row_)) {
      return;  // cheaper than the availability lookup for the common case
    }
    if (!catalog.available(row)) {
      return;
    }
    out_->push_back({row, score});
    if (out_->size() == 2 * n_) {
      Prune();
    }
  }

  // A score at or below which a row cannot enter any more when rows are offered in increasing
  // order (a tie loses to the kept row, which is lower): -inf until the first prune.
  float Threshold() const { return threshold_; }

  // Offers rows first_row, first_row + 1, ... with these scores. Rows at or below the threshold
  // are skipped four at a time (SSE2, part of every x86-64): most rows, after the first prune.
  void OfferBlock(const float* scores, std::size_t len, std::uint32_t first_row,
                  const Catalog& catalog) {
    float threshold = Threshold();
    std::size_t r = 0;
#if defined(__SSE2__)
    for (; r + 4 <= len; r += 4) {
      if (_mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(scores + r), _mm_set1_ps(threshold))) == 0) {
        continue;
      }
      for (std::size_t k = r; k < r + 4; ++k) {
        if (scores[k] > threshold) {
          Offer(first_row + static_cast<std::uint32_t>(k), scores[k], catalog);
          threshold = Threshold();
        }
      }
    }
#endif
    for (; r < len; ++r) {
      if (scores[r] > threshold) {
        Offer(first_row + static_cast<std::uint32_t>(r), scores[r], catalog);
        threshold = Threshold();
      }
    }
  }

  // Leaves the kept rows best first.
  void Finish() {
    std::sort(out_->begin(), out_->end(), kBetter);
    if (out_->size() > n_) out_->resize(n_);
  }

 private:
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

// Dot products of `len` catalog rows with `users` unit vectors (users × dim, row-major), into
// out[b * len + r]. Each catalog row is read once for all users while it is in L1. Two versions:
// AVX2 with FMA where the CPU has them (chosen at run time, so the binary stays portable), and a
// portable one with eight independent partial sums, which compilers vectorise without
// reassociating floating-point additions.
void ScoreRowsPortable(const float* rows, std::size_t len, std::size_t dim, const float* users,
                       std::size_t user_count, float* out) {
  constexpr std::size_t kLanes = 8;
  const std::size_t body = dim - dim % kLanes;
  for (std::size_t r = 0; r < len; ++r) {
    const float* e = rows + r * dim;
    for (std::size_t b = 0; b < user_count; ++b) {
      const float* u = users + b * dim;
      float acc[kLanes] = {};
      for (std::size_t d = 0; d < body; d += kLanes) {
        for (std::size_t l = 0; l < kLanes; ++l) acc[l] += e[d + l] * u[d + l];
      }
      float dot = 0;
      for (std::size_t d = body; d < dim; ++d) dot += e[d] * u[d];
      for (float a : acc) dot += a;
      out[b * len + r] = dot;
    }
  }
}

#if defined(__x86_64__)
// Four rows per step share one load of the user's values and one horizontal reduction. kDim > 0
// fixes the dimension at compile time (fully unrolled inner loop, for the common sizes); 0 takes
// it from `runtime_dim`.
template <std::size_t kDim>
__attribute__((target("avx2,fma"))) void ScoreRowsAvx2(const float* rows, std::size_t len,
                                                       std::size_t runtime_dim, const float* users,
                                                       std::size_t user_count, float* out) {
  const std::size_t dim = kDim > 0 ? kDim : runtime_dim;
  const std::size_t body = dim - dim % 8;
  const auto tail = [&](const float* e, const float* u) {
    float dot = 0;
    for (std::size_t d = body; d < dim; ++d) dot += e[d] * u[d];
    return dot;
  };
  for (std::size_t b = 0; b < user_count; ++b) {
    const float* u = users + b * dim;
    float* o = out + b * len;
    std::size_t r = 0;
    for (; r + 4 <= len; r += 4) {
      const float* e0 = rows + r * dim;
      const float* e1 = e0 + dim;
      const float* e2 = e1 + dim;
      const float* e3 = e2 + dim;
      __m256 a0 = _mm256_setzero_ps();
      __m256 a1 = _mm256_setzero_ps();
      __m256 a2 = _mm256_setzero_ps();
      __m256 a3 = _mm256_setzero_ps();
      for (std::size_t d = 0; d < body; d += 8) {
        const __m256 ud = _mm256_loadu_ps(u + d);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(e0 + d), ud, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(e1 + d), ud, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(e2 + d), ud, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(e3 + d), ud, a3);
      }
      // hadd(hadd(a0, a1), hadd(a2, a3)) holds the four sums of lanes 0-3 in its low half and of
      // lanes 4-7 in its high half, in row order.
      const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
      __m128 dots = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
      if (body < dim) {
        dots = _mm_add_ps(dots, _mm_setr_ps(tail(e0, u), tail(e1, u), tail(e2, u), tail(e3, u)));
      }
      _mm_storeu_ps(o + r, dots);
    }
    for (; r < len; ++r) {
      const float* e = rows + r * dim;
      __m256 a = _mm256_setzero_ps();
      for (std::size_t d = 0; d < body; d += 8) {
        a = _mm256_fmadd_ps(_mm256_loadu_ps(e + d), _mm256_loadu_ps(u + d), a);
      }
      __m128 sum = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
      sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
      sum = _mm_add_ss(sum, _mm_shuffle_ps(sum, sum, 1));
      o[r] = _mm_cvtss_f32(sum) + tail(e, u);
    }
  }
}
#endif

void ScoreRows(const float* rows, std::size_t len, std::size_t dim, const float* users,
               std::size_t user_count, float* out) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) {
    switch (dim) {
      case 64:
        return ScoreRowsAvx2<64>(rows, len, dim, users, user_count, out);
      case 128:
        return ScoreRowsAvx2<128>(rows, len, dim, users, user_count, out);
      default:
        return ScoreRowsAvx2<0>(rows, len, dim, users, user_count, out);
    }
  }
#endif
  ScoreRowsPortable(rows, len, dim, users, user_count, out);
}

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
