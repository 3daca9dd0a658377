#include "daemon/eval/baselines.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

namespace recsd::daemon {
namespace {

constexpr std::array<std::string_view, 3> kNames = {"popularity", "cooccurrence",
                                                    "sequential-rules"};

// All-time counts, kept in order: an increment moves the item up past those it overtook, so the
// most popular items are always at the front.
class Popularity {
 public:
  void Add(std::uint32_t item) {
    if (item >= position_.size()) {
      for (auto i = static_cast<std::uint32_t>(position_.size()); i <= item; ++i) {
        position_.push_back(static_cast<std::uint32_t>(order_.size()));
        order_.push_back(i);
        count_.push_back(0);
      }
    }
    ++count_[item];
    // Before an equal count means an older (smaller) item: ties keep the lower index first.
    std::uint32_t p = position_[item];
    while (p > 0) {
      const std::uint32_t above = order_[p - 1];
      if (count_[above] > count_[item] || (count_[above] == count_[item] && above < item)) break;
      std::swap(order_[p - 1], order_[p]);
      position_[order_[p]] = p;
      --p;
    }
    position_[item] = p;
  }
  // Appends the most popular items that `skip` rejects not, until `out` has k.
  template <class Skip>
  void Fill(std::size_t k, Skip skip, std::vector<std::uint32_t>* out) const {
    for (std::uint32_t item : order_) {
      if (out->size() >= k) return;
      if (count_[item] > 0 && !skip(item)) out->push_back(item);
    }
  }

 private:
  std::vector<std::uint32_t> order_;
  std::vector<std::uint32_t> position_;
  std::vector<std::uint64_t> count_;
};

// What every baseline keeps per user: the history in order and the items seen.
struct History {
  std::vector<std::uint32_t> items;
  std::unordered_set<std::uint32_t> seen;
};

class BaselineBase : public Baseline {
 public:
  void Learn(std::uint32_t user, std::uint32_t item) override {
    History& h = users_[user];
    LearnPairs(h.items, item);
    h.items.push_back(item);
    h.seen.insert(item);
    popularity_.Add(item);
  }
  void Forget(std::uint32_t user) override { users_.erase(user); }
  void Rank(std::uint32_t user, std::size_t k, std::vector<std::uint32_t>* out) const override {
    out->clear();
    const History none;
    auto it = users_.find(user);
    const History& h = it == users_.end() ? none : it->second;
    const auto seen = [&](std::uint32_t item) { return h.seen.contains(item); };
    std::unordered_map<std::uint32_t, double> scores;
    Score(h.items, &scores);
    std::vector<std::pair<std::uint32_t, double>> ranked(scores.begin(), scores.end());
    std::erase_if(ranked, [&](const auto& s) { return seen(s.first) || !(s.second > 0); });
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    for (const auto& [item, score] : ranked) {
      if (out->size() == k) break;
      out->push_back(item);
    }
    popularity_.Fill(
        k, [&](std::uint32_t item) { return seen(item) || scores.contains(item); }, out);
  }

 protected:
  // Learns from `item` following `history` (the user's items so far, oldest first).
  virtual void LearnPairs(std::span<const std::uint32_t> history, std::uint32_t item) = 0;
  // Scores candidates for a user with this history.
  virtual void Score(std::span<const std::uint32_t> history,
                     std::unordered_map<std::uint32_t, double>* scores) const = 0;

  using Neighbours = std::unordered_map<std::uint32_t, double>;
  std::unordered_map<std::uint32_t, Neighbours> edges_;

