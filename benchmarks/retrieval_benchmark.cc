// Brute-force top-K retrieval over the catalog matrix (N items × 64 dims, float), against the
// memory-bandwidth bound measured in the same run: BM_StreamRead/N reads the same N×64 floats once
// (a plain sum, AVX2 when the CPU has it), which no scan of the matrix can beat. Ratios:
//   BM_TopN/N        / BM_StreamRead/N   one user: scores = E·u, then the top 100
//   BM_TopNBatch32/N / BM_StreamRead/N   32 users in one pass over E: the ratio is for all 32, so
//                                        the cost per user is that ratio / 32
// Run: build/release/benchmarks/retrieval_benchmark (see benchmarks/README.md).

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
  }
  recsd::bench::RatioReporter reporter(pairs);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
