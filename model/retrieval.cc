#include "model/retrieval.h"

#include <algorithm>
#include <cmath>

#include "model/check.h"
#include "model/decay.h"

namespace recsd::model {
namespace {

// Heap order: the worst kept candidate on top (lower score, then higher row, is worse).
bool Better(const ScoredRow& a, const ScoredRow& b) {
  return a.score != b.score ? a.score > b.score : a.row < b.row;
}

// The best n rows offered so far: a bounded heap with the worst kept row on top.
class TopNHeap {
 public:
  TopNHeap(std::size_t n, std::vector<ScoredRow>* out) : n_(n), out_(out) {
    out_->clear();
    out_->reserve(n + 1);
  }

  void Offer(std::uint32_t row, float score, const Catalog& catalog) {
    const ScoredRow candidate{row, score};
    if (n_ == 0 || (out_->size() == n_ && !Better(candidate, out_->front()))) {
      return;  // cheaper than the availability lookup for the common case
    }
    if (!catalog.item(row).available) {
      return;
    }
    out_->push_back(candidate);
    std::push_heap(out_->begin(), out_->end(), Better);
    if (out_->size() > n_) {
      std::pop_heap(out_->begin(), out_->end(), Better);
      out_->pop_back();
    }
  }

  // Leaves the kept rows best first.
  void Finish() { std::sort_heap(out_->begin(), out_->end(), Better); }

 private:
  std::size_t n_;
  std::vector<ScoredRow>* out_;
};

}  // namespace

void SelectTopN(std::span<const float> scores, const Catalog& catalog, std::size_t n,
                std::vector<ScoredRow>* out) {
  RECSD_CHECK(scores.size() == catalog.size(), "one score per catalog row");
  TopNHeap heap(n, out);
  for (std::size_t row = 0; row < scores.size(); ++row) {
    heap.Offer(static_cast<std::uint32_t>(row), scores[row], catalog);
  }
  heap.Finish();
}

void EmbeddingScores(const Catalog& catalog, std::span<const float> user, std::span<float> scores) {
  RECSD_CHECK(user.size() == catalog.dim() && scores.size() == catalog.size(), "shapes");
  const Eigen::Map<const Eigen::VectorXf> u(user.data(), static_cast<Eigen::Index>(user.size()));
  Eigen::Map<Eigen::VectorXf> s(scores.data(), static_cast<Eigen::Index>(scores.size()));
  const float norm = u.norm();
  if (norm == 0.0F) {
    s.setZero();
    return;
  }
  s.noalias() = catalog.embeddings() * (u / norm);
}

void EmbeddingTopNBatch(const Catalog& catalog, const EmbeddingMatrix& users, std::size_t n,
                        std::vector<std::vector<ScoredRow>>* out) {
  RECSD_CHECK(static_cast<std::size_t>(users.cols()) == catalog.dim(), "user dimension");
  Eigen::MatrixXf unit = users.transpose();  // D × B, column per user
  for (Eigen::Index b = 0; b < unit.cols(); ++b) {
    const float norm = unit.col(b).norm();
    if (norm > 0.0F) unit.col(b) /= norm;
  }
  // Blocks of catalog rows whose B columns of scores stay in cache: the N × B score matrix is
  // never materialised (at 1M items and 32 users it would be 128 MB, as much traffic as the
  // catalog itself), and every block's scores go straight into the users' heaps.
  constexpr Eigen::Index kBlockRows = 2048;
  const auto users_count = static_cast<std::size_t>(users.rows());
  out->resize(users_count);
  std::vector<TopNHeap> heaps;
  heaps.reserve(users_count);
  for (std::size_t b = 0; b < users_count; ++b) heaps.emplace_back(n, &(*out)[b]);
  Eigen::MatrixXf block(kBlockRows, unit.cols());
  const auto rows = static_cast<Eigen::Index>(catalog.size());
  for (Eigen::Index start = 0; start < rows; start += kBlockRows) {
    const Eigen::Index len = std::min(kBlockRows, rows - start);
    block.topRows(len).noalias() = catalog.embeddings().middleRows(start, len) * unit;
    for (Eigen::Index b = 0; b < block.cols(); ++b) {
      const float* col = block.col(b).data();
      TopNHeap& heap = heaps[static_cast<std::size_t>(b)];
      for (Eigen::Index r = 0; r < len; ++r) {
        heap.Offer(static_cast<std::uint32_t>(start + r), col[r], catalog);
      }
    }
  }
  for (TopNHeap& heap : heaps) heap.Finish();
}

float FreshScore(TimestampMs item_ts, TimestampMs now, double half_life_ms) {
  const double age = static_cast<double>(now.ms - item_ts.ms);
  return age <= 0 ? 1.0F : static_cast<float>(DecayFactor(age, half_life_ms));
}

void FreshScores(const Catalog& catalog, TimestampMs now, double half_life_ms,
                 std::span<float> scores) {
  RECSD_CHECK(scores.size() == catalog.size(), "one score per catalog row");
  for (std::size_t row = 0; row < catalog.size(); ++row) {
    scores[row] = FreshScore(catalog.item(row).ts, now, half_life_ms);
  }
}

}  // namespace recsd::model
