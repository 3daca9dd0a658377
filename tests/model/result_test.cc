#include "model/result.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace recsd {
namespace {

Result<int, std::string> Half(int v) {
  if (v % 2 != 0) {
    return Fail(std::string("odd"));
  }
  return v / 2;
}

TEST(ResultTest, HoldsValueOnSuccess) {
  auto r = Half(8);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(*r, 4);
  EXPECT_EQ(r.value(), 4);
}

TEST(ResultTest, HoldsErrorOnFailure) {
  auto r = Half(3);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), "odd");
}

TEST(ResultTest, MovesOutMoveOnlyValues) {
  Result<std::unique_ptr<int>, std::string> r(std::make_unique<int>(7));
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

TEST(ResultDeathTest, ValueOfFailureAborts) {
  // Reading the value of a failed Result is a bug in recsd, never a silent default.
  EXPECT_DEATH({ (void)Half(3).value(); }, "value\\(\\) of a failed Result");
}

}  // namespace
}  // namespace recsd
