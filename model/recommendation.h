#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/ids.h"

namespace recsd {

// One recommended item with its fused score and each candidate source's contribution to that
// score (source name, weight × normalised source score): the item's explanation.
struct RecommendedItem {
  ItemId item;
  float score = 0.0F;
  std::vector<std::pair<std::string, float>> src;

  friend bool operator==(const RecommendedItem&, const RecommendedItem&) = default;
};

// A refreshed recommendation list for one user, as published on the recommendations topic.
struct RecommendationList {
  UserId user;
  std::string rec;          // deterministic list id (input partition and offset of the trigger)
  TimestampMs ts;           // when the list was computed (event time of the engine)
  TimestampMs event_ts;     // event time of the event that triggered the refresh
  std::uint64_t model = 0;  // version of the fusion weights that ranked it
  std::string variant;      // which weights served it, e.g. "learned" or "holdout"
  std::vector<RecommendedItem> items;

  friend bool operator==(const RecommendationList&, const RecommendationList&) = default;
};

// Most items a list may carry (on the wire and in the model).
inline constexpr std::size_t kMaxListItems = 1000;

}  // namespace recsd
