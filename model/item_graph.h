#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
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
  // no sort).
  template <class F>
  void ForEachNeighbour(const ItemId& item, double t, F&& f) const {
    auto it = edges_.find(item);
    if (it == edges_.end()) return;
    const double scale = frame_.Scale(t);
    for (const Edge& e : it->second) f(e.to, e.stored * scale);
  }
  // The scoring path: calls f(row, weight at t) for every out-edge of `item` whose target has a
  // catalog row. `find` (ItemId → optional row) resolves a target only when the row cached on
  // its edge is from another catalog than `epoch` (a number, from 1, that the caller changes
  // with every catalog it scores against): a popular item's neighbours are not hashed again on
  // every refresh. One thread, like every other call.
  template <class Find, class F>
  void ForEachNeighbourRow(const ItemId& item, double t, std::uint32_t epoch, Find&& find,
                           F&& f) const {
    auto it = edges_.find(item);
    if (it == edges_.end()) return;
    const double scale = frame_.Scale(t);
    for (const Edge& e : it->second) {
      if (e.epoch != epoch) {
        const std::optional<std::size_t> row = find(e.to);
        e.row = row ? static_cast<std::int64_t>(*row) : -1;
        e.epoch = epoch;
      }
      if (e.row >= 0) f(static_cast<std::uint32_t>(e.row), e.stored * scale);
    }
  }

  std::size_t items() const noexcept { return edges_.size(); }

 private:
  struct Edge {
    ItemId to;
    double stored = 0;              // in frame_
    mutable std::int64_t row = -1;  // the catalog row of `to` as of catalog `epoch` (-1: none)
    mutable std::uint32_t epoch = 0;
  };
  using Edges = std::vector<Edge>;
  void AddEdge(const ItemId& from, const ItemId& to, double stored);
  void Rebase(double scale);
  void Shrink();

  Options options_;
  DecayFrame frame_;
  std::unordered_map<ItemId, Edges> edges_;
};

}  // namespace recsd::model
