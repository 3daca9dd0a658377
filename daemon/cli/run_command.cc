#include "daemon/cli/run_command.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
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
  // Signals are taken from the start: a SIGTERM while the start-up waits for the brokers (the
  // catalog, the topics' metadata) ends it, instead of waiting out pipeline.catalog_load_timeout.
  std::atomic<bool> stop_requested{false};
  std::atomic<Pipeline*> running{nullptr};
  std::atomic<bool> finished{false};
  // The last resort of the shutdown deadline: a thread blocked inside librdkafka past it (seen:
  // rd_kafka_query_watermark_offsets with a 1 s timeout still waiting minutes after the broker
  // froze, in a restore) would hold the process forever. Nothing is lost by exiting: offsets are
  // stored only for what was delivered.
  const auto hard_deadline = config.pipeline.shutdown_timeout + std::chrono::milliseconds(500);
  std::thread waiter([&] {
    std::optional<std::chrono::steady_clock::time_point> stopping_since;
    while (!finished.load()) {
      if (const char* signal = signals.Wait(std::chrono::milliseconds(100))) {
        spdlog::info("run: {} received, shutting down", signal);
        stop_requested.store(true);
      }
      Pipeline* p = running.load();
      if (p != nullptr && stop_requested.load()) p->Stop();
      if (stop_requested.load() || (p != nullptr && p->stopping())) {
        const auto now = std::chrono::steady_clock::now();
        if (!stopping_since) stopping_since = now;
        if (now - *stopping_since > hard_deadline && !finished.load()) {
          spdlog::error(
              "shutdown: still not done {} ms after the stop (pipeline.shutdown_timeout "
              "{} ms): a thread is blocked on the brokers; exiting",
              std::chrono::duration_cast<std::chrono::milliseconds>(now - *stopping_since).count(),
              config.pipeline.shutdown_timeout.count());
          spdlog::default_logger()->flush();
          std::_Exit(kExitFailure);
        }
      }
    }
  });
  auto pipeline = Pipeline::Start(config, &stop_requested);
  if (!pipeline) {
    finished.store(true);
    waiter.join();
    if (stop_requested.load()) {  // asked to stop: nothing was consumed, nothing is lost
      spdlog::info("shutdown: stopped during start-up ({})", pipeline.error());
      return kExitOk;
    }
    spdlog::error("recsd run: {}", pipeline.error());
    return kExitFailure;
  }
  Pipeline& p = **pipeline;
  current.store(&p);
  running.store(&p);
  const int code = p.Wait();
  finished.store(true);
  waiter.join();
  admin->reset();  // stops serving before the pipeline it reads goes away
  return code;
}

}  // namespace recsd::daemon
