// Worker: restoring a partition's user state before any of its events is handled.

#include <spdlog/spdlog.h>

#include "daemon/run/worker.h"
#include "state/user_state_codec.h"

namespace recsd::daemon {

// Restores partition p: its snapshot (state.dir), if there is a usable one, then the changelog
// from the snapshot's offset (or from its beginning) to its end. A record of a newer state
// version stops the pipeline: a newer recsd wrote it, and going on would silently drop state.
// False when the restore did not finish (a stop, a failure): the partition must not be used.
bool Worker::Restore(std::int32_t p, Partition& part) {
  if (!ctx_.config.state.changelog) return true;
  const Clock::Steady::time_point start = ctx_.clock.Now();
  std::int64_t from = kFromBeginning;
  if (const auto covered = LoadSnapshot(p, part)) from = *covered;
  const std::size_t from_snapshot = part.engine->users();
  std::uint64_t records = 0;
  ChangelogRead read = ReadChangelog(p, part, from, &records);
  if (read == ChangelogRead::kOutOfRange) {
    // The snapshot is ahead of the changelog (the topic was recreated?): it cannot be trusted.
    spdlog::warn(
        "partition {}: the snapshot's changelog offset {} is out of range of {} [{}]; "
        "ignoring the snapshot and reading the whole changelog",
        p, from, ctx_.config.topics.changelog, p);
    ctx_.stats.snapshots_ignored.fetch_add(1, std::memory_order_relaxed);
    FreshEngine(part);
    read = ReadChangelog(p, part, kFromBeginning, &records);
  }
  if (read != ChangelogRead::kDone) return false;
  part.engine->TakeChanged();  // what was restored is in the changelog already
  part.snapshot_end = from == kFromBeginning ? -1 : from;
  spdlog::info(
      "partition {}: restored {} users ({} from the snapshot) and {} changelog records in {} ms", p,
      part.engine->users(), from_snapshot, records,
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.clock.Now() - start).count());
  return true;
}

// Reads partition p of the changelog from `from` to its end into the partition's engine and
// sets the partition's changelog end.
ChangelogRead Worker::ReadChangelog(std::int32_t p, Partition& part, std::int64_t from,
                                    std::uint64_t* records) {
  std::int64_t end = 0;
  const ChangelogRead read = ctx_.transport.ReadChangelog(
      p, from,
      [&](const ConsumedMessage& msg) {
        ++*records;
        ctx_.stats.restored_records.fetch_add(1, std::memory_order_relaxed);
        return RestoreRecord(p, part, msg);
      },
      &end);
  if (read == ChangelogRead::kDone) part.changelog_end->store(end);
  return read;
}

// One changelog record: the user's latest state, or a tombstone. False (the pipeline failed)
// for a record of a newer state version.
bool Worker::RestoreRecord(std::int32_t p, Partition& part, const ConsumedMessage& msg) {
  const std::string& topic = ctx_.config.topics.changelog;
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
