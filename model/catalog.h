#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <Eigen/Core>

#include "model/ann_index.h"
#include "model/id_index.h"
#include "model/ids.h"
#include "model/item.h"
#include "model/text_embedder.h"

namespace recsd::model {

using CategoryId = std::int32_t;
inline constexpr CategoryId kNoCategory = -1;

// What the model knows of one item besides its embedding.
struct CatalogItem {
  ItemId id;
  CategoryId category = kNoCategory;
  bool available = true;
  TimestampMs ts;                 // item time, for the `fresh` source
  bool text_embedded = false;     // the vector came from the built-in text embedder
  std::uint32_t fingerprint = 0;  // SeenItems::Fingerprint(id), for the seen filter
};

using EmbeddingMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// An immutable snapshot of the catalog: items in dense rows, their L2-normalised embeddings as one
// row-major float matrix (N × D, so a brute-force scan is one matrix-vector product), and the
// category names. Made only by CatalogBuilder::Build; readers share it through
// std::shared_ptr<const Catalog> and keep it for as long as they use it, while a new one is built.
// Immutable, so any thread may read it.
class Catalog {
 public:
  std::size_t size() const noexcept { return items_.size(); }
  std::size_t dim() const noexcept { return static_cast<std::size_t>(embeddings_.cols()); }

  std::optional<std::size_t> Find(const ItemId& id) const;
  const CatalogItem& item(std::size_t row) const { return items_[row]; }
  // item(row).available from a dense byte per row, which stays in cache during a scan.
  bool available(std::size_t row) const { return available_[row] != 0; }
  // Unit length, or all zeros for an item with neither an embedding nor any text.
  std::span<const float> Embedding(std::size_t row) const {
    return {embeddings_.data() + row * dim(), dim()};
  }
  const EmbeddingMatrix& embeddings() const noexcept { return embeddings_; }

  // The nearest-neighbour index of the embeddings (AnnOptions), or null below its size: every
  // row of this snapshot is in exactly one of its lists.
  const AnnIndex* index() const noexcept { return index_.get(); }

  std::size_t category_count() const noexcept { return category_names_.size(); }
  const std::string& CategoryName(CategoryId id) const;
  std::optional<CategoryId> FindCategory(std::string_view name) const;

  // Heap bytes held, for memory accounting and the benchmarks' reports.
  std::size_t HeapBytes() const noexcept;

 private:
  friend class CatalogBuilder;

  std::vector<CatalogItem> items_;
  EmbeddingMatrix embeddings_;
  IdIndex rows_;                         // id → row; its keys are items_[row].id
  std::vector<std::uint8_t> available_;  // one per row, as items_[row].available
  std::vector<std::string> category_names_;
  std::unordered_map<std::string, CategoryId> categories_;
  std::shared_ptr<const AnnIndex> index_;
};

// Applies catalog changes (upserts, deletes) and makes snapshots. Single-threaded: owned by the
// catalog thread (or replay). Rows are dense: a delete moves the last row into the hole, so the
// row order depends only on the sequence of changes (deterministic).
//
// At AnnOptions::min_items items or more, the builder also keeps the nearest-neighbour index:
// the first Build at that size trains it (k-means over the rows), and from then on every
// upsert, move and delete puts the row in its list right away (one scan of the centroids), so a
// snapshot's index always holds exactly its rows. Build shares the lists that did not change
// with the previous snapshot and copies the others: a published index is never written again,
// so engines search it on their threads while the catalog thread goes on, race-free without a
// lock. The index is retrained when the catalog has doubled or halved since it was trained, and
// dropped below min_items.
class CatalogBuilder {
 public:
  // Categories beyond this many distinct names are not interned: such items get kNoCategory
  // (bounds memory against a hostile or broken item stream).
  static constexpr std::size_t kMaxCategories = 1 << 16;

  explicit CatalogBuilder(std::size_t dim, const AnnOptions& ann = {});
  // Continues from a snapshot (a copy: the snapshot stays unchanged; its index is rebuilt at the
  // next Build).
  explicit CatalogBuilder(const Catalog& base, const AnnOptions& ann = {});

  // Inserts or replaces an item. Its `emb` (of the builder's dimension; the codecs guarantee it)
  // is L2-normalised; an item without one, or with an all-zero one, is embedded from its text,
  // tags and category by the built-in text embedder.
  void Upsert(const ItemRecord& record);
  // Removes an item; false when it was not there.
  bool Erase(const ItemId& id);
  // Makes room for `items` items, so that loading a known number of them does not grow (and copy)
  // the tables step by step.
  void Reserve(std::size_t items);

  std::size_t size() const noexcept { return catalog_.items_.size(); }
  // How training the index spreads its work (AnnIndexBuilder::set_parallel_for).
  void set_parallel_for(ParallelFor parallel_for) {
    ann_.set_parallel_for(std::move(parallel_for));
  }
  // A snapshot of the catalog as it is now (and the index's upkeep, above).
  std::shared_ptr<const Catalog> Build() &;
  // The same for a builder used once (a replay's catalog): the snapshot takes the builder's
  // tables instead of a copy of them, and the builder is left empty.
  std::shared_ptr<const Catalog> Build() &&;

 private:
  CategoryId InternCategory(const std::optional<std::string>& name);
  std::span<const float> Row(std::size_t row) const {
    return {rows_.data() + row * embedder_.dim(), embedder_.dim()};
  }
  void UpdateIndex();
  std::shared_ptr<const Catalog> Snapshot(bool take);

  HashedTextEmbedder embedder_;
  AnnOptions ann_options_;
  Catalog catalog_;
  std::vector<float> rows_;    // N × D, row-major; copied into the snapshot's matrix by Build
  std::vector<float> vector_;  // scratch of Upsert
  AnnIndexBuilder ann_;
};

}  // namespace recsd::model
