// The per-event and per-list costs of the model, each against a peer measured in the same run:
//   BM_ObserveEvent / BM_Axpy64x2      per-event state update of one user (two interest time
//                                      scales, category, recent ring) over its floor: the two
//                                      64-float multiply-adds every update must do
//   BM_EngineApply / BM_ObserveEvent   the engine's whole per-event path (user lookup, popularity,
//                                      co-visitation, state) over the state update alone
//   BM_FuseRank/400 / BM_SortScores/400   normalising and ranking 400 candidates (six sources,
//                                      reciprocal-rank normalisation, top 20 with contributions)
//                                      over sorting 400 floats
//   BM_EngineRefresh / BM_StreamRead10k   one user's whole refresh (six sources, fusion, list) over
//                                      one read of the 10k × 64 catalog matrix it scans
//   BM_TextEmbed / BM_HashWords        the built-in text embedder on a MovieLens-like item over
//                                      hashing the same words (its floor)
//   BM_LearnerUpdate / BM_NormalPdfCdf one online probit update of the fusion-weight learner over
//                                      the φ(t)/Φ(t) it must evaluate
//   BM_LearnerSample / BM_NormalPdfCdf one Thompson sample of the six weights, same peer
//   BM_EngineRefreshWithPeers / BM_EngineRefresh   the same refresh with the global view of
//                                      eight partitions (trending, category and co-visits from
//                                      seven others' records) over the refresh without it
//   BM_ExportStats / BM_EngineRefresh  a partition's record (1,000 items, 10,000 edges), made every
//                                      model_stats_interval, in refreshes of one user
//   BM_MergePeerStats / BM_EngineRefresh   merging eight partitions' records into the view all
//                                      of an instance's engines share (once per new record), the
//                                      same peer
//   BM_UserStateBytes/N                memory: bytes of one user's state after N events (counter
//                                      "bytes") and their ratio to two 64-float vectors ("x_floor")
//   BM_SeenFilter/N / BM_HashSetContains/N   one seen-filter test for a user with N items over a
//                                      hash set of the ids; counters: the false-positive rate
//                                      measured over 10^7 other ids ("fpr"), its bound n/2^32
//                                      ("fpr_bound") and bytes per item
// Run: build/release/benchmarks/model_benchmark (see benchmarks/README.md).

#include <memory>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include <benchmark/benchmark.h>

#include "model/engine.h"
#include "model/learner.h"
#include "model/seen_items.h"
#include "model/text_embedder.h"
#include "ratio_reporter.h"
#include "stream_read.h"

namespace {

using namespace recsd;
using namespace recsd::model;

constexpr std::size_t kDim = 64;
constexpr std::size_t kItems = 10'000;

// prefix + n, spelled so that GCC 12's -Wrestrict false positive on "x" + to_string stays quiet.
std::string Id(const char* prefix, std::size_t n) {
  std::string s(prefix);
  s.append(std::to_string(n));
  return s;
}

std::shared_ptr<const Catalog> MakeCatalog() {
  static std::shared_ptr<const Catalog> catalog = [] {
    std::mt19937 rng(7);
    std::normal_distribution<float> g;
    CatalogBuilder b(kDim);
    ItemRecord r;
    r.emb.resize(kDim);
    for (std::size_t i = 0; i < kItems; ++i) {
      r.item = ItemId(std::to_string(i));
      for (float& x : r.emb) x = g(rng);
      r.cat = Id("c", i % 20);
      r.ts = {static_cast<std::int64_t>(i) * 1000};
      b.Upsert(r);
    }
    return b.Build();
  }();
  return catalog;
}

EngineOptions Options() {
  EngineOptions o;
  o.user.dim = kDim;
  o.weights.w = {0.1, 0.1, 1, 0.1, 0.1, 0.1};
  return o;
}

void BM_Axpy64x2(benchmark::State& state) {
  std::vector<float> u(2 * kDim, 0.5F);
  std::vector<float> e(kDim, 0.25F);
  for (auto _ : state) {
    for (std::size_t j = 0; j < 2; ++j) {
      for (std::size_t d = 0; d < kDim; ++d) u[j * kDim + d] = 0.99F * u[j * kDim + d] + e[d];
    }
    benchmark::DoNotOptimize(u.data());
    benchmark::ClobberMemory();
  }
}

void BM_ObserveEvent(benchmark::State& state) {
  const auto catalog = MakeCatalog();
  UserStateOptions options;
  options.dim = kDim;
  UserState user(options);
  std::int64_t offset = 0;
  double t = 0;
  for (auto _ : state) {
    const std::size_t row = static_cast<std::size_t>(offset) % kItems;
    t += 30;
    user.Observe(offset++, t, 1.0, catalog->item(row).id, catalog->Embedding(row),
                 catalog->item(row).category);
  }
  benchmark::DoNotOptimize(user.event_count());
}

void BM_EngineApply(benchmark::State& state) {
  Engine engine(Options(), EventTypeTable());
  engine.SetCatalog(MakeCatalog());
  std::mt19937 rng(3);
  std::vector<Event> events(1 << 16);
  for (std::size_t i = 0; i < events.size(); ++i) {
    events[i].user = UserId(Id("u", rng() % 1000));
    events[i].item = ItemId(std::to_string(rng() % kItems));
  }
  std::int64_t offset = 0;
  for (auto _ : state) {
    Event& e = events[static_cast<std::size_t>(offset) % events.size()];
    e.ts = {1'700'000'000'000 + offset * 100};
    benchmark::DoNotOptimize(engine.Apply(e, {0, offset++}));
  }
}

std::vector<Candidate> Candidates(std::size_t n) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<Candidate> c(n);
  for (std::size_t i = 0; i < n; ++i) {
    c[i].row = static_cast<std::uint32_t>(i * 7 % kItems);
    for (float& x : c[i].x) x = u(rng) < 0.5F ? u(rng) : 0.0F;
  }
  return c;
}

