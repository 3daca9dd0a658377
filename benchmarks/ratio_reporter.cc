#include "ratio_reporter.h"

#include <cstdio>

namespace recsd::bench {

void RatioReporter::ReportRuns(const std::vector<Run>& runs) {
  for (const Run& run : runs) {
    if (run.run_type == Run::RT_Iteration && run.iterations > 0) {
      cpu_ns_.emplace_back(run.benchmark_name(),
                           run.GetAdjustedCPUTime() *
                               benchmark::GetTimeUnitMultiplier(benchmark::kNanosecond) /
                               benchmark::GetTimeUnitMultiplier(run.time_unit));
    }
  }
  ConsoleReporter::ReportRuns(runs);
}

void RatioReporter::Finalize() {
  ConsoleReporter::Finalize();
  const auto find = [&](const std::string& name) -> const double* {
    for (const auto& [n, ns] : cpu_ns_) {
      if (n == name) return &ns;
    }
    return nullptr;
  };
  std::printf("\nratios (CPU time per operation, same run):\n");
  for (const auto& [subject, peer] : pairs_) {
    const double* s = find(subject);
    const double* p = find(peer);
    if (s == nullptr || p == nullptr || *p <= 0) {
      std::printf("  %s / %s: not measured in this run\n", subject.c_str(), peer.c_str());
      continue;
    }
    std::printf("  %-40s / %-34s = %6.2fx\n", subject.c_str(), peer.c_str(), *s / *p);
  }
}

}  // namespace recsd::bench
