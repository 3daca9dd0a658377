#pragma once

#include <string_view>

namespace recsd::stream {

// True when `text` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
// U+10FFFF, no truncated sequences.
bool IsValidUtf8(std::string_view text) noexcept;

}  // namespace recsd::stream
