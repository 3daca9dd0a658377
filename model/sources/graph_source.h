#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/item_graph.h"
#include "model/sources/ranked_rows.h"
#include "model/sources/source.h"

namespace recsd::model {

class SourcePeers;

// How a graph source learns its item-item edges and scores candidates with them.
struct GraphSourceOptions {
  // An interaction with b pairs it with the user's `gaps` items before it: a, g steps earlier,
  // gains a→b weight 1/g (0: the source learns nothing).
  std::size_t gaps = 1;
  // b→a gains this share of a→b's weight: 1 is symmetric co-occurrence, 0 only what follows.
  double backward = 1.0;
  // Only pairs at most this far apart in the user's clock (clock units; infinity: any).
  double window = std::numeric_limits<double>::infinity();
  // A candidate's score is Σ_j recency^j · w(a_j → b) over the user's `seeds` most recent items
  // a_0 (the latest), a_1, ...
  std::size_t seeds = 5;
  double recency = 1.0;
  ItemGraph::Options graph;  // half-life (seconds of event time), edges per item, items
};

// A source that scores candidates by the decayed item-item edges (model/item_graph.h) from the
// user's latest items: the shared implementation of `covisit` and `sequence`, which differ in
// their options. A candidate's raw score is the square root of its summed edge weights: sums of
// co-occurrence counts are heavy-tailed (a few neighbours collect most of the weight), and under
// per-list max normalisation the square root keeps the runners-up from vanishing next to the
// first, which is what fusion weighs them against (measured: fused HR@10 on MovieLens 0.1342 →
// 0.1367 on latest-small, 0.1865 → 0.1870 on 100k; a fourth root did the same). A single source's
// ranking does not change. Bounded memory: graph.max_neighbours out-edges per item (a new edge
// replaces the weakest only when stronger), graph.max_items items. Shared across partitions as
// topics.model_stats edges (this partition's strongest; peers' edges add to its own when it
// scores).
class GraphSource : public Source {
 public:
  GraphSource(std::string_view name, const GraphSourceOptions& options);

  std::string_view name() const noexcept override { return names_[0]; }
  std::span<const std::string_view> features() const noexcept override { return names_; }
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
  std::array<std::string_view, 1> names_;  // the room's name is its one feature's
  GraphSourceOptions options_;
  ItemGraph graph_;
  std::vector<ItemGraph::Link> links_;  // scratch of Learn
  const SourcePeers* peers_ = nullptr;
  std::int32_t own_ = -1;
  RowWeights weights_;  // the user being ranked: score per row
  const Catalog* catalog_ = nullptr;
  std::uint32_t catalog_epoch_ = 0;  // changes with every catalog: the edges' cached rows
};

}  // namespace recsd::model
