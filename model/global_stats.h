#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/fusion.h"
#include "model/ids.h"
#include "model/learner.h"

namespace recsd::model {

// One input partition's shareable aggregates (ARCHITECTURE.md, "Global statistics"): its strongest
// decayed item popularities, its strongest co-visit edges and its learner's global posterior, all
// as of event time `as_of`. Engine::ExportStats makes one; the daemon publishes it to the
// compacted topics.model_stats (key = partition) and every instance merges the other partitions'
// latest into its engines (PeerStats), so each ranks trending, category and co-visits from the
// whole stream and learns from every partition's feedback. It also moves the partition's
// aggregates to its next owner (Engine::SeedStats).
struct PartitionStats {
  struct Edge {
    ItemId from;
    ItemId to;
    double weight = 0;  // a→b at as_of
    friend bool operator==(const Edge&, const Edge&) = default;
  };
  std::int32_t partition = 0;
  TimestampMs as_of;
  // The half-lives (seconds of event time) the values decay with, and the learner's prior
  // variance: records of engines configured otherwise do not merge (PeerStats::Compatible).
  double trending_half_life = 0;
  double covisit_half_life = 0;
  double prior_variance = 0;
  std::vector<std::pair<ItemId, double>> popularity;  // strongest first, ties by id
  std::vector<Edge> covisit;                          // strongest first
  WeightPosterior learner;                            // the partition's global posterior
};

// The merged aggregates of other partitions, which an engine adds to its own: popularities and
// co-visit weights summed (each record's values decayed from its as_of to a common reference
// time), and the learner's evidence as a sum of information (LearnerEvidence). Immutable once
// built; shared between engines. Pure.
class PeerStats {
 public:
  // True when `record` was made with the same half-lives and prior as `own`'s parameters.
  static bool Compatible(const PartitionStats& record, double trending_half_life,
                         double covisit_half_life, double prior_variance);

  // Merges the records (one per partition; the caller leaves out the engine's own). `prior` is
  // the learner's prior, which each record's posterior includes once: it is counted once in all.
  PeerStats(std::span<const PartitionStats* const> records, double trending_half_life,
            double covisit_half_life, const WeightPosterior& prior);

  // The peers' popularity of `item` at event time t (seconds).
  double Popularity(const ItemId& item, double t) const;
  // Calls f(item, popularity at t) for every item the peers hold.
  template <class F>
  void ForEachPopularity(double t, F&& f) const {
    const double scale = Scale(t, trending_half_life_);
    for (const auto& [item, v] : popularity_) f(item, v * scale);
  }
  // Calls f(neighbour, weight at t) for every peer co-visit edge from `item`.
  template <class F>
  void ForEachNeighbour(const ItemId& item, double t, F&& f) const {
    auto it = covisit_.find(item);
    if (it == covisit_.end()) return;
    const double scale = Scale(t, covisit_half_life_);
    for (const auto& [to, w] : it->second) f(to, w * scale);
  }
  const LearnerEvidence& evidence() const noexcept { return evidence_; }
  std::size_t partitions() const noexcept { return partitions_; }
  double reference_time() const noexcept { return t_ref_; }

 private:
  double Scale(double t, double half_life) const { return std::exp2(-(t - t_ref_) / half_life); }

  double trending_half_life_;
  double covisit_half_life_;
  double t_ref_ = 0;  // seconds of event time the stored values are at
  std::size_t partitions_ = 0;
  std::unordered_map<ItemId, double> popularity_;
  std::unordered_map<ItemId, std::vector<std::pair<ItemId, double>>> covisit_;
  LearnerEvidence evidence_;
};

}  // namespace recsd::model
