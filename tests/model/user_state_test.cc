#include "model/user_state.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace recsd::model {
namespace {

constexpr std::size_t kDim = 4;

UserStateOptions Options() {
  UserStateOptions o;
  o.dim = kDim;
  o.half_lives = {10.0, 1000.0};
  o.category_half_life = 100.0;
  o.max_categories = 3;
  o.recent_capacity = 4;
  o.max_pending = 2;
  return o;
}

const std::vector<float> kE = {1, 0, 0, 0};

TEST(UserStateTest, SkipsEventsAtOrBelowTheLastAppliedOffset) {
  const UserStateOptions o = Options();
  UserState s(o);
  ASSERT_TRUE(s.Observe(5, 100, 1.0, ItemId("a"), kE, 0));
  const double mass = s.interest().MassAt(0, 100);
  EXPECT_FALSE(s.Observe(5, 100, 1.0, ItemId("a"), kE, 0));  // re-delivered
  EXPECT_FALSE(s.Observe(3, 100, 1.0, ItemId("b"), kE, 0));  // older
  EXPECT_EQ(s.interest().MassAt(0, 100), mass);
  EXPECT_EQ(s.event_count(), 1U);
  EXPECT_EQ(s.last_offset(), 5);
  EXPECT_FALSE(s.HasSeen(ItemId("b")));
  EXPECT_TRUE(s.Observe(6, 101, 1.0, ItemId("b"), kE, 0));
  EXPECT_EQ(s.event_count(), 2U);
}

TEST(UserStateTest, RecentItemsAreARingOfTheLastN) {
  const UserStateOptions o = Options();
  UserState s(o);
  for (int i = 0; i < 6; ++i) {
    s.Observe(i, i, 1.0, ItemId("i" + std::to_string(i)), kE, kNoCategory);
  }
  const std::vector<RecentItem> recent = s.Recent();
  ASSERT_EQ(recent.size(), 4U);
  EXPECT_EQ(recent.front().item.str(), "i2");  // oldest kept
  EXPECT_EQ(recent.back().item.str(), "i5");
  EXPECT_FALSE(s.HasSeen(ItemId("i1")));
  EXPECT_TRUE(s.HasSeen(ItemId("i2")));
}

TEST(UserStateTest, CategoryAffinityDecaysWithItsHalfLife) {
  const UserStateOptions o = Options();
  UserState s(o);
  s.Observe(0, 0, 2.0, ItemId("a"), kE, 7);
  EXPECT_DOUBLE_EQ(s.CategoryAffinityAt(7, 0), 2.0);
  EXPECT_DOUBLE_EQ(s.CategoryAffinityAt(7, 100), 1.0);
  s.Observe(1, 100, 1.0, ItemId("b"), kE, 7);
  EXPECT_DOUBLE_EQ(s.CategoryAffinityAt(7, 100), 2.0);
  EXPECT_EQ(s.CategoryAffinityAt(8, 100), 0.0);
  // A late event adds its decayed weight and does not move the clock.
  s.Observe(2, 0, 4.0, ItemId("c"), kE, 7);
  EXPECT_DOUBLE_EQ(s.CategoryAffinityAt(7, 100), 4.0);
  EXPECT_EQ(s.clock(), 100);
}

TEST(UserStateTest, CategoryAffinitiesAreBoundedAndKeepTheStrongest) {
  const UserStateOptions o = Options();
  UserState s(o);
  std::int64_t offset = 0;
  for (CategoryId c : {1, 2, 3}) s.Observe(offset++, 0, 5.0, ItemId("x"), kE, c);
  // A burst of weak one-off categories does not push out the strong ones.
  for (CategoryId c = 10; c < 50; ++c) s.Observe(offset++, 0, 1.0, ItemId("y"), kE, c);
  ASSERT_EQ(s.categories().size(), 3U);
  for (const CategoryAffinity& c : s.categories()) EXPECT_LE(c.category, 3);
  // A stronger newcomer replaces the weakest.
  s.Observe(offset++, 0, 1.0, ItemId("z"), kE, 2);
  s.Observe(offset++, 0, 9.0, ItemId("z"), kE, 99);
  EXPECT_EQ(s.categories().size(), 3U);
  EXPECT_EQ(s.CategoryAffinityAt(99, 0), 9.0);
  EXPECT_EQ(s.CategoryAffinityAt(2, 0), 6.0);
  EXPECT_EQ(s.CategoryAffinityAt(1, 0) + s.CategoryAffinityAt(3, 0), 5.0);
}

TEST(UserStateTest, PendingListsAreBounded) {
  const UserStateOptions o = Options();
  UserState s(o);
  for (int i = 0; i < 3; ++i) {
    PendingList p;
    p.rec = "r" + std::to_string(i);
    s.AddPending(std::move(p));
  }
  ASSERT_EQ(s.pending().size(), 2U);
  EXPECT_EQ(s.pending()[0].rec, "r1");
  EXPECT_EQ(s.pending()[1].rec, "r2");
}

TEST(UserStateTest, BytesAccountForInterestRingAndPendingLists) {
  UserStateOptions o = Options();
  o.dim = 64;
  o.recent_capacity = 32;
  UserState s(o);
  const std::size_t empty = s.ApproxBytes();
  // Two time scales of 64 floats are already allocated.
  EXPECT_GE(empty, sizeof(UserState) + 2 * 64 * sizeof(float));
  const std::vector<float> e(64, 0.125F);
  for (int i = 0; i < 40; ++i) {
    s.Observe(i, i, 1.0, ItemId("a-long-item-identifier-" + std::to_string(i)), e, i % 5);
  }
  const std::size_t full = s.ApproxBytes();
  // 32 ring entries with ids beyond the inline string buffer.
  EXPECT_GE(full, empty + 32 * (sizeof(RecentItem) + 25));
  PendingList p;
  p.items.assign(20, ItemId("i"));
  p.feature_dim = 6;
  p.features.assign(120, 0.0F);
  s.AddPending(std::move(p));
  EXPECT_GE(s.ApproxBytes(), full + 20 * sizeof(ItemId) + 120 * sizeof(float));
}

}  // namespace
}  // namespace recsd::model
