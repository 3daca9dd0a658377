#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/ids.h"

namespace recsd {

// A catalog record as published on the items topic (see stream/item_codec.h for the wire form).
// A deleted item is not an ItemRecord: it is a tombstone (null value) on the topic.
struct ItemRecord {
  ItemId item;
  std::vector<float> emb;          // empty when the producer sent none; else the configured dim
  std::optional<std::string> cat;  // category
  std::vector<std::string> tags;
  std::optional<std::string> text;  // title and description, input of the built-in text embedder
  TimestampMs ts;                   // item time (publication), drives the `fresh` source
  bool available = true;

  friend bool operator==(const ItemRecord&, const ItemRecord&) = default;
};

}  // namespace recsd
