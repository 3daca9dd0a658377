#include "model/seen_items.h"

#include "model/text_embedder.h"

namespace recsd::model {

std::uint32_t SeenItems::Fingerprint(const ItemId& item) {
  return static_cast<std::uint32_t>(MixedHash64(item.str()) >> 32);
}

bool SeenItems::Add(std::uint32_t fingerprint, std::size_t capacity) {
  const auto at = std::lower_bound(fingerprints_.begin(), fingerprints_.end(), fingerprint);
  if (at != fingerprints_.end() && *at == fingerprint) return false;
  if (fingerprints_.size() >= capacity) return false;
  fingerprints_.insert(at, fingerprint);
  return true;
}

bool SeenItems::Restore(std::vector<std::uint32_t> sorted, std::size_t capacity) {
  if (sorted.size() > capacity) return false;
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (!(sorted[i - 1] < sorted[i])) return false;
  }
  fingerprints_ = std::move(sorted);
  return true;
}

}  // namespace recsd::model
