#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>

#include "daemon/base/mutex.h"
#include "model/catalog.h"
#include "model/engine.h"

namespace recsd::daemon {

// The latest record of every partition in topics.model_stats, and all of them merged (each
// engine reads the merge without its own partition).
struct ModelStatsTable {
  std::map<std::int32_t, std::shared_ptr<const model::PartitionStats>> records;
  std::shared_ptr<const model::PeerStats> merged;  // null when there is no record
};

// What every partition reads and the catalog thread writes: the catalog and the table of global
// statistics, each an immutable snapshot swapped whole, with a version that tells a worker
// cheaply whether it has the latest. Any thread.
class References {
 public:
  void SetCatalog(std::shared_ptr<const model::Catalog> catalog) {
    {
      MutexLock lock(mu_);
      catalog_ = std::move(catalog);
    }
    catalog_version_.fetch_add(1);
  }
  std::shared_ptr<const model::Catalog> catalog() const {
    MutexLock lock(mu_);
    return catalog_;
  }
  std::uint64_t catalog_version() const { return catalog_version_.load(); }

  void SetModelStats(std::shared_ptr<const ModelStatsTable> table) {
    {
      MutexLock lock(mu_);
      model_stats_ = std::move(table);
    }
    model_stats_version_.fetch_add(1);
  }
  // At least as new as the version read before it.
  std::shared_ptr<const ModelStatsTable> model_stats() const {
    MutexLock lock(mu_);
    return model_stats_;
  }
  std::uint64_t model_stats_version() const { return model_stats_version_.load(); }

 private:
  mutable Mutex mu_;
  std::shared_ptr<const model::Catalog> catalog_ GUARDED_BY(mu_);
  std::shared_ptr<const ModelStatsTable> model_stats_ GUARDED_BY(mu_);
  std::atomic<std::uint64_t> catalog_version_{0};
  std::atomic<std::uint64_t> model_stats_version_{0};
};

}  // namespace recsd::daemon
