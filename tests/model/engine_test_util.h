#pragma once

// What the engine's tests share: a small catalog, events, and the ids of a list.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/engine.h"

namespace recsd::model::test_util {

inline constexpr std::size_t kDim = 4;
inline constexpr std::int64_t kHour = 3'600'000;

// Items i0..i7: two clusters in embedding space and category (i0-i3 "a", i4-i7 "b"); i7 is new.
inline std::shared_ptr<const Catalog> Catalog8() {
  CatalogBuilder b(kDim);
  for (int i = 0; i < 8; ++i) {
    ItemRecord r;
    r.item = ItemId("i" + std::to_string(i));
    r.emb = i < 4 ? std::vector<float>{1, 0.1F * static_cast<float>(i), 0, 0}
                  : std::vector<float>{0, 0, 1, 0.1F * static_cast<float>(i)};
    r.cat = i < 4 ? "a" : "b";
    r.ts = {i == 7 ? 100 * kHour : 0};
    b.Upsert(r);
  }
  return b.Build();
}

inline Event Ev(const std::string& user, const std::string& item, std::int64_t ts_ms,
                EventTypeId type = event_type::kView) {
  Event e;
  e.type = type;
  e.user = UserId(user);
  e.item = ItemId(item);
  e.ts = {ts_ms};
  return e;
}

inline std::vector<std::string> Ids(const RecommendationList& list) {
  std::vector<std::string> ids;
  for (const auto& i : list.items) ids.push_back(i.item.str());
  return ids;
}

inline bool Has(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace recsd::model::test_util
