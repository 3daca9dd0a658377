#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/result.h"

namespace recsd::stream {

// One fault for a running mock cluster (MockBroker::Inject; `recsd broker --control`), written as
// one line of text:
//
//   down BROKER                          the broker closes its connections and refuses new ones
//                                        (its partitions keep it as leader: they are unavailable)
//   up BROKER                            it serves again
//   rtt BROKER MS                        each of its responses is delayed by MS (0: none)
//   errors API ERROR[*N][,ERROR[*N]...]  the next requests of API, on any broker, fail with these
//                                        errors in order (ERROR*N: N times)
//   clear API                            drops the errors still queued for API
//   leader TOPIC PARTITION BROKER        moves the partition's leader (-1: no leader)
//   coordinator group|txn KEY BROKER     moves the coordinator of a group or transactional id
//
// BROKER is a mock broker id (1..brokers). API is a Kafka API name (Produce, Fetch, OffsetCommit,
// JoinGroup, ...; see KafkaApiKey) or key number; ERROR a Kafka error name as librdkafka spells it
// without its prefix (NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT, NOT_COORDINATOR, ...) or code.
// A line that is empty or starts with '#' is no fault (ParseMockFault says kNone).
struct MockFault {
  enum class Kind { kNone, kDown, kUp, kRtt, kErrors, kClear, kLeader, kCoordinator };
  Kind kind = Kind::kNone;
  int32_t broker = 0;       // down, up, rtt, leader (-1: none), coordinator
  int rtt_ms = 0;           // rtt
  int16_t api = 0;          // errors, clear
  std::vector<int> errors;  // errors: Kafka error codes, in the order they are returned
  std::string topic;        // leader
  int32_t partition = 0;    // leader
  std::string key_type;     // coordinator: "group" or "transaction"
  std::string key;          // coordinator
};

// Parses one line; an error says what is wrong with it.
Result<MockFault, std::string> ParseMockFault(std::string_view line);

// A Kafka API key by its protocol name (case-insensitive) or number (0..999); -1 if unknown.
int KafkaApiKey(std::string_view name);

}  // namespace recsd::stream
