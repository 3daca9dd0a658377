#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "daemon/run/pipeline_stats.h"
#include "daemon/run/transport.h"
#include "stream/decode_error.h"

namespace recsd::daemon {

// Why a consumed message goes to the dead-letter topic instead of being applied: the decoder's
// reason, or `key_mismatch` when the message key is not the decoded record's id. The message
// itself is sent by Outputs::DeadLetter with these as its headers.
struct Rejection {
  std::string_view reason;
  std::string detail;
};

// Nothing when the message is good; `id_of(record)` is the id its key must equal.
template <class T, class IdOf>
std::optional<Rejection> RejectionOf(const stream::DecodeResult<T>& decoded,
                                     const ConsumedMessage& msg, IdOf id_of, const char* mismatch) {
  if (!decoded) return Rejection{stream::ReasonOf(decoded.error().code), decoded.error().detail};
  if (msg.key && *msg.key != id_of(*decoded)) return Rejection{"key_mismatch", mismatch};
  return std::nullopt;
}

// The result an undecodable event counts as (recsd_events_processed_total{result}).
inline PipelineStats::Result ResultOf(stream::DecodeErrorClass c) {
  switch (c) {
    case stream::DecodeErrorClass::kDecodeError:
      return PipelineStats::Result::kDecodeError;
    case stream::DecodeErrorClass::kInvalid:
      return PipelineStats::Result::kInvalid;
    case stream::DecodeErrorClass::kUnsupportedVersion:
      return PipelineStats::Result::kUnsupportedVersion;
  }
  return PipelineStats::Result::kDlq;
}

}  // namespace recsd::daemon
