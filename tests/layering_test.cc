// Enforces the module graph of ARCHITECTURE.md on the source tree: each module's files may include
// only the headers of the modules and libraries it is allowed to depend on. model/ in particular
// stays pure: no Kafka, Asio, Beast, msgpack, spdlog or prometheus, no other recsd module.

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

namespace fs = std::filesystem;

const std::set<std::string> kModules = {"model", "state", "stream", "metrics", "daemon"};

// Third-party include prefixes that are not allowed in a module (the standard library and the
// module's own allowed dependencies pass).
const std::vector<std::string> kThirdParty = {
    "librdkafka/", "rdkafka", "boost/",    "msgpack", "spdlog/", "fmt/",   "prometheus/",
    "toml++/",     "CLI/",    "nlohmann/", "Eigen/",  "eigen3/", "gtest/", "benchmark/"};

struct Rule {
  std::set<std::string> modules;      // recsd modules it may include
  std::set<std::string> third_party;  // allowed third-party prefixes
};

const std::map<std::string, Rule>& Rules() {
  static const std::map<std::string, Rule> rules = {
      {"model", {{}, {"Eigen/"}}},
      {"state", {{"model"}, {"msgpack"}}},
      {"stream", {{"model", "state"}, {"librdkafka/", "rdkafka", "msgpack", "nlohmann/"}}},
      {"metrics", {{}, {"prometheus/"}}},
      {"daemon",
       {{"model", "state", "stream", "metrics"},
        {"librdkafka/", "rdkafka", "boost/", "msgpack", "spdlog/", "fmt/", "prometheus/", "toml++/",
         "CLI/", "nlohmann/", "Eigen/"}}},
  };
  return rules;
}

// The violations in one file's text, as "include <x>" strings.
std::vector<std::string> Violations(const std::string& module, const std::string& text) {
  static const std::regex include_re(R"re(^\s*#\s*include\s*[<"]([^>"]+)[>"])re");
  const Rule& rule = Rules().at(module);
  std::vector<std::string> bad;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, include_re)) {
      continue;
    }
    const std::string header = m[1];
    const std::string first = header.substr(0, header.find('/'));
    if (header.find('/') != std::string::npos && kModules.count(first) != 0) {
      if (first != module && rule.modules.count(first) == 0) {
        bad.push_back(header);
      }
      continue;
    }
    for (const std::string& prefix : kThirdParty) {
      if (header.rfind(prefix, 0) == 0) {
        bool allowed = false;
        for (const std::string& ok : rule.third_party) {
          allowed = allowed || header.rfind(ok, 0) == 0;
        }
        if (!allowed) {
          bad.push_back(header);
        }
        break;
      }
    }
  }
  return bad;
}

TEST(LayeringTest, CheckerCatchesForbiddenIncludes) {
  // The checker itself must be able to fail.
  EXPECT_EQ(Violations("model", "#include <librdkafka/rdkafka.h>\n").size(), 1U);
  EXPECT_EQ(Violations("model", "#include <msgpack.hpp>\n").size(), 1U);
  EXPECT_EQ(Violations("model", "  #  include <spdlog/spdlog.h>\n").size(), 1U);
  EXPECT_EQ(Violations("model", "#include <boost/asio.hpp>\n").size(), 1U);
  EXPECT_EQ(Violations("model", "#include <boost/beast/http.hpp>\n").size(), 1U);
  EXPECT_EQ(Violations("model", "#include <prometheus/counter.h>\n").size(), 1U);
  EXPECT_EQ(Violations("model", "#include \"stream/event_codec.h\"\n").size(), 1U);
  EXPECT_EQ(Violations("model", "#include \"state/user_store.h\"\n").size(), 1U);
  EXPECT_EQ(Violations("stream", "#include \"daemon/config/config.h\"\n").size(), 1U);
  EXPECT_TRUE(Violations("model",
                         "#include <Eigen/Dense>\n#include <vector>\n"
                         "#include \"model/event.h\"\n")
                  .empty());
  EXPECT_TRUE(Violations("stream", "#include \"model/event.h\"\n#include <msgpack.hpp>\n").empty());
}

