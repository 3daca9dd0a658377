#include "stream/event_codec.h"

#include <array>

#include "state/msgpack_writer.h"
#include "stream/wire_reader.h"

namespace recsd::stream {
namespace {

using state::MsgpackWriter;

enum Key : std::size_t { kV, kType, kUser, kItem, kTs, kValue, kRec, kPos, kCtx, kId, kKeyCount };
constexpr std::array<std::string_view, kKeyCount> kKeys = {"v",     "type", "user", "item", "ts",
                                                           "value", "rec",  "pos",  "ctx",  "id"};

}  // namespace

DecodeResult<Event> DecodeEvent(std::string_view bytes, const EventTypeTable& types) {
  using detail::Error;
  detail::Document doc;
  detail::MapFields f;
  RECSD_DECODE_TRY(detail::ParseMessage(bytes, kKeys, &doc, &f));

  Event event;
  const msgpack::object* o = nullptr;
  std::string text;
  RECSD_DECODE_TRY(f.Require(kType, &o));
  RECSD_DECODE_TRY(detail::ReadText(*o, f.Name(kType), kMaxIdBytes, &text));
  const std::optional<EventTypeId> type = types.Find(text);
  if (!type) {
    return Fail(DecodeError{DecodeErrc::kUnknownEventType,
                            "key 'type': '" + detail::Quote(text) + "' is not a configured type"});
  }
  event.type = *type;

  RECSD_DECODE_TRY(f.Require(kUser, &o));
  RECSD_DECODE_TRY(detail::ReadId(*o, f.Name(kUser), &text));
  event.user = UserId(std::move(text));

  if (f.Get(kItem) != nullptr || event.type != event_type::kForget) {
    RECSD_DECODE_TRY(f.Require(kItem, &o));
    RECSD_DECODE_TRY(detail::ReadId(*o, f.Name(kItem), &text));
    event.item = ItemId(std::move(text));
  }

  RECSD_DECODE_TRY(f.Require(kTs, &o));
  RECSD_DECODE_TRY(detail::ReadTimestamp(*o, f.Name(kTs), &event.ts.ms));

  if ((o = f.Get(kValue)) != nullptr) {
    double value = 0;
    RECSD_DECODE_TRY(detail::ReadDouble(*o, f.Name(kValue), &value));
    event.value = value;
  }
  if ((o = f.Get(kRec)) != nullptr) {
    RECSD_DECODE_TRY(detail::ReadId(*o, f.Name(kRec), &text));
    event.rec = std::move(text);
  }
  if ((o = f.Get(kPos)) != nullptr) {
    std::int64_t pos = 0;
    RECSD_DECODE_TRY(detail::ReadInt(*o, f.Name(kPos), 0, kMaxListItems - 1, &pos));
    event.pos = static_cast<std::uint32_t>(pos);
  }
  if ((o = f.Get(kCtx)) != nullptr) {
    RECSD_DECODE_TRY(detail::ReadStringMap(*o, f.Name(kCtx), kMaxCtxEntries, kMaxCtxKeyBytes,
                                           kMaxCtxValueBytes, &event.ctx));
  }
  if ((o = f.Get(kId)) != nullptr) {
    RECSD_DECODE_TRY(detail::ReadId(*o, f.Name(kId), &text));
    event.id = std::move(text);
  }
  return event;
}

std::string EncodeEvent(const Event& event, const EventTypeTable& types) {
  std::string out;
  MsgpackWriter w(&out);
  const std::size_t n = 4 + (event.item.empty() ? 0 : 1) + (event.value ? 1 : 0) +
                        (event.rec ? 1 : 0) + (event.pos ? 1 : 0) + (event.ctx.empty() ? 0 : 1) +
                        (event.id ? 1 : 0);
  w.Map(n);
  w.Key("v").Int(kWireVersion);
  w.Key("type").Str(types.Get(event.type).name);
  w.Key("user").Str(event.user.str());
  if (!event.item.empty()) {
    w.Key("item").Str(event.item.str());
  }
  w.Key("ts").Int(event.ts.ms);
  if (event.value) {
    w.Key("value").Double(*event.value);
  }
  if (event.rec) {
    w.Key("rec").Str(*event.rec);
  }
  if (event.pos) {
    w.Key("pos").Int(*event.pos);
  }
  if (!event.ctx.empty()) {
    w.Key("ctx").Map(event.ctx.size());
    for (const auto& [k, v] : event.ctx) {
      w.Key(k).Str(v);
    }
  }
  if (event.id) {
    w.Key("id").Str(*event.id);
  }
  return out;
}

}  // namespace recsd::stream
