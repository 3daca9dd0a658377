// Cost of the v1 wire codecs, each against a peer measured in the same run:
//   - DecodeEvent (msgpack) against msgpack-cxx's bare unpack of the same bytes under the same
//     limits: the ratio is the price of recsd's validation (types, ids, UTF-8, ranges) and of
//     building the Event.
//   - DecodeEvent (JSON) against DecodeEvent (msgpack): the price of accepting JSON.
//   - EncodeRecommendationList (20 items, 6 sources each) against a bare msgpack-cxx pack of the
//     same structure into an sbuffer.
//   - RecommendationListToJson against EncodeRecommendationList: the display path's cost.
//   - DecodeModelStats of a full record (state.model_stats_items = 1,000 items,
//     state.model_stats_edges = 10,000 edges) against msgpack-cxx's bare unpack of its bytes;
//     counter "bytes": the record's size on topics.model_stats.
// Run: build/release/benchmarks/codec_benchmark (see benchmarks/README.md).

#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include "ratio_reporter.h"
#include "state/model_stats_codec.h"
#include "stream/event_codec.h"
#include "stream/recommendation_codec.h"

namespace {

using namespace recsd;

const EventTypeTable& Types() {
  static const EventTypeTable types;
  return types;
}

Event SampleEvent() {
  Event e;
  e.type = event_type::kClick;
  e.user = UserId("user-0012345");
  e.item = ItemId("item-0098765");
  e.ts = {1'700'000'000'000};
  e.rec = "p3-o1234567";
  e.pos = 4;
  e.ctx = {{"device", "ios"}, {"locale", "en-GB"}};
  return e;
}

RecommendationList SampleList() {
  RecommendationList list;
  list.user = UserId("user-0012345");
  list.rec = "p3-o1234567";
  list.ts = {1'700'000'000'100};
  list.event_ts = {1'700'000'000'000};
  list.model = 42;
  list.variant = "learned";
  for (int i = 0; i < 20; ++i) {
    RecommendedItem item{ItemId("item-" + std::to_string(100000 + i)), 1.0F / (i + 1), {}};
    for (const char* s : {"emb_short", "emb_long", "covisit", "trending", "category", "fresh"}) {
      item.src.emplace_back(s, 0.1F * static_cast<float>(i % 7));
    }
    list.items.push_back(std::move(item));
  }
  return list;
}

void BM_UnpackOnly(benchmark::State& state) {
  const std::string bytes = stream::EncodeEvent(SampleEvent(), Types());
  const msgpack::unpack_limit limits(4096, 256, 64 * 1024, 64 * 1024, 0, 8);
  for (auto _ : state) {
    std::size_t off = 0;
    msgpack::object_handle h = msgpack::unpack(
        bytes.data(), bytes.size(), off,
        [](msgpack::type::object_type, std::size_t, void*) { return true; }, nullptr, limits);
    benchmark::DoNotOptimize(h.get().via.map.size);
  }
}
BENCHMARK(BM_UnpackOnly)->Name("BM_DecodeEvent/msgpack_unpack_only");

void BM_DecodeEventMsgpack(benchmark::State& state) {
  const std::string bytes = stream::EncodeEvent(SampleEvent(), Types());
  for (auto _ : state) {
    auto e = stream::DecodeEvent(bytes, Types());
    benchmark::DoNotOptimize(e.has_value());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(BM_DecodeEventMsgpack)->Name("BM_DecodeEvent/msgpack");

void BM_DecodeEventJson(benchmark::State& state) {
  const std::string json =
      nlohmann::json::from_msgpack(stream::EncodeEvent(SampleEvent(), Types())).dump();
  for (auto _ : state) {
    auto e = stream::DecodeEvent(json, Types());
    benchmark::DoNotOptimize(e.has_value());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * json.size()));
}
BENCHMARK(BM_DecodeEventJson)->Name("BM_DecodeEvent/json");

void BM_EncodeList(benchmark::State& state) {
  const RecommendationList list = SampleList();
  for (auto _ : state) {
    std::string bytes = stream::EncodeRecommendationList(list);
    benchmark::DoNotOptimize(bytes.data());
  }
}
BENCHMARK(BM_EncodeList)->Name("BM_EncodeList/recsd");

void BM_PackOnly(benchmark::State& state) {
  const RecommendationList list = SampleList();
  for (auto _ : state) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_map(8);
    pk.pack(std::string("v")).pack(1).pack(std::string("user")).pack(list.user.str());
    pk.pack(std::string("rec")).pack(list.rec).pack(std::string("ts")).pack(list.ts.ms);
    pk.pack(std::string("event_ts")).pack(list.event_ts.ms).pack(std::string("model"));
    pk.pack(list.model).pack(std::string("variant")).pack(list.variant);
    pk.pack(std::string("items")).pack_array(static_cast<std::uint32_t>(list.items.size()));
    for (const RecommendedItem& item : list.items) {
      pk.pack_map(3).pack(std::string("item")).pack(item.item.str());
      pk.pack(std::string("score")).pack(item.score).pack(std::string("src"));
      pk.pack_map(static_cast<std::uint32_t>(item.src.size()));
      for (const auto& [s, c] : item.src) pk.pack(s).pack(c);
    }
    benchmark::DoNotOptimize(buf.data());
  }
}
BENCHMARK(BM_PackOnly)->Name("BM_EncodeList/msgpack_pack_only");

void BM_ListToJson(benchmark::State& state) {
  const RecommendationList list = SampleList();
  for (auto _ : state) {
    std::string json = stream::RecommendationListToJson(list);
    benchmark::DoNotOptimize(json.data());
  }
}
BENCHMARK(BM_ListToJson)->Name("BM_EncodeList/display_json");

// A record at the defaults: 1,000 items and 10,000 edges with ids like MovieLens-sized catalogs'.
const std::string& FullModelStats() {
  static const std::string bytes = [] {
    model::PartitionStats s;
    s.partition = 7;
    s.as_of = {1'700'000'000'000};
    s.offset = 123'456'789;
    s.features = {"emb_short", "emb_long", "covisit", "trending", "category", "fresh"};
    s.prior_variance = 1;
    model::SourceStats popularity;
    popularity.source = "popularity";
    popularity.half_life = 86400;
    for (int i = 0; i < 1000; ++i) {
      popularity.items.emplace_back(ItemId("item-" + std::to_string(i)), 1000.0 / (i + 1));
    }
    model::SourceStats covisit;
    covisit.source = "covisit";
    covisit.half_life = 604800;
    for (int i = 0; i < 10'000; ++i) {
      covisit.edges.push_back({ItemId("item-" + std::to_string(i / 10)),
                               ItemId("item-" + std::to_string(1000 + i)), 100.0 / (i + 1)});
    }
    s.sources = {popularity, covisit};
    s.learner.variance.fill(0.1);
    s.learner.bias_variance = 0.1;
    return state::EncodeModelStats(s);
  }();
  return bytes;
}

void BM_DecodeModelStats(benchmark::State& state) {
  const std::string& bytes = FullModelStats();
  for (auto _ : state) {
    auto s = state::DecodeModelStats(bytes);
    benchmark::DoNotOptimize(s);
  }
  state.counters["bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_DecodeModelStats)->Name("BM_DecodeModelStats/recsd");

void BM_UnpackModelStatsOnly(benchmark::State& state) {
  const std::string& bytes = FullModelStats();
  for (auto _ : state) {
    msgpack::object_handle h = msgpack::unpack(bytes.data(), bytes.size());
    benchmark::DoNotOptimize(h.get().type);
  }
}
BENCHMARK(BM_UnpackModelStatsOnly)->Name("BM_DecodeModelStats/msgpack_unpack_only");

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  recsd::bench::RatioReporter reporter({
      {"BM_DecodeEvent/msgpack", "BM_DecodeEvent/msgpack_unpack_only"},
      {"BM_DecodeEvent/json", "BM_DecodeEvent/msgpack"},
      {"BM_EncodeList/recsd", "BM_EncodeList/msgpack_pack_only"},
      {"BM_EncodeList/display_json", "BM_EncodeList/recsd"},
      {"BM_DecodeModelStats/recsd", "BM_DecodeModelStats/msgpack_unpack_only"},
  });
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
