#include "model/sources/sequence.h"

#include <array>
#include <cmath>

#include "model/check.h"
#include "model/global_stats.h"

namespace recsd::model {
namespace {

constexpr std::array<std::string_view, 1> kFeatures = {"sequence"};

}  // namespace

SequenceSource::SequenceSource(const SequenceOptions& options)
    : options_(options), graph_(options.graph) {
  RECSD_CHECK(options.gaps > 0 && options.window >= 0 && options.seeds > 0 && options.recency > 0 &&
                  options.recency <= 1,
              "sequence options");
}

std::span<const std::string_view> SequenceSource::features() const noexcept { return kFeatures; }

void SequenceSource::SetCatalog(const Catalog& catalog) { weights_.Resize(catalog.size()); }

void SequenceSource::Learn(const Interaction& interaction) {
  for (std::size_t g = 1; g <= options_.gaps; ++g) {
    const RecentItem* before = interaction.user->RecentAt(g - 1);
    if (before == nullptr) break;
    if (options_.window > 0 && std::fabs(interaction.clock - before->t) > options_.window) break;
    if (before->item == *interaction.item) continue;
    graph_.AddDirected(interaction.now_s, before->item, *interaction.item,
                       1.0 / static_cast<double>(g));
  }
}

void SequenceSource::BeginUser(const RankUser& user, const RankContext& ctx) {
  const std::span<const RecentItem> recent = user.recent_items;
  double recency = 1.0;
  for (std::size_t j = 0; j < std::min(options_.seeds, recent.size()); ++j) {
    const ItemId& seed = recent[recent.size() - 1 - j].item;
    const auto add = [&](const ItemId& id, double w) {
      if (const auto row = ctx.catalog->Find(id)) {
        weights_.Add(static_cast<std::uint32_t>(*row), recency * w);
      }
    };
    graph_.ForEachNeighbour(seed, ctx.now_s, add);
    if (peers_ != nullptr) peers_->ForEachEdge(seed, ctx.now_s, own_, add);
    recency *= options_.recency;
  }
}

void SequenceSource::Offer(std::size_t /*feature*/, const RankUser& /*user*/,
                           const RankContext& ctx, CandidateSink& sink) {
  for (const auto& [row, w] : weights_.Best(ctx.n)) sink.Offer(row);
}

void SequenceSource::Score(std::size_t /*feature*/, const RankUser& /*user*/,
                           const RankContext& /*ctx*/, std::span<Candidate> candidates,
                           std::size_t x) {
  for (Candidate& c : candidates) c.x[x] = static_cast<float>(weights_[c.row]);
}

void SequenceSource::EndUser(const RankUser& /*user*/) { weights_.Clear(); }

void SequenceSource::Export(double now_s, const ExportLimits& limits, SourceStats* out) const {
  out->source = std::string(kName);
  out->half_life = options_.graph.half_life;
  for (auto& [from, to, w] : graph_.TopEdges(limits.edges, now_s)) {
    out->edges.push_back({std::move(from), std::move(to), w});
  }
}

void SequenceSource::Seed(const SourceStats& record, double as_of_s) {
  for (const SourceStats::Edge& e : record.edges) {
    if (e.weight > 0 && !(e.from == e.to)) graph_.AddDirected(as_of_s, e.from, e.to, e.weight);
  }
}

void SequenceSource::SetPeers(const PeerStats* peers, std::int32_t own) {
  peers_ = peers != nullptr ? peers->Find(kName) : nullptr;
  own_ = own;
}

bool SequenceSource::Compatible(const SourceStats& share) const {
  return share.half_life == options_.graph.half_life;
}

}  // namespace recsd::model
