#include "stream_read.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace recsd::bench {
namespace {

float StreamSumPortable(const float* data, std::size_t n) {
  float acc[16] = {};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (std::size_t l = 0; l < 16; ++l) acc[l] += data[i + l];
  }
  float sum = 0;
  for (; i < n; ++i) sum += data[i];
  for (float a : acc) sum += a;
  return sum;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) float StreamSumAvx2(const float* data, std::size_t n) {
  __m256 a = _mm256_setzero_ps();
  __m256 b = a;
  __m256 c = a;
  __m256 d = a;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a = _mm256_add_ps(a, _mm256_loadu_ps(data + i));
    b = _mm256_add_ps(b, _mm256_loadu_ps(data + i + 8));
    c = _mm256_add_ps(c, _mm256_loadu_ps(data + i + 16));
    d = _mm256_add_ps(d, _mm256_loadu_ps(data + i + 24));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
  float sum = 0;
  for (float x : lanes) sum += x;
  for (; i < n; ++i) sum += data[i];
  return sum;
}
#endif

}  // namespace

float StreamSum(const float* data, std::size_t n) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return StreamSumAvx2(data, n);
#endif
  return StreamSumPortable(data, n);
}

}  // namespace recsd::bench
