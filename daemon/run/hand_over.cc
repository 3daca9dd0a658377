// Worker: handing a partition over on revoke and at shutdown, and dropping a lost one.

#include <spdlog/spdlog.h>
#include "daemon/run/worker.h"

namespace recsd::daemon {

// Everything of partition p done: refreshed, acknowledged (or the deadline passed), offset
// stored, snapshot written; then its state is dropped (the next owner restores it).
void Worker::HandOver(std::int32_t p) {
  auto it = partitions_.find(p);
  if (it == partitions_.end()) return;
  Partition& part = it->second;
  Refresh(p, part, /*flush=*/true);
  Flush(p, part);
  PublishStats(p, part);  // for the next owner
  const Clock::Steady::time_point give_up =
      ctx_.shutdown.DeadlineOr(ctx_.config.pipeline.shutdown_timeout);
  while (part.tracker.outstanding() > 0 && !part.tracker.failed() && ctx_.clock.Now() < give_up) {
    ctx_.clock.SleepFor(std::chrono::milliseconds(2));
  }
  Store(p, part);
  // The next owner, or this instance after a restart, restores from here.
  if (part.tracker.outstanding() == 0 && !part.tracker.failed()) WriteSnapshot(p, part);
  if (part.tracker.outstanding() > 0) {
    spdlog::warn(
        "partition {}: {} outputs not acknowledged in time; their events will be "
        "consumed again",
        p, part.tracker.outstanding());
  }
  Release(it, ctx_.stats.evicted_revoke);
}

// Partition p belongs to another member already: its state is dropped as it is. Nothing is
// refreshed, published, written to the changelog, snapshotted or stored: the new owner restored
// the partition from the changelog, and anything from here would be older than its own. Outputs
// already enqueued may still arrive; the changelog fence (state/changelog_fence.h) keeps the
// records among them out of every later restore.
void Worker::Drop(std::int32_t p) {
  auto it = partitions_.find(p);
  if (it == partitions_.end()) return;
  spdlog::warn("partition {}: lost; {} users dropped without handing over", p,
               it->second.engine->users());
  Release(it, ctx_.stats.evicted_lost);
}

// Takes the partition's users out of the pipeline's counters (counting them in `evicted`) and
// erases it.
void Worker::Release(std::map<std::int32_t, Partition>::iterator it,
                     std::atomic<std::uint64_t>& evicted) {
  const std::int32_t p = it->first;
  Partition& part = it->second;
  Report(p, part, /*bytes=*/false);
  const auto users = static_cast<std::int64_t>(part.engine->users());
  users_reported_ -= users;
  ctx_.stats.users.fetch_sub(users, std::memory_order_relaxed);
  ctx_.stats.user_state_bytes.fetch_sub(part.bytes, std::memory_order_relaxed);
  evicted.fetch_add(static_cast<std::uint64_t>(users), std::memory_order_relaxed);
  partitions_.erase(it);
}

}  // namespace recsd::daemon
