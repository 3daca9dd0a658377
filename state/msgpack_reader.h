#pragma once

// Reading msgpack maps field by field, shared by the state codecs (user state records, snapshot
// headers): a missing or mistyped field becomes the first error, named by its key.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <msgpack.hpp>

namespace recsd::state {

// A map's fields by key; the first problem found is kept in `error` ("'key' is missing").
struct Reader {
  const msgpack::object& map;
  std::string error;

  const msgpack::object* Find(std::string_view key) {
    for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
      const msgpack::object_kv& kv = map.via.map.ptr[i];
      if (kv.key.type == msgpack::type::STR &&
          std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key) {
        return &kv.val;
      }
    }
    return nullptr;
  }
  const msgpack::object* Need(std::string_view key, msgpack::type::object_type type) {
    const msgpack::object* o = Find(key);
    if (o == nullptr) {
      Fail(Quoted(key, "is missing"));
      return nullptr;
    }
    if (o->type != type && !(type == msgpack::type::FLOAT64 && o->type == msgpack::type::FLOAT32) &&
        !(type == msgpack::type::NEGATIVE_INTEGER && o->type == msgpack::type::POSITIVE_INTEGER)) {
      Fail(Quoted(key, "has the wrong type"));
      return nullptr;
    }
    return o;
  }
  static std::string Quoted(std::string_view key, std::string_view what) {
    // Appended: GCC 12 at -O3 reports a false -Wrestrict on `"literal" + std::string`.
    std::string out = "'";
    out.append(key).append("' ").append(what);
    return out;
  }
  void Fail(std::string why) {
    if (error.empty()) error = std::move(why);
  }
};

inline std::optional<std::string> Str(const msgpack::object& o) {
  if (o.type != msgpack::type::STR) return std::nullopt;
  return std::string(o.via.str.ptr, o.via.str.size);
}
inline std::optional<double> Num(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return o.via.f64;
    case msgpack::type::POSITIVE_INTEGER:
      return static_cast<double>(o.via.u64);
    case msgpack::type::NEGATIVE_INTEGER:
      return static_cast<double>(o.via.i64);
    default:
      return std::nullopt;
  }
}
inline std::optional<std::int64_t> Int(const msgpack::object& o) {
  if (o.type == msgpack::type::POSITIVE_INTEGER && o.via.u64 <= INT64_MAX) {
    return static_cast<std::int64_t>(o.via.u64);
  }
  if (o.type == msgpack::type::NEGATIVE_INTEGER) return o.via.i64;
  return std::nullopt;
}

// Why bytes are not a record of the expected version (UnpackRecord).
struct RecordProblem {
  std::string message;       // starts with the record's name: "user state: not a map"
  bool unsupported = false;  // a well-formed record of another version
};

// Unpacks a versioned record: one msgpack map that fills `bytes` (under `limits`) and whose "v" is
// `version`, or at least `oldest` (a build that still reads older records). Nothing when it is one
// (the map is in *out); else the problem, its message prefixed with `what`: "not msgpack: ...",
// "bytes after the record", "not a map", "'v' is missing", or "version N is not supported (this
// build reads M)" (unsupported).
inline std::optional<RecordProblem> UnpackRecord(std::string_view bytes,
                                                 const msgpack::unpack_limit& limits,
                                                 std::string_view what, std::uint64_t version,
                                                 msgpack::object_handle* out,
                                                 std::uint64_t oldest = 0) {
  if (oldest == 0) oldest = version;
  // Appended: GCC 12 at -O3 reports a false -Wrestrict on `"literal" + std::string`.
  const auto problem = [&](std::string_view why, bool unsupported = false) {
    std::string message(what);
    message.append(": ").append(why);
    return RecordProblem{std::move(message), unsupported};
  };
  try {
    std::size_t offset = 0;
    *out = msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr, limits);
    if (offset != bytes.size()) return problem("bytes after the record");
  } catch (const std::exception& e) {
    return problem(std::string("not msgpack: ").append(e.what()));
  }
  if (out->get().type != msgpack::type::MAP) return problem("not a map");
  Reader r{out->get(), {}};
  const msgpack::object* v = r.Need("v", msgpack::type::POSITIVE_INTEGER);
  if (v == nullptr) return problem(r.error);
  if (v->via.u64 > version || v->via.u64 < oldest) {
    std::string why = "version ";
    why.append(std::to_string(v->via.u64)).append(" is not supported (this build reads ");
    if (oldest < version) why.append(std::to_string(oldest)).append(" to ");
    why.append(std::to_string(version)).append(")");
    return problem(why, /*unsupported=*/true);
  }
  return std::nullopt;
}

// A bin of little-endian float32 values into `out`; false when it is not one.
inline bool Floats(const msgpack::object& o, std::vector<float>* out) {
  static_assert(std::endian::native == std::endian::little,
                "float arrays are stored little-endian");
  if (o.type != msgpack::type::BIN || o.via.bin.size % sizeof(float) != 0) return false;
  out->resize(o.via.bin.size / sizeof(float));
  if (o.via.bin.size > 0) std::memcpy(out->data(), o.via.bin.ptr, o.via.bin.size);
  return true;
}

// A [string, number] pair (a category and its affinity, an item and its time or popularity).
inline std::optional<std::pair<std::string, double>> NameAndNumber(const msgpack::object& o) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size != 2) return std::nullopt;
  auto name = Str(o.via.array.ptr[0]);
  const auto number = Num(o.via.array.ptr[1]);
  if (!name || !number) return std::nullopt;
  return std::pair{std::move(*name), *number};
}

}  // namespace recsd::state
