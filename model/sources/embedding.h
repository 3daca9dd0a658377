#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "model/retrieval.h"
#include "model/sources/source.h"

namespace recsd::model {

struct EmbeddingOptions {
  // Weights of the user's interest components (UserStateOptions::half_lives) in the short- and
  // long-term interest vectors (SetInterestKernels fills them).
  std::vector<double> short_mix = {1.0, 0.0};
  std::vector<double> long_mix = {0.0, 1.0};
};

// `emb_short` and `emb_long`: the cosine of the user's short- and long-term interest vectors (the
// decayed sums of the embeddings of the items they interacted with, UserState) with each item's
// embedding. Offers each vector's nearest items by brute force over the catalog matrix, one scan
// for the whole batch of users being refreshed.
class EmbeddingSource final : public Source {
 public:
  static constexpr std::string_view kName = "embedding";
  EmbeddingSource(const EmbeddingOptions& options, std::size_t dim);

  std::string_view name() const noexcept override { return kName; }
  std::span<const std::string_view> features() const noexcept override;
  void Prepare(std::span<const RankUser> users, const RankContext& ctx) override;
  void Offer(std::size_t feature, const RankUser& user, const RankContext& ctx,
             CandidateSink& sink) override;
  void Score(std::size_t feature, const RankUser& user, const RankContext& ctx,
             std::span<Candidate> candidates, std::size_t x) override;

 private:
  std::span<const float> Vector(std::size_t user, std::size_t feature) const;

  EmbeddingOptions options_;
  std::size_t dim_;
  // The batch being ranked: two unit vectors per user (short, long; all zero when absent), and
  // each scanned vector's nearest rows.
  std::vector<float> vectors_;
  std::vector<bool> has_vector_;
  std::vector<std::size_t> top_of_;  // vector index → index in tops_, or kNone
  std::vector<std::vector<ScoredRow>> tops_;
};

}  // namespace recsd::model
