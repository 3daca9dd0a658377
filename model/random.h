#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace recsd::model {

// SplitMix64 (Steele, Lea and Flood, OOPSLA 2014): a small, fast, well-mixed generator whose
// output is the same on every platform for a seed, unlike the <random> distributions. Randomness
// enters model/ only as such a seed.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1).
  double Uniform() { return (static_cast<double>(Next() >> 11) + 0.5) * 0x1.0p-53; }
  // Uniform in [0, n) for n > 0.
  std::uint64_t Below(std::uint64_t n) {
    return static_cast<std::uint64_t>(Uniform() * static_cast<double>(n)) % n;
  }
  // Standard normal (Box–Muller).
  double Normal() {
    const double u = Uniform();
    const double v = Uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::numbers::pi * v);
  }

 private:
  std::uint64_t state_;
};

}  // namespace recsd::model
