#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include "model/decay.h"
#include "model/id_index.h"
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
  // One earlier item of an interaction and its weight (see AddLinks).
  struct Link {
    const ItemId* item;
    double w;
  };

  explicit ItemGraph(const Options& options);

  // Adds weight w to the edges between a and b at time t (a != b: checked).
  void Add(double t, const ItemId& a, const ItemId& b, double w);

  // Adds weight w to the edge from→to only (a record of another graph's edge read back).
  void AddDirected(double t, const ItemId& from, const ItemId& to, double w);
  // One interaction with `item` at time t: for each link (a, w), in order, adds w to a→item and
  // backward·w to item→a (backward 0: none). A link must not be `item` itself. The same edges as
  // AddDirected one by one, with one lookup of `item` for all of them (the per-event path).
  void AddLinks(double t, const ItemId& item, std::span<const Link> links, double backward);
  // The `n` strongest edges at time t, strongest first (ties by the ids), as (from, to, weight).
  std::vector<std::tuple<ItemId, ItemId, double>> TopEdges(std::size_t n, double t) const;

  // Edge weight a→b at time t (0 when there is none).
  double WeightAt(const ItemId& a, const ItemId& b, double t) const;
  // The neighbours of `item` with their weights at time t, strongest first (ties by id).
  std::vector<std::pair<ItemId, double>> Neighbours(const ItemId& item, double t) const;
  // The scoring path: calls f(row, weight at t) for every out-edge of `item` whose target has a
  // catalog row. `find` (ItemId → optional row) resolves a target only when the row cached with
  // it is from another catalog than `epoch` (a number, from 1, that the caller changes with every
  // catalog it scores against): a popular item's neighbours are not hashed again on every
  // refresh. One thread, like every other call.
  template <class Find, class F>
  void ForEachNeighbourRow(const ItemId& item, double t, std::uint32_t epoch, Find&& find,
                           F&& f) const {
    const Node* node = NodeOf(item);
    if (node == nullptr) return;
    const double scale = frame_.Scale(t);
    const std::uint32_t* targets = node->out.to();
    const double* stored = node->out.stored();
    for (std::uint32_t i = 0; i < node->out.size(); ++i) {
      const Node& to = nodes_[targets[i]];
      if (to.epoch != epoch) {
        const std::optional<std::size_t> row = find(to.id);
        to.row = row ? static_cast<std::int64_t>(*row) : -1;
        to.epoch = epoch;
      }
      if (to.row >= 0) f(static_cast<std::uint32_t>(to.row), stored[i] * scale);
    }
  }

  // Items with out-edges.
  std::size_t items() const noexcept { return items_; }
  // Items the graph holds an id for (with out-edges, or the target of one): at most
  // max_items · (1 + max_neighbours).
  std::size_t nodes() const noexcept { return index_.size(); }

 private:
  // A node's out-edges: the weights (in frame_; a min-heap, item_graph.cc) and their targets in
  // one allocation, the targets apart from the weights so that a search reads 4 bytes an edge.
  // Grows by doubling from 4.
  class Edges {
   public:
    std::uint32_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    double* stored() noexcept { return reinterpret_cast<double*>(buffer_.get()); }
    const double* stored() const noexcept { return reinterpret_cast<const double*>(buffer_.get()); }
    std::uint32_t* to() noexcept { return reinterpret_cast<std::uint32_t*>(stored() + capacity_); }
    const std::uint32_t* to() const noexcept {
      return reinterpret_cast<const std::uint32_t*>(stored() + capacity_);
    }
    void PushBack(std::uint32_t target, double weight);
    // Keeps the first n (n <= size()); none: the buffer is freed.
    void Truncate(std::uint32_t n);

   private:
    std::unique_ptr<std::byte[]> buffer_;  // capacity_ doubles, then capacity_ targets
    std::uint32_t size_ = 0;
    std::uint32_t capacity_ = 0;
  };
  // Items are interned: an edge names its target by node number, so that adding an edge compares
  // integers, not strings, over the up to max_neighbours edges of its source. A node lives while
  // it has out-edges or is the target of one (`in`), then its number is reused. 64 bytes: the id
  // a lookup compares and the edges' header share a cache line.
  struct Node {
    ItemId id;
    Edges out;
    std::uint32_t in = 0;             // edges that point here
    mutable std::uint32_t epoch = 0;  // the catalog `row` is as of
    mutable std::int64_t row = -1;    // the catalog row of `id` as of catalog `epoch` (-1: none)
  };
  std::optional<std::uint32_t> Find(const ItemId& item) const;
  const Node* NodeOf(const ItemId& item) const;
  std::uint32_t Intern(const ItemId& item);
  void Advance(double t);
  void AddEdge(std::uint32_t from, std::uint32_t to, double stored);
  // Drops the out-edges of `node` that `drop(weight)` selects.
  template <class Drop>
  void DropEdges(std::uint32_t node, Drop&& drop);
  // Frees the nodes of release_ that have neither out- nor in-edges, and bounds the items.
  void Settle();
  void Rebase(double scale);
  void Shrink();

  Options options_;
  DecayFrame frame_;
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> free_;     // unused node numbers
  std::vector<std::uint32_t> release_;  // nodes that may have become unused
  IdIndex index_;                       // id → node
  std::size_t items_ = 0;
};

}  // namespace recsd::model
