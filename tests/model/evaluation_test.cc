#include "model/evaluation.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace recsd::model {
namespace {

std::vector<ItemId> List(std::initializer_list<const char*> ids) {
  std::vector<ItemId> out;
  for (const char* id : ids) out.emplace_back(id);
  return out;
}

TEST(PrequentialEvaluatorTest, HitsRanksAndMeans) {
  PrequentialEvaluator e(3);
  const auto list = List({"a", "b", "c", "d"});
  EXPECT_EQ(e.Evaluate(list, ItemId("a")), 0U);
  EXPECT_EQ(e.Evaluate(list, ItemId("c")), 2U);
  EXPECT_EQ(e.Evaluate(list, ItemId("d")), std::nullopt);  // beyond k
  EXPECT_EQ(e.Evaluate({}, ItemId("a")), std::nullopt);
  EXPECT_EQ(e.evaluated(), 4U);
  EXPECT_EQ(e.hits(), 2U);
  EXPECT_DOUBLE_EQ(e.HitRate(), 0.5);
  EXPECT_DOUBLE_EQ(e.Mrr(), (1.0 + 1.0 / 3) / 4);
  EXPECT_DOUBLE_EQ(e.Ndcg(), (1.0 + 1.0 / std::log2(4.0)) / 4);
}

TEST(PrequentialEvaluatorTest, CoverageCountsDistinctServedItemsInTheTopK) {
  PrequentialEvaluator e(2);
  EXPECT_EQ(e.Coverage(10), 0.0);
  e.Served(List({"a", "b", "c"}));
  e.Served(List({"b", "a"}));
  e.Served(List({"d"}));
  EXPECT_DOUBLE_EQ(e.Coverage(10), 0.3);
  EXPECT_EQ(e.Coverage(0), 0.0);
  EXPECT_EQ(e.HitRate(), 0.0);  // nothing evaluated
}

}  // namespace
}  // namespace recsd::model
