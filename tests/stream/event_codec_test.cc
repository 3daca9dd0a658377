#include "stream/event_codec.h"

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "codec_test_util.h"

namespace recsd::stream {
namespace {

using recsd::testing::Array;
using recsd::testing::Array32Header;
using recsd::testing::Bin;
using recsd::testing::F32;
using recsd::testing::F64;
using recsd::testing::Int;
using recsd::testing::Map;
using recsd::testing::Map32Header;
using recsd::testing::MsgMap;
using recsd::testing::Nil;
using recsd::testing::RejectCase;
using recsd::testing::Str;
using recsd::testing::Str32Header;
using recsd::testing::Uint;

constexpr std::int64_t kTs = 1'700'000'000'000;

const EventTypeTable& Types() {
  static const EventTypeTable types = [] {
    EventTypeTable t;
    const EventTypeSpec custom[] = {{"share", 2.5}};
    EXPECT_TRUE(t.Configure(custom));
    return t;
  }();
  return types;
}

std::string Minimal() {
  return MsgMap(
      {{"type", Str("view")}, {"user", Str("u1")}, {"item", Str("i1")}, {"ts", Uint(kTs)}});
}

// `Minimal` with one more key, e.g. to exercise one optional field.
std::string MinimalWith(const std::string& key, const std::string& value) {
  return MsgMap({{"type", Str("view")},
                 {"user", Str("u1")},
                 {"item", Str("i1")},
                 {"ts", Uint(kTs)},
                 {key, value}});
}

std::string Ctx(std::uint32_t n) {
  std::string out = Map(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    out += Str("k" + std::to_string(i)) + Str("v");
  }
  return out;
}

// Nested arrays whose innermost holds 1: depth n counts the arrays.
std::string Nested(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += Array(1);
  return out + Uint(1);
}

TEST(EventDecodeTest, DecodesMinimalMsgpackEvent) {
  auto e = DecodeEvent(Minimal(), Types());
  ASSERT_TRUE(e.has_value()) << e.error().detail;
  EXPECT_EQ(e->type, event_type::kView);
  EXPECT_EQ(e->user, UserId("u1"));
  EXPECT_EQ(e->item, ItemId("i1"));
  EXPECT_EQ(e->ts.ms, kTs);
  EXPECT_FALSE(e->value.has_value());
  EXPECT_FALSE(e->rec.has_value());
  EXPECT_FALSE(e->pos.has_value());
  EXPECT_TRUE(e->ctx.empty());
  EXPECT_FALSE(e->id.has_value());
}

TEST(EventDecodeTest, DecodesEveryOptionalField) {
  const std::string bytes =
      MsgMap({{"v", Uint(1)},
              {"type", Str("click")},
              {"user", Str("u-\xc3\xa9")},  // "u-é"
              {"item", Str("i9")},
              {"ts", Uint(kTs)},
              {"value", F64(4.5)},
              {"rec", Str("p3-o42")},
              {"pos", Uint(7)},
              {"ctx", MsgMap({{"device", Str("ios")}, {"locale", Str("fr")}})},
              {"id", Str("evt-1")}});
  auto e = DecodeEvent(bytes, Types());
  ASSERT_TRUE(e.has_value()) << e.error().detail;
  EXPECT_EQ(e->type, event_type::kClick);
  EXPECT_EQ(e->user.str(), "u-\xc3\xa9");
  EXPECT_EQ(e->value, 4.5);
  EXPECT_EQ(e->rec, "p3-o42");
  EXPECT_EQ(e->pos, 7U);
  ASSERT_EQ(e->ctx.size(), 2U);
  EXPECT_EQ(e->ctx[0], (std::pair<std::string, std::string>{"device", "ios"}));
  EXPECT_EQ(e->ctx[1], (std::pair<std::string, std::string>{"locale", "fr"}));
  EXPECT_EQ(e->id, "evt-1");
}

TEST(EventDecodeTest, DecodesJsonObjectWithTheSameKeys) {
  auto e = DecodeEvent(
      R"(  {"v":1,"type":"rating","user":"u1","item":"i1","ts":1700000000000,"value":3.5,)"
      R"("rec":"r","pos":0,"ctx":{"device":"web"},"id":"x"} )",
      Types());
  ASSERT_TRUE(e.has_value()) << e.error().detail;
  EXPECT_EQ(e->type, event_type::kRating);
  EXPECT_EQ(e->ts.ms, kTs);
  EXPECT_EQ(e->value, 3.5);
  EXPECT_EQ(e->pos, 0U);
  ASSERT_EQ(e->ctx.size(), 1U);
  EXPECT_EQ(e->ctx[0].second, "web");
}

TEST(EventDecodeTest, JsonKeepsCtxInDocumentOrder) {
  auto e = DecodeEvent(R"({"type":"view","user":"u","item":"i","ts":1,"ctx":{"z":"1","a":"2"}})",
                       Types());
  ASSERT_TRUE(e.has_value()) << e.error().detail;
  ASSERT_EQ(e->ctx.size(), 2U);
  EXPECT_EQ(e->ctx[0].first, "z");
  EXPECT_EQ(e->ctx[1].first, "a");
}

TEST(EventDecodeTest, ForgetNeedsNoItem) {
  auto e = DecodeEvent(MsgMap({{"type", Str("forget")}, {"user", Str("u1")}, {"ts", Uint(kTs)}}),
                       Types());
  ASSERT_TRUE(e.has_value()) << e.error().detail;
  EXPECT_EQ(e->type, event_type::kForget);
  EXPECT_TRUE(e->item.empty());
}

TEST(EventDecodeTest, AcceptsConfiguredCustomType) {
  auto e = DecodeEvent(
      MsgMap({{"type", Str("share")}, {"user", Str("u")}, {"item", Str("i")}, {"ts", Uint(kTs)}}),
      Types());
  ASSERT_TRUE(e.has_value()) << e.error().detail;
  EXPECT_EQ(Types().Get(e->type).name, "share");
}

TEST(EventDecodeTest, IgnoresUnknownKeysAndNonStringKeys) {
  const std::string bytes = Map(6) + Str("type") + Str("view") + Str("user") + Str("u1") +
                            Str("item") + Str("i1") + Str("ts") + Uint(kTs) + Str("future") +
                            MsgMap({{"a", Array(2) + Uint(1) + Str("b")}}) + Uint(5) + Str("x");
  auto e = DecodeEvent(bytes, Types());
  ASSERT_TRUE(e.has_value()) << e.error().detail;
  EXPECT_EQ(e->user.str(), "u1");
}

TEST(EventDecodeTest, NilOptionalValueCountsAsAbsent) {
  auto e = DecodeEvent(MinimalWith("rec", Nil()), Types());
  ASSERT_TRUE(e.has_value()) << e.error().detail;
  EXPECT_FALSE(e->rec.has_value());
}

TEST(EventDecodeTest, AcceptsLimitsExactly) {
  // The largest accepted id, ctx, position and timestamp, and the deepest accepted nesting.
  const std::string id256(kMaxIdBytes, 'u');
  auto e = DecodeEvent(MsgMap({{"type", Str("view")},
                               {"user", Str(id256)},
                               {"item", Str("i")},
                               {"ts", Uint(kMaxTimestampMs)},
                               {"ctx", Ctx(kMaxCtxEntries)},
                               {"pos", Uint(kMaxListItems - 1)},
                               {"deep", Nested(static_cast<int>(kMaxDepth) - 1)}}),
                       Types());
  ASSERT_TRUE(e.has_value()) << e.error().detail;
  EXPECT_EQ(e->user.str().size(), kMaxIdBytes);
  EXPECT_EQ(e->ctx.size(), kMaxCtxEntries);
  EXPECT_EQ(e->ts.ms, kMaxTimestampMs);
}

TEST(EventDecodeTest, AcceptsJsonNestingAtTheLimit) {
  std::string deep = "1";
  for (std::size_t i = 1; i < kMaxDepth; ++i) deep = "[" + deep + "]";
  auto e =
      DecodeEvent(R"({"type":"view","user":"u","item":"i","ts":1,"deep":)" + deep + "}", Types());
  ASSERT_TRUE(e.has_value()) << e.error().detail;
}

TEST(EventDecodeTest, EveryProperPrefixIsTruncated) {
  const std::string full = MinimalWith("ctx", Ctx(2));
  for (std::size_t n = 0; n < full.size(); ++n) {
    auto e = DecodeEvent(full.substr(0, n), Types());
    ASSERT_FALSE(e.has_value()) << "prefix " << n;
    EXPECT_EQ(e.error().code, DecodeErrc::kTruncated) << "prefix " << n << ": " << e.error().detail;
  }
}

TEST(EventDecodeTest, HugeContainerHeadersAreRejectedWithoutAllocating) {
  // A 5-byte header that claims 4 Gi elements: msgpack-cxx's default limits would try to allocate
  // for it and throw std::bad_alloc.
  for (const std::string& bytes :
       {Map32Header(0xFFFFFFFF), Array32Header(0xFFFFFFFF),
        MinimalWith("x", Array32Header(0xFFFFFFFF)), MinimalWith("x", Map32Header(0x10000000))}) {
    auto e = DecodeEvent(bytes, Types());
    ASSERT_FALSE(e.has_value());
    EXPECT_EQ(e.error().code, DecodeErrc::kTooLarge) << e.error().detail;
  }
  // A string or bin header is only acted on once its body has arrived, so a huge one with no body
  // is truncated input (and allocates nothing either).
  for (const std::string& bytes :
       {Str32Header(0xFFFFFFFF), recsd::testing::Bin32Header(0xFFFFFFFF)}) {
    auto e = DecodeEvent(bytes, Types());
    ASSERT_FALSE(e.has_value());
    EXPECT_EQ(e.error().code, DecodeErrc::kTruncated) << e.error().detail;
  }
}

class EventRejectTest : public ::testing::TestWithParam<RejectCase> {};

TEST_P(EventRejectTest, RejectsWithReason) {
  const RejectCase& c = GetParam();
  auto e = DecodeEvent(c.bytes, Types());
  ASSERT_FALSE(e.has_value()) << "accepted: " << c.name;
  EXPECT_EQ(ReasonOf(e.error().code), ReasonOf(c.code)) << e.error().detail;
  EXPECT_NE(e.error().detail.find(c.detail_has), std::string::npos)
      << "detail \"" << e.error().detail << "\" lacks \"" << c.detail_has << "\"";
}

const std::string kU = "\"user\":\"u\",\"item\":\"i\",\"ts\":1700000000000";

INSTANTIATE_TEST_SUITE_P(
    Golden, EventRejectTest,
    ::testing::Values(
        // Not one well-formed document.
        RejectCase{"Empty", "", DecodeErrc::kTruncated, "empty"},
        RejectCase{"MsgpackTrailingBytes", Minimal() + Uint(0), DecodeErrc::kTrailingBytes,
                   "1 bytes after"},
        RejectCase{"JsonTrailingBytes", "{\"type\":\"view\"," + kU + "} x",
                   DecodeErrc::kTrailingBytes, "after the JSON"},
        RejectCase{"JsonTwoObjects", "{\"type\":\"view\"," + kU + "}{}", DecodeErrc::kTrailingBytes,
                   "after the JSON"},
        RejectCase{"JsonTruncated", "{\"type\":\"view\",\"user\":\"u", DecodeErrc::kTruncated,
                   "not closed"},
        RejectCase{"MsgpackReservedByte", std::string(1, '\xc1'), DecodeErrc::kMalformed,
                   "msgpack"},
        RejectCase{"JsonSyntax", "{\"type\" \"view\"}", DecodeErrc::kMalformed, "JSON"},
        RejectCase{"MsgpackTooDeep", MinimalWith("deep", Nested(static_cast<int>(kMaxDepth))),
                   DecodeErrc::kTooDeep, "deeper"},
        // The JSON text is checked before it is parsed, so hostile nesting never reaches the
        // JSON library's recursive conversion.
        RejectCase{"JsonTooDeep", "{\"type\":\"view\"," + kU + ",\"d\":[[[[[[[[1]]]]]]]]}",
                   DecodeErrc::kTooDeep, "JSON nesting"},
        RejectCase{"JsonHostileDepth", "{\"d\":" + std::string(100000, '[') + "]}",
                   DecodeErrc::kTooDeep, "JSON nesting"},
        RejectCase{"PayloadOverOneMebibyte",
                   MinimalWith("pad", Str(std::string(kMaxPayloadBytes, 'x'))),
                   DecodeErrc::kTooLarge, "payload"},
        RejectCase{"StringOverLimit",
                   MinimalWith("pad", Str(std::string(kMaxStringBytes + 1, 'x'))),
                   DecodeErrc::kTooLarge, "limit"},
        RejectCase{"ArrayHeaderOverLimit", MinimalWith("pad", Array32Header(kMaxArrayItems + 1)),
                   DecodeErrc::kTooLarge, "limit"},
        // Well-formed, but not a valid v1 event.
        RejectCase{"TopLevelArray", Array(1) + Uint(1), DecodeErrc::kNotAMap, "expected map"},
        RejectCase{"JsonTopLevelArray", " [1]", DecodeErrc::kNotAMap, "expected map"},
        RejectCase{"MissingType",
                   MsgMap({{"user", Str("u")}, {"item", Str("i")}, {"ts", Uint(kTs)}}),
                   DecodeErrc::kMissingKey, "'type'"},
        RejectCase{"MissingUser",
                   MsgMap({{"type", Str("view")}, {"item", Str("i")}, {"ts", Uint(kTs)}}),
                   DecodeErrc::kMissingKey, "'user'"},
        RejectCase{"MissingItem",
                   MsgMap({{"type", Str("view")}, {"user", Str("u")}, {"ts", Uint(kTs)}}),
                   DecodeErrc::kMissingKey, "'item'"},
        RejectCase{"MissingTs",
                   MsgMap({{"type", Str("view")}, {"user", Str("u")}, {"item", Str("i")}}),
                   DecodeErrc::kMissingKey, "'ts'"},
        RejectCase{"NullUserIsMissing", "{\"type\":\"view\",\"user\":null,\"item\":\"i\",\"ts\":1}",
                   DecodeErrc::kMissingKey, "'user'"},
        RejectCase{"JsonMissingTs", "{\"type\":\"view\",\"user\":\"u\",\"item\":\"i\"}",
                   DecodeErrc::kMissingKey, "'ts'"},
        RejectCase{
            "UserIsInteger",
            MsgMap(
                {{"type", Str("view")}, {"user", Uint(7)}, {"item", Str("i")}, {"ts", Uint(kTs)}}),
            DecodeErrc::kWrongType, "'user'"},
        RejectCase{
            "TypeIsInteger",
            MsgMap({{"type", Uint(1)}, {"user", Str("u")}, {"item", Str("i")}, {"ts", Uint(kTs)}}),
            DecodeErrc::kWrongType, "'type'"},
        RejectCase{"TsIsString", "{\"type\":\"view\",\"user\":\"u\",\"item\":\"i\",\"ts\":\"1\"}",
                   DecodeErrc::kWrongType, "'ts'"},
        RejectCase{"TsIsFloat",
                   MsgMap({{"type", Str("view")},
                           {"user", Str("u")},
                           {"item", Str("i")},
                           {"ts", F64(1.7e12)}}),
                   DecodeErrc::kWrongType, "'ts'"},
        RejectCase{"ValueIsString", MinimalWith("value", Str("5")), DecodeErrc::kWrongType,
                   "'value'"},
        RejectCase{"PosIsFloat", MinimalWith("pos", F32(1.0F)), DecodeErrc::kWrongType, "'pos'"},
        RejectCase{"CtxIsArray", MinimalWith("ctx", Array(0)), DecodeErrc::kWrongType, "'ctx'"},
        RejectCase{"CtxValueIsInteger", MinimalWith("ctx", MsgMap({{"device", Uint(1)}})),
                   DecodeErrc::kWrongType, "ctx"},
        RejectCase{"VIsString", MinimalWith("v", Str("1")), DecodeErrc::kWrongType, "'v'"},
        RejectCase{"DuplicateKey", MinimalWith("user", Str("u2")), DecodeErrc::kDuplicateKey,
                   "'user'"},
        RejectCase{"JsonDuplicateKey", "{\"type\":\"view\"," + kU + ",\"user\":\"u2\"}",
                   DecodeErrc::kDuplicateKey, "'user'"},
        RejectCase{"DuplicateCtxKey",
                   MinimalWith("ctx", MsgMap({{"device", Str("a")}, {"device", Str("b")}})),
                   DecodeErrc::kDuplicateKey, "device"},
        RejectCase{"UnsupportedVersion2", MinimalWith("v", Uint(2)),
                   DecodeErrc::kUnsupportedVersion, "version 2"},
        RejectCase{"UnsupportedVersion0", MinimalWith("v", Uint(0)),
                   DecodeErrc::kUnsupportedVersion, "version 0"},
        RejectCase{"JsonUnsupportedVersion", "{\"v\":3,\"type\":\"view\"," + kU + "}",
                   DecodeErrc::kUnsupportedVersion, "version 3"},
        RejectCase{"UnknownEventType",
                   MsgMap({{"type", Str("teleport")},
                           {"user", Str("u")},
                           {"item", Str("i")},
                           {"ts", Uint(kTs)}}),
                   DecodeErrc::kUnknownEventType, "teleport"},
        RejectCase{
            "EmptyUserId",
            MsgMap(
                {{"type", Str("view")}, {"user", Str("")}, {"item", Str("i")}, {"ts", Uint(kTs)}}),
            DecodeErrc::kBadId, "'user'"},
        RejectCase{"UserIdOver256Bytes",
                   MsgMap({{"type", Str("view")},
                           {"user", Str(std::string(257, 'u'))},
                           {"item", Str("i")},
                           {"ts", Uint(kTs)}}),
                   DecodeErrc::kBadId, "257 bytes"},
        RejectCase{
            "EmptyItemId",
            MsgMap(
                {{"type", Str("view")}, {"user", Str("u")}, {"item", Str("")}, {"ts", Uint(kTs)}}),
            DecodeErrc::kBadId, "'item'"},
        RejectCase{"ItemIdOver256Bytes",
                   MsgMap({{"type", Str("view")},
                           {"user", Str("u")},
                           {"item", Str(std::string(257, 'i'))},
                           {"ts", Uint(kTs)}}),
                   DecodeErrc::kBadId, "'item'"},
        RejectCase{"InvalidUtf8InUserId",
                   MsgMap({{"type", Str("view")},
                           {"user", Str("u\xc3(")},
                           {"item", Str("i")},
                           {"ts", Uint(kTs)}}),
                   DecodeErrc::kInvalidUtf8, "'user'"},
        RejectCase{"InvalidUtf8InItemId",
                   MsgMap({{"type", Str("view")},
                           {"user", Str("u")},
                           {"item", Str("\xed\xa0\x80")},
                           {"ts", Uint(kTs)}}),
                   DecodeErrc::kInvalidUtf8, "'item'"},
        RejectCase{"JsonInvalidUtf8",
                   "{\"type\":\"view\",\"user\":\"\xff\",\"item\":\"i\",\"ts\":1}",
                   DecodeErrc::kInvalidUtf8, "UTF-8"},
        RejectCase{"EmptyCtxKey", MinimalWith("ctx", MsgMap({{"", Str("v")}})), DecodeErrc::kBadId,
                   "empty key"},
        RejectCase{"CtxOver32Entries", MinimalWith("ctx", Ctx(kMaxCtxEntries + 1)),
                   DecodeErrc::kTooManyEntries, "33 entries"},
        RejectCase{"NanValue", MinimalWith("value", F64(std::numeric_limits<double>::quiet_NaN())),
                   DecodeErrc::kNonFinite, "'value'"},
        RejectCase{"InfValue", MinimalWith("value", F32(std::numeric_limits<float>::infinity())),
                   DecodeErrc::kNonFinite, "'value'"},
        RejectCase{
            "NegativeTs",
            MsgMap(
                {{"type", Str("view")}, {"user", Str("u")}, {"item", Str("i")}, {"ts", Int(-1)}}),
            DecodeErrc::kOutOfRange, "'ts'"},
        RejectCase{"MicrosecondTs",
                   MsgMap({{"type", Str("view")},
                           {"user", Str("u")},
                           {"item", Str("i")},
                           {"ts", Uint(1'700'000'000'000'000)}}),
                   DecodeErrc::kOutOfRange, "'ts'"},
        RejectCase{"TsAboveInt64",
                   MsgMap({{"type", Str("view")},
                           {"user", Str("u")},
                           {"item", Str("i")},
                           {"ts", Uint(0xFFFFFFFFFFFFFFFFULL)}}),
                   DecodeErrc::kOutOfRange, "'ts'"},
        RejectCase{"NegativePos", MinimalWith("pos", Int(-1)), DecodeErrc::kOutOfRange, "'pos'"},
        RejectCase{"PosBeyondListSize", MinimalWith("pos", Uint(kMaxListItems)),
                   DecodeErrc::kOutOfRange, "'pos'"}),
    recsd::testing::CaseName);

TEST(EventEncodeTest, EncodesTheGoldenBytes) {
  Event e;
  e.type = event_type::kClick;
  e.user = UserId("u1");
  e.item = ItemId("i1");
  e.ts = {kTs};
  e.pos = 2;
  // The wire form, spelled out: keys in schema order, absent optionals omitted.
  const std::string expected = MsgMap({{"v", Uint(1)},
                                       {"type", Str("click")},
                                       {"user", Str("u1")},
                                       {"item", Str("i1")},
                                       {"ts", Uint(kTs)},
                                       {"pos", Uint(2)}});
  EXPECT_EQ(EncodeEvent(e, Types()), expected);
}

Event FullEvent() {
  Event e;
  e.type = Types().Find("share").value();
  e.user = UserId("user-\xe2\x82\xac");  // "user-€"
  e.item = ItemId("item-42");
  e.ts = {kTs + 123};
  e.value = -2.25;
  e.rec = "p0-o17";
  e.pos = 999;
  e.ctx = {{"device", "android"}, {"locale", "de-DE"}};
  e.id = "e-77";
  return e;
}

TEST(EventRoundTripTest, MsgpackRoundTripKeepsEveryField) {
  const Event e = FullEvent();
  auto back = DecodeEvent(EncodeEvent(e, Types()), Types());
  ASSERT_TRUE(back.has_value()) << back.error().detail;
  EXPECT_EQ(*back, e);
}

TEST(EventRoundTripTest, JsonRoundTripKeepsEveryField) {
  const Event e = FullEvent();
  const std::string json = nlohmann::json::from_msgpack(EncodeEvent(e, Types())).dump();
  ASSERT_EQ(json.front(), '{');
  auto back = DecodeEvent(json, Types());
  ASSERT_TRUE(back.has_value()) << back.error().detail;
  EXPECT_EQ(*back, e);
}

TEST(EventEncodeTest, IntegralValuesStayFloat64) {
  Event e = FullEvent();
  for (double value : {3.0, 18446744073709551616.0}) {
    e.value = value;
    const std::string bytes = EncodeEvent(e, Types());
    EXPECT_NE(bytes.find(Str("value") + F64(value)), std::string::npos) << value;
    auto back = DecodeEvent(bytes, Types());
    ASSERT_TRUE(back.has_value()) << back.error().detail;
    EXPECT_EQ(*back, e);
  }
}

TEST(EventRoundTripTest, ForgetWithoutItemRoundTrips) {
  Event e;
  e.type = event_type::kForget;
  e.user = UserId("u");
  e.ts = {5};
  auto back = DecodeEvent(EncodeEvent(e, Types()), Types());
  ASSERT_TRUE(back.has_value()) << back.error().detail;
  EXPECT_EQ(*back, e);
}

TEST(DecodeErrorTest, EveryCodeHasADistinctReason) {
  std::vector<std::string_view> seen;
  for (int c = 0; c <= static_cast<int>(DecodeErrc::kOutOfRange); ++c) {
    const std::string_view r = ReasonOf(static_cast<DecodeErrc>(c));
    EXPECT_NE(r, "unknown");
    EXPECT_EQ(std::find(seen.begin(), seen.end(), r), seen.end()) << r;
    seen.push_back(r);
  }
}

TEST(DecodeErrorTest, ClassesSeparateSyntaxSchemaAndVersion) {
  EXPECT_EQ(ClassOf(DecodeErrc::kTruncated), DecodeErrorClass::kDecodeError);
  EXPECT_EQ(ClassOf(DecodeErrc::kTooLarge), DecodeErrorClass::kDecodeError);
  EXPECT_EQ(ClassOf(DecodeErrc::kMissingKey), DecodeErrorClass::kInvalid);
  EXPECT_EQ(ClassOf(DecodeErrc::kUnsupportedVersion), DecodeErrorClass::kUnsupportedVersion);
}

}  // namespace
}  // namespace recsd::stream
