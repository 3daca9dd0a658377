#pragma once

// Internal to stream/: a thin, allocation-friendly msgpack writer over msgpack-cxx's packer that
// appends to a std::string, so every encoder writes keys and values the same way.

#include <cstdint>
#include <string>
#include <string_view>

#include <msgpack.hpp>

namespace recsd::stream {

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
  MsgpackWriter& Float(float v) {
    packer_.pack_float(v);
    return *this;
  }
  MsgpackWriter& Double(double v) {
    packer_.pack_double(v);
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
  struct Sink {
    std::string* out;
    void write(const char* data, std::size_t size) { out->append(data, size); }
  };
  Sink sink_;
  msgpack::packer<Sink> packer_;
};

}  // namespace recsd::stream
