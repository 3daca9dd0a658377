// Runs the recsd binary as a user would and checks exit codes and output.

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bad_config.h"
#include "temp_dir.h"

namespace {

using recsd::testing::TempDir;

struct Outcome {
  int code = -1;
  std::string out;  // stdout and stderr together
};

Outcome Recsd(const std::string& args, const std::string& env = "") {
  const std::string cmd = env + " " + RECSD_BINARY + " " + args + " 2>&1";
  Outcome r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    return r;
  }
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
    r.out.append(buf.data(), n);
  }
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The whole file (empty when it cannot be read).
std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(CliTest, VersionPrintsRecsdAndDependencyVersions) {
  const Outcome r = Recsd("version");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("recsd 0.", 0), 0U) << r.out;
  for (const char* dep : {"librdkafka 2.", "eigen 3.", "boost 1.", "msgpack-cxx ", "spdlog ",
                          "prometheus-cpp ", "toml++ ", "cli11 ", "nlohmann-json "}) {
    EXPECT_NE(r.out.find(std::string("\n") + dep), std::string::npos) << dep << " in " << r.out;
  }
}

TEST(CliTest, CheckConfigNamesWrongTypeUnknownKeyAndBadDurationAndExits78) {
  TempDir dir;
  const std::string file = dir.Write("bad.toml", kThreeProblemConfig);
  const Outcome r = Recsd("check-config " + file);
  EXPECT_EQ(r.code, 78) << r.out;
  EXPECT_NE(r.out.find(file + ":2: key 'topics.events': expected a string"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(file + ":3: key 'topics.evnts': unknown key"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(file + ":6: key 'model.half_life_short': bad duration"), std::string::npos)
      << r.out;
}

TEST(CliTest, CheckConfigAcceptsTheExampleConfig) {
  const Outcome r =
      Recsd(std::string("check-config ") + RECSD_SOURCE_DIR + "/ops/recsd.example.toml");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(": ok"), std::string::npos) << r.out;
}

TEST(CliTest, CheckConfigSeesEnvironmentOverrides) {
  TempDir dir;
  const std::string file = dir.Write("ok.toml", "[log]\nlevel = \"info\"\n");
  EXPECT_EQ(Recsd("check-config " + file).code, 0);
  const Outcome r = Recsd("check-config " + file, "RECSD_LOG__LEVL=debug");
  EXPECT_EQ(r.code, 78) << r.out;
  EXPECT_NE(r.out.find("env RECSD_LOG__LEVL: key 'log.levl': unknown key"), std::string::npos)
      << r.out;
}

TEST(CliTest, PrintConfigRedactsSecrets) {
  const Outcome r =
      Recsd("print-config --set kafka.sasl.password=hunter2", "RECSD_ADMIN__TOKEN=s3cr3t-token");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("hunter2"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("s3cr3t-token"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("token = \"<redacted>\"  # env RECSD_ADMIN__TOKEN"), std::string::npos)
      << r.out;
}

// Bad numbers are usage errors, caught before anything connects.
TEST(CliTest, LoadgenAndDemoRejectBadOptionsWithExit2) {
  for (const char* args : {"loadgen --rate 0", "loadgen --users -3", "demo --partitions 0",
                           "demo --duration -1", "demo --items many"}) {
    const Outcome r = Recsd(args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.out;
  }
}

TEST(CliTest, EverySubcommandHasHelp) {
  for (const char* cmd :
       {"run", "demo", "replay", "broker", "loadgen", "check-config", "print-config", "version"}) {
    const Outcome r = Recsd(std::string(cmd) + " --help");
    EXPECT_EQ(r.code, 0) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << cmd;
  }
}

TEST(CliTest, UsageErrorsExit2) {
  EXPECT_EQ(Recsd("").code, 2);
  EXPECT_EQ(Recsd("frobnicate").code, 2);
  EXPECT_EQ(Recsd("--log-format xml version").code, 2);
}

// A replay of a directory without data: an error log record, exit 1.
std::string MissingData(const TempDir& dir) { return "replay --data " + dir.path().string(); }

TEST(CliTest, JsonLogFormatWritesJsonLines) {
  TempDir dir;
  const Outcome r = Recsd("--log-format json --log-level info " + MissingData(dir));
  EXPECT_EQ(r.code, 1);
  // Every line is one JSON object; the error is one of them.
  int errors = 0;
  for (std::size_t start = 0; start < r.out.size();) {
    const std::size_t end = r.out.find('\n', start);
    const std::string line = r.out.substr(start, end - start);
    ASSERT_TRUE(nlohmann::json::accept(line)) << line;
    const auto record = nlohmann::json::parse(line);
    if (record["msg"].get<std::string>().find("no MovieLens data") != std::string::npos) {
      ++errors;
      EXPECT_EQ(record["level"], "error");
    }
    start = end == std::string::npos ? r.out.size() : end + 1;
  }
  EXPECT_EQ(errors, 1) << r.out;
}

TEST(CliTest, SpdlogLevelFromEnvironmentAppliesAndTheFlagWins) {
  TempDir dir;
  // The missing data is logged at error level.
  const Outcome quiet = Recsd(MissingData(dir), "SPDLOG_LEVEL=critical");
  EXPECT_EQ(quiet.code, 1);
  EXPECT_EQ(quiet.out.find("no MovieLens data"), std::string::npos) << quiet.out;
  const Outcome flagged = Recsd("--log-level error " + MissingData(dir), "SPDLOG_LEVEL=critical");
  EXPECT_EQ(flagged.code, 1);
  EXPECT_NE(flagged.out.find("no MovieLens data"), std::string::npos) << flagged.out;
}

TEST(CliTest, UnknownLogLevelIsAConfigError) {
  TempDir dir;
  const Outcome r = Recsd("--log-level loud " + MissingData(dir));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("unknown log level"), std::string::npos) << r.out;
}

}  // namespace

namespace {

// A tiny MovieLens-layout data set: users who watch "1" then "2" (then "3"), so co-visitation
// predicts the next item; a quoted title with a comma; one broken ratings line.
void WriteMovieLens(const TempDir& dir) {
  dir.Write("movies.csv",
            "movieId,title,genres\n1,Alpha (1995),Drama\n2,\"Beta, The (1996)\",Drama|Comedy\n"
            "3,Gamma (2001),Comedy\n4,Delta,(no genres listed)\n");
  std::string ratings = "userId,movieId,rating,timestamp\n";
  for (int u = 0; u < 20; ++u) {
    const int t = 1000 + u * 100;
    ratings += std::to_string(u) + ",1,4.0," + std::to_string(t) + "\n";
    ratings += std::to_string(u) + ",2,3.5," + std::to_string(t + 10) + "\n";
    ratings += std::to_string(u) + ",3,5," + std::to_string(t + 20) + "\n";
  }
  ratings += "x,1,4.0,12\n";  // not an integer user id
  dir.Write("ratings.csv", ratings);
  dir.Write("tags.csv", "userId,movieId,tag,timestamp\n1,2,\"funny, dark\",5\n");
}

}  // namespace

TEST(ReplayCliTest, MovieLensReportHasTheDocumentedKeysAndLearnsCoVisits) {
  TempDir dir;
  WriteMovieLens(dir);
  const std::string report = (dir.path() / "report.json").string();
  const std::string ranks = (dir.path() / "ranks.txt").string();
  const Outcome r =
      Recsd("replay --log-level warn --data " + dir.path().string() +
            " --k 1 --only-source covisit --json-report " + report + " --ranks-file " + ranks);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("ratings.csv:62: not a userId,movieId,rating,timestamp record"),
            std::string::npos)
      << r.out;
  std::ifstream in(report);
  const auto j = nlohmann::json::parse(in);
  for (const char* key : {"events", "evaluated", "users", "items", "k", "hit_rate", "ndcg", "mrr",
                          "coverage", "events_per_second", "wall_seconds", "weights"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["events"], 60);
  EXPECT_EQ(j["users"], 20);
  EXPECT_EQ(j["items"], 4);
  EXPECT_EQ(j["k"], 1);
  EXPECT_EQ(j["rejected"], 1);
  EXPECT_EQ(j["evaluated"], 40);  // each user's first rating has no list to test against
  // From the second user on, co-visits put "2" after "1" and "3" after "2" at rank 0.
  EXPECT_EQ(j["hits"], 38);
  EXPECT_DOUBLE_EQ(j["hit_rate"].get<double>(), 38.0 / 40);
  EXPECT_DOUBLE_EQ(j["mrr"].get<double>(), 38.0 / 40);
  EXPECT_EQ(j["weights"]["covisit"], 1.0);
  EXPECT_EQ(j["weights"]["trending"], 0.0);
  EXPECT_EQ(j["only_source"], "covisit");
  // The state, its ring and its map entry (~680 bytes), but no interest vectors (2 × 4 × 64
  // bytes more): with covisit alone nothing reads them.
  EXPECT_GT(j["bytes_per_user"].get<double>(), 400.0);
  EXPECT_LT(j["bytes_per_user"].get<double>(), 900.0);
  EXPECT_DOUBLE_EQ(j["user_state_bytes"].get<double>(), j["bytes_per_user"].get<double>() * 20);
  // One rank per evaluated interaction, in replay order: user 0 (first in time) has nobody's
  // co-visits to go by, everyone after finds the next item at rank 0.
  std::ifstream rank_lines(ranks);
  std::vector<int> got;
  for (int x = 0; rank_lines >> x;) got.push_back(x);
  std::vector<int> expected(40, 0);
  expected[0] = expected[1] = -1;
  EXPECT_EQ(got, expected);
}

TEST(ReplayCliTest, InteractionsOnTheCurrentListAreClicksThatTheLearnerLearnsFrom) {
  TempDir dir;
  WriteMovieLens(dir);
  const auto run = [&](const std::string& args) {
    const std::string report = (dir.path() / "learn.json").string();
    const Outcome r = Recsd("replay --log-level warn --data " + dir.path().string() +
                            " --k 2 --json-report " + report + " " + args);
    EXPECT_EQ(r.code, 0) << r.out;
    std::ifstream in(report);
    return nlohmann::json::parse(in);
  };
  const auto on = run("--learn on --trajectory-every 25 --set learning.holdout_share=0");
  EXPECT_EQ(on["learn"], true);
  // Every hit is a click on the list the user was shown; no other interaction is one.
  EXPECT_EQ(on["clicks"], on["hits"]);
  EXPECT_GT(on["clicks"].get<int>(), 30);
  EXPECT_EQ(on["variants"]["learned"]["lists"], on["lists"]);  // all finished at the end
  EXPECT_DOUBLE_EQ(on["ctr"].get<double>(), on["clicks"].get<double>() / on["lists"].get<double>());
  EXPECT_DOUBLE_EQ(on["ctr_learned"].get<double>(), on["ctr"].get<double>());
  EXPECT_TRUE(on["ctr_holdout"].is_null());
  ASSERT_EQ(on["weight_trajectory"].size(), 4U);  // at 0, 25, 50 and the end (60 events)
  EXPECT_EQ(on["weight_trajectory"][0]["events"], 0);
  EXPECT_EQ(on["weight_trajectory"][0]["version"], 0);
  EXPECT_EQ(on["weight_trajectory"][3]["events"], 60);
  EXPECT_GT(on["weight_trajectory"][3]["version"].get<int>(), 40);
  EXPECT_NE(on["weight_trajectory"][3]["covisit"], on["weight_trajectory"][0]["covisit"]);
  EXPECT_EQ(on["guard"]["reverted"], false);

  const auto off = run("--learn off");
  EXPECT_EQ(off["learn"], false);
  EXPECT_EQ(off["clicks"], off["hits"]);
  EXPECT_EQ(off["variants"]["static"]["lists"], off["lists"]);
  EXPECT_TRUE(off["weight_trajectory"].empty());

  const Outcome both =
      Recsd("replay --data " + dir.path().string() + " --only-source covisit --learn on");
  EXPECT_EQ(both.code, 2) << both.out;  // usage
  EXPECT_NE(both.out.find("cannot --learn on"), std::string::npos) << both.out;
}

TEST(ReplayCliTest, DriftSimulationReportsPhasesBoundedByTheOracle) {
  TempDir dir;
  const auto run = [&](const std::string& name, int events) {
    const std::string report = (dir.path() / name).string();
    const Outcome r = Recsd("replay --log-level warn --simulate drift --seed 3 --events " +
                            std::to_string(events) + " --learn on --json-report " + report);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("learned/oracle"), std::string::npos) << r.out;
    std::ifstream in(report);
    return nlohmann::json::parse(in);
  };
  const auto a = run("a.json", 2000);
  ASSERT_EQ(a["phases"].size(), 4U);
  EXPECT_EQ(a["events"], 2000);
  EXPECT_EQ(a["input_format"], "simulate:drift");
  EXPECT_GT(a["clicks"].get<int>(), 0);
  for (const auto& phase : a["phases"]) {
    // The oracle list is the best for the very request the learned list served.
    EXPECT_LE(phase["ctr_learned"].get<double>(), phase["ctr_oracle"].get<double>() + 1e-12);
    EXPECT_GT(phase["learned"]["lists"].get<int>(), 100);
    EXPECT_GT(phase["holdout"]["lists"].get<int>(), 0);
    EXPECT_EQ(phase["oracle"]["lists"], phase["learned"]["lists"]);
    // and the holdout users' oracle for theirs.
    EXPECT_LE(phase["ctr_holdout"].get<double>(),
              phase["ctr_holdout_oracle"].get<double>() + 1e-12);
    EXPECT_EQ(phase["holdout_oracle"]["lists"], phase["holdout"]["lists"]);
  }
  EXPECT_TRUE(a["learner_restarts"].is_number_unsigned());
  // The weights follow the switch: the first phase's hidden favourite leads at its end.
  const auto& w1 = a["phases"][0]["learned_weights"];
  for (const char* s : {"emb_long", "covisit", "trending", "category", "fresh"}) {
    EXPECT_GT(w1["emb_short"].get<double>(), w1[s].get<double>()) << s;
  }
  // (Following the later switches takes more than 500 events a phase: benchmarks/
  // simulate_drift.sh checks them at full length.) The same seed gives the same run.
  auto b = run("b.json", 400);
  auto c = run("c.json", 400);
  for (auto* j : {&b, &c}) {
    j->erase("wall_seconds");
    j->erase("events_per_second");
  }
  EXPECT_EQ(b, c);
  const Outcome bad = Recsd("replay --simulate drift --events many");
  EXPECT_EQ(bad.code, 2) << bad.out;
}

