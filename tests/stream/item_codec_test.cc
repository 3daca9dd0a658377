#include "stream/item_codec.h"

#include <bit>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "codec_test_util.h"

namespace recsd::stream {
namespace {

using recsd::testing::Array;
using recsd::testing::Bin;
using recsd::testing::Bool;
using recsd::testing::F32;
using recsd::testing::F64;
using recsd::testing::MsgMap;
using recsd::testing::RejectCase;
using recsd::testing::Str;
using recsd::testing::Uint;

constexpr std::size_t kDim = 4;
constexpr std::int64_t kTs = 1'600'000'000'000;

// float32 little-endian bytes, written out byte by byte.
std::string Le(const std::vector<float>& v) {
  std::string out;
  for (float f : v) {
    const auto bits = std::bit_cast<std::uint32_t>(f);
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }
  return out;
}

std::string F32Array(const std::vector<float>& v) {
  std::string out = Array(static_cast<std::uint32_t>(v.size()));
  for (float f : v) out += F32(f);
  return out;
}

std::string ItemWith(const std::string& key, const std::string& value) {
  return MsgMap({{"item", Str("i1")}, {"ts", Uint(kTs)}, {key, value}});
}

TEST(ItemDecodeTest, DecodesEveryFieldWithBinEmbedding) {
  const std::string bytes = MsgMap({{"v", Uint(1)},
                                    {"item", Str("i1")},
                                    {"emb", Bin(Le({0.5F, -1.0F, 0.0F, 2.0F}))},
                                    {"cat", Str("Comedy")},
                                    {"tags", Array(2) + Str("funny") + Str("90s")},
                                    {"text", Str("Toy Story (1995)")},
                                    {"ts", Uint(kTs)},
                                    {"available", Bool(false)}});
  auto item = DecodeItem(bytes, kDim);
  ASSERT_TRUE(item.has_value()) << item.error().detail;
  EXPECT_EQ(item->item, ItemId("i1"));
  EXPECT_EQ(item->emb, (std::vector<float>{0.5F, -1.0F, 0.0F, 2.0F}));
  EXPECT_EQ(item->cat, "Comedy");
  EXPECT_EQ(item->tags, (std::vector<std::string>{"funny", "90s"}));
  EXPECT_EQ(item->text, "Toy Story (1995)");
  EXPECT_EQ(item->ts.ms, kTs);
  EXPECT_FALSE(item->available);
}

TEST(ItemDecodeTest, DecodesArrayEmbeddingOfMixedNumbers) {
  auto item = DecodeItem(
      ItemWith("emb", Array(4) + F32(1.5F) + F64(-2.0) + Uint(3) + recsd::testing::Int(-4)), kDim);
  ASSERT_TRUE(item.has_value()) << item.error().detail;
  EXPECT_EQ(item->emb, (std::vector<float>{1.5F, -2.0F, 3.0F, -4.0F}));
}

TEST(ItemDecodeTest, DefaultsToAvailableWithoutEmbedding) {
  auto item = DecodeItem(MsgMap({{"item", Str("i1")}, {"ts", Uint(kTs)}}), kDim);
  ASSERT_TRUE(item.has_value()) << item.error().detail;
  EXPECT_TRUE(item->available);
  EXPECT_TRUE(item->emb.empty());
  EXPECT_FALSE(item->cat.has_value());
}

TEST(ItemDecodeTest, DecodesJsonWithFloatArrayEmbedding) {
  auto item = DecodeItem(
      R"({"item":"m1","emb":[0.25,1,-3.5,0],"cat":"Drama","tags":["a"],"ts":5,"available":true})",
      kDim);
  ASSERT_TRUE(item.has_value()) << item.error().detail;
  EXPECT_EQ(item->emb, (std::vector<float>{0.25F, 1.0F, -3.5F, 0.0F}));
  EXPECT_EQ(item->cat, "Drama");
}

class ItemRejectTest : public ::testing::TestWithParam<RejectCase> {};

TEST_P(ItemRejectTest, RejectsWithReason) {
  const RejectCase& c = GetParam();
  auto item = DecodeItem(c.bytes, kDim);
  ASSERT_FALSE(item.has_value()) << "accepted: " << c.name;
  EXPECT_EQ(ReasonOf(item.error().code), ReasonOf(c.code)) << item.error().detail;
  EXPECT_NE(item.error().detail.find(c.detail_has), std::string::npos)
      << "detail \"" << item.error().detail << "\" lacks \"" << c.detail_has << "\"";
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

INSTANTIATE_TEST_SUITE_P(
    Golden, ItemRejectTest,
    ::testing::Values(
        RejectCase{"MissingItem", MsgMap({{"ts", Uint(kTs)}}), DecodeErrc::kMissingKey, "'item'"},
        RejectCase{"MissingTs", MsgMap({{"item", Str("i")}}), DecodeErrc::kMissingKey, "'ts'"},
        RejectCase{"EmbBinTooShort", ItemWith("emb", Bin(Le({1, 2, 3}))), DecodeErrc::kBadEmbedding,
                   "12 bytes"},
        RejectCase{"EmbBinTooLong", ItemWith("emb", Bin(Le({1, 2, 3, 4, 5}))),
                   DecodeErrc::kBadEmbedding, "20 bytes"},
        RejectCase{"EmbBinNotMultipleOfFour", ItemWith("emb", Bin("abcdefghijklmno")),
                   DecodeErrc::kBadEmbedding, "15 bytes"},
        RejectCase{"EmbArrayWrongDimension", ItemWith("emb", F32Array({1, 2, 3})),
                   DecodeErrc::kBadEmbedding, "3 values"},
        RejectCase{"EmbArrayTooLong", ItemWith("emb", F32Array({1, 2, 3, 4, 5})),
                   DecodeErrc::kBadEmbedding, "5 values"},
        RejectCase{"EmbIsString", ItemWith("emb", Str("1,2,3,4")), DecodeErrc::kWrongType, "'emb'"},
        RejectCase{"EmbArrayHoldsString",
                   ItemWith("emb", Array(4) + F32(1) + F32(1) + F32(1) + Str("x")),
                   DecodeErrc::kWrongType, "emb'[3]"},
        RejectCase{"EmbBinHoldsNaN", ItemWith("emb", Bin(Le({1, kNaN, 3, 4}))),
                   DecodeErrc::kNonFinite, "'emb'"},
        RejectCase{"EmbBinHoldsInf", ItemWith("emb", Bin(Le({1, 2, 3, -kInf}))),
                   DecodeErrc::kNonFinite, "'emb'"},
        RejectCase{"EmbArrayHoldsNaN", ItemWith("emb", F32Array({1, 2, kNaN, 4})),
                   DecodeErrc::kNonFinite, "emb'[2]"},
        RejectCase{"EmbArrayOverflowsFloat32",
                   ItemWith("emb", Array(4) + F64(1e300) + F32(1) + F32(1) + F32(1)),
                   DecodeErrc::kNonFinite, "float32"},
        RejectCase{"JsonEmbOverflowsDouble", R"({"item":"i","ts":1,"emb":[1e999,0,0,0]})",
                   DecodeErrc::kNonFinite, "1e999"},
        RejectCase{"AvailableIsInteger", ItemWith("available", Uint(1)), DecodeErrc::kWrongType,
                   "'available'"},
        RejectCase{"TagsIsString", ItemWith("tags", Str("a,b")), DecodeErrc::kWrongType, "'tags'"},
        RejectCase{"TooManyTags",
                   ItemWith("tags",
                            [] {
                              std::string tags = Array(kMaxTags + 1);
                              for (std::size_t i = 0; i <= kMaxTags; ++i) tags += Str("t");
                              return tags;
                            }()),
                   DecodeErrc::kTooManyEntries, "'tags'"},
        RejectCase{"EmptyTag", ItemWith("tags", Array(1) + Str("")), DecodeErrc::kBadId,
                   "tags'[0]"},
        RejectCase{"EmptyCategory", ItemWith("cat", Str("")), DecodeErrc::kBadId, "'cat'"},
        RejectCase{"InvalidUtf8InText", ItemWith("text", Str("caf\xe9")), DecodeErrc::kInvalidUtf8,
                   "'text'"},
        RejectCase{"InvalidUtf8InItemId", MsgMap({{"item", Str("\xc0\xaf")}, {"ts", Uint(kTs)}}),
                   DecodeErrc::kInvalidUtf8, "'item'"},
        RejectCase{"TsAfter2100", MsgMap({{"item", Str("i")}, {"ts", Uint(kMaxTimestampMs + 1)}}),
                   DecodeErrc::kOutOfRange, "'ts'"},
        RejectCase{"UnsupportedVersion", ItemWith("v", Uint(9)), DecodeErrc::kUnsupportedVersion,
                   "version 9"}),
    recsd::testing::CaseName);

ItemRecord FullItem() {
  ItemRecord item;
  item.item = ItemId("movie-1");
  item.emb = {0.1F, -0.2F, 3.4028235e38F, -1e-30F};
  item.cat = "Animation";
  item.tags = {"pixar", "toys"};
  item.text = "Toy Story (1995) \xe2\x80\x94 a film";
  item.ts = {kTs};
  item.available = false;
  return item;
}

TEST(ItemRoundTripTest, BinEmbeddingRoundTripsExactly) {
  const ItemRecord item = FullItem();
  auto back = DecodeItem(EncodeItem(item, EmbeddingEncoding::kBin), kDim);
  ASSERT_TRUE(back.has_value()) << back.error().detail;
  EXPECT_EQ(*back, item);
}

TEST(ItemRoundTripTest, ArrayEmbeddingRoundTripsExactly) {
  const ItemRecord item = FullItem();
  auto back = DecodeItem(EncodeItem(item, EmbeddingEncoding::kArray), kDim);
  ASSERT_TRUE(back.has_value()) << back.error().detail;
  EXPECT_EQ(*back, item);
}

TEST(ItemRoundTripTest, JsonRoundTripKeepsEveryField) {
  const ItemRecord item = FullItem();
  const std::string json =
      nlohmann::json::from_msgpack(EncodeItem(item, EmbeddingEncoding::kArray)).dump();
  auto back = DecodeItem(json, kDim);
  ASSERT_TRUE(back.has_value()) << back.error().detail;
  EXPECT_EQ(*back, item);
}

TEST(ItemEncodeTest, BinEmbeddingIsLittleEndianFloat32) {
  ItemRecord item;
  item.item = ItemId("i");
  item.emb = {1.0F, 0.0F, 0.0F, -2.0F};
  item.ts = {1};
  const std::string expected = MsgMap({{"v", Uint(1)},
                                       {"item", Str("i")},
                                       {"emb", Bin(Le({1.0F, 0.0F, 0.0F, -2.0F}))},
                                       {"ts", Uint(1)},
                                       {"available", Bool(true)}});
  EXPECT_EQ(EncodeItem(item), expected);
}

}  // namespace
}  // namespace recsd::stream
