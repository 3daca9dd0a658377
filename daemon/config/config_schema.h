#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The key table of recsd's configuration and the checks of a value against it; used by the
// loader (config.cc). Internal to daemon/config/.

namespace recsd::daemon::config_schema {

enum class Type { kString, kInt, kFloat, kBool, kDuration, kAnyScalar };

// One key of the schema. A key ending in "." is an open table: any key below it is accepted with
// the table's type (kafka.*, events.weights.*).
struct KeySpec {
  std::string_view key;
  Type type;
  std::string_view default_value;
  std::int64_t min = 0;  // for kInt: allowed range when min < max
  std::int64_t max = 0;
  std::vector<std::string_view> allowed = {};  // for kString: allowed values when not empty
};

// Every key recsd reads, with its type, default and allowed values.
const std::vector<KeySpec>& Schema();
// Defaults inside open tables.
std::vector<std::pair<std::string, std::string>> OpenTableDefaults();
// The spec of `key`, or null when it is not a key of the schema.
const KeySpec* FindSpec(std::string_view key);
// True when some schema key lies below `table` (so a TOML table of that name is expected).
bool IsKnownTable(std::string_view table);
// How a type is named in error messages ("an integer").
const char* TypeName(Type t);
// The shortest text that reads back as `v`.
std::string FormatDouble(double v);
// Checks `text` against the spec: the problem, or nothing (and `*canonical` its canonical form).
std::optional<std::string> ValidateText(const KeySpec& spec, const std::string& text,
                                        std::string* canonical);

}  // namespace recsd::daemon::config_schema
