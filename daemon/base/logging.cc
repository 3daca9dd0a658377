#include "daemon/base/logging.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>

#include <spdlog/cfg/env.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <nlohmann/json.hpp>

#include "model/text_embedder.h"

namespace recsd::daemon {
namespace {

std::string IsoTime(spdlog::log_clock::time_point tp) {
  const auto since = tp.time_since_epoch();
  const std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(since).count();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(buf, n) + "." + std::to_string(1000 + millis).substr(1) + "Z";
}

std::optional<spdlog::level::level_enum> ParseLevel(const std::string& name) {
  const spdlog::level::level_enum level = spdlog::level::from_str(name);
  // from_str maps anything unknown to "off"; only "off" itself may mean off.
  if (level == spdlog::level::off && name != "off") {
    return std::nullopt;
  }
  return level;
}

}  // namespace

namespace {
std::atomic<bool> raw_ids{false};
}  // namespace

std::string LoggedId(std::string_view id) {
  if (raw_ids.load(std::memory_order_relaxed)) return std::string(id);
  return fmt::format("id:{:012x}", model::Fnv1a64(id) >> 16);
}

void SetRawIdsInLogs(bool raw) { raw_ids.store(raw, std::memory_order_relaxed); }

std::optional<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return std::nullopt;
}

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  nlohmann::ordered_json line;
  line["ts"] = IsoTime(msg.time);
  const auto level = spdlog::level::to_string_view(msg.level);
  line["level"] = std::string(level.data(), level.size());
  line["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
  line["msg"] = std::string(msg.payload.data(), msg.payload.size());
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  dest.append(text.data(), text.data() + text.size());
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>();
}

bool SetUpLogging(LogFormat format, const std::string& flag_level, const std::string& config_level,
                  std::string* error) {
  std::string name = config_level;
  // Start-up only, before any thread exists.
  if (const char* env = std::getenv("SPDLOG_LEVEL");  // NOLINT(concurrency-mt-unsafe)
      env != nullptr && *env != '\0') {
    name = env;
  }
  if (!flag_level.empty()) {
    name = flag_level;
  }
  const std::optional<spdlog::level::level_enum> level = ParseLevel(name);
  if (!level) {
    *error = "unknown log level \"" + name + "\" (trace, debug, info, warn, error, critical, off)";
    return false;
  }
  auto logger = spdlog::stderr_logger_mt("recsd");
  if (format == LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonLogFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(*level);
  spdlog::set_default_logger(std::move(logger));
  return true;
}

}  // namespace recsd::daemon
