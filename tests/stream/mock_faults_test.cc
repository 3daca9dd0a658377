// The fault language of `recsd broker --control` (stream/mock_faults.h). Injecting the faults
// into a cluster is tested against real clients in tests/daemon/broker_test.cc.
#include "stream/mock_faults.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace recsd::stream {
namespace {

using Kind = MockFault::Kind;

MockFault Parsed(const std::string& line) {
  auto f = ParseMockFault(line);
  EXPECT_TRUE(f) << line << ": " << (f ? "" : f.error());
  return f ? *f : MockFault{};
}

std::string ErrorOf(const std::string& line) {
  auto f = ParseMockFault(line);
  EXPECT_FALSE(f) << line << " was accepted";
  return f ? "" : f.error();
}

TEST(MockFaultTest, ParsesEveryKind) {
  EXPECT_EQ(Parsed("down 2").kind, Kind::kDown);
  EXPECT_EQ(Parsed("down 2").broker, 2);
  EXPECT_EQ(Parsed("  up\t3 ").kind, Kind::kUp);
  EXPECT_EQ(Parsed("up 3").broker, 3);
  const MockFault rtt = Parsed("rtt 1 250");
  EXPECT_EQ(rtt.kind, Kind::kRtt);
  EXPECT_EQ(rtt.broker, 1);
  EXPECT_EQ(rtt.rtt_ms, 250);
  const MockFault errors = Parsed("errors OffsetCommit NOT_COORDINATOR*2,request_timed_out,27");
  EXPECT_EQ(errors.kind, Kind::kErrors);
  EXPECT_EQ(errors.api, 8);
  EXPECT_EQ(errors.errors, (std::vector<int>{16, 16, 7, 27}));
  const MockFault clear = Parsed("clear fetch");
  EXPECT_EQ(clear.kind, Kind::kClear);
  EXPECT_EQ(clear.api, 1);
  const MockFault leader = Parsed("leader recsd.events 3 -1");
  EXPECT_EQ(leader.kind, Kind::kLeader);
  EXPECT_EQ(leader.topic, "recsd.events");
  EXPECT_EQ(leader.partition, 3);
  EXPECT_EQ(leader.broker, -1);
  const MockFault group = Parsed("coordinator group recsd 2");
  EXPECT_EQ(group.kind, Kind::kCoordinator);
  EXPECT_EQ(group.key_type, "group");
  EXPECT_EQ(group.key, "recsd");
  EXPECT_EQ(group.broker, 2);
  EXPECT_EQ(Parsed("coordinator txn tx-1 1").key_type, "transaction");
}

TEST(MockFaultTest, BlankLinesAndCommentsAreNoFault) {
  EXPECT_EQ(Parsed("").kind, Kind::kNone);
  EXPECT_EQ(Parsed("   ").kind, Kind::kNone);
  EXPECT_EQ(Parsed("# down 1").kind, Kind::kNone);
  EXPECT_EQ(Parsed("#").kind, Kind::kNone);
}

TEST(MockFaultTest, BadLinesSayWhatIsWrong) {
  EXPECT_NE(ErrorOf("explode 1").find("unknown fault \"explode\""), std::string::npos);
  EXPECT_NE(ErrorOf("down").find("usage: down BROKER"), std::string::npos);
  EXPECT_NE(ErrorOf("down 0").find("usage: down"), std::string::npos);
  EXPECT_NE(ErrorOf("down 17").find("usage: down"), std::string::npos);
  EXPECT_NE(ErrorOf("down 1 2").find("usage: down"), std::string::npos);
  EXPECT_NE(ErrorOf("rtt 1").find("usage: rtt"), std::string::npos);
  EXPECT_NE(ErrorOf("rtt 1 -5").find("usage: rtt"), std::string::npos);
  EXPECT_NE(ErrorOf("rtt 1 5ms").find("usage: rtt"), std::string::npos);
  EXPECT_NE(ErrorOf("errors Produce").find("usage: errors"), std::string::npos);
  EXPECT_NE(ErrorOf("errors Teleport NOT_COORDINATOR").find("\"Teleport\" is not a Kafka API"),
            std::string::npos);
  EXPECT_NE(ErrorOf("errors Produce NOT_AN_ERROR").find("\"NOT_AN_ERROR\" is not a Kafka error"),
            std::string::npos);
  // librdkafka's own (negative) errors never come from a broker.
  EXPECT_NE(ErrorOf("errors Produce _TIMED_OUT").find("not a Kafka error"), std::string::npos);
  EXPECT_NE(ErrorOf("errors Produce -185").find("not a Kafka error"), std::string::npos);
  EXPECT_NE(ErrorOf("errors Produce NOT_COORDINATOR*0").find("repeat count"), std::string::npos);
  EXPECT_NE(ErrorOf("errors Produce NOT_COORDINATOR*9999,NOT_COORDINATOR*2").find("more than"),
            std::string::npos);
  EXPECT_NE(ErrorOf("errors Produce NOT_COORDINATOR,").find("\"\" is not a Kafka error"),
            std::string::npos);
  EXPECT_NE(ErrorOf("leader t x 1").find("usage: leader"), std::string::npos);
  EXPECT_NE(ErrorOf("leader t 0").find("usage: leader"), std::string::npos);
  EXPECT_NE(ErrorOf("coordinator consumer g 1").find("usage: coordinator"), std::string::npos);
}

TEST(MockFaultTest, KafkaApisByNameOrNumber) {
  EXPECT_EQ(KafkaApiKey("Produce"), 0);
  EXPECT_EQ(KafkaApiKey("HEARTBEAT"), 12);
  EXPECT_EQ(KafkaApiKey("syncgroup"), 14);
  EXPECT_EQ(KafkaApiKey("InitProducerId"), 22);
  EXPECT_EQ(KafkaApiKey("42"), 42);
  EXPECT_EQ(KafkaApiKey("Produce2"), -1);
  EXPECT_EQ(KafkaApiKey(""), -1);
  EXPECT_EQ(KafkaApiKey("1000"), -1);
}

}  // namespace
}  // namespace recsd::stream
