// libFuzzer target for DecodeModelStats (topics.model_stats records, written by other instances).
// Whatever it accepts must survive an encode/decode round trip unchanged.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/learner.h"
#include "state/model_stats_codec.h"

namespace {

bool Same(const recsd::model::PartitionStats& a, const recsd::model::PartitionStats& b) {
  return a.partition == b.partition && a.as_of == b.as_of && a.offset == b.offset &&
         a.features == b.features && a.prior_variance == b.prior_variance &&
         a.sources == b.sources && a.learner.mean == b.learner.mean &&
         a.learner.variance == b.learner.variance && a.learner.bias_mean == b.learner.bias_mean &&
         a.learner.bias_variance == b.learner.bias_variance &&
         a.learner.examples == b.learner.examples &&
         recsd::model::CovarianceOf(a.learner, a.features.size()) ==
             recsd::model::CovarianceOf(b.learner, b.features.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto stats = recsd::state::DecodeModelStats(bytes);
  if (!stats.has_value()) {
    return 0;
  }
  auto again = recsd::state::DecodeModelStats(recsd::state::EncodeModelStats(*stats));
  if (!again.has_value() || !Same(*again, *stats)) {
    __builtin_trap();
  }
  return 0;
}
