#include "model/ann_index.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "model/catalog.h"
#include "model/retrieval.h"

namespace recsd::model {
namespace {

constexpr std::size_t kDim = 16;

std::vector<float> UnitVector(std::mt19937& rng) {
  std::normal_distribution<float> g;
  std::vector<float> v(kDim);
  double norm = 0;
  for (float& x : v) {
    x = g(rng);
    norm += static_cast<double>(x) * x;
  }
  for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
  return v;
}

float Dot(std::span<const float> a, std::span<const float> b) {
  float s = 0;
  for (std::size_t d = 0; d < a.size(); ++d) s += a[d] * b[d];
  return s;
}

std::span<const float> Centroid(const AnnIndex& index, std::size_t c) {
  return {index.centroids().row(static_cast<Eigen::Index>(c)).data(), kDim};
}

// Checks an index against `vectors` (row r's vector): every row in exactly one list, with its
// vector's quantised copy beside it, in the list of its nearest centroid.
void ExpectConsistent(const AnnIndex& index, const std::vector<std::vector<float>>& vectors) {
  std::vector<int> seen(vectors.size(), 0);
  for (std::size_t l = 0; l < index.lists(); ++l) {
    const AnnIndex::List& list = index.list(l);
    ASSERT_EQ(list.codes.size(), list.rows.size() * kDim);
    ASSERT_EQ(list.scales.size(), list.rows.size());
    for (std::size_t i = 0; i < list.rows.size(); ++i) {
      const std::uint32_t row = list.rows[i];
      ASSERT_LT(row, vectors.size());
      ++seen[row];
      // The quantised copy: within half a step of the vector in every dimension.
      for (std::size_t d = 0; d < kDim; ++d) {
        EXPECT_NEAR(list.scales[i] * list.codes[i * kDim + d], vectors[row][d],
                    list.scales[i] * 0.5F + 1e-6F)
            << "row " << row;
      }
      const float own = Dot(vectors[row], Centroid(index, l));
      for (std::size_t c = 0; c < index.lists(); ++c) {
        EXPECT_LE(Dot(vectors[row], Centroid(index, c)), own + 1e-5F)
            << "row " << row << " is not in its nearest centroid's list";
      }
    }
  }
  for (std::size_t r = 0; r < seen.size(); ++r) EXPECT_EQ(seen[r], 1) << "row " << r;
}

std::vector<float> Flat(const std::vector<std::vector<float>>& vectors) {
  std::vector<float> flat;
  for (const auto& v : vectors) flat.insert(flat.end(), v.begin(), v.end());
  return flat;
}

std::vector<std::vector<float>> UnitVectors(std::size_t n, std::mt19937& rng) {
  std::vector<std::vector<float>> vectors;
  for (std::size_t i = 0; i < n; ++i) vectors.push_back(UnitVector(rng));
  return vectors;
}

// A builder trained on `vectors` into `lists` lists.
AnnIndexBuilder TrainedOn(const std::vector<std::vector<float>>& vectors, std::size_t lists) {
  AnnOptions options;
  options.lists = lists;
  AnnIndexBuilder builder(options);
  builder.Train(Flat(vectors).data(), vectors.size(), kDim);
  return builder;
}

TEST(AnnIndexTest, TrainPutsEveryRowInItsNearestList) {
  std::mt19937 rng(1);
  std::vector<std::vector<float>> vectors = UnitVectors(2000, rng);
  AnnIndexBuilder builder(AnnOptions{});
  builder.Train(Flat(vectors).data(), vectors.size(), kDim);
  const std::shared_ptr<const AnnIndex> index = builder.Snapshot();
  EXPECT_EQ(index->lists(), 45U);  // ⌈√2000⌉
  for (std::size_t c = 0; c < index->lists(); ++c) {
    EXPECT_NEAR(Dot(Centroid(*index, c), Centroid(*index, c)), 1.0, 1e-4);
    EXPECT_FALSE(index->list(c).rows.empty()) << "an empty list " << c;
  }
  ExpectConsistent(*index, vectors);
  // Deterministic: the same rows train the same lists.
  AnnIndexBuilder again(AnnOptions{});
  again.Train(Flat(vectors).data(), vectors.size(), kDim);
  const std::shared_ptr<const AnnIndex> twin = again.Snapshot();
  for (std::size_t c = 0; c < index->lists(); ++c) {
    EXPECT_EQ(index->list(c).rows, twin->list(c).rows);
  }
}

TEST(AnnIndexTest, TrainingSpreadOverThreadsMakesTheSameLists) {
  std::mt19937 rng(4);
  std::vector<std::vector<float>> vectors = UnitVectors(5000, rng);
  AnnIndexBuilder serial(AnnOptions{});
  serial.Train(Flat(vectors).data(), vectors.size(), kDim);
  AnnIndexBuilder spread(AnnOptions{});
  std::atomic<int> ranges{0};
  spread.set_parallel_for(
      [&](std::size_t n, const std::function<void(std::size_t, std::size_t)>& body) {
        std::thread other([&] { body(n / 3, n); });
        body(0, n / 3);
        other.join();
        ranges.fetch_add(2);
      });
  spread.Train(Flat(vectors).data(), vectors.size(), kDim);
  EXPECT_GT(ranges.load(), 2);  // k-means rounds and the final assignment went through it
  const std::shared_ptr<const AnnIndex> a = serial.Snapshot();
  const std::shared_ptr<const AnnIndex> b = spread.Snapshot();
  ASSERT_EQ(a->lists(), b->lists());
  for (std::size_t c = 0; c < a->lists(); ++c) EXPECT_EQ(a->list(c).rows, b->list(c).rows);
}

TEST(AnnIndexTest, InsertMoveAndEraseKeepEveryRowInItsList) {
  std::mt19937 rng(2);
  std::vector<std::vector<float>> vectors = UnitVectors(1000, rng);
  AnnIndexBuilder builder = TrainedOn(vectors, 20);
  std::uniform_int_distribution<int> op(0, 2);
  for (int step = 0; step < 3000; ++step) {
    switch (op(rng)) {
      case 0:
        vectors.push_back(UnitVector(rng));
        builder.Insert(vectors.size() - 1, vectors.back());
        break;
      case 1: {
        const std::size_t row = rng() % vectors.size();
        vectors[row] = UnitVector(rng);
        builder.Move(row, vectors[row]);
        break;
      }
      default: {  // as the catalog does: the last row moves into the hole
        const std::size_t row = rng() % vectors.size();
        const std::size_t last = vectors.size() - 1;
        builder.Erase(row, last);
        vectors[row] = vectors[last];
        vectors.pop_back();
        break;
      }
    }
  }
  ExpectConsistent(*builder.Snapshot(), vectors);
}

TEST(AnnIndexTest, SnapshotsShareTheListsThatDidNotChange) {
  std::mt19937 rng(3);
  std::vector<std::vector<float>> vectors = UnitVectors(1000, rng);
  AnnIndexBuilder builder = TrainedOn(vectors, 20);
  const std::shared_ptr<const AnnIndex> first = builder.Snapshot();
  std::vector<std::vector<std::uint32_t>> before;
  for (std::size_t l = 0; l < 20; ++l) before.push_back(first->list(l).rows);
  vectors.push_back(UnitVector(rng));
  builder.Insert(1000, vectors.back());
  const std::shared_ptr<const AnnIndex> second = builder.Snapshot();
  std::size_t shared = 0;
  std::size_t with_new_row = 0;
  for (std::size_t l = 0; l < 20; ++l) {
    const std::vector<std::uint32_t>& rows = second->list(l).rows;
    const bool has = std::count(rows.begin(), rows.end(), 1000U) > 0;
    with_new_row += has ? 1 : 0;
    shared += second->SharesList(*first, l) ? 1 : 0;
    EXPECT_EQ(second->SharesList(*first, l), !has) << l;
    EXPECT_EQ(first->list(l).rows, before[l]);  // the published one did not change
  }
  EXPECT_EQ(with_new_row, 1U);
  EXPECT_EQ(shared, 19U);
  ExpectConsistent(*second, vectors);
}

// --- The catalog's index and IndexedTopNBatch ---

ItemRecord Record(std::size_t i, const std::vector<float>& v, bool available = true) {
  ItemRecord r;
  r.item = ItemId("i" + std::to_string(i));
  r.emb = v;
  r.ts = {1};
  r.available = available;
  return r;
}

// Random vectors in 16 dimensions, with random users, are the hardest case for an inverted file
// (no clusters): these tests read half the lists, to test what is found, not the defaults'
// recall (benchmarks/README.md, "Retrieval", measures that).
AnnOptions SmallIndex(std::size_t min_items) {
  AnnOptions o;
  o.min_items = min_items;
  o.probes = 32;
  return o;
}

// Every user's top n from the index path and from the exact scan, as rows.
struct BothWays {
  std::vector<std::vector<ScoredRow>> indexed, exact;
};

BothWays TopBothWays(const Catalog& c, const std::vector<std::vector<float>>& users, std::size_t n,
                     std::span<const std::uint32_t> exact_rows = {}) {
  EmbeddingMatrix u(static_cast<Eigen::Index>(users.size()), static_cast<Eigen::Index>(kDim));
  for (std::size_t b = 0; b < users.size(); ++b) {
    std::copy(users[b].begin(), users[b].end(), u.row(static_cast<Eigen::Index>(b)).data());
  }
  BothWays out;
  std::vector<std::uint8_t> mark(exact_rows.empty() ? 0 : c.size(), 0);
  std::vector<const float*> vectors;
  for (std::uint32_t r : exact_rows) {
    mark[r] = 1;
    vectors.push_back(c.embeddings().row(r).data());
  }
  IndexedTopNBatch(c, u, exact_rows, vectors, mark, n, &out.indexed);
  EmbeddingTopNBatch(c, u, n, &out.exact);
  return out;
}

double MeanRecall(const BothWays& both) {
  double sum = 0;
  for (std::size_t b = 0; b < both.exact.size(); ++b) {
    std::size_t found = 0;
    for (const ScoredRow& e : both.exact[b]) {
      for (const ScoredRow& i : both.indexed[b]) found += i.row == e.row ? 1 : 0;
    }
    sum += static_cast<double>(found) / static_cast<double>(both.exact[b].size());
  }
  return sum / static_cast<double>(both.exact.size());
}

TEST(CatalogIndexTest, IndexedFromMinItemsOnAndDroppedBelow) {
  std::mt19937 rng(5);
  CatalogBuilder b(kDim, SmallIndex(100));
  for (std::size_t i = 0; i < 99; ++i) b.Upsert(Record(i, UnitVector(rng)));
  EXPECT_EQ(b.Build()->index(), nullptr);
  b.Upsert(Record(99, UnitVector(rng)));
  const std::shared_ptr<const Catalog> c = b.Build();
  ASSERT_NE(c->index(), nullptr);
  std::size_t rows = 0;
  for (std::size_t l = 0; l < c->index()->lists(); ++l) rows += c->index()->list(l).rows.size();
  EXPECT_EQ(rows, 100U);
  b.Erase(ItemId("i0"));
  EXPECT_EQ(b.Build()->index(), nullptr);
  EXPECT_EQ(CatalogBuilder(kDim, SmallIndex(0)).Build()->index(), nullptr);  // 0: never
}

// A builder used once hands its tables to the snapshot (Build() &&): the same catalog and index
// as a copying Build, and the builder starts again empty.
TEST(CatalogIndexTest, ABuilderUsedOnceGivesTheSameCatalogWithoutACopy) {
  std::mt19937 rng(9);
  CatalogBuilder copying(kDim, SmallIndex(100));
  CatalogBuilder taking(kDim, SmallIndex(100));
  for (std::size_t i = 0; i < 300; ++i) {
    ItemRecord r = Record(i, UnitVector(rng), i % 5 != 0);
    r.cat = "c" + std::to_string(i % 3);
    copying.Upsert(r);
    taking.Upsert(r);
  }
  copying.Erase(ItemId("i7"));
  taking.Erase(ItemId("i7"));
  const std::shared_ptr<const Catalog> copied = copying.Build();
  const std::shared_ptr<const Catalog> taken = std::move(taking).Build();
  ASSERT_EQ(taken->size(), 299U);
  ASSERT_EQ(taken->size(), copied->size());
  for (std::size_t row = 0; row < taken->size(); ++row) {
    const CatalogItem& item = taken->item(row);
    EXPECT_EQ(item.id, copied->item(row).id);
    EXPECT_EQ(taken->Find(item.id), std::optional<std::size_t>(row));
    EXPECT_EQ(taken->CategoryName(item.category), copied->CategoryName(copied->item(row).category));
    EXPECT_EQ(taken->available(row), copied->available(row));
    for (std::size_t d = 0; d < kDim; ++d) {
      EXPECT_EQ(taken->Embedding(row)[d], copied->Embedding(row)[d]);
    }
  }
  EXPECT_FALSE(taken->Find(ItemId("i7")).has_value());
  ASSERT_NE(taken->index(), nullptr);
  ASSERT_EQ(taken->index()->lists(), copied->index()->lists());
  for (std::size_t l = 0; l < taken->index()->lists(); ++l) {
    EXPECT_EQ(taken->index()->list(l).rows, copied->index()->list(l).rows);
    EXPECT_EQ(taken->index()->list(l).codes, copied->index()->list(l).codes);
    EXPECT_EQ(taken->index()->list(l).scales, copied->index()->list(l).scales);
  }
  // Left empty and usable: what it builds next owes nothing to the first snapshot.
  EXPECT_EQ(taking.size(), 0U);  // NOLINT(bugprone-use-after-move): documented as empty
  taking.Upsert(Record(1000, UnitVector(rng)));
  const std::shared_ptr<const Catalog> next = taking.Build();
  EXPECT_EQ(next->size(), 1U);
  EXPECT_EQ(next->index(), nullptr);
  EXPECT_EQ(taken->size(), 299U);
}

TEST(CatalogIndexTest, IndexedTopNFindsWhatTheScanFinds) {
  std::mt19937 rng(6);
  CatalogBuilder b(kDim, SmallIndex(1000));
  for (std::size_t i = 0; i < 4000; ++i) b.Upsert(Record(i, UnitVector(rng), i % 7 != 0));
  const std::shared_ptr<const Catalog> c = b.Build();
  ASSERT_NE(c->index(), nullptr);
  std::vector<std::vector<float>> users;
  for (int u = 0; u < 40; ++u) users.push_back(UnitVector(rng));
  const BothWays both = TopBothWays(*c, users, 50);
  for (const auto& top : both.indexed) {
    ASSERT_EQ(top.size(), 50U);
    for (std::size_t i = 1; i < top.size(); ++i) EXPECT_GE(top[i - 1].score, top[i].score);
  }
  EXPECT_GE(MeanRecall(both), 0.95);
}

// The property that matters most: a deleted or unavailable item is never offered, in the
// snapshot that deleted it and in every later one.
TEST(CatalogIndexTest, DeletedAndUnavailableItemsAreNeverReturned) {
  std::mt19937 rng(7);
  CatalogBuilder b(kDim, SmallIndex(500));
  std::vector<std::vector<float>> vectors;
  for (std::size_t i = 0; i < 3000; ++i) {
    vectors.push_back(UnitVector(rng));
    b.Upsert(Record(i, vectors.back()));
  }
  const std::shared_ptr<const Catalog> before = b.Build();
  std::set<std::string> banned;
  for (std::size_t i = 0; i < 3000; i += 3) {
    b.Erase(ItemId("i" + std::to_string(i)));
    banned.insert("i" + std::to_string(i));
  }
  for (std::size_t i = 1; i < 3000; i += 5) {
    if (banned.count("i" + std::to_string(i)) != 0) continue;
    b.Upsert(Record(i, vectors[i], /*available=*/false));
    banned.insert("i" + std::to_string(i));
  }
  for (const bool again : {false, true}) {
    if (again) b.Upsert(Record(9000, UnitVector(rng)));  // a later snapshot, one list changed
    const std::shared_ptr<const Catalog> after = b.Build();
    ASSERT_NE(after->index(), nullptr);
    ASSERT_EQ(after->index()->lists(), before->index()->lists());  // not retrained: updated
    std::vector<std::vector<float>> users;
    // Users right on top of banned items, and anywhere.
    for (std::size_t i = 0; i < 60; i += 3) users.push_back(vectors[i]);
    for (int u = 0; u < 20; ++u) users.push_back(UnitVector(rng));
    const BothWays both = TopBothWays(*after, users, 200);
    for (const auto& top : both.indexed) {
      ASSERT_EQ(top.size(), 200U);
      for (const ScoredRow& s : top) {
        ASSERT_EQ(banned.count(after->item(s.row).id.str()), 0U) << after->item(s.row).id.str();
      }
    }
    EXPECT_GE(MeanRecall(both), 0.9);
  }
}

TEST(CatalogIndexTest, ChangedAndNewItemsAreFoundAtOnce) {
  std::mt19937 rng(8);
  CatalogBuilder b(kDim, SmallIndex(500));
  for (std::size_t i = 0; i < 2000; ++i) b.Upsert(Record(i, UnitVector(rng)));
  b.Build();
  const std::vector<float> target = UnitVector(rng);
  b.Upsert(Record(17, target));    // moved onto the target
  b.Upsert(Record(5000, target));  // new, on the target
  const std::shared_ptr<const Catalog> c = b.Build();
  const BothWays both = TopBothWays(*c, {target}, 2);
  ASSERT_EQ(both.indexed[0].size(), 2U);
  std::set<std::string> top = {c->item(both.indexed[0][0].row).id.str(),
                               c->item(both.indexed[0][1].row).id.str()};
  EXPECT_EQ(top, (std::set<std::string>{"i17", "i5000"}));
  EXPECT_NEAR(both.indexed[0][0].score, 1.0, 1e-5);
}

TEST(CatalogIndexTest, ExactRowsAreScoredWithTheGivenVectors) {
  // A source's own vectors (learned ones) for some rows: those rows are scored with them, found
  // even where the catalog's index would not place them.
  std::mt19937 rng(9);
  CatalogBuilder b(kDim, SmallIndex(500));
  for (std::size_t i = 0; i < 2000; ++i) b.Upsert(Record(i, UnitVector(rng)));
  const std::shared_ptr<const Catalog> c = b.Build();
  const std::vector<float> user = UnitVector(rng);
  EmbeddingMatrix items = c->embeddings();
  const std::uint32_t moved = 123;
  std::copy(user.begin(), user.end(), items.row(moved).data());
  EmbeddingMatrix u(1, static_cast<Eigen::Index>(kDim));
  std::copy(user.begin(), user.end(), u.row(0).data());
  std::vector<std::vector<ScoredRow>> out;
  const std::vector<std::uint32_t> exact_rows = {moved};
  std::vector<std::uint8_t> mark(c->size(), 0);
  mark[moved] = 1;
  const std::vector<const float*> vectors = {items.row(moved).data()};
  IndexedTopNBatch(*c, u, exact_rows, vectors, mark, 10, &out);
  ASSERT_FALSE(out[0].empty());
  EXPECT_EQ(out[0][0].row, moved);
  EXPECT_NEAR(out[0][0].score, 1.0, 1e-5);
  // Every other row's score is with `items` too (here the catalog's own vectors).
  for (const ScoredRow& s : out[0]) {
    EXPECT_NEAR(s.score, Dot(user, {items.row(s.row).data(), kDim}), 1e-5);
  }
}

TEST(CatalogIndexTest, AnExactRowIsNeverFoundByItsCatalogVector) {
  // Row 123's catalog vector is the user's, its exact (learned) vector the opposite: the list
  // scan must pass over it, so that it comes back once, with its exact score, and not at the top.
  std::mt19937 rng(10);
  const std::vector<float> user = UnitVector(rng);
  CatalogBuilder b(kDim, SmallIndex(500));
  const std::uint32_t moved = 123;
  for (std::size_t i = 0; i < 2000; ++i) b.Upsert(Record(i, i == moved ? user : UnitVector(rng)));
  const std::shared_ptr<const Catalog> c = b.Build();
  std::vector<float> opposite(user);
  for (float& x : opposite) x = -x;
  EmbeddingMatrix u(1, static_cast<Eigen::Index>(kDim));
  std::copy(user.begin(), user.end(), u.row(0).data());
  const std::vector<std::uint32_t> exact_rows = {moved};
  std::vector<std::uint8_t> mark(c->size(), 0);
  mark[moved] = 1;
  const std::vector<const float*> vectors = {opposite.data()};
  std::vector<std::vector<ScoredRow>> out;
  IndexedTopNBatch(*c, u, exact_rows, vectors, mark, 10, &out);
  ASSERT_EQ(out[0].size(), 10U);
  for (const ScoredRow& s : out[0]) EXPECT_NE(s.row, moved);
  IndexedTopNBatch(*c, u, exact_rows, vectors, mark, c->size(), &out);  // every row read
  std::size_t seen = 0;
  for (const ScoredRow& s : out[0]) {
    if (s.row != moved) continue;
    ++seen;
    EXPECT_NEAR(s.score, -1.0, 1e-5);
  }
  EXPECT_EQ(seen, 1U);
}

TEST(CatalogIndexTest, ManyExactRowsAreScoredForEveryUserOfABatch) {
  // More exact rows than one block of the batch's exact scoring (512), a partial block last, and
  // several users: user b's own vector is the exact vector of one row, which must come first for
  // b alone, with score 1.
  std::mt19937 rng(11);
  CatalogBuilder b(kDim, SmallIndex(500));
  for (std::size_t i = 0; i < 2000; ++i) b.Upsert(Record(i, UnitVector(rng)));
  const std::shared_ptr<const Catalog> c = b.Build();
  std::vector<std::uint32_t> exact_rows;
  std::vector<std::vector<float>> vectors;
  for (std::uint32_t row = 0; row < 1300; ++row) {
    exact_rows.push_back(row + 600);
    vectors.push_back(UnitVector(rng));
  }
  const std::vector<std::size_t> own = {0, 511, 512, 1100, 1299};
  EmbeddingMatrix users(static_cast<Eigen::Index>(own.size()), static_cast<Eigen::Index>(kDim));
  for (std::size_t u = 0; u < own.size(); ++u) {
    const std::vector<float> user = UnitVector(rng);
    std::copy(user.begin(), user.end(), users.row(static_cast<Eigen::Index>(u)).data());
    vectors[own[u]] = user;
  }
  std::vector<const float*> pointers;
  for (const std::vector<float>& v : vectors) pointers.push_back(v.data());
  std::vector<std::uint8_t> mark(c->size(), 0);
  for (std::uint32_t row : exact_rows) mark[row] = 1;
  // Scored for every user, then only in the lists each user reads (each row in the list of its
  // own vector, which is the nearest list to the user whose vector it is).
  std::vector<std::uint32_t> lists(exact_rows.size());
  c->index()->NearestLists(pointers, lists);
  RowsByList grouped;
  GroupByList(exact_rows, pointers, lists, c->index()->lists(), &grouped);
  for (const bool by_list : {false, true}) {
    std::vector<std::vector<ScoredRow>> out;
    IndexedTopNBatch(*c, users, exact_rows, pointers, mark, 10, &out, by_list ? &grouped : nullptr);
    ASSERT_EQ(out.size(), own.size());
    for (std::size_t u = 0; u < own.size(); ++u) {
      ASSERT_FALSE(out[u].empty());
      EXPECT_EQ(out[u][0].row, exact_rows[own[u]]) << "user " << u << " by list " << by_list;
      EXPECT_NEAR(out[u][0].score, 1.0, 1e-5) << "user " << u << " by list " << by_list;
    }
  }
}

TEST(CatalogIndexTest, ExactRowsByListAreReadOnlyInTheProbedLists) {
  // An exact row placed in a list the user does not read is not found; put in the list of its
  // vector, it is.
  std::mt19937 rng(12);
  CatalogBuilder b(kDim, SmallIndex(500));
  for (std::size_t i = 0; i < 2000; ++i) b.Upsert(Record(i, UnitVector(rng)));
  const std::shared_ptr<const Catalog> c = b.Build();
  const AnnIndex& index = *c->index();
  ASSERT_LT(index.probes(), index.lists());
  const std::vector<float> user = UnitVector(rng);
  EmbeddingMatrix u(1, static_cast<Eigen::Index>(kDim));
  std::copy(user.begin(), user.end(), u.row(0).data());
  const std::vector<std::uint32_t> exact_rows = {42};
  std::vector<std::uint8_t> mark(c->size(), 0);
  mark[42] = 1;
  const std::vector<const float*> vectors = {user.data()};
  std::vector<std::uint32_t> nearest(1);
  index.NearestLists(vectors, nearest);
  // The list farthest from the user: never among the probed ones.
  std::vector<float> scores(index.lists());
  for (std::size_t l = 0; l < index.lists(); ++l) {
    scores[l] = Dot(user, {index.centroids().row(static_cast<Eigen::Index>(l)).data(), kDim});
  }
  const auto far =
      static_cast<std::uint32_t>(std::min_element(scores.begin(), scores.end()) - scores.begin());
  std::vector<std::vector<ScoredRow>> out;
  RowsByList grouped;
  GroupByList(exact_rows, vectors, nearest, index.lists(), &grouped);
  IndexedTopNBatch(*c, u, exact_rows, vectors, mark, 10, &out, &grouped);
  ASSERT_FALSE(out[0].empty());
  EXPECT_EQ(out[0][0].row, 42U);
  const std::vector<std::uint32_t> wrong = {far};
  GroupByList(exact_rows, vectors, wrong, index.lists(), &grouped);
  IndexedTopNBatch(*c, u, exact_rows, vectors, mark, 10, &out, &grouped);
  for (const ScoredRow& s : out[0]) EXPECT_NE(s.row, 42U);
}

// Engines search a published index on their threads while the catalog thread builds the next
// snapshot: the published one never changes (run under the sanitizers in CI).
TEST(CatalogIndexTest, SearchDuringAnUpdateSeesAnUnchangedSnapshot) {
  std::mt19937 rng(10);
  CatalogBuilder b(kDim, SmallIndex(500));
  for (std::size_t i = 0; i < 3000; ++i) b.Upsert(Record(i, UnitVector(rng)));
  const std::shared_ptr<const Catalog> published = b.Build();
  std::vector<std::vector<float>> users;
  for (int u = 0; u < 16; ++u) users.push_back(UnitVector(rng));
  const BothWays reference = TopBothWays(*published, users, 30);
  std::atomic<bool> done{false};
  std::atomic<int> mismatches{0};
  std::atomic<int> searches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!done.load() || searches.load() < 4) {
        const BothWays again = TopBothWays(*published, users, 30);
        for (std::size_t u = 0; u < users.size(); ++u) {
          if (again.indexed[u] != reference.indexed[u]) mismatches.fetch_add(1);
        }
        searches.fetch_add(1);
      }
    });
  }
  std::mt19937 writer_rng(11);
  for (int round = 0; round < 20; ++round) {
    for (int j = 0; j < 50; ++j) {
      b.Upsert(Record(writer_rng() % 4000, UnitVector(writer_rng)));
      b.Erase(ItemId("i" + std::to_string(writer_rng() % 3000)));
    }
    const std::shared_ptr<const Catalog> next = b.Build();
    std::size_t shared = 0;
    for (std::size_t l = 0; l < next->index()->lists(); ++l) {
      shared += next->index()->SharesList(*published->index(), l) ? 1 : 0;
    }
    EXPECT_LT(shared, next->index()->lists());
  }
  done.store(true);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GE(searches.load(), 4);
}

}  // namespace
}  // namespace recsd::model
