#include "metrics/catalog.h"

#include <gtest/gtest.h>

#include "metrics/exposition.h"

namespace recsd::metrics {
namespace {

TEST(CatalogTest, RendersLabelledCountersGaugesAndACumulativeHistogram) {
  PipelineSnapshot s;
  s.consumed_by_type = {{"view", 3}, {"unknown", 1}};
  s.events_ok = 3;
  s.events_dlq = 1;
  s.freshness_bounds_seconds = {0.1, 1.0, 10.0};
  s.freshness_counts = {2, 5, 1, 4};  // the last one is the open bucket
  s.freshness_sum_seconds = 42.5;
  s.worker_queue_messages = {0, 5};
  s.sources = {"emb_short", "emb_long", "covisit", "trending", "category", "fresh"};
  s.fusion_weights = {0.1, 0.2, 1.0, 0.1, 0.1, 0.3};
  s.guard_reverted = true;
  const std::string text = Render(Families({"1.2.3", "abc", "2.0.2"}, s));
  for (const char* line : {
           "recsd_build_info{librdkafka_version=\"2.0.2\",revision=\"abc\",version=\"1.2.3\"} 1",
           "recsd_events_consumed_total{type=\"view\"} 3",
           "recsd_events_consumed_total{type=\"unknown\"} 1",
           "recsd_events_processed_total{result=\"dlq\"} 1",
           "recsd_recommendation_freshness_seconds_bucket{le=\"0.1\"} 2",
           "recsd_recommendation_freshness_seconds_bucket{le=\"1\"} 7",
           "recsd_recommendation_freshness_seconds_bucket{le=\"10\"} 8",
           "recsd_recommendation_freshness_seconds_bucket{le=\"+Inf\"} 12",
           "recsd_recommendation_freshness_seconds_count 12",
           "recsd_recommendation_freshness_seconds_sum 42.5",
           "recsd_worker_queue_messages{worker=\"1\"} 5",
           "recsd_fusion_weight{segment=\"global\",source=\"fresh\"} 0.3",
           "recsd_fusion_guard_reverted 1",
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
