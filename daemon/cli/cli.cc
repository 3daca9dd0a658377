#include "daemon/cli/cli.h"

#include <cstdio>
#include <iostream>
#include <limits>
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
  return out->problems.empty();
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

  auto* version = app.add_subcommand("version", "Print recsd's version and its dependencies'");

  ConfigOptions check_opts;
  std::string check_file;
  auto* check =
      app.add_subcommand("check-config",
                         "Validate a configuration file (with environment and --set overrides); "
                         "exit 0 when valid, 78 with one line per problem when not");
  check->add_option("file", check_file, "TOML configuration file")->required();
  check->add_option("--set", check_opts.sets, "Override one key: section.key=value (repeatable)");

  ConfigOptions print_opts;
  auto* print =
      app.add_subcommand("print-config",
                         "Print the effective configuration as TOML, secrets redacted, with where "
                         "each value came from");
  AddConfigOptions(print, &print_opts, /*file_required=*/false);

  ConfigOptions run_opts;
  auto* run = app.add_subcommand(
      "run",
      "Run the daemon: consume events, keep user state, publish recommendations, until SIGTERM "
      "or SIGINT");
  AddConfigOptions(run, &run_opts, /*file_required=*/true);

  ConfigOptions replay_config;
  ReplayOptions replay_opts;
  auto* replay = app.add_subcommand(
      "replay",
      "Drive the engine from files in event-time order and report prequential quality (hit "
      "rate, NDCG, MRR, coverage at k). With no arguments: MovieLens from " +
          replay_opts.data_dir);
  AddConfigOptions(replay, &replay_config, /*file_required=*/false);
  replay->add_option("--input-format", replay_opts.input_format, "movielens, jsonl or msgpack")
      ->check(CLI::IsMember({"movielens", "jsonl", "msgpack"}))
      ->capture_default_str();
  replay
      ->add_option("--data", replay_opts.data_dir,
                   "MovieLens directory (ratings.csv, movies.csv, tags.csv)")
      ->capture_default_str();
  replay->add_option("--events", replay_opts.events,
                     "Events: ratings.csv, or v1 event records; with --simulate, how many");
  replay->add_option("--items", replay_opts.items, "Items: movies.csv, or v1 item records");
  replay->add_option("--tags", replay_opts.tags, "MovieLens tags.csv (item text)");
  replay->add_option("--k", replay_opts.k, "List positions evaluated")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  replay->add_option("--only-source", replay_opts.only_source,
                     "Rank by one source alone (a baseline): emb_short, emb_long, covisit, "
                     "trending, category or fresh");
  replay->add_option("--weights", replay_opts.weights,
                     "Fusion weights overriding fusion.weights: name=value,...");
  replay->add_option("--json-report", replay_opts.json_report,
                     "Write the report as JSON to FILE (- for stdout)");
  replay->add_option("--ranks-file", replay_opts.ranks_file,
                     "Write each evaluated interaction's rank (-1 = miss) to FILE, one per line");
  replay
      ->add_option("--learn", replay_opts.learn,
                   "Learn the fusion weights from the simulated clicks: on or off (default: "
                   "learning.enabled; --only-source implies off)")
      ->check(CLI::IsMember({"on", "off"}));
  replay
      ->add_option("--simulate", replay_opts.simulate,
                   "Instead of files, a simulated environment with known click weights that "
                   "switch (drift); --events N then counts its interest events (default 40000)")
      ->check(CLI::IsMember({"drift"}));
  replay
      ->add_option("--seed", replay_opts.seed,
                   "Seed of the simulated environment, and of --tune's random starts")
      ->capture_default_str();
  replay
      ->add_option("--order", replay_opts.order,
                   "event-time (events sorted by timestamp, ties in file order) or input (the "
                   "file's order, as a daemon applies a topic's events: the oracle for its state)")
      ->check(CLI::IsMember({"event-time", "input"}))
      ->capture_default_str();
  replay->add_option("--baseline", replay_opts.baselines,
                     "Replay a simple recommender beside the engine under the same protocol and "
                     "compare (McNemar): popularity, cooccurrence or sequential-rules; repeatable");
  replay->add_flag("--tune", replay_opts.tune,
                   "Search the static fusion weights offline (coordinate and random search on the "
                   "candidates one replay records) and print the best vector, verified by a "
                   "replay; learning off");
  replay->add_option("--state-digests", replay_opts.state_digests,
                     "Write every user's final state digest to this file (\"user digest\" lines)");
  replay
      ->add_option("--trajectory-every", replay_opts.trajectory_every,
                   "Events between two points of the report's weight_trajectory (0: events/50)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();

  ConfigOptions broker_config;
  BrokerOptions broker_opts;
  auto* broker = app.add_subcommand(
      "broker",
      "Serve librdkafka's mock Kafka cluster on loopback until SIGTERM or SIGINT, for development "
      "and tests only (never production); prints the bootstrap list as the first line of stdout");
  AddConfigOptions(broker, &broker_config, /*file_required=*/false);
  broker->add_option("--brokers", broker_opts.brokers, "Brokers in the cluster")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  broker->add_option("--topic", broker_opts.topics,
                     "Create topic name:partitions (repeatable); without any, the recsd topics of "
                     "the configuration");
  broker
      ->add_option("--partitions", broker_opts.partitions,
                   "Partitions of the default events, recommendations and changelog topics")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  broker->add_option("--bootstrap-file", broker_opts.bootstrap_file,
                     "Also write the bootstrap list to this file (removed on exit)");

  ConfigOptions loadgen_config;
  LoadgenOptions loadgen_opts;
  auto* loadgen = app.add_subcommand(
      "loadgen",
      "Produce a synthetic catalog and drifting user events, and click on served lists with a "
      "hidden preference, so the learning loop runs live");
  AddConfigOptions(loadgen, &loadgen_config, /*file_required=*/false);
  loadgen->add_option("--bootstrap", loadgen_opts.bootstrap,
                      "Kafka bootstrap servers (default: kafka.bootstrap.servers)");
  loadgen->add_option("--rate", loadgen_opts.rate, "Events per second")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  loadgen->add_option("--users", loadgen_opts.users, "Users")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000'000));
  loadgen->add_option("--items", loadgen_opts.items, "Items in the synthetic catalog")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  loadgen->add_option("--duration", loadgen_opts.duration_s, "Seconds to run; 0 = until stopped")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  loadgen->add_option("--events", loadgen_opts.events, "Stop after this many events; 0 = no limit")
      ->capture_default_str();
  loadgen->add_option("--seed", loadgen_opts.seed, "Random seed")->capture_default_str();
  loadgen
      ->add_option("--faults", loadgen_opts.faults,
                   "Share of unusual events: malformed, invalid, unsupported version, wrong "
                   "key (dead-lettered), late, forget")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  loadgen->add_flag("!--no-catalog", loadgen_opts.catalog,
                    "Do not produce the catalog (it is already there)");

  std::string probe_address = "127.0.0.1:9464";
  std::string probe_path = "/livez";
  int probe_timeout_ms = 2000;
  auto* probe = app.add_subcommand(
      "probe", "GET an admin endpoint; exit 0 when it answers 200 (container health checks)");
  probe->add_option("--address", probe_address, "host:port of the admin server")
      ->capture_default_str();
  probe->add_option("--path", probe_path, "Path to GET")->capture_default_str();
  probe->add_option("--timeout-ms", probe_timeout_ms, "Give up after this long")
      ->check(CLI::Range(1, 600'000))
      ->capture_default_str();

  ConfigOptions demo_config;
  DemoOptions demo_opts;
  auto* demo = app.add_subcommand(
      "demo",
      "Everything in one process: an embedded broker, the load generator and the daemon, with a "
      "live view, until Ctrl-C");
  AddConfigOptions(demo, &demo_config, /*file_required=*/false);
  demo->add_option("--rate", demo_opts.rate, "Events per second")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  demo->add_option("--users", demo_opts.users, "Users")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  demo->add_option("--items", demo_opts.items, "Items")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  demo->add_option("--partitions", demo_opts.partitions, "Partitions of the events topic")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  demo->add_option("--duration", demo_opts.duration_s, "Seconds to run; 0 = until Ctrl-C")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  demo->add_option("--seed", demo_opts.seed, "Random seed")->capture_default_str();
  demo->add_option("--faults", demo_opts.faults,
                   "Share of unusual events (dead-lettered, late, forget); 0 = none")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();

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

  std::string error;
  const auto setup_logging = [&](const Config* config) {
    const std::string format = !global.log_format.empty() ? global.log_format
                               : config != nullptr        ? config->log.format
                                                          : "text";
    if (!SetUpLogging(*ParseLogFormat(format), global.log_level,
                      config != nullptr ? config->log.level : "info", &error)) {
      std::cerr << "recsd: " << error << "\n";
      return false;
    }
    return true;
  };

  if (version->parsed()) {
    std::cout << VersionReport();
    return kExitOk;
  }
  if (check->parsed()) {
    LoadedConfig loaded;
    check_opts.file = check_file;
    if (!Load(check_opts, &loaded)) {
      std::cerr << check_file << ": " << loaded.problems.size() << " problem"
                << (loaded.problems.size() == 1 ? "" : "s") << "\n";
      return kExitConfig;
    }
    std::cout << check_file << ": ok\n";
    return kExitOk;
  }
  if (print->parsed()) {
    LoadedConfig loaded;
    if (!Load(print_opts, &loaded)) {
      return kExitConfig;
    }
    std::cout << RenderConfig(loaded.settings);
    return kExitOk;
  }
  if (run->parsed()) {
    LoadedConfig loaded;
    if (!Load(run_opts, &loaded)) {
      return kExitConfig;
    }
    if (!setup_logging(&loaded.config)) {
      return kExitConfig;
    }
    return RunCommand(loaded.config);
  }
  if (replay->parsed()) {
    LoadedConfig loaded;
    if (!Load(replay_config, &loaded)) {
      return kExitConfig;
    }
    if (!setup_logging(&loaded.config)) {
      return kExitConfig;
    }
    return ReplayCommand(replay_opts, loaded.config);
  }
  if (broker->parsed()) {
    LoadedConfig loaded;
    if (!Load(broker_config, &loaded)) {
      return kExitConfig;
    }
    if (!setup_logging(&loaded.config)) {
      return kExitConfig;
    }
    return BrokerCommand(broker_opts, loaded.config);
  }
  if (loadgen->parsed()) {
    LoadedConfig loaded;
    if (!Load(loadgen_config, &loaded)) {
      return kExitConfig;
    }
    if (!setup_logging(&loaded.config)) {
      return kExitConfig;
    }
    return LoadgenCommand(loadgen_opts, loaded.config);
  }
  if (probe->parsed()) {
    return ProbeCommand(probe_address, probe_path, std::chrono::milliseconds(probe_timeout_ms));
  }
  if (demo->parsed()) {
    LoadedConfig loaded;
    if (!Load(demo_config, &loaded)) {
      return kExitConfig;
    }
    if (!setup_logging(&loaded.config)) {
      return kExitConfig;
    }
    return DemoCommand(demo_opts, loaded.config);
  }
  return kExitUsage;
}

}  // namespace recsd::daemon
