#include "model/row_scores.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace recsd::model {
namespace {

// x rounded to the nearest integer, halves away from zero (as std::lround, which is a call into
// libm per value: the largest cost of quantising a million rows), for |x| < 2^31.
inline std::int32_t RoundHalfAway(float x) {
  auto i = static_cast<std::int32_t>(x);         // toward zero
  const float frac = x - static_cast<float>(i);  // exact
  if (frac >= 0.5F) ++i;
  if (frac <= -0.5F) --i;
  return i;
}

// Dot products of `len` rows (row_at(r): the r-th) with `users` unit vectors (users × dim,
// row-major), into out[b * len + r]. Each row is read once for all users while it is in L1. Two
// versions: AVX2 with FMA where the CPU has them (chosen at run time, so the binary stays
// portable), and a portable one with eight independent partial sums, which compilers vectorise
// without reassociating floating-point additions.
template <class RowAt>
void ScoreRowsPortable(RowAt row_at, std::size_t len, std::size_t dim, const float* users,
                       std::size_t user_count, float* out) {
  constexpr std::size_t kLanes = 8;
  const std::size_t body = dim - dim % kLanes;
  for (std::size_t r = 0; r < len; ++r) {
    const float* e = row_at(r);
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

// The dot products of four rows with u, in row order: one load of the user's values serves the
// four rows, and one horizontal reduction sums them. kDim as for ScoreRowsAvx2.
template <std::size_t kDim>
__attribute__((target("avx2,fma"))) inline __m128 Dots4(const float* e0, const float* e1,
                                                        const float* e2, const float* e3,
                                                        const float* u, std::size_t runtime_dim) {
  const std::size_t dim = kDim > 0 ? kDim : runtime_dim;
  const std::size_t body = dim - dim % 8;
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
    const auto tail = [&](const float* e) {
      float dot = 0;
      for (std::size_t d = body; d < dim; ++d) dot += e[d] * u[d];
      return dot;
    };
    dots = _mm_add_ps(dots, _mm_setr_ps(tail(e0), tail(e1), tail(e2), tail(e3)));
  }
  return dots;
}

// Four rows per step share one load of the user's values and one horizontal reduction. kDim > 0
// fixes the dimension at compile time (fully unrolled inner loop, for the common sizes); 0 takes
// it from `runtime_dim`.
template <std::size_t kDim, class RowAt>
__attribute__((target("avx2,fma"))) void ScoreRowsAvx2(RowAt row_at, std::size_t len,
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
      _mm_storeu_ps(o + r, Dots4<kDim>(row_at(r), row_at(r + 1), row_at(r + 2), row_at(r + 3), u,
                                       runtime_dim));
    }
    for (; r < len; ++r) {
      const float* e = row_at(r);
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

template <class RowAt>
void Dispatch(RowAt row_at, std::size_t len, std::size_t dim, const float* users,
              std::size_t user_count, float* out) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) {
    switch (dim) {
      case 64:
        return ScoreRowsAvx2<64>(row_at, len, dim, users, user_count, out);
      case 128:
        return ScoreRowsAvx2<128>(row_at, len, dim, users, user_count, out);
      default:
        return ScoreRowsAvx2<0>(row_at, len, dim, users, user_count, out);
    }
  }
#endif
  ScoreRowsPortable(row_at, len, dim, users, user_count, out);
}

// The integer dot product of two code vectors: exact (|sum| <= dim · 127², far from overflow).
inline std::int32_t CodeDot(const std::int8_t* a, const std::int8_t* b, std::size_t dim) {
  std::int32_t dot = 0;
  for (std::size_t d = 0; d < dim; ++d) dot += std::int32_t{a[d]} * std::int32_t{b[d]};
  return dot;
}

void ScoreQuantizedPortable(const std::int8_t* codes, const float* scales, std::size_t len,
                            std::size_t dim, const std::int8_t* user, float user_scale,
                            float* out) {
  for (std::size_t r = 0; r < len; ++r) {
    out[r] = static_cast<float>(CodeDot(codes + r * dim, user, dim)) * (scales[r] * user_scale);
  }
}

#if defined(__x86_64__)
// Sixteen codes widened to 16 bits.
__attribute__((target("avx2"))) inline __m256i Widen16(const std::int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

constexpr std::size_t kHeldBlocks = 8;  // user blocks of 16 codes kept in registers

// Eight 32-bit partial sums of codes c · user over `blocks` blocks of 16; the first kHeldBlocks
// of the user's blocks come widened in `held`.
__attribute__((target("avx2"))) inline __m256i CodeDots(const std::int8_t* c, const __m256i* held,
                                                        const std::int8_t* user,
                                                        std::size_t blocks) {
  __m256i acc = _mm256_setzero_si256();
  for (std::size_t k = 0; k < blocks; ++k) {
    const __m256i u = k < kHeldBlocks ? held[k] : Widen16(user + 16 * k);
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(Widen16(c + 16 * k), u));
  }
  return acc;
}

// Four quantised rows a step: sixteen codes of a row widened to 16 bits, multiplied with the
// user's (widened once, before the loop) and summed in pairs into 32-bit lanes (vpmaddwd), so a
// 64-dimensional row is four loads, four multiplies and four adds, with one horizontal reduction
// for the four rows. Exact integer sums: the same scores as the portable code. The last
// dim % 16 dimensions and len % 4 rows by the portable code.
template <std::size_t kDim>
__attribute__((target("avx2"))) void ScoreQuantizedAvx2(const std::int8_t* codes,
                                                        const float* scales, std::size_t len,
                                                        std::size_t runtime_dim,
                                                        const std::int8_t* user, float user_scale,
                                                        float* out) {
  const std::size_t dim = kDim > 0 ? kDim : runtime_dim;
  const std::size_t body = dim - dim % 16;
  const std::size_t blocks = body / 16;
  __m256i held[kHeldBlocks];
  for (std::size_t k = 0; k < std::min(blocks, kHeldBlocks); ++k) held[k] = Widen16(user + 16 * k);
  const __m128 user_scale4 = _mm_set1_ps(user_scale);
  std::size_t r = 0;
  for (; r + 4 <= len; r += 4) {
    const std::int8_t* c0 = codes + r * dim;
    const __m256i h = _mm256_hadd_epi32(
        _mm256_hadd_epi32(CodeDots(c0, held, user, blocks), CodeDots(c0 + dim, held, user, blocks)),
        _mm256_hadd_epi32(CodeDots(c0 + 2 * dim, held, user, blocks),
                          CodeDots(c0 + 3 * dim, held, user, blocks)));
    __m128i dots = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    if (body < dim) {
      const auto tail = [&](const std::int8_t* c) {
        return CodeDot(c + body, user + body, dim - body);
      };
      dots = _mm_add_epi32(
          dots, _mm_setr_epi32(tail(c0), tail(c0 + dim), tail(c0 + 2 * dim), tail(c0 + 3 * dim)));
    }
    _mm_storeu_ps(out + r, _mm_mul_ps(_mm_cvtepi32_ps(dots),
                                      _mm_mul_ps(_mm_loadu_ps(scales + r), user_scale4)));
  }
  if (r < len) {
    ScoreQuantizedPortable(codes + r * dim, scales + r, len - r, dim, user, user_scale, out + r);
  }
}
#endif

constexpr std::size_t kPanel = 8;  // centroids per block of CentroidPanels

// The best (highest, then lowest index) of 8 lanes of values and centroid indices.
inline void BestOfLanes(const float* values, const std::uint32_t* indices, std::uint32_t* nearest,
                        float* best) {
  std::uint32_t at = indices[0];
  float value = values[0];
  for (std::size_t l = 1; l < kPanel; ++l) {
    if (values[l] > value || (values[l] == value && indices[l] < at)) {
      value = values[l];
      at = indices[l];
    }
  }
  *nearest = at;
  *best = value;
}

void NearestCentroidsPortable(const float* const* rows, std::size_t len, std::size_t dim,
                              const float* panels, std::size_t count, std::uint32_t* nearest,
                              float* best) {
  const std::size_t blocks = (count + kPanel - 1) / kPanel;
  for (std::size_t r = 0; r < len; ++r) {
    const float* row = rows[r];
    float best_v[kPanel];
    std::uint32_t best_i[kPanel];
    std::fill_n(best_v, kPanel, -std::numeric_limits<float>::infinity());
    std::fill_n(best_i, kPanel, 0U);
    for (std::size_t k = 0; k < blocks; ++k) {
      const float* panel = panels + k * dim * kPanel;
      float acc[kPanel] = {};
      for (std::size_t d = 0; d < dim; ++d) {
        for (std::size_t l = 0; l < kPanel; ++l) acc[l] += row[d] * panel[d * kPanel + l];
      }
      for (std::size_t l = 0; l < kPanel && k * kPanel + l < count; ++l) {
        if (acc[l] > best_v[l]) {
          best_v[l] = acc[l];
          best_i[l] = static_cast<std::uint32_t>(k * kPanel + l);
        }
      }
    }
    BestOfLanes(best_v, best_i, nearest + r, best + r);
  }
}

#if defined(__x86_64__)
// kRows rows against every centroid: per dimension, two blocks of 8 centroids are loaded once and
// multiplied with each row's value broadcast (2 loads and kRows broadcasts per 2 · kRows FMAs, no
// horizontal sums); each lane keeps its best centroid, the lanes are reduced at the end.
template <std::size_t kRows>
__attribute__((target("avx2,fma"))) void NearestCentroidsAvx2(const float* const* rows,
                                                              std::size_t dim, const float* panels,
                                                              std::size_t count,
                                                              std::uint32_t* nearest, float* best) {
  const std::size_t blocks = (count + kPanel - 1) / kPanel;
  const __m256 minus_inf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  // Lanes of the last block past `count` are padding: never the best.
  const __m256 padding = _mm256_castsi256_ps(_mm256_cmpgt_epi32(
      lanes, _mm256_set1_epi32(static_cast<int>(count - (blocks - 1) * kPanel) - 1)));
  __m256 best_v[kRows];
  __m256i best_i[kRows];
  for (std::size_t i = 0; i < kRows; ++i) {
    best_v[i] = minus_inf;
    best_i[i] = _mm256_setzero_si256();
  }
  // Block k's scores of row i (padding lanes set to -inf in the last block) into its lanes' best.
  const auto keep = [&](std::size_t i, __m256 acc, std::size_t k) __attribute__((target("avx2"))) {
    if (k + 1 == blocks) acc = _mm256_blendv_ps(acc, minus_inf, padding);
    const __m256 better = _mm256_cmp_ps(acc, best_v[i], _CMP_GT_OQ);
    const __m256i index = _mm256_add_epi32(lanes, _mm256_set1_epi32(static_cast<int>(k * kPanel)));
    best_v[i] = _mm256_blendv_ps(best_v[i], acc, better);
    best_i[i] = _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(best_i[i]), _mm256_castsi256_ps(index), better));
  };
  std::size_t k = 0;
  for (; k + 2 <= blocks; k += 2) {
    const float* p0 = panels + k * dim * kPanel;
    const float* p1 = p0 + dim * kPanel;
    __m256 a0[kRows];
    __m256 a1[kRows];
    for (std::size_t i = 0; i < kRows; ++i) a0[i] = a1[i] = _mm256_setzero_ps();
    for (std::size_t d = 0; d < dim; ++d) {
      const __m256 c0 = _mm256_loadu_ps(p0 + d * kPanel);
      const __m256 c1 = _mm256_loadu_ps(p1 + d * kPanel);
      for (std::size_t i = 0; i < kRows; ++i) {
        const __m256 x = _mm256_broadcast_ss(rows[i] + d);
        a0[i] = _mm256_fmadd_ps(x, c0, a0[i]);
        a1[i] = _mm256_fmadd_ps(x, c1, a1[i]);
      }
    }
    for (std::size_t i = 0; i < kRows; ++i) {
      keep(i, a0[i], k);
      keep(i, a1[i], k + 1);
    }
  }
  if (k < blocks) {
    const float* p0 = panels + k * dim * kPanel;
    __m256 a0[kRows];
    for (std::size_t i = 0; i < kRows; ++i) a0[i] = _mm256_setzero_ps();
    for (std::size_t d = 0; d < dim; ++d) {
      const __m256 c0 = _mm256_loadu_ps(p0 + d * kPanel);
      for (std::size_t i = 0; i < kRows; ++i) {
        a0[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(rows[i] + d), c0, a0[i]);
      }
    }
    for (std::size_t i = 0; i < kRows; ++i) keep(i, a0[i], k);
  }
  for (std::size_t i = 0; i < kRows; ++i) {
    alignas(32) float values[kPanel];
    alignas(32) std::uint32_t indices[kPanel];
    _mm256_store_ps(values, best_v[i]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(indices), best_i[i]);
    BestOfLanes(values, indices, nearest + i, best + i);
  }
}
#endif

}  // namespace

