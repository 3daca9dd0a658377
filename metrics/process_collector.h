#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace recsd::metrics {

// What /proc says about this process, in base units.
struct ProcessSample {
  double cpu_seconds = 0;  // user + system
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time_seconds = 0;  // since the Unix epoch
  double open_fds = 0;
  double max_fds = 0;
};

// Parses the fields of /proc/self/stat that the standard process metrics need (utime, stime,
// starttime, vsize, rss: fields 14, 15, 22, 23, 24; the command name in parentheses may hold
// spaces and parentheses). Nothing when the text is not such a line.
std::optional<ProcessSample> ParseProcStat(std::string_view stat, double ticks_per_second,
                                           double page_bytes, double boot_time_seconds);
// The soft "Max open files" limit from /proc/self/limits; nothing when absent or unlimited.
std::optional<double> ParseMaxOpenFiles(std::string_view limits);
// "btime" (boot time, seconds since the epoch) from /proc/stat.
std::optional<double> ParseBootTime(std::string_view proc_stat);

// The standard process_* metrics (cpu seconds, resident and virtual memory, open and max fds,
// start time) read from /proc/self at each scrape, as prometheus-cpp has none. Any thread.
class ProcessCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace recsd::metrics
