#include "metrics/process_collector.h"

#include <memory>

#include <gtest/gtest.h>

#include "metrics/exposition.h"

namespace recsd::metrics {
namespace {

// A /proc/self/stat line whose command name holds spaces and a parenthesis.
constexpr std::string_view kStat =
    "4242 (recsd (worker) 1) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 150 0 0 20 0 9 0 "
    "360000 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcessCollectorTest, ParsesCpuMemoryAndStartTimeFromStat) {
  const auto s = ParseProcStat(kStat, /*ticks_per_second=*/100, /*page_bytes=*/4096,
                               /*boot_time_seconds=*/1'700'000'000);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 4.0);  // (250 + 150) ticks
  EXPECT_DOUBLE_EQ(s->virtual_bytes, 104857600.0);
  EXPECT_DOUBLE_EQ(s->resident_bytes, 2560.0 * 4096);
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1'700'000'000 + 3600.0);
}

TEST(ProcessCollectorTest, RejectsTextThatIsNotAStatLine) {
  EXPECT_FALSE(ParseProcStat("", 100, 4096, 0));
  EXPECT_FALSE(ParseProcStat("4242 (recsd) S 1 2 3", 100, 4096, 0));
  EXPECT_FALSE(ParseProcStat(kStat, 0, 4096, 0));
}

TEST(ProcessCollectorTest, ParsesTheSoftOpenFilesLimitAndBootTime) {
  const std::string limits =
      "Limit                     Soft Limit           Hard Limit           Units\n"
      "Max cpu time              unlimited            unlimited            seconds\n"
      "Max open files            1024                 524288               files\n";
  EXPECT_EQ(ParseMaxOpenFiles(limits), std::optional<double>(1024));
  EXPECT_EQ(ParseMaxOpenFiles("Max open files            unlimited   unlimited  files\n"),
            std::nullopt);
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\nbtime 1764556800\nprocesses 9\n"),
            std::optional<double>(1764556800));
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\n"), std::nullopt);
}

// The live collector, rendered: every standard process metric with a plausible value.
TEST(ProcessCollectorTest, RendersTheStandardProcessMetricsOfThisProcess) {
  auto collector = std::make_shared<ProcessCollector>();
  const std::string text = Render({collector});
  for (const char* line :
       {"# TYPE process_cpu_seconds_total counter", "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_virtual_memory_bytes gauge", "# TYPE process_start_time_seconds gauge",
        "# TYPE process_open_fds gauge", "# TYPE process_max_fds gauge"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  for (const auto& family : collector->Collect()) {
    ASSERT_EQ(family.metric.size(), 1U) << family.name;
    const auto& m = family.metric.front();
    const double value =
        family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    if (family.name == "process_cpu_seconds_total") {
      EXPECT_GE(value, 0) << family.name;
    } else {
      EXPECT_GT(value, 0) << family.name;  // memory, fds and start time are never 0 here
    }
    if (family.name == "process_start_time_seconds") {
      EXPECT_GT(value, 1.6e9);
    }
  }
}

TEST(ProcessCollectorTest, RenderSkipsCollectablesThatAreGone) {
  std::weak_ptr<prometheus::Collectable> gone;
  {
    auto collector = std::make_shared<ProcessCollector>();
    gone = collector;
  }
  EXPECT_EQ(Render({gone}), "");
}

}  // namespace
}  // namespace recsd::metrics