TEST(ReplayCliTest, JsonLinesAndMsgpackInputsGiveTheSameReport) {
  TempDir dir;
  std::string items;
  for (int i = 0; i < 5; ++i) {
    items += R"({"item":"m)" + std::to_string(i) + R"(","text":"film number )" + std::to_string(i) +
             R"(","cat":"c","ts":1000})" + "\n";
  }
  std::string events;
  for (int u = 0; u < 10; ++u) {
    for (int i = 0; i < 3; ++i) {
      events += R"({"type":"view","user":"u)" + std::to_string(u) + R"(","item":"m)" +
                std::to_string(i) + R"(","ts":)" + std::to_string(100000 + u * 1000 + i * 10) +
                "}\n";
    }
  }
  events += "{\"type\":\"teleport\",\"user\":\"u1\",\"item\":\"m1\",\"ts\":5}\n";
  const std::string jl_items = dir.Write("items.jsonl", items);
  const std::string jl_events = dir.Write("events.jsonl", events);
  const std::string digests_a = (dir.path() / "digests_a").string();
  const Outcome a = Recsd("replay --log-level warn --input-format jsonl --events " + jl_events +
                          " --items " + jl_items + " --json-report - --state-digests " + digests_a);
  ASSERT_EQ(a.code, 0) << a.out;
  EXPECT_NE(a.out.find("events.jsonl:31: unknown_event_type"), std::string::npos) << a.out;
  const auto ja = nlohmann::json::parse(a.out.substr(a.out.find("{\n")));
  EXPECT_EQ(ja["events"], 30);
  EXPECT_EQ(ja["rejected"], 1);
  EXPECT_EQ(ja["evaluated"], 20);
  EXPECT_GT(ja["hits"].get<int>(), 0);
  EXPECT_EQ(ja["input_format"], "jsonl");
  // The same records as back-to-back msgpack values.
  const auto to_msgpack = [&](const std::string& lines, const std::string& name) {
    std::string bytes;
    std::istringstream in(lines);
    for (std::string line; std::getline(in, line);) {
      const auto v = nlohmann::json::to_msgpack(nlohmann::json::parse(line));
      bytes.append(v.begin(), v.end());
    }
    return dir.Write(name, bytes);
  };
  const std::string digests_b = (dir.path() / "digests_b").string();
  const Outcome b =
      Recsd("replay --log-level warn --input-format msgpack --events " +
            to_msgpack(events, "events.mp") + " --items " + to_msgpack(items, "items.mp") +
            " --json-report - --state-digests " + digests_b);
  ASSERT_EQ(b.code, 0) << b.out;
  // One "user digest" line per user, sorted; the same events in another encoding give the same.
  const std::string da = ReadFile(digests_a);
  EXPECT_EQ(std::count(da.begin(), da.end(), '\n'), 10) << da;
  EXPECT_EQ(da.rfind("u0 ", 0), 0U) << da;
  EXPECT_EQ(da.find('\n'), 3U + 16U) << da;
  EXPECT_EQ(da, ReadFile(digests_b));
  const auto jb = nlohmann::json::parse(b.out.substr(b.out.find("{\n")));
  for (const char* key : {"events", "evaluated", "hits", "hit_rate", "ndcg", "coverage", "users"}) {
    EXPECT_EQ(ja[key], jb[key]) << key;
  }
}

