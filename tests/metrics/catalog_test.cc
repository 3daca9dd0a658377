#include "metrics/catalog.h"

#include <gtest/gtest.h>

#include "metrics/exposition.h"

namespace recsd::metrics {
namespace {

TEST(CatalogTest, RendersLabelledCountersGaugesAndACumulativeHistogram) {
  PipelineSnapshot s;
  s.consumed_by_type = {{"view", 3}, {"unknown", 1}};
  s.processed = {{"ok", 3}, {"dlq", 1}};
  s.freshness_seconds.bounds = {0.1, 1.0, 10.0};
  s.freshness_seconds.counts = {2, 5, 1, 4};  // the last one is the open bucket
  s.freshness_seconds.sum = 42.5;
  s.stage_seconds = {{"decode", {{0.001}, {7, 1}, 0.25}}};
  s.events_topic = "recsd.events";
  s.consumer_lag = {{3, 120}};
  s.broker_rtt_seconds = {{1, 0.002}};
  s.kafka_errors = {{"_TRANSPORT", 2}};
  s.worker_queue_messages = {0, 5};
  s.fusion_weights = {{"covisit", 1.0}, {"fresh", 0.3}};
  s.feedback = {{"covisit", "learned", 40, 3}};
  s.guard_reverted = true;
  s.learner_restarts = 2;
  const std::string text = Render(Families({"1.2.3", "abc", "2.0.2"}, s));
  for (const char* line : {
           "recsd_build_info{librdkafka_version=\"2.0.2\",revision=\"abc\",version=\"1.2.3\"} 1",
           "recsd_events_consumed_total{type=\"view\"} 3",
           "recsd_events_consumed_total{type=\"unknown\"} 1",
           "recsd_events_processed_total{result=\"dlq\"} 1",
           "recsd_event_processing_duration_seconds_bucket{stage=\"decode\",le=\"0.001\"} 7",
           "recsd_event_processing_duration_seconds_count{stage=\"decode\"} 8",
           "recsd_recommendation_freshness_seconds_bucket{le=\"0.1\"} 2",
           "recsd_recommendation_freshness_seconds_bucket{le=\"1\"} 7",
           "recsd_recommendation_freshness_seconds_bucket{le=\"10\"} 8",
           "recsd_recommendation_freshness_seconds_bucket{le=\"+Inf\"} 12",
           "recsd_recommendation_freshness_seconds_count 12",
           "recsd_recommendation_freshness_seconds_sum 42.5",
           "recsd_kafka_consumer_lag_messages{partition=\"3\",topic=\"recsd.events\"} 120",
           "recsd_kafka_broker_rtt_seconds{broker=\"1\"} 0.002",
           "recsd_kafka_errors_total{code=\"_TRANSPORT\"} 2",
           "recsd_worker_queue_messages{worker=\"1\"} 5",
           "recsd_fusion_weight{segment=\"global\",source=\"fresh\"} 0.3",
           "recsd_feedback_impressions_total{source=\"covisit\",variant=\"learned\"} 40",
           "recsd_feedback_clicks_total{source=\"covisit\",variant=\"learned\"} 3",
           "recsd_fusion_guard_reverted 1",
           "recsd_learner_restarts_total 2",
       }) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << text;
  }
}

// Prometheus conventions: the recsd_ prefix, counters end in _total, base units.
TEST(CatalogTest, EveryNameFollowsTheConventions) {
  for (const auto& family : Families({}, PipelineSnapshot{})) {
    EXPECT_EQ(family.name.rfind("recsd_", 0), 0U) << family.name;
    const bool total = family.name.ends_with("_total");
    EXPECT_EQ(family.type == prometheus::MetricType::Counter, total) << family.name;
    EXPECT_EQ(family.name.find("_ms"), std::string::npos) << family.name;
    EXPECT_FALSE(family.help.empty()) << family.name;
  }
}

}  // namespace
}  // namespace recsd::metrics
