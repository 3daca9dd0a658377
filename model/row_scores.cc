#include "model/row_scores.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace recsd::model {
namespace {

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
// Eight values of a row as floats: loaded, or widened from int8 codes.
__attribute__((target("avx2"))) inline __m256 Load8(const float* p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2"))) inline __m256 Load8(const std::int8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// The dot products of four rows with u, in row order: one load of the user's values serves the
// four rows, and one horizontal reduction sums them. kDim as for ScoreRowsAvx2.
template <std::size_t kDim, class T>
__attribute__((target("avx2,fma"))) inline __m128 Dots4(const T* e0, const T* e1, const T* e2,
                                                        const T* e3, const float* u,
                                                        std::size_t runtime_dim) {
  const std::size_t dim = kDim > 0 ? kDim : runtime_dim;
  const std::size_t body = dim - dim % 8;
  __m256 a0 = _mm256_setzero_ps();
  __m256 a1 = _mm256_setzero_ps();
  __m256 a2 = _mm256_setzero_ps();
  __m256 a3 = _mm256_setzero_ps();
  for (std::size_t d = 0; d < body; d += 8) {
    const __m256 ud = _mm256_loadu_ps(u + d);
    a0 = _mm256_fmadd_ps(Load8(e0 + d), ud, a0);
    a1 = _mm256_fmadd_ps(Load8(e1 + d), ud, a1);
    a2 = _mm256_fmadd_ps(Load8(e2 + d), ud, a2);
    a3 = _mm256_fmadd_ps(Load8(e3 + d), ud, a3);
  }
  // hadd(hadd(a0, a1), hadd(a2, a3)) holds the four sums of lanes 0-3 in its low half and of
  // lanes 4-7 in its high half, in row order.
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  __m128 dots = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  if (body < dim) {
    const auto tail = [&](const T* e) {
      float dot = 0;
      for (std::size_t d = body; d < dim; ++d) dot += static_cast<float>(e[d]) * u[d];
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

void ScoreQuantizedPortable(const std::int8_t* codes, const float* scales, std::size_t len,
                            std::size_t dim, const float* user, float* out) {
  for (std::size_t r = 0; r < len; ++r) {
    const std::int8_t* c = codes + r * dim;
    float dot = 0;
    for (std::size_t d = 0; d < dim; ++d) dot += static_cast<float>(c[d]) * user[d];
    out[r] = dot * scales[r];
  }
}

#if defined(__x86_64__)
// Four quantised rows a step, as ScoreRowsAvx2; the last len % 4 rows by the portable code.
template <std::size_t kDim>
__attribute__((target("avx2,fma"))) void ScoreQuantizedAvx2(const std::int8_t* codes,
                                                            const float* scales, std::size_t len,
                                                            std::size_t dim, const float* user,
                                                            float* out) {
  std::size_t r = 0;
  for (; r + 4 <= len; r += 4) {
    const std::int8_t* c0 = codes + r * dim;
    const __m128 dots = Dots4<kDim>(c0, c0 + dim, c0 + 2 * dim, c0 + 3 * dim, user, dim);
    _mm_storeu_ps(out + r, _mm_mul_ps(dots, _mm_loadu_ps(scales + r)));
  }
  if (r < len) ScoreQuantizedPortable(codes + r * dim, scales + r, len - r, dim, user, out + r);
}
#endif

}  // namespace

void ScoreQuantizedRows(const std::int8_t* codes, const float* scales, std::size_t len,
                        std::size_t dim, const float* user, float* out) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) {
    if (dim == 64) return ScoreQuantizedAvx2<64>(codes, scales, len, dim, user, out);
    return ScoreQuantizedAvx2<0>(codes, scales, len, dim, user, out);
  }
#endif
  ScoreQuantizedPortable(codes, scales, len, dim, user, out);
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