void BM_FuseRank(benchmark::State& state) {
  const auto catalog = MakeCatalog();
  const std::vector<Candidate> raw = Candidates(static_cast<std::size_t>(state.range(0)));
  FusionWeights w;
  w.w = {0.1, 0.1, 1, 0.1, 0.1, 0.1};
  RankOptions options;
  const std::vector<std::string> names = DefaultFeatures();
  for (auto _ : state) {
    std::vector<Candidate> c = raw;
    NormaliseFeatures(&c, names.size(), Normalisation::kReciprocalRank, 100);
    benchmark::DoNotOptimize(
        Rank(c, w, names, *catalog, options, [](std::uint32_t row) { return row % 13 != 0; }));
  }
}

void BM_SortScores(benchmark::State& state) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<float> raw(static_cast<std::size_t>(state.range(0)));
  for (float& x : raw) x = u(rng);
  for (auto _ : state) {
    std::vector<float> s = raw;
    std::sort(s.begin(), s.end());
    benchmark::DoNotOptimize(s.data());
  }
}

// An engine after 20,000 events of 1,000 users over 2,000 of the items, starting at `t0`.
std::unique_ptr<Engine> BusyEngine(std::uint32_t seed, std::int64_t t0) {
  auto engine = std::make_unique<Engine>(Options(), EventTypeTable());
  engine->SetCatalog(MakeCatalog());
  std::mt19937 rng(seed);
  for (std::int64_t offset = 0; offset < 20'000; ++offset) {
    Event e;
    e.user = UserId(Id("u", rng() % 1000));
    e.item = ItemId(std::to_string(rng() % 2000));
    e.ts = {t0 + offset * 100};
    engine->Apply(e, {0, offset});
  }
  return engine;
}

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kEnd = kT0 + 20'000 * 100;
// The defaults of state.model_stats_items, _edges and _vectors.
constexpr ExportLimits kLimits{1000, 10'000, 1000};

// Seven other partitions' records (1..7) at the defaults of state.model_stats_items and _edges.
const std::vector<PartitionStats>& PeerRecords() {
  static const std::vector<PartitionStats> records = [] {
    std::vector<PartitionStats> out;
    for (std::uint32_t p = 1; p <= 7; ++p) {
      out.push_back(
          BusyEngine(100 + p, kT0)->ExportStats(static_cast<std::int32_t>(p), {kEnd}, kLimits));
    }
    return out;
  }();
  return records;
}

// The records of partitions 1..7 and `own` (partition 0's) merged.
std::shared_ptr<const PeerStats> Merge(const PartitionStats& own, const Engine& engine) {
  std::vector<const PartitionStats*> records = {&own};
  for (const PartitionStats& r : PeerRecords()) records.push_back(&r);
  return std::make_shared<const PeerStats>(records, engine.learner().prior());
}

// Recommends for the engine's users in turn after one refresh of all of them (their lists pending).
void RecommendLoop(benchmark::State& state, Engine& engine) {
  struct Drop final : ListSink {
    void Publish(RecommendationList list) override { items += list.items.size(); }
    std::size_t items = 0;
  } sink;
  engine.Refresh({kEnd}, sink);
  std::size_t user = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(engine.Recommend(UserId(Id("u", user++ % 1000)), {kEnd}));
  }
}

