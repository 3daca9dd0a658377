#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/result.h"

namespace recsd::stream {

// What recsd takes from one librdkafka statistics document (statistics.interval.ms, stats_cb;
// librdkafka's STATISTICS.md): consumer lag per assigned partition of one topic, round-trip time
// per broker, and the producer's queue.
struct KafkaStats {
  struct PartitionLag {
    std::int32_t partition = 0;
    std::int64_t lag = 0;  // messages
  };
  struct BrokerRtt {
    std::int32_t node_id = 0;
    double avg_seconds = 0;  // over the statistics window
  };
  std::string type;                  // "consumer" or "producer"
  std::vector<PartitionLag> lags;    // partitions of the topic with a known lag (not -1)
  std::vector<BrokerRtt> brokers;    // real brokers (node id >= 0) with RTT samples
  std::int64_t queued_messages = 0;  // msg_cnt: messages in the producer's queues
};

// Parses a statistics document; `topic` selects whose partitions' lag is read. An error names
// what was wrong (the document is librdkafka's, so this means a version that changed its shape).
Result<KafkaStats, std::string> ParseKafkaStats(std::string_view json, std::string_view topic);

}  // namespace recsd::stream
