#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/event.h"

namespace recsd::daemon {

// Simple recommenders that `recsd replay --baseline NAME` runs under the engine's protocol, so a
// user can check on their own data that recsd helps. Independent of the engine's sources on
// purpose (a baseline that shared their code would share their bugs). Users and items are dense
// indices; each learns from interactions in replay order and ranks the top k for a user, never an
// item the user interacted with.
//   popularity        all-time interaction counts
//   cooccurrence      symmetric co-occurrence of consecutive interactions, every neighbour kept,
//                     scored from the user's last 3 items; popularity fills the rest
//   sequential-rules  a→b gains 1/gap for every later item b at gap 1..5 in a user's history;
//                     scored from the user's last 3 items with weights 1, 0.6, 0.4; popularity
//                     fills the rest
class Baseline {
 public:
  virtual ~Baseline() = default;
  virtual void Learn(std::uint32_t user, std::uint32_t item) = 0;
  // The user's top k, best first (fewer when fewer items are known).
  virtual void Rank(std::uint32_t user, std::size_t k, std::vector<std::uint32_t>* out) const = 0;
  // Forgets a user (a `forget` event): history and seen items.
  virtual void Forget(std::uint32_t user) = 0;
};

// The baselines there are, and one of them by name (null for an unknown name).
std::span<const std::string_view> BaselineNames();
std::unique_ptr<Baseline> MakeBaseline(std::string_view name);

// A baseline's prequential replay of `events` (already in replay order), as RunReplay evaluates
// the engine: before each interaction (an event whose type has a positive interest weight) of a
// user who has been served a list, where its item stands in that list's top k; then the baseline
// learns it and serves the user a new list. A `forget` erases the user.
struct BaselineRun {
  std::string name;
  double hit_rate = 0;
  double ndcg = 0;
  double mrr = 0;
  double coverage = 0;
  double wall_seconds = 0;
  std::vector<std::int32_t> ranks;  // per evaluated interaction: rank in the top k, or -1
};
BaselineRun RunBaseline(std::string_view name, std::span<const Event> events,
                        const EventTypeTable& types, std::size_t k, std::size_t catalog_size);

// McNemar's test of two rankings on the same interactions (hits paired per interaction): the
// interactions only the first hit, only the second, and the normal approximation
// z = (b − c)/√(b + c) with its two-sided p-value (z > 0: the first hits more).
struct McNemar {
  std::uint64_t first_only = 0;
  std::uint64_t second_only = 0;
  double z = 0;
  double p_two_sided = 1;
};
McNemar McNemarTest(std::span<const std::int32_t> first_ranks,
                    std::span<const std::int32_t> second_ranks, std::size_t k);

}  // namespace recsd::daemon
