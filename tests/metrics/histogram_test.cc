#include "metrics/histogram.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace recsd::metrics {
namespace {

TEST(HistogramTest, BucketsAreUpperBoundInclusiveAndTheLastIsOpen) {
  AtomicHistogram h({1.0, 0.5, 2.0, 1.0});  // sorted, the duplicate dropped
  for (double v : {0.1, 0.5, 0.7, 1.0, 3.0, -1.0}) h.Observe(v);
  const HistogramSnapshot s = h.Snapshot();
  ASSERT_EQ(s.bounds, (std::vector<double>{0.5, 1.0, 2.0}));
  EXPECT_EQ(s.counts, (std::vector<std::uint64_t>{3, 2, 0, 1}));
  EXPECT_EQ(s.count(), 6U);
  EXPECT_DOUBLE_EQ(s.sum, 4.3);
}

TEST(HistogramTest, QuantilesInterpolateInsideTheirBucket) {
  AtomicHistogram empty({1.0});
  EXPECT_EQ(empty.Snapshot().Quantile(0.99), 0.0);

  AtomicHistogram h(ExponentialBounds(0.001, 2, 12));  // 1 ms .. 2.048 s
  for (int ms = 1; ms <= 1000; ++ms) h.Observe(ms / 1000.0);
  const HistogramSnapshot s = h.Snapshot();
  // Interpolation assumes values spread evenly over a bucket: here the top bucket (0.512, 1.024]
  // holds values up to 1.0 only, so p99 reads a little high.
  EXPECT_NEAR(s.Quantile(0.5), 0.5, 0.02);
  EXPECT_NEAR(s.Quantile(0.99), 0.99, 0.03);
  EXPECT_LT(s.Quantile(0.5), s.Quantile(0.99));
  AtomicHistogram inf({1.0});
  inf.Observe(50);
  EXPECT_EQ(inf.Snapshot().Quantile(1.0), 1.0);  // +Inf answers its lower bound
}

TEST(HistogramTest, ConcurrentObservationsAllCount) {
  AtomicHistogram h({0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) h.Observe(i % 2 == 0 ? 0.25 : 1.0);
    });
  }
  for (auto& t : threads) t.join();
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.counts[0], 20'000U);
  EXPECT_EQ(s.counts[1], 20'000U);
  EXPECT_DOUBLE_EQ(s.sum, 20'000 * 1.25);
}

TEST(HistogramTest, ExponentialBounds) {
  EXPECT_EQ(ExponentialBounds(1, 10, 3), (std::vector<double>{1, 10, 100}));
}

}  // namespace
}  // namespace recsd::metrics