 private:
  Popularity popularity_;
  std::unordered_map<std::uint32_t, History> users_;
};

class PopularityBaseline final : public BaselineBase {
  void LearnPairs(std::span<const std::uint32_t>, std::uint32_t) override {}
  void Score(std::span<const std::uint32_t>,
             std::unordered_map<std::uint32_t, double>*) const override {}
};

// Scores from the user's last items with these weights, latest first.
void ScoreFrom(
    const std::unordered_map<std::uint32_t, std::unordered_map<std::uint32_t, double>>& edges,
    std::span<const std::uint32_t> history, std::span<const double> weights,
    std::unordered_map<std::uint32_t, double>* scores) {
  for (std::size_t j = 0; j < weights.size() && j < history.size(); ++j) {
    auto it = edges.find(history[history.size() - 1 - j]);
    if (it == edges.end()) continue;
    for (const auto& [to, w] : it->second) (*scores)[to] += weights[j] * w;
  }
}

class CooccurrenceBaseline final : public BaselineBase {
  void LearnPairs(std::span<const std::uint32_t> history, std::uint32_t item) override {
    if (history.empty() || history.back() == item) return;
    edges_[history.back()][item] += 1;
    edges_[item][history.back()] += 1;
  }
  void Score(std::span<const std::uint32_t> history,
             std::unordered_map<std::uint32_t, double>* scores) const override {
    static constexpr std::array<double, 3> kWeights = {1, 1, 1};
    ScoreFrom(edges_, history, kWeights, scores);
  }
};

class SequentialRulesBaseline final : public BaselineBase {
  void LearnPairs(std::span<const std::uint32_t> history, std::uint32_t item) override {
    for (std::size_t gap = 1; gap <= 5 && gap <= history.size(); ++gap) {
      const std::uint32_t a = history[history.size() - gap];
      if (a != item) edges_[a][item] += 1.0 / static_cast<double>(gap);
    }
  }
  void Score(std::span<const std::uint32_t> history,
             std::unordered_map<std::uint32_t, double>* scores) const override {
    static constexpr std::array<double, 3> kWeights = {1, 0.6, 0.4};
    ScoreFrom(edges_, history, kWeights, scores);
  }
};

}  // namespace

std::span<const std::string_view> BaselineNames() { return kNames; }

std::unique_ptr<Baseline> MakeBaseline(std::string_view name) {
  if (name == "popularity") return std::make_unique<PopularityBaseline>();
  if (name == "cooccurrence") return std::make_unique<CooccurrenceBaseline>();
  if (name == "sequential-rules") return std::make_unique<SequentialRulesBaseline>();
  return nullptr;
}

BaselineRun RunBaseline(std::string_view name, std::span<const Event> events,
                        const EventTypeTable& types, std::size_t k, std::size_t catalog_size) {
  const auto start = std::chrono::steady_clock::now();
  BaselineRun run;
  run.name = std::string(name);
  std::unique_ptr<Baseline> baseline = MakeBaseline(name);
  if (baseline == nullptr) return run;
  std::unordered_map<UserId, std::uint32_t> users;
  std::unordered_map<ItemId, std::uint32_t> items;
  std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> lists;  // by user: current top k
  std::unordered_set<std::uint32_t> served;
  for (const Event& e : events) {
    const auto [user, new_user] =
        users.try_emplace(e.user, static_cast<std::uint32_t>(users.size()));
    if (e.type == event_type::kForget) {
      baseline->Forget(user->second);
      lists.erase(user->second);
      continue;
    }
    if (!(types.Get(e.type).weight > 0)) continue;
    const auto [item, new_item] =
        items.try_emplace(e.item, static_cast<std::uint32_t>(items.size()));
    if (auto list = lists.find(user->second); list != lists.end()) {
      std::int32_t rank = -1;
      for (std::size_t i = 0; i < list->second.size(); ++i) {
        if (list->second[i] == item->second) rank = static_cast<std::int32_t>(i);
      }
      run.ranks.push_back(rank);
      if (rank >= 0) {
        ++run.hit_rate;
        run.ndcg += 1.0 / std::log2(rank + 2.0);
        run.mrr += 1.0 / (rank + 1.0);
      }
    }
    baseline->Learn(user->second, item->second);
    std::vector<std::uint32_t>& list = lists[user->second];
    baseline->Rank(user->second, k, &list);
    served.insert(list.begin(), list.end());
  }
  const auto n = static_cast<double>(run.ranks.size());
  if (n > 0) {
    run.hit_rate /= n;
    run.ndcg /= n;
    run.mrr /= n;
  }
  run.coverage = catalog_size == 0
                     ? 0.0
                     : static_cast<double>(served.size()) / static_cast<double>(catalog_size);
  run.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return run;
}

McNemar McNemarTest(std::span<const std::int32_t> first_ranks,
                    std::span<const std::int32_t> second_ranks, std::size_t k) {
  McNemar m;
  const std::size_t n = std::min(first_ranks.size(), second_ranks.size());
  for (std::size_t i = 0; i < n; ++i) {
    const bool a = first_ranks[i] >= 0 && static_cast<std::size_t>(first_ranks[i]) < k;
    const bool b = second_ranks[i] >= 0 && static_cast<std::size_t>(second_ranks[i]) < k;
    if (a && !b) ++m.first_only;
    if (b && !a) ++m.second_only;
  }
  const double discordant = static_cast<double>(m.first_only + m.second_only);
  if (discordant > 0) {
    m.z = (static_cast<double>(m.first_only) - static_cast<double>(m.second_only)) /
          std::sqrt(discordant);
    m.p_two_sided = std::erfc(std::fabs(m.z) / std::sqrt(2.0));
  }
  return m;
}

}  // namespace recsd::daemon
