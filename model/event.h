#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/ids.h"

namespace recsd {

// Index of an event type in an EventTypeTable. The built-in types have fixed ids so code can name
// them; types added by configuration come after them.
using EventTypeId = std::uint8_t;

namespace event_type {
inline constexpr EventTypeId kView = 0;
inline constexpr EventTypeId kClick = 1;
inline constexpr EventTypeId kAddToCart = 2;
inline constexpr EventTypeId kPurchase = 3;
inline constexpr EventTypeId kRating = 4;
inline constexpr EventTypeId kLike = 5;
inline constexpr EventTypeId kDislike = 6;
inline constexpr EventTypeId kImpression = 7;
inline constexpr EventTypeId kForget = 8;
inline constexpr EventTypeId kBuiltinCount = 9;
}  // namespace event_type

// One accepted event type: its wire name and its interest weight (dimensionless; a dislike is
// negative, an impression or forget contributes no interest).
struct EventTypeSpec {
  std::string name;
  double weight = 0.0;
};

// The set of event types recsd accepts, with their interest weights. Always contains the nine
// built-in types at their fixed ids (weights may be overridden); configuration can add more, up to
// kMaxTypes. Immutable after construction; safe to share between threads.
class EventTypeTable {
 public:
  static constexpr std::size_t kMaxTypes = 64;

  // The built-in types with their default weights.
  EventTypeTable();

  // The built-in types with `overrides` applied by name; names that are not built in are added as
  // new types in the given order. Returns false (and leaves the table unchanged) when a name is
  // empty, repeated, or the table would exceed kMaxTypes.
  bool Configure(std::span<const EventTypeSpec> overrides);

  std::optional<EventTypeId> Find(std::string_view name) const noexcept;
  const EventTypeSpec& Get(EventTypeId id) const;
  std::size_t size() const noexcept { return types_.size(); }
  std::span<const EventTypeSpec> types() const noexcept { return types_; }

 private:
  std::vector<EventTypeSpec> types_;
};

// A user interaction, decoded and validated (see stream/event_codec.h for the wire form).
struct Event {
  EventTypeId type = event_type::kView;
  UserId user;
  ItemId item;                       // empty only for kForget, which names no item
  TimestampMs ts;                    // event time
  std::optional<double> value;       // e.g. the rating of a kRating event; finite
  std::optional<std::string> rec;    // id of the recommendation list the user acted from
  std::optional<std::uint32_t> pos;  // 0-based position in that list
  std::vector<std::pair<std::string, std::string>> ctx;  // small context map, in wire order
  std::optional<std::string> id;                         // producer's event id, if any

  friend bool operator==(const Event&, const Event&) = default;
};

}  // namespace recsd
