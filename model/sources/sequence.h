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

struct SequenceOptions {
  // Transitions are learned from each interaction b to the user's `gaps` items before it: the
  // item g steps earlier a gains a→b weight 1/g (the next item counts most, one five steps
  // later a fifth of it).
  std::size_t gaps = 5;
  // Only transitions at most this far apart in the user's clock (0: any distance).
  double window = 0;
  // A candidate's score is Σ_j recency^j · w(a_j → b) over the user's `seeds` most recent items
  // a_0 (the latest), a_1, ...
  std::size_t seeds = 10;
  double recency = 0.8;
  // The graph: half-life of a transition's weight (seconds of event time), out-edges kept per
  // item (the strongest), items kept.
  ItemGraph::Options graph{.half_life = 365 * 86400.0, .max_neighbours = 64};
};

// `sequence`: what users go on to next. Directional, gap-weighted transitions a→b learned from
// each user's consecutive interactions and decayed with event time (model/item_graph.h); a
// candidate is scored from the user's most recent items, the latest weighing most. Unlike
// `covisit` (symmetric, adjacent pairs) it knows that b follows a, not a follows b, and that
// what comes two or three steps later is related too. Bounded memory: max_neighbours out-edges
// per item (a new edge replaces the weakest only when stronger), max_items items. Shared across
// partitions as topics.model_stats edges, like co-visits.
class SequenceSource final : public Source {
 public:
  static constexpr std::string_view kName = "sequence";
  explicit SequenceSource(const SequenceOptions& options);

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
  SequenceOptions options_;
  ItemGraph graph_;
  const SourcePeers* peers_ = nullptr;
  std::int32_t own_ = -1;
  RowWeights weights_;  // the user being ranked: score per row
};

}  // namespace recsd::model
