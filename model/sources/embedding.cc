#include "model/sources/embedding.h"

#include <array>
#include <cmath>
#include <limits>

#include "model/check.h"
#include "model/decay.h"
#include "model/global_stats.h"

namespace recsd::model {
namespace {

constexpr std::array<std::string_view, 2> kFeatures = {"emb_short", "emb_long"};
constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

// Scales v to unit length; false (and v unchanged) when it is numerically zero.
bool Normalise(std::span<float> v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  norm = std::sqrt(norm);
  if (!(norm > 1e-12)) return false;
  for (float& x : v) x = static_cast<float>(x / norm);
  return true;
}

float Dot(std::span<const float> a, std::span<const float> b) {
  float dot = 0;
  for (std::size_t d = 0; d < a.size(); ++d) dot += a[d] * b[d];
  return dot;
}

}  // namespace

EmbeddingSource::EmbeddingSource(const EmbeddingOptions& options, const UserStateOptions& user)
    : options_(options),
      half_lives_(user.half_lives),
      dim_(user.dim),
      learned_(options.learned, user.dim) {
  RECSD_CHECK(dim_ > 0 && options.short_mix.size() == half_lives_.size() &&
                  options.long_mix.size() == half_lives_.size(),
              "interest mixes cover the interest components");
}

void EmbeddingSource::SetCatalog(const Catalog& catalog) {
  catalog_ = &catalog;
  learned_.SetCatalog(catalog);
}

void EmbeddingSource::Learn(const Interaction& interaction) {
  const UserState* user = interaction.user;
  learned_.Learn(*interaction.item, interaction.row, interaction.now_s,
                 [user](std::size_t back) -> const ItemId* {
                   const RecentItem* r = user->RecentAt(back);
                   return r == nullptr ? nullptr : &r->item;
                 });
}

std::span<const float> EmbeddingSource::ItemVector(const Catalog& catalog, std::size_t row) {
  return options_.learned.enabled ? learned_.Mixed(row) : catalog.Embedding(row);
}

void EmbeddingSource::UserVector(const RankUser& user, std::size_t feature, std::span<float> out) {
  const std::vector<double>& mix = feature == 0 ? options_.short_mix : options_.long_mix;
  if (!options_.learned.enabled) {
    user.state->interest().MixtureAt(mix, user.clock, out);
    return;
  }
  std::fill(out.begin(), out.end(), 0.0F);
  for (const RecentRow& r : user.recent) {
    double k = 0;
    for (std::size_t c = 0; c < mix.size(); ++c) {
      if (mix[c] != 0) {
        k += mix[c] * DecayFactor(std::max(0.0, user.clock - r.t), half_lives_[c]);
      }
    }
    const double w = k * r.weight;
    if (w == 0) continue;
    const std::span<const float> v = learned_.Mixed(r.row);
    for (std::size_t d = 0; d < dim_; ++d) out[d] += static_cast<float>(w * v[d]);
  }
}

std::span<const std::string_view> EmbeddingSource::features() const noexcept { return kFeatures; }

std::span<const float> EmbeddingSource::Vector(std::size_t user, std::size_t feature) const {
  return {vectors_.data() + (2 * user + feature) * dim_, dim_};
}

void EmbeddingSource::Prepare(std::span<const RankUser> users, const RankContext& ctx) {
  // Interest vectors (unit, or absent) for every user and time scale, then one batched scan.
  vectors_.assign(2 * users.size() * dim_, 0.0F);
  has_vector_.assign(2 * users.size(), false);
  top_of_.assign(2 * users.size(), kNone);
  std::vector<std::size_t> scanned;
  for (const RankUser& user : users) {
    if (user.state == nullptr || user.state->interest().empty()) continue;
    for (std::size_t k = 0; k < 2; ++k) {
      const std::size_t v = 2 * user.index + k;
      const std::span<float> out(vectors_.data() + v * dim_, dim_);
      UserVector(user, k, out);
      has_vector_[v] = Normalise(out);
      if (has_vector_[v] && offers(k)) {
        top_of_[v] = scanned.size();
        scanned.push_back(v);
      }
    }
  }
  tops_.clear();
  if (scanned.empty() || ctx.catalog->size() == 0) return;
  EmbeddingMatrix matrix(static_cast<Eigen::Index>(scanned.size()),
                         static_cast<Eigen::Index>(dim_));
  for (std::size_t i = 0; i < scanned.size(); ++i) {
    const float* v = vectors_.data() + scanned[i] * dim_;
    std::copy(v, v + dim_, matrix.row(static_cast<Eigen::Index>(i)).data());
  }
  if (ctx.catalog->index() != nullptr) {
    // The index knows the catalog's vectors; learned ones are scored exactly.
    if (options_.learned.enabled) {
      // Each learned row in the list its learned vector belongs in: a user reads those of the
      // lists it probes, as the index's own rows.
      const RowsByList& by_list = learned_.LearnedRowsByList(*ctx.catalog->index());
      IndexedTopNBatch(*ctx.catalog, matrix, learned_.LearnedRows(), learned_.LearnedRowVectors(),
                       learned_.LearnedMark(), ctx.n, &tops_, &by_list);
    } else {
      IndexedTopNBatch(*ctx.catalog, matrix, {}, {}, {}, ctx.n, &tops_);
    }
  } else {
    const EmbeddingMatrix& items =
        options_.learned.enabled ? learned_.mixed() : ctx.catalog->embeddings();
    EmbeddingTopNBatch(*ctx.catalog, items, matrix, ctx.n, &tops_);
  }
}

void EmbeddingSource::Offer(std::size_t feature, const RankUser& user, const RankContext& /*ctx*/,
                            CandidateSink& sink) {
  const std::size_t top = top_of_[2 * user.index + feature];
  if (top == kNone || top >= tops_.size()) return;
  for (const ScoredRow& s : tops_[top]) sink.Offer(s.row);
}

void EmbeddingSource::Score(std::size_t feature, const RankUser& user, const RankContext& ctx,
                            std::span<Candidate> candidates, std::size_t x) {
  if (!has_vector_[2 * user.index + feature]) return;
  const std::span<const float> u = Vector(user.index, feature);
  for (Candidate& c : candidates) c.x[x] = Dot(u, ItemVector(*ctx.catalog, c.row));
}

void EmbeddingSource::Export(double now_s, const ExportLimits& limits, SourceStats* out) const {
  out->source = std::string(kName);
  out->half_life = options_.learned.half_life;
  if (options_.learned.enabled) learned_.Export(now_s, limits.vectors, out);
}

void EmbeddingSource::Seed(const SourceStats& record, double as_of_s) {
  learned_.Seed(record, as_of_s);
}

void EmbeddingSource::SetPeers(const PeerStats* peers, std::int32_t own) {
  learned_.SetPeers(peers != nullptr ? peers->Find(kName) : nullptr, own);
}

bool EmbeddingSource::Compatible(const SourceStats& share) const {
  return share.half_life == options_.learned.half_life &&
         (share.vectors.empty() || share.vectors.front().values.size() == dim_);
}

}  // namespace recsd::model
