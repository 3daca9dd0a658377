#include "model/catalog.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/check.h"
#include "model/seen_items.h"

namespace recsd::model {

std::optional<std::size_t> Catalog::Find(const ItemId& id) const {
  const std::optional<std::uint32_t> row =
      rows_.Find(id, [this](std::uint32_t r) -> const ItemId& { return items_[r].id; });
  if (!row) return std::nullopt;
  return *row;
}

const std::string& Catalog::CategoryName(CategoryId id) const {
  RECSD_CHECK(id >= 0 && static_cast<std::size_t>(id) < category_names_.size(), "category id");
  return category_names_[static_cast<std::size_t>(id)];
}

std::optional<CategoryId> Catalog::FindCategory(std::string_view name) const {
  auto it = categories_.find(std::string(name));
  if (it == categories_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::size_t Catalog::HeapBytes() const noexcept {
  std::size_t bytes = static_cast<std::size_t>(embeddings_.size()) * sizeof(float) +
                      items_.capacity() * sizeof(CatalogItem) + available_.capacity() +
                      rows_.HeapBytes();
  for (const CatalogItem& item : items_) {
    bytes += StringHeapBytes(item.id.str());
  }
  for (const std::string& name : category_names_) {
    bytes += 2 * (sizeof(std::string) + name.size()) + sizeof(CategoryId) + 2 * sizeof(void*);
  }
  if (index_) bytes += index_->HeapBytes();  // mostly shared with the snapshots around this one
  return bytes;
}

CatalogBuilder::CatalogBuilder(std::size_t dim, const AnnOptions& ann)
    : embedder_(dim), ann_options_(ann), ann_(ann) {
  catalog_.embeddings_.resize(0, static_cast<Eigen::Index>(dim));
}

CatalogBuilder::CatalogBuilder(const Catalog& base, const AnnOptions& ann)
    : embedder_(base.dim()), ann_options_(ann), catalog_(base), ann_(ann) {
  const auto* data = base.embeddings_.data();
  rows_.assign(data, data + base.embeddings_.size());
  catalog_.embeddings_.resize(0, static_cast<Eigen::Index>(base.dim()));  // rows_ holds them
  catalog_.index_.reset();
}

CategoryId CatalogBuilder::InternCategory(const std::optional<std::string>& name) {
  if (!name) {
    return kNoCategory;
  }
  auto it = catalog_.categories_.find(*name);
  if (it != catalog_.categories_.end()) {
    return it->second;
  }
  if (catalog_.category_names_.size() >= kMaxCategories) {
    return kNoCategory;
  }
  const auto id = static_cast<CategoryId>(catalog_.category_names_.size());
  catalog_.category_names_.push_back(*name);
  catalog_.categories_.emplace(*name, id);
  return id;
}

void CatalogBuilder::Upsert(const ItemRecord& record) {
  const std::size_t dim = embedder_.dim();
  std::size_t row = 0;
  bool added = false;
  if (auto found = catalog_.Find(record.item)) {
    row = *found;
  } else {
    row = catalog_.items_.size();
    catalog_.items_.emplace_back();
    catalog_.rows_.Insert(record.item, static_cast<std::uint32_t>(row));
    rows_.resize(rows_.size() + dim);
    added = true;
  }
  CatalogItem& item = catalog_.items_[row];
  item.id = record.item;
  item.fingerprint = SeenItems::Fingerprint(record.item);
  item.category = InternCategory(record.cat);
  item.available = record.available;
  item.ts = record.ts;

  vector_.resize(dim);
  double norm = 0.0;
  if (record.emb.size() == dim) {
    for (float x : record.emb) norm += static_cast<double>(x) * x;
  }
  item.text_embedded = norm == 0.0;
  if (item.text_embedded) {
    embedder_.Embed(record.text.value_or(""), record.tags, record.cat.value_or(""), vector_);
  } else {
    const double inv = 1.0 / std::sqrt(norm);
    for (std::size_t d = 0; d < dim; ++d) vector_[d] = static_cast<float>(record.emb[d] * inv);
  }
  float* out = rows_.data() + row * dim;
  const bool moved = !added && std::memcmp(out, vector_.data(), dim * sizeof(float)) != 0;
  std::copy(vector_.begin(), vector_.end(), out);
  if (added) {
    ann_.Insert(row, vector_);
  } else if (moved) {  // an availability change alone keeps the row where it is
    ann_.Move(row, vector_);
  }
}

bool CatalogBuilder::Erase(const ItemId& id) {
  const std::optional<std::size_t> found = catalog_.Find(id);
  if (!found) return false;
  const auto id_of = [this](std::uint32_t r) -> const ItemId& { return catalog_.items_[r].id; };
  const std::size_t dim = embedder_.dim();
  const std::size_t row = *found;
  const std::size_t last = catalog_.items_.size() - 1;
  catalog_.rows_.Erase(id, id_of);
  ann_.Erase(row, last);
  if (row != last) {  // the last row moves into the gap
    catalog_.rows_.Erase(catalog_.items_[last].id, id_of);
    catalog_.items_[row] = std::move(catalog_.items_[last]);
    std::memcpy(rows_.data() + row * dim, rows_.data() + last * dim, dim * sizeof(float));
    catalog_.rows_.Insert(catalog_.items_[row].id, static_cast<std::uint32_t>(row));
  }
  catalog_.items_.pop_back();
  rows_.resize(last * dim);
  return true;
}

void CatalogBuilder::Reserve(std::size_t items) {
  catalog_.items_.reserve(items);
  rows_.reserve(items * embedder_.dim());
}

void CatalogBuilder::UpdateIndex() {
  const std::size_t n = size();
  if (ann_options_.min_items == 0 || n < ann_options_.min_items) {
    ann_.Reset();
    return;
  }
  if (!ann_.trained() || n > 2 * ann_.trained_rows() || 2 * n < ann_.trained_rows()) {
    ann_.Train(rows_.data(), n, embedder_.dim());
  }
}

std::shared_ptr<const Catalog> CatalogBuilder::Build() & { return Snapshot(false); }

std::shared_ptr<const Catalog> CatalogBuilder::Build() && { return Snapshot(true); }

std::shared_ptr<const Catalog> CatalogBuilder::Snapshot(bool take) {
  UpdateIndex();
  auto snapshot = std::make_shared<Catalog>();
  snapshot->index_ = take ? std::move(ann_).Snapshot() : ann_.Snapshot();
  snapshot->available_.reserve(catalog_.items_.size());
  for (const CatalogItem& item : catalog_.items_) snapshot->available_.push_back(item.available);
  snapshot->embeddings_ = Eigen::Map<const EmbeddingMatrix>(
      rows_.data(), static_cast<Eigen::Index>(catalog_.items_.size()),
      static_cast<Eigen::Index>(embedder_.dim()));
  if (take) {
    snapshot->items_ = std::move(catalog_.items_);
    snapshot->rows_ = std::move(catalog_.rows_);
    snapshot->category_names_ = std::move(catalog_.category_names_);
    snapshot->categories_ = std::move(catalog_.categories_);
    catalog_ = Catalog();
    catalog_.embeddings_.resize(0, static_cast<Eigen::Index>(embedder_.dim()));
    rows_ = {};
  } else {
    snapshot->items_ = catalog_.items_;
    snapshot->rows_ = catalog_.rows_;
    snapshot->category_names_ = catalog_.category_names_;
    snapshot->categories_ = catalog_.categories_;
  }
  return snapshot;
}

}  // namespace recsd::model
