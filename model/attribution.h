#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/ids.h"
#include "model/learner.h"
#include "model/user_state.h"

namespace recsd::model {

// How feedback on published lists becomes learning examples (ARCHITECTURE.md, "Online weight
// learning").
struct AttributionOptions {
  std::int64_t window_ms = 30 * 60 * 1000;  // a list takes clicks this long after it was shown
  std::size_t examine_k = 5;  // positions taken as examined when nothing in a list was clicked
  // Inverse-propensity weight of a click at 0-based position p: (p + 1)^propensity_power, at most
  // max_propensity_weight (the chance that a user examines position p is taken to fall as
  // 1/(p + 1)^power). 0 turns weighting off.
  double propensity_power = 0.0;
  double max_propensity_weight = 10.0;
};

// Where a click was attributed: the list and the position in it.
struct Attribution {
  std::string rec;
  std::uint32_t pos = 0;
};

// Records a positive interaction with `item` at time `ts` against the user's pending lists. With
// `rec`, only that list can take it (at `pos` when the item is there, else wherever the item is
// in that list); without, the most recent list shown within the window that contains the item.
// A click on a position already clicked counts once. Returns nullopt when no list took it (the
// interaction is organic: it only updates interest).
std::optional<Attribution> AttributeClick(UserState* user, const ItemId& item,
                                          const std::optional<std::string>& rec,
                                          std::optional<std::uint32_t> pos, TimestampMs ts,
                                          const AttributionOptions& options);

// Records that position `pos` of list `rec` was shown (an impression event): negatives of that
// list are then taken only among shown positions. False when the user has no such list.
bool RecordImpression(UserState* user, const std::string& rec, std::uint32_t pos);

// The learning examples of a list whose feedback is final (expired or replaced): each clicked
// position is a positive with the feature vector it was served with, weighted by its inverse
// propensity; each examined position that was not clicked is a negative (weight 1). Examined
// means: above the deepest click, or the top examine_k when nothing was clicked; and, when
// impressions were recorded, shown.
// How many leading positions of a finished list count as examined (see ExamplesOf).
std::size_t ExaminedPositions(const PendingList& list, const AttributionOptions& options);

// The source with the largest normalised score at position `pos` (the first on ties).
std::size_t DominantSource(const PendingList& list, std::size_t pos);

void ExamplesOf(const PendingList& list, const AttributionOptions& options,
                std::vector<FeedbackExample>* out);

}  // namespace recsd::model
