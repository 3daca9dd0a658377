#include "daemon/run/offset_tracker.h"

#include <gtest/gtest.h>

namespace recsd::daemon {
namespace {

TEST(OffsetTrackerTest, NothingIsCommittableBeforeTheFirstMessage) {
  OffsetTracker t;
  EXPECT_EQ(t.Committable(std::nullopt), std::nullopt);
}

TEST(OffsetTrackerTest, CommitsPastHandledMessagesWithNothingPending) {
  OffsetTracker t;
  t.Handled(10);
  t.Handled(11);
  EXPECT_EQ(t.Committable(std::nullopt), std::optional<std::int64_t>(12));
}

TEST(OffsetTrackerTest, AUserStillDirtyHoldsTheCommitAtItsFirstEvent) {
  OffsetTracker t;
  t.Handled(10);
  t.Handled(11);
  EXPECT_EQ(t.Committable(std::optional<std::int64_t>(11)), std::optional<std::int64_t>(11));
}

TEST(OffsetTrackerTest, OutputsInFlightHoldTheCommitUntilAcknowledged) {
  OffsetTracker t;
  t.Handled(5);
  auto lists = t.Open(3);
  lists->outstanding += 2;
  t.Handled(6);
  auto dead_letter = t.Open(6);
  dead_letter->outstanding += 1;
  t.Handled(7);
  EXPECT_EQ(t.Committable(std::nullopt), std::optional<std::int64_t>(3));
  EXPECT_EQ(t.outstanding(), 3);
  lists->outstanding -= 2;  // delivery reports, in any order
  EXPECT_EQ(t.Committable(std::nullopt), std::optional<std::int64_t>(6));
  dead_letter->outstanding -= 1;
  EXPECT_EQ(t.Committable(std::nullopt), std::optional<std::int64_t>(8));
  EXPECT_EQ(t.outstanding(), 0);
}

TEST(OffsetTrackerTest, AFailedDeliveryHoldsTheCommitForever) {
  OffsetTracker t;
  t.Handled(1);
  auto b = t.Open(1);
  b->outstanding += 1;
  b->failed = true;
  b->outstanding -= 1;
  t.Handled(2);
  EXPECT_TRUE(t.failed());
  EXPECT_EQ(t.Committable(std::nullopt), std::optional<std::int64_t>(1));
  EXPECT_EQ(t.Committable(std::nullopt), std::optional<std::int64_t>(1));
}

}  // namespace
}  // namespace recsd::daemon
