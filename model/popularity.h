#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <iterator>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/check.h"
#include "model/decay.h"

namespace recsd::model {

// Exponentially decayed counts per key (item popularity for `trending`, per-category popularity,
// co-occurrence weights), with O(1) updates however many keys there are. Values live in a frame
// rebased at t_ref:
//   Add(t, w):    s_k += w·2^((t − t_ref)/h)            value_k(t) = s_k·2^(−(t − t_ref)/h)
// so one common factor decays every key at once and the ranking of keys never needs a pass over
// them. When t moves kRebaseHalfLives half-lives past t_ref the frame is rebased (all s_k scaled
// down, t_ref = t) and keys whose value fell below `floor` are dropped; when more than
// `max_keys` keys are held, the weakest are dropped down to 3/4 of it. Memory is therefore
// bounded and decayed-away keys disappear. Single writer; no locking. Deterministic.
template <class Key, class Hash = std::hash<Key>>
class DecayedCounter {
 public:
  static constexpr double kRebaseHalfLives = 32;

  DecayedCounter(double half_life, std::size_t max_keys, double floor = 1e-6)
      : half_life_(half_life), max_keys_(max_keys), floor_(floor) {
    RECSD_CHECK(half_life > 0 && max_keys > 0 && floor >= 0, "counter parameters");
  }

  void Add(double t, double weight, const Key& key) {
    if (!started_) {
      started_ = true;
      t_ref_ = t;
    }
    if ((t - t_ref_) / half_life_ > kRebaseHalfLives) {
      Rebase(t);
    }
    values_[key] += weight * std::exp2((t - t_ref_) / half_life_);
    if (values_.size() > max_keys_) {
      Shrink();
    }
  }

  // The decayed value of `key` at time t (0 for an unknown key).
  double ValueAt(const Key& key, double t) const {
    auto it = values_.find(key);
    return it == values_.end() ? 0.0 : it->second * std::exp2(-(t - t_ref_) / half_life_);
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
    const double scale = std::exp2(-(t - t_ref_) / half_life_);
    for (auto& [key, v] : all) v *= scale;
    return all;
  }

  bool Erase(const Key& key) { return values_.erase(key) == 1; }
  std::size_t size() const noexcept { return values_.size(); }

 private:
  void Rebase(double t) {
    const double scale = std::exp2(-(t - t_ref_) / half_life_);
    t_ref_ = t;
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

  double half_life_;
  std::size_t max_keys_;
  double floor_;
  double t_ref_ = 0;
  bool started_ = false;
  std::unordered_map<Key, double, Hash> values_;
};

}  // namespace recsd::model
