#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace recsd::metrics {

// What a histogram held at one moment: counts per bucket (not cumulative), the buckets' upper
// bounds (the last bucket, +Inf, has none: counts.size() == bounds.size() + 1) and the sum.
struct HistogramSnapshot {
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  double sum = 0;

  std::uint64_t count() const noexcept;
  // The q-quantile (0 < q <= 1), interpolated linearly inside its bucket as Prometheus'
  // histogram_quantile does (the +Inf bucket answers its lower bound); 0 when empty.
  double Quantile(double q) const noexcept;
};

// A histogram any thread records into and any thread reads, without locks: one relaxed atomic
// counter per bucket. Bounds are fixed at construction (sorted, duplicates dropped).
class AtomicHistogram {
 public:
  explicit AtomicHistogram(std::vector<double> upper_bounds);
  void Observe(double value) noexcept;
  HistogramSnapshot Snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Upper bounds start, start × factor, ... (count of them).
std::vector<double> ExponentialBounds(double start, double factor, std::size_t count);

}  // namespace recsd::metrics
