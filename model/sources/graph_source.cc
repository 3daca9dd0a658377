#include "model/sources/graph_source.h"

#include <cmath>

#include "model/check.h"
#include "model/global_stats.h"

namespace recsd::model {

GraphSource::GraphSource(std::string_view name, const GraphSourceOptions& options)
    : names_{name}, options_(options), graph_(options.graph) {
  RECSD_CHECK(options.backward >= 0 && options.backward <= 1 && options.window >= 0 &&
                  options.seeds > 0 && options.recency > 0 && options.recency <= 1,
              "graph source options");
}

void GraphSource::SetCatalog(const Catalog& catalog) {
  catalog_ = &catalog;
  ++catalog_epoch_;
  weights_.Resize(catalog.size());
}

void GraphSource::Learn(const Interaction& interaction) {
  const ItemId& item = *interaction.item;
  links_.clear();
  for (std::size_t g = 1; g <= options_.gaps; ++g) {
    const RecentItem* before = interaction.user->RecentAt(g - 1);
    if (before == nullptr || std::fabs(interaction.clock - before->t) > options_.window) break;
    if (before->item == item) continue;
    links_.push_back({&before->item, 1.0 / static_cast<double>(g)});
  }
  graph_.AddLinks(interaction.now_s, item, links_, options_.backward);
}

void GraphSource::BeginUser(const RankUser& user, const RankContext& ctx) {
  // The neighbours of the user's latest items (in the catalog or not: an item the catalog does
  // not hold yet may have neighbours it does), weights summed.
  if (user.state == nullptr) return;
  const Catalog& catalog = *ctx.catalog;
  const auto find = [&](const ItemId& id) { return catalog.Find(id); };
  double recency = 1.0;
  for (std::size_t j = 0; j < options_.seeds; ++j) {
    const RecentItem* seed = user.state->RecentAt(j);
    if (seed == nullptr) break;
    graph_.ForEachNeighbourRow(
        seed->item, ctx.now_s, catalog_epoch_, find,
        [&](std::uint32_t row, double w) { weights_.Add(row, recency * w); });
    if (peers_ != nullptr) {
      peers_->ForEachEdge(seed->item, ctx.now_s, own_, [&](const ItemId& id, double w) {
        if (const auto row = catalog.Find(id)) {
          weights_.Add(static_cast<std::uint32_t>(*row), recency * w);
        }
      });
    }
    recency *= options_.recency;
  }
}

void GraphSource::Offer(std::size_t /*feature*/, const RankUser& /*user*/, const RankContext& ctx,
                        CandidateSink& sink) {
  for (const auto& [row, w] : weights_.Best(ctx.n)) sink.Offer(row);
}

void GraphSource::Score(std::size_t /*feature*/, const RankUser& /*user*/,
                        const RankContext& /*ctx*/, std::span<Candidate> candidates,
                        std::size_t x) {
  for (Candidate& c : candidates) c.x[x] = static_cast<float>(std::sqrt(weights_[c.row]));
}

void GraphSource::EndUser(const RankUser& /*user*/) { weights_.Clear(); }

void GraphSource::Export(double now_s, const ExportLimits& limits, SourceStats* out) const {
  out->source = std::string(name());
  out->half_life = options_.graph.half_life;
  for (auto& [from, to, w] : graph_.TopEdges(limits.edges, now_s)) {
    out->edges.push_back({std::move(from), std::move(to), w});
  }
}

void GraphSource::Seed(const SourceStats& record, double as_of_s) {
  for (const SourceStats::Edge& e : record.edges) {
    if (e.weight > 0 && !(e.from == e.to)) graph_.AddDirected(as_of_s, e.from, e.to, e.weight);
  }
}

void GraphSource::SetPeers(const PeerStats* peers, std::int32_t own) {
  peers_ = peers != nullptr ? peers->Find(name()) : nullptr;
  own_ = own;
}

bool GraphSource::Compatible(const SourceStats& share) const {
  return share.half_life == options_.graph.half_life;
}

}  // namespace recsd::model
