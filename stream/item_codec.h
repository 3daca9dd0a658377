#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "model/item.h"
#include "stream/decode_error.h"

namespace recsd::stream {

// Wire format v1 of the items topic (compacted, key = item id, null value = delete; the tombstone
// is handled by the consumer, never passed here):
//   {v?, item, emb?, cat?, tags?, text?, ts, available?}
//   item       id: non-empty UTF-8 string of at most 256 bytes
//   emb        float32 little-endian bytes (bin) or an array of numbers; exactly
//              `embedding_dim` finite values
//   cat        category id
//   tags       array of at most 64 ids
//   text       UTF-8 string of at most 64 KiB (title, description): input of the text embedder
//   ts         integer ms since the Unix epoch (item time)
//   available  bool, default true
// Never throws; see DecodeEvent for the common rules (v, nil, unknown and repeated keys).
DecodeResult<ItemRecord> DecodeItem(std::string_view bytes, std::size_t embedding_dim);

enum class EmbeddingEncoding { kBin, kArray };

// The msgpack encoding of `item`; `emb`, when present, as float32 bin (compact) or as an array.
std::string EncodeItem(const ItemRecord& item, EmbeddingEncoding emb = EmbeddingEncoding::kBin);

}  // namespace recsd::stream
