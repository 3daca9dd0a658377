#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/eval/replay.h"
#include "model/engine.h"

namespace recsd::daemon {

// `recsd replay --simulate drift`: a synthetic world with a known answer, in process. Synthetic
// users consume synthetic items (interest events); after each, the engine serves the user a list
// and the simulated user examines it in order (the cascade model: Craswell et al., WSDM 2008),
// clicking item j with probability sigmoid(w*(t)·x_j + b), where x_j is the feature vector the
// engine served j with and w*(t) is a hidden weight vector that switches at known times (the
// phases). A click is sent back as a `click` event naming the list, so the engine refreshes the
// list, which the user examines again, until a list gets no click. The engine learns as a daemon
// would (its holdout users keep the static weights). Nothing in the engine can see w*: it lives
// here.
//
// Click-through rates are measured on the first list served after each interest event, as the
// expected rate under the click model, 1 − Π_j (1 − sigmoid(w*·x_j + b)) over the k positions
// (exact, where counting simulated clicks would add binomial noise; those are reported too). The
// oracle is the list the same engine, in the same state, would have served ranked by w*·x (a
// what-if ranking, Engine::Recommend with w*): the best any weights could do for that request,
// since the rate grows with each position's click probability.
struct SimulationOptions {
  std::uint64_t seed = 1;
  std::uint64_t events = 40'000;  // interest events (clicks come on top)
  std::size_t users = 1'000;
  std::size_t items = 2'000;
  std::size_t categories = 20;
  std::size_t k = 10;                  // positions a simulated user examines
  std::uint64_t trajectory_every = 0;  // events between weight_trajectory points; 0: events/50
};

// First lists after an interest event, counted from `scored_from` (10% into the phase) to its end:
// how many, how many the simulated user clicked, and the sum of their expected click rates.
struct SimulatedCounts {
  std::uint64_t lists = 0;
  std::uint64_t clicks = 0;
  double expected = 0;
  double Ctr() const { return Share(static_cast<double>(clicks)); }
  double ExpectedCtr() const { return Share(expected); }

 private:
  double Share(double x) const { return lists == 0 ? 0.0 : x / static_cast<double>(lists); }
};

struct SimulatedPhase {
  std::array<double, model::kMaxSources> w_star{};  // by feature of the engine's options
  double bias = 0;
  std::uint64_t first_event = 0;  // [first_event, end_event) of the interest events
  std::uint64_t end_event = 0;
  std::uint64_t scored_from = 0;
  SimulatedCounts learned, holdout;
  SimulatedCounts oracle;  // what-if lists for the learned users' requests (expected rates only)
  // and for the holdout users' (another 10% of the users: their rates differ from the learned
  // users' by more than learning does in a low-click phase, so holdout is compared with learned as
  // a share of its own users' oracle)
  SimulatedCounts holdout_oracle;
  std::array<double, model::kMaxSources> learned_weights{};  // ranked with, at the end
};

struct SimulationReport {
  ReplayReport replay;  // the learning engine's report, as for a replay
  std::vector<SimulatedPhase> phases;
  nlohmann::ordered_json ToJson() const;
};

// The phases of the "drift" scenario for `events` interest events: four equal phases, each
// favouring another source; w* by position in `features` (a favoured feature that is not
// configured is left out).
std::vector<SimulatedPhase> DriftPhases(std::uint64_t events,
                                        const std::vector<std::string>& features);

// Runs the simulation. `options` configures both engines (the oracle's learning is turned off).
SimulationReport RunDriftSimulation(const SimulationOptions& simulation,
                                    const model::EngineOptions& options,
                                    const EventTypeTable& types, const ReplayProgress& progress);

}  // namespace recsd::daemon
