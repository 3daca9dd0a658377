#include "stream/wire_reader.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <new>

#include <nlohmann/json.hpp>

#include "model/check.h"
#include "model/ids.h"
#include "stream/utf8.h"

namespace recsd::stream::detail {
namespace {

const char* TypeName(msgpack::type::object_type t) {
  switch (t) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return "bool";
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER:
      return "integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return "float";
    case msgpack::type::STR:
      return "string";
    case msgpack::type::BIN:
      return "bin";
    case msgpack::type::ARRAY:
      return "array";
    case msgpack::type::MAP:
      return "map";
    case msgpack::type::EXT:
      return "ext";
  }
  return "unknown";
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Accept references into the input instead of copying strings and bins: the Document is always
// consumed before the caller's bytes go away.
bool ReferenceAll(msgpack::type::object_type, std::size_t, void*) { return true; }

const msgpack::unpack_limit& Limits() {
  // msgpack-cxx's depth limit counts containers the way kMaxDepth does (the top level is 1).
  static const msgpack::unpack_limit limits(kMaxArrayItems, kMaxMapEntries, kMaxStringBytes,
                                            kMaxBinBytes, /*ext=*/0, kMaxDepth);
  return limits;
}

// Checks a JSON text before the JSON parser sees it: valid UTF-8, one top-level value that closes,
// nesting within kMaxDepth, nothing but whitespace after it. Returns the length of the value.
MaybeError ScanJson(std::string_view text, std::size_t* value_end) {
  if (!IsValidUtf8(text)) {
    return Error(DecodeErrc::kInvalidUtf8, "JSON text is not valid UTF-8");
  }
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) {
        return Error(DecodeErrc::kTooDeep, "JSON nesting deeper than " + std::to_string(kMaxDepth));
      }
    } else if (c == '}' || c == ']') {
      if (depth == 0) {
        return Error(DecodeErrc::kMalformed, "unbalanced '" + std::string(1, c) + "'");
      }
      if (--depth == 0) {
        for (std::size_t k = i + 1; k < text.size(); ++k) {
          if (!IsJsonSpace(text[k])) {
            return Error(DecodeErrc::kTrailingBytes,
                         std::to_string(text.size() - k) + " bytes after the JSON value");
          }
        }
        *value_end = i + 1;
        return std::nullopt;
      }
    }
  }
  return Error(DecodeErrc::kTruncated, "JSON value is not closed");
}

}  // namespace

MaybeError WrongType(const msgpack::object& o, const FieldName& name, const char* expected) {
  return Error(DecodeErrc::kWrongType,
               name + ": expected " + expected + ", got " + TypeName(o.type));
}

MaybeError Error(DecodeErrc code, std::string detail) {
  return DecodeError{code, std::move(detail)};
}

MaybeError Document::Parse(std::string_view bytes) {
  if (bytes.size() > kMaxPayloadBytes) {
    return Error(DecodeErrc::kTooLarge, "payload of " + std::to_string(bytes.size()) +
                                            " bytes is over " + std::to_string(kMaxPayloadBytes));
  }
  std::size_t first = 0;
  while (first < bytes.size() && IsJsonSpace(bytes[first])) {
    ++first;
  }
  // '{' starts a JSON object. '[' is taken as JSON too: as msgpack it would be the integer 91,
  // never a message, and "expected map, got array" is the better answer for it.
  if (first < bytes.size() && (bytes[first] == '{' || bytes[first] == '[')) {
    return ParseJson(bytes);
  }
  return ParseMsgpack(bytes);
}

MaybeError Document::ParseMsgpack(std::string_view bytes) {
  if (bytes.empty()) {
    return Error(DecodeErrc::kTruncated, "empty payload");
  }
  std::size_t offset = 0;
  zone_.clear();
  root_ = msgpack::object();
  try {
    root_ = msgpack::unpack(zone_, bytes.data(), bytes.size(), offset, &ReferenceAll, nullptr,
                            Limits());
  } catch (const msgpack::depth_size_overflow&) {
    return Error(DecodeErrc::kTooDeep, "nesting deeper than " + std::to_string(kMaxDepth));
  } catch (const msgpack::size_overflow& e) {
    return Error(DecodeErrc::kTooLarge, std::string("container or string over limit: ") + e.what());
  } catch (const msgpack::insufficient_bytes&) {
    return Error(DecodeErrc::kTruncated, "input ends inside a value");
  } catch (const std::bad_alloc&) {
    return Error(DecodeErrc::kTooLarge, "container header asks for more memory than allowed");
  } catch (const std::exception& e) {
    return Error(DecodeErrc::kMalformed, std::string("not msgpack: ") + e.what());
  }
  if (offset != bytes.size()) {
    return Error(DecodeErrc::kTrailingBytes,
                 std::to_string(bytes.size() - offset) + " bytes after the msgpack value");
  }
  return std::nullopt;
}

