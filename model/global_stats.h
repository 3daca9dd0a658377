#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/fusion.h"
#include "model/ids.h"
#include "model/learner.h"

namespace recsd::model {

// One source's share of a partition's record (Source::Export): tables of the three shapes the
// record codec knows, all as of the record's as_of. A source that needs another shape adds it
// here and to the codec.
struct SourceStats {
  struct Edge {
    ItemId from;
    ItemId to;
    double weight = 0;  // from→to
    friend bool operator==(const Edge&, const Edge&) = default;
  };
  struct Vector {
    ItemId item;
    double mass = 0;            // how much evidence the vector sums (decays like it)
    std::vector<float> values;  // a sum of contributions, not normalised
    friend bool operator==(const Vector&, const Vector&) = default;
  };
  std::string source;                            // the room's name, e.g. "covisit"
  double half_life = 0;                          // seconds of event time the values decay with
  std::vector<std::pair<ItemId, double>> items;  // strongest first, ties by id
  std::vector<Edge> edges;                       // strongest first
  std::vector<Vector> vectors;                   // largest mass first
  friend bool operator==(const SourceStats&, const SourceStats&) = default;
};

// One input partition's shareable aggregates (README, "Global statistics"): each source's share
// (its strongest decayed values) and the learner's global posterior, as of event time `as_of`.
// Engine::ExportStats makes one; the daemon publishes it to the compacted topics.model_stats
// (key = partition), and every instance merges every partition's latest (PeerStats) for its
// engines, so each ranks from the whole stream and learns from every partition's feedback. It
// also moves the partition's aggregates to its next owner (Engine::SeedStats).
struct PartitionStats {
  std::int32_t partition = 0;
  TimestampMs as_of;
  // The highest input offset of the partition whose event the aggregates include (-1: none). The
  // next owner, which consumes from the committed offset, adds no event at or below it again.
  std::int64_t offset = -1;
  // The fused features, in the learner's order, and the learner's prior variance: records of
  // engines configured otherwise do not merge (Engine::StatsCompatible).
  std::vector<std::string> features;
  double prior_variance = 0;
  std::vector<SourceStats> sources;
  WeightPosterior learner;  // the partition's global posterior, over `features`

  const SourceStats* Find(std::string_view source) const;
};

// Every partition's share of one source, merged: values decayed from each record's as_of to a
// common reference time, each partition's contribution kept apart so leaving one out is exact.
// Immutable once built. Pure.
class SourcePeers {
 public:
  SourcePeers(double half_life, double t_ref) : half_life_(half_life), t_ref_(t_ref) {}
  void Add(std::int32_t partition, const SourceStats& stats, double as_of_s);

  // The item's value at event time t (seconds) over every partition but `exclude`.
  double ItemValue(const ItemId& item, double t, std::int32_t exclude) const;
  // Calls f(item, value at t) for every item some partition other than `exclude` holds.
  template <class F>
  void ForEachItem(double t, std::int32_t exclude, F&& f) const {
    const double scale = Scale(t);
    for (const auto& [item, parts] : items_) {
      const double v = Sum(parts, exclude);
      if (v > 0) f(item, v * scale);
    }
  }
  // Calls f(to, weight at t) for every edge from `item` that a partition other than `exclude`
  // holds (a neighbour may come once per partition).
  template <class F>
  void ForEachEdge(const ItemId& item, double t, std::int32_t exclude, F&& f) const {
    auto it = edges_.find(item);
    if (it == edges_.end()) return;
    const double scale = Scale(t);
    for (const Edge& e : it->second) {
      if (e.partition != exclude) f(e.to, e.weight * scale);
    }
  }
  // Calls f(item, mass at t, values at t (a scale to apply), scale) for every vector part of a
  // partition other than `exclude` (an item may come once per partition).
  template <class F>
  void ForEachVector(double t, std::int32_t exclude, F&& f) const {
    const double scale = Scale(t);
    for (const auto& [item, parts] : vectors_) {
      for (const VectorPart& p : parts) {
        if (p.partition != exclude)
          f(item, p.mass * scale, std::span<const float>(p.values), scale);
      }
    }
  }
  double half_life() const noexcept { return half_life_; }

 private:
  using Parts = std::vector<std::pair<std::int32_t, double>>;  // partition → value at t_ref
  struct Edge {
    ItemId to;
    std::int32_t partition;
    double weight;  // at t_ref
  };
  struct VectorPart {
    std::int32_t partition;
    double mass;                // at t_ref
    std::vector<float> values;  // at the record's as_of: scaled by `scale` at read
  };
  static double Sum(const Parts& parts, std::int32_t exclude) {
    double v = 0;
    for (const auto& [partition, value] : parts) {
      if (partition != exclude) v += value;
    }
    return v;
  }
  double Scale(double t) const { return std::exp2(-(t - t_ref_) / half_life_); }

  double half_life_;
  double t_ref_;
  std::unordered_map<ItemId, Parts> items_;
  std::unordered_map<ItemId, std::vector<Edge>> edges_;
  std::unordered_map<ItemId, std::vector<VectorPart>> vectors_;
};

// Every partition's latest record, merged once (per table of records) and shared by all the
// engines of an instance: each reads it without its own partition's record, which its own live
// aggregates replace. The learner's evidence is a sum of information over the other partitions
// (LearnerEvidence). Immutable once built. Pure.
class PeerStats {
 public:
  // Merges the records (at most one per partition, all compatible with each other). `prior` is
  // the learner's prior, which each record's posterior includes once: it is counted once in all.
  PeerStats(std::span<const PartitionStats* const> records, const WeightPosterior& prior);

  // The merged shares of source `name`, or null when no record has one.
  const SourcePeers* Find(std::string_view name) const;
  // The learner evidence of every partition but `exclude`.
  LearnerEvidence Evidence(std::int32_t exclude) const;
  // Partitions with a record, other than `exclude`.
  std::size_t Partitions(std::int32_t exclude) const;

 private:
  std::vector<std::pair<std::string, SourcePeers>> sources_;
  std::vector<std::pair<std::int32_t, LearnerEvidence>> evidence_;  // by partition
};

}  // namespace recsd::model
