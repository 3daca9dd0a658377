#include "model/popularity.h"

#include <cmath>
#include <string>

#include <gtest/gtest.h>

namespace recsd::model {
namespace {

TEST(DecayedCounterTest, ValuesDecayWithTheHalfLife) {
  DecayedCounter<std::string> c(/*half_life=*/10, /*max_keys=*/100);
  c.Add(0, 4.0, "a");
  EXPECT_DOUBLE_EQ(c.ValueAt("a", 0), 4.0);
  EXPECT_DOUBLE_EQ(c.ValueAt("a", 10), 2.0);
  c.Add(10, 1.0, "a");
  EXPECT_DOUBLE_EQ(c.ValueAt("a", 10), 3.0);
  EXPECT_EQ(c.ValueAt("missing", 10), 0.0);
}

TEST(DecayedCounterTest, TopNRanksByDecayedValue) {
  DecayedCounter<std::string> c(10, 100);
  c.Add(0, 8.0, "old");      // worth 1 at t=30
  c.Add(30, 2.0, "recent");  // worth 2 at t=30
  c.Add(30, 2.0, "tie");
  c.Add(30, 0.5, "small");
  const auto top = c.TopN(3, 30);
  ASSERT_EQ(top.size(), 3U);
  EXPECT_EQ(top[0].first, "recent");  // ties broken by key
  EXPECT_EQ(top[1].first, "tie");
  EXPECT_EQ(top[2].first, "old");
  EXPECT_DOUBLE_EQ(top[2].second, 1.0);
  EXPECT_EQ(c.TopN(10, 30).size(), 4U);
}

TEST(DecayedCounterTest, RebasingKeepsValuesAndDropsDecayedKeys) {
  DecayedCounter<int> c(1, 100, /*floor=*/1e-6);
  c.Add(0, 1.0, 1);
  c.Add(0, 1e12, 2);
  // Far past kRebaseHalfLives: the frame is rebased; key 1 fell below the floor and is gone,
  // key 2 keeps its exact decayed value.
  c.Add(40, 1.0, 3);
  EXPECT_EQ(c.size(), 2U);
  EXPECT_EQ(c.ValueAt(1, 40), 0.0);
  EXPECT_NEAR(c.ValueAt(2, 40), 1e12 * std::exp2(-40.0), 1e-9);
  EXPECT_DOUBLE_EQ(c.ValueAt(3, 40), 1.0);
}

TEST(DecayedCounterTest, SizeIsBoundedEvenWhenAllValuesTie) {
  DecayedCounter<int> c(100, 64);
  for (int k = 0; k < 10000; ++k) c.Add(0, 1.0, k);  // every value equal
  EXPECT_LE(c.size(), 64U);
  EXPECT_GE(c.size(), 48U);
}

TEST(DecayedCounterTest, ShrinkKeepsTheStrongest) {
  DecayedCounter<int> c(100, 8);
  for (int k = 0; k < 4; ++k) c.Add(0, 100.0 + k, k);
  for (int k = 100; k < 200; ++k) c.Add(0, 1.0, k);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(c.ValueAt(k, 0), 100.0 + k) << k;
}

}  // namespace
}  // namespace recsd::model
