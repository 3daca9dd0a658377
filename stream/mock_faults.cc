#include "stream/mock_faults.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <utility>

#include <librdkafka/rdkafka.h>

namespace recsd::stream {
namespace {

constexpr int kMaxRepeat = 10000;  // of one error in an `errors` list
constexpr int kMaxRttMs = 3600 * 1000;

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// "TEXT", quoted for a message (built by appending: GCC 12's -Wrestrict misreads
// `"\"" + std::string(...)`, GCC bug 105329).
std::string Quoted(std::string_view text) {
  std::string q;
  q.reserve(text.size() + 2);
  q += '"';
  q += text;
  q += '"';
  return q;
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])) != 0) ++i;
    const std::size_t start = i;
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])) == 0) ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

template <class Int>
bool ParseInt(std::string_view text, Int min, Int max, Int* out) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return false;
  }
  *out = value;
  return true;
}

// A Kafka error a broker can return (librdkafka's internal errors are negative: no broker sends
// them), by name or code.
int KafkaErrorCode(std::string_view name) {
  int code = 0;
  if (ParseInt(name, 1, 32767, &code)) return code;
  const rd_kafka_err_desc* descs = nullptr;
  std::size_t count = 0;
  rd_kafka_get_err_descs(&descs, &count);
  for (std::size_t i = 0; i < count; ++i) {
    if (descs[i].name != nullptr && descs[i].code > 0 && EqualsIgnoringCase(descs[i].name, name)) {
      return descs[i].code;
    }
  }
  return -1;
}

// "ERROR[*N][,ERROR[*N]...]" → codes, in order.
Result<std::vector<int>, std::string> ParseErrors(std::string_view list) {
  std::vector<int> codes;
  for (std::size_t start = 0;;) {
    const std::size_t comma = list.find(',', start);
    std::string_view item =
        list.substr(start, comma == std::string_view::npos ? comma : comma - start);
    int repeat = 1;
    if (const std::size_t star = item.find('*'); star != std::string_view::npos) {
      if (!ParseInt(item.substr(star + 1), 1, kMaxRepeat, &repeat)) {
        return Fail(Quoted(item) + ": the repeat count after '*' is 1 to " +
                    std::to_string(kMaxRepeat));
      }
      item = item.substr(0, star);
    }
    const int code = KafkaErrorCode(item);
    if (code < 0) {
      return Fail(Quoted(item) +
                  " is not a Kafka error a broker returns (a name such as "
                  "NOT_LEADER_FOR_PARTITION, or a positive code)");
    }
    codes.insert(codes.end(), static_cast<std::size_t>(repeat), code);
    if (codes.size() > static_cast<std::size_t>(kMaxRepeat)) {
      return Fail("more than " + std::to_string(kMaxRepeat) + " errors in one line");
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return codes;
}

Result<MockFault, std::string> Usage(std::string_view verb, const char* usage) {
  std::string text = "usage: ";
  text += verb;
  text += ' ';
  text += usage;
  return Fail(std::move(text));
}

}  // namespace

int KafkaApiKey(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, int>, 23> kApis = {{
      {"Produce", 0},
      {"Fetch", 1},
      {"ListOffsets", 2},
      {"Metadata", 3},
      {"OffsetCommit", 8},
      {"OffsetFetch", 9},
      {"FindCoordinator", 10},
      {"JoinGroup", 11},
      {"Heartbeat", 12},
      {"LeaveGroup", 13},
      {"SyncGroup", 14},
      {"DescribeGroups", 15},
      {"ListGroups", 16},
      {"SaslHandshake", 17},
      {"ApiVersions", 18},
      {"CreateTopics", 19},
      {"DeleteTopics", 20},
      {"InitProducerId", 22},
      {"AddPartitionsToTxn", 24},
      {"AddOffsetsToTxn", 25},
      {"EndTxn", 26},
      {"TxnOffsetCommit", 28},
      {"DescribeConfigs", 32},
  }};
  int key = 0;
  if (ParseInt(name, 0, 999, &key)) return key;
  for (const auto& [api, k] : kApis) {
    if (EqualsIgnoringCase(api, name)) return k;
  }
  return -1;
}

Result<MockFault, std::string> ParseMockFault(std::string_view line) {
  const std::vector<std::string_view> w = Words(line);
  MockFault f;
  if (w.empty() || w[0].front() == '#') return f;
  const std::string_view verb = w[0];
  const auto broker = [&](std::string_view text, int32_t min) {
    return ParseInt(text, min, int32_t{16}, &f.broker);
  };
  if (verb == "down" || verb == "up") {
    f.kind = verb == "down" ? MockFault::Kind::kDown : MockFault::Kind::kUp;
    if (w.size() != 2 || !broker(w[1], 1)) return Usage(verb, "BROKER (1..16)");
  } else if (verb == "rtt") {
    f.kind = MockFault::Kind::kRtt;
    if (w.size() != 3 || !broker(w[1], 1) || !ParseInt(w[2], 0, kMaxRttMs, &f.rtt_ms)) {
      return Usage(verb, "BROKER (1..16) MILLISECONDS (0..3600000)");
    }
  } else if (verb == "errors" || verb == "clear") {
    f.kind = verb == "errors" ? MockFault::Kind::kErrors : MockFault::Kind::kClear;
    if (w.size() != (verb == "errors" ? 3U : 2U)) {
      return Usage(verb, verb == "errors" ? "API ERROR[*N][,ERROR[*N]...]" : "API");
    }
    const int api = KafkaApiKey(w[1]);
    if (api < 0) {
      return Fail(Quoted(w[1]) +
                  " is not a Kafka API (a name such as Produce, Fetch, OffsetCommit, "
                  "JoinGroup, or a key number)");
    }
    f.api = static_cast<int16_t>(api);
    if (verb == "errors") {
      auto codes = ParseErrors(w[2]);
      if (!codes) return Fail(std::move(codes).error());
      f.errors = std::move(codes).value();
    }
  } else if (verb == "leader") {
    f.kind = MockFault::Kind::kLeader;
    if (w.size() != 4 || !ParseInt(w[2], int32_t{0}, int32_t{9999}, &f.partition) ||
        !broker(w[3], -1)) {
      return Usage(verb, "TOPIC PARTITION BROKER (-1: no leader)");
    }
    f.topic = w[1];
  } else if (verb == "coordinator") {
    f.kind = MockFault::Kind::kCoordinator;
    if (w.size() != 4 || (w[1] != "group" && w[1] != "txn") || !broker(w[3], 1)) {
      return Usage(verb, "group|txn KEY BROKER");
    }
    f.key_type = w[1] == "group" ? "group" : "transaction";
    f.key = w[2];
  } else {
    return Fail("unknown fault " + Quoted(verb) +
                " (down, up, rtt, errors, clear, leader, coordinator)");
  }
  return f;
}

}  // namespace recsd::stream
