#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "model/item_graph.h"
#include "model/sources/ranked_rows.h"
#include "model/sources/source.h"

namespace recsd::model {

class SourcePeers;

struct CovisitOptions {
  ItemGraph::Options graph;
  // Consecutive interactions of a user at most this far apart (clock units) are co-visits; 0 turns
  // co-visits off. Under the activity clock consecutive events are 1 apart, so any window >= 1
  // pairs every consecutive interaction.
  double window = 3600.0;
  std::size_t seeds = 5;  // the user's most recent items whose neighbours count
};

// `covisit`: decayed co-occurrence of consecutive interactions (model/item_graph.h), symmetric. A
// candidate's score is the sum of its edge weights from the user's `seeds` most recent items
// (this partition's graph plus every other partition's edges, read from topics.model_stats);
// offers the strongest.
class CovisitSource final : public Source {
 public:
  static constexpr std::string_view kName = "covisit";
  explicit CovisitSource(const CovisitOptions& options);

  std::string_view name() const noexcept override { return kName; }
  std::span<const std::string_view> features() const noexcept override;
  void SetCatalog(const Catalog& catalog) override;
  void Learn(const Interaction& interaction) override;
  void BeginUser(const RankUser& user, const RankContext& ctx) override;
  void Offer(std::size_t feature, const RankUser& user, const RankContext& ctx,
             CandidateSink& sink) override;
  void Score(std::size_t feature, const RankUser& user, const RankContext& ctx,
             std::span<Candidate> candidates, std::size_t x) override;
  void EndUser(const RankUser& user) override;
  void Export(double now_s, const ExportLimits& limits, SourceStats* out) const override;
  void Seed(const SourceStats& record, double as_of_s) override;
  void SetPeers(const PeerStats* peers, std::int32_t own) override;
  bool Compatible(const SourceStats& share) const override;

  const ItemGraph& graph() const noexcept { return graph_; }

 private:
  CovisitOptions options_;
  ItemGraph graph_;
  const SourcePeers* peers_ = nullptr;
  std::int32_t own_ = -1;
  RowWeights weights_;  // the user being ranked: summed edge weights per row
};

}  // namespace recsd::model
