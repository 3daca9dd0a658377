#include <gtest/gtest.h>

#include "daemon/pipeline.h"

namespace recsd::daemon {
namespace {

TEST(FreshnessHistogramTest, EmptyHasNoQuantiles) {
  FreshnessHistogram h;
  EXPECT_EQ(h.count(), 0U);
  EXPECT_EQ(h.Quantile(0.99), 0.0);
}

// A quantile is the upper bound of the bucket holding it: at most 1.5x the true value.
TEST(FreshnessHistogramTest, QuantilesAreBucketUpperBoundsWithinOneAndAHalf) {
  FreshnessHistogram h;
  for (int ms = 1; ms <= 1000; ++ms) h.Record(ms);
  EXPECT_EQ(h.count(), 1000U);
  const double p50 = h.Quantile(0.5);
  const double p99 = h.Quantile(0.99);
  EXPECT_GE(p50, 500.0);
  EXPECT_LT(p50, 750.0);
  EXPECT_GE(p99, 990.0);
  EXPECT_LT(p99, 1485.0);
  EXPECT_LT(p50, p99);
}

TEST(FreshnessHistogramTest, ZeroNegativeAndHugeValuesLandInTheEndBuckets) {
  FreshnessHistogram h;
  h.Record(0);
  EXPECT_EQ(h.Quantile(1.0), 1.0);
  h.Record(std::int64_t{1} << 50);
  EXPECT_EQ(h.Quantile(1.0), FreshnessHistogram::UpperBound(FreshnessHistogram::kBuckets - 1));
}

}  // namespace
}  // namespace recsd::daemon
