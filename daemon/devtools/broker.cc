#include "daemon/devtools/broker.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <spdlog/spdlog.h>

#include "daemon/base/exit_codes.h"
#include "daemon/base/lifecycle.h"
#include "stream/mock_broker.h"

namespace recsd::daemon {
namespace {

// Writes `text` to `path` through a temporary file in the same directory and a rename.
bool WriteAtomically(const std::string& path, const std::string& text) {
  const std::filesystem::path target(path);
  const std::filesystem::path tmp = target.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, target, ec);
  return !ec;
}

}  // namespace

int BrokerCommand(const BrokerOptions& options, const Config& config) {
  std::vector<stream::MockBroker::Topic> topics;
  for (const std::string& spec : options.topics) {
    auto topic = stream::ParseTopicSpec(spec);
    if (!topic) {
      spdlog::error("recsd broker: {}", topic.error());
      return kExitUsage;
    }
    topics.push_back(std::move(topic).value());
  }
  if (topics.empty()) {
    // The changelog has the events topic's partition count (state moves with its partition);
    // the catalog, dead letters and model statistics need no parallelism here.
    const Config::Topics& t = config.topics;
    topics = {{t.events, options.partitions},
              {t.recommendations, options.partitions},
              {t.changelog, options.partitions},
              {t.items, 1},
              {t.dlq, 1},
              {t.model_stats, 1}};
  }
  const StopSignals signals;  // before librdkafka starts its threads

  auto broker = stream::MockBroker::Start(options.brokers, topics);
  if (!broker) {
    spdlog::error("recsd broker: {}", broker.error());
    return kExitFailure;
  }
  const std::string& bootstrap = (*broker)->bootstrap();
  // The file first: whoever reads the line on stdout can rely on the file too.
  if (!options.bootstrap_file.empty() &&
      !WriteAtomically(options.bootstrap_file, bootstrap + "\n")) {
    spdlog::error("recsd broker: cannot write the bootstrap list to {}", options.bootstrap_file);
    return kExitFailure;
  }
  std::cout << bootstrap << std::endl;  // the first line of stdout, flushed
  std::string names;
  for (const auto& t : topics) {
    names += (names.empty() ? "" : ", ") + t.name + ":" + std::to_string(t.partitions);
  }
  spdlog::info(
      "broker: {} mock broker(s) at {}; topics {}. For development and tests only: librdkafka's "
      "mock cluster keeps ~5 MiB per partition and neither compacts nor isolates transactions",
      options.brokers, bootstrap, names);
  const char* signal = nullptr;
  while ((signal = signals.Wait(std::chrono::seconds(1))) == nullptr) {
  }
  spdlog::info("broker: {} received, stopping", signal);
  broker->reset();
  if (!options.bootstrap_file.empty()) {
    std::error_code ec;
    std::filesystem::remove(options.bootstrap_file, ec);  // it names ports that are closed now
  }
  return kExitOk;
}

}  // namespace recsd::daemon
