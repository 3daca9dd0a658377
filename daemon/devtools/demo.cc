#include "daemon/devtools/demo.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/admin/admin_api.h"
#include "daemon/base/exit_codes.h"
#include "daemon/base/lifecycle.h"
#include "daemon/devtools/loadgen.h"
#include "daemon/run/pipeline.h"
#include "model/fusion.h"
#include "stream/mock_broker.h"

namespace recsd::daemon {
namespace {

using Clock = std::chrono::steady_clock;

std::string View(const DemoOptions& options, const std::string& bootstrap, double elapsed,
                 double dt, const PipelineStats& s, std::uint64_t* last_events,
                 std::uint64_t* last_lists, const Loadgen& loadgen, const WeightsView& weights) {
  const std::uint64_t events = s.events_consumed.load();
  const std::uint64_t lists = s.lists_delivered.load();
  std::string out = fmt::format(
      "recsd demo: embedded broker {} ({} partitions), load generator and daemon. Ctrl-C "
      "stops.\n\n",
      bootstrap, options.partitions);
  out += fmt::format(
      "elapsed {:.0f} s | events {} ({:.0f}/s) | lists {} ({:.0f}/s) | clicks {} | users {} | "
      "items {}\n",
      elapsed, events, static_cast<double>(events - *last_events) / dt, lists,
      static_cast<double>(lists - *last_lists) / dt, loadgen.stats().clicks.load(), s.users.load(),
      s.catalog_items.load());
  const metrics::HistogramSnapshot freshness = s.freshness.Snapshot();
  out += fmt::format(
      "freshness (event to list acknowledged) p50 {:.0f} ms, p99 {:.0f} ms | dead letters {} | "
      "paused partitions {}\n\n",
      freshness.Quantile(0.5) * 1000, freshness.Quantile(0.99) * 1000, s.DeadLettered(),
      s.paused_partitions.load());
  *last_events = events;
  *last_lists = lists;
  out += weights.partitions > 0
             ? fmt::format("fusion weights, learned from {} clicks (mean of {} partitions){}:\n  ",
                           loadgen.stats().clicks.load(), weights.partitions,
                           weights.reverted ? ", guard REVERTED to static" : "")
             : std::string("fusion weights (static: nothing learned yet):\n  ");
  for (std::size_t i = 0; i < weights.names.size(); ++i) {
    out += fmt::format("{} {:.3f}   ", weights.names[i], weights.weights.w[i]);
  }
  out += "\n\n";
  if (const auto list = loadgen.SampleList()) {
    out += fmt::format("latest list of user {} (rec {}, variant {}, model {}):\n", list->user.str(),
                       list->rec, list->variant, list->model);
    for (std::size_t i = 0; i < list->items.size() && i < 10; ++i) {
      const RecommendedItem& item = list->items[i];
      out += fmt::format("  {:2}. {:<8} {:.3f} =", i + 1, item.item.str(), item.score);
      for (const auto& [source, contribution] : item.src) {
        out += fmt::format(" {} {:.3f}", source, contribution);
      }
      out += "\n";
    }
  } else {
    out += fmt::format("no list for user {} yet\n", Loadgen::sample_user());
  }
  return out;
}

// A single member of a mock cluster: join quickly, and fetch without the mock's long waits.
void UseEmbeddedBroker(const std::string& bootstrap, Config* config) {
  config->kafka["bootstrap.servers"] = bootstrap;
  config->kafka["session.timeout.ms"] = "6000";
  config->kafka["heartbeat.interval.ms"] = "500";
  // The mock broker answers a fetch only when fetch.wait.max.ms has passed, even with data there
  // (a real broker answers at once): a short wait keeps the view's freshness honest.
  config->kafka["fetch.wait.max.ms"] = "10";
  config->pipeline.stats_interval = Milliseconds(0);  // the view shows them
}

// Redraws the view every options.view_interval_s until a signal, the duration, or the pipeline
// stopping.
void ShowUntilStopped(const DemoOptions& options, const StopSignals& signals,
                      const std::string& bootstrap, std::uint16_t admin_port,
                      const Pipeline& pipeline, const Loadgen& loadgen) {
  const bool tty = isatty(STDOUT_FILENO) != 0;
  const Clock::time_point start = Clock::now();
  Clock::time_point last = start;
  std::uint64_t last_events = 0;
  std::uint64_t last_lists = 0;
  const auto interval = std::chrono::duration<double>(options.view_interval_s);
  while (!pipeline.stopping()) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (options.duration_s > 0 && elapsed >= options.duration_s) break;
    if (signals.Wait(std::chrono::duration_cast<std::chrono::milliseconds>(interval)) != nullptr) {
      break;
    }
    const Clock::time_point now = Clock::now();
    std::string view = View(options, bootstrap, std::chrono::duration<double>(now - start).count(),
                            std::chrono::duration<double>(now - last).count(), pipeline.stats(),
                            &last_events, &last_lists, loadgen, pipeline.weights());
    if (admin_port != 0) {
      view += fmt::format("\nadmin: http://127.0.0.1:{}/metrics, /readyz, /livez\n", admin_port);
    }
    last = now;
    std::fputs(tty ? "\x1b[H\x1b[J" : "\n", stdout);
    std::fputs(view.c_str(), stdout);
    std::fflush(stdout);
  }
}

}  // namespace

