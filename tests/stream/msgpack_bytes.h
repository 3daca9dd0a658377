#pragma once

// Hand-built msgpack bytes for golden tests, written from the msgpack specification and independent
// of msgpack-cxx, so that the decoders are checked against the format, not against the library
// they are built on. Each function returns the encoding of one value; concatenate with +.

#include <cstdint>
#include <string>
#include <string_view>

namespace recsd::testing {

std::string Map(std::uint32_t n);     // fixmap / map16 / map32 header
std::string Array(std::uint32_t n);   // fixarray / array16 / array32 header
std::string Str(std::string_view s);  // fixstr / str8 / str16 / str32
std::string Bin(std::string_view b);  // bin8 / bin16 / bin32
std::string Uint(std::uint64_t v);    // smallest unsigned form
std::string Int(std::int64_t v);      // smallest form
std::string F32(float v);
std::string F64(double v);
std::string Nil();
std::string Bool(bool v);
// Headers that claim sizes without the content (for limit tests).
std::string Map32Header(std::uint32_t n);
std::string Array32Header(std::uint32_t n);
std::string Str32Header(std::uint32_t n);
std::string Bin32Header(std::uint32_t n);

}  // namespace recsd::testing
