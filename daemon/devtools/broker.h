#pragma once

#include <string>
#include <vector>

#include "daemon/config/config.h"

namespace recsd::daemon {

// `recsd broker`: serves librdkafka's mock cluster on loopback until SIGTERM or SIGINT, for
// development and tests (never production: see stream/mock_broker.h). Prints the bootstrap list
// as the first line of stdout and, when asked, writes it to a file (atomically, so a waiting
// script never reads half of it).
struct BrokerOptions {
  int brokers = 1;
  std::vector<std::string> topics;  // "name:partitions"; none = the recsd topics of the config
  int partitions = 8;  // of the recsd events, recommendations and changelog topics (the default)
  std::string bootstrap_file;
  // Fault commands (stream/mock_faults.h), one per line, from this file, FIFO or "-" (stdin),
  // applied as they arrive; each is answered on stdout with "fault N: LINE" once injected, or
  // "fault N failed: REASON". A FIFO is opened for reading and writing, so writers may come and
  // go; a file or stdin is read to its end.
  std::string control;
};

int BrokerCommand(const BrokerOptions& options, const Config& config);

}  // namespace recsd::daemon
