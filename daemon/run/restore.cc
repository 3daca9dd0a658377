// Worker: taking a partition over: fencing off its previous owners, then restoring its user
// state before any of its events is handled.

#include <array>
#include <limits>

#include <spdlog/spdlog.h>

#include "daemon/run/worker.h"
#include "state/changelog_fence.h"
#include "state/user_state_codec.h"

namespace recsd::daemon {

// Appends this owner's fence to changelog partition p; FinishFence waits for its offset, which
// becomes the partition's epoch (state/changelog_fence.h): from here on, nothing a previous owner
// still writes counts in a restore. Null, or false, when it was not acknowledged (a stop, a
// failed delivery, which fails the pipeline). Apart, so that the fences of all the partitions
// assigned at once wait for their acknowledgements together.
std::shared_ptr<OutputBatch> Worker::StartFence(std::int32_t p, Partition& part) {
  auto batch = part.tracker.Open(std::numeric_limits<std::int64_t>::max());
  const std::array<MessageHeader, 1> headers{{{state::kFenceHeader, "1"}}};
  OutgoingRecord m;
  m.topic = ctx_.config.topics.changelog;
  m.partition = p;
  m.key = state::kFenceKey;
  m.value = state::kFenceValue;
  m.headers = headers;
  if (!ctx_.outputs.Produce(
          m, std::make_unique<Delivery>(Delivery{batch, ChangelogOutput{part.changelog_end}}))) {
    return nullptr;
  }
  return batch;
}

bool Worker::FinishFence(Partition& part, const std::shared_ptr<OutputBatch>& batch) {
  if (batch == nullptr) return false;
  while (batch->outstanding.load() > 0 && !batch->failed.load() && !ctx_.shutdown.stopping()) {
    ctx_.clock.SleepFor(std::chrono::milliseconds(1));
  }
  if (batch->outstanding.load() > 0 || batch->failed.load()) return false;
  part.epoch = part.changelog_end->load() - 1;
  part.epoch_text = std::to_string(part.epoch);
  return true;
}

// Restores partition p, its fence acknowledged: its snapshot (state.dir), if there is a usable one,
// then the changelog from the snapshot's offset (or from its beginning) to its end, skipping what
// fenced-off owners wrote. A record of a newer state version stops the pipeline: a newer recsd
// wrote it, and going on would silently drop state. False when the restore did not finish (a stop,
// a failure, or a newer owner's fence already: the partition is not this instance's any more): the
// partition must not be used.
bool Worker::Restore(std::int32_t p, Partition& part) {
  const Clock::Steady::time_point start = ctx_.clock.Now();
  std::int64_t from = kFromBeginning;
  state::ChangelogFence fence;
  if (const auto snapshot = LoadSnapshot(p, part)) {
    from = snapshot->changelog_offset;
    fence = state::ChangelogFence(snapshot->epoch);
  }
  const std::size_t from_snapshot = part.engine->users();
  std::uint64_t records = 0;
  ChangelogRead read = ReadChangelog(p, part, from, fence, &records);
  if (read == ChangelogRead::kOutOfRange) {
    // The snapshot is ahead of the changelog (the topic was recreated?): it cannot be trusted.
    spdlog::warn(
        "partition {}: the snapshot's changelog offset {} is out of range of {} [{}]; "
        "ignoring the snapshot and reading the whole changelog",
        p, from, ctx_.config.topics.changelog, p);
    ctx_.stats.snapshots_ignored.fetch_add(1, std::memory_order_relaxed);
    FreshEngine(part);
    fence = state::ChangelogFence();
    read = ReadChangelog(p, part, kFromBeginning, fence, &records);
  }
  if (read != ChangelogRead::kDone) return false;
  if (fence.fence() > part.epoch) {
    spdlog::warn(
        "partition {}: another owner fenced the changelog at offset {}, after this one's fence at "
        "{}; giving the partition up",
        p, fence.fence(), part.epoch);
    return false;
  }
  part.engine->TakeChanged();  // what was restored is in the changelog already
  part.snapshot_end = from == kFromBeginning ? -1 : from;
  spdlog::info(
      "partition {}: restored {} users ({} from the snapshot) and {} changelog records in {} ms "
      "(epoch {})",
      p, part.engine->users(), from_snapshot, records,
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.clock.Now() - start).count(),
      part.epoch);
  return true;
}

// Reads partition p of the changelog from `from` to its end into the partition's engine and
// sets the partition's changelog end. Fence records move `fence` and count as no record.
ChangelogRead Worker::ReadChangelog(std::int32_t p, Partition& part, std::int64_t from,
                                    state::ChangelogFence& fence, std::uint64_t* records) {
  std::int64_t end = 0;
  const ChangelogRead read = ctx_.transport.ReadChangelog(
      p, from,
      [&](const ConsumedMessage& msg) {
        if (msg.Header(state::kFenceHeader)) {
          fence.Fence(msg.offset);
          return true;
        }
        ++*records;
        ctx_.stats.restored_records.fetch_add(1, std::memory_order_relaxed);
        return RestoreRecord(p, part, fence, msg);
      },
      &end);
  if (read == ChangelogRead::kDone) part.changelog_end->store(end);
  return read;
}

// One changelog record of a user: its latest state, or a tombstone. A record of an owner fenced
// off before it is skipped. False (the pipeline failed) for a record of a newer state version.
bool Worker::RestoreRecord(std::int32_t p, Partition& part, state::ChangelogFence& fence,
                           const ConsumedMessage& msg) {
  const std::string& topic = ctx_.config.topics.changelog;
  if (const std::optional<std::string_view> text = msg.Header(state::kEpochHeader)) {
    const std::optional<std::int64_t> epoch = state::ParseEpoch(*text);
    if (!epoch || !fence.Admit(*epoch)) {
      ctx_.stats.restore_fenced.fetch_add(1, std::memory_order_relaxed);
      ctx_.warnings.Warn("restore-fenced",
                         "restore of {} [{}] at offset {}: written by an owner fenced off at "
                         "offset {} (epoch {}); skipped",
                         topic, p, msg.offset, fence.fence(), *text);
      return true;
    }
  }
  const UserId user(msg.key.value_or(std::string_view()));
  if (!msg.value) {
    part.engine->EraseUser(user);
    return true;
  }
  auto decoded = state::DecodeUserState(*msg.value, part.engine->catalog());
  if (!decoded) {
    if (decoded.error().unsupported_version) {
      ctx_.shutdown.Fail(fmt::format("restore of {} [{}] at offset {}: {}", topic, p, msg.offset,
                                     decoded.error().message));
      return false;
    }
    ctx_.warnings.Warn("restore-corrupt",
                       "restore of {} [{}] at offset {}: {}; that user starts fresh", topic, p,
                       msg.offset, decoded.error().message);
    part.engine->EraseUser(user);
    return true;
  }
  if (!part.engine->RestoreUser(decoded->user, std::move(decoded->state))) {
    ctx_.warnings.Warn("restore-shape",
                       "restore of {} [{}]: a user state of another shape (model settings "
                       "changed?); that user starts fresh",
                       topic, p);
  }
  return true;
}

}  // namespace recsd::daemon