MaybeError Document::ParseJson(std::string_view text) {
  std::size_t end = 0;
  if (MaybeError e = ScanJson(text, &end)) {
    return e;
  }
  // JSON objects with a repeated key would silently keep the last value; refuse them instead.
  std::vector<std::vector<std::string>> keys_by_depth;
  std::string duplicate;
  // ordered_json keeps keys in document order, as msgpack does (ctx and src order is data).
  using Json = nlohmann::ordered_json;
  auto on_event = [&](int depth, Json::parse_event_t event, Json& parsed) {
    using E = Json::parse_event_t;
    if (event == E::object_start) {
      keys_by_depth.emplace_back();
    } else if (event == E::object_end && !keys_by_depth.empty()) {
      keys_by_depth.pop_back();
    } else if (event == E::key && !keys_by_depth.empty() && duplicate.empty()) {
      std::vector<std::string>& keys = keys_by_depth.back();
      const std::string& key = parsed.get_ref<const std::string&>();
      for (const std::string& k : keys) {
        if (k == key) {
          duplicate = key;
        }
      }
      keys.push_back(key);
    }
    (void)depth;
    return true;
  };
  try {
    Json doc = Json::parse(text.begin(), text.begin() + end, on_event);
    if (!duplicate.empty()) {
      return Error(DecodeErrc::kDuplicateKey, "key '" + Quote(duplicate) + "' appears twice");
    }
    Json::to_msgpack(doc, nlohmann::detail::output_adapter<char>(converted_));
  } catch (const Json::out_of_range& e) {
    // 406: a number beyond the range of double, such as 1e999.
    return Error(e.id == 406 ? DecodeErrc::kNonFinite : DecodeErrc::kMalformed,
                 std::string("JSON: ") + e.what());
  } catch (const Json::exception& e) {
    return Error(DecodeErrc::kMalformed, std::string("not JSON: ") + e.what());
  } catch (const std::exception& e) {
    return Error(DecodeErrc::kMalformed, std::string("not JSON: ") + e.what());
  }
  return ParseMsgpack(std::string_view(converted_.data(), converted_.size()));
}

std::string FieldName::str() const {
  std::string out = "key '";
  if (!where_.empty()) {
    out += where_;
    out += '.';
  }
  out += key_;
  out += '\'';
  if (index_ != kNoIndex) {
    out += "[" + std::to_string(index_) + "]";
  }
  if (!word_.empty()) {
    out += ' ';
    out += word_;
  }
  return out;
}

MaybeError MapFields::Index(const msgpack::object& map, std::span<const std::string_view> keys,
                            std::string_view where) {
  RECSD_CHECK(keys.size() <= kMaxKeys, "MapFields holds at most kMaxKeys keys");
  keys_ = keys;
  where_ = std::string(where);
  values_.fill(nullptr);
  if (map.type != msgpack::type::MAP) {
    return Error(where.empty() ? DecodeErrc::kNotAMap : DecodeErrc::kWrongType,
                 (where.empty() ? std::string("message") : "key '" + where_ + "'") +
                     ": expected map, got " + TypeName(map.type));
  }
  const msgpack::object_kv* kv = map.via.map.ptr;
  const std::uint32_t n = map.via.map.size;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (kv[i].key.type != msgpack::type::STR) {
      continue;  // not a key of any schema: ignored like any unknown key
    }
    const std::string_view key(kv[i].key.via.str.ptr, kv[i].key.via.str.size);
    for (std::uint32_t j = 0; j < i; ++j) {
      if (kv[j].key.type == msgpack::type::STR &&
          std::string_view(kv[j].key.via.str.ptr, kv[j].key.via.str.size) == key) {
        return Error(DecodeErrc::kDuplicateKey, "key '" + Quote(key) + "' appears twice");
      }
    }
    for (std::size_t k = 0; k < keys.size(); ++k) {
      if (keys[k] == key) {
        values_[k] = kv[i].val.type == msgpack::type::NIL ? nullptr : &kv[i].val;
        break;
      }
    }
  }
  return std::nullopt;
}

MaybeError MapFields::Require(std::size_t i, const msgpack::object** out) const {
  if (values_[i] == nullptr) {
    return Error(DecodeErrc::kMissingKey, Name(i) + " is required");
  }
  *out = values_[i];
  return std::nullopt;
}

