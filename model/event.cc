#include "model/event.h"

#include <algorithm>

#include "model/check.h"

namespace recsd {

EventTypeTable::EventTypeTable()
    : types_{
          // Interest weights: how strongly an interaction says "more like this". Purchases and
          // likes say more than a view; a dislike pushes away; impressions and forget carry none.
          {"view", 1.0},     {"click", 2.0},      {"add_to_cart", 3.0},
          {"purchase", 5.0}, {"rating", 1.0},     {"like", 3.0},
          {"dislike", -3.0}, {"impression", 0.0}, {"forget", 0.0},
      } {
  RECSD_CHECK(types_.size() == event_type::kBuiltinCount, "built-in event type list");
}

bool EventTypeTable::Configure(std::span<const EventTypeSpec> overrides) {
  std::vector<EventTypeSpec> next = types_;
  std::vector<std::string_view> seen;
  for (const EventTypeSpec& spec : overrides) {
    if (spec.name.empty() || std::find(seen.begin(), seen.end(), spec.name) != seen.end()) {
      return false;
    }
    seen.push_back(spec.name);
    auto it = std::find_if(next.begin(), next.end(),
                           [&](const EventTypeSpec& t) { return t.name == spec.name; });
    if (it != next.end()) {
      it->weight = spec.weight;
    } else {
      next.push_back(spec);
    }
  }
  if (next.size() > kMaxTypes) {
    return false;
  }
  types_ = std::move(next);
  return true;
}

std::optional<EventTypeId> EventTypeTable::Find(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < types_.size(); ++i) {
    if (types_[i].name == name) {
      return static_cast<EventTypeId>(i);
    }
  }
  return std::nullopt;
}

const EventTypeSpec& EventTypeTable::Get(EventTypeId id) const {
  RECSD_CHECK(id < types_.size(), "event type id from another table");
  return types_[id];
}

}  // namespace recsd
