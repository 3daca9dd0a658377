#include "stream/mock_broker.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace recsd::stream {

// The mock cluster belongs to a client handle: destroy the cluster first, then the handle.
struct MockBroker::Handles {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~Handles() {
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

MockBroker::MockBroker(std::unique_ptr<Handles> handles, std::string bootstrap, int brokers,
                       std::vector<Topic> topics)
    : handles_(std::move(handles)),
      bootstrap_(std::move(bootstrap)),
      brokers_(brokers),
      topics_(std::move(topics)) {}

MockBroker::~MockBroker() = default;

Result<std::unique_ptr<MockBroker>, std::string> MockBroker::Start(
    int brokers, const std::vector<Topic>& topics) {
  if (brokers < 1 || brokers > 16) {
    return Fail("a mock cluster has 1 to 16 brokers, not " + std::to_string(brokers));
  }
  auto handles = std::make_unique<Handles>();
  char errstr[512] = "";
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only owns the cluster; it connects to nothing (and need not say so: warnings and
  // errors only).
  for (const auto& [key, value] :
       {std::pair{"client.id", "recsd-mock-broker"}, std::pair{"log_level", "4"}}) {
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Fail(std::string("mock broker configuration: ") + errstr);
    }
  }
  handles->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (handles->rk == nullptr) {  // conf is still ours on failure
    rd_kafka_conf_destroy(conf);
    return Fail(std::string("cannot create the mock broker's client handle: ") + errstr);
  }
  handles->cluster = rd_kafka_mock_cluster_new(handles->rk, brokers);
  if (handles->cluster == nullptr) {
    return Fail(std::string("cannot start a mock cluster of ") + std::to_string(brokers) +
                " brokers (no free loopback port?)");
  }
  const int replication = brokers < 3 ? brokers : 3;
  for (const Topic& t : topics) {
    const rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(handles->cluster, t.name.c_str(), t.partitions, replication);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Fail("cannot create topic " + t.name + ": " + rd_kafka_err2str(err));
    }
  }
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(handles->cluster);
  return std::unique_ptr<MockBroker>(
      new MockBroker(std::move(handles), std::move(bootstrap), brokers, topics));
}

Result<bool, std::string> MockBroker::Inject(const MockFault& fault) {
  using Kind = MockFault::Kind;
  const bool leaderless = fault.kind == Kind::kLeader && fault.broker == -1;
  const bool names_broker = fault.kind != Kind::kNone && fault.kind != Kind::kErrors &&
                            fault.kind != Kind::kClear && !leaderless;
  if (names_broker && (fault.broker < 1 || fault.broker > brokers_)) {
    return Fail("no broker " + std::to_string(fault.broker) + " (the cluster has brokers 1 to " +
                std::to_string(brokers_) + ")");
  }
  if (fault.kind == Kind::kLeader) {
    const auto topic = std::find_if(topics_.begin(), topics_.end(),
                                    [&](const Topic& t) { return t.name == fault.topic; });
    if (topic == topics_.end() || fault.partition >= topic->partitions) {
      return Fail("no partition " + fault.topic + "[" + std::to_string(fault.partition) +
                  "] in this cluster");
    }
  }
  rd_kafka_mock_cluster_t* c = handles_->cluster;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  switch (fault.kind) {
    case Kind::kNone:
      break;
    case Kind::kDown:
      err = rd_kafka_mock_broker_set_down(c, fault.broker);
      break;
    case Kind::kUp:
      err = rd_kafka_mock_broker_set_up(c, fault.broker);
      break;
    case Kind::kRtt:
      err = rd_kafka_mock_broker_set_rtt(c, fault.broker, fault.rtt_ms);
      break;
    case Kind::kErrors: {
      std::vector<rd_kafka_resp_err_t> errors;
      errors.reserve(fault.errors.size());
      for (int e : fault.errors) errors.push_back(static_cast<rd_kafka_resp_err_t>(e));
      rd_kafka_mock_push_request_errors_array(c, fault.api, errors.size(), errors.data());
      break;
    }
    case Kind::kClear:
      rd_kafka_mock_clear_request_errors(c, fault.api);
      break;
    case Kind::kLeader:
      err =
          rd_kafka_mock_partition_set_leader(c, fault.topic.c_str(), fault.partition, fault.broker);
      break;
    case Kind::kCoordinator:
      err =
          rd_kafka_mock_coordinator_set(c, fault.key_type.c_str(), fault.key.c_str(), fault.broker);
      break;
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return Fail(std::string(rd_kafka_err2str(err)));
  return true;
}

Result<MockBroker::Topic, std::string> ParseTopicSpec(const std::string& spec) {
  const std::size_t colon = spec.rfind(':');
  MockBroker::Topic topic;
  if (colon == std::string::npos || colon == 0) {
    return Fail("--topic \"" + spec + "\" is not name:partitions");
  }
  topic.name = spec.substr(0, colon);
  const char* first = spec.data() + colon + 1;
  const char* last = spec.data() + spec.size();
  const auto [end, ec] = std::from_chars(first, last, topic.partitions);
  if (ec != std::errc() || end != last || first == last || topic.partitions < 1 ||
      topic.partitions > 10000) {
    return Fail("--topic \"" + spec + "\": partitions must be a number from 1 to 10000");
  }
  for (char c : topic.name) {
    const bool legal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '_' || c == '-';
    if (!legal || topic.name.size() > 249) {
      return Fail("--topic \"" + spec +
                  "\": a topic name has at most 249 of a-z, A-Z, 0-9, '.', '_' and '-'");
    }
  }
  return topic;
}

}  // namespace recsd::stream
