#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "model/check.h"
#include "model/decay.h"
#include "model/id_index.h"

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
    const double stored = frame_.Store(t, weight);
    if (const std::optional<std::uint32_t> i = Find(key)) {
      values_[*i] += stored;
      return;
    }
    RECSD_CHECK(keys_.size() < UINT32_MAX, "counter keys");
    keys_.push_back(key);
    values_.push_back(stored);
    index_.Insert(key, static_cast<std::uint32_t>(keys_.size() - 1));
    if (keys_.size() > max_keys_) {
      Shrink();
    }
  }

  // The decayed value of `key` at time t (0 for an unknown key).
  double ValueAt(const Key& key, double t) const {
    const std::optional<std::uint32_t> i = Find(key);
    return i ? values_[*i] * frame_.Scale(t) : 0.0;
  }

  // The n keys with the largest values at time t, largest first, ties broken by key (`less`).
  template <class Less = std::less<Key>>
  std::vector<std::pair<Key, double>> TopN(std::size_t n, double t, Less less = Less()) const {
    std::vector<std::pair<Key, double>> all;
    all.reserve(keys_.size());
    for (std::size_t i = 0; i < keys_.size(); ++i) all.emplace_back(keys_[i], values_[i]);
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
    for (std::size_t i = 0; i < keys_.size(); ++i) f(keys_[i], values_[i] * scale);
  }

  bool Erase(const Key& key) {
    const std::optional<std::uint32_t> i = Find(key);
    if (!i) return false;
    EraseAt(*i);
    return true;
  }
  std::size_t size() const noexcept { return keys_.size(); }

 private:
  std::optional<std::uint32_t> Find(const Key& key) const {
    return index_.Find(key, [this](std::uint32_t i) -> const Key& { return keys_[i]; });
  }

  // Removes entry i; the last entry takes its place.
  void EraseAt(std::size_t i) {
    const auto key_of = [this](std::uint32_t n) -> const Key& { return keys_[n]; };
    index_.Erase(keys_[i], key_of);
    const std::size_t last = keys_.size() - 1;
    if (i != last) {
      index_.Erase(keys_[last], key_of);
      keys_[i] = std::move(keys_[last]);
      values_[i] = values_[last];
      index_.Insert(keys_[i], static_cast<std::uint32_t>(i));
    }
    keys_.pop_back();
    values_.pop_back();
  }

  void Rebase(double scale) {
    for (std::size_t i = keys_.size(); i-- > 0;) {  // from the end: EraseAt moves a seen entry
      values_[i] *= scale;
      if (std::fabs(values_[i]) < floor_) EraseAt(i);
    }
  }

  // Drops the weakest keys by rank (not by a threshold, which ties would defeat), ties broken by
  // key so the result does not depend on the order entries are kept in.
  void Shrink() {
    std::vector<std::pair<double, Key>> entries;
    entries.reserve(keys_.size());
    for (std::size_t i = 0; i < keys_.size(); ++i)
      entries.emplace_back(std::fabs(values_[i]), keys_[i]);
    const std::size_t drop = entries.size() - max_keys_ * 3 / 4;
    std::nth_element(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(drop),
                     entries.end(), [](const auto& a, const auto& b) {
                       return a.first != b.first ? a.first < b.first
                                                 : std::less<Key>()(a.second, b.second);
                     });
    for (std::size_t i = 0; i < drop; ++i) Erase(entries[i].second);
  }

  DecayFrame frame_;
  std::size_t max_keys_;
  double floor_;
  // Entries in two arrays (any order), found through index_: an update reads one index slot,
  // the key and the value, not a node of a std::unordered_map.
  std::vector<Key> keys_;
  std::vector<double> values_;
  FlatIndex<Key, Hash> index_;
};

}  // namespace recsd::model
