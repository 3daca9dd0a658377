#include "model/item_graph.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__SSE2__)
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

void ItemGraph::Edges::PushBack(std::uint32_t target, double weight) {
  if (size_ == capacity_) {
    RECSD_CHECK(capacity_ <= UINT32_MAX / 2, "item graph edges");
    const std::uint32_t capacity = capacity_ == 0 ? 4 : 2 * capacity_;
    auto buffer = std::make_unique_for_overwrite<std::byte[]>(
        std::size_t{capacity} * (sizeof(double) + sizeof(std::uint32_t)));
    auto* weights = reinterpret_cast<double*>(buffer.get());
    std::copy_n(stored(), size_, weights);
    std::copy_n(to(), size_, reinterpret_cast<std::uint32_t*>(weights + capacity));
    buffer_ = std::move(buffer);
    capacity_ = capacity;
  }
  stored()[size_] = weight;
  to()[size_] = target;
  ++size_;
}

void ItemGraph::Edges::Truncate(std::uint32_t n) {
  RECSD_CHECK(n <= size_, "edges kept");
  size_ = n;
  if (n == 0) {
    buffer_.reset();
    capacity_ = 0;
  }
}

namespace {

// The position of `x` in to[0..n), or n. Most searches miss (a new edge) and read the whole list
// (up to max_neighbours, 128-256 by default, on every event's 15 edges), so on x86-64 the targets
// are compared in blocks, 32 at a time with AVX2 (four compares and one test), else 16 with SSE2;
// GCC 12 left the plain loop scalar.
#if defined(__x86_64__)
__attribute__((target("avx2"))) std::size_t IndexOfAvx2(const std::uint32_t* to, std::size_t n,
                                                        std::uint32_t x) {
  std::size_t i = 0;
  const __m256i needle = _mm256_set1_epi32(static_cast<int>(x));
  const auto equal = [&](std::size_t at) __attribute__((target("avx2"))) {
    return _mm256_cmpeq_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(to + at)),
                              needle);
  };
  for (; i + 32 <= n; i += 32) {
    const __m256i any = _mm256_or_si256(_mm256_or_si256(equal(i), equal(i + 8)),
                                        _mm256_or_si256(equal(i + 16), equal(i + 24)));
    if (_mm256_testz_si256(any, any) == 0) break;  // in this block: found below
  }
  for (; i < n; ++i) {
    if (to[i] == x) return i;
  }
  return n;
}
#endif

std::size_t IndexOf(const std::uint32_t* to, std::size_t n, std::uint32_t x) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return IndexOfAvx2(to, n, x);
#endif
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
void SiftDown(std::uint32_t* to, double* stored, std::size_t n, std::size_t i) {
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

void SiftUp(std::uint32_t* to, double* stored, std::size_t i) {
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
  Edges& out = nodes_[from].out;
  const std::size_t n = out.size();
  const std::size_t i = IndexOf(out.to(), n, to);
  if (i < n) {
    out.stored()[i] += stored;
    SiftDown(out.to(), out.stored(), n, i);
    return;
  }
  if (n < options_.max_neighbours) {
    if (n == 0) ++items_;
    out.PushBack(to, stored);
    SiftUp(out.to(), out.stored(), n);
    ++nodes_[to].in;
    return;
  }
  std::uint32_t* targets = out.to();
  double* weights = out.stored();
  if (stored > weights[0]) {  // replaces the weakest
    --nodes_[targets[0]].in;
    release_.push_back(targets[0]);
    targets[0] = to;
    weights[0] = stored;
    SiftDown(targets, weights, n, 0);
    ++nodes_[to].in;
  }
}

template <class Drop>
void ItemGraph::DropEdges(std::uint32_t n, Drop&& drop) {
  Edges& out = nodes_[n].out;
  if (out.empty()) return;
  std::uint32_t* targets = out.to();
  double* weights = out.stored();
  std::uint32_t kept = 0;
  for (std::uint32_t i = 0; i < out.size(); ++i) {
    if (drop(weights[i])) {
      --nodes_[targets[i]].in;
      release_.push_back(targets[i]);
    } else {
      targets[kept] = targets[i];
      weights[kept] = weights[i];
      ++kept;
    }
  }
  for (std::size_t i = kept / 2; i-- > 0;) SiftDown(targets, weights, kept, i);
  out.Truncate(kept);  // none left: the buffer is freed
  if (kept == 0) {
    --items_;
    release_.push_back(n);
  }
}

void ItemGraph::Settle() {
  if (items_ > options_.max_items) Shrink();
  for (std::uint32_t n : release_) {
    Node& node = nodes_[n];
    if (node.id.empty() || !node.out.empty() || node.in > 0) continue;
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
    for (std::uint32_t i = 0; i < from.out.size(); ++i) {
      Entry e{from.out.stored()[i], &from.id, &nodes_[from.out.to()[i]].id};
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
  const std::size_t i = IndexOf(from->out.to(), from->out.size(), *to);
  return i < from->out.size() ? from->out.stored()[i] * frame_.Scale(t) : 0.0;
}

std::vector<std::pair<ItemId, double>> ItemGraph::Neighbours(const ItemId& item, double t) const {
  const Node* node = NodeOf(item);
  if (node == nullptr) return {};
  std::vector<std::pair<ItemId, double>> out;
  out.reserve(node->out.size());
  const double scale = frame_.Scale(t);
  for (std::uint32_t i = 0; i < node->out.size(); ++i) {
    out.emplace_back(nodes_[node->out.to()[i]].id, node->out.stored()[i] * scale);
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  return out;
}

void ItemGraph::Rebase(double scale) {
  for (std::uint32_t n = 0; n < nodes_.size(); ++n) {
    Edges& out = nodes_[n].out;
    std::for_each(out.stored(), out.stored() + out.size(), [&](double& w) { w *= scale; });
    DropEdges(n, [&](double w) { return w < options_.floor; });
  }
}

void ItemGraph::Shrink() {
  std::vector<std::pair<double, std::uint32_t>> totals;
  totals.reserve(items_);
  for (std::uint32_t n = 0; n < nodes_.size(); ++n) {
    const Edges& out = nodes_[n].out;
    if (out.empty()) continue;
    const double total = std::accumulate(out.stored(), out.stored() + out.size(), 0.0);
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
