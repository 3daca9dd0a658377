#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace recsd::model {

// A published list's id (`rec` on the wire): "<partition>-<offset>" of the input event that
// triggered it, so a list repeated after a crash has the same id and a repeat is recognisable.
// Built and parsed here only.
struct ListId {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  friend bool operator==(const ListId&, const ListId&) = default;
};

inline std::string FormatListId(ListId id) {
  std::string rec = std::to_string(id.partition);
  rec.push_back('-');
  rec.append(std::to_string(id.offset));
  return rec;
}

// The id in `rec`, or nothing when it is not "<partition>-<offset>" (lists published by other
// producers, or on-demand lists, which have none).
inline std::optional<ListId> ParseListId(std::string_view rec) {
  const std::size_t dash = rec.find('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  ListId id;
  const char* end = rec.data() + dash;
  if (auto [p, ec] = std::from_chars(rec.data(), end, id.partition);
      ec != std::errc() || p != end) {
    return std::nullopt;
  }
  end = rec.data() + rec.size();
  if (auto [p, ec] = std::from_chars(rec.data() + dash + 1, end, id.offset);
      ec != std::errc() || p != end) {
    return std::nullopt;
  }
  return id;
}

}  // namespace recsd::model
