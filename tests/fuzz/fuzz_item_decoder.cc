// libFuzzer target for DecodeItem (embedding dimension 4, so random bins can be the right size).
// Whatever it accepts must survive an encode/decode round trip unchanged, in both emb encodings.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "stream/item_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kDim = 4;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto item = recsd::stream::DecodeItem(bytes, kDim);
  if (!item.has_value()) {
    return 0;
  }
  for (auto form :
       {recsd::stream::EmbeddingEncoding::kBin, recsd::stream::EmbeddingEncoding::kArray}) {
    auto again = recsd::stream::DecodeItem(recsd::stream::EncodeItem(*item, form), kDim);
    if (!again.has_value() || !(*again == *item)) {
      __builtin_trap();
    }
  }
  return 0;
}
