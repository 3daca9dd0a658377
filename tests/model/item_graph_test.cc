#include "model/item_graph.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace recsd::model {
namespace {

ItemGraph::Options Small() {
  ItemGraph::Options o;
  o.half_life = 10;
  o.max_neighbours = 3;
  o.max_items = 100;
  return o;
}

TEST(ItemGraphTest, EdgesAreSymmetricAndDecay) {
  ItemGraph g(Small());
  g.Add(0, ItemId("a"), ItemId("b"), 2.0);
  EXPECT_DOUBLE_EQ(g.WeightAt(ItemId("a"), ItemId("b"), 0), 2.0);
  EXPECT_DOUBLE_EQ(g.WeightAt(ItemId("b"), ItemId("a"), 0), 2.0);
  EXPECT_DOUBLE_EQ(g.WeightAt(ItemId("a"), ItemId("b"), 10), 1.0);
  g.Add(10, ItemId("b"), ItemId("a"), 1.0);
  EXPECT_DOUBLE_EQ(g.WeightAt(ItemId("a"), ItemId("b"), 10), 2.0);
  EXPECT_EQ(g.WeightAt(ItemId("a"), ItemId("zzz"), 10), 0.0);
}

TEST(ItemGraphTest, NeighboursAreBoundedAndStrongestFirst) {
  ItemGraph g(Small());
  g.Add(0, ItemId("a"), ItemId("n1"), 5.0);
  g.Add(0, ItemId("a"), ItemId("n2"), 3.0);
  g.Add(0, ItemId("a"), ItemId("n3"), 1.0);
  g.Add(0, ItemId("a"), ItemId("weak"), 0.5);    // does not displace anyone
  g.Add(0, ItemId("a"), ItemId("strong"), 4.0);  // displaces n3
  const auto n = g.Neighbours(ItemId("a"), 0);
  ASSERT_EQ(n.size(), 3U);
  EXPECT_EQ(n[0].first.str(), "n1");
  EXPECT_EQ(n[1].first.str(), "strong");
  EXPECT_EQ(n[2].first.str(), "n2");
}

TEST(ItemGraphTest, ItemsAreBoundedAndTheStrongestStay) {
  ItemGraph::Options o = Small();
  o.max_items = 20;
  ItemGraph g(o);
  g.Add(0, ItemId("hub"), ItemId("spoke"), 100.0);
  for (int i = 0; i < 500; ++i) {
    g.Add(0, ItemId("x" + std::to_string(i)), ItemId("y" + std::to_string(i)), 1.0);
  }
  EXPECT_LE(g.items(), 20U);
  EXPECT_DOUBLE_EQ(g.WeightAt(ItemId("hub"), ItemId("spoke"), 0), 100.0);
}

TEST(ItemGraphTest, RebasingKeepsWeightsAndDropsDecayedEdges) {
  ItemGraph::Options o = Small();
  o.half_life = 1;
  ItemGraph g(o);
  g.Add(0, ItemId("a"), ItemId("b"), 1.0);
  g.Add(0, ItemId("c"), ItemId("d"), 1e12);
  g.Add(40, ItemId("e"), ItemId("f"), 1.0);  // past the rebase point
  EXPECT_EQ(g.WeightAt(ItemId("a"), ItemId("b"), 40), 0.0);
  EXPECT_NEAR(g.WeightAt(ItemId("c"), ItemId("d"), 40), 1e12 * std::exp2(-40.0), 1e-9);
  EXPECT_EQ(g.items(), 4U);  // a and b are gone
}

// The graph interns item ids and reuses the number of an item nothing refers to any more. Checked
// against a plain model keyed by the ids themselves (the same bounds, distinct random weights so
// that no tie decides which edge goes): thousands of additions, with replaced weakest edges and
// dropped items, must leave the same neighbours, and the graph must hold no id that no edge
// refers to (nothing leaks) while every id an edge refers to is still the right one.
void MatchesAPlainModel(std::size_t max_neighbours, int items, std::size_t max_items, int steps) {
  ItemGraph::Options o;
  o.half_life = 1e9;  // no decay at t = 0: stored weights are the added ones
  o.max_neighbours = max_neighbours;
  o.max_items = max_items;
  ItemGraph g(o);
  std::map<std::string, std::vector<std::pair<std::string, double>>> model;
  const auto add = [&](const std::string& from, const std::string& to, double w) {
    auto& edges = model[from];
    for (auto& e : edges) {
      if (e.first == to) {
        e.second += w;
        return;
      }
    }
    if (edges.size() < o.max_neighbours) {
      edges.emplace_back(to, w);
      return;
    }
    auto weakest = std::min_element(edges.begin(), edges.end(), [](const auto& x, const auto& y) {
      return x.second < y.second;
    });
    if (w > weakest->second) *weakest = {to, w};
  };
  const auto shrink = [&] {
    if (model.size() <= o.max_items) return;
    std::vector<std::pair<double, std::string>> totals;
    for (const auto& [id, edges] : model) {
      double total = 0;
      for (const auto& e : edges) total += e.second;
      totals.emplace_back(total, id);
    }
    std::sort(totals.begin(), totals.end());
    const std::size_t drop = totals.size() - o.max_items * 3 / 4;
    for (std::size_t i = 0; i < drop; ++i) model.erase(totals[i].second);
  };
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> item(0, items - 1);
  std::uniform_real_distribution<double> weight(0.01, 1.0);
  for (int step = 0; step < steps; ++step) {
    const std::string a = "i" + std::to_string(item(rng));
    std::string b = "i" + std::to_string(item(rng));
    if (a == b) continue;
    const double w = weight(rng);
    if (step % 2 == 0) {
      g.AddDirected(0, ItemId(a), ItemId(b), w);
      add(a, b, w);
    } else {
      g.Add(0, ItemId(a), ItemId(b), w);
      add(a, b, w);
      add(b, a, w);
    }
    shrink();
    ASSERT_EQ(g.items(), model.size()) << "step " << step;
  }
  std::set<std::string> referenced;
  for (int i = 0; i < items; ++i) {
    const std::string id = "i" + std::to_string(i);
    auto expected = model.count(id) ? model[id] : std::vector<std::pair<std::string, double>>{};
    std::sort(expected.begin(), expected.end(),
              [](const auto& x, const auto& y) { return x.second > y.second; });
    const auto got = g.Neighbours(ItemId(id), 0);
    ASSERT_EQ(got.size(), expected.size()) << id;
    for (std::size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(got[k].first.str(), expected[k].first) << id;
      EXPECT_NEAR(got[k].second, expected[k].second, 1e-9) << id;
      referenced.insert(expected[k].first);
    }
    if (!expected.empty()) referenced.insert(id);
  }
  EXPECT_EQ(g.nodes(), referenced.size());
}

TEST(ItemGraphTest, InternedItemsMatchAPlainModelThroughReplacementsAndDrops) {
  MatchesAPlainModel(4, 40, 12, 5000);
}

// Lists long enough for the edge search's 16-wide blocks (and a tail after them).
TEST(ItemGraphTest, LongNeighbourListsMatchAPlainModel) { MatchesAPlainModel(37, 100, 60, 30000); }

TEST(ItemGraphTest, LinksOfOneInteractionAreTheSameEdgesAddedOneByOne) {
  ItemGraph::Options o = Small();
  o.max_neighbours = 8;
  ItemGraph together(o);
  ItemGraph apart(o);
  const ItemId item("b");
  const std::vector<ItemId> before = {ItemId("a1"), ItemId("a2"), ItemId("a3")};
  std::vector<ItemGraph::Link> links;
  for (std::size_t g = 0; g < before.size(); ++g) {
    links.push_back({&before[g], 1.0 / static_cast<double>(g + 1)});
  }
  for (int round = 0; round < 3; ++round) {
    together.AddLinks(round, item, links, 0.5);
    for (const ItemGraph::Link& link : links) {
      apart.AddDirected(round, *link.item, item, link.w);
      apart.AddDirected(round, item, *link.item, 0.5 * link.w);
    }
  }
  for (const ItemId& id : {item, before[0], before[1], before[2]}) {
    const auto x = together.Neighbours(id, 2);
    const auto y = apart.Neighbours(id, 2);
    ASSERT_EQ(x.size(), y.size());
    for (std::size_t k = 0; k < x.size(); ++k) {
      EXPECT_EQ(x[k].first, y[k].first);
      EXPECT_DOUBLE_EQ(x[k].second, y[k].second);
    }
  }
  // a3 → b gained 1/3 at t = 0, 1 and 2 (half-life 10).
  EXPECT_NEAR(together.WeightAt(before[2], item, 2), (std::exp2(-0.2) + std::exp2(-0.1) + 1.0) / 3,
              1e-12);
}

}  // namespace
}  // namespace recsd::model
