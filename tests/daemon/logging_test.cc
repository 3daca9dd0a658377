#include "daemon/base/logging.h"

#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <nlohmann/json.hpp>

namespace recsd::daemon {
namespace {

TEST(JsonLogFormatterTest, WritesOneValidJsonObjectPerLineWithEscapedMessage) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_formatter(std::make_unique<JsonLogFormatter>());
  spdlog::logger logger("recsd", sink);
  const std::string tricky = "quote \" backslash \\ newline \n tab \t ctrl \x01 end";
  logger.info("{}", tricky);
  logger.warn("bad utf-8 \xff\xfe here");
  logger.error("plain");

  std::istringstream lines(out.str());
  std::string line;
  std::vector<nlohmann::json> records;
  while (std::getline(lines, line)) {
    ASSERT_TRUE(nlohmann::json::accept(line)) << line;
    records.push_back(nlohmann::json::parse(line));
  }
  ASSERT_EQ(records.size(), 3U) << "a message with a newline must stay on one line";
  EXPECT_EQ(records[0]["msg"], tricky);
  EXPECT_EQ(records[0]["level"], "info");
  EXPECT_EQ(records[0]["logger"], "recsd");
  EXPECT_EQ(records[1]["level"], "warning");
  EXPECT_EQ(records[1]["msg"], "bad utf-8 \xef\xbf\xbd\xef\xbf\xbd here");
  const std::string ts = records[2]["ts"];
  EXPECT_EQ(ts.size(), std::string("2026-11-22T05:30:00.123Z").size()) << ts;
  EXPECT_EQ(ts.back(), 'Z');
}

TEST(LoggingTest, ParsesFormats) {
  EXPECT_EQ(ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml").has_value());
}

TEST(LoggingTest, FlagLevelWinsAndUnknownLevelsAreRejected) {
  // Dropping the logger SetUpLogging made leaves spdlog without a default one: the tests that
  // run after this one log through the logger it found.
  const std::shared_ptr<spdlog::logger> before = spdlog::default_logger();
  std::string error;
  ASSERT_TRUE(SetUpLogging(LogFormat::kText, "debug", "error", &error)) << error;
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::debug);
  spdlog::drop("recsd");
  ASSERT_TRUE(SetUpLogging(LogFormat::kText, "", "error", &error)) << error;
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::err);
  spdlog::drop("recsd");
  EXPECT_FALSE(SetUpLogging(LogFormat::kText, "loud", "info", &error));
  EXPECT_NE(error.find("loud"), std::string::npos);
  spdlog::set_default_logger(before);
}

}  // namespace
}  // namespace recsd::daemon
