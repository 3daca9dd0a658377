#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "model/ann_index.h"
#include "model/catalog.h"
#include "model/decay.h"
#include "model/id_index.h"
#include "model/ids.h"
#include "model/retrieval.h"

namespace recsd::model {

class SourcePeers;
struct SourceStats;
struct ExportLimits;

struct LearnedVectorOptions {
  bool enabled = true;
  // An interaction with b pairs it with the user's `window` items before it, the item g steps
  // earlier with weight 1/g.
  std::size_t window = 5;
  double half_life = 365 * 86400.0;  // seconds of event time
  // κ: how much co-occurrence evidence an item's content vector counts as (see below).
  double prior_mass = 5.0;
  std::size_t max_items = 1'000'000;  // items with a learned vector; the weakest go first
};

// Collaborative item vectors learned online from the event stream, in the space of the catalog's
// content vectors (README, "Learned embeddings"). Each interaction with b adds, for the item a
// that the user interacted with g steps before it, w = 1/g times a's content vector ĉ_a to b's
// learned sum l_b, ĉ_b to l_a, and w to both masses m; all decay with the half-life (one
// DecayFrame). l_i is so the decayed sum of the content vectors of the items used around i: one
// step of propagation of the content embeddings over the co-occurrence graph. The vector the
// embedding sources use for item i is
//   v_i = normalise(a_i·ĉ_i + (1 − a_i)·l_i/|l_i|),   a_i = κ / (κ + m_i)
// so an item nobody used keeps its content vector (cold start) and a much used one is placed by
// the company it keeps. With upstream (LLM) embeddings ĉ is semantic and l a collaborative
// smoothing of it, in the same space; with only the hashed text embedder ĉ is close to random
// and l works as a random-indexing sketch of the item's co-occurrence row (Sahlgren 2005), whose
// cosines approximate those of the rows. Sums of events: every partition's share adds up exactly
// (topics.model_stats), and one partition's can be left out. a_i uses m_i as of the item's last
// change (an interaction, a catalog or peer change) as of the latest event time then; the
// vectors are remixed when read (mixed(), Mixed()), once for all changes since the last read.
// Memory: 8·D bytes per learned item (own and peers' sums) and 5 bytes per catalog row, plus the
// mixed vectors: with a nearest-neighbour index in the catalog 4·D bytes per learned item that
// has a row (the other rows are read from the catalog), without one 4·D bytes per catalog row
// (the exact scan reads every row from one matrix). Pure, one writer.
class LearnedVectors {
 public:
  LearnedVectors(const LearnedVectorOptions& options, std::size_t dim);

  // The catalog rows refer to from now on; rebuilds the mixed vectors.
  void SetCatalog(const Catalog& catalog);
  // Learns from an interaction with `item` (row in the catalog, if any) at event time `now_s`,
  // the user's earlier items given by `before(g)` (g = 0: the latest; null past them).
  template <class Before>
  void Learn(const ItemId& item, std::optional<std::uint32_t> row, double now_s, Before before);
  // Every other partition's vectors (null: none), added to this one's own.
  void SetPeers(const SourcePeers* peers, std::int32_t own);
  // This partition's own sums as of `now_s`: the `limit` items with the most own mass.
  void Export(double now_s, std::size_t limit, SourceStats* out) const;
  // Adds a record's sums (the partition's previous owner's) to the own ones.
  void Seed(const SourceStats& record, double as_of_s);

  // The mixed vector v_i of every catalog row (unit, or zero for an item without content and
  // learned vector), one row per catalog row: only for a catalog without an index (dense()). The
  // items changed since the last call are remixed first: an item used many times between two
  // rankings is remixed once.
  const EmbeddingMatrix& mixed();
  // Whether mixed() holds every row (the catalog has no index), else only the learned rows have
  // a vector of their own (LearnedRowVectors) and the others are the catalog's.
  bool dense() const noexcept { return dense_; }
  // The mixed vector of one catalog row (its content vector when it has no learned one).
  std::span<const float> Mixed(std::size_t row);
  // The mixed vector of each row of LearnedRows, in its order (D floats each; valid until the
  // next call of a non-const member).
  std::span<const float* const> LearnedRowVectors();
  std::size_t items() const noexcept { return slots_.size(); }
  // The catalog rows whose mixed vector may differ from their content vector (the items with a
  // learned vector), ascending; kept between calls, remade only when an item in the catalog gets
  // a learned vector or the catalog changes.
  std::span<const std::uint32_t> LearnedRows();
  // One byte per catalog row: 1 for the rows of LearnedRows.
  std::span<const std::uint8_t> LearnedMark();
  // The list of `index` each row of LearnedRows belongs in by its mixed vector, in its order
  // (AnnIndex::NearestLists). Kept per item between calls: computed again for the items whose
  // mixed vector changed, and for all when the index was trained again.
  std::span<const std::uint32_t> LearnedRowLists(const AnnIndex& index);
  // LearnedRows with their vectors grouped by LearnedRowLists (IndexedTopNBatch's exact rows by
  // list): regrouped only when a row's list, the rows or the index changed, not per ranking.
  const RowsByList& LearnedRowsByList(const AnnIndex& index);
  // The item's learned mass (own and peers') at `now_s`; 0 when it has none.
  double MassAt(const ItemId& item, double now_s) const;

