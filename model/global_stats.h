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

// One input partition's shareable aggregates (README, "Global statistics"): its strongest decayed
// item popularities, its strongest co-visit edges and its learner's global posterior, all as of
// event time `as_of`. Engine::ExportStats makes one; the daemon publishes it to the compacted
// topics.model_stats (key = partition), and every instance merges every partition's latest
// (PeerStats) for its engines, so each ranks trending, category and co-visits from the whole
// stream and learns from every partition's feedback. It also moves the partition's aggregates
// to its next owner (Engine::SeedStats).
struct PartitionStats {
  struct Edge {
    ItemId from;
    ItemId to;
    double weight = 0;  // a→b at as_of
    friend bool operator==(const Edge&, const Edge&) = default;
  };
  std::int32_t partition = 0;
  TimestampMs as_of;
  // The highest input offset of the partition whose event the aggregates include (-1: none). The
  // next owner, which consumes from the committed offset, adds no event at or below it again.
  std::int64_t offset = -1;
  // The half-lives (seconds of event time) the values decay with, and the learner's prior
  // variance: records of engines configured otherwise do not merge (PeerStats::Compatible).
  double trending_half_life = 0;
  double covisit_half_life = 0;
  double prior_variance = 0;
  std::vector<std::pair<ItemId, double>> popularity;  // strongest first, ties by id
  std::vector<Edge> covisit;                          // strongest first
  WeightPosterior learner;                            // the partition's global posterior
};

// Every partition's latest aggregates, merged once (per table of records) and shared by all the
// engines of an instance: each reads it without its own partition's record, which its own live
// aggregates replace. Values are decayed from each record's as_of to a common reference time;
// per item (and per co-visit edge source) the partitions' contributions are kept apart, so
// leaving one out is exact. The learner's evidence is a sum of information over the other
// partitions (LearnerEvidence). Immutable once built. Pure.
class PeerStats {
 public:
  // True when `record` was made with the same half-lives and prior variance.
  static bool Compatible(const PartitionStats& record, double trending_half_life,
                         double covisit_half_life, double prior_variance);

  // Merges the records (at most one per partition). `prior` is the learner's prior, which each
  // record's posterior includes once: it is counted once in all.
  PeerStats(std::span<const PartitionStats* const> records, double trending_half_life,
            double covisit_half_life, const WeightPosterior& prior);

  // The popularity of `item` at event time t (seconds) over every partition but `exclude`.
  double Popularity(const ItemId& item, double t, std::int32_t exclude) const;
  // Calls f(item, popularity at t) for every item some partition other than `exclude` holds.
  template <class F>
  void ForEachPopularity(double t, std::int32_t exclude, F&& f) const {
    const double scale = Scale(t, trending_half_life_);
    for (const auto& [item, parts] : popularity_) {
      const double v = Sum(parts, exclude);
      if (v > 0) f(item, v * scale);
    }
  }
  // Calls f(neighbour, weight at t) for every co-visit edge from `item` that a partition other
  // than `exclude` holds (a neighbour may come once per partition).
  template <class F>
  void ForEachNeighbour(const ItemId& item, double t, std::int32_t exclude, F&& f) const {
    auto it = covisit_.find(item);
    if (it == covisit_.end()) return;
    const double scale = Scale(t, covisit_half_life_);
    for (const Edge& e : it->second) {
      if (e.partition != exclude) f(e.to, e.weight * scale);
    }
  }
  // The learner evidence of every partition but `exclude`.
  LearnerEvidence Evidence(std::int32_t exclude) const;
  // Partitions with a record, other than `exclude`.
  std::size_t Partitions(std::int32_t exclude) const;

 private:
  using Parts = std::vector<std::pair<std::int32_t, double>>;  // partition → value at t_ref
  struct Edge {
    ItemId to;
    std::int32_t partition;
    double weight;  // at t_ref
  };
  static double Sum(const Parts& parts, std::int32_t exclude) {
    double v = 0;
    for (const auto& [partition, value] : parts) {
      if (partition != exclude) v += value;
    }
    return v;
  }
  double Scale(double t, double half_life) const { return std::exp2(-(t - t_ref_) / half_life); }

  double trending_half_life_;
  double covisit_half_life_;
  double t_ref_ = 0;  // seconds of event time the stored values are at
  std::unordered_map<ItemId, Parts> popularity_;
  std::unordered_map<ItemId, std::vector<Edge>> covisit_;
  std::vector<std::pair<std::int32_t, LearnerEvidence>> evidence_;  // by partition
};

}  // namespace recsd::model
