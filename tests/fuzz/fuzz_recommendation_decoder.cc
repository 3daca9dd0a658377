// libFuzzer target for DecodeRecommendationList. Whatever it accepts must survive a msgpack round
// trip unchanged, and its display JSON must decode to the same list.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "stream/recommendation_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto list = recsd::stream::DecodeRecommendationList(bytes);
  if (!list.has_value()) {
    return 0;
  }
  auto again =
      recsd::stream::DecodeRecommendationList(recsd::stream::EncodeRecommendationList(*list));
  if (!again.has_value() || !(*again == *list)) {
    __builtin_trap();
  }
  auto from_json =
      recsd::stream::DecodeRecommendationList(recsd::stream::RecommendationListToJson(*list));
  if (!from_json.has_value() || !(*from_json == *list)) {
    __builtin_trap();
  }
  return 0;
}