MaybeError ReadInt(const msgpack::object& o, const FieldName& name, std::int64_t min,
                   std::int64_t max, std::int64_t* out) {
  std::int64_t v = 0;
  if (o.type == msgpack::type::POSITIVE_INTEGER) {
    if (o.via.u64 > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return Error(DecodeErrc::kOutOfRange,
                   name + ": " + std::to_string(o.via.u64) + " is above " + std::to_string(max));
    }
    v = static_cast<std::int64_t>(o.via.u64);
  } else if (o.type == msgpack::type::NEGATIVE_INTEGER) {
    v = o.via.i64;
  } else {
    return WrongType(o, name, "integer");
  }
  if (v < min || v > max) {
    return Error(DecodeErrc::kOutOfRange, name + ": " + std::to_string(v) + " is outside [" +
                                              std::to_string(min) + ", " + std::to_string(max) +
                                              "]");
  }
  *out = v;
  return std::nullopt;
}

MaybeError ReadUint64(const msgpack::object& o, const FieldName& name, std::uint64_t* out) {
  if (o.type == msgpack::type::POSITIVE_INTEGER) {
    *out = o.via.u64;
    return std::nullopt;
  }
  if (o.type == msgpack::type::NEGATIVE_INTEGER) {
    return Error(DecodeErrc::kOutOfRange, name + ": " + std::to_string(o.via.i64) + " is negative");
  }
  return WrongType(o, name, "integer");
}

MaybeError ReadTimestamp(const msgpack::object& o, const FieldName& name, std::int64_t* out) {
  return ReadInt(o, name, kMinTimestampMs, kMaxTimestampMs, out);
}

MaybeError ReadDouble(const msgpack::object& o, const FieldName& name, double* out) {
  double v = 0;
  switch (o.type) {
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      v = o.via.f64;
      break;
    case msgpack::type::POSITIVE_INTEGER:
      v = static_cast<double>(o.via.u64);
      break;
    case msgpack::type::NEGATIVE_INTEGER:
      v = static_cast<double>(o.via.i64);
      break;
    default:
      return WrongType(o, name, "number");
  }
  if (!std::isfinite(v)) {
    return Error(DecodeErrc::kNonFinite, name + " is NaN or infinite");
  }
  *out = v;
  return std::nullopt;
}

MaybeError ReadFloat(const msgpack::object& o, const FieldName& name, float* out) {
  double v = 0;
  if (MaybeError e = ReadDouble(o, name, &v)) {
    return e;
  }
  if (std::fabs(v) > std::numeric_limits<float>::max()) {
    return Error(DecodeErrc::kNonFinite, name + " overflows float32");
  }
  *out = static_cast<float>(v);
  return std::nullopt;
}

MaybeError ReadBool(const msgpack::object& o, const FieldName& name, bool* out) {
  if (o.type != msgpack::type::BOOLEAN) {
    return WrongType(o, name, "bool");
  }
  *out = o.via.boolean;
  return std::nullopt;
}

MaybeError ReadText(const msgpack::object& o, const FieldName& name, std::size_t max_bytes,
                    std::string* out) {
  if (o.type != msgpack::type::STR) {
    return WrongType(o, name, "string");
  }
  const std::string_view s(o.via.str.ptr, o.via.str.size);
  if (s.size() > max_bytes) {
    return Error(DecodeErrc::kTooLarge, name + ": " + std::to_string(s.size()) +
                                            " bytes, at most " + std::to_string(max_bytes));
  }
  if (!IsValidUtf8(s)) {
    return Error(DecodeErrc::kInvalidUtf8, name + " is not valid UTF-8: " + Quote(s));
  }
  out->assign(s);
  return std::nullopt;
}

MaybeError ReadId(const msgpack::object& o, const FieldName& name, std::string* out) {
  if (o.type != msgpack::type::STR) {
    return WrongType(o, name, "string");
  }
  const std::size_t size = o.via.str.size;
  if (size == 0 || size > kMaxIdBytes) {
    return Error(DecodeErrc::kBadId, name + ": id of " + std::to_string(size) +
                                         " bytes, must be 1 to " + std::to_string(kMaxIdBytes));
  }
  return ReadText(o, name, kMaxIdBytes, out);
}

