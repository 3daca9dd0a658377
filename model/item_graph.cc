#include "model/item_graph.h"

#include <algorithm>
#include <cmath>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "model/check.h"

namespace recsd::model {

ItemGraph::ItemGraph(const Options& options) : options_(options), frame_(options.half_life) {
  RECSD_CHECK(options.half_life > 0 && options.max_neighbours > 0 && options.max_items > 0,
              "covisit bounds");
}

void ItemGraph::Add(double t, const ItemId& a, const ItemId& b, double w) {
  const Link link{&b, w};
  AddLinks(t, a, {&link, 1}, 1.0);
}

void ItemGraph::AddDirected(double t, const ItemId& from, const ItemId& to, double w) {
  const Link link{&from, w};
  AddLinks(t, to, {&link, 1}, 0.0);
}

void ItemGraph::AddLinks(double t, const ItemId& item, std::span<const Link> links,
                         double backward) {
  if (links.empty()) return;
  Advance(t);
  const std::uint32_t b = Intern(item);
  for (const Link& link : links) {
    const std::uint32_t a = Intern(*link.item);
    RECSD_CHECK(a != b, "an item does not co-occur with itself");
    AddEdge(a, b, frame_.Store(t, link.w));
    if (backward > 0) AddEdge(b, a, frame_.Store(t, backward * link.w));
  }
  Settle();
}

std::optional<std::uint32_t> ItemGraph::Find(const ItemId& item) const {
  return index_.Find(item, [this](std::uint32_t n) -> const ItemId& { return nodes_[n].id; });
}

const ItemGraph::Node* ItemGraph::NodeOf(const ItemId& item) const {
  const std::optional<std::uint32_t> n = Find(item);
  return n ? &nodes_[*n] : nullptr;
}

std::uint32_t ItemGraph::Intern(const ItemId& item) {
  if (const std::optional<std::uint32_t> found = Find(item)) return *found;
  std::uint32_t n = 0;
  if (!free_.empty()) {
    n = free_.back();
    free_.pop_back();
  } else {
    RECSD_CHECK(nodes_.size() < UINT32_MAX, "item graph nodes");
    n = static_cast<std::uint32_t>(nodes_.size());
    nodes_.emplace_back();
  }
  nodes_[n].id = item;
  nodes_[n].epoch = 0;
  index_.Insert(item, n);
  release_.push_back(n);  // freed again unless an edge keeps it
  return n;
}

void ItemGraph::Advance(double t) {
  if (const std::optional<double> scale = frame_.Advance(t)) Rebase(*scale);
}

namespace {

// The position of `x` in to[0..n), or n. Most searches miss (a new edge) and read the whole list
// (up to max_neighbours, 128-256 by default, on every event's 15 edges), so on x86-64 16 targets
// are compared in four SSE2 instructions and one test; GCC 12 left the plain loop scalar.
std::size_t IndexOf(const std::uint32_t* to, std::size_t n, std::uint32_t x) {
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i needle = _mm_set1_epi32(static_cast<int>(x));
  const auto equal = [&](std::size_t at) {
    return _mm_cmpeq_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(to + at)), needle);
  };
  for (; i + 16 <= n; i += 16) {
    const __m128i any = _mm_or_si128(_mm_or_si128(equal(i), equal(i + 4)),
                                     _mm_or_si128(equal(i + 8), equal(i + 12)));
    if (_mm_movemask_epi8(any) != 0) break;  // in this block: found below
  }
#endif
  for (; i < n; ++i) {
    if (to[i] == x) return i;
  }
  return n;
}

// A node's out-edges are a binary min-heap by weight (targets moved along): the weakest edge, the
// one a new edge may replace, is the first, and an edge that gains weight sinks in O(log K).
void SiftDown(std::vector<std::uint32_t>& to, std::vector<double>& stored, std::size_t i) {
  const std::size_t n = stored.size();
  for (;;) {
    const std::size_t left = 2 * i + 1;
    if (left >= n) return;
    std::size_t m = left;
    if (left + 1 < n && stored[left + 1] < stored[left]) m = left + 1;
    if (!(stored[m] < stored[i])) return;
    std::swap(stored[i], stored[m]);
    std::swap(to[i], to[m]);
    i = m;
  }
}

void SiftUp(std::vector<std::uint32_t>& to, std::vector<double>& stored, std::size_t i) {
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!(stored[i] < stored[parent])) return;
    std::swap(stored[i], stored[parent]);
    std::swap(to[i], to[parent]);
    i = parent;
  }
}

}  // namespace