std::vector<float> CentroidPanels(const float* centroids, std::size_t count, std::size_t dim) {
  const std::size_t blocks = (count + kPanel - 1) / kPanel;
  std::vector<float> panels(blocks * dim * kPanel, 0.0F);
  for (std::size_t c = 0; c < count; ++c) {
    float* block = panels.data() + (c / kPanel) * dim * kPanel;
    for (std::size_t d = 0; d < dim; ++d) block[d * kPanel + c % kPanel] = centroids[c * dim + d];
  }
  return panels;
}

void NearestCentroids(const float* const* rows, std::size_t len, std::size_t dim,
                      const float* panels, std::size_t count, std::uint32_t* nearest, float* best) {
  if (count == 0) {
    std::fill_n(nearest, len, 0U);
    std::fill_n(best, len, -std::numeric_limits<float>::infinity());
    return;
  }
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) {
    std::size_t r = 0;
    for (; r + 4 <= len; r += 4) {
      NearestCentroidsAvx2<4>(rows + r, dim, panels, count, nearest + r, best + r);
    }
    for (; r < len; ++r) {
      NearestCentroidsAvx2<1>(rows + r, dim, panels, count, nearest + r, best + r);
    }
    return;
  }
#endif
  NearestCentroidsPortable(rows, len, dim, panels, count, nearest, best);
}

