#include "daemon/cli/cli.h"

#include <cstdio>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "daemon/admin/admin_server.h"
#include "daemon/base/logging.h"
#include "daemon/base/version.h"
#include "daemon/cli/run_command.h"
#include "daemon/config/config.h"
#include "daemon/devtools/broker.h"
#include "daemon/devtools/demo.h"
#include "daemon/devtools/loadgen.h"
#include "daemon/eval/replay.h"

namespace recsd::daemon {
namespace {

struct GlobalOptions {
  std::string log_level;   // empty = SPDLOG_LEVEL, then the config's log.level
  std::string log_format;  // empty = the config's log.format
};

struct ConfigOptions {
  std::string file;
  std::vector<std::string> sets;
};

void AddConfigOptions(CLI::App* cmd, ConfigOptions* opts, bool file_required) {
  auto* file = cmd->add_option("--config,-c", opts->file, "TOML configuration file");
  if (file_required) {
    file->required();
  }
  file->check(CLI::ExistingFile);
  cmd->add_option("--set", opts->sets, "Override one key: section.key=value (repeatable)");
}

// Loads the configuration; prints every problem and returns false when there is any.
bool Load(const ConfigOptions& opts, LoadedConfig* out) {
  *out = LoadConfig({opts.file, opts.sets, ProcessEnvironment()});
  for (const ConfigProblem& p : out->problems) {
    std::cerr << p.ToString() << "\n";
  }
  for (const std::string& w : out->warnings) std::cerr << "warning: " << w << "\n";
  return out->problems.empty();
}

// A subcommand, and what runs when it was given (its options filled by the parse).
struct Subcommand {
  CLI::App* cmd;
  std::function<int()> run;
};
using Subcommands = std::vector<Subcommand>;

// For the subcommands that read a configuration: loads it (exit 78 on a problem), sets up
// logging from the global options and the config, then runs `body`.
std::function<int()> WithConfig(std::shared_ptr<const ConfigOptions> opts,
                                const GlobalOptions& global,
                                std::function<int(const Config&)> body) {
  return [opts = std::move(opts), &global, body = std::move(body)] {
    LoadedConfig loaded;
    if (!Load(*opts, &loaded)) return kExitConfig;
    const Config& config = loaded.config;
    const std::string format = !global.log_format.empty() ? global.log_format : config.log.format;
    std::string error;
    if (!SetUpLogging(*ParseLogFormat(format), global.log_level, config.log.level, &error)) {
      std::cerr << "recsd: " << error << "\n";
      return kExitConfig;
    }
    SetRawIdsInLogs(config.log.raw_ids);
    return body(config);
  };
}

void AddVersion(CLI::App& app, Subcommands* out) {
  auto* cmd = app.add_subcommand("version", "Print recsd's version and its dependencies'");
  out->push_back({cmd, [] {
                    std::cout << VersionReport();
                    return kExitOk;
                  }});
}

void AddCheckConfig(CLI::App& app, Subcommands* out) {
  auto opts = std::make_shared<ConfigOptions>();
  auto* cmd =
      app.add_subcommand("check-config",
                         "Validate a configuration file (with environment and --set overrides); "
                         "exit 0 when valid, 78 with one line per problem when not");
  cmd->add_option("file", opts->file, "TOML configuration file")->required();
  cmd->add_option("--set", opts->sets, "Override one key: section.key=value (repeatable)");
  out->push_back({cmd, [opts] {
                    LoadedConfig loaded;
                    if (!Load(*opts, &loaded)) {
                      std::cerr << opts->file << ": " << loaded.problems.size() << " problem"
                                << (loaded.problems.size() == 1 ? "" : "s") << "\n";
                      return kExitConfig;
                    }
                    std::cout << opts->file << ": ok\n";
                    return kExitOk;
                  }});
}

void AddPrintConfig(CLI::App& app, Subcommands* out) {
  auto opts = std::make_shared<ConfigOptions>();
  auto* cmd =
      app.add_subcommand("print-config",
                         "Print the effective configuration as TOML, secrets redacted, with where "
                         "each value came from");
  AddConfigOptions(cmd, opts.get(), /*file_required=*/false);
  out->push_back({cmd, [opts] {
                    LoadedConfig loaded;
                    if (!Load(*opts, &loaded)) return kExitConfig;
                    std::cout << RenderConfig(loaded.settings);
                    return kExitOk;
                  }});
}

void AddRun(CLI::App& app, const GlobalOptions& global, Subcommands* out) {
  auto opts = std::make_shared<ConfigOptions>();
  auto* cmd = app.add_subcommand(
      "run",
      "Run the daemon: consume events, keep user state, publish recommendations, until SIGTERM "
      "or SIGINT");
  AddConfigOptions(cmd, opts.get(), /*file_required=*/true);
  out->push_back({cmd, WithConfig(opts, global, [](const Config& c) { return RunCommand(c); })});
}

void AddReplay(CLI::App& app, const GlobalOptions& global, Subcommands* out) {
  auto config = std::make_shared<ConfigOptions>();
  auto opts = std::make_shared<ReplayOptions>();
  auto* cmd = app.add_subcommand(
      "replay",
      "Drive the engine from files in event-time order and report prequential quality (hit "
      "rate, NDCG, MRR, coverage at k). With no arguments: MovieLens from " +
          opts->data_dir);
  AddConfigOptions(cmd, config.get(), /*file_required=*/false);
  cmd->add_option("--input-format", opts->input_format, "movielens, jsonl or msgpack")
      ->check(CLI::IsMember({"movielens", "jsonl", "msgpack"}))
      ->capture_default_str();
  cmd->add_option("--data", opts->data_dir,
                  "MovieLens directory (ratings.csv, movies.csv, tags.csv)")
      ->capture_default_str();
  cmd->add_option("--events", opts->events,
                  "Events: ratings.csv, or v1 event records; with --simulate, how many");
  cmd->add_option("--items", opts->items, "Items: movies.csv, or v1 item records");
  cmd->add_option("--tags", opts->tags, "MovieLens tags.csv (item text)");
  cmd->add_option("--k", opts->k, "List positions evaluated")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--only-source", opts->only_source,
                  "Rank by one source alone (a baseline): emb_short, emb_long, covisit, "
                  "trending, category or fresh");
  cmd->add_option("--weights", opts->weights,
                  "Fusion weights overriding fusion.weights: name=value,...");
  cmd->add_option("--json-report", opts->json_report,
                  "Write the report as JSON to FILE (- for stdout)");
  cmd->add_option("--ranks-file", opts->ranks_file,
                  "Write each evaluated interaction's rank (-1 = miss) to FILE, one per line");
  cmd->add_option("--learn", opts->learn,
                  "Learn the fusion weights from the simulated clicks: on or off (default: "
                  "learning.enabled; --only-source implies off)")
      ->check(CLI::IsMember({"on", "off"}));
  cmd->add_option("--simulate", opts->simulate,
                  "Instead of files, a simulated environment with known click weights that "
                  "switch (drift); --events N then counts its interest events (default 40000)")
      ->check(CLI::IsMember({"drift"}));
  cmd->add_option("--seed", opts->seed,
                  "Seed of the simulated environment, and of --tune's random starts")
      ->capture_default_str();
  cmd->add_option("--order", opts->order,
                  "event-time (events sorted by timestamp, ties in file order) or input (the "
                  "file's order, as a daemon applies a topic's events: the oracle for its state)")
      ->check(CLI::IsMember({"event-time", "input"}))
      ->capture_default_str();
  cmd->add_option("--baseline", opts->baselines,
                  "Replay a simple recommender beside the engine under the same protocol and "
                  "compare (McNemar): popularity, cooccurrence or sequential-rules; repeatable");
  cmd->add_flag("--tune", opts->tune,
                "Search the static fusion weights offline (coordinate and random search on the "
                "candidates one replay records) and print the best vector, verified by a "
                "replay; learning off");
  cmd->add_option("--state-digests", opts->state_digests,
                  "Write every user's final state digest to this file (\"user digest\" lines)");
  cmd->add_option("--trajectory-every", opts->trajectory_every,
                  "Events between two points of the report's weight_trajectory (0: events/50)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  out->push_back({cmd, WithConfig(config, global,
                                  [opts](const Config& c) { return ReplayCommand(*opts, c); })});
}

