#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "daemon/base/rate_limited_warnings.h"
#include "daemon/config/config.h"
#include "daemon/run/kafka/kafka_transport.h"
#include "daemon/run/outputs.h"
#include "daemon/run/pipeline_stats.h"
#include "daemon/run/references.h"
#include "daemon/run/shutdown.h"
#include "model/catalog.h"
#include "model/engine.h"
#include "model/result.h"
#include "stream/kafka.h"

namespace recsd::daemon {

// The catalog thread: reads topics.items from the beginning (all partitions, no group; a null
// value deletes) into immutable catalog snapshots, and topics.model_stats the same way into
// tables of every partition's latest aggregates (global statistics); publishes both to
// References, at most once per pipeline.catalog_publish_interval. Bad records are dead-lettered.
class ReferenceReader {
 public:
  ReferenceReader(const Config& config, const model::EngineOptions& engine_options,
                  PipelineStats& stats, RateLimitedWarnings& warnings, References& references,
                  Outputs& outputs, Shutdown& shutdown);
  ~ReferenceReader();  // Stop()
  ReferenceReader(const ReferenceReader&) = delete;
  ReferenceReader& operator=(const ReferenceReader&) = delete;

  // Makes the reader's consumer and reads both topics to their ends (pipeline.catalog_load_timeout)
  // before the first events are consumed.
  Result<bool, std::string> Load(KafkaTransport& transport);
  // Follows both topics on the catalog thread until Stop.
  void Start();
  void Stop();

 private:
  void Loop();
  // Applies a message (items or model statistics; errors other than a partition's end are
  // logged); true when it changed the catalog.
  bool Apply(stream::KafkaMessage msg);
  void ApplyItem(const ConsumedMessage& msg);
  // Keeps one topics.model_stats record as its partition's latest (or dead-letters it).
  void ApplyModelStats(const ConsumedMessage& msg);
  void PublishCatalog();
  void PublishModelStats();

  const Config& config_;
  const model::EngineOptions& engine_options_;
  PipelineStats& stats_;
  RateLimitedWarnings& warnings_;
  References& references_;
  Outputs& outputs_;
  Shutdown& shutdown_;
  stream::KafkaHandle consumer_;
  std::unique_ptr<model::CatalogBuilder> builder_;  // the catalog thread's
  std::map<std::int32_t, std::shared_ptr<const model::PartitionStats>> records_;  // same
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace recsd::daemon