float QuantizeRow(const float* v, std::size_t dim, std::int8_t* codes) {
  float max = 0;
  for (std::size_t d = 0; d < dim; ++d) max = std::max(max, std::abs(v[d]));
  const float scale = max / 127.0F;
  for (std::size_t d = 0; d < dim; ++d) {
    codes[d] = static_cast<std::int8_t>(scale > 0 ? RoundHalfAway(v[d] / scale) : 0);
  }
  return scale;
}

void ScoreQuantizedRows(const std::int8_t* codes, const float* scales, std::size_t len,
                        std::size_t dim, const std::int8_t* user, float user_scale, float* out) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) {
    if (dim == 64) return ScoreQuantizedAvx2<64>(codes, scales, len, dim, user, user_scale, out);
    return ScoreQuantizedAvx2<0>(codes, scales, len, dim, user, user_scale, out);
  }
#endif
  ScoreQuantizedPortable(codes, scales, len, dim, user, user_scale, out);
}

void ScoreRows(const float* rows, std::size_t len, std::size_t dim, const float* users,
               std::size_t user_count, float* out) {
  Dispatch([rows, dim](std::size_t r) { return rows + r * dim; }, len, dim, users, user_count, out);
}

void ScorePointedRows(const float* const* rows, std::size_t len, std::size_t dim,
                      const float* users, std::size_t user_count, float* out) {
  Dispatch([rows](std::size_t r) { return rows[r]; }, len, dim, users, user_count, out);
}

void ScoreGatheredRows(const float* items, std::span<const std::uint32_t> rows, std::size_t dim,
                       const float* user, float* out) {
  Dispatch([items, rows, dim](std::size_t r) { return items + std::size_t{rows[r]} * dim; },
           rows.size(), dim, user, 1, out);
}

}  // namespace recsd::model
