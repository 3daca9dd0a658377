#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/catalog.h"
#include "model/ids.h"
#include "model/result.h"
#include "model/user_state.h"

namespace recsd::state {

// The version of the user state record this build writes, and the oldest it reads. A record of
// another version is rejected with an error naming both (never guessed at). Version 2 added
// `seen`; a version 1 record is read with the items of its `recent` ring as the seen set.
inline constexpr std::int64_t kStateVersion = 2;
inline constexpr std::int64_t kOldestStateVersion = 1;

// One user's state as recsd keeps it in the changelog and in snapshots: a msgpack map
//   v            kStateVersion
//   user         the user id
//   clock, started, masses (float64 per interest component), vectors (bin: float32
//                little-endian, components × dim)                the decayed interest
//   cats         [[category name, affinity], ...]   names, not catalog ids: ids are interned in
//                                                    the order items are read and may differ
//   recent       [[item, clock time, interest weight], ...] oldest first (version 1: no weight,
//                read as 1)
//   seen         bin: uint32 little-endian, ascending: the fingerprints of every item the user
//                interacted with (model/seen_items.h)
//   pending      published lists awaiting feedback ({rec, shown, model, variant, segment, items,
//                fdim, features (bin float32), clicked, max_shown, weights (bin float32),
//                event_ts})
//   last_offset, events
// Categories the decoding catalog does not know are dropped (their items are gone).
std::string EncodeUserState(const UserId& user, const model::UserStateParts& state,
                            const model::Catalog& catalog);

// Why a record did not decode; `unsupported_version` when it is a well-formed record of another
// version (written by another recsd: not to be dropped as if it were corrupt).
struct StateError {
  std::string message;
  bool unsupported_version = false;
};

struct DecodedUserState {
  UserId user;
  model::UserStateParts state;
};
// An error names what is wrong: not msgpack, a missing or mistyped field, another version.
Result<DecodedUserState, StateError> DecodeUserState(std::string_view bytes,
                                                     const model::Catalog& catalog);

// 16 hex digits: FNV-1a 64 of the canonical encoding of everything the user's events determine:
// the record above without `pending` (its contents depend on when lists were published) and
// without `last_offset` (a position in one topic, not content: a replay from a file numbers
// events differently). Equal digests mean equal state, whatever path (live, restored, replayed)
// led there.
std::string StateDigest(const UserId& user, const model::UserStateParts& state,
                        const model::Catalog& catalog);

}  // namespace recsd::state
