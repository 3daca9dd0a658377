#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

namespace recsd::metrics {

// recsd's metrics, declared here and nowhere else: names, help, types, labels and buckets. The
// daemon fills a PipelineSnapshot from its counters (atomics on the hot path) at each scrape;
// Families turns it into the exposition. Names follow Prometheus conventions: the recsd_ prefix,
// base units, counters end in _total; no user ids, item ids, offsets or error text in labels.
struct BuildInfo {
  std::string version;
  std::string revision;
  std::string librdkafka_version;
};

struct PipelineSnapshot {
  std::uint64_t events_consumed = 0;
  std::vector<std::pair<std::string, std::uint64_t>> consumed_by_type;  // event type name → count;
                                                                        // "unknown": undecodable
  std::uint64_t events_ok = 0;         // applied to a user's state
  std::uint64_t events_duplicate = 0;  // at or below the user's last applied offset
  std::uint64_t events_dlq = 0;        // dead-lettered
  std::uint64_t lists_delivered = 0;
  std::uint64_t lists_failed = 0;
  std::uint64_t rebalances = 0;
  std::uint64_t pauses = 0;
  std::int64_t assigned_partitions = 0;
  std::int64_t paused_partitions = 0;
  std::int64_t users = 0;
  std::int64_t catalog_items = 0;
  double catalog_updated_seconds = 0;  // since the Unix epoch; 0 before the first snapshot
  std::vector<std::size_t> worker_queue_messages;  // by worker index
  // Freshness (event time to list acknowledged): counts per bucket with their upper bounds in
  // seconds (the last bucket is +Inf), and the sum in seconds.
  std::vector<double> freshness_bounds_seconds;
  std::vector<std::uint64_t> freshness_counts;
  double freshness_sum_seconds = 0;
  std::array<double, 6> fusion_weights{};  // by source, the learned means (or static)
  std::array<const char*, 6> sources{};    // source names, in the order of fusion_weights
  bool guard_reverted = false;
};

std::vector<prometheus::MetricFamily> Families(const BuildInfo& build,
                                               const PipelineSnapshot& snapshot);

}  // namespace recsd::metrics
