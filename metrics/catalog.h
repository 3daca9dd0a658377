#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

#include "metrics/histogram.h"

namespace recsd::metrics {

// recsd's metrics, declared here and nowhere else: names, help, types and labels. The daemon fills
// a PipelineSnapshot from its counters (atomics and lock-free histograms on the hot path) at each
// scrape; Families turns it into the exposition. Names follow Prometheus conventions: the recsd_
// prefix, base units, counters end in _total; no user ids, item ids, offsets or error text in
// labels (label values come from closed sets: event types, results, stages, sources, variants,
// partitions, broker ids and librdkafka's error names).
struct BuildInfo {
  std::string version;
  std::string revision;
  std::string librdkafka_version;
};

// A label value and a count or level.
using Labelled = std::vector<std::pair<std::string, double>>;

struct SourceFeedbackCount {
  std::string source;
  std::string variant;
  double impressions = 0;
  double clicks = 0;
};

struct PipelineSnapshot {
  Labelled consumed_by_type;  // event type name → count; "unknown": undecodable
  Labelled processed;         // result → count (ok, late, duplicate, decode_error, ...)
  std::vector<std::pair<std::string, HistogramSnapshot>> stage_seconds;  // by stage
  HistogramSnapshot freshness_seconds;
  double lists_delivered = 0;
  double lists_republished = 0;
  double lists_failed = 0;
  double dead_letters_delivered = 0;
  double dead_letters_failed = 0;
  double refreshes_coalesced = 0;
  HistogramSnapshot list_items;
  // Kafka: lag of the events topic's assigned partitions, the group, brokers, the producer.
  std::string events_topic;
  std::map<std::int32_t, std::int64_t> consumer_lag;  // by partition
  double assigned_partitions = 0;
  Labelled rebalances;                                // assign, revoke, error
  Labelled commits;                                   // ok, failed
  std::map<std::int32_t, double> broker_rtt_seconds;  // by broker node id
  std::map<std::string, std::uint64_t> kafka_errors;  // by librdkafka error name
  double producer_queue_messages = 0;
  double paused_partitions = 0;
  double pauses = 0;
  std::vector<std::size_t> worker_queue_messages;  // by worker index
  double users = 0;
  double user_state_bytes = 0;
  Labelled evictions;  // by reason
  double restoring_partitions = 0;
  double restored_records = 0;
  double restore_fenced_records = 0;
  double consumer_stalls = 0;
  Labelled changelog_writes;       // upsert, tombstone
  Labelled snapshots;              // written, write_failed, loaded, ignored
  Labelled model_stats_published;  // delivered, failed
  Labelled model_stats_read;       // merged, deleted, invalid, unsupported_version, incompatible
  double model_stats_partitions = 0;
  double catalog_items = 0;
  double catalog_updated_seconds = 0;  // since the Unix epoch; 0 before the first snapshot
  Labelled fusion_weights;             // source → weight (segment "global")
  double fusion_weights_version = 0;
  double learner_restarts = 0;
  std::vector<SourceFeedbackCount> feedback;
  bool guard_reverted = false;
  bool ready = false;  // what /readyz answers (1: 200)
};

std::vector<prometheus::MetricFamily> Families(const BuildInfo& build,
                                               const PipelineSnapshot& snapshot);

// What is exposed before the pipeline has started (the catalog is loading): the build and
// recsd_ready 0.
std::vector<prometheus::MetricFamily> StartingFamilies(const BuildInfo& build);

}  // namespace recsd::metrics