void BM_EngineRefresh(benchmark::State& state) {
  const auto engine = BusyEngine(5, kT0);  // 1000 users with history, popularity and co-visits
  RecommendLoop(state, *engine);
}

void BM_EngineRefreshWithPeers(benchmark::State& state) {
  const auto engine = BusyEngine(5, kT0);
  engine->SetPeerStats(Merge(engine->ExportStats(0, {kEnd}, kLimits), *engine), 0);
  RecommendLoop(state, *engine);
}

void BM_ExportStats(benchmark::State& state) {
  const auto engine = BusyEngine(5, kT0);
  std::size_t edges = 0;
  for (auto _ : state) {
    const PartitionStats record = engine->ExportStats(0, {kEnd}, kLimits);
    edges = 0;
    for (const SourceStats& share : record.sources) edges += share.edges.size();
    benchmark::DoNotOptimize(record.sources.data());
  }
  state.counters["edges"] = static_cast<double>(edges);
}

void BM_MergePeerStats(benchmark::State& state) {
  const auto engine = BusyEngine(5, kT0);
  const PartitionStats own = engine->ExportStats(0, {kEnd}, kLimits);
  for (auto _ : state) benchmark::DoNotOptimize(Merge(own, *engine));
}

// One read of the catalog matrix, as BM_StreamRead of retrieval_benchmark: the bound no scan of
// the matrix can beat.
void BM_StreamRead10k(benchmark::State& state) {
  const auto catalog = MakeCatalog();
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        recsd::bench::StreamSum(catalog->embeddings().data(), catalog->size() * kDim));
  }
}

const char* kTitle = "Star Wars: Episode IV - A New Hope (1977)";
const std::vector<std::string> kTags = {"Action",      "Adventure", "Sci-Fi",
                                        "space opera", "classic",   "George Lucas"};

void BM_TextEmbed(benchmark::State& state) {
  const HashedTextEmbedder embedder(kDim);
  std::vector<float> out(kDim);
  for (auto _ : state) {
    embedder.Embed(kTitle, kTags, "Action", out);
    benchmark::DoNotOptimize(out.data());
  }
}

void BM_HashWords(benchmark::State& state) {
  std::vector<std::string> words = {"star", "wars", "episode", "iv",
                                    "new",  "hope", "1977",    "action"};
  words.insert(words.end(), kTags.begin(), kTags.end());
  for (auto _ : state) {
    std::uint64_t h = 0;
    for (const std::string& w : words) h ^= Fnv1a64(w);
    benchmark::DoNotOptimize(h);
  }
}

// Memory, not time: a user's state after `range(0)` events, each tenth one's list kept pending
// (20 items with their features, at most 4), reported as counters against the floor of two
// 64-float interest vectors (512 bytes).
void BM_UserStateBytes(benchmark::State& state) {
  const auto catalog = MakeCatalog();
  const auto events = static_cast<std::int64_t>(state.range(0));
  std::size_t bytes = 0;
  for (auto _ : state) {
    UserStateOptions options;
    options.dim = kDim;
    UserState user(options);
    for (std::int64_t i = 0; i < events; ++i) {
      const std::size_t row = static_cast<std::size_t>(i * 37) % kItems;
      user.Observe(i, static_cast<double>(i) * 30, 1.0, catalog->item(row).id,
                   catalog->Embedding(row), catalog->item(row).category);
      if (i % 10 == 0) {
        PendingList p{
            Id("0-", static_cast<std::size_t>(i)), {i}, 1, "static", {}, {}, 6, {}, {}, -1};
        for (std::size_t k = 0; k < 20; ++k) p.items.push_back(catalog->item(k).id);
        p.features.assign(20 * 6, 0.5F);
        user.AddPending(std::move(p));
      }
    }
    bytes = user.ApproxBytes();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["x_floor"] = static_cast<double>(bytes) / (2 * kDim * sizeof(float));
}

std::vector<FeedbackExample> Examples() {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<FeedbackExample> examples(4096);
  for (FeedbackExample& e : examples) {
    for (float& x : e.x) x = u(rng);
    e.clicked = u(rng) < 0.2F;
  }
  return examples;
}

void BM_LearnerUpdate(benchmark::State& state) {
  const std::vector<FeedbackExample> examples = Examples();
  WeightLearner learner{LearnerOptions{}};
  std::size_t i = 0;
  for (auto _ : state) {
    learner.Update(examples[i++ % examples.size()]);
  }
  benchmark::DoNotOptimize(learner.version());
}

void BM_LearnerSample(benchmark::State& state) {
  WeightLearner learner{LearnerOptions{}};
  std::uint64_t seed = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(learner.Sample(seed++));
  }
}

