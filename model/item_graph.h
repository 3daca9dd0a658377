#pragma once

#include <cstddef>
#include <span>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/decay.h"
#include "model/ids.h"

namespace recsd::model {

// Decayed, weighted item-item edges: the co-visits of the `covisit` source (Add: a→b and b→a) and
// the transitions of the `sequence` source (AddDirected: a→b). Weights decay with the half-life
// in one DecayFrame for the whole graph, so an update is O(K) for K neighbours. Bounded: each
// item keeps its max_neighbours strongest out-edges (a new edge replaces the weakest only when
// stronger), and past max_items items the weakest items (by total edge weight) are dropped, by
// rank, down to 3/4 of it. Single writer; no locking. Deterministic.
class ItemGraph {
 public:
  struct Options {
    double half_life = 7 * 24 * 3600.0;  // clock units
    std::size_t max_neighbours = 32;
    std::size_t max_items = 1'000'000;
    double floor = 1e-6;  // edges weaker than this are dropped when the frame is rebased
  };

  explicit ItemGraph(const Options& options);

  // Adds weight w to the edges between a and b at time t (a != b).
  void Add(double t, const ItemId& a, const ItemId& b, double w);

  // Adds weight w to the edge from→to only (a record of another graph's edge read back).
  void AddDirected(double t, const ItemId& from, const ItemId& to, double w);
  // The `n` strongest edges at time t, strongest first (ties by the ids), as (from, to, weight).
  std::vector<std::tuple<ItemId, ItemId, double>> TopEdges(std::size_t n, double t) const;

  // Edge weight a→b at time t (0 when there is none).
  double WeightAt(const ItemId& a, const ItemId& b, double t) const;
  // The neighbours of `item` with their weights at time t, strongest first (ties by id).
  std::vector<std::pair<ItemId, double>> Neighbours(const ItemId& item, double t) const;
  // Calls f(neighbour, weight at t) for every out-edge of `item`, in no particular order (no copy,
  // no sort: the scoring path).
  template <class F>
  void ForEachNeighbour(const ItemId& item, double t, F&& f) const {
    auto it = edges_.find(item);
    if (it == edges_.end()) return;
    const double scale = frame_.Scale(t);
    for (const auto& [id, value] : it->second) f(id, value * scale);
  }

  std::size_t items() const noexcept { return edges_.size(); }

 private:
  using Edges = std::vector<std::pair<ItemId, double>>;
  void AddEdge(const ItemId& from, const ItemId& to, double stored);
  void Rebase(double scale);
  void Shrink();

  Options options_;
  DecayFrame frame_;
  std::unordered_map<ItemId, Edges> edges_;
};

}  // namespace recsd::model
