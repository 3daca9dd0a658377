#include "daemon/cli/run_command.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "daemon/admin/admin_api.h"
#include "daemon/base/exit_codes.h"
#include "daemon/base/lifecycle.h"
#include "daemon/run/pipeline.h"

namespace recsd::daemon {

int RunCommand(const Config& config) {
  const StopSignals signals;  // before any thread starts
  // The admin server first: /readyz answers 503 while the catalog loads.
  std::atomic<Pipeline*> current{nullptr};
  auto admin = StartAdmin(config, current);
  if (!admin) {
    spdlog::error("recsd run: {}", admin.error());
    return kExitFailure;
  }
  auto pipeline = Pipeline::Start(config);
  if (!pipeline) {
    spdlog::error("recsd run: {}", pipeline.error());
    return kExitFailure;
  }
  Pipeline& p = **pipeline;
  current.store(&p);
  std::thread waiter([&] {
    while (!p.stopping()) {
      if (const char* signal = signals.Wait(std::chrono::milliseconds(200))) {
        spdlog::info("run: {} received, shutting down", signal);
        p.Stop();
      }
    }
  });
  const int code = p.Wait();
  waiter.join();
  admin->reset();  // stops serving before the pipeline it reads goes away
  return code;
}

}  // namespace recsd::daemon
