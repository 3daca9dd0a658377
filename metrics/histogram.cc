#include "metrics/histogram.h"

#include <algorithm>
#include <cmath>

namespace recsd::metrics {

std::uint64_t HistogramSnapshot::count() const noexcept {
  std::uint64_t n = 0;
  for (std::uint64_t c : counts) n += c;
  return n;
}

double HistogramSnapshot::Quantile(double q) const noexcept {
  const std::uint64_t n = count();
  if (n == 0) return 0;
  const double rank = q * static_cast<double>(n);
  double seen = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const auto c = static_cast<double>(counts[i]);
    if (seen + c >= rank && c > 0) {
      const double lower = i == 0 ? 0.0 : bounds[i - 1];
      if (i == bounds.size()) return lower;  // +Inf: nothing better than its lower bound
      return lower + (bounds[i] - lower) * std::clamp((rank - seen) / c, 0.0, 1.0);
    }
    seen += c;
  }
  return bounds.empty() ? 0.0 : bounds.back();
}

AtomicHistogram::AtomicHistogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  counts_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
}

void AtomicHistogram::Observe(double value) noexcept {
  // Bucket i holds bounds_[i-1] < value <= bounds_[i] (Prometheus' "le").
  const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                          bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

HistogramSnapshot AtomicHistogram::Snapshot() const {
  HistogramSnapshot s;
  s.bounds = bounds_;
  s.counts.reserve(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    s.counts.push_back(counts_[i].load(std::memory_order_relaxed));
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> ExponentialBounds(double start, double factor, std::size_t count) {
  std::vector<double> bounds;
  double b = start;
  for (std::size_t i = 0; i < count; ++i, b *= factor) bounds.push_back(b);
  return bounds;
}

}  // namespace recsd::metrics
