// The source rooms added with the sequence source: the seen filter, the directional sequence
// graph, learned item vectors and the registry. (The six original features have their tests in
// engine_test.cc.)

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "model/ann_index.h"
#include "model/catalog.h"
#include "model/engine.h"
#include "model/global_stats.h"
#include "model/seen_items.h"
#include "model/sources/learned_vectors.h"
#include "model/sources/popularity.h"
#include "model/sources/registry.h"
#include "tests/model/engine_test_util.h"

namespace recsd::model {
namespace {

using test_util::Catalog8;
using test_util::Ev;
using test_util::Has;
using test_util::Ids;
using test_util::kDim;
using test_util::kHour;

// An engine that fuses `features`, offering only `offer` (empty: all), content vectors only.
EngineOptions Options(std::vector<std::string> features, std::vector<std::string> offer = {}) {
  EngineOptions o;
  o.features = std::move(features);
  o.sources.embedding.learned.enabled = false;
  o.user.dim = kDim;
  o.candidates_per_source = 20;
  o.rank.k = 8;
  o.weights.w.fill(1.0);
  for (std::size_t f = 0; f < o.features.size(); ++f) {
    o.offer[f] = offer.empty() || Has(offer, o.features[f]);
  }
  return o;
}

TEST(SeenItemsTest, RemembersUpToItsCapacityAndRestoresOnlySortedSets) {
  SeenItems seen;
  EXPECT_TRUE(seen.Add(7, 3));
  EXPECT_FALSE(seen.Add(7, 3));  // already there
  EXPECT_TRUE(seen.Add(2, 3));
  EXPECT_TRUE(seen.Add(9, 3));
  EXPECT_TRUE(seen.full(3));
  EXPECT_FALSE(seen.Add(5, 3));  // full: not added
  EXPECT_FALSE(seen.Contains(5));
  EXPECT_TRUE(seen.Contains(2) && seen.Contains(7) && seen.Contains(9));
  EXPECT_EQ(std::vector<std::uint32_t>(seen.fingerprints().begin(), seen.fingerprints().end()),
            (std::vector<std::uint32_t>{2, 7, 9}));
  SeenItems restored;
  EXPECT_FALSE(restored.Restore({3, 1}, 10));    // not ascending
  EXPECT_FALSE(restored.Restore({1, 1}, 10));    // a repeat
  EXPECT_FALSE(restored.Restore({1, 2, 3}, 2));  // over capacity
  EXPECT_EQ(restored.size(), 0U);
  EXPECT_TRUE(restored.Restore({2, 7, 9}, 10));
  EXPECT_EQ(restored, seen);
}

// The false-positive rate the header states (n / 2^32 per candidate): 10,000 items seen, one
// million other ids asked. The expected count is 2.3; more than 20 has a probability below 1e-11
// for a fingerprint as good as a random one (Poisson), and a weak one (e.g. 16 bits) fails.
TEST(SeenItemsTest, FalsePositivesAreAsRareAsTheHeaderStates) {
  constexpr std::size_t kSeen = 10'000;
  SeenItems seen;
  for (std::size_t i = 0; i < kSeen; ++i) {
    ASSERT_TRUE(seen.Add(SeenItems::Fingerprint(ItemId("item-" + std::to_string(i))), kSeen));
  }
  for (std::size_t i = 0; i < kSeen; ++i) {
    ASSERT_TRUE(seen.Contains(SeenItems::Fingerprint(ItemId("item-" + std::to_string(i)))));
  }
  std::size_t false_positives = 0;
  for (std::size_t i = 0; i < 1'000'000; ++i) {
    false_positives += seen.Contains(SeenItems::Fingerprint(ItemId("other-" + std::to_string(i))));
  }
  EXPECT_LE(false_positives, 20U);
}

// The seen filter reaches past the ring of recent items: i0, viewed before eight other
// interactions that pushed it out of a ring of two, never comes back; a purchase of a
// repeatable type does.
TEST(SeenFilterTest, ASeenItemNeverReturnsButARepeatableTypesItemMay) {
  EngineOptions o = Options({"emb_short", "category"});
  o.user.recent_capacity = 2;
  o.repeatable_types = {event_type::kPurchase};
  Engine engine(o, EventTypeTable());
  engine.SetCatalog(Catalog8());
  std::int64_t offset = 0;
  engine.Apply(Ev("u", "i0", kHour), {0, offset++});
  engine.Apply(Ev("u", "i1", kHour), {0, offset++});
  for (int repeat = 0; repeat < 4; ++repeat) {
    engine.Apply(Ev("u", "i2", 2 * kHour), {0, offset++});
    engine.Apply(Ev("u", "i4", 2 * kHour), {0, offset++});
  }
  engine.Apply(Ev("u", "i3", 3 * kHour, event_type::kPurchase), {0, offset++});
  const auto ids = Ids(engine.Recommend(UserId("u"), {3 * kHour}));
  EXPECT_FALSE(Has(ids, "i0"));
  EXPECT_FALSE(Has(ids, "i1"));
  EXPECT_FALSE(Has(ids, "i2"));
  EXPECT_FALSE(Has(ids, "i4"));
  EXPECT_TRUE(Has(ids, "i3"));  // only purchased, and purchases repeat
  EXPECT_TRUE(Has(ids, "i5"));  // never touched
  const UserState* u = engine.FindUser(UserId("u"));
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->seen().size(), 4U);  // i0, i1, i2 and i4, once each; not the purchase
}

// `sequence` learns what follows (a→b, not b→a); `covisit` with its default backward share
// learns both directions.
TEST(SequenceSourceTest, RecommendsWhatFollowsNotWhatPrecedes) {
  const auto lists = [](const std::string& feature) {
    Engine engine(Options({feature}), EventTypeTable());
    engine.SetCatalog(Catalog8());
    std::int64_t offset = 0;
    for (const char* user : {"a", "b", "c"}) {  // i1 then i6
      engine.Apply(Ev(user, "i1", kHour), {0, offset++});
      engine.Apply(Ev(user, "i6", kHour + 60'000), {0, offset++});
    }
    engine.Apply(Ev("before", "i1", 2 * kHour), {0, offset++});
    engine.Apply(Ev("after", "i6", 2 * kHour), {0, offset++});
    return std::make_pair(Ids(engine.Recommend(UserId("before"), {2 * kHour})),
                          Ids(engine.Recommend(UserId("after"), {2 * kHour})));
  };
  const auto [seq_before, seq_after] = lists("sequence");
  EXPECT_EQ(seq_before, std::vector<std::string>{"i6"});
  EXPECT_TRUE(seq_after.empty());
  const auto [cov_before, cov_after] = lists("covisit");
  EXPECT_EQ(cov_before, std::vector<std::string>{"i6"});
  EXPECT_EQ(cov_after, std::vector<std::string>{"i1"});
}

double Cosine(std::span<const float> a, std::span<const float> b) {
  double dot = 0;
  double na = 0;
  double nb = 0;
  for (std::size_t d = 0; d < a.size(); ++d) {
    dot += a[d] * b[d];
    na += a[d] * a[d];
    nb += b[d] * b[d];
  }
  return dot / std::sqrt(na * nb);
}

// Feeds one user's sequence of items (rows of `catalog`) at `now_s`.
void LearnSequence(LearnedVectors* v, const Catalog& catalog, const std::vector<std::string>& items,
                   double now_s) {
  std::vector<ItemId> history;
  for (const std::string& name : items) {
    const ItemId item(name);
    v->Learn(item, catalog.Find(item), now_s, [&](std::size_t g) -> const ItemId* {
      return g < history.size() ? &history[history.size() - 1 - g] : nullptr;
    });
    history.push_back(item);
  }
}

TEST(LearnedVectorsTest, UnusedItemsKeepTheirContentVectorUsedOnesMoveTowardsTheirCompany) {
  const auto catalog = Catalog8();
  LearnedVectors v(LearnedVectorOptions{}, kDim);
  v.SetCatalog(*catalog);
  const std::size_t i0 = *catalog->Find(ItemId("i0"));
  const std::size_t i3 = *catalog->Find(ItemId("i3"));
  const std::size_t i5 = *catalog->Find(ItemId("i5"));
  const double before = Cosine(v.Mixed(i0), catalog->Embedding(i5));
  for (int user = 0; user < 20; ++user) LearnSequence(&v, *catalog, {"i0", "i5"}, 100);
  // Cold start: i3 was never used, so it is exactly its content vector.
  EXPECT_NEAR(Cosine(v.Mixed(i3), catalog->Embedding(i3)), 1.0, 1e-6);
  // i0 and i5 are in different content clusters, but used together: they moved closer.
  EXPECT_GT(Cosine(v.Mixed(i0), catalog->Embedding(i5)), before + 0.5);
  EXPECT_GT(Cosine(v.Mixed(i0), v.Mixed(i5)),
            Cosine(catalog->Embedding(i0), catalog->Embedding(i5)) + 0.4);
  EXPECT_GT(v.MassAt(ItemId("i0"), 100), 0.0);
  EXPECT_EQ(v.MassAt(ItemId("i3"), 100), 0.0);
}

// The mixed vectors are remixed when read, once for all the changes since the last read: reading
// after every interaction or only at the end gives the same vectors (up to the decay of the mass
// between the two reads, nothing at a one-year half-life and seconds apart).
TEST(LearnedVectorsTest, VectorsReadLateEqualVectorsReadAfterEveryInteraction) {
  const auto catalog = Catalog8();
  LearnedVectors eager(LearnedVectorOptions{}, kDim);
  LearnedVectors late(LearnedVectorOptions{}, kDim);
  eager.SetCatalog(*catalog);
  late.SetCatalog(*catalog);
  const std::vector<std::vector<std::string>> users = {
      {"i0", "i5", "i6", "i0"}, {"i1", "i5", "i2"}, {"i7", "i3", "i0", "i5", "i4", "i6"}};
  double t = 100;
  for (const auto& items : users) {
    for (std::size_t n = 1; n <= items.size(); ++n) {
      // One interaction more of this user each time: its last item with the ones before.
      const std::vector<std::string> prefix(items.begin(), items.begin() + static_cast<long>(n));
      LearnedVectors* both[] = {&eager, &late};
      for (LearnedVectors* v : both) {
        std::vector<ItemId> history(prefix.begin(), prefix.end() - 1);
        const ItemId item(prefix.back());
        v->Learn(item, catalog->Find(item), t, [&](std::size_t g) -> const ItemId* {
          return g < history.size() ? &history[history.size() - 1 - g] : nullptr;
        });
      }
      for (std::size_t row = 0; row < catalog->size(); ++row) eager.Mixed(row);
      t += 1;
    }
  }
  std::size_t moved = 0;
  for (std::size_t row = 0; row < catalog->size(); ++row) {
    const std::span<const float> a = eager.Mixed(row);
    const std::span<const float> b = late.Mixed(row);
    for (std::size_t d = 0; d < kDim; ++d) EXPECT_NEAR(a[d], b[d], 1e-6) << row << " " << d;
    if (Cosine(b, catalog->Embedding(row)) < 0.999) ++moved;
  }
  EXPECT_GE(moved, 6U);  // the late reader saw the interactions, not the content vectors
}

// A partition's new owner seeds the old owner's exported sums: it then holds the vectors one
// learner of the whole stream would, and goes on learning from there.
TEST(LearnedVectorsTest, AnExportSeededElsewhereContinuesTheLearning) {
  const auto catalog = Catalog8();
  LearnedVectors whole(LearnedVectorOptions{}, kDim);
  LearnedVectors old_owner(LearnedVectorOptions{}, kDim);
  LearnedVectors new_owner(LearnedVectorOptions{}, kDim);
  for (auto* v : {&whole, &old_owner, &new_owner}) v->SetCatalog(*catalog);
  const std::vector<std::vector<std::string>> first = {{"i0", "i5", "i6"}, {"i1", "i5"}};
  const std::vector<std::vector<std::string>> later = {{"i2", "i7"}, {"i0", "i7"}};
  for (const auto& s : first) {
    LearnSequence(&whole, *catalog, s, 1000);
    LearnSequence(&old_owner, *catalog, s, 1000);
  }
  SourceStats exported;
  old_owner.Export(1000, 100, &exported);
  EXPECT_EQ(exported.vectors.size(), 4U);  // every item used: i0, i1, i5, i6
  new_owner.Seed(exported, 1000);
  for (const auto& s : later) {
    LearnSequence(&whole, *catalog, s, 5000);
    LearnSequence(&new_owner, *catalog, s, 5000);
  }
  for (std::size_t row = 0; row < catalog->size(); ++row) {
    EXPECT_NEAR(Cosine(new_owner.Mixed(row), whole.Mixed(row)), 1.0, 1e-5) << "row " << row;
  }
  // Without the seed, the new owner would know only the later sequences.
  LearnedVectors fresh(LearnedVectorOptions{}, kDim);
  fresh.SetCatalog(*catalog);
  for (const auto& s : later) LearnSequence(&fresh, *catalog, s, 5000);
  const std::size_t i5 = *catalog->Find(ItemId("i5"));
  EXPECT_LT(Cosine(fresh.Mixed(i5), whole.Mixed(i5)), 0.99);
}

// Catalog8's items in a catalog with a nearest-neighbour index (all lists read).
std::shared_ptr<const Catalog> IndexedCatalog8() {
  AnnOptions ann;
  ann.min_items = 1;
  ann.lists = 2;
  ann.probes = 2;
  CatalogBuilder b(*Catalog8(), ann);
  return b.Build();
}

// With an index the catalog's rows have no copy: only learned items hold a mixed vector. They are
// the vectors a full copy would hold, through learning, dropping the weakest items (back to their
// content vectors) and new ones.
TEST(LearnedVectorsTest, WithAnIndexedCatalogOnlyLearnedItemsHoldTheirVectors) {
  const auto dense_catalog = Catalog8();
  const auto indexed_catalog = IndexedCatalog8();
  ASSERT_NE(indexed_catalog->index(), nullptr);
  LearnedVectorOptions options;
  options.max_items = 4;  // eight items used: the weakest go
  LearnedVectors dense(options, kDim);
  LearnedVectors sparse(options, kDim);
  dense.SetCatalog(*dense_catalog);
  sparse.SetCatalog(*indexed_catalog);
  EXPECT_TRUE(dense.dense());
  EXPECT_FALSE(sparse.dense());
  const std::vector<std::vector<std::string>> users = {
      {"i0", "i5"}, {"i1", "i5", "i2"}, {"i0", "i5", "i6"}, {"i7", "i3", "i0", "i5", "i4"}};
  double t = 100;
  for (const auto& items : users) {
    LearnSequence(&dense, *dense_catalog, items, t);
    LearnSequence(&sparse, *indexed_catalog, items, t);
    t += 10;
    for (std::size_t row = 0; row < dense_catalog->size(); ++row) {
      const std::span<const float> a = dense.Mixed(row);
      const std::span<const float> b = sparse.Mixed(row);
      for (std::size_t d = 0; d < kDim; ++d) EXPECT_FLOAT_EQ(a[d], b[d]) << row << " " << d;
    }
    const std::span<const std::uint32_t> rows = sparse.LearnedRows();
    const std::span<const float* const> vectors = sparse.LearnedRowVectors();
    ASSERT_EQ(vectors.size(), rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const std::span<const float> want = dense.Mixed(rows[i]);
      for (std::size_t d = 0; d < kDim; ++d) EXPECT_FLOAT_EQ(vectors[i][d], want[d]) << rows[i];
    }
    // Each learned row's list is that of its current vector (kept between calls).
    const AnnIndex& index = *indexed_catalog->index();
    const std::span<const std::uint32_t> lists = sparse.LearnedRowLists(index);
    ASSERT_EQ(lists.size(), rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      std::uint32_t want = 0;
      index.NearestLists({&vectors[i], 1}, {&want, 1});
      EXPECT_EQ(lists[i], want) << rows[i];
    }
    EXPECT_LE(sparse.items(), 4U);
  }
  EXPECT_LT(Cosine(sparse.Mixed(*indexed_catalog->Find(ItemId("i5"))),
                   indexed_catalog->Embedding(*indexed_catalog->Find(ItemId("i5")))),
            0.999);  // something was learned
}

// An item learned from the other cluster's items moves to that cluster's list; its list is found
// again once its vector changed.
TEST(LearnedVectorsTest, ALearnedItemMovesToTheListOfItsNewVector) {
  const auto catalog = IndexedCatalog8();
  const AnnIndex& index = *catalog->index();
  ASSERT_EQ(index.lists(), 2U);
  LearnedVectors v(LearnedVectorOptions{}, kDim);
  v.SetCatalog(*catalog);
  const std::uint32_t i0 = static_cast<std::uint32_t>(*catalog->Find(ItemId("i0")));
  const auto list_of_i0 = [&] {
    const std::span<const std::uint32_t> rows = v.LearnedRows();
    const std::span<const std::uint32_t> lists = v.LearnedRowLists(index);
    const auto at = std::find(rows.begin(), rows.end(), i0);
    EXPECT_NE(at, rows.end());
    return at == rows.end() ? 99U : lists[static_cast<std::size_t>(at - rows.begin())];
  };
  const auto nearest = [&](std::span<const float> vector) {
    const float* p = vector.data();
    std::uint32_t list = 0;
    index.NearestLists({&p, 1}, {&list, 1});
    return list;
  };
  // The list whose group of LearnedRowsByList holds `row` (kept between calls: it must follow).
  const auto group_of = [&](std::uint32_t row) {
    const RowsByList& g = v.LearnedRowsByList(index);
    for (std::size_t l = 0; l + 1 < g.begin.size(); ++l) {
      for (std::uint32_t k = g.begin[l]; k < g.begin[l + 1]; ++k) {
        if (g.rows[k] != row) continue;
        EXPECT_EQ(g.vectors[k], v.Mixed(row).data()) << "row " << row;
        return static_cast<std::uint32_t>(l);
      }
    }
    return 99U;
  };
  const std::uint32_t home = nearest(catalog->Embedding(i0));
  const std::uint32_t other = nearest(catalog->Embedding(*catalog->Find(ItemId("i5"))));
  ASSERT_NE(home, other);
  LearnSequence(&v, *catalog, {"i5", "i6", "i0"}, 99);
  EXPECT_EQ(list_of_i0(), home);  // one event: still mostly its content vector
  EXPECT_EQ(group_of(i0), home);
  for (int i = 0; i < 200; ++i) LearnSequence(&v, *catalog, {"i5", "i6", "i0"}, 100 + i);
  EXPECT_EQ(nearest(v.Mixed(i0)), other);
  EXPECT_EQ(list_of_i0(), other);
  EXPECT_EQ(group_of(i0), other);
  // Items new since the last call (one of each cluster: one of them is not in list 0) get theirs.
  LearnSequence(&v, *catalog, {"i1", "i4"}, 400);
  const std::span<const std::uint32_t> lists = v.LearnedRowLists(index);
  const std::span<const std::uint32_t> rows = v.LearnedRows();
  ASSERT_EQ(lists.size(), 5U);  // i0, i1, i4, i5, i6
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(lists[i], nearest(v.Mixed(rows[i]))) << "row " << rows[i];
    EXPECT_EQ(group_of(rows[i]), lists[i]) << "row " << rows[i];
  }
  // One new item at a time, after the grouping was made: each joins its list's group, whichever
  // list that is (list 0 included, the list a new row's entry starts with).
  for (const char* item : {"i2", "i3", "i7"}) {
    LearnSequence(&v, *catalog, {"i5", item}, 500);
    const auto row = static_cast<std::uint32_t>(*catalog->Find(ItemId(item)));
    EXPECT_EQ(group_of(row), nearest(v.Mixed(row))) << item;
  }
}

// The embedding sources rank the same with an index (reading every list) as with the exact scan,
// learned vectors included.
TEST(EmbeddingSourceTest, LearnedVectorsRankTheSameWithAnIndex) {
  const auto lists = [](std::shared_ptr<const Catalog> catalog) {
    EngineOptions o = Options({"emb_short"});
    o.sources.embedding.learned.enabled = true;
    Engine engine(o, EventTypeTable());
    engine.SetCatalog(std::move(catalog));
    std::int64_t offset = 0;
    for (const char* user : {"a", "b", "c"}) {  // i1 with i6: across the content clusters
      engine.Apply(Ev(user, "i1", kHour), {0, offset++});
      engine.Apply(Ev(user, "i6", kHour + 60'000), {0, offset++});
    }
    engine.Apply(Ev("u", "i1", 2 * kHour), {0, offset++});
    return Ids(engine.Recommend(UserId("u"), {2 * kHour}));
  };
  const std::vector<std::string> exact = lists(Catalog8());
  EXPECT_EQ(lists(IndexedCatalog8()), exact);
  ASSERT_FALSE(exact.empty());
}

// Score looks up the popularity only of rows that may have one: those counted before the last
// recomputation of the global lists, those counted since (no recomputation follows every event),
// and after a new catalog every counted item at its new row. The rest score 0.
TEST(PopularitySourceTest, ScoresEveryCountedItemWhereverItsRowIs) {
  const auto score_rows = [](PopularitySource& source, const Catalog& catalog, double now_s,
                             const std::vector<std::string>& items) {
    const RankContext ctx{&catalog, TimestampMs{static_cast<std::int64_t>(now_s * 1000)}, now_s,
                          10};
    const std::vector<RankUser> users(1);
    source.Prepare(users, ctx);
    source.BeginUser(users[0], ctx);
    std::vector<Candidate> candidates;
    for (const std::string& item : items) {
      candidates.push_back({static_cast<std::uint32_t>(*catalog.Find(ItemId(item))), {}});
    }
    source.Score(0, users[0], ctx, candidates, 0);  // trending
    source.EndUser(users[0]);
    std::vector<double> out;
    for (const Candidate& c : candidates) out.push_back(c.x[0]);
    return out;
  };
  const auto learn = [](PopularitySource& source, const Catalog& catalog, const ItemId& item,
                        double now_s) {
    source.Learn({&item, catalog.Find(item), 1.0, now_s, now_s, nullptr});
  };
  PopularitySource source(PopularityOptions{}, 8);
  const std::shared_ptr<const Catalog> catalog = Catalog8();
  source.SetCatalog(*catalog);
  const double t = 10 * 3600.0;
  learn(source, *catalog, ItemId("i1"), t);
  EXPECT_GT(score_rows(source, *catalog, t, {"i1"})[0], 0.0);  // recomputed: i1 counted
  learn(source, *catalog, ItemId("i2"), t + 1);                // one event: no recomputation
  learn(source, *catalog, ItemId("i2"), t + 1);
  const std::vector<double> got = score_rows(source, *catalog, t + 2, {"i1", "i2", "i3"});
  EXPECT_FLOAT_EQ(got[0], source.Popularity(ItemId("i1"), t + 2));
  EXPECT_FLOAT_EQ(got[1], source.Popularity(ItemId("i2"), t + 2));
  EXPECT_GT(got[1], got[0]);
  EXPECT_EQ(got[2], 0.0);
  // The same items in the opposite rows.
  CatalogBuilder reversed(test_util::kDim);
  for (std::size_t row = catalog->size(); row-- > 0;) {
    ItemRecord r;
    r.item = catalog->item(row).id;
    const std::span<const float> v = catalog->Embedding(row);
    r.emb.assign(v.begin(), v.end());
    reversed.Upsert(r);
  }
  const std::shared_ptr<const Catalog> moved = reversed.Build();
  ASSERT_NE(*moved->Find(ItemId("i2")), *catalog->Find(ItemId("i2")));
  source.SetCatalog(*moved);
  const std::vector<double> after = score_rows(source, *moved, t + 2, {"i1", "i2", "i3"});
  EXPECT_FLOAT_EQ(after[0], got[0]);
  EXPECT_FLOAT_EQ(after[1], got[1]);
  EXPECT_EQ(after[2], 0.0);
}

TEST(SourceRegistryTest, EachFeatureHasOneRoomAtItsPositionAndRoomsAreShared) {
  ASSERT_TRUE(IsKnownFeature("sequence"));
  EXPECT_FALSE(IsKnownFeature("nonsense"));
  EXPECT_EQ(DefaultFeatures().size(), KnownFeatures().size());
  const UserStateOptions user;
  const std::vector<std::string> features = {"sequence", "emb_short", "covisit", "emb_long"};
  const SourceSet set = MakeSources(SourceOptions{}, features, user);
  ASSERT_EQ(set.features.size(), 4U);
  EXPECT_EQ(set.names, features);
  // emb_short and emb_long come from one embedding room: three rooms.
  EXPECT_EQ(set.rooms.size(), 3U);
  EXPECT_EQ(set.features[1].room, set.features[3].room);
  EXPECT_NE(set.features[0].room, set.features[2].room);
  for (std::size_t f = 0; f < features.size(); ++f) {
    const Source* room = set.features[f].room;
    ASSERT_NE(room, nullptr);
    EXPECT_EQ(room->features()[set.features[f].local], features[f]);
  }
  EXPECT_EQ(RoomSharing(set, "sequence"), set.features[0].room);
  EXPECT_EQ(RoomSharing(set, "trending"), nullptr);
}

}  // namespace
}  // namespace recsd::model
