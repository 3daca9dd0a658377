#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "model/ids.h"

namespace recsd::model {

// The items a user has interacted with, for the seen filter: none of them is recommended to the
// user again, however long ago (README, "Seen filter"). A sorted vector of 32-bit fingerprints
// of the item ids, 4 bytes an item; membership is a binary search. Two ids can share a
// fingerprint: for a user with n items a candidate is wrongly taken for seen with probability
// n/2^32 (2.3e-7 at 1,000 items, 2.3e-6 at 10,000; measured in tests/model/seen_items_test.cc
// and benchmarks/), which hides that one candidate from that user. Bounded: at most `capacity`
// items; past it new items are not added (full() says so, and the engine then also filters the
// user's recent items). One writer, like the user state that holds it.
class SeenItems {
 public:
  // The fingerprint of an item id: the high 32 bits of a 64-bit mix of its bytes.
  static std::uint32_t Fingerprint(const ItemId& item);

  // Adds the fingerprint; false when it was there already or the set holds `capacity` items.
  bool Add(std::uint32_t fingerprint, std::size_t capacity);
  bool Contains(std::uint32_t fingerprint) const {
    return std::binary_search(fingerprints_.begin(), fingerprints_.end(), fingerprint);
  }
  bool full(std::size_t capacity) const noexcept { return fingerprints_.size() >= capacity; }
  std::size_t size() const noexcept { return fingerprints_.size(); }

  // Sorted ascending, no repeats: the changelog's form.
  std::span<const std::uint32_t> fingerprints() const noexcept { return fingerprints_; }
  // Replaces the set; false (and nothing changed) when `sorted` is not strictly ascending or
  // holds more than `capacity`.
  bool Restore(std::vector<std::uint32_t> sorted, std::size_t capacity);
  std::size_t HeapBytes() const noexcept {
    return fingerprints_.capacity() * sizeof(std::uint32_t);
  }

  friend bool operator==(const SeenItems&, const SeenItems&) = default;

 private:
  std::vector<std::uint32_t> fingerprints_;
};

}  // namespace recsd::model
