#pragma once

#include <cstddef>
#include <vector>

#include "daemon/base/mutex.h"
#include "daemon/run/pipeline_stats.h"
#include "model/engine.h"

namespace recsd::daemon {

// Each worker's view of its partitions' learned weights, posted at its ticks; read by the admin
// API (Pipeline::weights). Any thread.
class WeightsBoard {
 public:
  explicit WeightsBoard(std::size_t workers) {
    MutexLock lock(mu_);
    views_.assign(workers, WeightsView{});
  }
  void Post(std::size_t worker, WeightsView view) {
    MutexLock lock(mu_);
    views_[worker] = std::move(view);
  }
  // The mean over the partitions that have learned anything; the static weights before any has.
  WeightsView Mean(const model::EngineOptions& options) const {
    WeightsView view;
    MutexLock lock(mu_);
    std::uint64_t versions = 0;
    for (const WeightsView& w : views_) {
      for (std::size_t s = 0; s < model::kMaxSources; ++s) view.weights.w[s] += w.weights.w[s];
      versions += w.weights.version;
      view.partitions += w.partitions;
      view.reverted = view.reverted || w.reverted;
    }
    if (view.partitions > 0) {
      for (double& x : view.weights.w) x /= static_cast<double>(view.partitions);
    } else {
      view.weights = options.weights;  // nothing learned yet: the static weights
    }
    view.weights.version = versions;
    view.names = options.features;
    return view;
  }

 private:
  mutable Mutex mu_;
  std::vector<WeightsView> views_ GUARDED_BY(mu_);
};

}  // namespace recsd::daemon
