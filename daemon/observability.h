#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "daemon/admin_server.h"
#include "daemon/pipeline.h"

namespace recsd::daemon {

// The admin server's view of a pipeline that may not be running yet (`pipeline` is null until
// Pipeline::Start has returned, i.e. until the catalog is loaded). Any thread.
//
//   metrics     recsd's metrics (metrics/catalog.h) from the pipeline's counters, and the
//               process_* metrics
//   readiness   "catalog" (loaded) and "assignment" (the group has given this member its
//               partitions); restore progress joins with the durability issue
AdminServer::Handlers PipelineHandlers(const std::atomic<Pipeline*>& pipeline);

// `admin.listen` of the config, started for `pipeline`; nothing (and a log line) when it is empty
// ("" disables the server) or cannot be bound, which is an error the caller reports.
Result<std::unique_ptr<AdminServer>, std::string> StartAdmin(
    const Config& config, const std::atomic<Pipeline*>& pipeline);

}  // namespace recsd::daemon
