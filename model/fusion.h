#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/catalog.h"
#include "model/recommendation.h"

namespace recsd::model {

// The fused feature vector x: one score per configured source feature (model/sources/registry.h
// names them; an engine's configuration says which, in which order). Fixed capacity, so a
// candidate's features are one flat array; entries past the configured count stay 0.
inline constexpr std::size_t kMaxSources = 16;
using FeatureVector = std::array<float, kMaxSources>;

// A candidate item and every source's score for it. Before NormaliseFeatures x holds raw scores;
// after it, each source's score on a common [0, 1] scale within the candidate set.
struct Candidate {
  std::uint32_t row = 0;
  FeatureVector x{};
};

// How each source's raw scores are put on the common [0, 1] scale of x, per list.
enum class Normalisation : std::uint8_t {
  // x_s ← max(0, x_s) / max over candidates of max(0, x_s): the best candidate of each source at 1.
  // Keeps the shape of each source's scores, so a heavy-tailed source (co-visit counts) squeezes
  // everything but its first few candidates towards 0.
  kMax,
  // x_s ← max(0, 1 − r_s/n) for a candidate whose raw score is positive and is the r_s-th best
  // (0-based, ties share the better rank) among the candidates, else 0; n = the candidates each
  // source offers. Only the order within a source matters (a Borda count): sources with very
  // different score distributions (cosines, decayed counts, recency) weigh the same per rank,
  // whatever their units and tails. The default.
  kRank,
  // x_s ← 60/(60 + r_s) for a candidate with a positive raw score, r_s as above, else 0:
  // reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009, whose k = 60 was chosen
  // across TREC collections), scaled so a source's best candidate is at 1. Falls fast over the
  // first ranks and slowly after, like the evidence of most sources.
  kReciprocalRank,
};

// Normalises the first `features` scores of x, in place (see Normalisation). Per list, so that
// no source dominates by its units: 0 means "this source gives the candidate nothing".
void NormaliseFeatures(std::vector<Candidate>* candidates, std::size_t features,
                       Normalisation normalisation = Normalisation::kMax,
                       std::size_t rank_scale = 100);

// The weights of the fused score w·x, with the version written into every list (`model`).
struct FusionWeights {
  std::array<double, kMaxSources> w{};
  std::uint64_t version = 0;
};

struct RankOptions {
  std::size_t k = 20;
  enum class Diversity { kNone, kMmr, kCategoryCap } diversity = Diversity::kNone;
  // MMR (Carbonell & Goldstein, SIGIR 1998): pick argmax λ·score − (1 − λ)·max cos(item, picked).
  double mmr_lambda = 0.8;
  // Category cap: at most this many items of one category.
  std::size_t category_cap = 3;
};

// Ranks normalised candidates by w·x: drops those `keep` rejects (seen, unavailable: the caller
// decides) and repeated rows, diversifies as configured, keeps k. Each item carries its score and
// the contribution w_s·x_s of every feature with a non-zero one, named by `names` (one per
// feature: the fused vector's length), as its explanation; the contributions sum to the score.
// Ties go to the lower row, so the result is deterministic.
std::vector<RecommendedItem> Rank(const std::vector<Candidate>& candidates,
                                  const FusionWeights& weights, std::span<const std::string> names,
                                  const Catalog& catalog, const RankOptions& options,
                                  const std::function<bool(std::uint32_t row)>& keep);

}  // namespace recsd::model
