#pragma once

// Internal to stream/: the one place that turns bytes into a msgpack object tree under limits, and
// reads typed, validated fields out of it. Every decoder is built on it, so each check (limits,
// types, ids, UTF-8, finiteness, duplicates) is written once and behaves the same for msgpack and
// JSON input. Nothing here throws: msgpack-cxx and nlohmann exceptions (including the
// std::bad_alloc of a huge container header) are caught at Document::Parse.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <msgpack.hpp>

#include "stream/decode_error.h"

namespace recsd::stream::detail {

using MaybeError = std::optional<DecodeError>;

// Evaluates a MaybeError-returning expression and returns its error from the enclosing decoder.
#define RECSD_DECODE_TRY(expr)                             \
  do {                                                     \
    if (::recsd::stream::detail::MaybeError e_ = (expr)) { \
      return ::recsd::Fail(std::move(*e_));                \
    }                                                      \
  } while (false)

MaybeError Error(DecodeErrc code, std::string detail);

// Names a field in error details ("key 'items[3].score'", "key 'emb'[2]"). Cheap to make and pass:
// the text is only built when an error is reported, so the success path allocates nothing for it.
// Holds views: what it names must outlive it (keys are static, `where` belongs to a MapFields).
class FieldName {
 public:
  FieldName(std::string_view where, std::string_view key) : where_(where), key_(key) {}

  // The element `index` of this array or map: "key 'emb'[2]".
  FieldName At(std::size_t index) const {
    FieldName n = *this;
    n.index_ = index;
    return n;
  }
  // This name followed by a word: "key 'ctx'[3] value".
  FieldName Then(std::string_view word) const {
    FieldName n = *this;
    n.word_ = word;
    return n;
  }
  std::string str() const;

 private:
  static constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);
  std::string_view where_;
  std::string_view key_;
  std::size_t index_ = kNoIndex;
  std::string_view word_;
};

inline std::string operator+(const FieldName& name, std::string_view text) {
  std::string out = name.str();
  out += text;
  return out;
}

// One parsed payload. Not movable: its objects point into its own buffers and, for msgpack input,
// into the caller's bytes, which must outlive it.
class Document {
 public:
  Document() = default;
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  // Parses exactly one msgpack value, or one JSON object when the first non-whitespace byte is '{'.
  // Errors: kTooLarge (input or a container beyond the limits), kTruncated, kTrailingBytes,
  // kMalformed, kTooDeep, kInvalidUtf8 (JSON text), kDuplicateKey (JSON object).
  MaybeError Parse(std::string_view bytes);

  const msgpack::object& root() const { return root_; }

 private:
  MaybeError ParseMsgpack(std::string_view bytes);
  MaybeError ParseJson(std::string_view text);

  // msgpack's own zone starts with an 8 KiB chunk: one heap allocation of that size per event,
  // which took part in every growth of a worker's heap (1.8% of `recsd run` under
  // pipeline_throughput.sh). An event's map fits in kZoneChunk; larger documents add chunks.
  static constexpr std::size_t kZoneChunk = 1024 - 32;
  std::vector<char> converted_;  // JSON input re-encoded as msgpack
  msgpack::zone zone_{kZoneChunk};
  msgpack::object root_;  // in zone_; strings refer to the parsed bytes
};

// The values of a map's known keys, found in one pass. A nil value counts as absent. Any string
// key appearing twice is kDuplicateKey; keys that are not known are ignored (forward compatible).
class MapFields {
 public:
  // `where` names the map in error details ("" for the top level, "items[3]" for a nested one).
  MaybeError Index(const msgpack::object& map, std::span<const std::string_view> keys,
                   std::string_view where);

  // The value of keys[i], or nullptr when absent or nil.
  const msgpack::object* Get(std::size_t i) const { return values_[i]; }
  // kMissingKey when absent.
  MaybeError Require(std::size_t i, const msgpack::object** out) const;
  // "key 'ts'" or "key 'items[3].score'", for error details.
  FieldName Name(std::size_t i) const { return FieldName(where_, keys_[i]); }

  static constexpr std::size_t kMaxKeys = 16;

 private:
  std::span<const std::string_view> keys_;
  std::string where_;
  std::array<const msgpack::object*, kMaxKeys> values_{};
};

