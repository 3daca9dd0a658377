#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/sources/covisit.h"
#include "model/sources/embedding.h"
#include "model/sources/fresh.h"
#include "model/sources/popularity.h"
#include "model/sources/sequence.h"
#include "model/sources/source.h"

namespace recsd::model {

// Every source room's options (each room's header documents its own).
struct SourceOptions {
  EmbeddingOptions embedding;
  CovisitOptions covisit;
  SequenceOptions sequence;
  PopularityOptions popularity;
  FreshOptions fresh;
};

// The features recsd can fuse, in their canonical order (the default configuration's).
std::span<const std::string_view> KnownFeatures();
bool IsKnownFeature(std::string_view name);
// Every known feature, in the canonical order: the default configuration.
std::vector<std::string> DefaultFeatures();

// The source rooms an engine ranks with, made for a list of features: each feature is scored by
// the room that provides it, at its position in the list (the fused vector's order).
struct SourceSet {
  struct Feature {
    Source* room = nullptr;
    std::size_t local = 0;  // the feature's index among the room's features()
  };
  std::vector<std::unique_ptr<Source>> rooms;  // each room once, in the order first needed
  std::vector<Feature> features;
  std::vector<std::string> names;  // by feature
};

// The room of `set` whose share of topics.model_stats is named `source`, or null.
Source* RoomSharing(const SourceSet& set, std::string_view source);

// The rooms for `features` (known, distinct, at most kMaxSources: checked; configuration
// validates them first). `user` is the shape of the users' state; it outlives the rooms.
SourceSet MakeSources(const SourceOptions& options, std::span<const std::string> features,
                      const UserStateOptions& user);

}  // namespace recsd::model
