#include "model/guard.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace recsd::model {
namespace {

// The naive two-proportion z of the same counts, lists taken as independent.
double NaiveZ(double lists_l, double clicked_l, double lists_h, double clicked_h) {
  const double p = (clicked_l + clicked_h) / (lists_l + lists_h);
  return (clicked_l / lists_l - clicked_h / lists_h) /
         std::sqrt(p * (1 - p) * (1 / lists_l + 1 / lists_h));
}

// One trial: 20 holdout and 180 learned users with the same spread of click rates (each user's
// own rate uniform in [0.02, 0.5]), 200 lists each in random order. Returns the guard's z and
// the naive one.
std::pair<double, double> Trial(std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  struct User {
    GuardStats::Arm arm;
    double rate;
    GuardUser counts;
  };
  std::vector<User> users;
  for (int u = 0; u < 200; ++u) {
    users.push_back(
        {u < 20 ? GuardStats::kHoldout : GuardStats::kLearned, 0.02 + 0.48 * uniform(rng), {}});
  }
  GuardStats stats(1e12);  // no decay: every list counts
  double lists[2] = {0, 0};
  double clicked[2] = {0, 0};
  for (int i = 0; i < 200 * 200; ++i) {
    User& u = users[rng() % users.size()];
    const bool click = uniform(rng) < u.rate;
    stats.Add(u.arm, click, &u.counts);
    lists[u.arm] += 1;
    clicked[u.arm] += click ? 1 : 0;
  }
  EXPECT_NEAR(stats.lists(GuardStats::kHoldout), lists[GuardStats::kHoldout],
              1e-6 * lists[GuardStats::kHoldout]);  // 40,000 steps of 1e12 half-lives
  EXPECT_NEAR(stats.rate(GuardStats::kLearned),
              clicked[GuardStats::kLearned] / lists[GuardStats::kLearned], 1e-9);
  return {stats.z(), NaiveZ(lists[0], clicked[0], lists[1], clicked[1])};
}

// Stated: with the same weights for everyone (no true difference), the guard's z spreads like a
// standard normal across trials, whereas the naive z that counts lists as independent spreads
// several times wider, and would revert (|z| > 3) in a large share of them.
TEST(GuardStatsTest, UsersAreTheClustersSoWhoIsInTheHoldoutDoesNotLookLikeADifference) {
  double guard_sq = 0;
  double naive_sq = 0;
  int naive_reverts = 0;
  int guard_reverts = 0;
  constexpr int kTrials = 60;
  for (int t = 0; t < kTrials; ++t) {
    const auto [guard, naive] = Trial(static_cast<std::uint32_t>(t + 1));
    guard_sq += guard * guard;
    naive_sq += naive * naive;
    naive_reverts += naive < -3 ? 1 : 0;
    guard_reverts += guard < -3 ? 1 : 0;
  }
  const double guard_sd = std::sqrt(guard_sq / kTrials);
  const double naive_sd = std::sqrt(naive_sq / kTrials);
  EXPECT_GT(guard_sd, 0.6);
  EXPECT_LT(guard_sd, 1.5);
  EXPECT_GT(naive_sd, 2.5 * guard_sd);
  EXPECT_LE(guard_reverts, 1);
  EXPECT_GE(naive_reverts, 5);
}

// Stated: with one list per user the statistic is the two-proportion test without pooling, and
// a real difference is found.
TEST(GuardStatsTest, OneListPerUserIsTheUnpooledTwoProportionTest) {
  GuardStats stats(1e12);
  for (int i = 0; i < 1000; ++i) stats.Add(GuardStats::kLearned, i % 10 == 0, nullptr);  // 0.1
  for (int i = 0; i < 1000; ++i) stats.Add(GuardStats::kHoldout, i % 5 == 0, nullptr);   // 0.2
  const double se = std::sqrt(0.1 * 0.9 / 1000 + 0.2 * 0.8 / 1000);
  EXPECT_NEAR(stats.z(), (0.1 - 0.2) / se, 1e-6);
  EXPECT_LT(stats.z(), -3);
}

// Stated: counts decay by half every half-life of finished lists, a user's own lazily.
TEST(GuardStatsTest, CountsDecayWithFinishedLists) {
  GuardStats stats(10);
  GuardUser a;
  for (int i = 0; i < 10; ++i) stats.Add(GuardStats::kLearned, true, &a);
  const double before = stats.lists(GuardStats::kLearned);
  GuardUser b;
  for (int i = 0; i < 10; ++i) stats.Add(GuardStats::kHoldout, false, &b);
  EXPECT_NEAR(stats.lists(GuardStats::kLearned), before / 2, 1e-9);
  stats.Add(GuardStats::kLearned, true, &a);  // a's counts catch up with the decay, then grow
  EXPECT_NEAR(a.lists, before / 2 * std::exp2(-0.1) + 1, 1e-9);
}

}  // namespace
}  // namespace recsd::model
