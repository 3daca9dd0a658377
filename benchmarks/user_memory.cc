// Memory per user of one engine at the daemon's default configuration: peak RSS growth against
// UserState::ApproxBytes, side by side (benchmarks/README.md, "Memory per user").
//
//   user_memory [light|heavy (light)] [USERS (light: 1000000, heavy: 1000)] [ITEMS (2000)]
//
// One kind of user a run: peak RSS cannot be split between two kinds in one process (memory the
// first kind frees, e.g. finished pending lists, is reused by the second).
//
// A warm-up of 2,000 users with 100 events each first grows the engine-wide model state (item
// graphs, learned item vectors, popularity) near its bounds. Then light users have one or two
// events each (alternately) and get a list after them, as a live instance publishes one; their
// events are spread over a day of event time, so that the lists pending for click attribution
// are those of the last `learning.attribution_window`, as live. Heavy users have 1,000 events
// each and a list every 50 (so that the bound on pending lists is reached), also over a day.
// Each phase reports the growth of the process's peak RSS (VmHWM, /proc/self/status) over its
// users, and the engine's own estimate (Engine::UserStateBytes: UserState::ApproxBytes and the
// user's entry in the user map, what state.max_bytes bounds) over the same users once every list
// is past the attribution window: the difference is what the estimate does not see (the
// allocator's rounding, the map's growth). Catalog: ITEMS random
// 64-dim items in 20 categories, loaded before the first measurement.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "daemon/config/config.h"
#include "daemon/config/engine_setup.h"
#include "model/catalog.h"
#include "model/engine.h"

namespace {

using namespace recsd;

// The process's peak resident set, in bytes (0 when /proc is not there).
std::size_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

std::string Id(const char* prefix, std::size_t n) {
  std::string s(prefix);
  s.append(std::to_string(n));
  return s;
}

struct Drop final : model::ListSink {
  void Publish(RecommendationList list) override { lists += !list.items.empty(); }
  std::size_t lists = 0;
};

struct Phase {
  const char* name;
  std::size_t users;
  std::size_t events_min;   // a user's events: events_min, or one more every other user
  std::size_t events_more;  // 0 or 1
  std::size_t list_every;   // a list after every this many of a user's events (and at its end)
  std::int64_t span_ms;     // the phase's events spread over this much event time
};

}  // namespace

int main(int argc, char** argv) {
  const std::string kind = argc > 1 ? argv[1] : "light";
  if (kind != "light" && kind != "heavy") {
    std::fprintf(stderr, "usage: user_memory [light|heavy] [USERS] [ITEMS]\n");
    return 2;
  }
  const bool heavy = kind == "heavy";
  const std::size_t users = argc > 2 ? std::stoull(argv[2]) : heavy ? 1'000 : 1'000'000;
  const std::size_t items = argc > 3 ? std::stoull(argv[3]) : 2'000;
  const daemon::LoadedConfig loaded = daemon::LoadConfig({"", {}, {}});
  if (!loaded.problems.empty()) {
    std::fprintf(stderr, "default configuration invalid\n");
    return 1;
  }
  const model::EngineOptions options = daemon::EngineOptionsFromConfig(loaded.config);
  const std::size_t dim = options.user.dim;

  std::mt19937 rng(1);
  std::normal_distribution<float> gauss;
  model::CatalogBuilder builder(dim);
  ItemRecord r;
  r.emb.resize(dim);
  for (std::size_t i = 0; i < items; ++i) {
    r.item = ItemId(Id("item-", i));
    for (float& x : r.emb) x = gauss(rng);
    r.cat = Id("cat-", i % 20);
    r.ts = {1'700'000'000'000};
    builder.Upsert(r);
  }
  model::Engine engine(options, EventTypeTable());
  engine.SetCatalog(builder.Build());

  std::uniform_int_distribution<std::size_t> pick(0, items - 1);
  std::int64_t offset = 0;
  std::int64_t t = 1'700'000'000'000;
  const std::int64_t window = options.learning.attribution.window_ms;
  Drop sink;
  // Past the attribution window every pending list is finished: what stays is the users' state.
  const auto settled_bytes = [&] {
    t += window + 1;
    engine.Refresh({t}, sink);
    return engine.UserStateBytes();
  };
  std::size_t user_base = 0;
  std::printf("one engine at the default configuration, %zu-dim embeddings, %zu items\n", dim,
              items);
  constexpr std::int64_t kDay = 24 * 3600 * 1000;
  for (const Phase& phase :
       {Phase{"warm-up (2,000 users, 100 events each; the shared model state included)", 2'000, 100,
              0, 50, kDay / 24},
        heavy ? Phase{"heavy users (1,000 events, a list per 50)", users, 1000, 0, 50, kDay}
              : Phase{"light users (1 or 2 events, a list after them)", users, 1, 1, 2, kDay}}) {
    if (phase.users == 0) continue;
    const std::size_t bytes0 = settled_bytes();
    engine.TakeChanged();
    const std::size_t rss0 = PeakRssBytes();
    const std::size_t expected =
        phase.users * phase.events_min + phase.users / 2 * phase.events_more;
    const std::int64_t step =
        std::max<std::int64_t>(1, phase.span_ms / static_cast<std::int64_t>(expected));
    std::size_t events = 0;
    const std::size_t lists0 = sink.lists;
    for (std::size_t u = 0; u < phase.users; ++u) {
      Event e;
      e.user = UserId(Id("user-", user_base + u));
      const std::size_t n = phase.events_min + (u % 2) * phase.events_more;
      for (std::size_t k = 0; k < n; ++k) {
        e.item = ItemId(Id("item-", pick(rng)));
        e.ts = {t += step};
        engine.Apply(e, {0, offset++});
        ++events;
        if ((k + 1) % phase.list_every == 0 || k + 1 == n) engine.Refresh({t}, sink);
      }
      // What the daemon's changelog writer takes every state.flush_interval.
      if (u % 1000 == 999) engine.TakeChanged();
    }
    user_base += phase.users;
    engine.TakeChanged();
    const double n = static_cast<double>(phase.users);
    const double rss = static_cast<double>(PeakRssBytes() - rss0) / n;
    const double approx = static_cast<double>(settled_bytes() - bytes0) / n;
    std::printf("%s: %zu users, %zu events, %zu lists\n", phase.name, phase.users, events,
                sink.lists - lists0);
    std::printf(
        "  peak RSS growth %.0f B per user; the engine's estimate %.0f B per user after the "
        "attribution window (RSS / estimate %.2f)\n",
        rss, approx, rss / approx);
  }
  return 0;
}
