#include "state/user_state_codec.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "state/msgpack_writer.h"

#include "model/catalog.h"
#include "model/user_state.h"

namespace recsd::state {
namespace {

constexpr std::size_t kDim = 4;

// Items "i0".."i7": item i points along axis i % 4, category "c<i % 3>"; categories are interned
// in the order given, so two catalogs can give the same names different ids.
std::shared_ptr<const model::Catalog> MakeCatalog(bool reversed) {
  model::CatalogBuilder b(kDim);
  for (int k = 0; k < 8; ++k) {
    const int i = reversed ? 7 - k : k;
    ItemRecord r;
    r.item = ItemId("i" + std::to_string(i));
    r.emb.assign(kDim, 0.0F);
    r.emb[static_cast<std::size_t>(i) % kDim] = 1.0F;
    r.cat = "c" + std::to_string(i % 3);
    r.ts = {1'000};
    b.Upsert(r);
  }
  return b.Build();
}

struct Fixture {
  Fixture() { options.dim = kDim; }
  void Observe(model::UserState* s, const model::Catalog& items, std::int64_t offset, double t,
               int item) {
    const ItemId id("i" + std::to_string(item));
    const std::size_t row = *items.Find(id);
    s->Observe(offset, t, 1.0, id, items.Embedding(row), items.item(row).category);
  }
  model::UserStateOptions options;
  std::shared_ptr<const model::Catalog> catalog = MakeCatalog(false);
};

model::PendingList Pending(const std::string& rec) {
  model::PendingList p;
  p.rec = rec;
  p.shown_at = {5'000};
  p.model = 7;
  p.variant = "learned";
  p.items = {ItemId("i1"), ItemId("i2")};
  p.feature_dim = 6;
  p.features.assign(2 * 6, 0.25F);
  p.clicked = {1};
  p.max_shown = 1;
  std::fill_n(p.weights.begin(), p.feature_dim, 0.5F);  // the rest are not the list's
  return p;
}

TEST(UserStateCodecTest, RoundTripsExactlyAndRestoresTheSameState) {
  Fixture f;
  model::UserState s(f.options);
  for (int k = 0; k < 25; ++k) f.Observe(&s, *f.catalog, k, 100.0 * k, k % 8);  // ring wraps
  f.Observe(&s, *f.catalog, 25, 50.0, 3);                                       // late
  s.AddPending(Pending("0-24"));
  const model::UserStateParts parts = s.Export();
  const std::string bytes = EncodeUserState(UserId("u1"), parts, *f.catalog);
  auto decoded = DecodeUserState(bytes, *f.catalog);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->user, UserId("u1"));
  EXPECT_EQ(decoded->state, parts);

  model::UserState restored(f.options);
  ASSERT_TRUE(restored.Restore(decoded->state));
  EXPECT_EQ(restored.Export(), parts);
  // The same further events leave both in the same state.
  for (int k = 26; k < 40; ++k) {
    f.Observe(&s, *f.catalog, k, 100.0 * k, (k * 3) % 8);
    f.Observe(&restored, *f.catalog, k, 100.0 * k, (k * 3) % 8);
  }
  EXPECT_EQ(restored.Export(), s.Export());
  EXPECT_EQ(StateDigest(UserId("u1"), restored.Export(), *f.catalog),
            StateDigest(UserId("u1"), s.Export(), *f.catalog));
}

TEST(UserStateCodecTest, CategoriesTravelByNameAcrossCatalogs) {
  Fixture f;
  model::UserState s(f.options);
  for (int k = 0; k < 6; ++k) f.Observe(&s, *f.catalog, k, 10.0 * k, k);
  const auto other = MakeCatalog(/*reversed=*/true);  // same names, other ids
  ASSERT_NE(f.catalog->FindCategory("c0"), other->FindCategory("c0"));
  auto decoded = DecodeUserState(EncodeUserState(UserId("u"), s.Export(), *f.catalog), *other);
  ASSERT_TRUE(decoded) << decoded.error().message;
  ASSERT_EQ(decoded->state.categories.size(), s.categories().size());
  for (std::size_t i = 0; i < s.categories().size(); ++i) {
    EXPECT_EQ(other->CategoryName(decoded->state.categories[i].category),
              f.catalog->CategoryName(s.categories()[i].category));
  }
  // The digest names categories, so it does not depend on the catalog's interning order.
  EXPECT_EQ(StateDigest(UserId("u"), decoded->state, *other),
            StateDigest(UserId("u"), s.Export(), *f.catalog));
}

TEST(UserStateCodecTest, DigestCoversWhatEventsDetermineOnly) {
  Fixture f;
  model::UserState a(f.options);
  model::UserState b(f.options);
  for (int k = 0; k < 5; ++k) {
    f.Observe(&a, *f.catalog, k, 10.0 * k, k);
    f.Observe(&b, *f.catalog, k, 10.0 * k, k);
  }
  b.AddPending(Pending("0-4"));  // lists depend on when they were published, not on events
  const std::string da = StateDigest(UserId("u"), a.Export(), *f.catalog);
  EXPECT_EQ(da.size(), 16U);
  EXPECT_EQ(da, StateDigest(UserId("u"), b.Export(), *f.catalog));
  EXPECT_NE(da, StateDigest(UserId("v"), a.Export(), *f.catalog));
  model::UserStateParts renumbered = a.Export();
  renumbered.last_offset += 1000;  // the same events at other offsets (a replay from a file)
  EXPECT_EQ(da, StateDigest(UserId("u"), renumbered, *f.catalog));
  f.Observe(&b, *f.catalog, 5, 60.0, 6);
  EXPECT_NE(da, StateDigest(UserId("u"), b.Export(), *f.catalog));
}

TEST(UserStateCodecTest, ANewerVersionIsRejectedClearly) {
  Fixture f;
  model::UserState s(f.options);
  std::string bytes = EncodeUserState(UserId("u"), s.Export(), *f.catalog);
  // The first key is "v": 0x8c (a map of 12), 0xa1 'v', then the version as a positive fixint.
  ASSERT_EQ(bytes.substr(0, 4), std::string("\x8c\xa1v\x02"));
  bytes[3] = 3;
  auto decoded = DecodeUserState(bytes, *f.catalog);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().message,
            "user state: version 3 is not supported (this build reads 1 to 2)");
  EXPECT_TRUE(decoded.error().unsupported_version);
}

// A record of version 1 (before the seen set and the weights of recent items) still restores: its
// recent items become the seen set, the most it knew, each with weight 1.
TEST(UserStateCodecTest, AVersionOneRecordIsReadWithItsRecentItemsAsSeen) {
  Fixture f;
  model::UserState s(f.options);
  for (int k = 0; k < 5; ++k) f.Observe(&s, *f.catalog, k, 100.0 * k, k % 3);
  const model::UserStateParts parts = s.Export();
  std::string v1;
  MsgpackWriter w(&v1);
  w.Map(11);
  w.Key("v").Int(1);
  w.Key("user").Str("u");
  w.Key("clock").Double(parts.clock);
  w.Key("started").Bool(parts.started);
  w.Key("masses").Array(parts.masses.size());
  for (double m : parts.masses) w.Double(m);
  w.Key("vectors").Bin(Bytes(parts.vectors));
  w.Key("cats").Array(0);
  w.Key("recent").Array(parts.recent.size());
  for (const model::RecentItem& r : parts.recent) w.Array(2).Str(r.item.str()).Double(r.t);
  w.Key("events").Uint(parts.event_count);
  w.Key("last_offset").Int(parts.last_offset);
  w.Key("pending").Array(0);
  auto decoded = DecodeUserState(v1, *f.catalog);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->state.seen, parts.seen);
  EXPECT_EQ(decoded->state.seen.size(), 3U);
  EXPECT_EQ(decoded->state.recent, parts.recent);  // Observe gave every item weight 1
  model::UserState restored(f.options);
  ASSERT_TRUE(restored.Restore(decoded->state));
  EXPECT_TRUE(restored.seen().Contains(model::SeenItems::Fingerprint(ItemId("i1"))));
}

TEST(UserStateCodecTest, CorruptRecordsAreErrorsNeverCrashes) {
  Fixture f;
  model::UserState s(f.options);
  for (int k = 0; k < 5; ++k) f.Observe(&s, *f.catalog, k, 10.0 * k, k);
  s.AddPending(Pending("0-4"));
  const std::string bytes = EncodeUserState(UserId("u"), s.Export(), *f.catalog);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeUserState(bytes.substr(0, n), *f.catalog)) << "prefix of " << n;
  }
  EXPECT_FALSE(DecodeUserState(bytes + "x", *f.catalog));
  EXPECT_FALSE(DecodeUserState("\x81\xa1v\x01", *f.catalog));  // no other field
  // A state of another shape (another interest dimension) does not restore.
  auto decoded = DecodeUserState(bytes, *f.catalog);
  ASSERT_TRUE(decoded);
  model::UserStateOptions wider = f.options;
  wider.dim = kDim + 1;
  model::UserState other(wider);
  EXPECT_FALSE(other.Restore(decoded->state));
}

}  // namespace
}  // namespace recsd::state