// The special functions one update cannot avoid: the density and distribution function at t.
void BM_NormalPdfCdf(benchmark::State& state) {
  double t = -3;
  for (auto _ : state) {
    benchmark::DoNotOptimize(NormalPdf(t) / NormalCdf(t));
    t = t > 3 ? -3 : t + 0.001;
  }
}

BENCHMARK(BM_UserStateBytes)->Arg(1)->Arg(10)->Arg(1000);

// The seen filter (model/seen_items.h) of a user with range(0) items: the time of a membership
// test against a hash set of the same item ids (its peer), and, as counters, the false-positive
// rate measured over 10^7 ids that were never added against its bound n/2^32, and bytes per item.
std::vector<ItemId> SeenIds(std::size_t n, const char* prefix) {
  std::vector<ItemId> ids;
  ids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) ids.emplace_back(prefix + std::to_string(i));
  return ids;
}

void BM_SeenFilter(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  SeenItems seen;
  for (const ItemId& id : SeenIds(n, "seen-")) seen.Add(SeenItems::Fingerprint(id), n);
  const std::vector<ItemId> probes = SeenIds(4096, "probe-");
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(seen.Contains(SeenItems::Fingerprint(probes[i++ % probes.size()])));
  }
  std::size_t false_positives = 0;
  constexpr std::size_t kProbes = 10'000'000;
  for (std::size_t p = 0; p < kProbes; ++p) {
    false_positives += seen.Contains(SeenItems::Fingerprint(ItemId("other-" + std::to_string(p))));
  }
  state.counters["fpr"] = static_cast<double>(false_positives) / kProbes;
  state.counters["fpr_bound"] = static_cast<double>(n) / 4294967296.0;
  state.counters["bytes_per_item"] = static_cast<double>(seen.HeapBytes()) / static_cast<double>(n);
}

void BM_HashSetContains(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::vector<ItemId> ids = SeenIds(n, "seen-");
  const std::unordered_set<ItemId> set(ids.begin(), ids.end());
  const std::vector<ItemId> probes = SeenIds(4096, "probe-");
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(set.contains(probes[i++ % probes.size()]));
}

BENCHMARK(BM_SeenFilter)->Arg(1000)->Arg(10000);
BENCHMARK(BM_HashSetContains)->Arg(1000)->Arg(10000);
BENCHMARK(BM_LearnerUpdate);
BENCHMARK(BM_LearnerSample);
BENCHMARK(BM_NormalPdfCdf);
BENCHMARK(BM_Axpy64x2);
BENCHMARK(BM_ObserveEvent);
BENCHMARK(BM_EngineApply);
BENCHMARK(BM_FuseRank)->Arg(400);
BENCHMARK(BM_SortScores)->Arg(400);
BENCHMARK(BM_EngineRefresh);
BENCHMARK(BM_EngineRefreshWithPeers);
BENCHMARK(BM_ExportStats);
BENCHMARK(BM_MergePeerStats);
BENCHMARK(BM_StreamRead10k);
BENCHMARK(BM_TextEmbed);
BENCHMARK(BM_HashWords);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  recsd::bench::RatioReporter reporter({{"BM_ObserveEvent", "BM_Axpy64x2"},
                                        {"BM_EngineApply", "BM_ObserveEvent"},
                                        {"BM_FuseRank/400", "BM_SortScores/400"},
                                        {"BM_EngineRefresh", "BM_StreamRead10k"},
                                        {"BM_EngineRefreshWithPeers", "BM_EngineRefresh"},
                                        {"BM_ExportStats", "BM_EngineRefresh"},
                                        {"BM_MergePeerStats", "BM_EngineRefresh"},
                                        {"BM_TextEmbed", "BM_HashWords"},
                                        {"BM_LearnerUpdate", "BM_NormalPdfCdf"},
                                        {"BM_LearnerSample", "BM_NormalPdfCdf"},
                                        {"BM_SeenFilter/1000", "BM_HashSetContains/1000"},
                                        {"BM_SeenFilter/10000", "BM_HashSetContains/10000"}});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