// A daemon applies a partition's events in log order; `--order input` replays them so, which is
// what makes a replay of a topic the oracle for a daemon's state when timestamps are out of order.
TEST(ReplayCliTest, InputOrderKeepsEventsWhereTheFileHasThem) {
  TempDir dir;
  std::string items;
  for (int i = 0; i < 4; ++i) {
    items += R"({"item":"m)" + std::to_string(i) + R"(","text":"film )" + std::to_string(i) +
             R"( of genre )" + std::to_string(i % 2) + R"(","cat":"c)" + std::to_string(i % 2) +
             R"(","ts":1000})" + "\n";
  }
  const auto view = [](int item, int ts) {
    return R"({"type":"view","user":"u0","item":"m)" + std::to_string(item) + R"(","ts":)" +
           std::to_string(ts) + "}\n";
  };
  // m2 reaches the log after m1 with an earlier timestamp (a late event).
  const std::string logged = view(0, 100000) + view(1, 300000) + view(2, 200000) + view(3, 400000);
  const std::string by_time = view(0, 100000) + view(2, 200000) + view(1, 300000) + view(3, 400000);
  const std::string items_file = dir.Write("items.jsonl", items);
  int runs = 0;
  const auto digest = [&](const std::string& events, const std::string& order) {
    const std::string name = "run" + std::to_string(++runs);
    const std::string out = (dir.path() / (name + ".digests")).string();
    const Outcome r = Recsd("replay --log-level warn --input-format jsonl --events " +
                            dir.Write(name + ".jsonl", events) + " --items " + items_file +
                            " --order " + order + " --state-digests " + out);
    EXPECT_EQ(r.code, 0) << r.out;
    return ReadFile(out);
  };
  const std::string input_order = digest(logged, "input");
  ASSERT_EQ(input_order.rfind("u0 ", 0), 0U) << input_order;
  // Sorted by time, the logged file is the time-ordered one; in input order it is not.
  EXPECT_EQ(digest(logged, "event-time"), digest(by_time, "input"));
  EXPECT_NE(input_order, digest(logged, "event-time"));
  EXPECT_EQ(digest(by_time, "event-time"), digest(by_time, "input"));
  const Outcome bad = Recsd("replay --events x --items y --input-format jsonl --order sideways");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("--order"), std::string::npos) << bad.out;
}

