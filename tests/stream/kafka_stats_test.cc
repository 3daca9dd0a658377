#include "stream/kafka_stats.h"

#include <gtest/gtest.h>

namespace recsd::stream {
namespace {

// Shaped as librdkafka's STATISTICS.md documents it (fields recsd does not read trimmed).
constexpr std::string_view kConsumer = R"({
  "name": "recsd#consumer-2", "type": "consumer", "msg_cnt": 0,
  "brokers": {
    "localhost:9092/bootstrap": {"name": "localhost:9092/bootstrap", "nodeid": -1,
                                 "rtt": {"avg": 900, "cnt": 3}},
    "localhost:9092/1": {"name": "localhost:9092/1", "nodeid": 1,
                         "rtt": {"min": 100, "max": 4000, "avg": 2500, "cnt": 12}},
    "localhost:9093/2": {"name": "localhost:9093/2", "nodeid": 2,
                         "rtt": {"min": 0, "max": 0, "avg": 0, "cnt": 0}}
  },
  "topics": {
    "recsd.events": {"topic": "recsd.events", "partitions": {
      "0": {"partition": 0, "consumer_lag": 17, "fetch_state": "active"},
      "1": {"partition": 1, "consumer_lag": -1, "fetch_state": "none"},
      "2": {"partition": 2, "consumer_lag": 0},
      "-1": {"partition": -1, "consumer_lag": -1}}},
    "recsd.items": {"topic": "recsd.items", "partitions": {
      "0": {"partition": 0, "consumer_lag": 99}}}
  }
})";

TEST(KafkaStatsTest, ReadsLagOfTheTopicsKnownPartitionsAndRttOfRealBrokers) {
  auto s = ParseKafkaStats(kConsumer, "recsd.events");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->type, "consumer");
  ASSERT_EQ(s->lags.size(), 2U);
  EXPECT_EQ(s->lags[0].partition, 0);
  EXPECT_EQ(s->lags[0].lag, 17);
  EXPECT_EQ(s->lags[1].partition, 2);
  EXPECT_EQ(s->lags[1].lag, 0);
  ASSERT_EQ(s->brokers.size(), 1U);  // no bootstrap entry, no broker without samples
  EXPECT_EQ(s->brokers[0].node_id, 1);
  EXPECT_DOUBLE_EQ(s->brokers[0].avg_seconds, 0.0025);
}

TEST(KafkaStatsTest, ProducerQueueAndMissingSections) {
  auto s = ParseKafkaStats(R"({"type": "producer", "msg_cnt": 42})", "recsd.events");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->queued_messages, 42);
  EXPECT_TRUE(s->lags.empty());
  EXPECT_TRUE(s->brokers.empty());
}

TEST(KafkaStatsTest, MalformedDocumentsAreErrorsNotCrashes) {
  EXPECT_FALSE(ParseKafkaStats("{", "t"));
  EXPECT_FALSE(ParseKafkaStats("[1,2]", "t"));
  auto wrong = ParseKafkaStats(R"({"type": 5})", "t");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().find("librdkafka statistics"), std::string::npos);
}

}  // namespace
}  // namespace recsd::stream
