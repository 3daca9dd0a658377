#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "daemon/config/config.h"
#include "model/recommendation.h"
#include "model/result.h"

namespace recsd::daemon {

// `recsd loadgen`: a synthetic workload for a running recsd, so the whole loop runs live.
//
// Catalog: `items` items in `clusters` clusters (an embedding near the cluster's direction, the
// cluster as category, a random age), produced to topics.items. Users: each has a current
// interest cluster that drifts (with probability `drift` per event it moves to another cluster);
// events (mostly views, some add_to_cart and purchases) of items of the current cluster, keyed by
// user, msgpack, event time = wall time, at `rate` per second. Clicks: it reads topics.
// recommendations and examines each new list top-down like a user (cascade): an item of the
// user's current cluster is clicked with probability `click_in_cluster`, any other with
// `click_other`, at most one click per list; a click names the list's `rec` and position. A list
// is looked at with probability `examine`, and a user clicks at most once per `click_cooldown_s`
// (a click makes a new list: without these the audience would click on every refresh).
struct LoadgenOptions {
  std::string bootstrap;  // empty: kafka.bootstrap.servers of the configuration
  double rate = 500;      // events per second (clicks come on top)
  int users = 1000;
  int items = 2000;
  int clusters = 20;
  double duration_s = 0;     // 0: until stopped
  std::uint64_t events = 0;  // stop after this many interest events; 0: no limit
  std::uint64_t seed = 1;
  double drift = 0.02;
  double click_in_cluster = 0.1;
  double click_other = 0.005;
  double examine = 0.5;
  double click_cooldown_s = 5;
  bool catalog = true;  // produce the catalog first
  // Share of events that are deliberately unusual, one kind after another at random: truncated
  // bytes, a missing item, an unsupported schema version, a key that is not the user (these four
  // are dead-lettered), an event 10 minutes late, and a `forget`. 0: none.
  double faults = 0;
};

struct LoadgenStats {
  std::atomic<std::uint64_t> events{0};  // interest events produced
  std::atomic<std::uint64_t> faults{0};  // unusual events produced (LoadgenOptions::faults)
  std::atomic<std::uint64_t> items{0};
  std::atomic<std::uint64_t> lists_seen{0};
  std::atomic<std::uint64_t> clicks{0};
  std::atomic<std::uint64_t> delivery_failures{0};
};

class Loadgen {
 public:
  // Connects, produces the catalog (and waits until it is acknowledged), then starts producing
  // events and clicking. An error says what failed.
  static Result<std::unique_ptr<Loadgen>, std::string> Start(const LoadgenOptions& options,
                                                             const Config& config);
  ~Loadgen();  // Stop(), then waits for its threads
  Loadgen(const Loadgen&) = delete;
  Loadgen& operator=(const Loadgen&) = delete;

  void Stop() noexcept;
  // True once the duration has passed, the events were all produced or Stop() was called.
  bool done() const noexcept;
  // Waits for the threads; flushes what was produced.
  void Wait();

  const LoadgenStats& stats() const noexcept;
  // The latest list served to `sample_user()` (the first user), if any came yet.
  std::optional<RecommendationList> SampleList() const;
  static const char* sample_user() { return "u0"; }

  struct Impl;

 private:
  explicit Loadgen(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `recsd loadgen ...`: runs until the duration has passed or SIGTERM/SIGINT; prints a summary.
int LoadgenCommand(const LoadgenOptions& options, const Config& config);

}  // namespace recsd::daemon
