#include "model/sources/learned_vectors.h"

#include <algorithm>
#include <cmath>

#include "model/check.h"
#include "model/global_stats.h"
#include "model/sources/source.h"

namespace recsd::model {

LearnedVectors::LearnedVectors(const LearnedVectorOptions& options, std::size_t dim)
    : options_(options), dim_(dim), frame_(options.half_life) {
  RECSD_CHECK(dim > 0 && options.window > 0 && options.half_life > 0 && options.prior_mass > 0 &&
                  options.max_items > 0,
              "learned vector options");
}

void LearnedVectors::SetCatalog(const Catalog& catalog) {
  catalog_ = &catalog;
  if (!options_.enabled) return;
  // With an index the scan reads the catalog's own vectors but for the learned rows: a copy of
  // every row (4·D bytes each, per partition: 256 MB at 1M items × 64) would be read nowhere.
  dense_ = catalog.index() == nullptr;
  if (dense_) {
    mixed_ = catalog.embeddings();  // the content vectors, until an item has learned one
  } else {
    mixed_.resize(0, static_cast<Eigen::Index>(dim_));
  }
  rows_valid_ = false;
  row_lists_valid_ = false;  // slots and rows change
  stale_slots_.clear();
  row_slot_.assign(catalog.size(), -1);
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    Slot& slot = slots_[s];
    const std::optional<std::size_t> row = catalog.Find(slot.id);
    slot.row = row ? static_cast<std::int64_t>(*row) : -1;
    if (row) row_slot_[*row] = static_cast<std::int32_t>(s);
    if (row && !dense_) {
      slot.mixed.resize(dim_);
    } else {
      slot.mixed = {};
    }
    Remix(s);
  }
  ClearPending();
}

const EmbeddingMatrix& LearnedVectors::mixed() {
  RECSD_CHECK(dense_, "the mixed matrix of a catalog without an index");
  Sync();
  return mixed_;
}

std::span<const float> LearnedVectors::Mixed(std::size_t row) {
  Sync();
  if (dense_) return {mixed_.data() + row * dim_, dim_};
  const std::int32_t s = row < row_slot_.size() ? row_slot_[row] : -1;
  if (s < 0) return catalog_->Embedding(row);
  return slots_[static_cast<std::size_t>(s)].mixed;
}

float* LearnedVectors::MixedOf(Slot& s) {
  return dense_ ? mixed_.data() + static_cast<std::size_t>(s.row) * dim_ : s.mixed.data();
}

std::optional<std::size_t> LearnedVectors::FindSlot(const ItemId& item) const {
  const std::optional<std::uint32_t> s =
      slot_of_.Find(item, [this](std::uint32_t n) -> const ItemId& { return slots_[n].id; });
  if (!s) return std::nullopt;
  return *s;
}

std::size_t LearnedVectors::SlotOf(const ItemId& item) {
  if (const std::optional<std::size_t> found = FindSlot(item)) return *found;
  RECSD_CHECK(slots_.size() < UINT32_MAX, "learned vector slots");
  Slot slot;
  slot.id = item;
  const std::optional<std::size_t> row = catalog_ ? catalog_->Find(item) : std::nullopt;
  slot.row = row ? static_cast<std::int64_t>(*row) : -1;
  slot.own.assign(dim_, 0.0F);
  const std::size_t s = slots_.size();
  if (slot.row >= 0) {
    const auto r = static_cast<std::uint32_t>(slot.row);
    row_slot_[r] = static_cast<std::int32_t>(s);
    if (!dense_) {  // its content vector until it is remixed
      const std::span<const float> content = catalog_->Embedding(r);
      slot.mixed.assign(content.begin(), content.end());
    }
    if (rows_valid_) {  // kept sorted, without a rebuild per new item
      by_list_valid_ = false;
      const auto at = std::upper_bound(rows_.begin(), rows_.end(), r);
      row_vectors_.insert(row_vectors_.begin() + (at - rows_.begin()), MixedOf(slot));
      if (row_lists_valid_) {  // its list is found at the next LearnedRowLists
        row_lists_.insert(row_lists_.begin() + (at - rows_.begin()), 0);
        stale_slots_.push_back(s);
      }
      rows_.insert(at, r);
      mark_[r] = 1;
    }
  }
  slots_.push_back(std::move(slot));  // a moved vector keeps its buffer: row_vectors_ stay
  slot_of_.Insert(item, static_cast<std::uint32_t>(s));
  return s;
}

