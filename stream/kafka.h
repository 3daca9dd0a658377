#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/result.h"

namespace recsd::stream {

// Owning handles for librdkafka objects, so no path can leak or double-free one.
struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const noexcept { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_conf_t* conf) const noexcept { rd_kafka_conf_destroy(conf); }
  void operator()(rd_kafka_queue_t* queue) const noexcept { rd_kafka_queue_destroy(queue); }
  void operator()(rd_kafka_message_t* message) const noexcept { rd_kafka_message_destroy(message); }
  void operator()(rd_kafka_topic_partition_list_t* list) const noexcept {
    rd_kafka_topic_partition_list_destroy(list);
  }
  void operator()(rd_kafka_error_t* error) const noexcept { rd_kafka_error_destroy(error); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using KafkaQueue = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using KafkaMessage = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using KafkaError = std::unique_ptr<rd_kafka_error_t, KafkaDeleter>;

// A librdkafka configuration with `properties` set in order. An error names the property and
// librdkafka's reason (values are never repeated: they may be secrets).
Result<KafkaConf, std::string> MakeKafkaConf(const std::map<std::string, std::string>& properties);

// Creates a client of `type` from `conf` (consumed on success and on failure).
Result<KafkaHandle, std::string> MakeKafkaClient(rd_kafka_type_t type, KafkaConf conf);

struct KafkaHeader {
  std::string_view name;
  std::string_view value;
};

// What one produced message is: topic, partition (RD_KAFKA_PARTITION_UA: the partitioner
// decides by key), key, value (nothing: a tombstone), headers. Bytes are copied.
struct OutgoingMessage {
  std::string_view topic;
  std::int32_t partition = RD_KAFKA_PARTITION_UA;
  std::string_view key;
  std::optional<std::string_view> value;
  std::span<const KafkaHeader> headers;
  void* opaque = nullptr;  // handed to the delivery report callback
};

// Enqueues one message. NO_ERROR: the delivery report callback will see it (success or failure);
// __QUEUE_FULL: the producer's queue is full (poll and retry); anything else is permanent for this
// message (e.g. unknown topic, message too large) and no report will come.
rd_kafka_resp_err_t Produce(rd_kafka_t* producer, const OutgoingMessage& message);

// Partition counts of `topics` from the cluster's metadata, waiting up to `timeout_ms`, or until
// `stop()` (asked every 200 ms, when given) says to give up. An error says which topic is missing
// or why metadata could not be fetched.
Result<std::map<std::string, int>, std::string> PartitionCounts(
    rd_kafka_t* client, const std::vector<std::string>& topics, int timeout_ms,
    const std::function<bool()>& stop = {});

}  // namespace recsd::stream
