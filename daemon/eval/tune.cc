#include "daemon/eval/tune.h"

#include <algorithm>
#include <cmath>

#include "model/random.h"

namespace recsd::daemon {

void CandidateTable::Ranked(const UserId& user, const model::Catalog& catalog,
                            std::span<const model::Candidate> candidates) {
  catalog_ = &catalog;
  Latest& latest = latest_[user];
  latest.rows.clear();
  latest.x.clear();
  for (const model::Candidate& c : candidates) {
    latest.rows.push_back(c.row);
    latest.x.insert(latest.x.end(), c.x.begin(),
                    c.x.begin() + static_cast<std::ptrdiff_t>(features_));
  }
}

void CandidateTable::Evaluating(const UserId& user, const ItemId& item) {
  ++interactions_;
  auto it = latest_.find(user);
  if (it == latest_.end() || catalog_ == nullptr) return;
  const std::optional<std::size_t> row = catalog_->Find(item);
  if (!row) return;
  const Latest& latest = it->second;
  const auto at = std::find(latest.rows.begin(), latest.rows.end(), *row);
  if (at == latest.rows.end()) return;  // not a candidate: a miss whatever the weights
  const auto target = static_cast<std::size_t>(at - latest.rows.begin());
  const float* xt = latest.x.data() + target * features_;
  Entry entry{rows_.size(), 0};
  const auto add = [&](std::size_t i) {
    rows_.push_back(latest.rows[i]);
    const float* xi = latest.x.data() + i * features_;
    x_.insert(x_.end(), xi, xi + features_);
    ++entry.count;
  };
  add(target);
  for (std::size_t i = 0; i < latest.rows.size(); ++i) {
    if (i == target) continue;
    const float* xi = latest.x.data() + i * features_;
    // Some feature above the item's: some weights rank it higher. Of a lower row, it is ranked
    // above the item at equal scores, which weights of 0 on the features where it is below make
    // possible.
    bool above = latest.rows[i] < *row;
    for (std::size_t s = 0; s < features_ && !above; ++s) above = xi[s] > xt[s];
    if (above) add(i);
  }
  entries_.push_back(entry);
}

CandidateTable::Quality CandidateTable::Evaluate(const model::FusionWeights& weights) const {
  Quality q;
  if (interactions_ == 0) return q;
  for (const Entry& e : entries_) {
    const auto score = [&](std::size_t i) {
      double s = 0;  // as model::Rank: double sum of weight × float feature
      const float* x = x_.data() + i * features_;
      for (std::size_t f = 0; f < features_; ++f) s += weights.w[f] * x[f];
      return s;
    };
    const double target = score(e.first);
    const std::uint32_t target_row = rows_[e.first];
    std::size_t rank = 0;
    for (std::size_t i = e.first + 1; i < e.first + e.count && rank < k_; ++i) {
      const double s = score(i);
      if (s > target || (s == target && rows_[i] < target_row)) ++rank;
    }
    if (rank < k_) {
      q.hit_rate += 1;
      q.ndcg += 1.0 / std::log2(static_cast<double>(rank) + 2.0);
      q.mrr += 1.0 / (static_cast<double>(rank) + 1.0);
    }
  }
  const auto n = static_cast<double>(interactions_);
  q.hit_rate /= n;
  q.ndcg /= n;
  q.mrr /= n;
  return q;
}

namespace {

bool Better(const CandidateTable::Quality& a, const CandidateTable::Quality& b) {
  return a.hit_rate != b.hit_rate ? a.hit_rate > b.hit_rate : a.ndcg > b.ndcg;
}

}  // namespace

TuneReport TuneWeights(const CandidateTable& table, const model::FusionWeights& start,
                       std::uint64_t seed, std::size_t passes, std::size_t random) {
  TuneReport report;
  report.start = start;
  report.start_quality = table.Evaluate(start);
  report.interactions = table.interactions();
  report.reachable = table.reachable();
  const std::size_t features = table.features();
  const auto evaluate = [&](const model::FusionWeights& w) {
    ++report.evaluations;
    return table.Evaluate(w);
  };
  // Coordinate search from w: each weight at 0, at multiples of itself and at absolute values.
  const auto refine = [&](model::FusionWeights w, CandidateTable::Quality q) {
    static constexpr double kFactors[] = {0.25, 0.5, 0.7, 1.4, 2, 4};
    static constexpr double kValues[] = {0, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5};
    for (std::size_t pass = 0; pass < passes; ++pass) {
      bool improved = false;
      for (std::size_t f = 0; f < features; ++f) {
        std::vector<double> tries(std::begin(kValues), std::end(kValues));
        for (double m : kFactors) tries.push_back(w.w[f] * m);
        for (double v : tries) {
          if (v == w.w[f] || v > 1000) continue;
          model::FusionWeights next = w;
          next.w[f] = v;
          if (std::all_of(next.w.begin(), next.w.end(), [](double x) { return x == 0; })) continue;
          const CandidateTable::Quality nq = evaluate(next);
          if (Better(nq, q)) {
            w = next;
            q = nq;
            improved = true;
          }
        }
      }
      if (!improved) break;
    }
    return std::pair{w, q};
  };
  auto [best, quality] = refine(start, report.start_quality);
  model::SplitMix64 rng(seed);
  for (std::size_t r = 0; r < random; ++r) {
    model::FusionWeights w;
    for (std::size_t f = 0; f < features; ++f) w.w[f] = std::pow(10.0, -2.0 + 2.5 * rng.Uniform());
    auto [w2, q2] = refine(w, evaluate(w));
    if (Better(q2, quality)) {
      best = w2;
      quality = q2;
    }
  }
  report.best = best;
  report.best_quality = quality;
  return report;
}

nlohmann::ordered_json TuneReport::ToJson() const {
  const auto weights = [&](const model::FusionWeights& w) {
    nlohmann::ordered_json o = nlohmann::ordered_json::object();
    for (std::size_t f = 0; f < features.size(); ++f) o[features[f]] = w.w[f];
    return o;
  };
  const auto quality = [](const CandidateTable::Quality& q) {
    return nlohmann::ordered_json{{"hit_rate", q.hit_rate}, {"ndcg", q.ndcg}, {"mrr", q.mrr}};
  };
  nlohmann::ordered_json j;
  j["interactions"] = interactions;
  j["reachable"] = reachable;
  j["evaluations"] = evaluations;
  j["start"] = {{"weights", weights(start)}, {"table", quality(start_quality)}};
  j["best"] = {{"weights", weights(best)}, {"table", quality(best_quality)}};
  j["record"] = record.ToJson();
  j["verified"] = verified.ToJson();
  return j;
}

}  // namespace recsd::daemon
