#include "msgpack_bytes.h"

#include <bit>
#include <cstring>

namespace recsd::testing {
namespace {

std::string Be(std::uint64_t v, int bytes) {
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  return out;
}

std::string Byte(unsigned v) { return std::string(1, static_cast<char>(v)); }

std::string Header(std::uint32_t n, unsigned fix, unsigned fix_max, unsigned c16, unsigned c32) {
  if (n <= fix_max) return Byte(fix | n);
  if (n <= 0xFFFF) return Byte(c16) + Be(n, 2);
  return Byte(c32) + Be(n, 4);
}

}  // namespace

std::string Map(std::uint32_t n) { return Header(n, 0x80, 15, 0xde, 0xdf); }
std::string Array(std::uint32_t n) { return Header(n, 0x90, 15, 0xdc, 0xdd); }

std::string Str(std::string_view s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  std::string h;
  if (n <= 31) {
    h = Byte(0xa0 | n);
  } else if (n <= 0xFF) {
    h = Byte(0xd9) + Be(n, 1);
  } else if (n <= 0xFFFF) {
    h = Byte(0xda) + Be(n, 2);
  } else {
    h = Byte(0xdb) + Be(n, 4);
  }
  return h + std::string(s);
}

std::string Bin(std::string_view b) {
  const auto n = static_cast<std::uint32_t>(b.size());
  std::string h;
  if (n <= 0xFF) {
    h = Byte(0xc4) + Be(n, 1);
  } else if (n <= 0xFFFF) {
    h = Byte(0xc5) + Be(n, 2);
  } else {
    h = Byte(0xc6) + Be(n, 4);
  }
  return h + std::string(b);
}

std::string Uint(std::uint64_t v) {
  if (v <= 0x7F) return Byte(static_cast<unsigned>(v));
  if (v <= 0xFF) return Byte(0xcc) + Be(v, 1);
  if (v <= 0xFFFF) return Byte(0xcd) + Be(v, 2);
  if (v <= 0xFFFFFFFF) return Byte(0xce) + Be(v, 4);
  return Byte(0xcf) + Be(v, 8);
}

std::string Int(std::int64_t v) {
  if (v >= 0) return Uint(static_cast<std::uint64_t>(v));
  if (v >= -32) return Byte(static_cast<unsigned>(v) & 0xFF);
  if (v >= -128) return Byte(0xd0) + Be(static_cast<std::uint64_t>(v), 1);
  if (v >= -32768) return Byte(0xd1) + Be(static_cast<std::uint64_t>(v), 2);
  if (v >= -2147483648LL) return Byte(0xd2) + Be(static_cast<std::uint64_t>(v), 4);
  return Byte(0xd3) + Be(static_cast<std::uint64_t>(v), 8);
}

std::string F32(float v) { return Byte(0xca) + Be(std::bit_cast<std::uint32_t>(v), 4); }
std::string F64(double v) { return Byte(0xcb) + Be(std::bit_cast<std::uint64_t>(v), 8); }
std::string Nil() { return Byte(0xc0); }
std::string Bool(bool v) { return Byte(v ? 0xc3 : 0xc2); }
std::string Map32Header(std::uint32_t n) { return Byte(0xdf) + Be(n, 4); }
std::string Array32Header(std::uint32_t n) { return Byte(0xdd) + Be(n, 4); }
std::string Str32Header(std::uint32_t n) { return Byte(0xdb) + Be(n, 4); }
std::string Bin32Header(std::uint32_t n) { return Byte(0xc6) + Be(n, 4); }

}  // namespace recsd::testing
