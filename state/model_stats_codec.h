#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/global_stats.h"
#include "model/result.h"
#include "state/user_state_codec.h"

namespace recsd::state {

// The version of the model statistics record (topics.model_stats) this build writes and reads.
// Version 2 holds each source's share in a section of its own (version 1 had fixed popularity
// and co-visit tables).
inline constexpr std::int64_t kModelStatsVersion = 2;

// One partition's aggregates (model::PartitionStats) as a msgpack map, the value of its record in
// the compacted topics.model_stats (key = the partition number in decimal):
//   v                    kModelStatsVersion
//   partition, as_of     the input partition; event time (ms) the values are at
//   offset               the highest input offset whose event the values include (-1: none)
//   features             [name, ...] the fused features, in the learner's order
//   prior_variance       the learner's prior variance
//   sources              [{source, half_life, items, edges, vectors}, ...] one per source that
//                        shares statistics: items [[item, value], ...] strongest first; edges
//                        [[from, to, weight], ...] strongest first; vectors [[item, mass, bin of
//                        float32 little-endian], ...]
//   learner              {mean: [float64 per feature], variance: [...], bias_mean, bias_variance,
//                        examples}
std::string EncodeModelStats(const model::PartitionStats& stats);

// An error names what is wrong (not msgpack, a missing or mistyped field, a non-finite or
// negative value); another version is `unsupported_version`.
Result<model::PartitionStats, StateError> DecodeModelStats(std::string_view bytes);

}  // namespace recsd::state
