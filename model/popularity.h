#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <iterator>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/check.h"
#include "model/decay.h"

namespace recsd::model {

// Exponentially decayed counts per key (item popularity for `trending`, per-category popularity),
// with O(1) updates however many keys there are: values live in a DecayFrame, so one common
// factor decays every key and the ranking of keys never needs an update pass. When the frame is
// rebased, keys whose value fell below `floor` are dropped; when more than `max_keys` keys are
// held, the weakest are dropped down to 3/4 of it. Memory is therefore bounded and decayed-away
// keys disappear. Single writer; no locking. Deterministic.
template <class Key, class Hash = std::hash<Key>>
class DecayedCounter {
 public:
  DecayedCounter(double half_life, std::size_t max_keys, double floor = 1e-6)
      : frame_(half_life), max_keys_(max_keys), floor_(floor) {
    RECSD_CHECK(half_life > 0 && max_keys > 0 && floor >= 0, "counter parameters");
  }

  void Add(double t, double weight, const Key& key) {
    if (const std::optional<double> scale = frame_.Advance(t)) {
      Rebase(*scale);
    }
    values_[key] += frame_.Store(t, weight);
    if (values_.size() > max_keys_) {
      Shrink();
    }
  }

  // The decayed value of `key` at time t (0 for an unknown key).
  double ValueAt(const Key& key, double t) const {
    auto it = values_.find(key);
    return it == values_.end() ? 0.0 : it->second * frame_.Scale(t);
  }

  // The n keys with the largest values at time t, largest first, ties broken by key (`less`).
  template <class Less = std::less<Key>>
  std::vector<std::pair<Key, double>> TopN(std::size_t n, double t, Less less = Less()) const {
    std::vector<std::pair<Key, double>> all(values_.begin(), values_.end());
    const auto better = [&](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : less(a.first, b.first);
    };
    const std::size_t k = std::min(n, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), better);
    all.resize(k);
    const double scale = frame_.Scale(t);
    for (auto& [key, v] : all) v *= scale;
    return all;
  }

  // Calls f(key, value at time t) for every key, in no particular order.
  template <class F>
  void ForEach(double t, F&& f) const {
    const double scale = frame_.Scale(t);
    for (const auto& [key, v] : values_) f(key, v * scale);
  }

  bool Erase(const Key& key) { return values_.erase(key) == 1; }
  std::size_t size() const noexcept { return values_.size(); }

 private:
  void Rebase(double scale) {
    for (auto it = values_.begin(); it != values_.end();) {
      it->second *= scale;
      it = std::fabs(it->second) < floor_ ? values_.erase(it) : std::next(it);
    }
  }

  // Drops the weakest keys by rank (not by a threshold, which ties would defeat), ties broken by
  // key so the result does not depend on hash order.
  void Shrink() {
    std::vector<std::pair<double, Key>> entries;
    entries.reserve(values_.size());
    for (const auto& [key, v] : values_) entries.emplace_back(std::fabs(v), key);
    const std::size_t drop = entries.size() - max_keys_ * 3 / 4;
    std::nth_element(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(drop),
                     entries.end(), [](const auto& a, const auto& b) {
                       return a.first != b.first ? a.first < b.first
                                                 : std::less<Key>()(a.second, b.second);
                     });
    for (std::size_t i = 0; i < drop; ++i) values_.erase(entries[i].second);
  }

  DecayFrame frame_;
  std::size_t max_keys_;
  double floor_;
  std::unordered_map<Key, double, Hash> values_;
};

}  // namespace recsd::model
