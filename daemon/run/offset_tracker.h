#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace recsd::daemon {

// Outputs produced together (the lists of one refresh, or dead letters) that stand for input
// events from offset `floor` on. Delivery reports (on the producer's poll thread) count them
// down; the worker that made the batch reads it. Shared by the worker's tracker and every
// in-flight message of the batch.
struct OutputBatch {
  explicit OutputBatch(std::int64_t floor_offset) : floor(floor_offset) {}
  const std::int64_t floor;
  std::atomic<std::int64_t> outstanding{0};  // produced, not yet acknowledged
  std::atomic<bool> failed{false};           // an output of it was not delivered
};

// Which input offset of one partition may be committed, under the at-least-once rule: an offset
// is committed only when every output caused by the events before it is acknowledged (or
// dead-lettered and acknowledged). Owned by the worker of the partition; one thread.
//
// The events below the committable offset are all handled (applied, skipped or dead-lettered),
// none of them belongs to a user still dirty (its list not yet produced), and none is covered by
// an output batch still in flight.
class OffsetTracker {
 public:
  // The worker has handled the message at `offset` (messages of a partition come in order).
  void Handled(std::int64_t offset) { next_ = std::max(next_.value_or(0), offset + 1); }

  // A new batch for outputs standing for events from `floor` on. The caller adds one to
  // `outstanding` per message it produces for it.
  std::shared_ptr<OutputBatch> Open(std::int64_t floor) {
    batches_.push_back(std::make_shared<OutputBatch>(floor));
    return batches_.back();
  }

  // The offset to store (the next message to consume after a restart), given the lowest offset of
  // a user still dirty; nothing before the first handled message. Forgets acknowledged batches.
  std::optional<std::int64_t> Committable(std::optional<std::int64_t> oldest_dirty) {
    if (!next_) return std::nullopt;
    std::int64_t committable = *next_;
    if (oldest_dirty) committable = std::min(committable, *oldest_dirty);
    std::erase_if(batches_, [](const std::shared_ptr<OutputBatch>& b) {
      return b->outstanding.load(std::memory_order_acquire) == 0 &&
             !b->failed.load(std::memory_order_acquire);
    });
    for (const auto& b : batches_) committable = std::min(committable, b->floor);
    return committable;
  }

  // True when some output was not delivered: nothing at or after its floor can ever be committed
  // by this process.
  bool failed() const {
    return std::any_of(batches_.begin(), batches_.end(),
                       [](const auto& b) { return b->failed.load(std::memory_order_acquire); });
  }
  // Outputs still in flight.
  std::int64_t outstanding() const {
    std::int64_t n = 0;
    for (const auto& b : batches_) n += b->outstanding.load(std::memory_order_acquire);
    return n;
  }

 private:
  std::optional<std::int64_t> next_;
  std::vector<std::shared_ptr<OutputBatch>> batches_;
};

}  // namespace recsd::daemon
