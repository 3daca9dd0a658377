#include "daemon/devtools/loadgen.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/base/exit_codes.h"
#include "daemon/base/lifecycle.h"
#include "daemon/base/mutex.h"
#include "model/random.h"
#include "stream/event_codec.h"
#include "stream/item_codec.h"
#include "stream/kafka.h"
#include "stream/recommendation_codec.h"

namespace recsd::daemon {
namespace {

using Clock = std::chrono::steady_clock;

void CountFailure(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque) {
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    static_cast<LoadgenStats*>(opaque)->delivery_failures.fetch_add(1);
  }
}

}  // namespace

struct Loadgen::Impl {
  LoadgenOptions options;
  Config config;
  LoadgenStats stats;
  std::atomic<bool> stop{false};
  Clock::time_point started;

  std::vector<int> item_cluster;                // by item index
  std::vector<std::vector<int>> cluster_items;  // item indices by cluster
  std::vector<std::atomic<int>> user_cluster;   // current interest, by user index
  std::vector<std::int64_t> last_click_ms;      // by user index; the clicks thread's
  std::vector<std::int64_t> item_ts;

  stream::KafkaHandle producer;
  stream::KafkaHandle lists;  // reads the recommendations
  std::thread events_thread;
  std::thread clicks_thread;

  mutable Mutex sample_mu;
  std::optional<RecommendationList> sample GUARDED_BY(sample_mu);

  explicit Impl(std::size_t users) : user_cluster(users), last_click_ms(users, 0) {}

  bool Done() const {
    if (stop.load()) return true;
    if (options.events > 0 && stats.events.load() >= options.events) return true;
    return options.duration_s > 0 &&
           std::chrono::duration<double>(Clock::now() - started).count() >= options.duration_s;
  }

