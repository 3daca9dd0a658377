// libFuzzer target for DecodeEvent. Beyond "never crashes, never throws": whatever it accepts must
// survive an encode/decode round trip unchanged.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "stream/event_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const recsd::EventTypeTable types;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto event = recsd::stream::DecodeEvent(bytes, types);
  if (!event.has_value()) {
    return 0;
  }
  auto again = recsd::stream::DecodeEvent(recsd::stream::EncodeEvent(*event, types), types);
  if (!again.has_value() || !(*again == *event)) {
    __builtin_trap();
  }
  return 0;
}
