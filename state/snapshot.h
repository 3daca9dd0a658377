#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "model/result.h"

namespace recsd::state {

// Snapshot files: the state of one partition's users at a point of its changelog, so a restore
// reads only the changelog after that point. A snapshot is an optimisation, never the truth: a
// restore without one (or past a bad one) reads the whole changelog and ends in the same state.
//
// File layout (one file per changelog partition and writer's epoch,
// "<topic>-<partition>.<epoch>.snapshot" in state.dir):
//   header   msgpack map {format: "recsd-snapshot", v: kSnapshotVersion, topic, partition,
//            changelog_offset, written_ms, users, epoch}
//   users ×  msgpack bin, each one user state record (EncodeUserState)
//   trailer  0xcf and 8 bytes big-endian: FNV-1a 64 of every byte before the trailer
// `changelog_offset`: every changelog record below it is reflected in the snapshot (the state is
// as new as, or newer than, each of them), so restoring reads the changelog from there on.
// `epoch`: the writer's changelog fence (state/changelog_fence.h); a file without it (written
// before fencing existed) reads as kNoEpoch. The epoch in the file name keeps an owner that was
// fenced off from replacing a newer owner's snapshot: a restore takes the newest epoch.
inline constexpr std::int64_t kSnapshotVersion = 1;

struct SnapshotHeader {
  std::string topic;  // the changelog topic
  std::int32_t partition = 0;
  std::int64_t changelog_offset = 0;
  std::int64_t written_ms = 0;  // wall time of the writer
  std::uint64_t users = 0;
  std::int64_t epoch = -1;  // kNoEpoch
};

// The file name of a partition's snapshot within the state directory.
std::string SnapshotFileName(std::string_view topic, std::int32_t partition, std::int64_t epoch);
// The epoch in `name` when it is a snapshot file name of `topic` and `partition`: the epoch of
// SnapshotFileName, or kNoEpoch for the name without an epoch that earlier versions wrote.
std::optional<std::int64_t> SnapshotEpochOf(std::string_view name, std::string_view topic,
                                            std::int32_t partition);

// Writes a snapshot: the records go to a temporary file beside `path` (buffered, no whole copy
// in memory), which is fsynced, renamed over `path`, and the directory fsynced, so `path` is
// always either the previous snapshot or the new one, never a mix. `header.users` must be the
// number of Add calls.
class SnapshotWriter {
 public:
  static Result<SnapshotWriter, std::string> Create(const std::string& path,
                                                    const SnapshotHeader& header);
  SnapshotWriter(SnapshotWriter&& other) noexcept;
  SnapshotWriter& operator=(SnapshotWriter&&) = delete;
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;
  ~SnapshotWriter();  // without Commit: the temporary file is removed

  // Appends one user state record; an error (a failed write) is kept and returned by Commit.
  void Add(std::string_view record);
  // Finishes the file; returns its size in bytes, or what failed (nothing is renamed then).
  Result<std::uint64_t, std::string> Commit();

 private:
  SnapshotWriter(std::string path, std::string tmp_path, int fd);
  void Write(std::string_view bytes);
  void Drain();

  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  std::string buffer_;
  std::uint64_t hash_;
  std::uint64_t bytes_ = 0;
  std::uint64_t expected_ = 0;
  std::uint64_t added_ = 0;
  std::string error_;
};

// Reads a snapshot: checks the trailer's checksum over the whole file first, then the header
// (format, version, and that it is of `topic` and `partition`), then calls `record` for each user
// state record, in file order. Nothing is passed to `record` unless the whole file checked out.
// An error says what is wrong (missing, truncated, checksum mismatch, another version...).
Result<SnapshotHeader, std::string> ReadSnapshot(
    const std::string& path, std::string_view topic, std::int32_t partition,
    const std::function<void(std::string_view record)>& record);

}  // namespace recsd::state
