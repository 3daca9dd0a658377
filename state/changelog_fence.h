#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace recsd::state {

// Fencing a partition's changelog against an owner that lost it without knowing (a paused
// process, a frozen VM: its group session expired and another instance took the partition over).
//
// Each new owner of partition p first appends a fence record to changelog partition p and waits
// for its offset F: F is the owner's epoch. Every user state record it writes afterwards carries
// F in the header kEpochHeader, and so does every snapshot it writes. A restore reads the
// changelog in order and keeps the latest fence seen; a record whose epoch is below that fence
// was written by an owner fenced off by then (it was enqueued before the owner learned its loss,
// or after) and is skipped. Fences are strictly increasing (later records have larger offsets),
// so of two owners the later always wins, whatever the order their records arrive in after it.
//
// The fence record: key kFenceKey (no user id is empty, so it never shadows a user; compaction
// keeps the newest fence, which is the only one that matters to records after it), header
// kFenceHeader, a short non-empty value (a null value would be a tombstone).
inline constexpr std::string_view kFenceKey = "";
inline constexpr std::string_view kFenceHeader = "recsd.fence";
inline constexpr std::string_view kFenceValue = "recsd changelog fence";
inline constexpr std::string_view kEpochHeader = "recsd.epoch";

// The epoch of a record without kEpochHeader (written before fencing existed): it counts only
// until the first fence.
inline constexpr std::int64_t kNoEpoch = -1;

// The epoch in a kEpochHeader value; nothing when it is not a decimal number.
inline std::optional<std::int64_t> ParseEpoch(std::string_view text) {
  std::int64_t epoch = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), epoch);
  if (ec != std::errc() || end != text.data() + text.size() || epoch < 0) return std::nullopt;
  return epoch;
}

// The newest fence in force while a changelog partition is read in order, and whether a record
// of a given epoch still counts. A record's epoch is a fence too: its owner had fenced the
// partition at that offset, so anything of an older epoch after it is stale, even when
// compaction has removed the fence record itself (only the newest fence survives it). A record
// without an epoch (an earlier recsd, e.g. in a rolling upgrade) always counts.
class ChangelogFence {
 public:
  // `start`: the fence in force where the read begins (the epoch of the snapshot it starts from,
  // kNoEpoch at the beginning of the partition).
  explicit ChangelogFence(std::int64_t start = kNoEpoch) : fence_(start) {}

  // A fence record at `offset`.
  void Fence(std::int64_t offset) {
    if (offset > fence_) fence_ = offset;
  }
  // Whether a record of `epoch` counts (and if so, its epoch is in force from here on).
  bool Admit(std::int64_t epoch) {
    if (epoch < fence_) return false;
    fence_ = epoch;
    return true;
  }
  std::int64_t fence() const { return fence_; }

 private:
  std::int64_t fence_;
};

}  // namespace recsd::state
