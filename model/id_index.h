#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "model/check.h"
#include "model/ids.h"

namespace recsd::model {

// An index from keys (item ids) to the numbers an owner keeps them under (the item graph's nodes,
// the learned vectors' slots, the popularity counter's entries), for the per-event path: an
// open-addressing table of (hash, number) pairs, 8 bytes each, probed linearly, so a lookup reads
// one or two adjacent slots and then the one id it matches (std::unordered_map reads a bucket, a
// separately allocated node and the id in it: two or three cache misses). The keys stay with the
// owner: every call takes `id_of` (number → const Key&) to compare, so the index holds no second
// copy. Erase shifts later entries back (no tombstones), so a table that churns does not fill up.
// At most half full. Single writer; no locking. A number must be below UINT32_MAX.
template <class Key, class Hash = std::hash<Key>>
class FlatIndex {
 public:
  std::size_t size() const noexcept { return size_; }

  template <class IdOf>
  std::optional<std::uint32_t> Find(const Key& id, IdOf&& id_of) const {
    if (size_ == 0) return std::nullopt;
    const std::uint32_t h = HashOf(id);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.number == kEmpty) return std::nullopt;
      if (s.hash == h && id_of(s.number) == id) return s.number;
    }
  }

  // Adds id → number; the id must not be in the index.
  void Insert(const Key& id, std::uint32_t number) {
    RECSD_CHECK(number != kEmpty, "id index number");
    if (2 * (size_ + 1) > slots_.size()) Grow();
    Place({HashOf(id), number});
    ++size_;
  }

  // Removes the id (nothing when it is not there).
  template <class IdOf>
  void Erase(const Key& id, IdOf&& id_of) {
    if (size_ == 0) return;
    const std::uint32_t h = HashOf(id);
    std::size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.number == kEmpty) return;
      if (s.hash == h && id_of(s.number) == id) break;
    }
    // Backward shift: move up every later entry of the run that may sit in the freed slot.
    for (std::size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
      const Slot s = slots_[j];
      if (s.number == kEmpty) break;
      const std::size_t home = s.hash & mask_;
      // s may move to i when its home is not in the cyclic range (i, j].
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (!stays) {
        slots_[i] = s;
        i = j;
      }
    }
    slots_[i] = Slot{};
    --size_;
  }

  std::size_t HeapBytes() const noexcept { return slots_.capacity() * sizeof(Slot); }

  void Clear() {
    slots_.clear();
    mask_ = 0;
    size_ = 0;
  }

 private:
  static constexpr std::uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    std::uint32_t hash = 0;
    std::uint32_t number = kEmpty;
  };

  static std::uint32_t HashOf(const Key& id) {
    const std::size_t h = Hash{}(id);
    return static_cast<std::uint32_t>(h ^ (h >> 32));
  }

  void Place(Slot s) {
    std::size_t i = s.hash & mask_;
    while (slots_[i].number != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }

  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 16 : 2 * old.size(), Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.number != kEmpty) Place(s);
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

using IdIndex = FlatIndex<ItemId>;

}  // namespace recsd::model
