#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/global_stats.h"
#include "model/result.h"
#include "state/user_state_codec.h"

namespace recsd::state {

// The version of the model statistics record (topics.model_stats) this build writes and reads.
inline constexpr std::int64_t kModelStatsVersion = 1;

// One partition's aggregates (model::PartitionStats) as a msgpack map, the value of its record in
// the compacted topics.model_stats (key = the partition number in decimal):
//   v                    kModelStatsVersion
//   partition, as_of     the input partition; event time (ms) the values are at
//   offset               the highest input offset whose event the values include (-1: none)
//   trending_half_life, covisit_half_life, prior_variance   what the values mean
//   popularity           [[item, value], ...] strongest first
//   covisit              [[from, to, weight], ...] strongest first
//   learner              {mean: [6 × float64], variance: [...], bias_mean, bias_variance, examples}
std::string EncodeModelStats(const model::PartitionStats& stats);

// An error names what is wrong (not msgpack, a missing or mistyped field, a non-finite or
// negative value); another version is `unsupported_version`.
Result<model::PartitionStats, StateError> DecodeModelStats(std::string_view bytes);

}  // namespace recsd::state
