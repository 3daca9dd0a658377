#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "daemon/admin/admin_server.h"
#include "daemon/run/pipeline.h"

namespace recsd::daemon {

// The admin server's view of a pipeline that may not be running yet (`pipeline` is null until
// Pipeline::Start has returned, i.e. until the catalog is loaded). Any thread.
//
//   metrics     recsd's metrics (metrics/catalog.h) from the pipeline's counters, and the
//               process_* metrics
//   readiness   "catalog" (loaded), "assignment" (the group has given this member its
//               partitions) and "restore" (every assigned partition read back from its changelog)
//   api         /v1/users/{id}        the user's state and current list with each item's
//                                     per-source contributions (404: no state here)
//               /v1/recommendations/{id}  a list computed now (cold-start for unknown users)
//               /v1/weights           weights by segment, variants' lists/clicks/CTR, the guard
//               each read on the workers' own threads (Pipeline::Visit), 503 after 2 s
AdminServer::Handlers PipelineHandlers(const std::atomic<Pipeline*>& pipeline);

// The bearer token of /v1/: admin.token, or the first line of admin.token_file; "" when neither
// is set. An error when both are set or the file cannot be read or is empty.
Result<std::string, std::string> AdminToken(const Config& config);

// `admin.listen` of the config, started for `pipeline`; nothing (and a log line) when it is empty
// ("" disables the server) or cannot be bound, which is an error the caller reports.
Result<std::unique_ptr<AdminServer>, std::string> StartAdmin(
    const Config& config, const std::atomic<Pipeline*>& pipeline);

}  // namespace recsd::daemon
