#include "model/sources/registry.h"

#include <algorithm>
#include <array>

#include "model/check.h"

namespace recsd::model {
namespace {

// Which room provides each feature, and how to make that room.
enum class Room { kEmbedding, kCovisit, kSequence, kPopularity, kFresh };

struct Known {
  std::string_view feature;
  Room room;
};

constexpr std::array<Known, 7> kKnown = {{
    {"emb_short", Room::kEmbedding},
    {"emb_long", Room::kEmbedding},
    {"covisit", Room::kCovisit},
    {"sequence", Room::kSequence},
    {"trending", Room::kPopularity},
    {"category", Room::kPopularity},
    {"fresh", Room::kFresh},
}};

constexpr std::array<std::string_view, kKnown.size()> kNames = [] {
  std::array<std::string_view, kKnown.size()> names{};
  for (std::size_t i = 0; i < kKnown.size(); ++i) names[i] = kKnown[i].feature;
  return names;
}();

std::unique_ptr<Source> MakeRoom(Room room, const SourceOptions& options,
                                 const UserStateOptions& user) {
  switch (room) {
    case Room::kEmbedding:
      return std::make_unique<EmbeddingSource>(options.embedding, user);
    case Room::kCovisit:
      return std::make_unique<CovisitSource>(options.covisit);
    case Room::kSequence:
      return std::make_unique<SequenceSource>(options.sequence);
    case Room::kPopularity:
      return std::make_unique<PopularitySource>(options.popularity, user.max_categories);
    case Room::kFresh:
      return std::make_unique<FreshSource>(options.fresh);
  }
  RECSD_CHECK(false, "a room for every known feature");
  return nullptr;
}

}  // namespace

std::span<const std::string_view> KnownFeatures() { return kNames; }

bool IsKnownFeature(std::string_view name) {
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

std::vector<std::string> DefaultFeatures() {
  return std::vector<std::string>(kNames.begin(), kNames.end());
}

Source* RoomSharing(const SourceSet& set, std::string_view source) {
  for (const auto& room : set.rooms) {
    if (room->name() == source) return room.get();
  }
  return nullptr;
}

SourceSet MakeSources(const SourceOptions& options, std::span<const std::string> features,
                      const UserStateOptions& user) {
  RECSD_CHECK(!features.empty() && features.size() <= kMaxSources, "feature count");
  SourceSet set;
  std::vector<std::pair<Room, Source*>> made;
  for (const std::string& name : features) {
    const auto known = std::find_if(kKnown.begin(), kKnown.end(),
                                    [&](const Known& k) { return k.feature == name; });
    RECSD_CHECK(known != kKnown.end(), "a known feature");
    RECSD_CHECK(std::count(set.names.begin(), set.names.end(), name) == 0, "distinct features");
    auto it = std::find_if(made.begin(), made.end(),
                           [&](const auto& m) { return m.first == known->room; });
    if (it == made.end()) {
      set.rooms.push_back(MakeRoom(known->room, options, user));
      made.emplace_back(known->room, set.rooms.back().get());
      it = made.end() - 1;
    }
    const std::span<const std::string_view> local = it->second->features();
    const auto at = std::find(local.begin(), local.end(), name);
    set.features.push_back({it->second, static_cast<std::size_t>(at - local.begin())});
    set.names.push_back(name);
  }
  return set;
}

}  // namespace recsd::model
