#include "model/attribution.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace recsd::model {
namespace {

constexpr std::size_t kFeatures = 6;

constexpr std::int64_t kMinute = 60'000;

// A list "r<id>" of `n` items "<id>-0".. shown at `at`, item p's features all equal to p / 10.
PendingList List(const std::string& id, std::int64_t at, std::size_t n) {
  PendingList l;
  l.rec = "r" + id;
  l.shown_at = {at};
  l.feature_dim = kFeatures;
  for (std::size_t p = 0; p < n; ++p) {
    l.items.emplace_back(id + "-" + std::to_string(p));
    for (std::size_t s = 0; s < kFeatures; ++s) {
      l.features.push_back(static_cast<float>(p) / 10);
    }
  }
  return l;
}

struct Fixture {
  Fixture() : user(options) {}
  UserStateOptions options;
  UserState user;
  AttributionOptions attribution;
};

TEST(AttributionTest, AClickNamingItsListIsAttributedOnce) {
  Fixture f;
  f.user.AddPending(List("a", 0, 5));
  const auto at =
      AttributeClick(&f.user, ItemId("a-2"), std::string("ra"), 2U, {kMinute}, f.attribution);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(at->rec, "ra");
  EXPECT_EQ(at->pos, 2U);
  EXPECT_TRUE(
      AttributeClick(&f.user, ItemId("a-2"), std::string("ra"), 2U, {kMinute}, f.attribution));
  EXPECT_EQ(f.user.pending()[0].clicked, (std::vector<std::uint32_t>{2}));  // counted once
  // A wrong position is corrected from the item; an item not in the list is organic.
  const auto moved =
      AttributeClick(&f.user, ItemId("a-4"), std::string("ra"), 1U, {kMinute}, f.attribution);
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->pos, 4U);
  EXPECT_FALSE(
      AttributeClick(&f.user, ItemId("zzz"), std::string("ra"), 0U, {kMinute}, f.attribution));
  EXPECT_FALSE(
      AttributeClick(&f.user, ItemId("a-0"), std::string("rnone"), 0U, {kMinute}, f.attribution));
}

TEST(AttributionTest, AClickWithoutAListGoesToTheLatestListInTheWindow) {
  Fixture f;
  f.user.AddPending(List("a", 0, 3));
  PendingList b = List("b", 10 * kMinute, 3);
  b.items[1] = ItemId("a-1");  // the same item in both lists
  f.user.AddPending(b);
  const auto at = AttributeClick(&f.user, ItemId("a-1"), std::nullopt, std::nullopt, {20 * kMinute},
                                 f.attribution);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(at->rec, "rb");
  // a-2 is only in list a, shown 35 minutes ago: outside the 30-minute window.
  EXPECT_FALSE(AttributeClick(&f.user, ItemId("a-2"), std::nullopt, std::nullopt, {35 * kMinute},
                              f.attribution));
  EXPECT_FALSE(
      AttributeClick(&f.user, ItemId("a-2"), std::string("ra"), 2U, {35 * kMinute}, f.attribution));
  EXPECT_TRUE(AttributeClick(&f.user, ItemId("a-2"), std::nullopt, std::nullopt, {29 * kMinute},
                             f.attribution));
}

TEST(AttributionTest, ExamplesArePositivesAndExaminedNegatives) {
  AttributionOptions o;
  PendingList l = List("a", 0, 8);
  l.clicked = {3, 0};
  std::vector<FeedbackExample> ex;
  ExamplesOf(l, o, &ex);
  ASSERT_EQ(ex.size(), 4U);  // positives 3 and 0, negatives 1 and 2 (above the deepest click)
  EXPECT_TRUE(ex[0].clicked);
  EXPECT_FLOAT_EQ(ex[0].x[0], 0.3F);  // the features it was served with
  EXPECT_TRUE(ex[1].clicked);
  EXPECT_FALSE(ex[2].clicked);
  EXPECT_FLOAT_EQ(ex[2].x[5], 0.1F);
  EXPECT_FALSE(ex[3].clicked);
  EXPECT_FLOAT_EQ(ex[3].x[5], 0.2F);

  ex.clear();
  l.clicked.clear();
  ExamplesOf(l, o, &ex);  // nothing clicked: the top examine_k are negatives
  ASSERT_EQ(ex.size(), o.examine_k);
  for (const auto& e : ex) EXPECT_FALSE(e.clicked);

  ex.clear();
  l.max_shown = 1;  // impressions say only two positions were shown
  ExamplesOf(l, o, &ex);
  EXPECT_EQ(ex.size(), 2U);
}

TEST(AttributionTest, ExaminedPositionsAndTheDominantSource) {
  AttributionOptions o;
  PendingList l = List("a", 0, 8);
  EXPECT_EQ(ExaminedPositions(l, o), o.examine_k);
  l.clicked = {6};
  EXPECT_EQ(ExaminedPositions(l, o), 7U);
  l.max_shown = 2;
  EXPECT_EQ(ExaminedPositions(l, o), 3U);
  EXPECT_EQ(ExaminedPositions(List("b", 0, 2), o), 2U);  // never past the list's end
  // Position 4: source 3 scores highest; ties go to the first source.
  l.features[4 * kFeatures + 3] = 0.9F;
  EXPECT_EQ(DominantSource(l, 4), 3U);
  EXPECT_EQ(DominantSource(l, 5), 0U);
}

TEST(AttributionTest, ClicksDeepInAListWeighMoreWithPropensityWeighting) {
  AttributionOptions o;
  o.propensity_power = 1.0;
  o.max_propensity_weight = 4.0;
  PendingList l = List("a", 0, 10);
  l.clicked = {0, 2, 9};
  std::vector<FeedbackExample> ex;
  ExamplesOf(l, o, &ex);
  ASSERT_GE(ex.size(), 3U);
  EXPECT_DOUBLE_EQ(ex[0].weight, 1.0);
  EXPECT_DOUBLE_EQ(ex[1].weight, 3.0);
  EXPECT_DOUBLE_EQ(ex[2].weight, 4.0);  // capped
  for (std::size_t i = 3; i < ex.size(); ++i) EXPECT_DOUBLE_EQ(ex[i].weight, 1.0);
}

TEST(AttributionTest, ImpressionsNeedTheirList) {
  Fixture f;
  f.user.AddPending(List("a", 0, 3));
  EXPECT_TRUE(RecordImpression(&f.user, "ra", 1));
  EXPECT_TRUE(RecordImpression(&f.user, "ra", 0));
  EXPECT_EQ(f.user.pending()[0].max_shown, 1);
  EXPECT_FALSE(RecordImpression(&f.user, "ra", 3));  // no such position
  EXPECT_FALSE(RecordImpression(&f.user, "rb", 0));
}

TEST(AttributionTest, ReplacedAndExpiredListsAreHandedBack) {
  Fixture f;
  f.options.max_pending = 2;
  UserState user(f.options);
  EXPECT_FALSE(user.AddPending(List("a", 0, 1)).has_value());
  EXPECT_FALSE(user.AddPending(List("b", kMinute, 1)).has_value());
  const auto dropped = user.AddPending(List("c", 2 * kMinute, 1));
  ASSERT_TRUE(dropped.has_value());
  EXPECT_EQ(dropped->rec, "ra");
  const auto expired = user.TakePendingShownBefore({2 * kMinute});
  ASSERT_EQ(expired.size(), 1U);
  EXPECT_EQ(expired[0].rec, "rb");
  ASSERT_EQ(user.pending().size(), 1U);
  EXPECT_EQ(user.pending()[0].rec, "rc");
}

}  // namespace
}  // namespace recsd::model
