#include "state/user_state_codec.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>

#include <msgpack.hpp>

#include "model/fusion.h"
#include "model/text_embedder.h"
#include "state/msgpack_reader.h"
#include "state/msgpack_writer.h"

namespace recsd::state {
namespace {

void WriteCore(MsgpackWriter& w, const UserId& user, const model::UserStateParts& s,
               const model::Catalog& catalog) {
  w.Key("v").Int(kStateVersion);
  w.Key("user").Str(user.str());
  w.Key("clock").Double(s.clock);
  w.Key("started").Bool(s.started);
  w.Key("masses").Array(s.masses.size());
  for (double m : s.masses) w.Double(m);
  w.Key("vectors").Bin(Bytes(s.vectors));
  std::size_t named = 0;
  for (const model::CategoryAffinity& c : s.categories) {
    if (c.category >= 0 && static_cast<std::size_t>(c.category) < catalog.category_count()) ++named;
  }
  w.Key("cats").Array(named);
  for (const model::CategoryAffinity& c : s.categories) {
    if (c.category < 0 || static_cast<std::size_t>(c.category) >= catalog.category_count())
      continue;
    w.Array(2).Str(catalog.CategoryName(c.category)).Double(c.value);
  }
  w.Key("recent").Array(s.recent.size());
  for (const model::RecentItem& r : s.recent) {
    w.Array(3).Str(r.item.str()).Double(r.t).Double(r.weight);
  }
  w.Key("seen").Bin(Bytes(s.seen));
  w.Key("events").Uint(s.event_count);
}

constexpr std::size_t kCoreFields = 10;

// ---- decoding ----

// Messages are built by appending: GCC 12 at -O3 reports a false -Wrestrict on
// `"literal" + std::string` (and the release build treats warnings as errors).
std::string Prefixed(std::string_view why) {
  std::string out = "user state: ";
  out.append(why);
  return out;
}

Unexpected<StateError> Invalid(std::string message) {
  return Fail(StateError{std::move(message), /*unsupported_version=*/false});
}

std::optional<model::PendingList> PendingOf(const msgpack::object& o) {
  if (o.type != msgpack::type::MAP) return std::nullopt;
  Reader r{o, {}};
  model::PendingList p;
  const auto* rec = r.Need("rec", msgpack::type::STR);
  const auto* shown = r.Need("shown", msgpack::type::NEGATIVE_INTEGER);
  const auto* version = r.Need("model", msgpack::type::POSITIVE_INTEGER);
  const auto* variant = r.Need("variant", msgpack::type::STR);
  const auto* segment = r.Need("segment", msgpack::type::STR);
  const auto* items = r.Need("items", msgpack::type::ARRAY);
  const auto* fdim = r.Need("fdim", msgpack::type::POSITIVE_INTEGER);
  const auto* features = r.Need("features", msgpack::type::BIN);
  const auto* clicked = r.Need("clicked", msgpack::type::ARRAY);
  const auto* max_shown = r.Need("max_shown", msgpack::type::NEGATIVE_INTEGER);
  const auto* weights = r.Need("weights", msgpack::type::BIN);
  const auto* event_ts = r.Need("event_ts", msgpack::type::NEGATIVE_INTEGER);
  if (!r.error.empty()) return std::nullopt;
  const auto shown_ms = Int(*shown);
  if (!shown_ms) return std::nullopt;
  p.rec = *Str(*rec);
  p.shown_at = {*shown_ms};
  p.model = version->via.u64;
  p.variant = *Str(*variant);
  p.segment = *Str(*segment);
  for (std::uint32_t i = 0; i < items->via.array.size; ++i) {
    const auto item = Str(items->via.array.ptr[i]);
    if (!item || item->empty() || item->size() > kMaxIdBytes) return std::nullopt;
    p.items.emplace_back(*item);
  }
  if (fdim->via.u64 > model::kMaxSources) return std::nullopt;
  p.feature_dim = static_cast<std::size_t>(fdim->via.u64);
  if (!Floats(*features, &p.features) || p.features.size() != p.items.size() * p.feature_dim) {
    return std::nullopt;
  }
  for (std::uint32_t i = 0; i < clicked->via.array.size; ++i) {
    const auto pos = Int(clicked->via.array.ptr[i]);
    if (!pos || *pos < 0 || static_cast<std::size_t>(*pos) >= p.items.size()) return std::nullopt;
    p.clicked.push_back(static_cast<std::uint32_t>(*pos));
  }
  const auto shown_max = Int(*max_shown);
  if (!shown_max || *shown_max < -1 || *shown_max > INT32_MAX) return std::nullopt;
  p.max_shown = static_cast<std::int32_t>(*shown_max);
  std::vector<float> w;
  if (!Floats(*weights, &w) || w.size() != std::min(p.feature_dim, p.weights.size())) {
    return std::nullopt;
  }
  std::copy(w.begin(), w.end(), p.weights.begin());
  const auto event_ms = Int(*event_ts);
  if (!event_ms) return std::nullopt;
  p.event_ts = {*event_ms};
  return p;
}

}  // namespace

std::string EncodeUserState(const UserId& user, const model::UserStateParts& s,
                            const model::Catalog& catalog) {
  std::string out;
  MsgpackWriter w(&out);
  w.Map(kCoreFields + 2);
  WriteCore(w, user, s, catalog);
  w.Key("last_offset").Int(s.last_offset);
  w.Key("pending").Array(s.pending.size());
  for (const model::PendingList& p : s.pending) {
    w.Map(12);
    w.Key("rec").Str(p.rec);
    w.Key("shown").Int(p.shown_at.ms);
    w.Key("model").Uint(p.model);
    w.Key("variant").Str(p.variant);
    w.Key("segment").Str(p.segment);
    w.Key("items").Array(p.items.size());
    for (const ItemId& item : p.items) w.Str(item.str());
    w.Key("fdim").Uint(p.feature_dim);
    w.Key("features").Bin(Bytes(p.features));
    w.Key("clicked").Array(p.clicked.size());
    for (std::uint32_t c : p.clicked) w.Uint(c);
    w.Key("max_shown").Int(p.max_shown);
    w.Key("weights").Bin({reinterpret_cast<const char*>(p.weights.data()),
                          std::min(p.feature_dim, p.weights.size()) * sizeof(float)});
    w.Key("event_ts").Int(p.event_ts.ms);
  }
  return out;
}

Result<DecodedUserState, StateError> DecodeUserState(std::string_view bytes,
                                                     const model::Catalog& catalog) {
  static const msgpack::unpack_limit limits(1 << 20, 1024, 1 << 20, 1 << 24, 1024, 16);
  msgpack::object_handle handle;
  if (auto problem =
          UnpackRecord(bytes, limits, "user state", kStateVersion, &handle, kOldestStateVersion)) {
    return Fail(StateError{std::move(problem->message), problem->unsupported});
  }
  const bool v1 = Reader{handle.get(), {}}.Find("v")->via.u64 == 1;
  Reader r{handle.get(), {}};
  const auto* user = r.Need("user", msgpack::type::STR);
  const auto* clock = r.Need("clock", msgpack::type::FLOAT64);
  const auto* started = r.Need("started", msgpack::type::BOOLEAN);
  const auto* masses = r.Need("masses", msgpack::type::ARRAY);
  const auto* vectors = r.Need("vectors", msgpack::type::BIN);
  const auto* cats = r.Need("cats", msgpack::type::ARRAY);
  const auto* recent = r.Need("recent", msgpack::type::ARRAY);
  const auto* pending = r.Need("pending", msgpack::type::ARRAY);
  const auto* last_offset = r.Need("last_offset", msgpack::type::NEGATIVE_INTEGER);
  const auto* events = r.Need("events", msgpack::type::POSITIVE_INTEGER);
  const auto* seen = v1 ? nullptr : r.Need("seen", msgpack::type::BIN);
  if (!r.error.empty()) return Invalid(Prefixed(r.error));
  DecodedUserState out;
  const std::string id = *Str(*user);
  if (id.empty() || id.size() > kMaxIdBytes) return Invalid("user state: bad user id");
  out.user = UserId(id);
  model::UserStateParts& s = out.state;
  s.clock = *Num(*clock);
  s.started = started->via.boolean;
  for (std::uint32_t i = 0; i < masses->via.array.size; ++i) {
    const auto m = Num(masses->via.array.ptr[i]);
    if (!m) return Invalid("user state: 'masses' holds a non-number");
    s.masses.push_back(*m);
  }
  if (!Floats(*vectors, &s.vectors)) return Invalid("user state: bad 'vectors'");
  for (std::uint32_t i = 0; i < cats->via.array.size; ++i) {
    const auto entry = NameAndNumber(cats->via.array.ptr[i]);
    if (!entry) return Invalid("user state: bad 'cats' entry");
    if (const auto category = catalog.FindCategory(entry->first)) {
      s.categories.push_back({*category, entry->second});
    }
  }
  for (std::uint32_t i = 0; i < recent->via.array.size; ++i) {
    const msgpack::object& e = recent->via.array.ptr[i];
    const std::uint32_t fields = v1 ? 2 : 3;
    if (e.type != msgpack::type::ARRAY || e.via.array.size != fields) {
      return Invalid("user state: bad 'recent' entry");
    }
    auto item = Str(e.via.array.ptr[0]);
    const auto t = Num(e.via.array.ptr[1]);
    const auto weight = v1 ? std::optional<double>(1.0) : Num(e.via.array.ptr[2]);
    if (!item || !t || !weight || item->empty() || item->size() > kMaxIdBytes ||
        !std::isfinite(*weight)) {
      return Invalid("user state: bad 'recent' entry");
    }
    s.recent.push_back({ItemId(std::move(*item)), *t, *weight});
  }
  if (seen != nullptr) {
    if (seen->via.bin.size % sizeof(std::uint32_t) != 0) return Invalid("user state: bad 'seen'");
    s.seen.resize(seen->via.bin.size / sizeof(std::uint32_t));
    if (!s.seen.empty()) std::memcpy(s.seen.data(), seen->via.bin.ptr, seen->via.bin.size);
    for (std::size_t i = 1; i < s.seen.size(); ++i) {
      if (!(s.seen[i - 1] < s.seen[i])) return Invalid("user state: 'seen' is not ascending");
    }
  } else {  // version 1: the recent items are all that is known to be seen
    for (const model::RecentItem& item : s.recent) {
      s.seen.push_back(model::SeenItems::Fingerprint(item.item));
    }
    std::sort(s.seen.begin(), s.seen.end());
    s.seen.erase(std::unique(s.seen.begin(), s.seen.end()), s.seen.end());
  }
  for (std::uint32_t i = 0; i < pending->via.array.size; ++i) {
    auto p = PendingOf(pending->via.array.ptr[i]);
    if (!p) return Invalid("user state: bad 'pending' list");
    s.pending.push_back(std::move(*p));
  }
  const auto offset = Int(*last_offset);
  if (!offset || *offset < -1) return Invalid("user state: bad 'last_offset'");
  s.last_offset = *offset;
  s.event_count = events->via.u64;
  return out;
}

std::string StateDigest(const UserId& user, const model::UserStateParts& state,
                        const model::Catalog& catalog) {
  std::string canonical;
  MsgpackWriter w(&canonical);
  w.Map(kCoreFields);
  WriteCore(w, user, state, catalog);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx",
                static_cast<unsigned long long>(model::Fnv1a64(canonical)));
  return hex;
}

}  // namespace recsd::state