void LearnedVectors::Add(std::size_t slot, std::span<const float> content, double stored_weight) {
  Slot& s = slots_[slot];
  float* own = s.own.data();
  const float* c = content.data();
  // In float, like the sums: a product in double and its conversion back cost three times the
  // vector instructions, for a difference below the sum's own rounding.
  const auto w = static_cast<float>(stored_weight);
  for (std::size_t d = 0; d < dim_; ++d) own[d] += w * c[d];
  s.own_mass += stored_weight;
  if (is_pending_.size() < slots_.size()) is_pending_.resize(slots_.size(), 0);
  if (is_pending_[slot] == 0) {
    is_pending_[slot] = 1;
    pending_.push_back(slot);
  }
}

void LearnedVectors::Sync() {
  for (std::size_t s : pending_) {
    Remix(s);
    is_pending_[s] = 0;
  }
  pending_.clear();
}

void LearnedVectors::ClearPending() {
  pending_.clear();
  is_pending_.assign(slots_.size(), 0);
}

void LearnedVectors::Remix(std::size_t slot) {
  Slot& s = slots_[slot];
  if (s.row < 0 || catalog_ == nullptr) return;
  const auto row = static_cast<std::size_t>(s.row);
  const std::span<const float> content = catalog_->Embedding(row);
  // l = own + peers' (stored units: only the direction matters); m at the latest time.
  double norm = 0;
  for (std::size_t d = 0; d < dim_; ++d) {
    const double l = s.own[d] + (s.peer.empty() ? 0.0F : s.peer[d]);
    norm += l * l;
  }
  norm = std::sqrt(norm);
  float* out = MixedOf(s);
  if (dense_) {  // no index, no lists to keep (the per-event path of small catalogs)
    Mixing(s, content, norm, out);
    return;
  }
  // The list (LearnedRowLists) is found again only when the vector changed: a new catalog
  // snapshot remixes every item, most to what they were.
  remixed_.assign(out, out + dim_);
  Mixing(s, content, norm, out);
  if (!s.list_stale && !std::equal(remixed_.begin(), remixed_.end(), out)) {
    s.list_stale = true;
    if (row_lists_valid_) stale_slots_.push_back(slot);
  }
}

void LearnedVectors::Mixing(const Slot& s, std::span<const float> content, double norm,
                            float* out) const {
  const double mass = (s.own_mass + s.peer_mass) * frame_.Scale(now_s_);
  if (!(norm > 0) || !(mass > 0)) {
    std::copy(content.begin(), content.end(), out);
    return;
  }
  const double a = options_.prior_mass / (options_.prior_mass + mass);
  double total = 0;
  for (std::size_t d = 0; d < dim_; ++d) {
    const double l = s.own[d] + (s.peer.empty() ? 0.0F : s.peer[d]);
    const double v = a * content[d] + (1 - a) * l / norm;
    out[d] = static_cast<float>(v);
    total += v * v;
  }
  total = std::sqrt(total);
  if (total > 0) {
    for (std::size_t d = 0; d < dim_; ++d) out[d] = static_cast<float>(out[d] / total);
  }
}

void LearnedVectors::Advance(double t) {
  now_s_ = std::max(now_s_, t);
  if (const std::optional<double> scale = frame_.Advance(t)) {
    for (Slot& s : slots_) {
      for (float& x : s.own) x = static_cast<float>(x * *scale);
      for (float& x : s.peer) x = static_cast<float>(x * *scale);
      s.own_mass *= *scale;
      s.peer_mass *= *scale;
    }
  }
}