 private:
  struct Slot {
    ItemId id;
    std::int64_t row = -1;    // in the current catalog, or -1
    std::vector<float> own;   // stored (DecayFrame) sums
    double own_mass = 0;      // stored
    std::vector<float> peer;  // others' sums, stored; empty when none
    double peer_mass = 0;
    std::vector<float> mixed;  // v_i when !dense_ and the item has a row (else in mixed_)
    std::uint32_t list = 0;    // LearnedRowLists, for list_centroids_, unless list_stale
    bool list_stale = true;
  };
  std::size_t SlotOf(const ItemId& item);
  void Add(std::size_t slot, std::span<const float> content, double stored_weight);
  void Remix(std::size_t slot);
  // v_i of slot s into out (D floats); norm: |l_i|.
  void Mixing(const Slot& s, std::span<const float> content, double norm, float* out) const;
  // Where slot `s`'s mixed vector lives (it has a catalog row).
  float* MixedOf(Slot& s);
  // Remixes the slots changed since the last call (pending_).
  void Sync();
  void ClearPending();  // after remixing every slot
  void Advance(double t);
  void Shrink();

  LearnedVectorOptions options_;
  std::size_t dim_;
  const Catalog* catalog_ = nullptr;
  DecayFrame frame_;
  double now_s_ = 0;  // the latest time seen (for a_i)
  std::vector<Slot> slots_;
  IdIndex slot_of_;  // id → slot
  std::optional<std::size_t> FindSlot(const ItemId& item) const;
  bool dense_ = true;
  EmbeddingMatrix mixed_;                 // every row's v_i, when dense_
  std::vector<std::int32_t> row_slot_;    // catalog row → slot, or -1
  std::vector<std::size_t> pending_;      // slots changed since the last Sync, each once
  std::vector<std::uint8_t> is_pending_;  // per slot
  void UpdateRows();
  std::vector<std::uint32_t> rows_;  // LearnedRows and LearnedMark, when rows_valid_
  std::vector<std::uint8_t> mark_;
  std::vector<const float*> row_vectors_;  // LearnedRowVectors
  bool rows_valid_ = false;
  std::shared_ptr<const AnnCentroids> list_centroids_;  // those the slots' lists are of
  std::vector<std::uint32_t> row_lists_;                // LearnedRowLists, when row_lists_valid_
  bool row_lists_valid_ = false;
  RowsByList by_list_;                    // LearnedRowsByList, when by_list_valid_
  bool by_list_valid_ = false;            // false whenever rows_, row_vectors_ or row_lists_ change
  std::vector<std::size_t> stale_slots_;  // whose list went stale since, when row_lists_valid_
  std::vector<float> remixed_;            // Remix's scratch: the vector before
};

template <class Before>
void LearnedVectors::Learn(const ItemId& item, std::optional<std::uint32_t> row, double now_s,
                           Before before) {
  if (!options_.enabled || catalog_ == nullptr) return;
  Advance(now_s);
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t item_slot = kNone;  // made when first needed
  for (std::size_t g = 1; g <= options_.window; ++g) {
    const ItemId* earlier = before(g - 1);
    if (earlier == nullptr) break;
    if (*earlier == item) continue;
    const double stored = frame_.Store(now_s, 1.0 / static_cast<double>(g));
    // The earlier item's slot knows its row: one lookup when `item` is in the catalog.
    std::size_t earlier_slot = kNone;
    std::int64_t earlier_row = -1;
    if (row) {
      earlier_slot = SlotOf(*earlier);
      earlier_row = slots_[earlier_slot].row;
    } else if (const std::optional<std::size_t> r = catalog_->Find(*earlier)) {
      earlier_row = static_cast<std::int64_t>(*r);
    }
    if (earlier_row >= 0) {
      if (item_slot == kNone) item_slot = SlotOf(item);
      Add(item_slot, catalog_->Embedding(static_cast<std::size_t>(earlier_row)), stored);
    }
    if (row) Add(earlier_slot, catalog_->Embedding(*row), stored);
  }
  if (slots_.size() > options_.max_items) Shrink();
}

}  // namespace recsd::model
