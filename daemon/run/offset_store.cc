// Worker: storing a partition's committable offset.

#include <algorithm>
#include "daemon/run/worker.h"

namespace recsd::daemon {

// Stores the partition's offset for the next commit when it moved: the lowest of the next
// unhandled offset, the oldest event of a user still dirty (its list not yet produced), the
// first event whose state change is not yet in the changelog, and the floor of every output
// batch still in flight (OffsetTracker). At-least-once: an offset is never stored before
// everything the events below it caused is acknowledged.
void Worker::Store(std::int32_t p, Partition& part) {
  std::optional<std::int64_t> hold = part.engine->OldestDirtyOffset();
  if (part.unflushed_since)
    hold = std::min(hold.value_or(*part.unflushed_since), *part.unflushed_since);
  const std::optional<std::int64_t> committable = part.tracker.Committable(hold);
  if (!committable || committable == part.stored) return;
  if (ctx_.transport.StoreOffset(p, *committable)) part.stored = committable;
}

}  // namespace recsd::daemon