// Typed readers. `name` is used in error details only.
MaybeError ReadInt(const msgpack::object& o, const FieldName& name, std::int64_t min,
                   std::int64_t max, std::int64_t* out);
MaybeError ReadUint64(const msgpack::object& o, const FieldName& name, std::uint64_t* out);
MaybeError ReadTimestamp(const msgpack::object& o, const FieldName& name, std::int64_t* out);
// An integer or float; NaN and ±Inf are kNonFinite.
MaybeError ReadDouble(const msgpack::object& o, const FieldName& name, double* out);
MaybeError ReadFloat(const msgpack::object& o, const FieldName& name, float* out);
MaybeError ReadBool(const msgpack::object& o, const FieldName& name, bool* out);
// A UTF-8 string of at most max_bytes; empty allowed.
MaybeError ReadText(const msgpack::object& o, const FieldName& name, std::size_t max_bytes,
                    std::string* out);
// An identifier: non-empty, at most kMaxIdBytes, UTF-8 (kBadId, kInvalidUtf8).
MaybeError ReadId(const msgpack::object& o, const FieldName& name, std::string* out);
// float32 little-endian bytes (bin) or an array of numbers, of exactly `dim` finite values.
MaybeError ReadEmbedding(const msgpack::object& o, const FieldName& name, std::size_t dim,
                         std::vector<float>* out);
// A short printable rendering of untrusted text for error details: at most 64 bytes, bytes outside
// printable ASCII as \xNN.
std::string Quote(std::string_view text);

MaybeError WrongType(const msgpack::object& o, const FieldName& name, const char* expected);

// A map of at most max_entries entries (`noun` names them in the error: "entries", "sources")
// whose keys are read by read_key(object, index, std::string*) and values by
// read_value(object, index, key, Value*), each returning MaybeError; a repeated key is
// kDuplicateKey. The one map reader behind ctx and src.
template <class Value, class ReadKey, class ReadValue>
MaybeError ReadMap(const msgpack::object& o, const FieldName& name, std::size_t max_entries,
                   std::string_view noun, ReadKey read_key, ReadValue read_value,
                   std::vector<std::pair<std::string, Value>>* out) {
  if (o.type != msgpack::type::MAP) {
    return WrongType(o, name, "map");
  }
  const std::uint32_t n = o.via.map.size;
  if (n > max_entries) {
    return Error(DecodeErrc::kTooManyEntries, name + ": " + std::to_string(n) + " " +
                                                  std::string(noun) + ", at most " +
                                                  std::to_string(max_entries));
  }
  std::vector<std::pair<std::string, Value>> entries(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    const msgpack::object_kv& kv = o.via.map.ptr[i];
    if (MaybeError e = read_key(kv.key, i, &entries[i].first)) {
      return e;
    }
    for (std::uint32_t j = 0; j < i; ++j) {
      if (entries[j].first == entries[i].first) {
        return Error(DecodeErrc::kDuplicateKey,
                     name + ": key '" + Quote(entries[i].first) + "' appears twice");
      }
    }
    if (MaybeError e = read_value(kv.val, i, entries[i].first, &entries[i].second)) {
      return e;
    }
  }
  *out = std::move(entries);
  return std::nullopt;
}

// A map of UTF-8 strings to UTF-8 strings, at most max_entries, keys non-empty.
MaybeError ReadStringMap(const msgpack::object& o, const FieldName& name, std::size_t max_entries,
                         std::size_t max_key_bytes, std::size_t max_value_bytes,
                         std::vector<std::pair<std::string, std::string>>* out);
// An array of non-empty UTF-8 strings, each at most kMaxIdBytes.
MaybeError ReadStringArray(const msgpack::object& o, const FieldName& name, std::size_t max_items,
                           std::vector<std::string>* out);
// `v`, when present, must be kWireVersion (kUnsupportedVersion otherwise).
MaybeError CheckVersion(const msgpack::object* v);

// The common start of every v1 decoder: parse `bytes` into `doc`, index the top-level map's
// `keys` (keys[0] must be "v") into `fields`, and check the schema version before anything else,
// since a message of another version may have another schema.
MaybeError ParseMessage(std::string_view bytes, std::span<const std::string_view> keys,
                        Document* doc, MapFields* fields);

}  // namespace recsd::stream::detail
