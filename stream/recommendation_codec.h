#pragma once

#include <string>
#include <string_view>

#include "model/recommendation.h"
#include "stream/decode_error.h"

namespace recsd::stream {

// Wire format v1 of the recommendations topic (key = user id):
//   {v, user, rec, ts, event_ts, model, variant, items: [{item, score, src: {source:
//   contribution}}]} user, rec  ids; ts, event_ts  integer ms since the Unix epoch; model  unsigned
//   integer (the fusion weights version); variant  string of at most 64 bytes; items  at most
//   kMaxListItems; score and every contribution  finite numbers; src  at most 16 sources.
// Decoding never throws; the rules of DecodeEvent apply (v, nil, unknown and repeated keys).
DecodeResult<RecommendationList> DecodeRecommendationList(std::string_view bytes);

// The msgpack encoding (scores and contributions as float32).
std::string EncodeRecommendationList(const RecommendationList& list);

// A JSON rendering for people (logs, the admin API, the demo): the same keys as the msgpack form,
// numbers printed in their shortest float32 form. Ids are valid UTF-8 by construction (decoded or
// produced by recsd); anything else is replaced with U+FFFD rather than producing invalid JSON.
std::string RecommendationListToJson(const RecommendationList& list);

}  // namespace recsd::stream
