#include "stream/item_codec.h"

#include <array>
#include <bit>
#include <cstring>

#include "state/msgpack_writer.h"
#include "stream/wire_reader.h"

namespace recsd::stream {
namespace {

using state::MsgpackWriter;

enum Key : std::size_t { kV, kItem, kEmb, kCat, kTags, kText, kTs, kAvailable, kKeyCount };
constexpr std::array<std::string_view, kKeyCount> kKeys = {"v",    "item", "emb", "cat",
                                                           "tags", "text", "ts",  "available"};

}  // namespace

DecodeResult<ItemRecord> DecodeItem(std::string_view bytes, std::size_t embedding_dim) {
  detail::Document doc;
  detail::MapFields f;
  RECSD_DECODE_TRY(detail::ParseMessage(bytes, kKeys, &doc, &f));

  ItemRecord item;
  const msgpack::object* o = nullptr;
  std::string text;
  RECSD_DECODE_TRY(f.Require(kItem, &o));
  RECSD_DECODE_TRY(detail::ReadId(*o, f.Name(kItem), &text));
  item.item = ItemId(std::move(text));

  if ((o = f.Get(kEmb)) != nullptr) {
    RECSD_DECODE_TRY(detail::ReadEmbedding(*o, f.Name(kEmb), embedding_dim, &item.emb));
  }
  if ((o = f.Get(kCat)) != nullptr) {
    RECSD_DECODE_TRY(detail::ReadId(*o, f.Name(kCat), &text));
    item.cat = std::move(text);
  }
  if ((o = f.Get(kTags)) != nullptr) {
    RECSD_DECODE_TRY(detail::ReadStringArray(*o, f.Name(kTags), kMaxTags, &item.tags));
  }
  if ((o = f.Get(kText)) != nullptr) {
    RECSD_DECODE_TRY(detail::ReadText(*o, f.Name(kText), kMaxStringBytes, &text));
    item.text = std::move(text);
  }
  RECSD_DECODE_TRY(f.Require(kTs, &o));
  RECSD_DECODE_TRY(detail::ReadTimestamp(*o, f.Name(kTs), &item.ts.ms));
  if ((o = f.Get(kAvailable)) != nullptr) {
    RECSD_DECODE_TRY(detail::ReadBool(*o, f.Name(kAvailable), &item.available));
  }
  return item;
}

std::string EncodeItem(const ItemRecord& item, EmbeddingEncoding emb) {
  std::string out;
  MsgpackWriter w(&out);
  w.Map(4 + (item.emb.empty() ? 0 : 1) + (item.cat ? 1 : 0) + (item.tags.empty() ? 0 : 1) +
        (item.text ? 1 : 0));
  w.Key("v").Int(kWireVersion);
  w.Key("item").Str(item.item.str());
  if (!item.emb.empty()) {
    w.Key("emb");
    if (emb == EmbeddingEncoding::kBin) {
      std::string bytes(item.emb.size() * sizeof(float), '\0');
      for (std::size_t i = 0; i < item.emb.size(); ++i) {
        std::uint32_t bits = std::bit_cast<std::uint32_t>(item.emb[i]);
        if constexpr (std::endian::native == std::endian::big) {
          bits = __builtin_bswap32(bits);
        }
        std::memcpy(bytes.data() + i * sizeof(float), &bits, sizeof(bits));
      }
      w.Bin(bytes);
    } else {
      w.Array(item.emb.size());
      for (float v : item.emb) {
        w.Float(v);
      }
    }
  }
  if (item.cat) {
    w.Key("cat").Str(*item.cat);
  }
  if (!item.tags.empty()) {
    w.Key("tags").Array(item.tags.size());
    for (const std::string& t : item.tags) {
      w.Str(t);
    }
  }
  if (item.text) {
    w.Key("text").Str(*item.text);
  }
  w.Key("ts").Int(item.ts.ms);
  w.Key("available").Bool(item.available);
  return out;
}

}  // namespace recsd::stream
