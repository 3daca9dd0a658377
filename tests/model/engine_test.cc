#include "model/engine.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/model/engine_test_util.h"

namespace recsd::model {
namespace {

using test_util::Catalog8;
using test_util::Ev;
using test_util::Has;
using test_util::Ids;
using test_util::kDim;
using test_util::kHour;

// Keeps every published list.
class Collect final : public ListSink {
 public:
  void Publish(RecommendationList list) override { lists.push_back(std::move(list)); }
  std::vector<RecommendationList> lists;
};

// The six features these tests were written for, on the catalog's content vectors (sequence and
// learned vectors have tests of their own).
EngineOptions Options() {
  EngineOptions o;
  o.features = {"emb_short", "emb_long", "covisit", "trending", "category", "fresh"};
  o.sources.embedding.learned.enabled = false;
  // Co-visits as these tests knew them: adjacent interactions, equal weight for the latest five,
  // within an hour, a week's half-life.
  o.sources.covisit.gaps = 1;
  o.sources.covisit.seeds = 5;
  o.sources.covisit.recency = 1.0;
  o.sources.covisit.graph.half_life = 7 * 24 * 3600.0;
  o.user.dim = kDim;
  o.candidates_per_source = 20;
  o.rank.k = 5;
  o.weights.w = {1, 1, 1, 1, 1, 1};
  o.weights.version = 7;
  return o;
}

// A record's share of source `name` (empty when it has none).
const SourceStats& Share(const PartitionStats& record, std::string_view name) {
  static const SourceStats kNone;
  const SourceStats* s = record.Find(name);
  return s != nullptr ? *s : kNone;
}

struct Fixture {
  explicit Fixture(EngineOptions o = Options()) : engine(std::move(o), EventTypeTable()) {
    engine.SetCatalog(Catalog8());
  }
  Engine engine;
  Collect sink;
};

// Interest vectors are kept only where something reads them: the embedding sources on content
// vectors. With learned item vectors (the default) a user's vector is made from the recent
// items, and a state keeps masses and clock alone; a record moved between the two kinds of
// engine (a configuration change) restores, without vectors or with them from zero.
TEST(EngineTest, InterestVectorsAreKeptOnlyWhenTheEmbeddingSourcesReadThem) {
  EngineOptions learned = Options();
  learned.sources.embedding.learned.enabled = true;
  Fixture with(Options());
  Fixture without(learned);
  for (Fixture* f : {&with, &without}) {
    f->engine.Apply(Ev("u1", "i0", kHour), {0, 0});
    f->engine.Apply(Ev("u1", "i1", kHour + 1000), {0, 1});
  }
  const UserStateParts kept = *with.engine.ExportUser(UserId("u1"));
  const UserStateParts dropped = *without.engine.ExportUser(UserId("u1"));
  EXPECT_EQ(kept.vectors.size(), 2 * kDim);
  EXPECT_TRUE(dropped.vectors.empty());
  EXPECT_EQ(kept.masses, dropped.masses);
  EXPECT_LT(without.engine.UserStateBytes() + 2 * kDim * sizeof(float),
            with.engine.UserStateBytes() + 1);
  // Both still rank u1 from its interest: the embedding sources offer the cluster of i0 and i1.
  for (Fixture* f : {&with, &without}) {
    f->engine.Refresh({kHour + 2000}, f->sink);
    ASSERT_EQ(f->sink.lists.size(), 1U);
    const std::vector<std::string> ids = Ids(f->sink.lists[0]);
    EXPECT_TRUE(Has(ids, "i2") || Has(ids, "i3"));
  }
  // Across the switch: vectors dropped, or started from zero; the rest as it was.
  ASSERT_TRUE(without.engine.RestoreUser(UserId("u2"), kept));
  EXPECT_TRUE(without.engine.ExportUser(UserId("u2"))->vectors.empty());
  ASSERT_TRUE(with.engine.RestoreUser(UserId("u2"), dropped));
  const UserStateParts zero = *with.engine.ExportUser(UserId("u2"));
  EXPECT_EQ(zero.vectors, std::vector<float>(2 * kDim, 0.0F));
  EXPECT_EQ(zero.masses, dropped.masses);
  EXPECT_EQ(zero.recent, dropped.recent);
}

TEST(EngineTest, PublishesOneListPerDirtyUserWithTheTriggerAsItsId) {
  Fixture f;
  EXPECT_EQ(f.engine.Apply(Ev("u", "i0", 10 * kHour), {3, 41}), ApplyOutcome::kApplied);
  EXPECT_EQ(f.engine.Apply(Ev("u", "i1", 10 * kHour + 5), {3, 42}), ApplyOutcome::kApplied);
  EXPECT_EQ(f.engine.dirty(), 1U);
  ASSERT_EQ(f.engine.Refresh({10 * kHour + 10}, f.sink), 1U);
  const RecommendationList& list = f.sink.lists.at(0);
  EXPECT_EQ(list.user, UserId("u"));
  EXPECT_EQ(list.rec, "3-42");  // partition and offset of the latest event that made it dirty
  EXPECT_EQ(list.event_ts, TimestampMs{10 * kHour + 5});
  EXPECT_EQ(list.ts, TimestampMs{10 * kHour + 10});
  EXPECT_EQ(list.model, 7U);
  EXPECT_EQ(list.variant, "static");
  EXPECT_FALSE(list.items.empty());
  EXPECT_EQ(f.engine.Refresh({10 * kHour + 20}, f.sink), 0U);  // nothing dirty any more
}

// A user active again within the minimum interval is refreshed once the interval has passed, with
// everything it did meanwhile in one list.
TEST(EngineTest, CoalescesAUsersRefreshesWithinTheMinimumInterval) {
  Fixture f;
  f.engine.Apply(Ev("u", "i0", kHour), {0, 1});
  ASSERT_EQ(f.engine.Refresh({kHour}, f.sink, 1000), 1U);  // no list yet: not coalesced
  f.engine.Apply(Ev("u", "i1", kHour + 100), {0, 2});
  f.engine.Apply(Ev("v", "i4", kHour + 100), {0, 3});
  EXPECT_EQ(f.engine.coalesced(), 0U);
  f.engine.Apply(Ev("u", "i2", kHour + 200), {0, 4});
  EXPECT_EQ(f.engine.Refresh({kHour + 300}, f.sink, 1000), 1U);  // v only
  EXPECT_EQ(f.sink.lists.back().user, UserId("v"));
  EXPECT_EQ(f.engine.dirty(), 1U);
  EXPECT_EQ(f.engine.OldestDirtyOffset(), std::optional<std::int64_t>(2));
  EXPECT_EQ(f.engine.Refresh({kHour + 999}, f.sink, 1000), 0U);
  EXPECT_EQ(f.engine.Refresh({kHour + 1000}, f.sink, 1000), 1U);
  EXPECT_EQ(f.sink.lists.back().rec, "0-4");  // the latest event of the burst
  EXPECT_EQ(f.engine.coalesced(), 1U);        // events 2 and 4 got one list
  EXPECT_EQ(f.engine.OldestDirtyOffset(), std::nullopt);
  // Without a minimum interval every dirty user is refreshed at once.
  f.engine.Apply(Ev("u", "i3", kHour + 1001), {0, 5});
  EXPECT_EQ(f.engine.Refresh({kHour + 1001}, f.sink), 1U);
}

// The oldest offset of a dirty user bounds what the daemon may commit; forgotten users do not.
TEST(EngineTest, OldestDirtyOffsetIsTheFirstUnpublishedEventOfAnyDirtyUser) {
  Fixture f;
  EXPECT_EQ(f.engine.OldestDirtyOffset(), std::nullopt);
  f.engine.Apply(Ev("a", "i0", kHour), {0, 10});
  f.engine.Apply(Ev("b", "i1", kHour), {0, 11});
  f.engine.Apply(Ev("a", "i2", kHour), {0, 12});
  EXPECT_EQ(f.engine.OldestDirtyOffset(), std::optional<std::int64_t>(10));
  Event forget = Ev("a", "", kHour, event_type::kForget);
  f.engine.Apply(forget, {0, 13});
  EXPECT_EQ(f.engine.OldestDirtyOffset(), std::optional<std::int64_t>(11));
}

// Users refreshed together share one catalog scan; each still gets its own neighbours.
TEST(EngineTest, UsersRefreshedInOneBatchEachGetTheirOwnCluster) {
  EngineOptions o = Options();
  o.weights.w = {1, 0, 0, 0, 0, 0};  // emb_short only
  o.rank.k = 3;
  Fixture f(o);
  f.engine.Apply(Ev("u", "i0", kHour), {0, 1});
  f.engine.Apply(Ev("v", "i4", kHour), {0, 2});
  f.engine.Apply(Ev("w", "i1", kHour), {0, 3});
  ASSERT_EQ(f.engine.Refresh({kHour}, f.sink), 3U);
  for (const RecommendationList& list : f.sink.lists) {
    const bool first_cluster = list.user == UserId("u") || list.user == UserId("w");
    for (const std::string& id : Ids(list)) {
      const int i = std::stoi(id.substr(1));
      EXPECT_EQ(i < 4, first_cluster) << list.user.str() << " got " << id;
    }
  }
}

TEST(EngineTest, NeverRecommendsSeenOrUnavailableItems) {
  CatalogBuilder b(*Catalog8());
  ItemRecord gone;
  gone.item = ItemId("i2");
  gone.emb = {1, 0.2F, 0, 0};
  gone.cat = "a";
  gone.available = false;
  b.Upsert(gone);
  Fixture f;
  f.engine.SetCatalog(b.Build());
  f.engine.Apply(Ev("u", "i0", kHour), {0, 1});
  f.engine.Apply(Ev("u", "i1", kHour), {0, 2});
  f.engine.Refresh({kHour}, f.sink);
  const auto ids = Ids(f.sink.lists.at(0));
  EXPECT_FALSE(Has(ids, "i0"));
  EXPECT_FALSE(Has(ids, "i1"));
  EXPECT_FALSE(Has(ids, "i2"));
  EXPECT_TRUE(Has(ids, "i3"));  // the same cluster as what the user saw
}

TEST(EngineTest, InterestRanksTheUsersClusterFirstAndExplainsIt) {
  EngineOptions o = Options();
  o.weights.w = {1, 1, 0, 0, 0, 0};  // embeddings only
  Fixture f(o);
  f.engine.Apply(Ev("u", "i4", kHour), {0, 1});
  f.engine.Refresh({kHour}, f.sink);
  const RecommendationList& list = f.sink.lists.at(0);
  ASSERT_GE(list.items.size(), 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(list.items[i].item == ItemId("i5") || list.items[i].item == ItemId("i6") ||
                list.items[i].item == ItemId("i7"))
        << list.items[i].item.str();
    float sum = 0;
    for (const auto& [source, c] : list.items[i].src) {
      EXPECT_TRUE(source == "emb_short" || source == "emb_long") << source;
      sum += c;
    }
    EXPECT_NEAR(sum, list.items[i].score, 1e-5);
  }
}

TEST(EngineTest, ReDeliveredEventsChangeNothing) {
  Fixture f;
  f.engine.Apply(Ev("u", "i0", kHour), {0, 5});
  const double popularity = f.engine.Popularity(ItemId("i0"), {kHour});
  EXPECT_EQ(f.engine.Apply(Ev("u", "i0", kHour), {0, 5}), ApplyOutcome::kDuplicate);
  EXPECT_EQ(f.engine.Apply(Ev("u", "i1", kHour), {0, 4}), ApplyOutcome::kDuplicate);
  EXPECT_EQ(f.engine.FindUser(UserId("u"))->event_count(), 1U);
  EXPECT_DOUBLE_EQ(f.engine.Popularity(ItemId("i0"), {kHour}), popularity);
  EXPECT_EQ(f.engine.Popularity(ItemId("i1"), {kHour}), 0.0);
}

TEST(EngineTest, CurrentListIsTheLatestPublishedOneWithItsExplanation) {
  Fixture f;
  EXPECT_EQ(f.engine.CurrentList(UserId("u")), std::nullopt);
  f.engine.Apply(Ev("u", "i0", kHour), {0, 1});
  f.engine.Apply(Ev("u", "i1", kHour + 1), {0, 2});
  f.engine.Refresh({kHour + 1}, f.sink);
  const RecommendationList& published = f.sink.lists.back();
  const std::optional<RecommendationList> current = f.engine.CurrentList(UserId("u"));
  ASSERT_TRUE(current.has_value());
  EXPECT_EQ(current->rec, published.rec);
  EXPECT_EQ(current->variant, published.variant);
  EXPECT_EQ(current->event_ts, published.event_ts);
  ASSERT_EQ(current->items.size(), published.items.size());
  for (std::size_t i = 0; i < published.items.size(); ++i) {
    EXPECT_EQ(current->items[i].item, published.items[i].item);
    ASSERT_EQ(current->items[i].src.size(), published.items[i].src.size()) << i;
    for (std::size_t s = 0; s < published.items[i].src.size(); ++s) {
      EXPECT_EQ(current->items[i].src[s].first, published.items[i].src[s].first);
      EXPECT_NEAR(current->items[i].src[s].second, published.items[i].src[s].second, 1e-6);
    }
  }
}

// After a restore, lists for events at or after the resume offset are published again, exactly
// as they were (same rec, items, event time); older ones are not.
TEST(EngineTest, RepublishesRestoredListsWhoseTriggerIsAtOrAfterTheResumeOffset) {
  Fixture f;
  f.engine.Apply(Ev("early", "i0", kHour), {0, 3});
  f.engine.Apply(Ev("late", "i1", kHour + 1), {0, 7});
  f.engine.Refresh({kHour + 50}, f.sink);  // shown later than its event
  ASSERT_EQ(f.sink.lists.size(), 2U);
  Fixture restored;
  for (const char* user : {"early", "late"}) {
    ASSERT_TRUE(restored.engine.RestoreUser(UserId(user), *f.engine.ExportUser(UserId(user))));
  }
  EXPECT_EQ(restored.engine.RepublishUnconfirmed(8, restored.sink), 0U);
  EXPECT_EQ(restored.engine.RepublishUnconfirmed(7, restored.sink), 1U);
  ASSERT_EQ(restored.sink.lists.size(), 1U);
  const RecommendationList& again = restored.sink.lists[0];
  const auto original = std::find_if(f.sink.lists.begin(), f.sink.lists.end(),
                                     [](const RecommendationList& l) { return l.rec == "0-7"; });
  ASSERT_NE(original, f.sink.lists.end());
  EXPECT_EQ(again.user, UserId("late"));
  EXPECT_EQ(again.rec, "0-7");
  EXPECT_EQ(again.event_ts, original->event_ts);
  ASSERT_EQ(again.items.size(), original->items.size());
  for (std::size_t i = 0; i < again.items.size(); ++i) {
    EXPECT_EQ(again.items[i].item, original->items[i].item);
  }
  EXPECT_EQ(restored.engine.RepublishUnconfirmed(0, restored.sink), 2U);
}

// The changelog may hold a user's state with an event whose list was never made (the owner
// stopped before it): when that last event is consumed again, the user gets its list, under the
// event's rec. A re-consumed event that is not the user's last, or whose list exists, changes
// nothing.
TEST(EngineTest, AReconsumedLastEventWithoutItsListMakesTheUserDirty) {
  Fixture f;
  f.engine.Apply(Ev("u", "i0", kHour), {0, 3});
  f.engine.Apply(Ev("listed", "i2", kHour), {0, 4});
  f.engine.Refresh({kHour}, f.sink);
  f.engine.Apply(Ev("u", "i1", kHour + 1), {0, 7});  // the state goes out before its list
  Fixture restored;
  for (const char* user : {"u", "listed"}) {
    ASSERT_TRUE(restored.engine.RestoreUser(UserId(user), *f.engine.ExportUser(UserId(user))));
  }
  EXPECT_EQ(restored.engine.RepublishUnconfirmed(5, restored.sink), 0U);
  EXPECT_EQ(restored.engine.Apply(Ev("u", "i0", kHour), {0, 3}), ApplyOutcome::kDuplicate);
  EXPECT_EQ(restored.engine.Apply(Ev("listed", "i2", kHour), {0, 4}), ApplyOutcome::kDuplicate);
  EXPECT_EQ(restored.engine.dirty(), 0U);
  EXPECT_EQ(restored.engine.Apply(Ev("u", "i1", kHour + 1), {0, 7}), ApplyOutcome::kDuplicate);
  EXPECT_EQ(restored.engine.dirty(), 1U);
  restored.engine.Refresh({kHour + 1}, restored.sink);
  ASSERT_EQ(restored.sink.lists.size(), 1U);
  EXPECT_EQ(restored.sink.lists[0].user, UserId("u"));
  EXPECT_EQ(restored.sink.lists[0].rec, "0-7");
  EXPECT_EQ(restored.engine.FindUser(UserId("u"))->event_count(), 2U);  // nothing applied twice
  // Its list made, the same event once more changes nothing.
  EXPECT_EQ(restored.engine.Apply(Ev("u", "i1", kHour + 1), {0, 7}), ApplyOutcome::kDuplicate);
  EXPECT_EQ(restored.engine.dirty(), 0U);
}

TEST(EngineTest, AReconsumedEventWithoutItsListBeforeAnImpressionOrAnotherSuchEventGetsOne) {
  Fixture f;
  f.engine.Apply(Ev("u", "i0", kHour), {0, 3});
  f.engine.Refresh({kHour}, f.sink);
  // The state goes out with two events and an impression after the list of 0-3: no list asked
  // for the impression, so the user's last event is not the one whose list is missing.
  f.engine.Apply(Ev("u", "i1", kHour + 1), {0, 7});
  f.engine.Apply(Ev("u", "i2", kHour + 2), {0, 8});
  f.engine.Apply(Ev("u", "i3", kHour + 3, event_type::kImpression), {0, 9});
  Fixture restored;
  ASSERT_TRUE(restored.engine.RestoreUser(UserId("u"), *f.engine.ExportUser(UserId("u"))));
  EXPECT_EQ(restored.engine.Apply(Ev("u", "i0", kHour), {0, 3}), ApplyOutcome::kDuplicate);
  EXPECT_EQ(restored.engine.dirty(), 0U);  // listed as 0-3
  EXPECT_EQ(restored.engine.Apply(Ev("u", "i1", kHour + 1), {0, 7}), ApplyOutcome::kDuplicate);
  EXPECT_EQ(restored.engine.dirty(), 1U);
  EXPECT_EQ(restored.engine.Apply(Ev("u", "i2", kHour + 2), {0, 8}), ApplyOutcome::kDuplicate);
  EXPECT_EQ(restored.engine.Apply(Ev("u", "i3", kHour + 3, event_type::kImpression), {0, 9}),
            ApplyOutcome::kDuplicate);
  EXPECT_EQ(restored.engine.OldestDirtyOffset(),
            std::optional<std::int64_t>(7));  // no offset committed past the first
  restored.engine.Refresh({kHour + 3}, restored.sink);
  ASSERT_EQ(restored.sink.lists.size(), 1U);
  EXPECT_EQ(restored.sink.lists[0].rec, "0-8");  // one list, under the newest event that asked
  EXPECT_EQ(restored.engine.FindUser(UserId("u"))->event_count(), 4U);  // nothing applied twice
  // Consumed once more (the commit did not get past them): nothing is newer than 0-8's list.
  EXPECT_EQ(restored.engine.Apply(Ev("u", "i1", kHour + 1), {0, 7}), ApplyOutcome::kDuplicate);
  EXPECT_EQ(restored.engine.Apply(Ev("u", "i2", kHour + 2), {0, 8}), ApplyOutcome::kDuplicate);
  EXPECT_EQ(restored.engine.dirty(), 0U);
}

TEST(EngineTest, EvictsNegligibleUsersFirstThenTheLeastRecentNeverTheDirty) {
  constexpr std::int64_t kDay = 24 * kHour;
  Fixture f;  // event-time clock; the long-term interest has a 7-day half-life
  f.engine.Apply(Ev("ancient", "i0", kHour), {0, 1});  // 2^(-60/7) of its mass left at day 60
  f.engine.Apply(Ev("a", "i1", 59 * kDay), {0, 2});
  f.engine.Apply(Ev("b", "i2", 59 * kDay + kHour), {0, 3});
  f.engine.Refresh({59 * kDay + kHour}, f.sink);
  f.engine.Apply(Ev("dirty", "i3", 2 * kHour), {0, 4});  // no list yet: must stay
  const TimestampMs now{60 * kDay};
  const std::size_t all = f.engine.UserStateBytes();
  EvictionCounts none = f.engine.Evict(all, now, 0.01);
  EXPECT_EQ(none.negligible + none.lru, 0U);
  EvictionCounts one = f.engine.Evict(all - 1, now, 0.01);
  EXPECT_EQ(one.negligible, 1U);
  EXPECT_EQ(one.lru, 0U);
  EXPECT_EQ(f.engine.FindUser(UserId("ancient")), nullptr);
  EvictionCounts rest = f.engine.Evict(0, now, 0.01);
  EXPECT_EQ(rest.lru, 2U);  // a and b; never the dirty user
  EXPECT_EQ(f.engine.users(), 1U);
  EXPECT_NE(f.engine.FindUser(UserId("dirty")), nullptr);
  EXPECT_EQ(f.engine.OldestDirtyOffset(), std::optional<std::int64_t>(4));
  // An evicted user starts fresh.
  f.engine.Apply(Ev("a", "i4", 60 * kDay), {0, 5});
  EXPECT_EQ(f.engine.FindUser(UserId("a"))->event_count(), 1U);
}

TEST(EngineTest, EvictionOrderIsLeastRecentFirst) {
  Fixture f;
  f.engine.Apply(Ev("newer", "i1", 3 * kHour), {0, 1});
  f.engine.Apply(Ev("older", "i2", 2 * kHour), {0, 2});
  f.engine.Refresh({3 * kHour}, f.sink);
  const std::size_t all = f.engine.UserStateBytes();
  EXPECT_EQ(f.engine.Evict(all - 1, {3 * kHour}, 0.0).lru, 1U);  // threshold 0: none negligible
  EXPECT_EQ(f.engine.FindUser(UserId("older")), nullptr);
  EXPECT_NE(f.engine.FindUser(UserId("newer")), nullptr);
}

TEST(EngineTest, EventsOlderThanTheUsersLatestAreLateButApplied) {
  Fixture f;
  bool late = true;
  EXPECT_EQ(f.engine.Apply(Ev("u", "i0", kHour), {0, 1}, &late), ApplyOutcome::kApplied);
  EXPECT_FALSE(late);  // no state before it
  EXPECT_EQ(f.engine.Apply(Ev("u", "i1", kHour), {0, 2}, &late), ApplyOutcome::kApplied);
  EXPECT_FALSE(late);  // as old as the latest is not older
  EXPECT_EQ(f.engine.Apply(Ev("v", "i1", 0), {0, 3}, &late), ApplyOutcome::kApplied);
  EXPECT_FALSE(late);  // another user's clock
  EXPECT_EQ(f.engine.Apply(Ev("u", "i2", kHour - 1), {0, 4}, &late), ApplyOutcome::kApplied);
  EXPECT_TRUE(late);
  EXPECT_EQ(f.engine.Apply(Ev("u", "i0", kHour - 1), {0, 5}, &late), ApplyOutcome::kApplied);
  EXPECT_TRUE(late);  // the high mark did not move back
  Event forget = Ev("u", "", kHour - 2, event_type::kForget);
  EXPECT_EQ(f.engine.Apply(forget, {0, 6}, &late), ApplyOutcome::kForgotten);
  EXPECT_TRUE(late);
  forget.ts = {kHour + 1};
  EXPECT_EQ(f.engine.Apply(forget, {0, 7}, &late), ApplyOutcome::kForgotten);
  EXPECT_FALSE(late);  // the user is gone: nothing to be late against
}

TEST(EngineTest, ForgetErasesTheUserAndTheirPendingRefresh) {
  Fixture f;
  f.engine.Apply(Ev("u", "i0", kHour), {0, 1});
  f.engine.Apply(Ev("v", "i0", kHour), {0, 2});
  EXPECT_EQ(f.engine.Apply(Ev("u", "", kHour, event_type::kForget), {0, 3}),
            ApplyOutcome::kForgotten);
  EXPECT_EQ(f.engine.FindUser(UserId("u")), nullptr);
  EXPECT_EQ(f.engine.users(), 1U);
  f.engine.Refresh({kHour}, f.sink);
  ASSERT_EQ(f.sink.lists.size(), 1U);
  EXPECT_EQ(f.sink.lists[0].user, UserId("v"));
}

// The changelog writes what TakeChanged lists: every user whose state changed since the last
// call, once however many changes, and every user erased since (absent now), but a user erased
// and back is listed once, as the state it has now.
TEST(EngineTest, TakeChangedListsEachChangedOrErasedUserOnce) {
  Fixture f;
  const auto take = [&] {
    std::vector<std::string> ids;
    for (const UserId& id : f.engine.TakeChanged()) ids.push_back(id.str());
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  using Ids = std::vector<std::string>;
  f.engine.Apply(Ev("u", "i0", kHour), {0, 1});
  f.engine.Apply(Ev("u", "i1", kHour + 1), {0, 2});
  f.engine.Apply(Ev("v", "i0", kHour), {0, 3});
  EXPECT_EQ(take(), (Ids{"u", "v"}));
  EXPECT_EQ(take(), Ids{});
  f.engine.Refresh({kHour + 2}, f.sink);  // lists are state (pending) too
  EXPECT_EQ(take(), (Ids{"u", "v"}));
  f.engine.Apply(Ev("u", "", kHour + 3, event_type::kForget), {0, 4});
  EXPECT_EQ(take(), Ids{"u"});
  EXPECT_EQ(f.engine.FindUser(UserId("u")), nullptr);
  f.engine.Apply(Ev("v", "i2", kHour + 4), {0, 5});
  f.engine.Apply(Ev("v", "", kHour + 5, event_type::kForget), {0, 6});
  f.engine.Apply(Ev("v", "i3", kHour + 6), {0, 7});  // back
  f.engine.Apply(Ev("w", "i3", kHour + 6), {0, 8});
  f.engine.Apply(Ev("w", "", kHour + 7, event_type::kForget), {0, 9});
  EXPECT_EQ(take(), (Ids{"v", "w"}));
  EXPECT_NE(f.engine.FindUser(UserId("v")), nullptr);
  EXPECT_EQ(take(), Ids{});
}

TEST(EngineTest, ImpressionsRecordTheOffsetOnly) {
  Fixture f;
  EXPECT_EQ(f.engine.Apply(Ev("u", "i0", kHour, event_type::kImpression), {0, 1}),
            ApplyOutcome::kNoInterest);
  EXPECT_EQ(f.engine.dirty(), 0U);
  const UserState* u = f.engine.FindUser(UserId("u"));
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->last_offset(), 1);
  EXPECT_FALSE(u->HasSeen(ItemId("i0")));  // shown is not seen
  EXPECT_TRUE(u->interest().empty());
}

TEST(EngineTest, UnknownItemsAreSeenButGiveNoDirection) {
  Fixture f;
  EXPECT_EQ(f.engine.Apply(Ev("u", "nope", kHour), {0, 1}), ApplyOutcome::kUnknownItem);
  const UserState* u = f.engine.FindUser(UserId("u"));
  EXPECT_TRUE(u->HasSeen(ItemId("nope")));
  EXPECT_TRUE(u->interest().empty());
  EXPECT_EQ(f.engine.dirty(), 1U);
}

TEST(EngineTest, ColdUsersGetTrendingAndCategory) {
  Fixture f;
  for (int i = 0; i < 3; ++i) {
    f.engine.Apply(Ev("fan" + std::to_string(i), "i5", kHour), {0, i});
  }
  const RecommendationList list = f.engine.Recommend(UserId("new"), {kHour});
  ASSERT_FALSE(list.items.empty());
  EXPECT_EQ(list.items[0].item, ItemId("i5"));
  for (const auto& item : list.items) {
    for (const auto& [source, c] : item.src) {
      EXPECT_TRUE(source == "trending" || source == "category" || source == "fresh") << source;
    }
  }
  EXPECT_EQ(f.engine.FindUser(UserId("new")), nullptr);  // on demand: nothing kept
}

TEST(EngineTest, CoVisitsRecommendWhatOthersDidNext) {
  EngineOptions o = Options();
  o.weights.w = {0, 0, 1, 0, 0, 0};
  o.offer = {false, false, true, false, false, false};
  Fixture f(o);
  std::int64_t offset = 0;
  for (const char* user : {"a", "b", "c"}) {  // i1 then i6, consecutive, within the window
    f.engine.Apply(Ev(user, "i1", kHour), {0, offset++});
    f.engine.Apply(Ev(user, "i6", kHour + 60'000), {0, offset++});
  }
  f.engine.Apply(Ev("d", "i0", kHour), {0, offset++});
  f.engine.Apply(Ev("d", "i6", 5 * kHour), {0, offset++});  // outside the 1 h window: no edge
  f.engine.Apply(Ev("u", "i1", 6 * kHour), {0, offset++});
  const auto ids = Ids(f.engine.Recommend(UserId("u"), {6 * kHour}));
  ASSERT_EQ(ids.size(), 1U);
  EXPECT_EQ(ids[0], "i6");
  EXPECT_TRUE(Ids(f.engine.Recommend(UserId("x0"), {6 * kHour})).empty());
  f.engine.Apply(Ev("x0", "i0", 6 * kHour), {0, offset++});
  EXPECT_TRUE(Ids(f.engine.Recommend(UserId("x0"), {6 * kHour})).empty());
}

TEST(EngineTest, KeepsEachPublishedListPendingWithItsFeatures) {
  Fixture f;
  f.engine.Apply(Ev("u", "i0", kHour), {1, 9});
  f.engine.Refresh({kHour}, f.sink);
  const UserState* u = f.engine.FindUser(UserId("u"));
  ASSERT_EQ(u->pending().size(), 1U);
  const PendingList& p = u->pending()[0];
  const RecommendationList& list = f.sink.lists.at(0);
  EXPECT_EQ(p.rec, "1-9");
  ASSERT_EQ(p.items.size(), list.items.size());
  const std::size_t features = f.engine.feature_names().size();
  ASSERT_EQ(p.feature_dim, features);
  ASSERT_EQ(p.features.size(), list.items.size() * features);
  for (std::size_t i = 0; i < p.items.size(); ++i) {
    EXPECT_EQ(p.items[i], list.items[i].item);
    double score = 0;
    for (std::size_t s = 0; s < features; ++s) score += p.features[i * features + s];
    EXPECT_NEAR(score, list.items[i].score, 1e-5);  // all weights are 1: score = Σ x
  }
  EXPECT_TRUE(f.engine.Recommend(UserId("u"), {kHour}).rec.empty());
  EXPECT_EQ(u->pending().size(), 1U);  // on-demand lists are not pending
}

// The same events give the same lists, and the refresh batch size changes nothing.
TEST(EngineTest, DeterministicWhateverTheBatchSize) {
  const auto run = [](std::size_t batch) {
    EngineOptions o = Options();
    o.refresh_batch = batch;
    Fixture f(o);
    for (int i = 0; i < 40; ++i) {
      const std::string user = "u" + std::to_string(i % 7);
      f.engine.Apply(Ev(user, "i" + std::to_string((i * 5) % 8), kHour + i * 60'000), {0, i});
      if (i % 10 == 9) f.engine.Refresh({kHour + i * 60'000}, f.sink);
    }
    return f.sink.lists;
  };
  const auto a = run(32);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, run(32));
  EXPECT_EQ(a, run(1));
  EXPECT_EQ(a, run(3));
}

TEST(EngineTest, ActivityClockDoesNotDecayWithAbsence) {
  const auto emb_long_at = [](InterestClock clock, std::int64_t now) {
    EngineOptions o = Options();
    o.clock = clock;
    o.weights.w = {0, 1, 0, 0, 0, 0};
    o.user.half_lives = {1.0, 10.0};  // clock units
    o.normalisation = Normalisation::kMax;
    Fixture f(o);
    f.engine.Apply(Ev("u", "i0", 0), {0, 1});
    f.engine.Apply(Ev("u", "i4", 100'000), {0, 2});
    // Raw cosine ratio of the two clusters' best items tells how much i0 has faded.
    const RecommendationList list = f.engine.Recommend(UserId("u"), {now});
    std::map<std::string, float> score;
    for (const auto& i : list.items) score[i.item.str()] = i.score;
    return score["i1"] / score["i5"];
  };
  // Event time: i0 is 100 s (10 half-lives) older than i4, so its cluster has faded.
  EXPECT_LT(emb_long_at(InterestClock::kEventTime, 100'000), 0.01);
  // Activity: one event (0.1 half-lives) apart, and reading a year later changes nothing.
  const float activity_now = emb_long_at(InterestClock::kActivity, 100'000);
  EXPECT_GT(activity_now, 0.85);
  EXPECT_FLOAT_EQ(emb_long_at(InterestClock::kActivity, 365 * 24 * kHour), activity_now);
}

TEST(EngineTest, InterestKernelsShareComponents) {
  EngineOptions o;
  SetInterestKernels(DecayKernel::Exponential(60), DecayKernel::Logarithmic(60, 86400), &o);
  const DecayKernel log = DecayKernel::Logarithmic(60, 86400);
  ASSERT_EQ(o.user.half_lives.size(), 1 + log.half_lives().size());
  EXPECT_EQ(o.user.half_lives[0], 60);
  const EmbeddingOptions& e = o.sources.embedding;
  EXPECT_EQ(e.short_mix[0], 1.0);
  double long_total = 0;
  for (std::size_t j = 1; j < e.long_mix.size(); ++j) long_total += e.long_mix[j];
  double expected = 0;
  for (double w : log.weights()) expected += w;
  EXPECT_DOUBLE_EQ(long_total + e.long_mix[0], expected);
  EXPECT_EQ(std::count(e.short_mix.begin(), e.short_mix.end(), 0.0),
            static_cast<long>(e.short_mix.size() - 1));
}

// --- Online weight learning -------------------------------------------------------------------

constexpr std::int64_t kMinute = 60'000;
constexpr std::size_t kFreshX = 5;  // fresh's position among the default features

EngineOptions LearningOptions(double holdout_share = 0.0) {
  EngineOptions o = Options();
  o.learning.learn = true;
  o.learning.exploration = 1;  // Thompson sampling
  o.learning.holdout_share = holdout_share;
  return o;
}

Event Click(const std::string& user, const RecommendationList& list, std::uint32_t pos,
            std::int64_t ts_ms) {
  Event e = Ev(user, list.items.at(pos).item.str(), ts_ms, event_type::kClick);
  e.rec = list.rec;
  e.pos = pos;
  return e;
}

// 24 items with distinct ages (i23 the newest) in four embedding clusters.
std::shared_ptr<const Catalog> AgedCatalog() {
  CatalogBuilder b(kDim);
  for (int i = 0; i < 24; ++i) {
    ItemRecord r;
    r.item = ItemId("i" + std::to_string(i));
    r.emb = {0.1F, 0.1F, 0.1F, 0.1F};
    r.emb[static_cast<std::size_t>(i % 4)] = 1;
    r.cat = std::string(1, static_cast<char>('a' + i % 4));
    r.ts = {static_cast<std::int64_t>(i) * kHour};
    b.Upsert(r);
  }
  return b.Build();
}

TEST(EngineLearningTest, ClicksOnFreshItemsTeachTheFreshWeight) {
  EngineOptions o = LearningOptions();
  o.normalisation = Normalisation::kRank;  // ranks spread x over [0, 1] in a small catalog
  o.candidates_per_source = 24;
  o.weights.w = {1, 1, 1, 1, 1, 1};
  Engine engine(o, EventTypeTable());
  engine.SetCatalog(AgedCatalog());
  Collect sink;
  std::int64_t offset = 0;
  std::int64_t now = 1000 * kHour;
  std::vector<bool> freshest_first;  // per list: is the newest item of the list at the top?
  for (int u = 0; u < 600; ++u) {
    const std::string user = "u" + std::to_string(u);
    engine.Apply(Ev(user, "i" + std::to_string(u % 20), now), {0, offset++});
    sink.lists.clear();
    engine.Refresh({now}, sink);  // the previous user's list after their click, then this one's
    ASSERT_FALSE(sink.lists.empty());
    const RecommendationList list = sink.lists.back();
    ASSERT_EQ(list.user, UserId(user));
    ASSERT_EQ(list.variant, "learned");
    // The user clicks the newest item of the list, wherever it is.
    const PendingList& pending = engine.FindUser(UserId(user))->pending().back();
    std::uint32_t newest = 0;
    for (std::uint32_t p = 1; p < pending.items.size(); ++p) {
      const std::size_t d = pending.feature_dim;
      if (pending.features[p * d + kFreshX] > pending.features[newest * d + kFreshX]) newest = p;
    }
    freshest_first.push_back(newest == 0);
    engine.Apply(Click(user, list, newest, now + 1), {0, offset++});
    now += kMinute;  // lists finish 30 minutes later
  }
  engine.FinishPending({now + kHour});
  const FusionWeights w = engine.learner().Weights();
  for (std::size_t s = 0; s < kFreshX; ++s) EXPECT_GT(w.w[kFreshX], w.w[s] + 0.5) << s;
  const auto share = [&](std::size_t from, std::size_t to) {
    return static_cast<double>(std::count(freshest_first.begin() + static_cast<long>(from),
                                          freshest_first.begin() + static_cast<long>(to), true)) /
           static_cast<double>(to - from);
  };
  EXPECT_LT(share(0, 50), 0.6);  // the first lists, before it has learned much
  EXPECT_GT(share(500, 600), 0.9);
  const VariantCounts& c = engine.counts(Variant::kLearned);
  EXPECT_EQ(c.clicks, 600U);  // every click was attributed
  EXPECT_EQ(c.lists, 1199U);  // a list after each view and click, but the last click's
  EXPECT_EQ(c.clicked_lists, 600U);
  EXPECT_GT(engine.learner().version(), 1200U);  // each finished list gave examples
}

TEST(EngineLearningTest, ListsCarryTheWeightsVersionAndAreReproducible) {
  const auto run = [] {
    Fixture f(LearningOptions());
    std::int64_t offset = 0;
    for (int round = 0; round < 40; ++round) {
      const std::string user = "u" + std::to_string(round % 7);
      f.engine.Apply(Ev(user, "i" + std::to_string(round % 8), round * kMinute), {0, offset++});
      f.engine.Refresh({round * kMinute}, f.sink);
      const RecommendationList& list = f.sink.lists.back();
      if (round % 3 == 0 && !list.items.empty()) {
        f.engine.Apply(Click(user, list, 0, round * kMinute + 1), {0, offset++});
      }
    }
    return f.sink.lists;
  };
  const std::vector<RecommendationList> a = run();
  EXPECT_EQ(a, run());  // Thompson samples are seeded by the list id
  EXPECT_EQ(a.front().model, 0U);
  EXPECT_GT(a.back().model, 0U);  // lists finished by then (pushed out by newer ones)
}

TEST(EngineLearningTest, ExplorationSamplesAroundTheMeansAndZeroServesThem) {
  for (double exploration : {0.0, 1.0}) {
    EngineOptions o = LearningOptions();
    o.learning.exploration = exploration;
    o.weights.w = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    Fixture f(o);
    int differs = 0;
    for (int u = 0; u < 40; ++u) {
      const std::string user = "u" + std::to_string(u);
      f.engine.Apply(Ev(user, "i" + std::to_string(u % 8), kHour), {0, u});
      f.engine.Refresh({kHour}, f.sink);
      const RecommendationList on_demand = f.engine.Recommend(UserId(user), {kHour});  // means
      differs += Ids(f.sink.lists.back()) != Ids(on_demand) ? 1 : 0;
    }
    if (exploration == 0) {
      EXPECT_EQ(differs, 0);
    } else {
      EXPECT_GT(differs, 5);  // prior variance 1 around weights of 0.5 reorders many lists
    }
  }
}

TEST(EngineLearningTest, HoldoutIsAStableShareOfUsers) {
  Fixture f(LearningOptions(0.3));
  Fixture g(LearningOptions(0.3));
  int holdout = 0;
  for (int u = 0; u < 2000; ++u) {
    const UserId user("user-" + std::to_string(u));
    const Variant v = f.engine.VariantOf(user);
    EXPECT_EQ(v, g.engine.VariantOf(user));
    EXPECT_NE(v, Variant::kStatic);
    holdout += v == Variant::kHoldout ? 1 : 0;
  }
  EXPECT_NEAR(holdout / 2000.0, 0.3, 0.04);
  Fixture off;  // learning off: everyone is served the static weights
  EXPECT_EQ(off.engine.VariantOf(UserId("user-1")), Variant::kStatic);
}

TEST(EngineLearningTest, GuardRevertsWhenLearnedDoesWorseThanHoldout) {
  EngineOptions o = LearningOptions(0.5);
  o.learning.guard.min_lists = 30;
  o.learning.guard.z_revert = 3;
  Fixture f(o);
  std::int64_t offset = 0;
  std::int64_t now = kHour;
  const std::vector<RecommendationList>& lists = f.sink.lists;
  for (int u = 0; u < 400 && !f.engine.guard().reverted; ++u) {
    const std::string user = "u" + std::to_string(u);
    f.engine.Apply(Ev(user, "i" + std::to_string(u % 8), now), {0, offset++});
    f.engine.Refresh({now}, f.sink);
    // Holdout users click their top item; learned users never click.
    if (lists.back().variant == "holdout" && !lists.back().items.empty()) {
      f.engine.Apply(Click(user, lists.back(), 0, now + 1), {0, offset++});
    }
    now += 40 * kMinute;  // every earlier list has expired at the next refresh
  }
  ASSERT_TRUE(f.engine.guard().reverted);
  EXPECT_LT(f.engine.guard().z, -3);
  EXPECT_GE(f.engine.counts(Variant::kLearned).lists, 30U);
  EXPECT_EQ(f.engine.counts(Variant::kLearned).clicks, 0U);
  // Users outside the holdout are served the static weights from now on.
  int learned = 0;
  for (int u = 0; u < 50; ++u) {
    const Variant v = f.engine.VariantOf(UserId("n" + std::to_string(u)));
    EXPECT_NE(v, Variant::kLearned);
    learned += v == Variant::kStatic ? 1 : 0;
  }
  EXPECT_GT(learned, 0);
  f.engine.Apply(Ev("n0", "i1", now), {0, offset++});
  f.engine.Refresh({now}, f.sink);
  EXPECT_NE(lists.back().variant, "learned");
}

TEST(EngineLearningTest, GuardKeepsLearnedWeightsThatDoAsWell) {
  EngineOptions o = LearningOptions(0.5);
  o.learning.guard.min_lists = 30;
  Fixture f(o);
  std::int64_t offset = 0;
  std::int64_t now = kHour;
  for (int u = 0; u < 400; ++u) {
    const std::string user = "u" + std::to_string(u);
    f.engine.Apply(Ev(user, "i" + std::to_string(u % 8), now), {0, offset++});
    f.engine.Refresh({now}, f.sink);
    if (u % 2 == 0 && !f.sink.lists.back().items.empty()) {  // everyone clicks half the time
      f.engine.Apply(Click(user, f.sink.lists.back(), 1, now + 1), {0, offset++});
    }
    now += 40 * kMinute;
  }
  EXPECT_FALSE(f.engine.guard().reverted);
  EXPECT_GT(f.engine.counts(Variant::kHoldout).lists, 100U);
  EXPECT_GT(f.engine.counts(Variant::kLearned).lists, 100U);
}

TEST(EngineLearningTest, ImpressionsLimitNegativesToShownPositions) {
  const auto examples_after = [](bool impression) {
    Fixture f(LearningOptions());
    f.engine.Apply(Ev("u", "i0", kHour), {0, 1});
    f.engine.Refresh({kHour}, f.sink);
    EXPECT_EQ(f.sink.lists.at(0).items.size(), 5U);
    if (impression) {
      Event e = Ev("u", f.sink.lists[0].items[1].item.str(), kHour + 1, event_type::kImpression);
      e.rec = f.sink.lists[0].rec;
      e.pos = 1;
      EXPECT_EQ(f.engine.Apply(e, {0, 2}), ApplyOutcome::kNoInterest);
    }
    EXPECT_EQ(f.engine.FinishPending({kHour + 29 * kMinute}), 0U);  // still inside the window
    EXPECT_EQ(f.engine.FinishPending({kHour + 31 * kMinute}), 1U);
    return f.engine.learner().global().examples;
  };
  EXPECT_EQ(examples_after(false), 5U);  // examine_k negatives
  EXPECT_EQ(examples_after(true), 2U);   // positions 0 and 1 were shown
}

TEST(EngineLearningTest, ClicksWithoutRecFindTheirListByItemUnlessTurnedOff) {
  for (bool by_item : {true, false}) {
    EngineOptions o = LearningOptions();
    o.learning.attribute_by_item = by_item;
    Fixture f(o);
    f.engine.Apply(Ev("u", "i0", kHour), {0, 1});
    f.engine.Refresh({kHour}, f.sink);
    const std::string item = f.sink.lists.at(0).items.at(2).item.str();
    f.engine.Apply(Ev("u", item, kHour + 1, event_type::kClick), {0, 2});
    f.engine.Apply(Ev("u", item, kHour + 2, event_type::kView), {0, 3});  // not feedback
    f.engine.FinishPending({10 * kHour});
    EXPECT_EQ(f.engine.counts(Variant::kLearned).clicks, by_item ? 1U : 0U);
  }
}

TEST(EngineLearningTest, ForgottenUsersLeaveNoExamples) {
  Fixture f(LearningOptions());
  f.engine.Apply(Ev("u", "i0", kHour), {0, 1});
  f.engine.Refresh({kHour}, f.sink);
  f.engine.Apply(Click("u", f.sink.lists.at(0), 0, kHour + 1), {0, 2});
  Event forget = Ev("u", "", kHour + 2, event_type::kForget);
  f.engine.Apply(forget, {0, 3});
  EXPECT_EQ(f.engine.FinishPending({10 * kHour}), 0U);
  EXPECT_EQ(f.engine.learner().global().examples, 0U);
  EXPECT_EQ(f.engine.counts(Variant::kLearned).lists, 0U);
}

TEST(EngineLearningTest, ContextKeysNameTheLearnersSegment) {
  EngineOptions o = LearningOptions();
  o.learning.segment_keys = {"device", "country"};
  Fixture f(o);
  Event e = Ev("u", "i0", kHour);
  e.ctx = {{"country", "nl"}, {"page", "home"}, {"device", "tv"}};
  f.engine.Apply(e, {0, 1});
  f.engine.Refresh({kHour}, f.sink);
  ASSERT_EQ(f.engine.FindUser(UserId("u"))->pending().size(), 1U);
  EXPECT_EQ(f.engine.FindUser(UserId("u"))->pending()[0].segment, "device=tv,country=nl");
  f.engine.FinishPending({10 * kHour});
  const WeightPosterior* segment = f.engine.learner().FindSegment("device=tv,country=nl");
  ASSERT_NE(segment, nullptr);
  EXPECT_EQ(segment->examples, f.engine.learner().global().examples);
  EXPECT_GT(segment->examples, 0U);
}

TEST(EngineLearningTest, LearningOffLearnsNothingButCountsClicks) {
  Fixture f;  // learning off
  f.engine.Apply(Ev("u", "i0", kHour), {0, 1});
  f.engine.Refresh({kHour}, f.sink);
  f.engine.Apply(Click("u", f.sink.lists.at(0), 0, kHour + 1), {0, 2});
  f.engine.FinishPending({10 * kHour});
  EXPECT_EQ(f.engine.counts(Variant::kStatic).clicks, 1U);
  EXPECT_EQ(f.engine.counts(Variant::kStatic).lists, 1U);  // the list after the click is pending
  EXPECT_EQ(f.engine.learner().version(), 0U);
}

TEST(EngineLearningTest, FeedbackIsCountedByTheSourceThatScoredEachItemHighest) {
  Fixture f;  // learning off: the static variant
  f.engine.Apply(Ev("u", "i0", kHour), {0, 1});
  f.engine.Refresh({kHour}, f.sink);
  const PendingList shown = f.engine.FindUser(UserId("u"))->pending()[0];
  f.engine.Apply(Click("u", f.sink.lists.at(0), 2, kHour + 1), {0, 2});
  f.engine.FinishPending({10 * kHour});
  std::array<std::uint64_t, kMaxSources> impressions{};
  std::array<std::uint64_t, kMaxSources> clicks{};
  for (std::size_t p = 0; p < 3; ++p) ++impressions[DominantSource(shown, p)];  // above the click
  ++clicks[DominantSource(shown, 2)];
  const auto& counted = f.engine.source_feedback(Variant::kStatic);
  std::uint64_t total = 0;
  const std::vector<std::string>& names = f.engine.feature_names();
  for (std::size_t s = 0; s < names.size(); ++s) {
    EXPECT_EQ(counted[s].impressions, impressions[s]) << names[s];
    EXPECT_EQ(counted[s].clicks, clicks[s]) << names[s];
    total += counted[s].impressions;
  }
  EXPECT_EQ(total, 3U);
  EXPECT_EQ(f.engine.source_feedback(Variant::kLearned)[0].impressions, 0U);
}

// ---- Global statistics across partitions ----

// A stream of 12 users over the 8 items, at hours 1..30: users u0..u5 are partition A's and
// u6..u11 partition B's. Applies the events up to `until_ms` of the users `of` keeps.
template <class Keep>
void FeedStream(Engine& engine, Keep of, std::int64_t until_ms) {
  for (int i = 0; i < 480; ++i) {
    const int user = (i * 7) % 12;  // each user every 45 minutes: within the co-visit window
    const std::int64_t ts = kHour + static_cast<std::int64_t>(i) * kHour / 16;
    if (ts > until_ms || !of(user)) continue;
    // Each user walks a few items of "their" cluster, some into the other one, so popularity
    // and co-visits differ between the partitions and connect them.
    const int item = ((user < 6 ? 0 : 4) + (i / 12 + user) % (user % 3 == 0 ? 6 : 3)) % 8;
    engine.Apply(Ev("u" + std::to_string(user), "i" + std::to_string(item), ts), {0, i});
  }
}

// Stated: an engine with its peers' records ranks as one engine that saw the whole stream: the
// same popularity of every item (within 1e-9 relative), the same list for a cold user (trending,
// category) and for its own users (co-visits of the peers' users too), although the peer
// exported an hour before and its values are decayed forward.
TEST(EngineTest, PeerStatsMakeAPartitionRankLikeOneEngineOverTheWholeStream) {
  const std::int64_t end = 31 * kHour;
  Fixture whole;
  Fixture a;
  Fixture b;
  // A's users stop an hour before the end, when A exports.
  FeedStream(
      whole.engine, [](int u) { return u < 6; }, end - kHour);
  FeedStream(
      whole.engine, [](int u) { return u >= 6; }, end);
  FeedStream(
      a.engine, [](int u) { return u < 6; }, end - kHour);
  FeedStream(
      b.engine, [](int u) { return u >= 6; }, end);
  // Everything A has: the record is not truncated here.
  const PartitionStats record = a.engine.ExportStats(0, {end - kHour}, {100, 1000, 100});
  EXPECT_FALSE(Share(record, "popularity").items.empty());
  EXPECT_FALSE(Share(record, "covisit").edges.empty());
  const auto differs = [&](const Engine& e) {
    int differing = 0;
    for (int i = 0; i < 8; ++i) {
      const ItemId item("i" + std::to_string(i));
      const double want = whole.engine.Popularity(item, {end});
      if (std::fabs(e.Popularity(item, {end}) - want) > 1e-9 * want) ++differing;
    }
    return differing;
  };
  EXPECT_GT(differs(b.engine), 0);  // alone, B sees only its own users
  const PartitionStats own = b.engine.ExportStats(1, {end}, {100, 1000, 100});
  const std::vector<const PartitionStats*> records = {&record, &own};
  const auto merged = std::make_shared<const PeerStats>(records, b.engine.learner().prior());
  EXPECT_EQ(merged->Partitions(1), 1U);
  b.engine.SetPeerStats(merged, 1);
  EXPECT_EQ(differs(b.engine), 0);
  for (const std::string user : {"new", "u6", "u7", "u8", "u9"}) {
    const RecommendationList want = whole.engine.Recommend(UserId(user), {end});
    const RecommendationList got = b.engine.Recommend(UserId(user), {end});
    EXPECT_EQ(Ids(got), Ids(want)) << user;
    for (std::size_t i = 0; i < std::min(got.items.size(), want.items.size()); ++i) {
      EXPECT_NEAR(got.items[i].score, want.items[i].score, 1e-5) << user << " " << i;
    }
  }
  b.engine.SetPeerStats(merged, 7);  // not its partition: its own items would count twice
  EXPECT_GT(differs(b.engine), 0);
  b.engine.SetPeerStats(nullptr, 1);
  EXPECT_GT(differs(b.engine), 0);
  int lists_differ = 0;
  for (const std::string user : {"new", "u6", "u7", "u8", "u9"}) {
    if (Ids(b.engine.Recommend(UserId(user), {end})) !=
        Ids(whole.engine.Recommend(UserId(user), {end}))) {
      ++lists_differ;
    }
  }
  EXPECT_GT(lists_differ, 0);
}

// Stated: an engine seeded with a partition's record has that partition's popularity and
// co-visits (exactly, when the record holds them all), and goes on as the old owner would.
TEST(EngineTest, ASeededEngineContinuesWhereThePartitionsOldOwnerLeftOff) {
  const std::int64_t end = 20 * kHour;
  Fixture old_owner;
  FeedStream(
      old_owner.engine, [](int) { return true; }, end);
  Fixture next_owner;
  const PartitionStats record = old_owner.engine.ExportStats(3, {end}, {100, 1000, 100});
  EXPECT_EQ(record.offset, 304);  // FeedStream's last event up to `end`: 1 h + 304/16 h
  next_owner.engine.SeedStats(record);
  const auto same = [&](std::int64_t at) {
    for (int i = 0; i < 8; ++i) {
      const ItemId item("i" + std::to_string(i));
      const double want = old_owner.engine.Popularity(item, {at});
      EXPECT_NEAR(next_owner.engine.Popularity(item, {at}), want, 1e-9 * want) << i;
    }
    const PartitionStats old_record = old_owner.engine.ExportStats(3, {at}, {100, 1000, 100});
    const PartitionStats next_record = next_owner.engine.ExportStats(3, {at}, {100, 1000, 100});
    const SourceStats& x = Share(old_record, "covisit");
    const SourceStats& y = Share(next_record, "covisit");
    ASSERT_EQ(x.edges.size(), y.edges.size());
    for (std::size_t e = 0; e < x.edges.size(); ++e) {
      EXPECT_EQ(x.edges[e].from, y.edges[e].from) << e;
      EXPECT_EQ(x.edges[e].to, y.edges[e].to) << e;
      EXPECT_NEAR(x.edges[e].weight, y.edges[e].weight, 1e-9 * x.edges[e].weight) << e;
    }
  };
  same(end);
  // An event consumed again after a crash (at or below the record's offset) updates its user's
  // state, not the aggregates that hold it already.
  const double before = next_owner.engine.Popularity(ItemId("i2"), {end});
  EXPECT_EQ(next_owner.engine.Apply(Ev("again", "i2", end), {0, record.offset}),
            ApplyOutcome::kApplied);
  EXPECT_NE(next_owner.engine.FindUser(UserId("again")), nullptr);
  EXPECT_EQ(next_owner.engine.Popularity(ItemId("i2"), {end}), before);
  // The same later event on both: still the same.
  old_owner.engine.Apply(Ev("u1", "i2", end + kHour), {0, 1000});
  next_owner.engine.Apply(Ev("u1", "i2", end + kHour), {0, 1000});
  same(end + 2 * kHour);
}

// Stated: a record holds the partition's max_items most popular items and max_edges strongest
// edges, strongest first, at the export time; an empty engine exports empty lists.
TEST(EngineTest, ExportedStatsHoldTheStrongestAggregates) {
  Fixture f;
  EXPECT_TRUE(Share(f.engine.ExportStats(0, {kHour}, {10, 10, 10}), "popularity").items.empty());
  FeedStream(
      f.engine, [](int) { return true; }, 31 * kHour);
  const PartitionStats all = f.engine.ExportStats(5, {32 * kHour}, {100, 1000, 100});
  const PartitionStats top = f.engine.ExportStats(5, {32 * kHour}, {3, 4, 100});
  EXPECT_EQ(top.partition, 5);
  EXPECT_EQ(top.as_of.ms, 32 * kHour);
  EXPECT_EQ(top.features, f.engine.feature_names());
  const auto& top_items = Share(top, "popularity").items;
  const auto& all_items = Share(all, "popularity").items;
  const auto& top_edges = Share(top, "covisit").edges;
  const auto& all_edges = Share(all, "covisit").edges;
  ASSERT_EQ(top_items.size(), 3U);
  ASSERT_EQ(top_edges.size(), 4U);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(top_items[i], all_items[i]) << i;
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(top_edges[i], all_edges[i]) << i;
  for (std::size_t i = 1; i < all_edges.size(); ++i) {
    EXPECT_GE(all_edges[i - 1].weight, all_edges[i].weight) << i;
  }
  EXPECT_NEAR(all_items[0].second, f.engine.Popularity(all_items[0].first, {32 * kHour}), 1e-12);
  EXPECT_EQ(Share(top, "popularity").half_life, Options().sources.popularity.half_life);
  EXPECT_EQ(StatsIncompatibility(Options(), top), "");
  EngineOptions other = Options();
  other.sources.popularity.half_life /= 2;
  EXPECT_EQ(StatsIncompatibility(other, top), "source popularity with another half-life");
  other = Options();
  other.features.pop_back();
  EXPECT_EQ(StatsIncompatibility(other, top), "other features");
}

// Stated: the merged learner evidence an engine gets leaves its own partition's posterior out
// (its own learner stands for it), and counts every other partition's once.
TEST(EngineTest, MergedLearnerEvidenceLeavesTheOwnPartitionOut) {
  const LearnerOptions o;
  WeightLearner first(o);
  WeightLearner second(o);
  for (int i = 0; i < 50; ++i) {
    FeedbackExample e;
    for (std::size_t k = 0; k < o.features; ++k) {
      e.x[k] = static_cast<float>((i * 7 + static_cast<int>(k) * 3) % 10) / 10.0F;
    }
    e.clicked = i % 3 == 0;
    first.Update(e);
    if (i % 2 == 0) second.Update(e);
  }
  PartitionStats r0;
  r0.partition = 0;
  r0.features = Options().features;
  r0.learner = first.global();
  PartitionStats r1 = r0;
  r1.partition = 1;
  r1.learner = second.global();
  const std::vector<const PartitionStats*> records = {&r0, &r1};
  const PeerStats merged(records, first.prior());
  LearnerEvidence only_second;
  only_second.Add(second.global(), second.prior(), o.features);
  const LearnerEvidence for_zero = merged.Evidence(0);
  EXPECT_EQ(for_zero.examples, 25U);
  EXPECT_EQ(for_zero.precision, only_second.precision);
  const std::size_t n = o.features + 1;
  EXPECT_GT(for_zero.precision[2 * n + 2], 0.0);
  const LearnerEvidence for_other = merged.Evidence(9);
  EXPECT_EQ(for_other.examples, 75U);
  EXPECT_EQ(merged.Partitions(9), 2U);
}

}  // namespace
}  // namespace recsd::model
