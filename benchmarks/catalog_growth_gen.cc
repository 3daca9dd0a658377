// Writes the synthetic stream of benchmarks/catalog_growth.sh: a catalog of `items` items whose
// 64-dim embeddings lie in 50 clusters (centre + 0.7 × Gaussian noise per dimension), of which the
// first `base` are the items users touch and the rest distractors in the same clusters, and
// `events` views by `users` users. Each user has a home cluster and a taste (its centre + 0.5 ×
// noise), and views the 30 base items of the home cluster nearest to the taste, the r-th best
// with weight 1/(r+1), one view in ten any base item of the cluster; the views are spread over 30
// days in random order. Items and events are v1 msgpack records back to back, for
// `recsd replay --input-format msgpack`. The same arguments write the same bytes, and the base
// items, the users and their events do not depend on `items` (the distractors are drawn after
// them), so catalogs of different sizes replay the same events.
//
//   catalog_growth_gen ITEMS BASE USERS EVENTS SEED ITEMS_FILE EVENTS_FILE

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "model/event.h"
#include "model/item.h"
#include "stream/event_codec.h"
#include "stream/item_codec.h"

namespace {

using namespace recsd;

constexpr std::size_t kDim = 64;
constexpr std::size_t kClusters = 50;
constexpr std::size_t kFavourites = 30;

std::vector<float> Around(const std::vector<float>& centre, float noise, std::mt19937_64& rng) {
  std::normal_distribution<float> g;
  std::vector<float> v(kDim);
  for (std::size_t d = 0; d < kDim; ++d) v[d] = centre[d] + noise * g(rng);
  return v;
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0;
  double aa = 0;
  double bb = 0;
  for (std::size_t d = 0; d < kDim; ++d) {
    ab += static_cast<double>(a[d]) * b[d];
    aa += static_cast<double>(a[d]) * a[d];
    bb += static_cast<double>(b[d]) * b[d];
  }
  return ab / std::sqrt(aa * bb);
}

// prefix + n, appended (GCC 12's -Wrestrict misfires on "literal" + std::string).
std::string Named(const char* prefix, std::size_t n) {
  std::string name = prefix;
  name += std::to_string(n);
  return name;
}

ItemRecord Item(std::size_t i, std::size_t cluster, std::vector<float> emb) {
  ItemRecord r;
  r.item = ItemId(Named("item", i));
  r.emb = std::move(emb);
  r.cat = Named("c", cluster);
  r.ts = {1'600'000'000'000};
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::cerr << "usage: catalog_growth_gen ITEMS BASE USERS EVENTS SEED ITEMS_FILE EVENTS_FILE\n";
    return 2;
  }
  const std::size_t items = std::stoul(argv[1]);
  const std::size_t base = std::stoul(argv[2]);
  const std::size_t users = std::stoul(argv[3]);
  const std::size_t events = std::stoul(argv[4]);
  std::mt19937_64 rng(std::stoull(argv[5]));
  if (base == 0 || base > items || users == 0 || base < kClusters * kFavourites) {
    std::cerr << "catalog_growth_gen: need 0 < BASE <= ITEMS, BASE >= " << kClusters * kFavourites
              << " and USERS > 0\n";
    return 2;
  }
  std::ofstream items_out(argv[6], std::ios::binary);
  std::ofstream events_out(argv[7], std::ios::binary);
  if (!items_out || !events_out) {
    std::cerr << "catalog_growth_gen: cannot write the output files\n";
    return 1;
  }

  std::normal_distribution<float> g;
  std::vector<std::vector<float>> centres(kClusters, std::vector<float>(kDim));
  for (auto& c : centres) {
    for (float& x : c) x = g(rng);
  }
  // Base items: cluster i % 50.
  std::vector<std::vector<float>> base_vectors;
  std::vector<std::vector<std::size_t>> base_of(kClusters);
  for (std::size_t i = 0; i < base; ++i) {
    base_vectors.push_back(Around(centres[i % kClusters], 0.7F, rng));
    base_of[i % kClusters].push_back(i);
    items_out << stream::EncodeItem(Item(i, i % kClusters, base_vectors.back()));
  }

  // Users and their views.
  std::vector<Event> all;
  all.reserve(events);
  std::vector<std::vector<std::size_t>> favourites(users);
  std::vector<std::size_t> home(users);
  for (std::size_t u = 0; u < users; ++u) {
    home[u] = rng() % kClusters;
    const std::vector<float> taste = Around(centres[home[u]], 0.5F, rng);
    std::vector<std::pair<double, std::size_t>> near;
    for (std::size_t i : base_of[home[u]]) near.emplace_back(-Cosine(taste, base_vectors[i]), i);
    std::partial_sort(near.begin(), near.begin() + kFavourites, near.end());
    for (std::size_t r = 0; r < kFavourites; ++r) favourites[u].push_back(near[r].second);
  }
  std::vector<double> weights;
  for (std::size_t r = 0; r < kFavourites; ++r) weights.push_back(1.0 / static_cast<double>(r + 1));
  std::discrete_distribution<std::size_t> rank(weights.begin(), weights.end());
  const std::int64_t start_ms = 1'600'000'000'000;
  const std::int64_t span_ms = 30LL * 86'400'000;
  for (std::size_t e = 0; e < events; ++e) {
    const std::size_t u = rng() % users;
    const std::vector<std::size_t>& cluster = base_of[home[u]];
    const std::size_t item =
        rng() % 10 == 0 ? cluster[rng() % cluster.size()] : favourites[u][rank(rng)];
    Event ev;
    ev.type = event_type::kView;
    ev.user = UserId(Named("user", u));
    ev.item = ItemId(Named("item", item));
    ev.ts = {start_ms + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span_ms))};
    all.push_back(std::move(ev));
  }
  std::sort(all.begin(), all.end(), [](const Event& a, const Event& b) { return a.ts < b.ts; });
  const EventTypeTable types;
  for (const Event& ev : all) events_out << stream::EncodeEvent(ev, types);

  // Distractors: the same clusters, never viewed; drawn last, so the rest does not depend on them.
  for (std::size_t i = base; i < items; ++i) {
    items_out << stream::EncodeItem(
        Item(i, i % kClusters, Around(centres[i % kClusters], 0.7F, rng)));
  }
  items_out.flush();
  events_out.flush();
  if (!items_out || !events_out) {
    std::cerr << "catalog_growth_gen: writing the output files failed\n";
    return 1;
  }
  std::printf("%zu items (%zu base), %zu users, %zu events\n", items, base, users, events);
  return 0;
}
