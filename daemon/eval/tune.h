#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/eval/replay.h"
#include "model/engine.h"

namespace recsd::daemon {

// What `replay --tune` searches with: every evaluated interaction of one replay with the static
// weights, as the candidates of the list the interaction was tested against. Learning off, the
// candidates and their normalised features do not depend on the weights (only their order
// does), so the hit rate, NDCG and MRR of any other weights follow exactly from the table: the
// item's rank is the number of candidates that score above it, or equal and of a lower row, as
// model::Rank orders them. An interaction whose item was not a candidate is a miss for every
// weight vector and takes no space; of the others only the candidates that some non-negative
// weights could put above the item are kept (those with a feature above the item's, and those of
// a lower row, which equal scores put above it).
class CandidateTable final : public ReplayObserver {
 public:
  CandidateTable(std::size_t features, std::size_t k) : features_(features), k_(k) {}

  void Ranked(const UserId& user, const model::Catalog& catalog,
              std::span<const model::Candidate> candidates) override;
  void Evaluating(const UserId& user, const ItemId& item) override;

  struct Quality {
    double hit_rate = 0;
    double ndcg = 0;
    double mrr = 0;
  };
  // The prequential quality of ranking by `weights` (by feature).
  Quality Evaluate(const model::FusionWeights& weights) const;

  std::size_t features() const noexcept { return features_; }
  std::uint64_t interactions() const noexcept { return interactions_; }
  std::size_t reachable() const noexcept { return entries_.size(); }  // item among candidates
  std::size_t rows_kept() const noexcept { return rows_.size(); }

 private:
  struct Latest {
    std::vector<std::uint32_t> rows;
    std::vector<float> x;  // rows × features
  };
  struct Entry {
    std::size_t first = 0;  // into rows_ and (× features) x_: the item first, then its rivals
    std::size_t count = 0;
  };

  std::size_t features_;
  std::size_t k_;
  const model::Catalog* catalog_ = nullptr;
  std::unordered_map<UserId, Latest> latest_;
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> rows_;
  std::vector<float> x_;
  std::uint64_t interactions_ = 0;
};

struct TuneReport {
  std::vector<std::string> features;
  model::FusionWeights start;  // the configured static weights
  CandidateTable::Quality start_quality;
  model::FusionWeights best;
  CandidateTable::Quality best_quality;
  std::uint64_t evaluations = 0;
  std::uint64_t interactions = 0;
  std::size_t reachable = 0;
  ReplayReport record;    // the replay that recorded the table (the configured weights)
  ReplayReport verified;  // a replay with the best weights
  nlohmann::ordered_json ToJson() const;
};

// Searches the static weights on the table: coordinate search from the configured weights (each
// weight in turn tried at 0, at multiples of itself and at a grid of absolute values, the best
// kept, until a pass improves nothing; at most `passes`), then `random` log-uniform vectors
// (seeded) each refined the same way; the best by hit rate, ties by NDCG. Weights only matter
// relative to each other. Deterministic for a seed.
TuneReport TuneWeights(const CandidateTable& table, const model::FusionWeights& start,
                       std::uint64_t seed, std::size_t passes = 4, std::size_t random = 8);

}  // namespace recsd::daemon
