#pragma once

// A thin, allocation-friendly msgpack writer over msgpack-cxx's packer that appends to a
// std::string, so every encoder writes keys and values the same way: the wire codecs (stream/,
// which may depend on state/) and the state codec (state/).

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

namespace recsd::state {

// The bytes of a vector of numbers, for Bin (float arrays are stored little-endian).
template <class T>
std::string_view Bytes(const std::vector<T>& v) {
  static_assert(std::endian::native == std::endian::little,
                "float arrays are stored little-endian");
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)};
}

class MsgpackWriter {
 public:
  explicit MsgpackWriter(std::string* out) : sink_{out}, packer_(sink_) {}

  MsgpackWriter& Map(std::size_t n) {
    packer_.pack_map(static_cast<std::uint32_t>(n));
    return *this;
  }
  MsgpackWriter& Array(std::size_t n) {
    packer_.pack_array(static_cast<std::uint32_t>(n));
    return *this;
  }
  MsgpackWriter& Key(std::string_view k) { return Str(k); }
  MsgpackWriter& Str(std::string_view s) {
    packer_.pack_str(static_cast<std::uint32_t>(s.size()));
    packer_.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
    return *this;
  }
  MsgpackWriter& Bin(std::string_view b) {
    packer_.pack_bin(static_cast<std::uint32_t>(b.size()));
    packer_.pack_bin_body(b.data(), static_cast<std::uint32_t>(b.size()));
    return *this;
  }
  MsgpackWriter& Int(std::int64_t v) {
    packer_.pack_int64(v);
    return *this;
  }
  MsgpackWriter& Uint(std::uint64_t v) {
    packer_.pack_uint64(v);
    return *this;
  }
  // float32 / float64 written here, not by packer::pack_float/pack_double: msgpack-cxx 4.1.3
  // writes integral values as integers (the wire format promises floats) and converts a value of
  // 2^64 to uint64_t, which is undefined behaviour (its guard compares with float(UINT64_MAX),
  // which rounds up to 2^64).
  MsgpackWriter& Float(float v) {
    char buf[5] = {static_cast<char>(0xca)};
    StoreBigEndian(std::bit_cast<std::uint32_t>(v), buf + 1, 4);
    sink_.write(buf, sizeof(buf));
    return *this;
  }
  MsgpackWriter& Double(double v) {
    char buf[9] = {static_cast<char>(0xcb)};
    StoreBigEndian(std::bit_cast<std::uint64_t>(v), buf + 1, 8);
    sink_.write(buf, sizeof(buf));
    return *this;
  }
  MsgpackWriter& Bool(bool v) {
    if (v) {
      packer_.pack_true();
    } else {
      packer_.pack_false();
    }
    return *this;
  }

 private:
  static void StoreBigEndian(std::uint64_t bits, char* out, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      out[i] = static_cast<char>((bits >> (8 * (bytes - 1 - i))) & 0xFF);
    }
  }

  struct Sink {
    std::string* out;
    void write(const char* data, std::size_t size) { out->append(data, size); }
  };
  Sink sink_;
  msgpack::packer<Sink> packer_;
};

}  // namespace recsd::state
