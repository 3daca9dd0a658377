#include "model/item_graph.h"

#include <algorithm>
#include <cmath>

#include "model/check.h"

namespace recsd::model {

ItemGraph::ItemGraph(const Options& options) : options_(options), frame_(options.half_life) {
  RECSD_CHECK(options.half_life > 0 && options.max_neighbours > 0 && options.max_items > 0,
              "covisit bounds");
}

void ItemGraph::Add(double t, const ItemId& a, const ItemId& b, double w) {
  RECSD_CHECK(!(a == b), "an item does not co-occur with itself");
  if (const std::optional<double> scale = frame_.Advance(t)) {
    Rebase(*scale);
  }
  const double stored = frame_.Store(t, w);
  AddEdge(a, b, stored);
  AddEdge(b, a, stored);
  if (edges_.size() > options_.max_items) {
    Shrink();
  }
}

void ItemGraph::AddDirected(double t, const ItemId& from, const ItemId& to, double w) {
  RECSD_CHECK(!(from == to), "an item does not co-occur with itself");
  if (const std::optional<double> scale = frame_.Advance(t)) {
    Rebase(*scale);
  }
  AddEdge(from, to, frame_.Store(t, w));
  if (edges_.size() > options_.max_items) {
    Shrink();
  }
}

std::vector<std::tuple<ItemId, ItemId, double>> ItemGraph::TopEdges(std::size_t n, double t) const {
  using Entry = std::tuple<double, const ItemId*, const ItemId*>;
  // Better first: the larger weight, then the smaller ids.
  const auto better = [](const Entry& a, const Entry& b) {
    if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) > std::get<0>(b);
    if (!(*std::get<1>(a) == *std::get<1>(b))) return *std::get<1>(a) < *std::get<1>(b);
    return *std::get<2>(a) < *std::get<2>(b);
  };
  // A heap of the n best so far whose top is the worst of them: O(E log n).
  std::vector<Entry> heap;
  heap.reserve(n + 1);
  for (const auto& [from, edges] : edges_) {
    for (const Edge& edge : edges) {
      Entry e{edge.stored, &from, &edge.to};
      if (heap.size() < n) {
        heap.push_back(e);
        std::push_heap(heap.begin(), heap.end(), better);
      } else if (n > 0 && better(e, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.back() = e;
        std::push_heap(heap.begin(), heap.end(), better);
      }
    }
  }
  std::sort_heap(heap.begin(), heap.end(), better);
  std::vector<std::tuple<ItemId, ItemId, double>> out;
  out.reserve(heap.size());
  const double scale = frame_.Scale(t);
  for (const auto& [value, from, to] : heap) out.emplace_back(*from, *to, value * scale);
  return out;
}

void ItemGraph::AddEdge(const ItemId& from, const ItemId& to, double stored) {
  Edges& edges = edges_[from];
  for (Edge& e : edges) {
    if (e.to == to) {
      e.stored += stored;
      return;
    }
  }
  if (edges.size() < options_.max_neighbours) {
    edges.push_back({to, stored});
    return;
  }
  auto weakest = std::min_element(edges.begin(), edges.end(),
                                  [](const Edge& x, const Edge& y) { return x.stored < y.stored; });
  if (stored > weakest->stored) *weakest = {to, stored};
}

double ItemGraph::WeightAt(const ItemId& a, const ItemId& b, double t) const {
  auto it = edges_.find(a);
  if (it == edges_.end()) {
    return 0.0;
  }
  for (const Edge& e : it->second) {
    if (e.to == b) return e.stored * frame_.Scale(t);
  }
  return 0.0;
}

std::vector<std::pair<ItemId, double>> ItemGraph::Neighbours(const ItemId& item, double t) const {
  auto it = edges_.find(item);
  if (it == edges_.end()) {
    return {};
  }
  std::vector<std::pair<ItemId, double>> out;
  out.reserve(it->second.size());
  const double scale = frame_.Scale(t);
  for (const Edge& e : it->second) out.emplace_back(e.to, e.stored * scale);
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  return out;
}

void ItemGraph::Rebase(double scale) {
  for (auto it = edges_.begin(); it != edges_.end();) {
    Edges& edges = it->second;
    for (Edge& edge : edges) edge.stored *= scale;
    std::erase_if(edges, [&](const Edge& edge) { return edge.stored < options_.floor; });
    it = edges.empty() ? edges_.erase(it) : std::next(it);
  }
}

void ItemGraph::Shrink() {
  std::vector<std::pair<double, ItemId>> totals;
  totals.reserve(edges_.size());
  for (const auto& [id, edges] : edges_) {
    double total = 0;
    for (const Edge& edge : edges) total += edge.stored;
    totals.emplace_back(total, id);
  }
  const std::size_t drop = totals.size() - options_.max_items * 3 / 4;
  std::nth_element(totals.begin(), totals.begin() + static_cast<std::ptrdiff_t>(drop), totals.end(),
                   [](const auto& x, const auto& y) {
                     return x.first != y.first ? x.first < y.first : x.second < y.second;
                   });
  for (std::size_t i = 0; i < drop; ++i) edges_.erase(totals[i].second);
}

}  // namespace recsd::model
