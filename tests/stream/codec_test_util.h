#pragma once

#include <initializer_list>
#include <ostream>
#include <string>
#include <utility>

#include "msgpack_bytes.h"
#include "stream/decode_error.h"

namespace recsd::testing {

// A msgpack map from already-encoded (key, value) pairs, in order.
inline std::string MsgMap(std::initializer_list<std::pair<std::string, std::string>> kv) {
  std::string out = Map(static_cast<std::uint32_t>(kv.size()));
  for (const auto& [k, v] : kv) {
    out += Str(k) + v;
  }
  return out;
}

// One golden rejection: the input, the expected code, and a fragment the detail must contain
// (the key it names), so a test fails if the check is removed or reports the wrong key.
struct RejectCase {
  std::string name;
  std::string bytes;
  stream::DecodeErrc code;
  std::string detail_has;
};

inline void PrintTo(const RejectCase& c, std::ostream* os) { *os << c.name; }

inline std::string CaseName(const ::testing::TestParamInfo<RejectCase>& info) {
  return info.param.name;
}

}  // namespace recsd::testing
