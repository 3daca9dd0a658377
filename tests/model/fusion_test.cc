#include "model/fusion.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace recsd::model {
namespace {

constexpr std::size_t kDim = 4;

// Items i0..i{n-1}; `emb` gives each item's embedding, `cat` its category.
std::shared_ptr<const Catalog> MakeCatalog(const std::vector<std::vector<float>>& emb,
                                           const std::vector<std::string>& cat = {}) {
  CatalogBuilder b(kDim);
  for (std::size_t i = 0; i < emb.size(); ++i) {
    ItemRecord r;
    r.item = ItemId("i" + std::to_string(i));
    r.emb = emb[i];
    if (i < cat.size() && !cat[i].empty()) r.cat = cat[i];  // "" means no category
    r.ts = {1};
    b.Upsert(r);
  }
  return b.Build();
}

Candidate C(std::uint32_t row, FeatureVector x) { return {row, x}; }

constexpr std::size_t kFeatures = 6;
const std::vector<std::string> kNames = {"emb_short", "emb_long", "covisit",
                                         "trending",  "category", "fresh"};

FusionWeights Weights(std::array<double, kFeatures> w) {
  FusionWeights f;
  std::copy(w.begin(), w.end(), f.w.begin());
  f.version = 1;
  return f;
}

const auto kKeepAll = [](std::uint32_t) { return true; };

std::vector<std::string> Ids(const std::vector<RecommendedItem>& items) {
  std::vector<std::string> ids;
  for (const auto& i : items) ids.push_back(i.item.str());
  return ids;
}

TEST(NormaliseFeaturesTest, ScalesEachSourceToItsBestCandidate) {
  std::vector<Candidate> c = {C(0, {0.5F, -1, 10, -3, 0, 0}), C(1, {0.25F, 0, 40, 2, 0, 0})};
  NormaliseFeatures(&c, kFeatures);
  EXPECT_FLOAT_EQ(c[0].x[3], 0.0F);  // a negative score is no evidence, not negative evidence
  EXPECT_FLOAT_EQ(c[1].x[3], 1.0F);
  EXPECT_FLOAT_EQ(c[0].x[0], 1.0F);
  EXPECT_FLOAT_EQ(c[1].x[0], 0.5F);
  EXPECT_FLOAT_EQ(c[0].x[1], 0.0F);  // negatives clamp to 0; a source with no positive is all 0
  EXPECT_FLOAT_EQ(c[1].x[1], 0.0F);
  EXPECT_FLOAT_EQ(c[0].x[2], 0.25F);
  EXPECT_FLOAT_EQ(c[1].x[2], 1.0F);
}

TEST(NormaliseFeaturesTest, RankNormalisationKeepsOnlyTheOrderWithinASource) {
  // Source 0 is heavy-tailed, source 1 flat: after rank normalisation both fall by 1/scale per
  // rank.
  std::vector<Candidate> c = {C(0, {1000, 0.30F, 0, -1, 0, 0}), C(1, {2, 0.31F, 0, 5, 0, 0}),
                              C(2, {1, 0.29F, 0, 5, 0, 0}), C(3, {0, 0.30F, 0, 0, 0, 0})};
  NormaliseFeatures(&c, kFeatures, Normalisation::kRank, 10);
  EXPECT_FLOAT_EQ(c[0].x[0], 1.0F);
  EXPECT_FLOAT_EQ(c[1].x[0], 0.9F);
  EXPECT_FLOAT_EQ(c[2].x[0], 0.8F);
  EXPECT_FLOAT_EQ(c[3].x[0], 0.0F);  // no positive score: nothing from this source
  EXPECT_FLOAT_EQ(c[1].x[1], 1.0F);
  EXPECT_FLOAT_EQ(c[0].x[1], 0.9F);  // ties share the better rank
  EXPECT_FLOAT_EQ(c[3].x[1], 0.9F);
  EXPECT_FLOAT_EQ(c[2].x[1], 0.7F);  // and the next rank counts the tied ones
  EXPECT_FLOAT_EQ(c[1].x[3], 1.0F);
  EXPECT_FLOAT_EQ(c[2].x[3], 1.0F);
  EXPECT_FLOAT_EQ(c[0].x[3], 0.0F);
  for (const Candidate& k : c) EXPECT_FLOAT_EQ(k.x[2], 0.0F);
  // Ranks beyond the scale floor at 0.
  std::vector<Candidate> many;
  for (std::uint32_t i = 0; i < 5; ++i) many.push_back(C(i, {static_cast<float>(5 - i)}));
  NormaliseFeatures(&many, kFeatures, Normalisation::kRank, 2);
  EXPECT_FLOAT_EQ(many[1].x[0], 0.5F);
  EXPECT_FLOAT_EQ(many[2].x[0], 0.0F);
  EXPECT_FLOAT_EQ(many[4].x[0], 0.0F);
}

TEST(RankTest, ScoresAreWeightedSumsExplainedByContributions) {
  const auto cat = MakeCatalog({{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}});
  const std::vector<Candidate> c = {C(0, {1, 0, 0, 0.5F, 0, 0}), C(1, {0, 0, 1, 1, 0, 0}),
                                    C(2, {0.5F, 0, 0, 0, 0, 0})};
  const auto items = Rank(c, Weights({2, 0, 1, 1, 0, 0}), kNames, *cat, {.k = 10}, kKeepAll);
  ASSERT_EQ(Ids(items), (std::vector<std::string>{"i0", "i1", "i2"}));  // 2.5, 2, 1
  EXPECT_FLOAT_EQ(items[0].score, 2.5F);
  for (const auto& item : items) {
    float sum = 0;
    for (const auto& [source, contribution] : item.src) {
      EXPECT_NE(contribution, 0.0F);
      EXPECT_NE(std::find(kNames.begin(), kNames.end(), source), kNames.end()) << source;
      sum += contribution;
    }
    EXPECT_FLOAT_EQ(sum, item.score) << item.item.str();
  }
  ASSERT_EQ(items[1].src.size(), 2U);
  EXPECT_EQ(items[1].src[0].first, "covisit");
  EXPECT_EQ(items[1].src[1].first, "trending");
}

TEST(RankTest, DropsRejectedAndRepeatedRowsAndKeepsK) {
  const auto cat = MakeCatalog({{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}});
  const std::vector<Candidate> c = {C(0, {4, 0, 0, 0, 0, 0}), C(1, {3, 0, 0, 0, 0, 0}),
                                    C(1, {1, 0, 0, 0, 0, 0}), C(2, {2, 0, 0, 0, 0, 0}),
                                    C(3, {1, 0, 0, 0, 0, 0})};
  const auto not_i0 = [](std::uint32_t r) { return r != 0; };
  const auto items = Rank(c, Weights({1, 0, 0, 0, 0, 0}), kNames, *cat, {.k = 10}, not_i0);
  EXPECT_EQ(Ids(items), (std::vector<std::string>{"i1", "i2", "i3"}));
  EXPECT_FLOAT_EQ(items[0].score, 3.0F);  // the repeated row once, at its best score
  EXPECT_EQ(Ids(Rank(c, Weights({1, 0, 0, 0, 0, 0}), kNames, *cat, {.k = 2}, not_i0)),
            (std::vector<std::string>{"i1", "i2"}));
}

TEST(RankTest, TiesGoToTheLowerRow) {
  const auto cat = MakeCatalog({{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}});
  const std::vector<Candidate> c = {C(2, {1, 0, 0, 0, 0, 0}), C(0, {1, 0, 0, 0, 0, 0}),
                                    C(1, {1, 0, 0, 0, 0, 0})};
  EXPECT_EQ(Ids(Rank(c, Weights({1, 0, 0, 0, 0, 0}), kNames, *cat, {.k = 3}, kKeepAll)),
            (std::vector<std::string>{"i0", "i1", "i2"}));
}

TEST(RankTest, MmrTradesScoreForDiversity) {
  // i0 and i1 are the same direction; i2 is orthogonal but scores a little lower.
  const auto cat = MakeCatalog({{1, 0, 0, 0}, {1, 0.01F, 0, 0}, {0, 1, 0, 0}});
  const std::vector<Candidate> c = {C(0, {1.0F, 0, 0, 0, 0, 0}), C(1, {0.95F, 0, 0, 0, 0, 0}),
                                    C(2, {0.9F, 0, 0, 0, 0, 0})};
  const FusionWeights w = Weights({1, 0, 0, 0, 0, 0});
  RankOptions pure{.k = 2};
  EXPECT_EQ(Ids(Rank(c, w, kNames, *cat, pure, kKeepAll)), (std::vector<std::string>{"i0", "i1"}));
  RankOptions mmr{.k = 2, .diversity = RankOptions::Diversity::kMmr, .mmr_lambda = 0.5};
  EXPECT_EQ(Ids(Rank(c, w, kNames, *cat, mmr, kKeepAll)), (std::vector<std::string>{"i0", "i2"}));
  RankOptions relevance_only{.k = 2, .diversity = RankOptions::Diversity::kMmr, .mmr_lambda = 1};
  EXPECT_EQ(Ids(Rank(c, w, kNames, *cat, relevance_only, kKeepAll)),
            (std::vector<std::string>{"i0", "i1"}));
}

TEST(RankTest, CategoryCapLimitsItemsPerCategory) {
  const auto cat = MakeCatalog({{1, 0, 0, 0},
                                {0, 1, 0, 0},
                                {0, 0, 1, 0},
                                {0, 0, 0, 1},
                                {1, 1, 0, 0},
                                {0, 1, 1, 0},
                                {0, 0, 1, 1}},
                               {"A", "A", "A", "B", "", "", ""});
  std::vector<Candidate> c;
  for (std::uint32_t r = 0; r < 7; ++r) c.push_back(C(r, {7.0F - r, 0, 0, 0, 0, 0}));
  RankOptions cap{.k = 10, .diversity = RankOptions::Diversity::kCategoryCap, .category_cap = 2};
  // i2 is the third of category A; uncategorised items (i4, i5, i6) are never capped.
  EXPECT_EQ(Ids(Rank(c, Weights({1, 0, 0, 0, 0, 0}), kNames, *cat, cap, kKeepAll)),
            (std::vector<std::string>{"i0", "i1", "i3", "i4", "i5", "i6"}));
}

}  // namespace
}  // namespace recsd::model
