#pragma once

#include <cstdint>

#include "daemon/config/config.h"

namespace recsd::daemon {

// `recsd demo`: everything in one process with no set-up: librdkafka's mock cluster on loopback
// with the recsd topics, the load generator (daemon/devtools/loadgen.h) and the pipeline of `recsd
// run`, with a live view on stdout (redrawn in place on a terminal, one block per refresh
// otherwise) until Ctrl-C, SIGTERM or the duration.
struct DemoOptions {
  double rate = 300;  // events per second
  int users = 500;
  int items = 2000;
  int partitions = 4;
  double duration_s = 0;  // 0: until stopped
  std::uint64_t seed = 1;
  double faults = 0.005;  // share of unusual events (LoadgenOptions::faults): every path shows
  double view_interval_s = 1;
};

// Returns the exit code: 0 when everything stopped cleanly.
int DemoCommand(const DemoOptions& options, Config config);

}  // namespace recsd::daemon