TEST(LayeringTest, EveryModuleIncludesOnlyWhatItMayDependOn) {
  const fs::path root = RECSD_SOURCE_DIR;
  std::size_t files = 0;
  for (const auto& [module, rule] : Rules()) {
    for (const auto& entry : fs::recursive_directory_iterator(root / module)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cc") {
        continue;
      }
      std::ifstream in(entry.path());
      const std::string text((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
      ++files;
      for (const std::string& bad : Violations(module, text)) {
        ADD_FAILURE() << entry.path().lexically_relative(root).string() << " includes " << bad
                      << ", which module '" << module << "' may not depend on";
      }
    }
  }
  EXPECT_GT(files, 10U) << "the source tree was not found under " << root;
}

// The rooms of daemon/: each may include the rooms below it, never one above (base is the
// floor; cli, which dispatches to every command, the roof).
const std::map<std::string, std::set<std::string>>& DaemonRooms() {
  static const std::map<std::string, std::set<std::string>> rooms = {
      {"base", {}},
      {"config", {"base"}},
      {"run", {"base", "config"}},
      {"admin", {"base", "config", "run"}},
      {"eval", {"base", "config"}},
      {"devtools", {"base", "config", "run", "admin"}},
      {"cli", {"base", "config", "run", "admin", "eval", "devtools"}},
  };
  return rooms;
}

// The daemon rooms that `text`, a file of room `room`, includes but may not.
std::vector<std::string> RoomViolations(const std::string& room, const std::string& text) {
  static const std::regex include_re(R"re(^\s*#\s*include\s*"daemon/([a-z_]+)/)re");
  const std::set<std::string>& allowed = DaemonRooms().at(room);
  std::vector<std::string> bad;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_search(line, m, include_re) && m[1] != room && allowed.count(m[1]) == 0) {
      bad.push_back(m[1]);
    }
  }
  return bad;
}

TEST(LayeringTest, RoomCheckerCatchesAnIncludeThatPointsUp) {
  EXPECT_EQ(RoomViolations("base", "#include \"daemon/config/config.h\"\n").size(), 1U);
  EXPECT_EQ(RoomViolations("run", "#include \"daemon/admin/admin_api.h\"\n").size(), 1U);
  EXPECT_TRUE(RoomViolations("admin",
                             "#include \"daemon/run/pipeline.h\"\n"
                             "#include \"daemon/admin/admin_server.h\"\n")
                  .empty());
}

TEST(LayeringTest, EveryDaemonRoomIncludesOnlyTheRoomsBelowIt) {
  const fs::path daemon = fs::path(RECSD_SOURCE_DIR) / "daemon";
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(daemon)) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".h" && ext != ".cc") continue;
    const fs::path relative = entry.path().lexically_relative(daemon);
    const std::string room = relative.begin()->string();
    ASSERT_NE(relative.begin(), relative.end());
    if (std::next(relative.begin()) == relative.end()) {
      ADD_FAILURE() << "daemon/" << room << " is in no room";
      continue;
    }
    ASSERT_EQ(DaemonRooms().count(room), 1U) << "daemon/" << room << " is not a known room";
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ++files;
    for (const std::string& bad : RoomViolations(room, text)) {
      ADD_FAILURE() << "daemon/" << relative.string() << " includes daemon/" << bad
                    << "/, a room above " << room;
    }
  }
  EXPECT_GT(files, 20U) << "the daemon rooms were not found under " << daemon;
}

// The transport seam: in daemon/run/, only run/kafka/ speaks librdkafka; the worker, dispatcher
// and outputs see the Transport interface, so tests/daemon/worker_test.cc can drive them.
bool TalksToKafka(const std::string& text) {
  static const std::regex kafka_re(R"re(^\s*#\s*include\s*[<"](librdkafka/|stream/kafka\.h))re");
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (std::regex_search(line, kafka_re)) return true;
  }
  return false;
}

TEST(LayeringTest, KafkaCheckerCatchesAKafkaInclude) {
  EXPECT_TRUE(TalksToKafka("#include <librdkafka/rdkafka.h>\n"));
  EXPECT_TRUE(TalksToKafka("#include \"stream/kafka.h\"\n"));
  EXPECT_FALSE(
      TalksToKafka("#include \"stream/kafka_stats.h\"\n#include \"daemon/run/transport.h\"\n"));
}

TEST(LayeringTest, OnlyRunKafkaTalksToLibrdkafkaInTheRunRoom) {
  const fs::path run = fs::path(RECSD_SOURCE_DIR) / "daemon" / "run";
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(run)) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".h" && ext != ".cc") continue;
    const fs::path relative = entry.path().lexically_relative(run);
    if (relative.begin()->string() == "kafka") continue;
    ++files;
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_FALSE(TalksToKafka(text))
        << "daemon/run/" << relative.string() << " includes librdkafka: only run/kafka/ may";
  }
  EXPECT_GT(files, 10U) << "daemon/run/ was not found under " << run;
}

}  // namespace