  // Produces, retrying while the queue is full.
  void Produce(const std::string& topic, const std::string& key, const std::string& value) {
    stream::OutgoingMessage m;
    m.topic = topic;
    m.key = key;
    m.value = value;
    while (true) {
      const rd_kafka_resp_err_t err = stream::Produce(producer.get(), m);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || stop.load()) {
        stats.delivery_failures.fetch_add(1);
        return;
      }
      rd_kafka_poll(producer.get(), 10);
    }
  }

  // fmt, not "it" + std::to_string(i): g++ 12 -O3 warns falsely (-Wrestrict) on the latter.
  static std::string Item(int i) { return fmt::format("it{}", i); }

  // The number in an id the loadgen made ("u17" with prefix "u", "it5" with "it"); -1 for any
  // other id (the output topic may hold other producers' users and items).
  static std::int64_t NumberIn(std::string_view id, std::string_view prefix) {
    if (id.size() <= prefix.size() || id.substr(0, prefix.size()) != prefix) return -1;
    std::int64_t n = -1;
    const char* end = id.data() + id.size();
    const auto [ptr, ec] = std::from_chars(id.data() + prefix.size(), end, n);
    return ec == std::errc() && ptr == end ? n : -1;
  }

  void ProduceCatalog(model::SplitMix64& rng) {
    const std::size_t dim = config.model.embedding_dim;
    // Cluster directions: random unit vectors; an item is its cluster's direction plus noise.
    std::vector<std::vector<float>> centres(static_cast<std::size_t>(options.clusters));
    for (auto& c : centres) {
      c.resize(dim);
      for (float& x : c) x = static_cast<float>(rng.Normal());
    }
    for (int i = 0; i < options.items; ++i) {
      const int cluster = item_cluster[static_cast<std::size_t>(i)];
      ItemRecord r;
      r.item = ItemId(Item(i));
      r.emb.resize(dim);
      for (std::size_t d = 0; d < dim; ++d) {
        r.emb[d] =
            centres[static_cast<std::size_t>(cluster)][d] + 0.5F * static_cast<float>(rng.Normal());
      }
      r.cat = fmt::format("cluster{}", cluster);
      r.ts = {item_ts[static_cast<std::size_t>(i)]};
      r.text = fmt::format("synthetic item {} of cluster {}", i, cluster);
      Produce(config.topics.items, r.item.str(), stream::EncodeItem(r));
      stats.items.fetch_add(1);
    }
  }

  void EventsLoop() {
    model::SplitMix64 rng(options.seed * 7919 + 1);
    const EventTypeTable types = config.event_types;
    const Clock::duration step = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1.0 / std::max(options.rate, 1e-3)));
    Clock::time_point next = Clock::now();
    while (!Done()) {
      const Clock::time_point now = Clock::now();
      if (now < next) {
        rd_kafka_poll(producer.get(), 0);
        std::this_thread::sleep_for(
            std::min<Clock::duration>(next - now, std::chrono::milliseconds(5)));
        continue;
      }
      next += step;
      if (Clock::now() - next > std::chrono::seconds(1)) next = Clock::now();  // fell behind
      const auto u = static_cast<std::size_t>(rng.Below(static_cast<std::uint64_t>(options.users)));
      if (rng.Uniform() < options.drift) {
        user_cluster[u].store(
            static_cast<int>(rng.Below(static_cast<std::uint64_t>(options.clusters))));
      }
      const auto& pool = cluster_items[static_cast<std::size_t>(user_cluster[u].load())];
      if (pool.empty()) continue;
      Event e;
      const double kind = rng.Uniform();
      e.type = kind < 0.9    ? event_type::kView
               : kind < 0.97 ? event_type::kAddToCart
                             : event_type::kPurchase;
      e.user = UserId(fmt::format("u{}", u));
      e.item = ItemId(Item(pool[rng.Below(pool.size())]));
      e.ts = {WallMs()};
      if (options.faults > 0 && rng.Uniform() < options.faults) {
        ProduceFault(rng.Below(6), e, types);
        continue;
      }
      Produce(config.topics.events, e.user.str(), stream::EncodeEvent(e, types));
      stats.events.fetch_add(1);
    }
  }

  // One unusual event of kind 0..5 (LoadgenOptions::faults) in place of `e`.
  void ProduceFault(std::uint64_t kind, Event e, const EventTypeTable& types) {
    std::string key = e.user.str();
    std::string value;
    switch (kind) {
      case 0:  // truncated bytes
        value = stream::EncodeEvent(e, types);
        value.resize(value.size() / 2);
        break;
      case 1:  // no item
        value = fmt::format(R"({{"type":"view","user":"{}","ts":{}}})", key, e.ts.ms);
        break;
      case 2:  // a schema version this build does not read
        value = fmt::format(R"({{"v":99,"type":"view","user":"{}","item":"{}","ts":{}}})", key,
                            e.item.str(), e.ts.ms);
        break;
      case 3:  // keyed by another user: would split the user's state over partitions
        value = stream::EncodeEvent(e, types);
        key += "-other";
        break;
      case 4:  // ten minutes late: applied with its decay
        e.ts.ms -= std::int64_t{10} * 60 * 1000;
        value = stream::EncodeEvent(e, types);
        break;
      default:  // the user asks to be forgotten
        e.type = event_type::kForget;
        value = stream::EncodeEvent(e, types);
        break;
    }
    Produce(config.topics.events, key, value);
    stats.faults.fetch_add(1);
  }

  void ClicksLoop() {
    model::SplitMix64 rng(options.seed * 104729 + 3);
    const EventTypeTable types = config.event_types;
    while (!Done()) {
      stream::KafkaMessage msg(rd_kafka_consumer_poll(lists.get(), 100));
      if (!msg || msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      auto list = stream::DecodeRecommendationList(
          std::string_view(static_cast<const char*>(msg->payload), msg->len));
      if (!list) continue;
      stats.lists_seen.fetch_add(1);
      const std::string& user = list->user.str();
      if (user == sample_user()) {
        MutexLock lock(sample_mu);
        sample = *list;
      }
      const std::int64_t number = NumberIn(user, "u");
      if (number < 0 || static_cast<std::uint64_t>(number) >= user_cluster.size()) continue;
      const auto u = static_cast<std::size_t>(number);
      const std::int64_t now_ms = WallMs();
      if (rng.Uniform() >= options.examine ||
          now_ms - last_click_ms[u] < static_cast<std::int64_t>(options.click_cooldown_s * 1000)) {
        continue;
      }
      const int interest = user_cluster[u].load();
      for (std::size_t pos = 0; pos < list->items.size(); ++pos) {
        const std::string& id = list->items[pos].item.str();
        const std::int64_t item = NumberIn(id, "it");
        const bool in_cluster = item >= 0 && item < options.items &&
                                item_cluster[static_cast<std::size_t>(item)] == interest;
        if (rng.Uniform() < (in_cluster ? options.click_in_cluster : options.click_other)) {
          Event click;
          click.type = event_type::kClick;
          click.user = list->user;
          click.item = list->items[pos].item;
          click.ts = {WallMs()};
          click.rec = list->rec;
          click.pos = static_cast<std::uint32_t>(pos);
          Produce(config.topics.events, user, stream::EncodeEvent(click, types));
          stats.clicks.fetch_add(1);
          last_click_ms[u] = now_ms;
          break;
        }
      }
    }
  }
};

