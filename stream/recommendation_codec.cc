#include "stream/recommendation_codec.h"

#include <array>
#include <charconv>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "state/msgpack_writer.h"
#include "stream/wire_reader.h"

namespace recsd::stream {
namespace {

using state::MsgpackWriter;

enum Key : std::size_t { kV, kUser, kRec, kTs, kEventTs, kModel, kVariant, kItems, kKeyCount };
constexpr std::array<std::string_view, kKeyCount> kKeys = {"v",        "user",  "rec",     "ts",
                                                           "event_ts", "model", "variant", "items"};
enum ItemKey : std::size_t { kItem, kScore, kSrc, kItemKeyCount };
constexpr std::array<std::string_view, kItemKeyCount> kItemKeys = {"item", "score", "src"};

constexpr std::size_t kMaxVariantBytes = 64;

detail::MaybeError ReadItem(const msgpack::object& o, std::size_t index, RecommendedItem* out) {
  const std::string where = "items[" + std::to_string(index) + "]";
  detail::MapFields f;
  if (detail::MaybeError e = f.Index(o, kItemKeys, where)) {
    return e;
  }
  const msgpack::object* v = nullptr;
  std::string text;
  if (detail::MaybeError e = f.Require(kItem, &v)) return e;
  if (detail::MaybeError e = detail::ReadId(*v, f.Name(kItem), &text)) return e;
  out->item = ItemId(std::move(text));
  if (detail::MaybeError e = f.Require(kScore, &v)) return e;
  if (detail::MaybeError e = detail::ReadFloat(*v, f.Name(kScore), &out->score)) return e;
  if ((v = f.Get(kSrc)) == nullptr) {
    return std::nullopt;
  }
  const detail::FieldName name = f.Name(kSrc);
  const auto read_source = [&](const msgpack::object& k, std::size_t i, std::string* source) {
    return detail::ReadId(k, name.At(i).Then("key"), source);
  };
  const auto read_contribution = [&](const msgpack::object& c, std::size_t,
                                     const std::string& source, float* contribution) {
    return detail::ReadFloat(c, name.Then(source), contribution);
  };
  return detail::ReadMap(*v, name, kMaxSources, "sources", read_source, read_contribution,
                         &out->src);
}

// float32 → the double that prints as the float's shortest decimal form (0.1F → 0.1, not
// 0.100000001490116).
double Displayable(float v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf) - 1, v);
  if (ec != std::errc()) {
    return v;
  }
  *end = '\0';
  return std::strtod(buf, nullptr);
}

}  // namespace

DecodeResult<RecommendationList> DecodeRecommendationList(std::string_view bytes) {
  detail::Document doc;
  detail::MapFields f;
  RECSD_DECODE_TRY(detail::ParseMessage(bytes, kKeys, &doc, &f));

  RecommendationList list;
  const msgpack::object* o = nullptr;
  std::string text;
  RECSD_DECODE_TRY(f.Require(kUser, &o));
  RECSD_DECODE_TRY(detail::ReadId(*o, f.Name(kUser), &text));
  list.user = UserId(std::move(text));
  RECSD_DECODE_TRY(f.Require(kRec, &o));
  RECSD_DECODE_TRY(detail::ReadId(*o, f.Name(kRec), &list.rec));
  RECSD_DECODE_TRY(f.Require(kTs, &o));
  RECSD_DECODE_TRY(detail::ReadTimestamp(*o, f.Name(kTs), &list.ts.ms));
  RECSD_DECODE_TRY(f.Require(kEventTs, &o));
  RECSD_DECODE_TRY(detail::ReadTimestamp(*o, f.Name(kEventTs), &list.event_ts.ms));
  RECSD_DECODE_TRY(f.Require(kModel, &o));
  RECSD_DECODE_TRY(detail::ReadUint64(*o, f.Name(kModel), &list.model));
  RECSD_DECODE_TRY(f.Require(kVariant, &o));
  RECSD_DECODE_TRY(detail::ReadText(*o, f.Name(kVariant), kMaxVariantBytes, &list.variant));
  RECSD_DECODE_TRY(f.Require(kItems, &o));
  if (o->type != msgpack::type::ARRAY) {
    return Fail(DecodeError{DecodeErrc::kWrongType, f.Name(kItems) + ": expected array"});
  }
  if (o->via.array.size > kMaxListItems) {
    return Fail(DecodeError{DecodeErrc::kTooManyEntries,
                            f.Name(kItems) + ": " + std::to_string(o->via.array.size) +
                                " items, at most " + std::to_string(kMaxListItems)});
  }
  list.items.resize(o->via.array.size);
  for (std::uint32_t i = 0; i < o->via.array.size; ++i) {
    RECSD_DECODE_TRY(ReadItem(o->via.array.ptr[i], i, &list.items[i]));
  }
  return list;
}

std::string EncodeRecommendationList(const RecommendationList& list) {
  // An upper bound of the encoded size, so the buffer is allocated once.
  std::size_t size = 96 + list.user.str().size() + list.rec.size() + list.variant.size();
  for (const RecommendedItem& item : list.items) {
    size += 32 + item.item.str().size();
    for (const auto& [source, contribution] : item.src) {
      size += 10 + source.size();
    }
  }
  std::string out;
  out.reserve(size);
  MsgpackWriter w(&out);
  w.Map(8);
  w.Key("v").Int(kWireVersion);
  w.Key("user").Str(list.user.str());
  w.Key("rec").Str(list.rec);
  w.Key("ts").Int(list.ts.ms);
  w.Key("event_ts").Int(list.event_ts.ms);
  w.Key("model").Uint(list.model);
  w.Key("variant").Str(list.variant);
  w.Key("items").Array(list.items.size());
  for (const RecommendedItem& item : list.items) {
    w.Map(3);
    w.Key("item").Str(item.item.str());
    w.Key("score").Float(item.score);
    w.Key("src").Map(item.src.size());
    for (const auto& [source, contribution] : item.src) {
      w.Key(source).Float(contribution);
    }
  }
  return out;
}

std::string RecommendationListToJson(const RecommendationList& list) {
  nlohmann::ordered_json j;
  j["v"] = kWireVersion;
  j["user"] = list.user.str();
  j["rec"] = list.rec;
  j["ts"] = list.ts.ms;
  j["event_ts"] = list.event_ts.ms;
  j["model"] = list.model;
  j["variant"] = list.variant;
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const RecommendedItem& item : list.items) {
    nlohmann::ordered_json src = nlohmann::ordered_json::object();
    for (const auto& [source, contribution] : item.src) {
      src[source] = Displayable(contribution);
    }
    items.push_back({{"item", item.item.str()}, {"score", Displayable(item.score)}, {"src", src}});
  }
  j["items"] = std::move(items);
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace recsd::stream
