#include "model/evaluation.h"

#include <algorithm>
#include <cmath>

namespace recsd::model {

std::optional<std::size_t> PrequentialEvaluator::Evaluate(std::span<const ItemId> list,
                                                          const ItemId& item) {
  ++evaluated_;
  const std::size_t n = std::min(k_, list.size());
  for (std::size_t rank = 0; rank < n; ++rank) {
    if (list[rank] == item) {
      ++hits_;
      dcg_ += 1.0 / std::log2(static_cast<double>(rank) + 2.0);
      rr_ += 1.0 / (static_cast<double>(rank) + 1.0);
      return rank;
    }
  }
  return std::nullopt;
}

void PrequentialEvaluator::Served(std::span<const ItemId> list) {
  const std::size_t n = std::min(k_, list.size());
  for (std::size_t i = 0; i < n; ++i) served_.insert(list[i]);
}

double PrequentialEvaluator::Coverage(std::size_t catalog_size) const noexcept {
  return catalog_size == 0
             ? 0.0
             : static_cast<double>(served_.size()) / static_cast<double>(catalog_size);
}

}  // namespace recsd::model
