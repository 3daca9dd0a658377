// Runs the recsd binary as a user would and checks exit codes and output.

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

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

TEST(CliTest, SubcommandsThatAreNotBuiltSaySoAndExit2) {
  for (const char* cmd : {"demo", "replay", "broker", "loadgen"}) {
    const Outcome r = Recsd(cmd);
    EXPECT_EQ(r.code, 2) << cmd;
    EXPECT_NE(r.out.find("not built yet"), std::string::npos) << cmd << ": " << r.out;
  }
  TempDir dir;
  const Outcome run = Recsd("run --config " + dir.Write("ok.toml", ""));
  EXPECT_EQ(run.code, 2) << run.out;
  EXPECT_NE(run.out.find("not built yet"), std::string::npos) << run.out;
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

TEST(CliTest, JsonLogFormatWritesJsonLines) {
  const Outcome r = Recsd("--log-format json --log-level info demo");
  EXPECT_EQ(r.code, 2);
  // Every line is one JSON object; the refusal is one of them.
  int refusals = 0;
  for (std::size_t start = 0; start < r.out.size();) {
    const std::size_t end = r.out.find('\n', start);
    const std::string line = r.out.substr(start, end - start);
    ASSERT_TRUE(nlohmann::json::accept(line)) << line;
    const auto record = nlohmann::json::parse(line);
    if (record["msg"].get<std::string>().find("not built yet") != std::string::npos) {
      ++refusals;
      EXPECT_EQ(record["level"], "error");
    }
    start = end == std::string::npos ? r.out.size() : end + 1;
  }
  EXPECT_EQ(refusals, 1) << r.out;
}

TEST(CliTest, SpdlogLevelFromEnvironmentAppliesAndTheFlagWins) {
  // The refusal of a subcommand that is not built is logged at error level.
  const Outcome quiet = Recsd("demo", "SPDLOG_LEVEL=critical");
  EXPECT_EQ(quiet.code, 2);
  EXPECT_EQ(quiet.out.find("not built yet"), std::string::npos) << quiet.out;
  const Outcome flagged = Recsd("--log-level error demo", "SPDLOG_LEVEL=critical");
  EXPECT_EQ(flagged.code, 2);
  EXPECT_NE(flagged.out.find("not built yet"), std::string::npos) << flagged.out;
}

TEST(CliTest, UnknownLogLevelIsAConfigError) {
  const Outcome r = Recsd("--log-level loud demo");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("unknown log level"), std::string::npos) << r.out;
}

}  // namespace
