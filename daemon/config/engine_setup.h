#pragma once

#include "daemon/config/config.h"
#include "model/engine.h"

namespace recsd::daemon {

// The engine's options as the configuration says: clock and kernels, source parameters, the
// static fusion weights, diversity and list size. One place, so replay and the daemon agree.
model::EngineOptions EngineOptionsFromConfig(const Config& config);

}  // namespace recsd::daemon
