#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "model/result.h"

namespace recsd::stream {

// Why a payload was rejected. Each code has a stable snake_case reason (ReasonOf), written to the
// DLQ header `recsd.error.reason`; the human detail goes to `recsd.error.detail`.
enum class DecodeErrc : std::uint8_t {
  // The bytes are not one well-formed document.
  kTruncated,      // input ends inside a value
  kTrailingBytes,  // bytes after the one top-level value
  kMalformed,      // not msgpack / JSON (bad type byte, syntax error, reserved code)
  kTooDeep,        // nesting deeper than kMaxDepth
  kTooLarge,       // input, string, bin, array or map beyond the decoder's limits
  // The document is well-formed but not a valid v1 message.
  kNotAMap,             // top-level value is not a map / object
  kMissingKey,          // a required key is absent
  kWrongType,           // a key has the wrong type (e.g. a string where an integer belongs)
  kDuplicateKey,        // a known key appears twice
  kUnsupportedVersion,  // `v` is not a schema version this build reads
  kUnknownEventType,    // `type` is not in the configured event type table
  kBadId,               // a user or item id (or other id) is empty or longer than kMaxIdBytes
  kInvalidUtf8,         // an id, a string or a JSON document is not valid UTF-8
  kTooManyEntries,      // more `ctx` entries, tags, list items or sources than allowed
  kBadEmbedding,        // `emb` has the wrong dimension or byte length
  kNonFinite,           // NaN or ±Inf in a number
  kOutOfRange,          // a number outside its allowed range (timestamps, positions, ...)
};

// Stable machine-readable reason, e.g. "missing_key".
std::string_view ReasonOf(DecodeErrc code) noexcept;

// Which counter a rejection belongs to: bytes that are not a document at all, a document that is
// not a valid message, or a message of a schema version this build does not read.
enum class DecodeErrorClass : std::uint8_t { kDecodeError, kInvalid, kUnsupportedVersion };
DecodeErrorClass ClassOf(DecodeErrc code) noexcept;

struct DecodeError {
  DecodeErrc code;
  std::string detail;  // names the key and what is wrong, e.g. "key 'ts': 2e15 is after 2100"
};

template <class T>
using DecodeResult = Result<T, DecodeError>;

// Limits every decoder enforces before allocating anything sized by the input.
inline constexpr std::size_t kMaxPayloadBytes = 1 << 20;  // a whole message
inline constexpr std::size_t kMaxDepth = 8;               // nested maps/arrays, the top level is 1
inline constexpr std::size_t kMaxStringBytes = 64 * 1024;
inline constexpr std::size_t kMaxBinBytes = 64 * 1024;
inline constexpr std::size_t kMaxArrayItems = 4096;
inline constexpr std::size_t kMaxMapEntries = 256;
inline constexpr std::size_t kMaxCtxEntries = 32;
inline constexpr std::size_t kMaxCtxKeyBytes = 64;
inline constexpr std::size_t kMaxCtxValueBytes = 256;
inline constexpr std::size_t kMaxTags = 64;
inline constexpr std::size_t kMaxSources = 16;
inline constexpr std::size_t kMaxEmbeddingDim = 4096;

// Schema version this build reads and writes.
inline constexpr std::int64_t kWireVersion = 1;

}  // namespace recsd::stream