Loadgen::Loadgen(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Loadgen::~Loadgen() {
  Stop();
  Wait();
}

void Loadgen::Stop() noexcept { impl_->stop.store(true); }
bool Loadgen::done() const noexcept { return impl_->Done(); }
const LoadgenStats& Loadgen::stats() const noexcept { return impl_->stats; }

std::optional<RecommendationList> Loadgen::SampleList() const {
  MutexLock lock(impl_->sample_mu);
  return impl_->sample;
}

void Loadgen::Wait() {
  if (impl_->events_thread.joinable()) impl_->events_thread.join();
  if (impl_->clicks_thread.joinable()) impl_->clicks_thread.join();
  if (impl_->producer) {
    rd_kafka_flush(impl_->producer.get(), 5000);
    impl_->producer.reset();
  }
  if (impl_->lists) {
    rd_kafka_destroy_flags(impl_->lists.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }
}

Result<std::unique_ptr<Loadgen>, std::string> Loadgen::Start(const LoadgenOptions& options,
                                                             const Config& config) {
  if (options.users < 1 || options.items < 1 || options.clusters < 1 || options.rate <= 0) {
    return Fail(std::string("users, items, clusters and rate must be positive"));
  }
  auto impl = std::make_unique<Impl>(static_cast<std::size_t>(options.users));
  Impl& m = *impl;
  m.options = options;
  m.config = config;
  const std::string bootstrap =
      options.bootstrap.empty() ? config.kafka.at("bootstrap.servers") : options.bootstrap;
  model::SplitMix64 rng(options.seed);
  m.item_cluster.resize(static_cast<std::size_t>(options.items));
  m.item_ts.resize(static_cast<std::size_t>(options.items));
  m.cluster_items.resize(static_cast<std::size_t>(options.clusters));
  const std::int64_t now = WallMs();
  for (int i = 0; i < options.items; ++i) {
    const int c = static_cast<int>(rng.Below(static_cast<std::uint64_t>(options.clusters)));
    m.item_cluster[static_cast<std::size_t>(i)] = c;
    m.cluster_items[static_cast<std::size_t>(c)].push_back(i);
    m.item_ts[static_cast<std::size_t>(i)] =
        now - static_cast<std::int64_t>(rng.Uniform() * 60.0 * 86'400'000.0);
  }
  for (auto& c : m.user_cluster) {
    c.store(static_cast<int>(rng.Below(static_cast<std::uint64_t>(options.clusters))));
  }

  auto conf = stream::MakeKafkaConf({{"bootstrap.servers", bootstrap},
                                     {"partitioner", "murmur2_random"},
                                     {"linger.ms", "5"},
                                     {"client.id", "recsd-loadgen"}});
  if (!conf) return Fail(conf.error());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &CountFailure);
  rd_kafka_conf_set_opaque(conf->get(), &m.stats);
  auto producer = stream::MakeKafkaClient(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!producer) return Fail("loadgen producer: " + producer.error());
  m.producer = std::move(producer).value();
  auto counts = stream::PartitionCounts(
      m.producer.get(), {config.topics.events, config.topics.items, config.topics.recommendations},
      10'000);
  if (!counts) return Fail(counts.error());

  if (options.catalog) {
    m.ProduceCatalog(rng);
    if (rd_kafka_flush(m.producer.get(), 30'000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        m.stats.delivery_failures.load() > 0) {
      return Fail("the catalog could not be produced to " + config.topics.items);
    }
  }

  // The lists from now on, from every partition (no group: the loadgen plays every user).
  // librdkafka's consumer poll needs a group id even for assigned partitions; nothing commits.
  auto lconf = stream::MakeKafkaConf({{"bootstrap.servers", bootstrap},
                                      {"group.id", "recsd-loadgen"},
                                      {"enable.auto.commit", "false"},
                                      {"client.id", "recsd-loadgen-lists"}});
  if (!lconf) return Fail(lconf.error());
  auto lists = stream::MakeKafkaClient(RD_KAFKA_CONSUMER, std::move(lconf).value());
  if (!lists) return Fail("loadgen consumer: " + lists.error());
  m.lists = std::move(lists).value();
  const int n = counts->at(config.topics.recommendations);
  stream::PartitionList parts(rd_kafka_topic_partition_list_new(n));
  for (int p = 0; p < n; ++p) {
    rd_kafka_topic_partition_list_add(parts.get(), config.topics.recommendations.c_str(), p)
        ->offset = RD_KAFKA_OFFSET_END;
  }
  rd_kafka_assign(m.lists.get(), parts.get());

  m.started = Clock::now();
  m.events_thread = std::thread([&m] { m.EventsLoop(); });
  m.clicks_thread = std::thread([&m] { m.ClicksLoop(); });
  return std::unique_ptr<Loadgen>(new Loadgen(std::move(impl)));
}

int LoadgenCommand(const LoadgenOptions& options, const Config& config) {
  const StopSignals signals;  // before any thread starts
  auto loadgen = Loadgen::Start(options, config);
  if (!loadgen) {
    spdlog::error("recsd loadgen: {}", loadgen.error());
    return kExitFailure;
  }
  Loadgen& l = **loadgen;
  spdlog::info("loadgen: {} items produced; {} events/s for {} users until {}",
               l.stats().items.load(), options.rate, options.users,
               options.duration_s > 0 ? std::to_string(options.duration_s) + " s" : "stopped");
  while (!l.done()) {
    if (signals.Wait(std::chrono::milliseconds(200)) != nullptr) l.Stop();
  }
  l.Wait();
  const LoadgenStats& s = l.stats();
  std::cout << "loadgen: " << s.items.load() << " items, " << s.events.load() << " events, "
            << s.lists_seen.load() << " lists seen, " << s.clicks.load() << " clicks, "
            << s.delivery_failures.load() << " delivery failures\n";
  return s.delivery_failures.load() == 0 ? kExitOk : kExitFailure;
}

}  // namespace recsd::daemon