void AddBroker(CLI::App& app, const GlobalOptions& global, Subcommands* out) {
  auto config = std::make_shared<ConfigOptions>();
  auto opts = std::make_shared<BrokerOptions>();
  auto* cmd = app.add_subcommand(
      "broker",
      "Serve librdkafka's mock Kafka cluster on loopback until SIGTERM or SIGINT, for development "
      "and tests only (never production); prints the bootstrap list as the first line of stdout");
  AddConfigOptions(cmd, config.get(), /*file_required=*/false);
  cmd->add_option("--brokers", opts->brokers, "Brokers in the cluster")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  cmd->add_option("--topic", opts->topics,
                  "Create topic name:partitions (repeatable); without any, the recsd topics of "
                  "the configuration");
  cmd->add_option("--partitions", opts->partitions,
                  "Partitions of the default events, recommendations and changelog topics")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd->add_option("--bootstrap-file", opts->bootstrap_file,
                  "Also write the bootstrap list to this file (removed on exit)");
  cmd->add_option("--control", opts->control,
                  "Read fault commands from this file, FIFO or - (stdin), one per line: down B, "
                  "up B, rtt B MS, errors API ERROR[*N],..., clear API, leader TOPIC P B, "
                  "coordinator group|txn KEY B; each answered on stdout as \"fault N: ...\"");
  out->push_back({cmd, WithConfig(config, global,
                                  [opts](const Config& c) { return BrokerCommand(*opts, c); })});
}

