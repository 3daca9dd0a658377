#include "model/global_stats.h"

#include <algorithm>

namespace recsd::model {
namespace {

double Seconds(TimestampMs t) { return static_cast<double>(t.ms) / 1000.0; }

}  // namespace

const SourceStats* PartitionStats::Find(std::string_view source) const {
  for (const SourceStats& s : sources) {
    if (s.source == source) return &s;
  }
  return nullptr;
}

void SourcePeers::Add(std::int32_t partition, const SourceStats& stats, double as_of_s) {
  const double scale = std::exp2(-(t_ref_ - as_of_s) / half_life_);
  for (const auto& [item, v] : stats.items) items_[item].emplace_back(partition, v * scale);
  for (const SourceStats::Edge& e : stats.edges) {
    edges_[e.from].push_back({e.to, partition, e.weight * scale});
  }
  for (const SourceStats::Vector& v : stats.vectors) {
    std::vector<float> values = v.values;
    for (float& x : values) x = static_cast<float>(x * scale);
    vectors_[v.item].push_back({partition, v.mass * scale, std::move(values)});
  }
}

double SourcePeers::ItemValue(const ItemId& item, double t, std::int32_t exclude) const {
  auto it = items_.find(item);
  return it == items_.end() ? 0.0 : Sum(it->second, exclude) * Scale(t);
}

PeerStats::PeerStats(std::span<const PartitionStats* const> records, const WeightPosterior& prior) {
  // The latest record's time as the reference: the others are decayed forward to it.
  double t_ref = 0;
  bool first = true;
  for (const PartitionStats* r : records) {
    t_ref = first ? Seconds(r->as_of) : std::max(t_ref, Seconds(r->as_of));
    first = false;
  }
  for (const PartitionStats* r : records) {
    for (const SourceStats& s : r->sources) {
      auto it = std::find_if(sources_.begin(), sources_.end(),
                             [&](const auto& entry) { return entry.first == s.source; });
      if (it == sources_.end()) {
        sources_.emplace_back(s.source, SourcePeers(s.half_life, t_ref));
        it = sources_.end() - 1;
      }
      it->second.Add(r->partition, s, Seconds(r->as_of));
    }
    LearnerEvidence evidence;
    evidence.Add(r->learner, prior, r->features.size());
    evidence_.emplace_back(r->partition, evidence);
  }
}

const SourcePeers* PeerStats::Find(std::string_view name) const {
  for (const auto& [source, peers] : sources_) {
    if (source == name) return &peers;
  }
  return nullptr;
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
