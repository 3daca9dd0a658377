#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

namespace recsd::daemon {

enum class LogFormat { kText, kJson };

// Parses "text" / "json".
std::optional<LogFormat> ParseLogFormat(std::string_view text);

// Formats each record as exactly one JSON object on one line:
//   {"ts":"2026-11-22T05:30:00.123Z","level":"info","logger":"recsd","msg":"..."}
// Messages are escaped; bytes that are not valid UTF-8 become U+FFFD, so every line parses.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

// How a user id appears in a log line: as it is when raw ids are on (log.raw_ids), otherwise a
// pseudonym, "id:" and 12 hex digits of its FNV-1a 64 hash (the same on every instance and
// across restarts, so one user's lines can be followed without the id being written).
std::string LoggedId(std::string_view id);
void SetRawIdsInLogs(bool raw);

// Installs the default logger: stderr (stdout is for command output), in `format`. The level is,
// first found: `flag_level` (--log-level), SPDLOG_LEVEL from the environment, `config_level`.
// Returns false with *error set when a level name is not one of spdlog's.
bool SetUpLogging(LogFormat format, const std::string& flag_level, const std::string& config_level,
                  std::string* error);

}  // namespace recsd::daemon
