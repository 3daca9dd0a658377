#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "daemon/run/pipeline_stats.h"
#include "daemon/run/transport.h"
#include "stream/decode_error.h"

namespace recsd::daemon {

// Why a consumed message goes to the dead-letter topic instead of being applied: the decoder's
// reason, `key_mismatch` when the message key is not the decoded record's id, `null_key` when
// a key is required and there is none; the worker adds `too_large` and `future_timestamp`. The
// message itself is sent by Outputs::DeadLetter with these as its headers.
struct Rejection {
  std::string_view reason;
  std::string detail;
};

// `decode(bytes)`, unless they are over `limit` (the configuration key `setting`): then
// kTooLarge (reason too_large) without decoding them.
template <class Decode>
auto DecodeBounded(std::string_view bytes, std::size_t limit, std::string_view setting,
                   Decode decode) -> decltype(decode(bytes)) {
  if (bytes.size() > limit) {
    return Fail(stream::DecodeError{
        stream::DecodeErrc::kTooLarge,
        fmt::format("{} bytes, more than {} ({})", bytes.size(), setting, limit)});
  }
  return decode(bytes);
}

// Nothing when the message is good; `id_of(record)` is the id its key must equal, and
// `key_required`: a null key is rejected too (events: a user's events must all reach the
// partition of its state, which the producer chooses by the key).
template <class T, class IdOf>
std::optional<Rejection> RejectionOf(const stream::DecodeResult<T>& decoded,
                                     const ConsumedMessage& msg, IdOf id_of, const char* mismatch,
                                     bool key_required = false) {
  if (!decoded) return Rejection{stream::ReasonOf(decoded.error().code), decoded.error().detail};
  if (key_required && !msg.key) {
    return Rejection{"null_key", "the message has no key; it must be the record's id"};
  }
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
