#include "model/attribution.h"

#include <algorithm>
#include <cmath>

#include "model/check.h"

namespace recsd::model {
namespace {

std::optional<std::uint32_t> PositionOf(const PendingList& list, const ItemId& item) {
  for (std::size_t p = 0; p < list.items.size(); ++p) {
    if (list.items[p] == item) return static_cast<std::uint32_t>(p);
  }
  return std::nullopt;
}

FeatureVector FeaturesAt(const PendingList& list, std::size_t pos) {
  FeatureVector x{};
  const std::size_t n = std::min(list.feature_dim, kMaxSources);
  for (std::size_t s = 0; s < n; ++s) x[s] = list.features[pos * list.feature_dim + s];
  return x;
}

}  // namespace

std::optional<Attribution> AttributeClick(UserState* user, const ItemId& item,
                                          const std::optional<std::string>& rec,
                                          std::optional<std::uint32_t> pos, TimestampMs ts,
                                          const AttributionOptions& options) {
  std::span<PendingList> lists = user->mutable_pending();
  PendingList* list = nullptr;
  std::optional<std::uint32_t> at;
  if (rec) {
    for (PendingList& l : lists) {
      if (l.rec == *rec) list = &l;
    }
    if (list == nullptr) return std::nullopt;
    at = pos && *pos < list->items.size() && list->items[*pos] == item ? pos
                                                                       : PositionOf(*list, item);
  } else {
    for (auto it = lists.rbegin(); it != lists.rend() && list == nullptr; ++it) {
      if (ts.ms - it->shown_at.ms > options.window_ms) continue;
      if (const auto p = PositionOf(*it, item)) {
        list = &*it;
        at = p;
      }
    }
  }
  if (list == nullptr || !at || ts.ms - list->shown_at.ms > options.window_ms) return std::nullopt;
  if (std::find(list->clicked.begin(), list->clicked.end(), *at) == list->clicked.end()) {
    list->clicked.push_back(*at);
  }
  return Attribution{list->rec, *at};
}

bool RecordImpression(UserState* user, const std::string& rec, std::uint32_t pos) {
  for (PendingList& l : user->mutable_pending()) {
    if (l.rec == rec && pos < l.items.size()) {
      l.max_shown = std::max(l.max_shown, static_cast<std::int32_t>(pos));
      return true;
    }
  }
  return false;
}

std::size_t ExaminedPositions(const PendingList& list, const AttributionOptions& options) {
  std::size_t examined = std::min(options.examine_k, list.items.size());
  if (!list.clicked.empty()) {
    examined = *std::max_element(list.clicked.begin(), list.clicked.end()) + std::size_t{1};
  }
  if (list.max_shown >= 0) {
    examined = std::min(examined, static_cast<std::size_t>(list.max_shown) + 1);
  }
  return std::min(examined, list.items.size());
}

std::size_t DominantSource(const PendingList& list, std::size_t pos) {
  const FeatureVector x = FeaturesAt(list, pos);
  return static_cast<std::size_t>(std::max_element(x.begin(), x.end()) - x.begin());
}

void ExamplesOf(const PendingList& list, const AttributionOptions& options,
                std::vector<FeedbackExample>* out) {
  RECSD_CHECK(list.features.size() == list.items.size() * list.feature_dim, "list features");
  const std::size_t size = list.items.size();
  const std::size_t examined = ExaminedPositions(list, options);
  for (std::uint32_t p : list.clicked) {
    if (p >= size) continue;
    const double weight =
        options.propensity_power == 0.0
            ? 1.0
            : std::min(std::pow(static_cast<double>(p) + 1.0, options.propensity_power),
                       options.max_propensity_weight);
    out->push_back({FeaturesAt(list, p), true, weight});
  }
  for (std::size_t p = 0; p < examined; ++p) {
    if (std::find(list.clicked.begin(), list.clicked.end(), p) != list.clicked.end()) continue;
    out->push_back({FeaturesAt(list, p), false, 1.0});
  }
}

}  // namespace recsd::model
