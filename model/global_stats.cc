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
    for (const auto& [item, v] : r->popularity) popularity_[item] += v * pop_scale;
    const double covisit_scale = std::exp2(-(t_ref_ - t) / covisit_half_life_);
    for (const PartitionStats::Edge& e : r->covisit) {
      auto& edges = covisit_[e.from];
      const auto same = [&](const auto& edge) { return edge.first == e.to; };
      if (auto it = std::find_if(edges.begin(), edges.end(), same); it != edges.end()) {
        it->second += e.weight * covisit_scale;
      } else {
        edges.emplace_back(e.to, e.weight * covisit_scale);
      }
    }
    evidence_.Add(r->learner, prior);
    ++partitions_;
  }
}

double PeerStats::Popularity(const ItemId& item, double t) const {
  auto it = popularity_.find(item);
  return it == popularity_.end() ? 0.0 : it->second * Scale(t, trending_half_life_);
}

}  // namespace recsd::model
