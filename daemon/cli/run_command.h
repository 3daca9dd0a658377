#pragma once

#include "daemon/config/config.h"

namespace recsd::daemon {

// `recsd run --config FILE`: the admin server, then the pipeline (daemon/run/pipeline.h), until
// SIGTERM or SIGINT. Returns the exit code.
int RunCommand(const Config& config);

}  // namespace recsd::daemon
