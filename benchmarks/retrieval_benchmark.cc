// Brute-force top-K retrieval over the catalog matrix (N items × 64 dims, float), against the
// memory-bandwidth bound measured in the same run: BM_StreamRead/N reads the same N×64 floats once
// (a plain sum, AVX2 when the CPU has it), which no scan of the matrix can beat. Ratios:
//   BM_TopN/N        / BM_StreamRead/N   one user: scores = E·u, then the top 100
//   BM_TopNBatch32/N / BM_StreamRead/N   32 users in one pass over E: the ratio is for all 32, so
//                                        the cost per user is that ratio / 32
//   BM_AnnBatch32/N  / BM_ExactBatch32/N  the catalog's nearest-neighbour index (HNSW, default
//                                        AnnOptions) against the exact scan of the same catalog:
//                                        64-dim vectors in 50 clusters, 32 users each a mix of
//                                        5 items of a cluster;
//                                        counters: recall@100 of the index against the scan
//                                        (mean over 200 users) and the index's build time
// Run: build/release/benchmarks/retrieval_benchmark (see benchmarks/README.md).

#include <chrono>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "model/catalog.h"
#include "model/retrieval.h"
#include "ratio_reporter.h"
#include "stream_read.h"

namespace {

using namespace recsd;
using namespace recsd::model;

constexpr std::size_t kDim = 64;
constexpr std::size_t kTopN = 100;

const Catalog& CatalogOf(std::size_t n) {
  static std::vector<std::pair<std::size_t, std::shared_ptr<const Catalog>>> cache;
  for (const auto& [size, c] : cache) {
    if (size == n) return *c;
  }
  std::mt19937 rng(42);
  std::normal_distribution<float> g;
  CatalogBuilder b(kDim);
  ItemRecord r;
  r.emb.resize(kDim);
  r.ts = {1};
  for (std::size_t i = 0; i < n; ++i) {
    r.item = ItemId(std::to_string(i));
    for (float& x : r.emb) x = g(rng);
    b.Upsert(r);
  }
  cache.emplace_back(n, b.Build());
  return *cache.back().second;
}

// N items in 50 clusters (item i in cluster i % 50; centre + noise of 0.7 per dimension against
// centres of 1: neighbours are mostly in the item's cluster, not all), as
// benchmarks/catalog_growth_gen.cc makes them, with the index built from 1 item on, and the build
// time.
struct Clustered {
  std::shared_ptr<const Catalog> catalog;
  std::vector<std::vector<float>> centres;
  double build_s = 0;
};

const Clustered& ClusteredOf(std::size_t n) {
  static std::vector<std::pair<std::size_t, std::unique_ptr<Clustered>>> cache;
  for (const auto& [size, c] : cache) {
    if (size == n) return *c;
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  auto out = std::make_unique<Clustered>();
  out->centres.assign(50, std::vector<float>(kDim));
  for (auto& c : out->centres) {
    for (float& x : c) x = g(rng);
  }
  AnnOptions ann;
  ann.min_items = 1;
  // ANN_LISTS and ANN_PROBES override the defaults, to measure the recall/speed trade-off.
  if (const char* lists = std::getenv("ANN_LISTS")) ann.lists = std::stoul(lists);
  if (const char* probes = std::getenv("ANN_PROBES")) ann.probes = std::stoul(probes);
  CatalogBuilder b(kDim, ann);
  ItemRecord r;
  r.emb.resize(kDim);
  r.ts = {1};
  for (std::size_t i = 0; i < n; ++i) {
    r.item = ItemId(std::to_string(i));
    const std::vector<float>& c = out->centres[i % out->centres.size()];
    for (std::size_t d = 0; d < kDim; ++d) r.emb[d] = c[d] + 0.7F * g(rng);
    b.Upsert(r);
  }
  const auto start = std::chrono::steady_clock::now();
  out->catalog = b.Build();
  out->build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  cache.emplace_back(n, std::move(out));
  return *cache.back().second;
}

// `count` users as the embedding sources see them: each the sum of 5 items of one cluster with
// weights between 0.2 and 1.2 (a user's recent items, weighted by interest and recency).
EmbeddingMatrix ClusteredUsers(const Clustered& c, std::size_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> weight(0.2F, 1.2F);
  const std::size_t clusters = c.centres.size();
  const std::size_t per_cluster = c.catalog->size() / clusters;
  EmbeddingMatrix users = EmbeddingMatrix::Zero(static_cast<Eigen::Index>(count), kDim);
  for (Eigen::Index b = 0; b < users.rows(); ++b) {
    const std::size_t cluster = rng() % clusters;
    for (int i = 0; i < 5; ++i) {
      const std::size_t row = cluster + clusters * (rng() % per_cluster);
      const std::span<const float> v = c.catalog->Embedding(row);
      const float w = weight(rng);
      for (std::size_t d = 0; d < kDim; ++d) users(b, static_cast<Eigen::Index>(d)) += w * v[d];
    }
  }
  return users;
}

// Mean recall@100 of the index path against the exact scan over 200 users.
double RecallAt100(const Clustered& c) {
  std::mt19937 rng(11);
  const EmbeddingMatrix users = ClusteredUsers(c, 200, rng);
  std::vector<std::vector<ScoredRow>> ann;
  std::vector<std::vector<ScoredRow>> exact;
  IndexedTopNBatch(*c.catalog, users, {}, {}, {}, kTopN, &ann);
  EmbeddingTopNBatch(*c.catalog, users, kTopN, &exact);
  double sum = 0;
  for (std::size_t b = 0; b < exact.size(); ++b) {
    std::size_t found = 0;
    for (const ScoredRow& e : exact[b]) {
      for (const ScoredRow& a : ann[b]) found += a.row == e.row ? 1 : 0;
    }
    sum += static_cast<double>(found) / static_cast<double>(exact[b].size());
  }
  return sum / static_cast<double>(exact.size());
}

// 32 clustered users' top-100 at a time, through the index or by the exact scan.
void ClusteredBatch32(benchmark::State& state, bool indexed) {
  const Clustered& c = ClusteredOf(static_cast<std::size_t>(state.range(0)));
  std::mt19937 rng(3);
  const EmbeddingMatrix users = ClusteredUsers(c, 32, rng);
  std::vector<std::vector<ScoredRow>> top;
  for (auto _ : state) {
    if (indexed) {
      IndexedTopNBatch(*c.catalog, users, {}, {}, {}, kTopN, &top);
    } else {
      EmbeddingTopNBatch(*c.catalog, users, kTopN, &top);
    }
    benchmark::DoNotOptimize(top.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 32));
}

void BM_ExactBatch32(benchmark::State& state) { ClusteredBatch32(state, false); }

void BM_AnnBatch32(benchmark::State& state) {
  ClusteredBatch32(state, true);
  const Clustered& c = ClusteredOf(static_cast<std::size_t>(state.range(0)));
  state.counters["recall@100"] = RecallAt100(c);
  state.counters["build_s"] = c.build_s;
  state.counters["index_MiB"] =
      static_cast<double>(c.catalog->index()->HeapBytes()) / (1024.0 * 1024.0);
}

std::vector<float> RandomUser(std::mt19937& rng) {
  std::normal_distribution<float> g;
  std::vector<float> u(kDim);
  for (float& x : u) x = g(rng);
  return u;
}

void BM_StreamRead(benchmark::State& state) {
  const Catalog& c = CatalogOf(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(recsd::bench::StreamSum(c.embeddings().data(), c.size() * kDim));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * c.size() * kDim * 4));
}

void BM_TopN(benchmark::State& state) {
  const Catalog& c = CatalogOf(static_cast<std::size_t>(state.range(0)));
  std::mt19937 rng(1);
  const std::vector<float> user = RandomUser(rng);
  std::vector<float> scores(c.size());
  std::vector<ScoredRow> top;
  for (auto _ : state) {
    EmbeddingScores(c, user, scores);
    SelectTopN(scores, c, kTopN, &top);
    benchmark::DoNotOptimize(top.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * c.size() * kDim * 4));
}

void BM_TopNBatch32(benchmark::State& state) {
  const Catalog& c = CatalogOf(static_cast<std::size_t>(state.range(0)));
  std::mt19937 rng(2);
  EmbeddingMatrix users(32, kDim);
  for (Eigen::Index b = 0; b < users.rows(); ++b) {
    const std::vector<float> u = RandomUser(rng);
    for (std::size_t d = 0; d < kDim; ++d) users(b, static_cast<Eigen::Index>(d)) = u[d];
  }
  std::vector<std::vector<ScoredRow>> top;
  for (auto _ : state) {
    EmbeddingTopNBatch(c, users, kTopN, &top);
    benchmark::DoNotOptimize(top.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 32));
}

BENCHMARK(BM_StreamRead)->Arg(10'000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_TopN)->Arg(10'000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_TopNBatch32)->Arg(10'000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_ExactBatch32)->Arg(10'000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_AnnBatch32)->Arg(10'000)->Arg(100'000)->Arg(1'000'000);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const char* n : {"10000", "100000", "1000000"}) {
    pairs.emplace_back(std::string("BM_TopN/") + n, std::string("BM_StreamRead/") + n);
    pairs.emplace_back(std::string("BM_TopNBatch32/") + n, std::string("BM_StreamRead/") + n);
    pairs.emplace_back(std::string("BM_AnnBatch32/") + n, std::string("BM_ExactBatch32/") + n);
  }
  recsd::bench::RatioReporter reporter(pairs);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
