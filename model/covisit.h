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

// Decayed item-item co-occurrence from consecutive interactions of the same user (the `covisit`
// source): when a user interacts with b within the window after a, the edges a→b and b→a gain
// weight w, decayed with the half-life in one DecayFrame for the whole graph, so an update is O(K)
// for K neighbours. Bounded: each item keeps its
// max_neighbours strongest edges (a new edge replaces the weakest only when stronger), and past
// max_items items the weakest items (by total edge weight) are dropped, by rank, down to 3/4 of it.
// Single writer; no locking. Deterministic.
class CovisitGraph {
 public:
  struct Options {
    double half_life = 7 * 24 * 3600.0;  // clock units
    std::size_t max_neighbours = 32;
    std::size_t max_items = 1'000'000;
    double floor = 1e-6;  // edges weaker than this are dropped when the frame is rebased
  };

  explicit CovisitGraph(const Options& options);

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
