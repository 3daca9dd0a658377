#include "model/global_stats.h"

#include <algorithm>

namespace recsd::model {

bool PeerStats::Compatible(const PartitionStats& record, double trending_half_life,
                           double covisit_half_life, double prior_variance) {
  return record.trending_half_life == trending_half_life &&
         record.covisit_half_life == covisit_half_life && record.prior_variance == prior_variance;
}

PeerStats::PeerStats(std::span<const PartitionStats* const> records, double trending_half_life,
                     double covisit_half_life, const WeightPosterior& prior)
    : trending_half_life_(trending_half_life), covisit_half_life_(covisit_half_life) {
  // The latest record's time as the reference: the others are decayed forward to it.
  bool first = true;
  for (const PartitionStats* r : records) {
    const double t = static_cast<double>(r->as_of.ms) / 1000.0;
    t_ref_ = first ? t : std::max(t_ref_, t);
    first = false;
  }
  for (const PartitionStats* r : records) {
    const double t = static_cast<double>(r->as_of.ms) / 1000.0;
    const double pop_scale = std::exp2(-(t_ref_ - t) / trending_half_life_);
    for (const auto& [item, v] : r->popularity) {
      popularity_[item].emplace_back(r->partition, v * pop_scale);
    }
    const double covisit_scale = std::exp2(-(t_ref_ - t) / covisit_half_life_);
    for (const PartitionStats::Edge& e : r->covisit) {
      covisit_[e.from].push_back({e.to, r->partition, e.weight * covisit_scale});
    }
    LearnerEvidence evidence;
    evidence.Add(r->learner, prior);
    evidence_.emplace_back(r->partition, evidence);
  }
}

double PeerStats::Popularity(const ItemId& item, double t, std::int32_t exclude) const {
  auto it = popularity_.find(item);
  return it == popularity_.end() ? 0.0 : Sum(it->second, exclude) * Scale(t, trending_half_life_);
}

LearnerEvidence PeerStats::Evidence(std::int32_t exclude) const {
  LearnerEvidence sum;
  for (const auto& [partition, e] : evidence_) {
    if (partition != exclude) sum.Add(e);
  }
  return sum;
}

std::size_t PeerStats::Partitions(std::int32_t exclude) const {
  return static_cast<std::size_t>(std::count_if(evidence_.begin(), evidence_.end(),
                                                [&](const auto& e) { return e.first != exclude; }));
}

}  // namespace recsd::model
