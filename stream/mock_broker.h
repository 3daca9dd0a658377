#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/result.h"
#include "stream/mock_faults.h"

namespace recsd::stream {

// librdkafka's mock cluster (rdkafka_mock.h): Kafka brokers in this process, on 127.0.0.1 with
// ports chosen by the system, speaking the Kafka protocol to any client (produce, fetch, consumer
// groups, idempotent producers, headers). For development and tests only: it keeps about 5 MiB
// or 100,000 message sets per partition, does not compact, and does not isolate transactions
// (../shared/FIELD_NOTES.md). Serves until destroyed.
class MockBroker {
 public:
  struct Topic {
    std::string name;
    int partitions = 1;
  };

  // Starts `brokers` brokers (1 to 16) and creates the topics (replication factor: the broker
  // count, at most 3). An error says what failed.
  static Result<std::unique_ptr<MockBroker>, std::string> Start(int brokers,
                                                                const std::vector<Topic>& topics);
  ~MockBroker();
  MockBroker(const MockBroker&) = delete;
  MockBroker& operator=(const MockBroker&) = delete;

  // "127.0.0.1:PORT,127.0.0.1:PORT,...": the bootstrap.servers of a client.
  const std::string& bootstrap() const noexcept { return bootstrap_; }
  int brokers() const noexcept { return brokers_; }

  // Injects a fault (stream/mock_faults.h) into the running cluster; from any thread. An error
  // says why it was not injected (an unknown broker, or a topic or partition Start did not
  // create). kNone does nothing.
  Result<bool, std::string> Inject(const MockFault& fault);

 private:
  struct Handles;
  MockBroker(std::unique_ptr<Handles> handles, std::string bootstrap, int brokers,
             std::vector<Topic> topics);

  std::unique_ptr<Handles> handles_;
  std::string bootstrap_;
  int brokers_;
  std::vector<Topic> topics_;  // as created (the mock would create a topic a fault names)
};

// Parses "name:partitions" (partitions 1 to 10000). An error names the bad part.
Result<MockBroker::Topic, std::string> ParseTopicSpec(const std::string& spec);

}  // namespace recsd::stream
