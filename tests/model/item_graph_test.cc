#include "model/item_graph.h"

#include <cmath>
#include <string>

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

}  // namespace
}  // namespace recsd::model