void AddLoadgen(CLI::App& app, const GlobalOptions& global, Subcommands* out) {
  auto config = std::make_shared<ConfigOptions>();
  auto opts = std::make_shared<LoadgenOptions>();
  auto* cmd = app.add_subcommand(
      "loadgen",
      "Produce a synthetic catalog and drifting user events, and click on served lists with a "
      "hidden preference, so the learning loop runs live");
  AddConfigOptions(cmd, config.get(), /*file_required=*/false);
  cmd->add_option("--bootstrap", opts->bootstrap,
                  "Kafka bootstrap servers (default: kafka.bootstrap.servers)");
  cmd->add_option("--rate", opts->rate, "Events per second")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--users", opts->users, "Users")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000'000));
  cmd->add_option("--items", opts->items, "Items in the synthetic catalog")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--duration", opts->duration_s, "Seconds to run; 0 = until stopped")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--events", opts->events, "Stop after this many events; 0 = no limit")
      ->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Random seed")->capture_default_str();
  cmd->add_option("--faults", opts->faults,
                  "Share of unusual events: malformed, invalid, unsupported version, wrong "
                  "key (dead-lettered), late, forget")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_flag("!--no-catalog", opts->catalog, "Do not produce the catalog (it is already there)");
  out->push_back({cmd, WithConfig(config, global,
                                  [opts](const Config& c) { return LoadgenCommand(*opts, c); })});
}

void AddProbe(CLI::App& app, Subcommands* out) {
  struct ProbeOptions {
    std::string address = "127.0.0.1:9464";
    std::string path = "/livez";
    int timeout_ms = 2000;
  };
  auto opts = std::make_shared<ProbeOptions>();
  auto* cmd = app.add_subcommand(
      "probe", "GET an admin endpoint; exit 0 when it answers 200 (container health checks)");
  cmd->add_option("--address", opts->address, "host:port of the admin server")
      ->capture_default_str();
  cmd->add_option("--path", opts->path, "Path to GET")->capture_default_str();
  cmd->add_option("--timeout-ms", opts->timeout_ms, "Give up after this long")
      ->check(CLI::Range(1, 600'000))
      ->capture_default_str();
  out->push_back({cmd, [opts] {
                    return ProbeCommand(opts->address, opts->path,
                                        std::chrono::milliseconds(opts->timeout_ms));
                  }});
}

void AddDemo(CLI::App& app, const GlobalOptions& global, Subcommands* out) {
  auto config = std::make_shared<ConfigOptions>();
  auto opts = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand(
      "demo",
      "Everything in one process: an embedded broker, the load generator and the daemon, with a "
      "live view, until Ctrl-C");
  AddConfigOptions(cmd, config.get(), /*file_required=*/false);
  cmd->add_option("--rate", opts->rate, "Events per second")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--users", opts->users, "Users")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--items", opts->items, "Items")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  cmd->add_option("--partitions", opts->partitions, "Partitions of the events topic")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--duration", opts->duration_s, "Seconds to run; 0 = until Ctrl-C")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", opts->seed, "Random seed")->capture_default_str();
  cmd->add_option("--faults", opts->faults,
                  "Share of unusual events (dead-lettered, late, forget); 0 = none")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  out->push_back(
      {cmd, WithConfig(config, global, [opts](const Config& c) { return DemoCommand(*opts, c); })});
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{
      "recsd: a streaming recommendation daemon (Kafka events in, per-user "
      "recommendation lists out).",
      "recsd"};
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions global;
  app.add_option("--log-level", global.log_level,
                 "trace, debug, info, warn, error, critical or off (default: SPDLOG_LEVEL, then "
                 "log.level of the config)");
  app.add_option("--log-format", global.log_format, "text or json (default: log.format)")
      ->check(CLI::IsMember({"text", "json"}));
  Subcommands commands;
  AddVersion(app, &commands);
  AddCheckConfig(app, &commands);
  AddPrintConfig(app, &commands);
  AddRun(app, global, &commands);
  AddReplay(app, global, &commands);
  AddBroker(app, global, &commands);
  AddLoadgen(app, global, &commands);
  AddProbe(app, &commands);
  AddDemo(app, global, &commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  for (const Subcommand& c : commands) {
    if (c.cmd->parsed()) return c.run();
  }
  return kExitUsage;
}

}  // namespace recsd::daemon
