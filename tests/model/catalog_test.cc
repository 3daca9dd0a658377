#include "model/catalog.h"

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace recsd::model {
namespace {

constexpr std::size_t kDim = 4;

ItemRecord Item(const std::string& id, std::vector<float> emb = {}, std::string cat = "",
                std::string text = "") {
  ItemRecord r;
  r.item = ItemId(id);
  r.emb = std::move(emb);
  if (!cat.empty()) r.cat = std::move(cat);
  if (!text.empty()) r.text = std::move(text);
  r.ts = {1000};
  return r;
}

double Norm(std::span<const float> v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

TEST(CatalogTest, UpsertFindAndNormalise) {
  CatalogBuilder b(kDim);
  b.Upsert(Item("a", {3, 0, 4, 0}, "Drama"));
  b.Upsert(Item("b", {0, 2, 0, 0}, "Comedy"));
  const auto c = b.Build();
  ASSERT_EQ(c->size(), 2U);
  const auto row = c->Find(ItemId("a"));
  ASSERT_TRUE(row.has_value());
  const auto e = c->Embedding(*row);
  EXPECT_FLOAT_EQ(e[0], 0.6F);
  EXPECT_FLOAT_EQ(e[2], 0.8F);
  EXPECT_EQ(c->CategoryName(c->item(*row).category), "Drama");
  EXPECT_FALSE(c->item(*row).text_embedded);
  EXPECT_FALSE(c->Find(ItemId("zzz")).has_value());
  EXPECT_EQ(c->FindCategory("Comedy"), c->item(*c->Find(ItemId("b"))).category);
}

TEST(CatalogTest, UpsertReplacesInPlace) {
  CatalogBuilder b(kDim);
  b.Upsert(Item("a", {1, 0, 0, 0}));
  ItemRecord again = Item("a", {0, 1, 0, 0}, "New");
  again.available = false;
  b.Upsert(again);
  const auto c = b.Build();
  ASSERT_EQ(c->size(), 1U);
  EXPECT_FLOAT_EQ(c->Embedding(0)[1], 1.0F);
  EXPECT_FALSE(c->item(0).available);
  EXPECT_FALSE(c->available(0));
  EXPECT_EQ(c->CategoryName(c->item(0).category), "New");
  // The dense availability follows the item through later snapshots.
  CatalogBuilder next(*c);
  b.Upsert(Item("b", {1, 0, 0, 0}));
  next.Upsert(Item("a", {0, 1, 0, 0}));
  next.Upsert(Item("b", {1, 0, 0, 0}));
  const auto d = next.Build();
  EXPECT_TRUE(d->available(0));
  EXPECT_TRUE(d->available(*d->Find(ItemId("b"))));
  EXPECT_FALSE(c->available(0));  // the old snapshot is unchanged
}

TEST(CatalogTest, ItemsWithoutEmbeddingGetTheTextEmbedding) {
  CatalogBuilder b(kDim);
  b.Upsert(Item("t", {}, "Drama", "A quiet film"));
  b.Upsert(Item("z", {0, 0, 0, 0}, "", "zero vector given"));
  const auto c = b.Build();
  for (const char* id : {"t", "z"}) {
    const std::size_t row = *c->Find(ItemId(id));
    EXPECT_TRUE(c->item(row).text_embedded) << id;
    EXPECT_NEAR(Norm(c->Embedding(row)), 1.0, 1e-5) << id;
  }
  std::vector<float> expected(kDim);
  HashedTextEmbedder(kDim).Embed("A quiet film", {}, "Drama", expected);
  const auto got = c->Embedding(*c->Find(ItemId("t")));
  for (std::size_t d = 0; d < kDim; ++d) EXPECT_EQ(got[d], expected[d]);
}

TEST(CatalogTest, SnapshotsAreImmutable) {
  CatalogBuilder b(kDim);
  b.Upsert(Item("a", {1, 0, 0, 0}));
  const auto first = b.Build();
  b.Upsert(Item("a", {0, 1, 0, 0}));
  b.Upsert(Item("b", {0, 0, 1, 0}));
  EXPECT_TRUE(b.Erase(ItemId("a")));
  const auto second = b.Build();
  ASSERT_EQ(first->size(), 1U);
  EXPECT_FLOAT_EQ(first->Embedding(0)[0], 1.0F);
  EXPECT_TRUE(first->Find(ItemId("a")).has_value());
  EXPECT_FALSE(second->Find(ItemId("a")).has_value());
  // A builder continued from a snapshot leaves the snapshot alone.
  CatalogBuilder from(*second);
  from.Upsert(Item("c", {1, 1, 0, 0}));
  EXPECT_EQ(second->size(), 1U);
  EXPECT_EQ(from.Build()->size(), 2U);
}

// Random upserts and deletes against a std::map model: every live id maps to a row that holds it
// and its latest vector, and nothing else is there.
TEST(CatalogTest, RowsStayConsistentUnderRandomChanges) {
  std::mt19937 rng(7);
  CatalogBuilder b(kDim);
  std::map<std::string, float> model;  // id → first embedding component (the others are 1)
  for (int step = 0; step < 3000; ++step) {
    const std::string id = "i" + std::to_string(rng() % 200);
    if (rng() % 3 == 0) {
      EXPECT_EQ(b.Erase(ItemId(id)), model.erase(id) == 1);
    } else {
      const float first = static_cast<float>(rng() % 100) + 1.0F;
      b.Upsert(Item(id, {first, 1, 1, 1}));
      model[id] = first;
    }
  }
  const auto c = b.Build();
  ASSERT_EQ(c->size(), model.size());
  for (const auto& [id, first] : model) {
    const auto row = c->Find(ItemId(id));
    ASSERT_TRUE(row.has_value()) << id;
    EXPECT_EQ(c->item(*row).id.str(), id);
    const double norm = std::sqrt(first * first + 3.0);
    EXPECT_NEAR(c->Embedding(*row)[0], first / norm, 1e-6) << id;
  }
  EXPECT_FALSE(b.Erase(ItemId("never-there")));
}

TEST(CatalogTest, CategoriesAreBounded) {
  CatalogBuilder b(kDim);
  for (std::size_t i = 0; i <= CatalogBuilder::kMaxCategories; ++i) {
    b.Upsert(Item("i" + std::to_string(i), {1, 0, 0, 0}, "cat" + std::to_string(i)));
  }
  const auto c = b.Build();
  EXPECT_EQ(c->category_count(), CatalogBuilder::kMaxCategories);
  const std::string last = "i" + std::to_string(CatalogBuilder::kMaxCategories);
  EXPECT_EQ(c->item(*c->Find(ItemId(last))).category, kNoCategory);
}

}  // namespace
}  // namespace recsd::model
