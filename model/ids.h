#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace recsd {

// A string identifier that cannot be mixed up with another kind of identifier. The wire codecs
// guarantee what reaches the model: non-empty, at most kMaxIdBytes bytes, valid UTF-8.
template <class Tag>
class StringId {
 public:
  StringId() = default;
  explicit StringId(std::string value) : value_(std::move(value)) {}
  explicit StringId(std::string_view value) : value_(value) {}
  explicit StringId(const char* value) : value_(value) {}

  const std::string& str() const noexcept { return value_; }
  bool empty() const noexcept { return value_.empty(); }

  friend bool operator==(const StringId&, const StringId&) = default;
  friend auto operator<=>(const StringId&, const StringId&) = default;

 private:
  std::string value_;
};

struct UserIdTag {};
struct ItemIdTag {};
using UserId = StringId<UserIdTag>;
using ItemId = StringId<ItemIdTag>;

// Heap bytes a std::string holds beyond its inline buffer (libstdc++ keeps 15 chars inline), for
// memory accounting.
inline std::size_t StringHeapBytes(const std::string& s) noexcept {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

// Longest user or item id accepted, in bytes of UTF-8.
inline constexpr std::size_t kMaxIdBytes = 256;

// Event time: milliseconds since the Unix epoch (UTC). Every model formula runs on event time.
struct TimestampMs {
  std::int64_t ms = 0;
  friend bool operator==(TimestampMs, TimestampMs) = default;
  friend auto operator<=>(TimestampMs, TimestampMs) = default;
};

// Accepted event and item times: 1970-01-01 up to 2100-01-01, both in ms. Anything else is a unit
// mistake (seconds read as ms land in 1970 and are still accepted; microseconds land past 2100 and
// are rejected) or garbage.
inline constexpr std::int64_t kMinTimestampMs = 0;
inline constexpr std::int64_t kMaxTimestampMs = 4'102'444'800'000;

}  // namespace recsd

template <class Tag>
struct std::hash<recsd::StringId<Tag>> {
  std::size_t operator()(const recsd::StringId<Tag>& id) const noexcept {
    return std::hash<std::string>{}(id.str());
  }
};