TEST(ReplayCliTest, BadInputsAndOptionsAreClearErrors) {
  TempDir dir;
  const Outcome missing = Recsd("replay --data " + (dir.path() / "nope").string());
  EXPECT_EQ(missing.code, 1) << missing.out;
  EXPECT_NE(missing.out.find("no MovieLens data at"), std::string::npos) << missing.out;
  WriteMovieLens(dir);
  const Outcome source = Recsd("replay --data " + dir.path().string() + " --only-source magic");
  EXPECT_EQ(source.code, 2) << source.out;
  EXPECT_NE(source.out.find("--only-source: \"magic\""), std::string::npos) << source.out;
  const Outcome weights = Recsd("replay --data " + dir.path().string() + " --weights covisit=x");
  EXPECT_EQ(weights.code, 2) << weights.out;
  EXPECT_NE(weights.out.find("\"covisit=x\" is not source=weight"), std::string::npos)
      << weights.out;
  const Outcome zero = Recsd("replay --data " + dir.path().string() +
                             " --weights emb_short=0,emb_long=0,covisit=0,sequence=0,trending=0,"
                             "category=0,fresh=0");
  EXPECT_EQ(zero.code, 2) << zero.out;
  dir.Write("cut.mp", std::string("\x82\xa4type", 6));
  const Outcome cut =
      Recsd("replay --input-format msgpack --events " + (dir.path() / "cut.mp").string() +
            " --items " + (dir.path() / "cut.mp").string());
  EXPECT_EQ(cut.code, 1) << cut.out;
  EXPECT_NE(cut.out.find("cut.mp:@0: the msgpack stream is cut or broken here"), std::string::npos)
      << cut.out;
  dir.Write("movies.csv", "id,title\n");
  const Outcome header = Recsd("replay --data " + dir.path().string());
  EXPECT_EQ(header.code, 1);
  EXPECT_NE(header.out.find("movies.csv:1: expected the header"), std::string::npos) << header.out;
}
