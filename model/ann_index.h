#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include <Eigen/Core>

namespace recsd::model {

// When and how the catalog keeps a nearest-neighbour index of its item vectors (README,
// "Retrieval at scale"). Below `min_items` items the embedding sources scan the whole catalog
// (exact, and as cheap at that size); at or above it they search the index.
struct AnnOptions {
  std::size_t min_items = 50'000;  // 0: never index
  // Lists (k-means cells) the catalog is divided into; 0: ⌈√N⌉ of the catalog when it is trained.
  std::size_t lists = 0;
  // Lists a search reads, those whose centroids are nearest the query: more is better recall at
  // a slower search (benchmarks/README.md, "Retrieval").
  std::size_t probes = 16;
  std::size_t train_iterations = 8;  // of spherical k-means
  std::size_t sample_per_list = 32;  // rows per list in the k-means sample (at most all)
  std::uint64_t seed = 1;            // of the sample and the initial centroids
};

// Runs body(begin, end) over ranges that together cover [0, n), perhaps on several threads at
// once, and returns when all are done. model/ makes no threads: a caller that has cores to spare
// passes one in (daemon/base/parallel.h); the default runs body(0, n) here.
using ParallelFor =
    std::function<void(std::size_t n, const std::function<void(std::size_t, std::size_t)>& body)>;

using AnnMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// An index's centroids (lists × dim, unit rows) and the same values laid out for the
// nearest-centroid kernel (CentroidPanels, model/row_scores.h).
struct AnnCentroids {
  AnnMatrix matrix;
  std::vector<float> panels;
};

// An inverted-file index of a catalog snapshot's rows: unit centroids (spherical k-means of the
// item vectors) and, for each, the list of rows nearest to it with a copy of their vectors
// quantised to 8 bits (v ≈ scale · code, scale = max|v_d| / 127), back to back, so that reading
// a list streams D + 4 bytes per item through memory instead of 4·D. A search quantises the
// query the same way and scores a list's rows with integer dot products (exact, so every CPU path
// gives the same scores); the quantised scores only choose the candidates, and the search scores
// the chosen ones with the exact vectors. Immutable;
// snapshots share it, and share every list that did not change between them, through
// shared_ptr<const>, so any thread may read it. Made by AnnIndexBuilder.
class AnnIndex {
 public:
  struct List {
    std::vector<std::uint32_t> rows;
    std::vector<std::int8_t> codes;  // rows.size() × dim, row-major, in the order of `rows`
    std::vector<float> scales;       // one per row
  };

  std::size_t lists() const noexcept { return lists_.size(); }
  std::size_t probes() const noexcept { return probes_; }
  const AnnMatrix& centroids() const noexcept { return centroids_->matrix; }
  // The centroids, shared by every snapshot until the index is trained again: a holder of this
  // pointer can tell whether list numbers it computed still mean the same lists.
  const std::shared_ptr<const AnnCentroids>& shared_centroids() const noexcept {
    return centroids_;
  }
  // The list each vector (D floats, unit or zero) belongs in, its nearest centroid's, into out
  // (as many as vectors); as the index places its own rows.
  void NearestLists(std::span<const float* const> vectors, std::span<std::uint32_t> out) const;
  const List& list(std::size_t list) const { return *lists_[list]; }
  // Whether list `list` is the same object in both (shared, not copied).
  bool SharesList(const AnnIndex& other, std::size_t list) const {
    return lists_[list] == other.lists_[list];
  }
  std::size_t HeapBytes() const noexcept;

 private:
  friend class AnnIndexBuilder;
  std::shared_ptr<const AnnCentroids> centroids_;
  std::vector<std::shared_ptr<const List>> lists_;
  std::size_t probes_ = 0;
};

// Keeps an AnnIndex in step with a catalog's rows as they change, and makes its snapshots. One
// writer (the CatalogBuilder that owns it). Train divides the rows into lists; after it, Insert,
// Move and Erase keep every row in exactly one list, the nearest centroid's at the time of its
// last change (the centroids stay until the next Train). Deterministic: the same calls make the
// same lists.
class AnnIndexBuilder {
 public:
  explicit AnnIndexBuilder(const AnnOptions& options);
  // How Train spreads its scoring of rows against centroids: each row's nearest centroid is the
  // same whichever range it is scored in, so the lists do not depend on it.
  void set_parallel_for(ParallelFor parallel_for) { parallel_for_ = std::move(parallel_for); }

  // Trains the centroids on a sample of the n rows of `vectors` (n × dim, unit or zero rows,
  // row-major) and puts every row in its list. Cost O(n · lists · dim).
  void Train(const float* vectors, std::size_t n, std::size_t dim);
  bool trained() const noexcept { return centroids_ != nullptr; }
  std::size_t trained_rows() const noexcept { return trained_rows_; }
  // Forgets everything (no index).
  void Reset();

  // Row `row` (= the number of rows so far) is new, with vector `v`.
  void Insert(std::size_t row, std::span<const float> v);
  // Row `row`'s vector is now `v`.
  void Move(std::size_t row, std::span<const float> v);
  // Row `row` is gone and row `last` (the last one) took its place (row == last: it was last).
  void Erase(std::size_t row, std::size_t last);

  // The index as it stands; lists unchanged since the previous snapshot are shared with it.
  std::shared_ptr<const AnnIndex> Snapshot() &;
  // The same, taking the changed lists instead of copying them: the builder is left untrained.
  std::shared_ptr<const AnnIndex> Snapshot() &&;

 private:
  std::uint32_t Nearest(std::span<const float> v) const;
  void Append(std::size_t row, std::uint32_t list, const float* v);
  void Remove(std::size_t row);
  std::shared_ptr<const AnnIndex> Publish(bool take);

  void AssignAll(const float* vectors, std::size_t n, std::vector<std::uint32_t>* nearest,
                 std::vector<float>* best) const;

  AnnOptions options_;
  ParallelFor parallel_for_;
  std::size_t dim_ = 0;
  std::size_t trained_rows_ = 0;
  std::shared_ptr<const AnnCentroids> centroids_;
  std::vector<AnnIndex::List> lists_;
  std::vector<std::uint32_t> list_of_row_;
  std::vector<std::uint32_t> position_of_row_;  // in its list
  std::vector<std::uint8_t> changed_;           // per list, since the last snapshot
  std::vector<std::shared_ptr<const AnnIndex::List>> published_;
};

}  // namespace recsd::model
