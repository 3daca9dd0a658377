#pragma once

#include <string>
#include <string_view>

#include "model/event.h"
#include "model/recommendation.h"
#include "stream/decode_error.h"

namespace recsd::stream {

// Wire format v1 of the events topic (key = user id):
//   {v?, type, user, item, ts, value?, rec?, pos?, ctx?, id?}
// as a msgpack map, or a JSON object with the same keys (first non-whitespace byte '{').
//   v      integer, default 1; any other version is kUnsupportedVersion
//   type   string, a name in `types` (kUnknownEventType otherwise)
//   user   id: non-empty UTF-8 string of at most 256 bytes
//   item   id; required for every type but `forget`, which may omit it
//   ts     integer ms since the Unix epoch, within [kMinTimestampMs, kMaxTimestampMs]
//   value  finite number (e.g. a rating)
//   rec    id of the recommendation list the user acted from
//   pos    integer position in that list, 0 <= pos < kMaxListItems
//   ctx    map of string to string, at most 32 entries (keys <= 64 bytes, values <= 256 bytes)
//   id     the producer's event id
// A nil/null value counts as absent; unknown keys are ignored; a repeated key is an error.
//
// Never throws. On success the Event is fully validated; on failure the DecodeError says which
// check failed and on which key.
DecodeResult<Event> DecodeEvent(std::string_view bytes, const EventTypeTable& types);

// The msgpack encoding of `event` (absent optional fields are omitted). `event.type` must be an id
// of `types`.
std::string EncodeEvent(const Event& event, const EventTypeTable& types);

}  // namespace recsd::stream
