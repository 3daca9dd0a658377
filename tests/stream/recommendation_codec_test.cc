#include "stream/recommendation_codec.h"

#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "codec_test_util.h"

namespace recsd::stream {
namespace {

using recsd::testing::Array;
using recsd::testing::F32;
using recsd::testing::F64;
using recsd::testing::Int;
using recsd::testing::MsgMap;
using recsd::testing::RejectCase;
using recsd::testing::Str;
using recsd::testing::Uint;

RecommendationList SampleList() {
  RecommendationList list;
  list.user = UserId("u1");
  list.rec = "p3-o42";
  list.ts = {1'700'000'000'500};
  list.event_ts = {1'700'000'000'000};
  list.model = 17;
  list.variant = "learned";
  // Sources deliberately not in alphabetical order: their order must survive every encoding.
  list.items = {{ItemId("i1"), 0.75F, {{"trending", 0.5F}, {"emb_short", 0.25F}}},
                {ItemId("i2"), 0.1F, {{"covisit", 0.1F}}},
                {ItemId("i3"), -0.5F, {}}};
  return list;
}

std::string ListBytes(const std::string& items) {
  return MsgMap({{"v", Uint(1)},
                 {"user", Str("u1")},
                 {"rec", Str("r1")},
                 {"ts", Uint(10)},
                 {"event_ts", Uint(9)},
                 {"model", Uint(3)},
                 {"variant", Str("holdout")},
                 {"items", items}});
}

TEST(RecommendationEncodeTest, EncodesTheGoldenBytes) {
  RecommendationList list;
  list.user = UserId("u1");
  list.rec = "r1";
  list.ts = {10};
  list.event_ts = {9};
  list.model = 3;
  list.variant = "holdout";
  list.items = {{ItemId("a"), 0.5F, {{"trending", 0.5F}}}};
  const std::string expected =
      ListBytes(Array(1) + MsgMap({{"item", Str("a")},
                                   {"score", F32(0.5F)},
                                   {"src", MsgMap({{"trending", F32(0.5F)}})}}));
  EXPECT_EQ(EncodeRecommendationList(list), expected);
}

// Integral scores stay float32 on the wire, and 2^64 (which msgpack-cxx's own pack_float turns
// into an undefined float-to-integer conversion; found by fuzz_recommendation_decoder) encodes
// and round-trips like any other float.
TEST(RecommendationEncodeTest, IntegralScoresStayFloat32) {
  RecommendationList list = SampleList();
  list.items = {{ItemId("a"), 2.0F, {{"trending", 18446744073709551616.0F}}}};
  const std::string bytes = EncodeRecommendationList(list);
  EXPECT_NE(bytes.find(Str("score") + F32(2.0F)), std::string::npos);
  EXPECT_NE(bytes.find(Str("trending") + F32(18446744073709551616.0F)), std::string::npos);
  auto back = DecodeRecommendationList(bytes);
  ASSERT_TRUE(back.has_value()) << back.error().detail;
  EXPECT_EQ(*back, list);
}

TEST(RecommendationRoundTripTest, MsgpackRoundTripKeepsEveryField) {
  const RecommendationList list = SampleList();
  auto back = DecodeRecommendationList(EncodeRecommendationList(list));
  ASSERT_TRUE(back.has_value()) << back.error().detail;
  EXPECT_EQ(*back, list);
}

TEST(RecommendationRoundTripTest, DisplayJsonDecodesToTheSameList) {
  const RecommendationList list = SampleList();
  const std::string json = RecommendationListToJson(list);
  auto back = DecodeRecommendationList(json);
  ASSERT_TRUE(back.has_value()) << back.error().detail << " in " << json;
  EXPECT_EQ(*back, list);
}

TEST(RecommendationJsonTest, PrintsShortestFloatsInKeyOrder) {
  const std::string json = RecommendationListToJson(SampleList());
  const std::string head =
      R"({"v":1,"user":"u1","rec":"p3-o42","ts":1700000000500,"event_ts":1700000000000,)"
      R"("model":17,"variant":"learned","items":[)";
  EXPECT_EQ(json.substr(0, head.size()), head);
  // 0.1F prints as 0.1, not as its double expansion 0.10000000149011612.
  EXPECT_NE(json.find(R"({"item":"i2","score":0.1,"src":{"covisit":0.1}})"), std::string::npos)
      << json;
}

TEST(RecommendationJsonTest, InvalidUtf8IsReplacedNotEmittedRaw) {
  RecommendationList list = SampleList();
  list.user = UserId("bad\xff");
  const std::string json = RecommendationListToJson(list);
  EXPECT_TRUE(nlohmann::json::accept(json)) << json;
  EXPECT_NE(json.find("bad\xef\xbf\xbd"), std::string::npos);  // U+FFFD
}

TEST(RecommendationDecodeTest, AcceptsEmptyList) {
  auto back = DecodeRecommendationList(ListBytes(Array(0)));
  ASSERT_TRUE(back.has_value()) << back.error().detail;
  EXPECT_TRUE(back->items.empty());
  EXPECT_EQ(back->variant, "holdout");
  EXPECT_EQ(back->model, 3U);
}

class RecommendationRejectTest : public ::testing::TestWithParam<RejectCase> {};

TEST_P(RecommendationRejectTest, RejectsWithReason) {
  const RejectCase& c = GetParam();
  auto list = DecodeRecommendationList(c.bytes);
  ASSERT_FALSE(list.has_value()) << "accepted: " << c.name;
  EXPECT_EQ(ReasonOf(list.error().code), ReasonOf(c.code)) << list.error().detail;
  EXPECT_NE(list.error().detail.find(c.detail_has), std::string::npos)
      << "detail \"" << list.error().detail << "\" lacks \"" << c.detail_has << "\"";
}

std::string OneItem(const std::string& score, const std::string& src) {
  return Array(1) + MsgMap({{"item", Str("a")}, {"score", score}, {"src", src}});
}

INSTANTIATE_TEST_SUITE_P(
    Golden, RecommendationRejectTest,
    ::testing::Values(
        RejectCase{"MissingItems",
                   MsgMap({{"user", Str("u")},
                           {"rec", Str("r")},
                           {"ts", Uint(1)},
                           {"event_ts", Uint(1)},
                           {"model", Uint(1)},
                           {"variant", Str("x")}}),
                   DecodeErrc::kMissingKey, "'items'"},
        RejectCase{"ItemsIsMap", ListBytes(MsgMap({})), DecodeErrc::kWrongType, "'items'"},
        RejectCase{"ItemIsArray", ListBytes(Array(1) + Array(0)), DecodeErrc::kWrongType,
                   "items[0]"},
        RejectCase{"ItemMissingScore", ListBytes(Array(1) + MsgMap({{"item", Str("a")}})),
                   DecodeErrc::kMissingKey, "items[0].score"},
        RejectCase{"NanScore",
                   ListBytes(OneItem(F32(std::numeric_limits<float>::quiet_NaN()), MsgMap({}))),
                   DecodeErrc::kNonFinite, "score"},
        RejectCase{
            "InfContribution",
            ListBytes(OneItem(F32(1), MsgMap({{"trending",
                                               F64(std::numeric_limits<double>::infinity())}}))),
            DecodeErrc::kNonFinite, "trending"},
        RejectCase{"TooManySources",
                   ListBytes(OneItem(F32(1),
                                     [] {
                                       std::string srcs = recsd::testing::Map(kMaxSources + 1);
                                       for (std::size_t i = 0; i <= kMaxSources; ++i) {
                                         srcs += Str("s" + std::to_string(i)) + F32(0);
                                       }
                                       return srcs;
                                     }())),
                   DecodeErrc::kTooManyEntries, "sources"},
        RejectCase{"DuplicateSource",
                   ListBytes(OneItem(F32(1), MsgMap({{"a", F32(0)}, {"a", F32(1)}}))),
                   DecodeErrc::kDuplicateKey, "'a'"},
        RejectCase{"TooManyItems", ListBytes([] {
                     std::string items = recsd::testing::Array32Header(kMaxListItems + 1);
                     for (std::size_t i = 0; i <= kMaxListItems; ++i) items += MsgMap({});
                     return items;
                   }()),
                   DecodeErrc::kTooManyEntries, "1001 items"},
        RejectCase{"NegativeModel",
                   MsgMap({{"user", Str("u")},
                           {"rec", Str("r")},
                           {"ts", Uint(1)},
                           {"event_ts", Uint(1)},
                           {"model", Int(-1)},
                           {"variant", Str("x")},
                           {"items", Array(0)}}),
                   DecodeErrc::kOutOfRange, "'model'"},
        RejectCase{"EmptyRecId",
                   MsgMap({{"user", Str("u")},
                           {"rec", Str("")},
                           {"ts", Uint(1)},
                           {"event_ts", Uint(1)},
                           {"model", Uint(1)},
                           {"variant", Str("x")},
                           {"items", Array(0)}}),
                   DecodeErrc::kBadId, "'rec'"},
        RejectCase{"VariantTooLong",
                   MsgMap({{"user", Str("u")},
                           {"rec", Str("r")},
                           {"ts", Uint(1)},
                           {"event_ts", Uint(1)},
                           {"model", Uint(1)},
                           {"variant", Str(std::string(65, 'x'))},
                           {"items", Array(0)}}),
                   DecodeErrc::kTooLarge, "'variant'"}),
    recsd::testing::CaseName);

}  // namespace
}  // namespace recsd::stream
