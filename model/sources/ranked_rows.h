#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace recsd::model {

// Keeps the n best (row, value) pairs, best first by value, ties by the lower row: the order of
// every candidate list a source offers.
inline void SortAndTruncate(std::vector<std::pair<std::uint32_t, double>>* scored, std::size_t n) {
  const auto better = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  const std::size_t k = std::min(n, scored->size());
  std::partial_sort(scored->begin(), scored->begin() + static_cast<std::ptrdiff_t>(k),
                    scored->end(), better);
  scored->resize(k);
}

inline std::vector<std::uint32_t> Rows(
    const std::vector<std::pair<std::uint32_t, double>>& scored) {
  std::vector<std::uint32_t> rows;
  rows.reserve(scored.size());
  for (const auto& [row, value] : scored) rows.push_back(row);
  return rows;
}

// Weights summed per catalog row for one user at a time, over a catalog-sized array that is all
// zero between users: Add is O(1), the touched rows are remembered, Clear resets only those. The
// scratch of the graph sources (co-visits, transitions), which gather their neighbours' weights.
class RowWeights {
 public:
  void Resize(std::size_t rows) {
    weight_.assign(rows, 0.0);
    touched_.clear();
  }
  void Add(std::uint32_t row, double w) {
    if (!(w > 0)) return;
    if (weight_[row] == 0.0) touched_.push_back(row);
    weight_[row] += w;
  }
  double operator[](std::uint32_t row) const { return weight_[row]; }
  // The touched rows with their weights, the n best, best first.
  std::vector<std::pair<std::uint32_t, double>> Best(std::size_t n) const {
    std::vector<std::pair<std::uint32_t, double>> scored;
    scored.reserve(touched_.size());
    for (std::uint32_t row : touched_) scored.emplace_back(row, weight_[row]);
    SortAndTruncate(&scored, n);
    return scored;
  }
  void Clear() {
    for (std::uint32_t row : touched_) weight_[row] = 0.0;
    touched_.clear();
  }

 private:
  std::vector<double> weight_;
  std::vector<std::uint32_t> touched_;
};

}  // namespace recsd::model
