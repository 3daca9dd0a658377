#include "model/sources/covisit.h"

#include <array>
#include <cmath>

#include "model/check.h"
#include "model/global_stats.h"

namespace recsd::model {
namespace {

constexpr std::array<std::string_view, 1> kFeatures = {"covisit"};

}  // namespace

CovisitSource::CovisitSource(const CovisitOptions& options)
    : options_(options), graph_(options.graph) {
  RECSD_CHECK(options.window >= 0, "covisit window");
}

std::span<const std::string_view> CovisitSource::features() const noexcept { return kFeatures; }

void CovisitSource::SetCatalog(const Catalog& catalog) { weights_.Resize(catalog.size()); }

void CovisitSource::Learn(const Interaction& interaction) {
  const RecentItem* last = interaction.user->Last();
  if (options_.window <= 0 || last == nullptr) return;
  if (!(last->item == *interaction.item) &&
      std::fabs(interaction.clock - last->t) <= options_.window) {
    graph_.Add(interaction.now_s, last->item, *interaction.item, 1.0);
  }
}

void CovisitSource::BeginUser(const RankUser& user, const RankContext& ctx) {
  if (user.state == nullptr) return;
  // The neighbours of the user's latest items (in the catalog or not: an item the catalog does
  // not hold yet may have neighbours it does), weights summed.
  const std::span<const RecentItem> recent = user.recent_items;
  const std::size_t seeds = std::min(options_.seeds, recent.size());
  const auto add = [&](const ItemId& id, double w) {
    if (const auto row = ctx.catalog->Find(id)) weights_.Add(static_cast<std::uint32_t>(*row), w);
  };
  for (std::size_t i = recent.size() - seeds; i < recent.size(); ++i) {
    graph_.ForEachNeighbour(recent[i].item, ctx.now_s, add);
    if (peers_ != nullptr) peers_->ForEachEdge(recent[i].item, ctx.now_s, own_, add);
  }
}

void CovisitSource::Offer(std::size_t /*feature*/, const RankUser& /*user*/, const RankContext& ctx,
                          CandidateSink& sink) {
  for (const auto& [row, w] : weights_.Best(ctx.n)) sink.Offer(row);
}

void CovisitSource::Score(std::size_t /*feature*/, const RankUser& /*user*/,
                          const RankContext& /*ctx*/, std::span<Candidate> candidates,
                          std::size_t x) {
  for (Candidate& c : candidates) c.x[x] = static_cast<float>(weights_[c.row]);
}

void CovisitSource::EndUser(const RankUser& /*user*/) { weights_.Clear(); }

void CovisitSource::Export(double now_s, const ExportLimits& limits, SourceStats* out) const {
  out->source = std::string(kName);
  out->half_life = options_.graph.half_life;
  for (auto& [from, to, w] : graph_.TopEdges(limits.edges, now_s)) {
    out->edges.push_back({std::move(from), std::move(to), w});
  }
}

void CovisitSource::Seed(const SourceStats& record, double as_of_s) {
  for (const SourceStats::Edge& e : record.edges) {
    if (e.weight > 0 && !(e.from == e.to)) graph_.AddDirected(as_of_s, e.from, e.to, e.weight);
  }
}

bool CovisitSource::Compatible(const SourceStats& share) const {
  return share.half_life == options_.graph.half_life;
}

void CovisitSource::SetPeers(const PeerStats* peers, std::int32_t own) {
  peers_ = peers != nullptr ? peers->Find(kName) : nullptr;
  own_ = own;
}

}  // namespace recsd::model
