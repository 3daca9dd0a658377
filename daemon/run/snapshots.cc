// Worker: snapshots of a partition's user state in state.dir (written at intervals and at
// hand-over, loaded at the start of a restore).

#include <filesystem>

#include <spdlog/spdlog.h>

#include "daemon/run/worker.h"
#include "state/snapshot.h"
#include "state/user_state_codec.h"

namespace recsd::daemon {

// Loads partition p's snapshot into its (empty) engine: of the partition's snapshot files, the
// one of the newest epoch (an owner fenced off may have written an older one later; it never
// replaces the newer). Returns its header (the changelog offset it covers and its epoch), or
// nullopt (and an empty engine) when there is none or it cannot be used: one covering changelog
// records past this owner's own fence was written by an owner fenced off.
std::optional<state::SnapshotHeader> Worker::LoadSnapshot(std::int32_t p, Partition& part) {
  const Config::State& cfg = ctx_.config.state;
  if (cfg.dir.empty()) return std::nullopt;
  std::optional<std::int64_t> newest;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(cfg.dir, ec)) {
    const auto epoch =
        state::SnapshotEpochOf(entry.path().filename().string(), ctx_.config.topics.changelog, p);
    if (epoch && (!newest || *epoch > *newest)) newest = epoch;
  }
  if (!newest) return std::nullopt;
  const std::string path = SnapshotPath(p, *newest);
  std::vector<state::DecodedUserState> users;
  std::string problem;
  auto header =
      state::ReadSnapshot(path, ctx_.config.topics.changelog, p, [&](std::string_view record) {
        if (!problem.empty()) return;
        auto decoded = state::DecodeUserState(record, part.engine->catalog());
        if (decoded) {
          users.push_back(std::move(decoded).value());
        } else {
          problem =
              fmt::format("snapshot {}: user {}: {}", path, users.size(), decoded.error().message);
        }
      });
  if (!header) problem = header.error();
  if (problem.empty()) {
    const std::int64_t age = ctx_.clock.WallMs() - header->written_ms;
    if (age > cfg.snapshot_max_age.count()) {
      problem = fmt::format("snapshot {}: written {} s ago, more than state.snapshot_max_age", path,
                            age / 1000);
    } else if (part.epoch >= 0 && header->changelog_offset > part.epoch) {
      problem = fmt::format(
          "snapshot {}: covers the changelog to offset {}, past this owner's fence at {}: its "
          "writer had been fenced off",
          path, header->changelog_offset, part.epoch);
    }
  }
  for (state::DecodedUserState& u : users) {
    if (!problem.empty()) break;
    if (!part.engine->RestoreUser(u.user, std::move(u.state))) {
      problem =
          fmt::format("snapshot {}: a user state of another shape (model settings changed?)", path);
    }
  }
  if (!problem.empty()) {
    spdlog::warn("partition {}: {}; snapshot ignored, reading the whole changelog", p, problem);
    ctx_.stats.snapshots_ignored.fetch_add(1, std::memory_order_relaxed);
    if (part.engine->users() > 0) FreshEngine(part);
    return std::nullopt;
  }
  ctx_.stats.snapshots_loaded.fetch_add(1, std::memory_order_relaxed);
  return *header;
}

std::string Worker::SnapshotPath(std::int32_t p, std::int64_t epoch) const {
  return (std::filesystem::path(ctx_.config.state.dir) /
          state::SnapshotFileName(ctx_.config.topics.changelog, p, epoch))
      .string();
}

// Removes partition p's snapshot files of epochs before `epoch` (a newer one was just written).
void Worker::RemoveOlderSnapshots(std::int32_t p, std::int64_t epoch) const {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(ctx_.config.state.dir, ec)) {
    const auto older =
        state::SnapshotEpochOf(entry.path().filename().string(), ctx_.config.topics.changelog, p);
    if (older && *older < epoch) std::filesystem::remove(entry.path(), ec);
  }
}

// Writes partition p's snapshot (state.dir), unless nothing reached the changelog since the
// last one. Every changelog record below the acknowledged end was produced from state this
// snapshot has or has moved past, so a restore reads the changelog from that end on. A failure
// is logged and counted; the changelog still holds everything.
void Worker::WriteSnapshot(std::int32_t p, Partition& part) {
  part.last_snapshot = ctx_.clock.Now();
  if (ctx_.config.state.dir.empty()) return;
  const std::int64_t end = part.changelog_end->load();
  if (end == part.snapshot_end) return;
  const Clock::Steady::time_point start = ctx_.clock.Now();
  const std::vector<UserId> users = part.engine->UserIds();
  state::SnapshotHeader header{
      ctx_.config.topics.changelog, p, end, ctx_.clock.WallMs(), users.size(), part.epoch};
  auto writer = state::SnapshotWriter::Create(SnapshotPath(p, part.epoch), header);
  Result<std::uint64_t, std::string> bytes =
      writer ? Result<std::uint64_t, std::string>(0) : Fail(writer.error());
  if (writer) {
    const model::Catalog& catalog = part.engine->catalog();
    for (const UserId& user : users) {
      writer->Add(state::EncodeUserState(user, *part.engine->ExportUser(user), catalog));
    }
    bytes = writer->Commit();
  }
  if (!bytes) {
    ctx_.stats.snapshot_failures.fetch_add(1, std::memory_order_relaxed);
    ctx_.warnings.Warn("snapshot", "partition {}: snapshot not written: {}", p, bytes.error());
    return;
  }
  part.snapshot_end = end;
  RemoveOlderSnapshots(p, part.epoch);
  ctx_.stats.snapshots_written.fetch_add(1, std::memory_order_relaxed);
  spdlog::info(
      "partition {}: snapshot of {} users ({} bytes, changelog offset {}) in {} ms", p,
      users.size(), *bytes, end,
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.clock.Now() - start).count());
}

}  // namespace recsd::daemon
