// The evaluation room's own checks: the replay's inputs, the baselines of `replay --baseline`,
// McNemar's test, and the candidate table of `replay --tune`, whose figures must be exactly a
// replay's.

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/config/config.h"
#include "daemon/config/engine_setup.h"
#include "daemon/eval/baselines.h"
#include "daemon/eval/replay.h"
#include "daemon/eval/tune.h"
#include "model/engine.h"
#include "tests/daemon/temp_dir.h"

namespace recsd::daemon {
namespace {

Event View(const std::string& user, const std::string& item, std::int64_t ts) {
  Event e;
  e.type = event_type::kView;
  e.user = UserId(user);
  e.item = ItemId(item);
  e.ts = {ts};
  return e;
}

// The items file goes straight into the input's catalog (rejects counted, nothing kept in
// `items`); an items file that cannot be read is an error, and no catalog.
TEST(ReadReplayInputTest, ItemsGoIntoTheCatalogAndAMissingFileIsAnError) {
  const LoadedConfig loaded = LoadConfig({"", {"model.embedding_dim=3"}, {}});
  ASSERT_TRUE(loaded.problems.empty());
  const model::EngineOptions engine = EngineOptionsFromConfig(loaded.config);
  recsd::testing::TempDir dir;
  ReplayOptions options;
  options.input_format = "jsonl";
  options.items = (dir.path() / "items.jsonl").string();
  options.events = (dir.path() / "events.jsonl").string();
  std::ofstream(options.items) << R"({"v":1,"item":"a","emb":[1,0,0],"ts":1})"
                               << "\n"
                               << R"({"v":1,"item":"b","emb":[1,2],"ts":1})"
                               << "\n"  // wrong dimension
                               << R"({"v":1,"item":"c","emb":[0,0,2],"ts":1})"
                               << "\n";
  std::ofstream(options.events) << R"({"v":1,"user":"u","item":"a","type":"view","ts":1})"
                                << "\n";
  const auto input = ReadReplayInput(options, loaded.config, engine);
  ASSERT_TRUE(input) << input.error();
  ASSERT_NE(input->catalog, nullptr);
  EXPECT_EQ(input->catalog->size(), 2U);
  EXPECT_TRUE(input->catalog->Find(ItemId("c")).has_value());
  EXPECT_FALSE(input->catalog->Find(ItemId("b")).has_value());
  EXPECT_TRUE(input->items.empty());
  EXPECT_EQ(input->rejected, 1U);
  EXPECT_EQ(input->events.size(), 1U);

  options.items = (dir.path() / "none.jsonl").string();
  const auto missing = ReadReplayInput(options, loaded.config, engine);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("none.jsonl: cannot open"), std::string::npos) << missing.error();
}

TEST(McNemarTest, CountsDiscordantHitsWithinTheTopK) {
  const std::vector<std::int32_t> first = {0, -1, 2, -1, 5};
  const std::vector<std::int32_t> second = {-1, -1, 1, 3, -1};
  const McNemar at10 = McNemarTest(first, second, 10);
  EXPECT_EQ(at10.first_only, 2U);   // interactions 0 and 4
  EXPECT_EQ(at10.second_only, 1U);  // interaction 3
  EXPECT_NEAR(at10.z, 1.0 / std::sqrt(3.0), 1e-12);
  EXPECT_NEAR(at10.p_two_sided, std::erfc(at10.z / std::sqrt(2.0)), 1e-12);
  const McNemar at5 = McNemarTest(first, second, 5);  // rank 5 is a miss at k = 5
  EXPECT_EQ(at5.first_only, 1U);
  EXPECT_EQ(at5.second_only, 1U);
  EXPECT_EQ(at5.z, 0.0);
  EXPECT_EQ(at5.p_two_sided, 1.0);
}

// Users a, b, c each view x then y; five others view only p (the most popular item); d views y,
// then x. Co-occurrence is symmetric, so from y it puts x first; sequential rules only know
// x → y, so from y they fall back to popularity, which puts p first and x second.
TEST(BaselineTest, CooccurrenceIsSymmetricSequentialRulesAreDirectional) {
  std::vector<Event> events;
  std::int64_t t = 0;
  for (const char* user : {"a", "b", "c"}) {
    events.push_back(View(user, "x", ++t));
    events.push_back(View(user, "y", ++t));
  }
  for (const char* user : {"e", "f", "g", "h", "i"}) events.push_back(View(user, "p", ++t));
  events.push_back(View("d", "y", ++t));
  events.push_back(View("d", "x", ++t));
  const EventTypeTable types;
  const BaselineRun cooccurrence = RunBaseline("cooccurrence", events, types, 10, 3);
  const BaselineRun rules = RunBaseline("sequential-rules", events, types, 10, 3);
  const BaselineRun popularity = RunBaseline("popularity", events, types, 10, 3);
  // Evaluated: each of a, b, c's second view and d's second view.
  ASSERT_EQ(cooccurrence.ranks.size(), 4U);
  EXPECT_EQ(cooccurrence.ranks.back(), 0);
  EXPECT_EQ(rules.ranks.back(), 1);
  EXPECT_EQ(popularity.ranks.back(), 1);
  // c's y after x: x → y is known to both item-to-item baselines from a and b.
  EXPECT_EQ(rules.ranks[2], 0);
  EXPECT_EQ(cooccurrence.ranks[2], 0);
  EXPECT_EQ(MakeBaseline("nonsense"), nullptr);
}

// A small catalog in four clusters and users who mostly stay in one: enough for every source to
// offer candidates, deterministic.
stream::ReplayInput SyntheticInput() {
  stream::ReplayInput input;
  constexpr int kItems = 40;
  for (int i = 0; i < kItems; ++i) {
    ItemRecord r;
    r.item = ItemId("i" + std::to_string(i));
    r.emb.assign(8, 0.0F);
    r.emb[static_cast<std::size_t>(i % 4)] = 1.0F;
    r.emb[4 + static_cast<std::size_t>(i % 3)] = 0.3F * static_cast<float>(i % 5);
    r.cat = "c" + std::to_string(i % 4);
    r.ts = {static_cast<std::int64_t>(i) * 1000};
    input.items.push_back(r);
  }
  std::uint64_t state = 12345;
  const auto next = [&state](std::uint64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % n;
  };
  std::int64_t t = 100'000;
  for (int step = 0; step < 20; ++step) {
    for (int u = 0; u < 30; ++u) {
      // Cluster u % 4 four times in five; items within it in a loose order.
      const std::uint64_t cluster = next(5) == 0 ? next(4) : static_cast<std::uint64_t>(u % 4);
      const std::uint64_t item = cluster + 4 * ((static_cast<std::uint64_t>(step) + next(3)) % 10);
      input.events.push_back(View("u" + std::to_string(u), "i" + std::to_string(item), t += 7));
    }
  }
  return input;
}

model::EngineOptions TestOptions() {
  model::EngineOptions o;
  o.user.dim = 8;
  o.rank.k = 10;
  o.learning.learn = false;
  o.weights.w = {1, 0.1, 1, 1, 0.1, 0.1, 0.1};
  return o;
}

// The table answers for any weights exactly what a replay with those weights measures, and the
// search's best is at least the configured weights' (and verified the same way).
TEST(CandidateTableTest, EvaluatesAnyWeightsExactlyAsAReplayDoes) {
  const EventTypeTable types;
  const model::EngineOptions options = TestOptions();
  CandidateTable table(options.features.size(), 10);
  const ReplayReport recorded = RunReplay(SyntheticInput(), options, types, 10, 0, {}, false,
                                          ReplayOrder::kEventTime, &table);
  ASSERT_GT(recorded.evaluated, 100U);
  ASSERT_GT(recorded.hits, 0U);
  EXPECT_EQ(table.interactions(), recorded.evaluated);
  const CandidateTable::Quality same = table.Evaluate(options.weights);
  EXPECT_NEAR(same.hit_rate, recorded.hit_rate, 1e-12);
  EXPECT_NEAR(same.ndcg, recorded.ndcg, 1e-12);
  EXPECT_NEAR(same.mrr, recorded.mrr, 1e-12);
  for (const model::FusionWeights& other : {model::FusionWeights{{2, 0, 0.5, 1, 0.3, 0, 0.1}, 0},
                                            model::FusionWeights{{0, 0, 0, 0, 1, 0, 0}, 0},
                                            model::FusionWeights{{0.2, 1, 0, 0, 0, 3, 0}, 0}}) {
    model::EngineOptions with = options;
    with.weights = other;
    const ReplayReport replayed = RunReplay(SyntheticInput(), with, types, 10, 0, {});
    const CandidateTable::Quality predicted = table.Evaluate(other);
    EXPECT_NEAR(predicted.hit_rate, replayed.hit_rate, 1e-12);
    EXPECT_NEAR(predicted.ndcg, replayed.ndcg, 1e-12);
    EXPECT_NEAR(predicted.mrr, replayed.mrr, 1e-12);
  }
  const TuneReport tuned = TuneWeights(table, options.weights, 7, 2, 2);
  EXPECT_GT(tuned.evaluations, 10U);
  EXPECT_GE(tuned.best_quality.hit_rate, tuned.start_quality.hit_rate);
  model::EngineOptions best = options;
  best.weights = tuned.best;
  const ReplayReport verified = RunReplay(SyntheticInput(), best, types, 10, 0, {});
  EXPECT_NEAR(verified.hit_rate, tuned.best_quality.hit_rate, 1e-12);
}

}  // namespace
}  // namespace recsd::daemon
