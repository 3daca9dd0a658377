#pragma once

#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

namespace recsd::bench {

// A console reporter that, after the usual table, prints each configured pair as a ratio of CPU
// time per iteration measured in the same run: "subject / peer = 1.84x". Speed is reported only as
// such ratios (against a peer or a bound), never as an absolute pass/fail.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  // Pairs of benchmark names (as printed, e.g. "BM_DecodeEvent/msgpack").
  explicit RatioReporter(std::vector<std::pair<std::string, std::string>> pairs)
      : pairs_(std::move(pairs)) {}

  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
  std::vector<std::pair<std::string, double>> cpu_ns_;  // name → CPU ns per iteration
};

}  // namespace recsd::bench
