#pragma once

#include <cstddef>

namespace recsd::bench {

// Sums n floats with four independent AVX2 accumulators when the CPU has AVX2 (SSE2 otherwise):
// one plain read of the data at the machine's best rate, the memory-bandwidth bound that the
// scans of the catalog matrix are measured against. Not a correct float sum for any purpose but
// that (the order of additions is arbitrary).
float StreamSum(const float* data, std::size_t n);

}  // namespace recsd::bench
