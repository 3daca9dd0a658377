#include "model/event.h"

#include <gtest/gtest.h>

namespace recsd {
namespace {

TEST(EventTypeTableTest, BuiltinTypesHaveFixedIds) {
  const EventTypeTable t;
  ASSERT_EQ(t.size(), event_type::kBuiltinCount);
  EXPECT_EQ(t.Find("view"), event_type::kView);
  EXPECT_EQ(t.Find("click"), event_type::kClick);
  EXPECT_EQ(t.Find("impression"), event_type::kImpression);
  EXPECT_EQ(t.Find("forget"), event_type::kForget);
  EXPECT_LT(t.Get(event_type::kDislike).weight, 0.0);
  EXPECT_FALSE(t.Find("teleport").has_value());
}

TEST(EventTypeTableTest, ConfigureOverridesWeightsAndAddsTypes) {
  EventTypeTable t;
  const EventTypeSpec specs[] = {{"view", 0.5}, {"share", 4.0}};
  ASSERT_TRUE(t.Configure(specs));
  EXPECT_EQ(t.Get(event_type::kView).weight, 0.5);
  ASSERT_TRUE(t.Find("share").has_value());
  EXPECT_EQ(*t.Find("share"), event_type::kBuiltinCount);
  EXPECT_EQ(t.Get(*t.Find("share")).weight, 4.0);
}

TEST(EventTypeTableTest, ConfigureRejectsRepeatsAndLeavesTableUnchanged) {
  EventTypeTable t;
  const EventTypeSpec specs[] = {{"view", 0.5}, {"view", 2.0}};
  EXPECT_FALSE(t.Configure(specs));
  EXPECT_EQ(t.Get(event_type::kView).weight, 1.0);
  const EventTypeSpec empty_name[] = {{"", 1.0}};
  EXPECT_FALSE(t.Configure(empty_name));
}

TEST(EventTypeTableTest, ConfigureRejectsTooManyTypes) {
  EventTypeTable t;
  std::vector<EventTypeSpec> specs;
  for (std::size_t i = 0; i + event_type::kBuiltinCount <= EventTypeTable::kMaxTypes; ++i) {
    specs.push_back({"custom" + std::to_string(i), 1.0});
  }
  EXPECT_FALSE(t.Configure(specs));
  EXPECT_EQ(t.size(), event_type::kBuiltinCount);
  specs.pop_back();
  EXPECT_TRUE(t.Configure(specs));
  EXPECT_EQ(t.size(), EventTypeTable::kMaxTypes);
}

}  // namespace
}  // namespace recsd
