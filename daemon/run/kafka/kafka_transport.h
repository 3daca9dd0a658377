#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/base/mutex.h"
#include "daemon/base/rate_limited_warnings.h"
#include "daemon/config/config.h"
#include "daemon/run/pipeline_stats.h"
#include "daemon/run/shutdown.h"
#include "daemon/run/transport.h"
#include "model/result.h"
#include "stream/kafka.h"

namespace recsd::daemon {

// A consumed librdkafka message as the pipeline sees it (it takes ownership); `with_headers`:
// with its headers, as views into it.
ConsumedMessage FromKafka(stream::KafkaMessage msg, bool with_headers = false);

// Destroys a consumer without closing it: an assign-only consumer has nothing to commit, and a
// close would wait for unreachable brokers without a deadline.
void DestroyWithoutClose(stream::KafkaHandle rk);

// The Transport of `recsd run` on librdkafka: an idempotent producer with its poll thread
// (delivery reports), the group consumer of topics.events (offsets stored by recsd, committed by
// auto-commit and at close; cooperative or eager rebalances), and assign-only changelog readers
// for restores, one per concurrent restore, kept for the next. librdkafka's error, statistics and
// commit callbacks count into PipelineStats; a fatal error fails the pipeline.
class KafkaTransport final : public Transport {
 public:
  // Makes the producer and starts its poll thread. `events` must be set before anything is
  // produced or polled, and outlive the transport.
  static Result<std::unique_ptr<KafkaTransport>, std::string> Create(const Config& config,
                                                                     PipelineStats& stats,
                                                                     RateLimitedWarnings& warnings,
                                                                     Shutdown& shutdown,
                                                                     const TransportEvents& events);
  ~KafkaTransport() override;
  KafkaTransport(const KafkaTransport&) = delete;
  KafkaTransport& operator=(const KafkaTransport&) = delete;

  // librdkafka configuration: kafka.* of the config, then `overrides`, with recsd's log and
  // error callbacks.
  Result<stream::KafkaConf, std::string> MakeConf(
      const std::map<std::string, std::string>& overrides);
  // Partition counts of `topics` (metadata through the producer).
  Result<std::map<std::string, int>, std::string> PartitionCounts(
      const std::vector<std::string>& topics);
  // Makes the group consumer and subscribes it to topics.events.
  Result<bool, std::string> Subscribe();
  // Closes the group consumer (commits the stored offsets) by `deadline`; false when it did not
  // close in time (it is destroyed all the same).
  bool CloseConsumer(Clock::Steady::time_point deadline);
  // Waits for the producer's queue to drain until `deadline`, then stops its poll thread and
  // purges what is left (their delivery reports free their records). False when messages were
  // left undelivered.
  bool FlushProducer(Clock::Steady::time_point deadline);

  ProduceResult Produce(const OutgoingRecord& record, void* opaque) override;
  std::optional<ConsumedMessage> Poll(std::chrono::milliseconds timeout) override;
  void Pause(std::span<const std::int32_t> partitions) override;
  void Resume(std::span<const std::int32_t> partitions) override;
  bool StoreOffset(std::int32_t partition, std::int64_t next) override;
  std::optional<std::int64_t> EndOffset(std::int32_t partition) override;
  ChangelogRead ReadChangelog(std::int32_t partition, std::int64_t from,
                              const ChangelogVisitor& record, std::int64_t* end) override;

 private:
  KafkaTransport(const Config& config, PipelineStats& stats, RateLimitedWarnings& warnings,
                 Shutdown& shutdown, const TransportEvents& events);
  stream::PartitionList EventsPartitions(std::span<const std::int32_t> partitions) const;
  void Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  void GiveBack(rd_kafka_topic_partition_list_t* partitions);
  stream::KafkaHandle TakeRestoreConsumer();
  ChangelogRead ReadChangelogWith(rd_kafka_t* rk, std::int32_t partition, std::int64_t from,
                                  const ChangelogVisitor& record, std::int64_t* end);

  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void OnCommit(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* offsets, void* opaque);
  static int OnStats(rd_kafka_t* rk, char* json, std::size_t json_len, void* opaque);
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);

  const Config& config_;
  PipelineStats& stats_;
  RateLimitedWarnings& warnings_;
  Shutdown& shutdown_;
  const TransportEvents& events_;
  // Declared after what their callbacks use: no callback outlives its handle.
  stream::KafkaHandle producer_;
  stream::KafkaHandle consumer_;
  std::thread producer_thread_;
  std::atomic<bool> producer_stop_{false};
  Mutex restore_mu_;
  std::vector<stream::KafkaHandle> idle_restore_consumers_ GUARDED_BY(restore_mu_);
};

}  // namespace recsd::daemon