void LearnedVectors::Shrink() {
  Sync();  // slot numbers change below
  // The weakest items (own and peers' mass) go, by rank, down to 3/4 of the bound; ties by id so
  // the result does not depend on the order slots were made in.
  std::vector<std::size_t> order(slots_.size());
  for (std::size_t s = 0; s < order.size(); ++s) order[s] = s;
  const auto mass = [&](std::size_t s) { return slots_[s].own_mass + slots_[s].peer_mass; };
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return mass(a) != mass(b) ? mass(a) > mass(b) : slots_[a].id < slots_[b].id;
  });
  order.resize(options_.max_items * 3 / 4);
  std::sort(order.begin(), order.end());
  std::vector<Slot> kept;
  kept.reserve(order.size());
  std::vector<bool> keep(slots_.size(), false);
  for (std::size_t s : order) keep[s] = true;
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    if (!keep[s] && slots_[s].row >= 0) {  // back to its content vector
      const auto row = static_cast<std::size_t>(slots_[s].row);
      row_slot_[row] = -1;
      if (dense_) {
        const std::span<const float> content = catalog_->Embedding(row);
        std::copy(content.begin(), content.end(), mixed_.data() + row * dim_);
      }
    }
  }
  for (std::size_t s : order) kept.push_back(std::move(slots_[s]));
  slots_ = std::move(kept);
  rows_valid_ = false;
  row_lists_valid_ = false;  // slots and rows change
  stale_slots_.clear();
  slot_of_.Clear();
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    slot_of_.Insert(slots_[s].id, static_cast<std::uint32_t>(s));
    if (slots_[s].row >= 0) {
      row_slot_[static_cast<std::size_t>(slots_[s].row)] = static_cast<std::int32_t>(s);
    }
  }
  ClearPending();
}

void LearnedVectors::SetPeers(const SourcePeers* peers, std::int32_t own) {
  if (!options_.enabled) return;
  for (Slot& s : slots_) {
    s.peer.clear();
    s.peer_mass = 0;
  }
  if (peers != nullptr) {
    const double t = now_s_;
    peers->ForEachVector(
        t, own, [&](const ItemId& item, double mass, std::span<const float> values, double scale) {
          if (values.size() != dim_ || !(mass > 0)) return;
          Slot& s = slots_[SlotOf(item)];
          if (s.peer.empty()) s.peer.assign(dim_, 0.0F);
          const double stored = frame_.Store(t, scale);  // values × scale is the value at t
          for (std::size_t d = 0; d < dim_; ++d)
            s.peer[d] += static_cast<float>(values[d] * stored);
          s.peer_mass += frame_.Store(t, mass);
        });
  }
  for (std::size_t s = 0; s < slots_.size(); ++s) Remix(s);
  ClearPending();
  if (slots_.size() > options_.max_items) Shrink();
}

void LearnedVectors::Export(double now_s, std::size_t limit, SourceStats* out) const {
  std::vector<std::size_t> order;
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    if (slots_[s].own_mass > 0) order.push_back(s);
  }
  const auto better = [&](std::size_t a, std::size_t b) {
    return slots_[a].own_mass != slots_[b].own_mass ? slots_[a].own_mass > slots_[b].own_mass
                                                    : slots_[a].id < slots_[b].id;
  };
  const std::size_t k = std::min(limit, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    better);
  order.resize(k);
  const double scale = frame_.Scale(now_s);
  for (std::size_t s : order) {
    SourceStats::Vector v;
    v.item = slots_[s].id;
    v.mass = slots_[s].own_mass * scale;
    v.values.resize(dim_);
    for (std::size_t d = 0; d < dim_; ++d) {
      v.values[d] = static_cast<float>(slots_[s].own[d] * scale);
    }
    out->vectors.push_back(std::move(v));
  }
}

void LearnedVectors::Seed(const SourceStats& record, double as_of_s) {
  if (!options_.enabled) return;
  Advance(as_of_s);
  const double stored = frame_.Store(as_of_s, 1.0);
  for (const SourceStats::Vector& v : record.vectors) {
    if (v.values.size() != dim_ || !(v.mass > 0)) continue;
    const std::size_t s = SlotOf(v.item);
    for (std::size_t d = 0; d < dim_; ++d) {
      slots_[s].own[d] += static_cast<float>(v.values[d] * stored);
    }
    slots_[s].own_mass += v.mass * stored;
    Remix(s);
  }
  if (slots_.size() > options_.max_items) Shrink();
}

