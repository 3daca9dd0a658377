#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "model/retrieval.h"
#include "model/sources/learned_vectors.h"
#include "model/sources/source.h"

namespace recsd::model {

struct EmbeddingOptions {
  // The weights of the user's interest components (UserStateOptions::half_lives) in the short-
  // and long-term interest vectors (SetInterestKernels fills them).
  std::vector<double> short_mix = {1.0, 0.0};
  std::vector<double> long_mix = {0.0, 1.0};
  LearnedVectorOptions learned;
};

// `emb_short` and `emb_long`: the cosine of the user's short- and long-term interest vectors with
// each item's vector. Offers each interest vector's nearest items: by brute force, one scan for
// the whole batch of users being refreshed, or, when the catalog has a nearest-neighbour index,
// from the index (IndexedTopNBatch; the rows of learned vectors, which the index does not hold,
// are scanned exactly).
//   learned vectors on (the default): item vectors mix content and collaborative evidence
//     (LearnedVectors); a user's interest vector is the sum of the vectors of their recent items,
//     each weighted by its interaction's interest weight and by the kernel at its age (short:
//     the short half-life, long: the long one), computed when the list is: the vectors keep
//     learning, and the user's stored state stays a function of their own events only.
//   learned vectors off: item vectors are the catalog's; the interest vectors are the user's
//     stored ones (UserState: every interaction ever, decayed).
class EmbeddingSource final : public Source {
 public:
  static constexpr std::string_view kName = "embedding";
  // `user`: the shape of the users' state (dimension, interest components), which outlives this.
  EmbeddingSource(const EmbeddingOptions& options, const UserStateOptions& user);

  std::string_view name() const noexcept override { return kName; }
  std::span<const std::string_view> features() const noexcept override;
  void SetCatalog(const Catalog& catalog) override;
  void Learn(const Interaction& interaction) override;
  void Prepare(std::span<const RankUser> users, const RankContext& ctx) override;
  void Offer(std::size_t feature, const RankUser& user, const RankContext& ctx,
             CandidateSink& sink) override;
  void Score(std::size_t feature, const RankUser& user, const RankContext& ctx,
             std::span<Candidate> candidates, std::size_t x) override;
  void Export(double now_s, const ExportLimits& limits, SourceStats* out) const override;
  void Seed(const SourceStats& record, double as_of_s) override;
  void SetPeers(const PeerStats* peers, std::int32_t own) override;
  bool Compatible(const SourceStats& share) const override;

  // The vector of catalog row `row` the sources rank with.
  std::span<const float> ItemVector(const Catalog& catalog, std::size_t row);
  const LearnedVectors& learned() const noexcept { return learned_; }

 private:
  void UserVector(const RankUser& user, std::size_t feature, std::span<float> out);

  std::span<const float> Vector(std::size_t user, std::size_t feature) const;

  EmbeddingOptions options_;
  const std::vector<double>& half_lives_;  // of the interest components, clock units
  std::size_t dim_;
  LearnedVectors learned_;
  const Catalog* catalog_ = nullptr;
  // The batch being ranked: two unit vectors per user (short, long; all zero when absent), and
  // each scanned vector's nearest rows.
  std::vector<float> vectors_;
  std::vector<bool> has_vector_;
  std::vector<std::size_t> top_of_;  // vector index → index in tops_, or kNone
  std::vector<std::vector<ScoredRow>> tops_;
};

}  // namespace recsd::model
