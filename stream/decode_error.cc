#include "stream/decode_error.h"

namespace recsd::stream {

std::string_view ReasonOf(DecodeErrc code) noexcept {
  switch (code) {
    case DecodeErrc::kTruncated:
      return "truncated";
    case DecodeErrc::kTrailingBytes:
      return "trailing_bytes";
    case DecodeErrc::kMalformed:
      return "malformed";
    case DecodeErrc::kTooDeep:
      return "too_deep";
    case DecodeErrc::kTooLarge:
      return "too_large";
    case DecodeErrc::kNotAMap:
      return "not_a_map";
    case DecodeErrc::kMissingKey:
      return "missing_key";
    case DecodeErrc::kWrongType:
      return "wrong_type";
    case DecodeErrc::kDuplicateKey:
      return "duplicate_key";
    case DecodeErrc::kUnsupportedVersion:
      return "unsupported_version";
    case DecodeErrc::kUnknownEventType:
      return "unknown_event_type";
    case DecodeErrc::kBadId:
      return "bad_id";
    case DecodeErrc::kInvalidUtf8:
      return "invalid_utf8";
    case DecodeErrc::kTooManyEntries:
      return "too_many_entries";
    case DecodeErrc::kBadEmbedding:
      return "bad_embedding";
    case DecodeErrc::kNonFinite:
      return "non_finite";
    case DecodeErrc::kOutOfRange:
      return "out_of_range";
  }
  return "unknown";
}

DecodeErrorClass ClassOf(DecodeErrc code) noexcept {
  switch (code) {
    case DecodeErrc::kTruncated:
    case DecodeErrc::kTrailingBytes:
    case DecodeErrc::kMalformed:
    case DecodeErrc::kTooDeep:
    case DecodeErrc::kTooLarge:
      return DecodeErrorClass::kDecodeError;
    case DecodeErrc::kUnsupportedVersion:
      return DecodeErrorClass::kUnsupportedVersion;
    case DecodeErrc::kNotAMap:
    case DecodeErrc::kMissingKey:
    case DecodeErrc::kWrongType:
    case DecodeErrc::kDuplicateKey:
    case DecodeErrc::kUnknownEventType:
    case DecodeErrc::kBadId:
    case DecodeErrc::kInvalidUtf8:
    case DecodeErrc::kTooManyEntries:
    case DecodeErrc::kBadEmbedding:
    case DecodeErrc::kNonFinite:
    case DecodeErrc::kOutOfRange:
      return DecodeErrorClass::kInvalid;
  }
  return DecodeErrorClass::kInvalid;
}

}  // namespace recsd::stream
