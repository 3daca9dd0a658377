#pragma once

#include "model/sources/graph_source.h"

namespace recsd::model {

// `sequence`: what users go on to next. Directional, gap-weighted transitions a→b learned from
// each user's consecutive interactions (the item g steps before b gains 1/g), decayed with event
// time, and scored from the user's most recent items, the latest weighing most
// (model/sources/graph_source.h). Unlike `covisit` it knows that b follows a and that what comes
// two or three steps later is related too; `backward` lets b→a gain a share of a→b.
struct SequenceOptions : GraphSourceOptions {
  SequenceOptions() {
    gaps = 5;
    backward = 0.0;
    seeds = 10;
    recency = 0.8;
    graph.half_life = 365 * 86400.0;
    graph.max_neighbours = 256;
  }
};

class SequenceSource final : public GraphSource {
 public:
  static constexpr std::string_view kName = "sequence";
  explicit SequenceSource(const SequenceOptions& options) : GraphSource(kName, options) {}
};

}  // namespace recsd::model