MaybeError ReadEmbedding(const msgpack::object& o, const FieldName& name, std::size_t dim,
                         std::vector<float>* out) {
  std::vector<float> values;
  if (o.type == msgpack::type::BIN) {
    if (o.via.bin.size != dim * sizeof(float)) {
      return Error(DecodeErrc::kBadEmbedding,
                   name + ": " + std::to_string(o.via.bin.size) + " bytes, expected " +
                       std::to_string(dim * sizeof(float)) + " (dimension " + std::to_string(dim) +
                       " as float32)");
    }
    values.resize(dim);
    std::memcpy(values.data(), o.via.bin.ptr, dim * sizeof(float));
    if constexpr (std::endian::native == std::endian::big) {
      for (float& f : values) {
        f = std::bit_cast<float>(__builtin_bswap32(std::bit_cast<std::uint32_t>(f)));
      }
    }
    for (float f : values) {
      if (!std::isfinite(f)) {
        return Error(DecodeErrc::kNonFinite, name + " holds NaN or infinity");
      }
    }
  } else if (o.type == msgpack::type::ARRAY) {
    if (o.via.array.size != dim) {
      return Error(DecodeErrc::kBadEmbedding, name + ": " + std::to_string(o.via.array.size) +
                                                  " values, expected " + std::to_string(dim));
    }
    values.resize(dim);
    for (std::size_t i = 0; i < dim; ++i) {
      if (MaybeError e = ReadFloat(o.via.array.ptr[i], name.At(i), &values[i])) {
        return e;
      }
    }
  } else {
    return WrongType(o, name, "bin or array");
  }
  *out = std::move(values);
  return std::nullopt;
}

MaybeError ReadStringMap(const msgpack::object& o, const FieldName& name, std::size_t max_entries,
                         std::size_t max_key_bytes, std::size_t max_value_bytes,
                         std::vector<std::pair<std::string, std::string>>* out) {
  const auto read_key = [&](const msgpack::object& k, std::size_t i, std::string* key) {
    if (MaybeError e = ReadText(k, name.At(i).Then("key"), max_key_bytes, key)) {
      return e;
    }
    return key->empty() ? Error(DecodeErrc::kBadId, name.At(i) + " has an empty key")
                        : std::nullopt;
  };
  const auto read_value = [&](const msgpack::object& v, std::size_t i, const std::string&,
                              std::string* value) {
    return ReadText(v, name.At(i).Then("value"), max_value_bytes, value);
  };
  return ReadMap(o, name, max_entries, "entries", read_key, read_value, out);
}

MaybeError ReadStringArray(const msgpack::object& o, const FieldName& name, std::size_t max_items,
                           std::vector<std::string>* out) {
  if (o.type != msgpack::type::ARRAY) {
    return WrongType(o, name, "array");
  }
  const std::uint32_t n = o.via.array.size;
  if (n > max_items) {
    return Error(DecodeErrc::kTooManyEntries,
                 name + ": " + std::to_string(n) + " items, at most " + std::to_string(max_items));
  }
  std::vector<std::string> items(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    if (MaybeError e = ReadId(o.via.array.ptr[i], name.At(i), &items[i])) {
      return e;
    }
  }
  *out = std::move(items);
  return std::nullopt;
}

MaybeError CheckVersion(const msgpack::object* v) {
  if (v == nullptr) {
    return std::nullopt;  // absent means version 1
  }
  if (v->type != msgpack::type::POSITIVE_INTEGER && v->type != msgpack::type::NEGATIVE_INTEGER) {
    return WrongType(*v, FieldName("", "v"), "integer");
  }
  const bool negative = v->type == msgpack::type::NEGATIVE_INTEGER;
  if (negative || v->via.u64 != static_cast<std::uint64_t>(kWireVersion)) {
    const std::int64_t version = negative ? v->via.i64 : static_cast<std::int64_t>(v->via.u64);
    return Error(DecodeErrc::kUnsupportedVersion, "schema version " + std::to_string(version) +
                                                      " is not supported (this build reads v" +
                                                      std::to_string(kWireVersion) + ")");
  }
  return std::nullopt;
}

MaybeError ParseMessage(std::string_view bytes, std::span<const std::string_view> keys,
                        Document* doc, MapFields* fields) {
  RECSD_CHECK(!keys.empty() && keys[0] == "v", "the version key comes first");
  if (MaybeError e = doc->Parse(bytes)) {
    return e;
  }
  if (MaybeError e = fields->Index(doc->root(), keys, "")) {
    return e;
  }
  return CheckVersion(fields->Get(0));
}

std::string Quote(std::string_view text) {
  static constexpr std::size_t kMax = 64;
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  if (text.size() > kMax) {
    out += "...";
  }
  return out;
}

}  // namespace recsd::stream::detail
