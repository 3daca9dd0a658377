#include "model/retrieval.h"
#include "model/row_scores.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace recsd::model {
namespace {

constexpr std::size_t kDim = 8;

std::shared_ptr<const Catalog> RandomCatalog(std::size_t n, std::mt19937& rng,
                                             double unavailable_share = 0.0) {
  std::normal_distribution<float> g;
  std::bernoulli_distribution off(unavailable_share);
  CatalogBuilder b(kDim);
  for (std::size_t i = 0; i < n; ++i) {
    ItemRecord r;
    r.item = ItemId("i" + std::to_string(i));
    r.emb.resize(kDim);
    for (float& x : r.emb) x = g(rng);
    r.ts = {static_cast<std::int64_t>(i) * 1000};
    r.available = !off(rng);
    b.Upsert(r);
  }
  return b.Build();
}

std::vector<ScoredRow> BySorting(std::span<const float> scores, const Catalog& c, std::size_t n) {
  std::vector<ScoredRow> all;
  for (std::size_t r = 0; r < scores.size(); ++r) {
    if (c.item(r).available) all.push_back({static_cast<std::uint32_t>(r), scores[r]});
  }
  std::sort(all.begin(), all.end(), [](const ScoredRow& a, const ScoredRow& b) {
    return a.score != b.score ? a.score > b.score : a.row < b.row;
  });
  all.resize(std::min(n, all.size()));
  return all;
}

TEST(SelectTopNTest, EqualsAFullSortAndSkipsUnavailableItems) {
  std::mt19937 rng(11);
  const auto c = RandomCatalog(2000, rng, 0.3);
  std::uniform_int_distribution<int> coarse(0, 50);  // many ties
  std::vector<float> scores(c->size());
  for (float& s : scores) s = static_cast<float>(coarse(rng));
  for (std::size_t n : {0, 1, 10, 100, 5000}) {
    std::vector<ScoredRow> top;
    SelectTopN(scores, *c, n, &top);
    EXPECT_EQ(top, BySorting(scores, *c, n)) << "n=" << n;
    for (const ScoredRow& r : top) EXPECT_TRUE(c->item(r.row).available);
  }
}

TEST(EmbeddingScoresTest, AreCosines) {
  std::mt19937 rng(12);
  const auto c = RandomCatalog(50, rng);
  std::vector<float> user(kDim);
  std::normal_distribution<float> g;
  for (float& x : user) x = 3.0F * g(rng);  // not unit: cosine normalises it
  std::vector<float> scores(c->size());
  EmbeddingScores(*c, user, scores);
  double un = 0;
  for (float x : user) un += static_cast<double>(x) * x;
  un = std::sqrt(un);
  for (std::size_t r = 0; r < c->size(); ++r) {
    double dot = 0;
    for (std::size_t d = 0; d < kDim; ++d) dot += static_cast<double>(c->Embedding(r)[d]) * user[d];
    EXPECT_NEAR(scores[r], dot / un, 1e-5);
  }
  std::vector<float> zero(kDim, 0.0F);
  EmbeddingScores(*c, zero, scores);
  for (float s : scores) EXPECT_EQ(s, 0.0F);
}

// Every dimension takes a different kernel path: the fixed 64 and 128, the general one with and
// without a tail of dim % 8, and a row count that leaves rows after the last group of four.
TEST(EmbeddingScoresTest, AgreeWithADoubleDotAtEveryDimension) {
  std::mt19937 rng(21);
  std::normal_distribution<float> g;
  for (std::size_t dim : {1, 5, 8, 13, 64, 100, 128}) {
    CatalogBuilder b(dim);
    for (int i = 0; i < 103; ++i) {
      ItemRecord r;
      r.item = ItemId("i" + std::to_string(i));
      r.emb.resize(dim);
      for (float& x : r.emb) x = g(rng);
      b.Upsert(r);
    }
    const auto c = b.Build();
    std::vector<float> user(dim);
    for (float& x : user) x = g(rng);
    std::vector<float> scores(c->size());
    EmbeddingScores(*c, user, scores);
    double un = 0;
    for (float x : user) un += static_cast<double>(x) * x;
    for (std::size_t r = 0; r < c->size(); ++r) {
      double dot = 0;
      for (std::size_t d = 0; d < dim; ++d)
        dot += static_cast<double>(c->Embedding(r)[d]) * user[d];
      ASSERT_NEAR(scores[r], dot / std::sqrt(un), 1e-5) << "dim " << dim << " row " << r;
    }
  }
}

TEST(ScoreQuantizedRowsTest, AreTheIntegerDotOfTheCodesTimesBothScales) {
  // Exactly float(Σ codes · user codes) · (row scale · user scale), at dimensions with and without
  // a kernel of their own (beyond 128 the user's codes no longer stay in registers; not a multiple
  // of 16: a tail), row counts around 4 rows a step, and codes at ±127 (the largest sums).
  std::mt19937 rng(41);
  std::normal_distribution<float> g;
  std::uniform_int_distribution<int> code(-127, 127);
  for (std::size_t dim : {5, 16, 48, 64, 100, 128, 2048, 2064}) {
    for (std::size_t len : {0, 1, 3, 4, 7, 9}) {
      for (const bool extreme : {false, true}) {
        std::vector<std::int8_t> codes(len * dim);
        for (std::int8_t& c : codes) c = static_cast<std::int8_t>(extreme ? 127 : code(rng));
        std::vector<std::int8_t> user(dim);
        for (std::int8_t& c : user) c = static_cast<std::int8_t>(extreme ? -127 : code(rng));
        std::vector<float> scales(len);
        for (float& s : scales) s = 0.01F * (1.0F + std::abs(g(rng)));
        const float user_scale = 0.003F * (1.0F + std::abs(g(rng)));
        std::vector<float> out(len, -7.0F);
        ScoreQuantizedRows(codes.data(), scales.data(), len, dim, user.data(), user_scale,
                           out.data());
        for (std::size_t r = 0; r < len; ++r) {
          std::int64_t dot = 0;
          for (std::size_t d = 0; d < dim; ++d) dot += codes[r * dim + d] * user[d];
          EXPECT_EQ(out[r], static_cast<float>(dot) * (scales[r] * user_scale))
              << dim << " " << len << " " << r << " " << extreme;
        }
      }
    }
  }
}

TEST(QuantizeRowTest, RoundsToTheNearestCodeOfTheLargestValuesScale) {
  // max |v| = 127: the scale is 1 and the codes are v rounded, halves away from zero.
  const std::vector<float> v = {127.0F, -63.5F, 31.5F, 2.49F, -2.51F, 0.5F, -0.49F, 0.0F};
  std::vector<std::int8_t> codes(v.size(), 99);
  EXPECT_EQ(QuantizeRow(v.data(), v.size(), codes.data()), 1.0F);
  EXPECT_EQ(codes, (std::vector<std::int8_t>{127, -64, 32, 2, -3, 1, 0, 0}));
  // Any vector: every value within half a step of its code, the largest one at ±127.
  std::mt19937 rng(43);
  std::normal_distribution<float> g;
  std::vector<float> w(100);
  for (float& x : w) x = g(rng);
  codes.assign(w.size(), 0);
  const float scale = QuantizeRow(w.data(), w.size(), codes.data());
  int largest = 0;
  for (std::size_t d = 0; d < w.size(); ++d) {
    EXPECT_LE(std::abs(w[d] - scale * codes[d]), 0.5F * scale * 1.0001F) << d;
    largest = std::max(largest, std::abs(int{codes[d]}));
  }
  EXPECT_EQ(largest, 127);
  // A zero vector: scale 0, codes 0.
  const std::vector<float> zero(7, 0.0F);
  codes.assign(zero.size(), 5);
  EXPECT_EQ(QuantizeRow(zero.data(), zero.size(), codes.data()), 0.0F);
  EXPECT_EQ(codes, std::vector<std::int8_t>(zero.size(), 0));
}

TEST(NearestCentroidsTest, FindsTheBestCentroidAsADoubleDotDoes) {
  // Centroid counts around the blocks of 8 (padding in the last block must never win), dimensions
  // that are not multiples of 8, row counts around the kernel's 4 rows a step; a row's answer is
  // the same alone and among others.
  std::mt19937 rng(31);
  std::normal_distribution<float> g;
  for (std::size_t dim : {1, 5, 8, 13, 64}) {
    for (std::size_t count : {1, 3, 8, 9, 16, 17, 40}) {
      std::vector<float> centroids(count * dim);
      for (float& x : centroids) x = g(rng);
      std::vector<std::vector<float>> rows(11, std::vector<float>(dim));
      for (std::size_t r = 0; r < rows.size(); ++r) {
        for (float& x : rows[r]) x = g(rng);
      }
      const std::vector<float> panels = CentroidPanels(centroids.data(), count, dim);
      std::vector<const float*> pointers;
      for (const auto& row : rows) pointers.push_back(row.data());
      std::vector<std::uint32_t> nearest(rows.size());
      std::vector<float> best(rows.size());
      NearestCentroids(pointers.data(), rows.size(), dim, panels.data(), count, nearest.data(),
                       best.data());
      for (std::size_t r = 0; r < rows.size(); ++r) {
        double top = -1e30;
        std::vector<double> dots(count);
        for (std::size_t c = 0; c < count; ++c) {
          for (std::size_t d = 0; d < dim; ++d) {
            dots[c] += static_cast<double>(rows[r][d]) * centroids[c * dim + d];
          }
          top = std::max(top, dots[c]);
        }
        ASSERT_LT(nearest[r], count);
        EXPECT_NEAR(best[r], dots[nearest[r]], 1e-4) << dim << " " << count << " row " << r;
        EXPECT_NEAR(dots[nearest[r]], top, 1e-4) << dim << " " << count << " row " << r;
        std::uint32_t alone = 0;
        float alone_best = 0;
        NearestCentroids(&pointers[r], 1, dim, panels.data(), count, &alone, &alone_best);
        EXPECT_EQ(alone, nearest[r]);
        EXPECT_EQ(alone_best, best[r]);
      }
    }
  }
  // All centroids below zero: the padding's zero is not taken. Equal centroids: the lower wins.
  const std::size_t dim = 3;
  const std::vector<float> row = {1, 0, 0};
  const float* rp = row.data();
  std::vector<float> centroids = {-2, 0, 0, -1, 0, 0, -3, 0, 0};
  std::uint32_t nearest = 99;
  float best = 0;
  NearestCentroids(&rp, 1, dim, CentroidPanels(centroids.data(), 3, dim).data(), 3, &nearest,
                   &best);
  EXPECT_EQ(nearest, 1U);
  EXPECT_EQ(best, -1.0F);
  centroids = std::vector<float>(20 * dim, 0.0F);
  for (std::size_t c : {13U, 5U, 18U}) centroids[c * dim] = 0.5F;
  NearestCentroids(&rp, 1, dim, CentroidPanels(centroids.data(), 20, dim).data(), 20, &nearest,
                   &best);
  EXPECT_EQ(nearest, 5U);
}

TEST(EmbeddingTopNBatchTest, EqualsOneUserAtATime) {
  std::mt19937 rng(13);
  const auto c = RandomCatalog(3000, rng, 0.1);
  EmbeddingMatrix users(5, kDim);
  std::normal_distribution<float> g;
  for (Eigen::Index i = 0; i < users.size(); ++i) users.data()[i] = g(rng);
  users.row(3).setZero();  // a user with no history
  std::vector<std::vector<ScoredRow>> batch;
  EmbeddingTopNBatch(*c, users, 20, &batch);
  ASSERT_EQ(batch.size(), 5U);
  for (Eigen::Index b = 0; b < users.rows(); ++b) {
    std::vector<float> scores(c->size());
    EmbeddingScores(*c, std::span<const float>(users.row(b).data(), kDim), scores);
    std::vector<ScoredRow> single;
    SelectTopN(scores, *c, 20, &single);
    ASSERT_EQ(batch[static_cast<std::size_t>(b)].size(), single.size());
    for (std::size_t k = 0; k < single.size(); ++k) {
      EXPECT_EQ(batch[static_cast<std::size_t>(b)][k].row, single[k].row) << b << "," << k;
      EXPECT_NEAR(batch[static_cast<std::size_t>(b)][k].score, single[k].score, 1e-5);
    }
  }
}

TEST(FreshScoreTest, HalvesPerHalfLifeAndFutureItemsAreNew) {
  EXPECT_EQ(FreshScore({1000}, {1000}, 500), 1.0F);
  EXPECT_FLOAT_EQ(FreshScore({1000}, {1500}, 500), 0.5F);
  EXPECT_FLOAT_EQ(FreshScore({1000}, {2000}, 500), 0.25F);
  EXPECT_EQ(FreshScore({5000}, {1000}, 500), 1.0F);
  std::mt19937 rng(14);
  const auto c = RandomCatalog(10, rng);
  std::vector<float> scores(c->size());
  FreshScores(*c, {9000}, 1000, scores);
  for (std::size_t r = 0; r < c->size(); ++r) {
    EXPECT_EQ(scores[r], FreshScore(c->item(r).ts, {9000}, 1000));
  }
  EXPECT_GT(scores[9], scores[0]);  // the newest item scores highest
}

}  // namespace
}  // namespace recsd::model