int DemoCommand(const DemoOptions& options, Config config) {
  const StopSignals signals;  // before any thread starts

  const Config::Topics& t = config.topics;
  auto broker = stream::MockBroker::Start(1, {{t.events, options.partitions},
                                              {t.recommendations, options.partitions},
                                              {t.changelog, options.partitions},
                                              {t.items, 1},
                                              {t.dlq, 1},
                                              {t.model_stats, 1}});
  if (!broker) {
    spdlog::error("recsd demo: {}", broker.error());
    return kExitFailure;
  }
  const std::string bootstrap = (*broker)->bootstrap();
  UseEmbeddedBroker(bootstrap, &config);

  LoadgenOptions lo;
  lo.rate = options.rate;
  lo.users = options.users;
  lo.items = options.items;
  lo.seed = options.seed;
  lo.faults = options.faults;
  auto loadgen = Loadgen::Start(lo, config);
  if (!loadgen) {
    spdlog::error("recsd demo: load generator: {}", loadgen.error());
    return kExitFailure;
  }
  std::atomic<Pipeline*> current{nullptr};
  auto admin = StartAdmin(config, current);
  if (!admin) {  // the demo needs no set-up: any free port will do
    spdlog::warn("recsd demo: {}; using a free port instead", admin.error());
    config.admin.listen = "127.0.0.1:0";
    admin = StartAdmin(config, current);
    if (!admin) {
      spdlog::error("recsd demo: {}", admin.error());
      return kExitFailure;
    }
  }
  const std::uint16_t admin_port = *admin ? (*admin)->port() : 0;
  auto pipeline = Pipeline::Start(config);
  if (!pipeline) {
    spdlog::error("recsd demo: {}", pipeline.error());
    return kExitFailure;
  }
  current.store(pipeline->get());
  ShowUntilStopped(options, signals, bootstrap, admin_port, **pipeline, **loadgen);
  spdlog::info("demo: stopping");
  (*loadgen)->Stop();
  (*loadgen)->Wait();
  (*pipeline)->Stop();
  const int code = (*pipeline)->Wait();
  admin->reset();
  const PipelineStats& s = (*pipeline)->stats();
  std::printf("demo: %llu events, %llu lists delivered, %llu clicks; exit %d\n",
              static_cast<unsigned long long>(s.events_consumed.load()),
              static_cast<unsigned long long>(s.lists_delivered.load()),
              static_cast<unsigned long long>((*loadgen)->stats().clicks.load()), code);
  return code;
}

}  // namespace recsd::daemon