void ItemGraph::AddEdge(std::uint32_t from, std::uint32_t to, double stored) {
  Node& node = nodes_[from];
  const std::size_t n = node.to.size();
  const std::size_t i = IndexOf(node.to.data(), n, to);
  if (i < n) {
    node.stored[i] += stored;
    SiftDown(node.to, node.stored, i);
    return;
  }
  if (n < options_.max_neighbours) {
    if (n == 0) ++items_;
    node.to.push_back(to);
    node.stored.push_back(stored);
    SiftUp(node.to, node.stored, n);
    ++nodes_[to].in;
    return;
  }
  if (stored > node.stored[0]) {  // replaces the weakest
    --nodes_[node.to[0]].in;
    release_.push_back(node.to[0]);
    node.to[0] = to;
    node.stored[0] = stored;
    SiftDown(node.to, node.stored, 0);
    ++nodes_[to].in;
  }
}

template <class Drop>
void ItemGraph::DropEdges(std::uint32_t n, Drop&& drop) {
  Node& node = nodes_[n];
  if (node.to.empty()) return;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < node.to.size(); ++i) {
    if (drop(node.stored[i])) {
      --nodes_[node.to[i]].in;
      release_.push_back(node.to[i]);
    } else {
      node.to[kept] = node.to[i];
      node.stored[kept] = node.stored[i];
      ++kept;
    }
  }
  node.to.resize(kept);
  node.stored.resize(kept);
  for (std::size_t i = kept / 2; i-- > 0;) SiftDown(node.to, node.stored, i);
  if (kept == 0) {
    --items_;
    node.to.shrink_to_fit();
    node.stored.shrink_to_fit();
    release_.push_back(n);
  }
}

void ItemGraph::Settle() {
  if (items_ > options_.max_items) Shrink();
  for (std::uint32_t n : release_) {
    Node& node = nodes_[n];
    if (node.id.empty() || !node.to.empty() || node.in > 0) continue;
    index_.Erase(node.id, [this](std::uint32_t m) -> const ItemId& { return nodes_[m].id; });
    node = Node{};
    free_.push_back(n);
  }
  release_.clear();
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
  for (const Node& from : nodes_) {
    for (std::size_t i = 0; i < from.to.size(); ++i) {
      Entry e{from.stored[i], &from.id, &nodes_[from.to[i]].id};
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

double ItemGraph::WeightAt(const ItemId& a, const ItemId& b, double t) const {
  const Node* from = NodeOf(a);
  const std::optional<std::uint32_t> to = Find(b);
  if (from == nullptr || !to) return 0.0;
  const std::size_t i = IndexOf(from->to.data(), from->to.size(), *to);
  return i < from->to.size() ? from->stored[i] * frame_.Scale(t) : 0.0;
}

std::vector<std::pair<ItemId, double>> ItemGraph::Neighbours(const ItemId& item, double t) const {
  const Node* node = NodeOf(item);
  if (node == nullptr) return {};
  std::vector<std::pair<ItemId, double>> out;
  out.reserve(node->to.size());
  const double scale = frame_.Scale(t);
  for (std::size_t i = 0; i < node->to.size(); ++i) {
    out.emplace_back(nodes_[node->to[i]].id, node->stored[i] * scale);
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  return out;
}

void ItemGraph::Rebase(double scale) {
  for (std::uint32_t n = 0; n < nodes_.size(); ++n) {
    for (double& w : nodes_[n].stored) w *= scale;
    DropEdges(n, [&](double w) { return w < options_.floor; });
  }
}

void ItemGraph::Shrink() {
  std::vector<std::pair<double, std::uint32_t>> totals;
  totals.reserve(items_);
  for (std::uint32_t n = 0; n < nodes_.size(); ++n) {
    if (nodes_[n].to.empty()) continue;
    double total = 0;
    for (double w : nodes_[n].stored) total += w;
    totals.emplace_back(total, n);
  }
  const std::size_t drop = totals.size() - options_.max_items * 3 / 4;
  std::nth_element(totals.begin(), totals.begin() + static_cast<std::ptrdiff_t>(drop), totals.end(),
                   [&](const auto& x, const auto& y) {
                     return x.first != y.first ? x.first < y.first
                                               : nodes_[x.second].id < nodes_[y.second].id;
                   });
  for (std::size_t i = 0; i < drop; ++i) {
    DropEdges(totals[i].second, [](double) { return true; });
  }
}

}  // namespace recsd::model
