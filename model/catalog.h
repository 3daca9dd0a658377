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

  std::size_t category_count() const noexcept { return category_names_.size(); }
  const std::string& CategoryName(CategoryId id) const;
  std::optional<CategoryId> FindCategory(std::string_view name) const;

  // Heap bytes held, for memory accounting and the benchmarks' reports.
  std::size_t HeapBytes() const noexcept;

 private:
  friend class CatalogBuilder;

  std::vector<CatalogItem> items_;
  EmbeddingMatrix embeddings_;
  std::unordered_map<ItemId, std::size_t> rows_;
  std::vector<std::uint8_t> available_;  // one per row, as items_[row].available
  std::vector<std::string> category_names_;
  std::unordered_map<std::string, CategoryId> categories_;
};

// Applies catalog changes (upserts, deletes) and makes snapshots. Single-threaded: owned by the
// catalog thread (or replay). Rows are dense: a delete moves the last row into the hole, so the
// row order depends only on the sequence of changes (deterministic).
class CatalogBuilder {
 public:
  // Categories beyond this many distinct names are not interned: such items get kNoCategory
  // (bounds memory against a hostile or broken item stream).
  static constexpr std::size_t kMaxCategories = 1 << 16;

  explicit CatalogBuilder(std::size_t dim);
  // Continues from a snapshot (a copy: the snapshot stays unchanged).
  explicit CatalogBuilder(const Catalog& base);

  // Inserts or replaces an item. Its `emb` (of the builder's dimension; the codecs guarantee it)
  // is L2-normalised; an item without one, or with an all-zero one, is embedded from its text,
  // tags and category by the built-in text embedder.
  void Upsert(const ItemRecord& record);
  // Removes an item; false when it was not there.
  bool Erase(const ItemId& id);

  std::size_t size() const noexcept { return catalog_.items_.size(); }
  std::shared_ptr<const Catalog> Build() const;

 private:
  CategoryId InternCategory(const std::optional<std::string>& name);

  HashedTextEmbedder embedder_;
  Catalog catalog_;
  std::vector<float> rows_;  // N × D, row-major; copied into the snapshot's matrix by Build
};

}  // namespace recsd::model