void LearnedVectors::UpdateRows() {
  if (rows_valid_) return;
  by_list_valid_ = false;
  rows_.clear();
  mark_.assign(catalog_ != nullptr ? catalog_->size() : 0, 0);
  for (const Slot& s : slots_) {
    if (s.row >= 0) {
      rows_.push_back(static_cast<std::uint32_t>(s.row));
      mark_[static_cast<std::size_t>(s.row)] = 1;
    }
  }
  std::sort(rows_.begin(), rows_.end());
  row_vectors_.clear();
  for (std::uint32_t r : rows_) {
    row_vectors_.push_back(MixedOf(slots_[static_cast<std::size_t>(row_slot_[r])]));
  }
  rows_valid_ = true;
}

std::span<const float* const> LearnedVectors::LearnedRowVectors() {
  Sync();
  UpdateRows();
  return row_vectors_;
}

std::span<const std::uint32_t> LearnedVectors::LearnedRows() {
  UpdateRows();
  return rows_;
}

std::span<const std::uint8_t> LearnedVectors::LearnedMark() {
  UpdateRows();
  return mark_;
}

std::span<const std::uint32_t> LearnedVectors::LearnedRowLists(const AnnIndex& index) {
  Sync();
  UpdateRows();
  if (list_centroids_ != index.shared_centroids()) {
    list_centroids_ = index.shared_centroids();
    for (Slot& s : slots_) s.list_stale = true;
    row_lists_valid_ = false;
  }
  // Every row after a change of rows or centroids, else only the slots whose vector moved (a
  // ranking of one user between two events must not cost a pass over every learned item).
  std::vector<std::size_t> stale;
  std::vector<const float*> vectors;
  const auto collect = [&](std::size_t slot) {
    if (slots_[slot].list_stale && slots_[slot].row >= 0) {
      stale.push_back(slot);
      vectors.push_back(MixedOf(slots_[slot]));
    }
  };
  if (row_lists_valid_) {
    for (const std::size_t slot : stale_slots_) collect(slot);
  } else {
    for (const std::uint32_t r : rows_) collect(static_cast<std::size_t>(row_slot_[r]));
  }
  stale_slots_.clear();
  std::vector<std::uint32_t> lists(stale.size());
  index.NearestLists(vectors, lists);
  for (std::size_t i = 0; i < stale.size(); ++i) {
    Slot& s = slots_[stale[i]];
    s.list = lists[i];
    s.list_stale = false;
    if (row_lists_valid_) {
      const auto row = static_cast<std::uint32_t>(s.row);
      const auto at = std::lower_bound(rows_.begin(), rows_.end(), row);
      RECSD_CHECK(at != rows_.end() && *at == row, "a learned row");
      std::uint32_t& list = row_lists_[static_cast<std::size_t>(at - rows_.begin())];
      if (list != s.list) by_list_valid_ = false;
      list = s.list;
    }
  }
  if (!row_lists_valid_) {
    by_list_valid_ = false;
    row_lists_.resize(rows_.size());
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      row_lists_[i] = slots_[static_cast<std::size_t>(row_slot_[rows_[i]])].list;
    }
    row_lists_valid_ = true;
  }
  return row_lists_;
}

const RowsByList& LearnedVectors::LearnedRowsByList(const AnnIndex& index) {
  const std::span<const std::uint32_t> lists = LearnedRowLists(index);
  if (!by_list_valid_) {
    GroupByList(rows_, row_vectors_, lists, index.lists(), &by_list_);
    by_list_valid_ = true;
  }
  return by_list_;
}

double LearnedVectors::MassAt(const ItemId& item, double now_s) const {
  const std::optional<std::size_t> slot = FindSlot(item);
  if (!slot) return 0.0;
  const Slot& s = slots_[*slot];
  return (s.own_mass + s.peer_mass) * frame_.Scale(now_s);
}

}  // namespace recsd::model
