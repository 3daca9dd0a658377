#include "model/id_index.h"

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace recsd::model {
namespace {

// Random inserts and erases of `ids` distinct ids against std::map, with the ids kept by the
// "owner" as IdIndex expects: a small id range makes long probe runs, wrap-arounds and erases
// inside runs common, so a backward shift that strands an entry (or moves one before its home)
// shows as a lost or a wrong lookup.
void MatchesAMap(int ids) {
  std::vector<ItemId> owner;  // number → id
  std::vector<std::uint32_t> free;
  std::map<std::string, std::uint32_t> model;
  IdIndex index;
  const auto id_of = [&](std::uint32_t n) -> const ItemId& { return owner[n]; };
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> pick(0, ids - 1);
  for (int step = 0; step < 40'000; ++step) {
    const std::string key = "i" + std::to_string(pick(rng));
    const ItemId id(key);
    const auto it = model.find(key);
    if (it == model.end()) {
      std::uint32_t n = 0;
      if (free.empty()) {
        n = static_cast<std::uint32_t>(owner.size());
        owner.push_back(id);
      } else {
        n = free.back();
        free.pop_back();
        owner[n] = id;
      }
      index.Insert(id, n);
      model[key] = n;
    } else if (step % 3 != 0) {  // erase two times in three: the table churns
      index.Erase(id, id_of);
      free.push_back(it->second);
      model.erase(it);
    }
    ASSERT_EQ(index.size(), model.size()) << "step " << step;
    if (step % 97 == 0) {
      for (int k = 0; k < ids; ++k) {
        const std::string probe = "i" + std::to_string(k);
        const auto m = model.find(probe);
        const std::optional<std::uint32_t> got = index.Find(ItemId(probe), id_of);
        if (m == model.end()) {
          ASSERT_FALSE(got.has_value()) << probe << " at step " << step;
        } else {
          ASSERT_EQ(got, m->second) << probe << " at step " << step;
        }
      }
    }
  }
  index.Erase(ItemId("absent"), id_of);  // nothing
  EXPECT_EQ(index.size(), model.size());
  index.Clear();
  EXPECT_EQ(index.size(), 0U);
  EXPECT_FALSE(index.Find(ItemId("i1"), id_of).has_value());
}

// A few ids in a small table: runs wrap past its end often.
TEST(IdIndexTest, MatchesAMapThroughInsertsAndErases) {
  MatchesAMap(20);
  MatchesAMap(300);
}

}  // namespace
}  // namespace recsd::model
