#include "model/ann_index.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "model/check.h"
#include "model/random.h"
#include "model/row_scores.h"

namespace recsd::model {
namespace {

// For each of n rows of `vectors` (n × dim, row-major): the nearest (highest dot product)
// centroid, ties to the lower, into nearest[0, n), and that dot product into best[0, n).
void Assign(const float* vectors, std::size_t n, std::size_t dim, const AnnCentroids& centroids,
            std::uint32_t* nearest, float* best) {
  constexpr std::size_t kBlock = 256;
  std::array<const float*, kBlock> rows;
  const auto count = static_cast<std::size_t>(centroids.matrix.rows());
  for (std::size_t start = 0; start < n; start += kBlock) {
    const std::size_t len = std::min(kBlock, n - start);
    for (std::size_t r = 0; r < len; ++r) rows[r] = vectors + (start + r) * dim;
    NearestCentroids(rows.data(), len, dim, centroids.panels.data(), count, nearest + start,
                     best + start);
  }
}

// Scales each row of m to unit length; false for a zero row (left as it is).
bool NormaliseRow(float* row, std::size_t dim) {
  double norm = 0;
  for (std::size_t d = 0; d < dim; ++d) norm += static_cast<double>(row[d]) * row[d];
  if (!(norm > 0)) return false;
  const double inv = 1.0 / std::sqrt(norm);
  for (std::size_t d = 0; d < dim; ++d) row[d] = static_cast<float>(row[d] * inv);
  return true;
}

}  // namespace

std::size_t AnnIndex::HeapBytes() const noexcept {
  std::size_t bytes = lists_.capacity() * sizeof(lists_[0]);
  if (centroids_) {
    bytes += static_cast<std::size_t>(centroids_->matrix.size()) * sizeof(float) +
             centroids_->panels.capacity() * sizeof(float);
  }
  for (const auto& list : lists_) {
    bytes += list->rows.capacity() * sizeof(std::uint32_t) + list->codes.capacity() +
             list->scales.capacity() * sizeof(float) + sizeof(*list) + 2 * sizeof(void*);
  }
  return bytes;
}

AnnIndexBuilder::AnnIndexBuilder(const AnnOptions& options) : options_(options) {
  RECSD_CHECK(options.probes > 0 && options.sample_per_list > 0, "ANN index options");
}

void AnnIndexBuilder::AssignAll(const float* vectors, std::size_t n,
                                std::vector<std::uint32_t>* nearest,
                                std::vector<float>* best) const {
  nearest->resize(n);
  best->resize(n);
  const auto range = [&](std::size_t begin, std::size_t end) {
    Assign(vectors + begin * dim_, end - begin, dim_, *centroids_, nearest->data() + begin,
           best->data() + begin);
  };
  if (parallel_for_) {
    parallel_for_(n, range);
  } else {
    range(0, n);
  }
}

void AnnIndexBuilder::Reset() {
  dim_ = 0;
  trained_rows_ = 0;
  centroids_.reset();
  lists_.clear();
  list_of_row_.clear();
  position_of_row_.clear();
  changed_.clear();
  published_.clear();
}

void AnnIndexBuilder::Train(const float* vectors, std::size_t n, std::size_t dim) {
  RECSD_CHECK(n > 0 && dim > 0, "rows to train an ANN index on");
  Reset();
  dim_ = dim;
  trained_rows_ = n;
  const std::size_t lists =
      std::min(n, options_.lists > 0
                      ? options_.lists
                      : static_cast<std::size_t>(std::ceil(std::sqrt(static_cast<double>(n)))));

  // The sample: distinct rows drawn with the seed (a partial Fisher-Yates shuffle of the rows).
  SplitMix64 rng(options_.seed);
  const std::size_t sample_size = std::min(n, lists * options_.sample_per_list);
  std::vector<std::uint32_t> order(n);
  for (std::size_t r = 0; r < n; ++r) order[r] = static_cast<std::uint32_t>(r);
  for (std::size_t i = 0; i < sample_size; ++i) {
    std::swap(order[i], order[i + rng.Below(n - i)]);
  }
  order.resize(sample_size);
  std::sort(order.begin(), order.end());  // reads the rows in memory order
  std::vector<float> sample(sample_size * dim);
  for (std::size_t i = 0; i < sample_size; ++i) {
    std::copy_n(vectors + std::size_t{order[i]} * dim, dim, sample.data() + i * dim);
  }

  // Spherical k-means: the first `lists` sample rows (a random subset) start as centroids; each
  // round assigns the sample and moves every centroid to its members' normalised mean. A centroid
  // left with no members takes the sample row farthest from its own centroid.
  auto owner = std::make_shared<AnnCentroids>();
  AnnMatrix* centroids = &owner->matrix;
  centroids->resize(static_cast<Eigen::Index>(lists), static_cast<Eigen::Index>(dim));
  std::vector<std::uint32_t> pick(sample_size);
  for (std::size_t i = 0; i < sample_size; ++i) pick[i] = static_cast<std::uint32_t>(i);
  for (std::size_t i = 0; i < lists; ++i) std::swap(pick[i], pick[i + rng.Below(sample_size - i)]);
  for (std::size_t c = 0; c < lists; ++c) {
    std::copy_n(sample.data() + std::size_t{pick[c]} * dim, dim,
                centroids->row(static_cast<Eigen::Index>(c)).data());
  }
  std::vector<std::uint32_t> nearest;
  std::vector<float> best;
  std::vector<std::size_t> members(lists);
  centroids_ = owner;  // AssignAll reads them
  for (std::size_t round = 0; round < options_.train_iterations; ++round) {
    owner->panels = CentroidPanels(centroids->data(), lists, dim);
    AssignAll(sample.data(), sample_size, &nearest, &best);
    centroids->setZero();
    std::fill(members.begin(), members.end(), 0);
    for (std::size_t i = 0; i < sample_size; ++i) {
      float* c = centroids->row(nearest[i]).data();
      const float* v = sample.data() + i * dim;
      for (std::size_t d = 0; d < dim; ++d) c[d] += v[d];
      ++members[nearest[i]];
    }
    std::vector<std::uint32_t> by_fit(sample_size);  // worst-fitting sample rows first
    for (std::size_t i = 0; i < sample_size; ++i) by_fit[i] = static_cast<std::uint32_t>(i);
    std::sort(by_fit.begin(), by_fit.end(), [&](std::uint32_t a, std::uint32_t b) {
      return best[a] != best[b] ? best[a] < best[b] : a < b;
    });
    std::size_t next_far = 0;
    for (std::size_t c = 0; c < lists; ++c) {
      float* row = centroids->row(static_cast<Eigen::Index>(c)).data();
      if (members[c] == 0 || !NormaliseRow(row, dim)) {
        const std::size_t far = by_fit[std::min(next_far++, sample_size - 1)];
        std::copy_n(sample.data() + far * dim, dim, row);
      }
    }
  }
  // Every row into its list.
  owner->panels = CentroidPanels(centroids->data(), lists, dim);
  AssignAll(vectors, n, &nearest, &best);
  lists_.assign(lists, {});
  changed_.assign(lists, 1);
  published_.assign(lists, nullptr);
  list_of_row_.resize(n);
  position_of_row_.resize(n);
  std::fill(members.begin(), members.end(), 0);
  for (std::size_t r = 0; r < n; ++r) ++members[nearest[r]];
  for (std::size_t l = 0; l < lists; ++l) {
    lists_[l].rows.reserve(members[l]);
    lists_[l].scales.reserve(members[l]);
    lists_[l].codes.reserve(members[l] * dim);
  }
  for (std::size_t r = 0; r < n; ++r) Append(r, nearest[r], vectors + r * dim);
}

void AnnIndex::NearestLists(std::span<const float* const> vectors,
                            std::span<std::uint32_t> out) const {
  RECSD_CHECK(out.size() == vectors.size(), "a list per vector");
  const AnnMatrix& c = centroids_->matrix;
  std::vector<float> best(vectors.size());
  NearestCentroids(vectors.data(), vectors.size(), static_cast<std::size_t>(c.cols()),
                   centroids_->panels.data(), static_cast<std::size_t>(c.rows()), out.data(),
                   best.data());
}

std::uint32_t AnnIndexBuilder::Nearest(std::span<const float> v) const {
  RECSD_CHECK(v.size() == dim_, "a vector of the index's dimension");
  std::uint32_t nearest = 0;
  float best = 0;
  Assign(v.data(), 1, dim_, *centroids_, &nearest, &best);
  return nearest;
}

void AnnIndexBuilder::Append(std::size_t row, std::uint32_t list, const float* v) {
  AnnIndex::List& l = lists_[list];
  list_of_row_[row] = list;
  position_of_row_[row] = static_cast<std::uint32_t>(l.rows.size());
  l.rows.push_back(static_cast<std::uint32_t>(row));
  const std::size_t at = l.codes.size();
  l.codes.resize(at + dim_);
  l.scales.push_back(QuantizeRow(v, dim_, l.codes.data() + at));
  changed_[list] = 1;
}

void AnnIndexBuilder::Remove(std::size_t row) {
  AnnIndex::List& l = lists_[list_of_row_[row]];
  const std::uint32_t at = position_of_row_[row];
  const std::size_t last = l.rows.size() - 1;
  if (at != last) {  // the list's last row takes the place
    l.rows[at] = l.rows[last];
    l.scales[at] = l.scales[last];
    std::copy_n(l.codes.data() + last * dim_, dim_, l.codes.data() + std::size_t{at} * dim_);
  }
  position_of_row_[l.rows[at]] = at;
  l.rows.pop_back();
  l.scales.pop_back();
  l.codes.resize(last * dim_);
  changed_[list_of_row_[row]] = 1;
}

void AnnIndexBuilder::Insert(std::size_t row, std::span<const float> v) {
  if (!trained()) return;
  RECSD_CHECK(row == list_of_row_.size(), "rows are inserted at the end");
  list_of_row_.push_back(0);
  position_of_row_.push_back(0);
  Append(row, Nearest(v), v.data());
}

void AnnIndexBuilder::Move(std::size_t row, std::span<const float> v) {
  if (!trained()) return;
  Remove(row);  // the list's copy of the vector changes even when the list does not
  Append(row, Nearest(v), v.data());
}

void AnnIndexBuilder::Erase(std::size_t row, std::size_t last) {
  if (!trained()) return;
  RECSD_CHECK(last + 1 == list_of_row_.size() && row <= last, "the erased row and the last");
  Remove(row);
  if (row != last) {  // the last row is now `row`: its list entry says so
    const std::uint32_t list = list_of_row_[last];
    const std::uint32_t at = position_of_row_[last];
    lists_[list].rows[at] = static_cast<std::uint32_t>(row);
    list_of_row_[row] = list;
    position_of_row_[row] = at;
    changed_[list] = 1;
  }
  list_of_row_.pop_back();
  position_of_row_.pop_back();
}

std::shared_ptr<const AnnIndex> AnnIndexBuilder::Snapshot() & { return Publish(false); }

std::shared_ptr<const AnnIndex> AnnIndexBuilder::Snapshot() && {
  std::shared_ptr<const AnnIndex> index = Publish(true);
  Reset();
  return index;
}

std::shared_ptr<const AnnIndex> AnnIndexBuilder::Publish(bool take) {
  if (!trained()) return nullptr;
  auto index = std::make_shared<AnnIndex>();
  index->centroids_ = centroids_;
  index->probes_ = std::min(options_.probes, lists_.size());
  for (std::size_t l = 0; l < lists_.size(); ++l) {
    if (changed_[l] != 0 || published_[l] == nullptr) {
      published_[l] = take ? std::make_shared<const AnnIndex::List>(std::move(lists_[l]))
                           : std::make_shared<const AnnIndex::List>(lists_[l]);
      changed_[l] = 0;
    }
  }
  index->lists_ = published_;
  return index;
}

}  // namespace recsd::model
