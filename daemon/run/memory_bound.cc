// Worker: keeping the instance's user state under state.max_bytes.

#include "daemon/run/worker.h"

namespace recsd::daemon {

// state.max_bytes: when the instance's users take more, every partition of this worker is cut
// to an equal share of 90% of the bound (90% so it does not evict at every measurement). Equal
// shares need no fresh figures from the other workers, so one round of measurements brings
// the instance under the bound; a partition with more active users than its share loses its
// least active ones even if others have room. Returns how many users were evicted.
std::size_t Worker::BoundMemory() {
  const Config::State& cap = ctx_.config.state;
  const std::int64_t total = ctx_.stats.user_state_bytes.load();
  const std::int64_t assigned = std::max<std::int64_t>(1, ctx_.stats.assigned_partitions.load());
  if (cap.max_bytes == 0 || total <= static_cast<std::int64_t>(cap.max_bytes)) return 0;
  const auto share = static_cast<std::size_t>(0.9 * static_cast<double>(cap.max_bytes) /
                                              static_cast<double>(assigned));
  std::size_t evicted = 0;
  for (auto& [p, part] : partitions_) {
    const model::EvictionCounts n = part.engine->Evict(share, part.now, cap.negligible_mass);
    ctx_.stats.evicted_negligible.fetch_add(n.negligible, std::memory_order_relaxed);
    ctx_.stats.evicted_lru.fetch_add(n.lru, std::memory_order_relaxed);
    evicted += n.negligible + n.lru;
    Report(p, part, /*bytes=*/true);
  }
  if (evicted > 0) {
    ctx_.warnings.Warn("evict", "state.max_bytes ({} bytes) reached: evicted {} users",
                       cap.max_bytes, evicted);
  }
  return evicted;
}

}  // namespace recsd::daemon
