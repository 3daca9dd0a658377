#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_set>

#include "model/ids.h"

namespace recsd::model {

// Prequential ("test, then learn") ranking quality: before the engine learns from an interaction,
// the caller asks where the item stands in the list the user was last served. Hit rate is the
// share of interactions whose item was in the top k; the reciprocal rank is 1/(rank + 1) and the
// discounted gain 1/log2(rank + 2) for a hit at 0-based rank, 0 for a miss (with one relevant
// item, the ideal DCG is 1, so this is NDCG); their means are MRR and NDCG. Coverage is the share
// of the catalog that appeared in any served top k.
class PrequentialEvaluator {
 public:
  explicit PrequentialEvaluator(std::size_t k) : k_(k) {}

  // Records one interaction with `item` given the user's current list (best first). Returns the
  // rank when the item is in the top k.
  std::optional<std::size_t> Evaluate(std::span<const ItemId> list, const ItemId& item);
  // Records a served list for coverage (its top k).
  void Served(std::span<const ItemId> list);

  std::size_t k() const noexcept { return k_; }
  std::uint64_t evaluated() const noexcept { return evaluated_; }
  std::uint64_t hits() const noexcept { return hits_; }
  double HitRate() const noexcept { return Mean(hits_); }
  double Ndcg() const noexcept { return Mean(dcg_); }
  double Mrr() const noexcept { return Mean(rr_); }
  double Coverage(std::size_t catalog_size) const noexcept;

 private:
  double Mean(double total) const noexcept {
    return evaluated_ == 0 ? 0.0 : total / static_cast<double>(evaluated_);
  }

  std::size_t k_;
  std::uint64_t evaluated_ = 0;
  std::uint64_t hits_ = 0;
  double dcg_ = 0;
  double rr_ = 0;
  std::unordered_set<ItemId> served_;
};

}  // namespace recsd::model
