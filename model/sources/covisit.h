#pragma once

#include "model/sources/graph_source.h"

namespace recsd::model {

// `covisit`: decayed, symmetric co-occurrence of a user's nearby interactions (a→b and b→a
// alike; the item g steps before weighs 1/g), within a window of the user's clock; a candidate
// scores the summed edges from the user's latest items, the latest weighing most
// (model/sources/graph_source.h). The symmetric counterpart of `sequence`: fusion weighs how much
// "used together" counts against "comes next".
struct CovisitOptions : GraphSourceOptions {
  CovisitOptions() {
    gaps = 5;
    backward = 1.0;
    window = 3600.0;
    seeds = 10;
    recency = 0.8;
    graph.half_life = 365 * 86400.0;
    graph.max_neighbours = 128;
  }
};

class CovisitSource final : public GraphSource {
 public:
  static constexpr std::string_view kName = "covisit";
  explicit CovisitSource(const CovisitOptions& options) : GraphSource(kName, options) {}
};

}  // namespace recsd::model
