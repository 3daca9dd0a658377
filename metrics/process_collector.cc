#include "metrics/process_collector.h"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace recsd::metrics {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::optional<double> ToNumber(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

prometheus::MetricFamily Family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::MetricFamily family{name, help, type, {}};
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

}  // namespace

std::optional<ProcessSample> ParseProcStat(std::string_view stat, double ticks_per_second,
                                           double page_bytes, double boot_time_seconds) {
  // "pid (comm) state ppid ...": the fields after the last ')' start at field 3 (state).
  const std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::vector<std::string_view> fields;
  std::size_t i = close + 1;
  while (i < stat.size()) {
    while (i < stat.size() && (stat[i] == ' ' || stat[i] == '\n')) ++i;
    const std::size_t start = i;
    while (i < stat.size() && stat[i] != ' ' && stat[i] != '\n') ++i;
    if (i > start) fields.push_back(stat.substr(start, i - start));
  }
  // fields[0] is field 3; field n is fields[n - 3].
  if (fields.size() < 22) return std::nullopt;
  const auto field = [&](int n) { return ToNumber(fields[static_cast<std::size_t>(n - 3)]); };
  const auto utime = field(14);
  const auto stime = field(15);
  const auto start = field(22);
  const auto vsize = field(23);
  const auto rss = field(24);
  if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;
  ProcessSample s;
  s.cpu_seconds = (*utime + *stime) / ticks_per_second;
  s.start_time_seconds = boot_time_seconds + *start / ticks_per_second;
  s.virtual_bytes = *vsize;
  s.resident_bytes = *rss * page_bytes;
  return s;
}

std::optional<double> ParseMaxOpenFiles(std::string_view limits) {
  std::istringstream in{std::string(limits)};
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("Max open files")) continue;
    std::istringstream fields(line.substr(14));
    std::string soft;
    fields >> soft;
    return ToNumber(soft);  // "unlimited" is not a number
  }
  return std::nullopt;
}

std::optional<double> ParseBootTime(std::string_view proc_stat) {
  std::istringstream in{std::string(proc_stat)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("btime ")) return ToNumber(line.substr(6));
  }
  return std::nullopt;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const auto boot = ParseBootTime(ReadFile("/proc/stat"));
  if (const auto s = ParseProcStat(ReadFile("/proc/self/stat"), ticks, page, boot.value_or(0))) {
    families.push_back(Family("process_cpu_seconds_total", "User and system CPU time spent.",
                              MetricType::Counter, s->cpu_seconds));
    families.push_back(Family("process_resident_memory_bytes", "Resident memory size.",
                              MetricType::Gauge, s->resident_bytes));
    families.push_back(Family("process_virtual_memory_bytes", "Virtual memory size.",
                              MetricType::Gauge, s->virtual_bytes));
    if (boot) {
      families.push_back(Family("process_start_time_seconds",
                                "Start time of the process since the Unix epoch.",
                                MetricType::Gauge, s->start_time_seconds));
    }
  }
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  if (!ec) {
    families.push_back(
        Family("process_open_fds", "Open file descriptors.", MetricType::Gauge, fds));
  }
  if (const auto max = ParseMaxOpenFiles(ReadFile("/proc/self/limits"))) {
    families.push_back(
        Family("process_max_fds", "Limit of open file descriptors.", MetricType::Gauge, *max));
  }
  return families;
}

}  // namespace recsd::metrics
