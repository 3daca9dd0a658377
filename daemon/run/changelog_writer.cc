// Worker: writing changed user states to the changelog.

#include <array>
#include <limits>

#include "daemon/run/worker.h"
#include "state/changelog_fence.h"
#include "state/user_state_codec.h"

namespace recsd::daemon {

// Writes the state of every user changed since the last flush to the changelog (same
// partition, key = user id, a tombstone for a user gone, each with the owner's epoch); the input
// offsets from the first unflushed event on stay uncommitted until these writes are
// acknowledged.
void Worker::Flush(std::int32_t p, Partition& part) {
  part.last_flush = ctx_.clock.Now();
  if (!ctx_.config.state.changelog) {
    part.unflushed_since.reset();
    return;
  }
  const std::vector<UserId> changed = part.engine->TakeChanged();
  if (changed.empty()) {
    part.unflushed_since.reset();
    return;
  }
  auto batch =
      part.tracker.Open(part.unflushed_since.value_or(std::numeric_limits<std::int64_t>::max()));
  part.unflushed_since.reset();
  const model::Catalog& catalog = part.engine->catalog();
  const std::array<MessageHeader, 1> epoch{{{state::kEpochHeader, part.epoch_text}}};
  for (const UserId& user : changed) {
    OutgoingRecord m;
    m.topic = ctx_.config.topics.changelog;
    m.partition = p;
    if (part.epoch >= 0) m.headers = epoch;
    m.key = user.str();
    std::string value;
    if (const auto state = part.engine->ExportUser(user)) {
      value = state::EncodeUserState(user, *state, catalog);
      m.value = value;
      ctx_.stats.changelog_upserts.fetch_add(1, std::memory_order_relaxed);
    } else {
      ctx_.stats.changelog_tombstones.fetch_add(1, std::memory_order_relaxed);
    }
    if (!ctx_.outputs.Produce(
            m, std::make_unique<Delivery>(Delivery{batch, ChangelogOutput{part.changelog_end}}))) {
      return;
    }
  }
}

}  // namespace recsd::daemon
