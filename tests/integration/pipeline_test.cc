// The pipeline of `recsd run` against librdkafka's mock cluster in this process: events in, lists
// out, dead letters, catalog changes, backpressure, restarts and a rebalance between two
// consumers.
#include "daemon/run/pipeline.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "daemon/admin/admin_api.h"
#include "daemon/config/engine_setup.h"
#include "daemon/eval/replay.h"
#include "model/catalog.h"
#include "state/snapshot.h"
#include "state/user_state_codec.h"
#include "stream/event_codec.h"
#include "stream/item_codec.h"
#include "stream/kafka.h"
#include "stream/mock_broker.h"
#include "stream/recommendation_codec.h"
#include "tests/daemon/pipeline_config.h"
#include "tests/daemon/temp_dir.h"

namespace recsd::daemon {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr int kPartitions = 4;
constexpr std::size_t kDim = 8;

struct Output {
  std::string key;
  std::string value;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::map<std::string, std::string> headers;
};

struct RestartCounts {
  std::uint64_t restored_records = 0;
  std::uint64_t snapshots_written = 0;  // by the first pipeline
  std::uint64_t snapshots_loaded = 0;
  std::uint64_t snapshots_ignored = 0;
};

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = stream::MockBroker::Start(1, {{"ev", kPartitions},
                                                {"items", 1},
                                                {"recs", kPartitions},
                                                {"dlq", 1},
                                                {"changelog", kPartitions},
                                                {"stats", 1}});
    ASSERT_TRUE(broker) << broker.error();
    broker_ = std::move(broker).value();
    auto conf = stream::MakeKafkaConf({{"bootstrap.servers", broker_->bootstrap()},
                                       {"partitioner", "murmur2_random"},
                                       {"enable.idempotence", "true"}});
    ASSERT_TRUE(conf);
    auto producer = stream::MakeKafkaClient(RD_KAFKA_PRODUCER, std::move(conf).value());
    ASSERT_TRUE(producer) << producer.error();
    producer_ = std::move(producer).value();
  }

  Config MakeConfig(const std::string& group, std::vector<std::string> sets = {}) {
    sets.insert(sets.begin(), {"kafka.session.timeout.ms=6000", "kafka.heartbeat.interval.ms=500",
                               "pipeline.workers=2"});
    return recsd::testing::PipelineTestConfig(broker_->bootstrap(), group, sets);
  }

  void Produce(const std::string& topic, const std::string& key,
               const std::optional<std::string>& value) {
    stream::OutgoingMessage m;
    m.topic = topic;
    m.key = key;
    if (value) m.value = *value;
    ASSERT_EQ(stream::Produce(producer_.get(), m), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void Flush() { ASSERT_EQ(rd_kafka_flush(producer_.get(), 10'000), RD_KAFKA_RESP_ERR_NO_ERROR); }

  static ItemRecord Item(const std::string& id, int cluster) {
    ItemRecord r;
    r.item = ItemId(id);
    r.emb.assign(kDim, 0.05F);
    r.emb[static_cast<std::size_t>(cluster) % kDim] = 1.0F;
    r.cat = "c" + std::to_string(cluster);
    r.ts = {kT0};
    return r;
  }
  void ProduceItem(const std::string& id, int cluster) {
    Produce("items", id, stream::EncodeItem(Item(id, cluster)));
  }
  void ProduceCatalog(int items) {
    for (int i = 0; i < items; ++i) ProduceItem("i" + std::to_string(i), i % 4);
    Flush();
  }
  void ProduceEvent(const std::string& user, const std::string& item, std::int64_t ts,
                    bool json = false) {
    if (json) {
      Produce("ev", user,
              R"({"type":"view","user":")" + user + R"(","item":")" + item + R"(","ts":)" +
                  std::to_string(ts) + "}");
      return;
    }
    Event e;
    e.user = UserId(user);
    e.item = ItemId(item);
    e.ts = {ts};
    Produce("ev", user, stream::EncodeEvent(e, EventTypeTable()));
  }

  // Every message of `topic` from the beginning, reading until nothing new came for `quiet`.
  std::vector<Output> ReadAll(const std::string& topic,
                              std::chrono::milliseconds quiet = std::chrono::milliseconds(1500)) {
    auto conf = stream::MakeKafkaConf({{"bootstrap.servers", broker_->bootstrap()},
                                       {"group.id", "reader"},
                                       {"enable.auto.commit", "false"}});
    auto consumer = stream::MakeKafkaClient(RD_KAFKA_CONSUMER, std::move(conf).value());
    auto counts = stream::PartitionCounts(consumer->get(), {topic}, 5000);
    EXPECT_TRUE(counts);
    stream::PartitionList list(rd_kafka_topic_partition_list_new(8));
    for (int p = 0; p < counts->at(topic); ++p) {
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
    // What the topic holds now is read whatever the wait for its first fetch (a quiet window
    // alone ended a read before its first message on a loaded machine); then until `quiet`.
    std::map<std::int32_t, std::int64_t> unread;  // partition → high watermark
    for (int p = 0; p < counts->at(topic); ++p) {
      std::int64_t low = 0;
      std::int64_t high = 0;
      if (rd_kafka_query_watermark_offsets(consumer->get(), topic.c_str(), p, &low, &high, 5000) ==
              RD_KAFKA_RESP_ERR_NO_ERROR &&
          high > low) {
        unread[p] = high;
      }
    }
    rd_kafka_assign(consumer->get(), list.get());
    std::vector<Output> out;
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
    Clock::time_point last = Clock::now();
    while ((!unread.empty() && Clock::now() < deadline) || Clock::now() - last < quiet) {
      stream::KafkaMessage msg(rd_kafka_consumer_poll(consumer->get(), 100));
      if (!msg || msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      if (const auto it = unread.find(msg->partition);
          it != unread.end() && msg->offset + 1 >= it->second) {
        unread.erase(it);
      }
      Output o;
      o.key.assign(static_cast<const char*>(msg->key), msg->key_len);
      if (msg->payload != nullptr) o.value.assign(static_cast<const char*>(msg->payload), msg->len);
      o.partition = msg->partition;
      o.offset = msg->offset;
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(msg.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        std::size_t size = 0;
        for (std::size_t i = 0; !rd_kafka_header_get_all(headers, i, &name, &value, &size); ++i) {
          o.headers[name] = std::string(static_cast<const char*>(value), size);
        }
      }
      out.push_back(std::move(o));
      last = Clock::now();
    }
    rd_kafka_consumer_close(consumer->get());
    return out;
  }

  // The lists on the output topic, decoded.
  std::vector<RecommendationList> Lists() {
    std::vector<RecommendationList> lists;
    for (const Output& o : ReadAll("recs")) {
      auto list = stream::DecodeRecommendationList(o.value);
      EXPECT_TRUE(list) << "an undecodable list";
      if (list) {
        EXPECT_EQ(o.key, list->user.str());
        lists.push_back(std::move(list).value());
      }
    }
    return lists;
  }

  // Waits until `done` or `limit`.
  template <class F>
  static bool WaitFor(F done, std::chrono::seconds limit = std::chrono::seconds(30)) {
    const Clock::time_point until = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  std::unique_ptr<Pipeline> StartPipeline(const Config& config) {
    auto p = Pipeline::Start(config);
    EXPECT_TRUE(p) << p.error();
    return p ? std::move(p).value() : nullptr;
  }

  RestartCounts RestartAndCompare(const std::string& group, const std::vector<std::string>& sets,
                                  const std::function<void()>& between = {});

  std::unique_ptr<stream::MockBroker> broker_;
  stream::KafkaHandle producer_;
};

TEST_F(PipelineTest, PublishesAListForEveryUserReflectingItsLatestEvent) {
  ProduceCatalog(40);
  constexpr int kUsers = 30;
  for (int round = 0; round < 3; ++round) {
    for (int u = 0; u < kUsers; ++u) {
      ProduceEvent("u" + std::to_string(u), "i" + std::to_string((u + round) % 40),
                   kT0 + round * 1000, /*json=*/u % 2 == 0);
    }
  }
  Flush();
  auto pipeline = StartPipeline(MakeConfig("g1"));
  ASSERT_NE(pipeline, nullptr);
  ASSERT_TRUE(WaitFor([&] { return pipeline->stats().events_consumed.load() == 3 * kUsers; }));
  ASSERT_TRUE(WaitFor([&] { return pipeline->stats().users.load() == kUsers; }));
  pipeline->Stop();
  EXPECT_EQ(pipeline->Wait(), 0);
  EXPECT_EQ(pipeline->stats().DeadLettered(), 0U);

  std::map<std::string, std::vector<RecommendationList>> by_user;
  for (RecommendationList& l : Lists()) by_user[l.user.str()].push_back(std::move(l));
  ASSERT_EQ(by_user.size(), static_cast<std::size_t>(kUsers));
  for (const auto& [user, lists] : by_user) {
    const RecommendationList& last = lists.back();
    EXPECT_FALSE(last.items.empty()) << user;
    // Every event of the user is reflected: the last list names the user's last event (the third
    // of the user's events on its partition) and excludes the items the user saw.
    const int u = std::stoi(user.substr(1));
    for (const auto& item : last.items) {
      for (int round = 0; round < 3; ++round) {
        EXPECT_NE(item.item.str(), "i" + std::to_string((u + round) % 40)) << user;
      }
    }
    EXPECT_EQ(last.event_ts, TimestampMs{kT0 + 2000}) << user;
  }
}

TEST_F(PipelineTest, DeadLettersBadInputWithReasonHeadersAndKeepsThePartitionMoving) {
  ProduceCatalog(8);
  // Messages just inside a default producer's limit: dead-lettered whole, they would not fit the
  // dead-letter topic (a poison pill before pipeline.dead_letter_max_bytes).
  Produce("items", "huge", std::string(999'800, 'i'));
  ProduceEvent("alice", "i1", kT0);
  Produce("ev", "alice", std::string(999'800, 'e'));
  Produce("ev", "alice", std::string("{\"type\":\"view\""));  // truncated JSON
  Produce("ev", "alice", std::string(R"({"type":"view","user":"alice","ts":1})"));  // no item
  Produce("ev", "alice", std::string(R"({"v":9,"type":"view","user":"alice","item":"i1","ts":1})"));
  Produce("ev", "alice", std::optional<std::string>());  // a null value
  Produce("ev", "alice", std::string(R"({"type":"view","user":"bob","item":"i1","ts":1})"));
  ProduceEvent("alice", "i2", kT0 + 1000);  // after the bad ones, on the same partition
  Flush();
  auto pipeline = StartPipeline(MakeConfig("g2"));
  ASSERT_NE(pipeline, nullptr);
  ASSERT_TRUE(WaitFor([&] { return pipeline->stats().dead_letters_delivered.load() == 7; }));
  ASSERT_TRUE(WaitFor([&] { return pipeline->stats().Applied() == 2; }));
  pipeline->Stop();
  EXPECT_EQ(pipeline->Wait(), 0);
  EXPECT_EQ(pipeline->stats().items_dead_lettered.load(), 1U);

  std::vector<Output> dlq = ReadAll("dlq");
  ASSERT_EQ(dlq.size(), 7U);
  const auto huge = std::find_if(dlq.begin(), dlq.end(), [](const Output& o) {
    return o.headers.at("recsd.source.topic") == "items";
  });
  ASSERT_NE(huge, dlq.end());
  EXPECT_EQ(huge->key, "huge");
  EXPECT_EQ(huge->headers.at("recsd.error.reason"), "too_large");
  EXPECT_EQ(huge->headers.at("recsd.source.size"), "999800");
  EXPECT_EQ(huge->value.size(), 65536U);
  dlq.erase(huge);
  std::multiset<std::string> reasons;
  for (const Output& o : dlq) {
    EXPECT_EQ(o.key, "alice");
    EXPECT_EQ(o.headers.at("recsd.source.topic"), "ev");
    EXPECT_FALSE(o.headers.at("recsd.error.detail").empty());
    reasons.insert(o.headers.at("recsd.error.reason"));
  }
  EXPECT_EQ(reasons, (std::multiset<std::string>{"key_mismatch", "missing_key", "too_large",
                                                 "truncated", "truncated", "unsupported_version"}));
  // recsd_events_processed_total{result}: each event once, the dead letters by class.
  using R = PipelineStats::Result;
  const PipelineStats& st = pipeline->stats();
  EXPECT_EQ(st.Counted(R::kOk), 2U);
  EXPECT_EQ(st.Counted(R::kDecodeError), 3U);
  EXPECT_EQ(st.Counted(R::kInvalid), 1U);
  EXPECT_EQ(st.Counted(R::kUnsupportedVersion), 1U);
  EXPECT_EQ(st.Counted(R::kDlq), 1U);
  EXPECT_EQ(st.stages[static_cast<std::size_t>(PipelineStats::Stage::kDecode)].Snapshot().count(),
            8U);  // the oversized one too, though it is never decoded
  // The original bytes and their position: the truncated JSON is the message after the first two.
  bool found = false;
  for (const Output& o : dlq) {
    if (o.value == "{\"type\":\"view\"") {
      found = true;
      EXPECT_EQ(o.headers.at("recsd.source.offset"), "2");
    }
  }
  EXPECT_TRUE(found);
  const std::vector<RecommendationList> lists = Lists();
  ASSERT_FALSE(lists.empty());
  EXPECT_EQ(lists.back().event_ts, TimestampMs{kT0 + 1000});  // the event after the bad ones
}

// The admin API reads state on the workers' threads while the pipeline runs.
TEST_F(PipelineTest, AdminApiShowsUsersTheirCurrentListsAndTheWeights) {
  ProduceCatalog(8);
  ProduceEvent("dave", "i0", kT0);
  ProduceEvent("dave", "i4", kT0 + 1000);
  Flush();
  auto pipeline = StartPipeline(MakeConfig("g7", {"pipeline.min_refresh_interval=0ms"}));
  ASSERT_NE(pipeline, nullptr);
  ASSERT_TRUE(WaitFor([&] { return pipeline->stats().lists_delivered.load() >= 1; }));
  std::atomic<Pipeline*> current{pipeline.get()};
  const AdminServer::Handlers h = PipelineHandlers(current);

  const AdminServer::Response user = h.api("/v1/users/dave");
  ASSERT_EQ(user.status, 200U) << user.body;
  const nlohmann::json u = nlohmann::json::parse(user.body);
  EXPECT_EQ(u["user"], "dave");
  EXPECT_EQ(u["events"], 2);
  EXPECT_EQ(u["recent_items"], nlohmann::json({"i0", "i4"}));
  const nlohmann::json& list = u["current_list"];
  ASSERT_TRUE(list.is_object()) << user.body;
  ASSERT_FALSE(list["items"].empty());
  double sum = 0;
  for (const auto& [source, contribution] : list["items"][0]["src"].items()) {
    sum += contribution.get<double>();
  }
  EXPECT_NEAR(sum, list["items"][0]["score"].get<double>(), 1e-5);
  // The same list as the one published last for dave.
  std::optional<RecommendationList> last;
  for (RecommendationList& l : Lists()) {
    if (l.user.str() == "dave") last = std::move(l);
  }
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(list["rec"], last->rec);
  ASSERT_EQ(list["items"].size(), last->items.size());
  for (std::size_t i = 0; i < last->items.size(); ++i) {
    EXPECT_EQ(list["items"][i]["item"], last->items[i].item.str());
  }

  // The state digest equals an uninterrupted replay's of the same events (the durability oracle).
  stream::ReplayInput input;
  for (int i = 0; i < 8; ++i) input.items.push_back(Item("i" + std::to_string(i), i % 4));
  for (const auto& [item, ts] : {std::pair{"i0", kT0}, std::pair{"i4", kT0 + 1000}}) {
    Event e;
    e.user = UserId("dave");
    e.item = ItemId(item);
    e.ts = {ts};
    input.events.push_back(e);
  }
  const Config& config = pipeline->config();
  const ReplayReport replayed = RunReplay(input, EngineOptionsFromConfig(config),
                                          config.event_types, 10, 0, {}, /*state_digests=*/true,
                                          ReplayOrder::kInput);  // as produced: log order
  ASSERT_EQ(replayed.state_digests.size(), 1U);
  EXPECT_EQ(u["digest"], replayed.state_digests[0].second);
  EXPECT_EQ(u["digest"].get<std::string>().size(), 16U);

  EXPECT_EQ(h.api("/v1/users/nobody").status, 404U);
  EXPECT_EQ(h.api("/v1/users/").status, 400U);
  EXPECT_EQ(h.api("/v1/users/a%zz").status, 400U);
  EXPECT_EQ(h.api("/v1/nothing").status, 404U);
  const AdminServer::Response recs = h.api("/v1/recommendations/dave");
  ASSERT_EQ(recs.status, 200U) << recs.body;
  const nlohmann::json on_demand = nlohmann::json::parse(recs.body);
  for (const auto& item : on_demand["items"]) {
    EXPECT_NE(item["item"], "i0");  // seen
    EXPECT_NE(item["item"], "i4");
  }
  const AdminServer::Response cold = h.api("/v1/recommendations/newcomer");
  ASSERT_EQ(cold.status, 200U) << cold.body;
  EXPECT_FALSE(nlohmann::json::parse(cold.body)["items"].empty());
  const AdminServer::Response weights = h.api("/v1/weights");
  ASSERT_EQ(weights.status, 200U) << weights.body;
  const nlohmann::json w = nlohmann::json::parse(weights.body);
  EXPECT_TRUE(w["segments"].contains("global"));
  EXPECT_TRUE(w["variants"].contains("holdout"));
  EXPECT_EQ(w["partitions"].size(), static_cast<std::size_t>(kPartitions));
  pipeline->Stop();
  EXPECT_EQ(pipeline->Wait(), 0);
}

// state.max_bytes: users are evicted (least recently active first) and everyone still gets lists.
TEST_F(PipelineTest, BoundsStateMemoryByEvictingUsers) {
  ProduceCatalog(8);
  constexpr int kUsers = 60;
  for (int u = 0; u < kUsers; ++u) ProduceEvent("u" + std::to_string(u), "i1", kT0 + u * 1000);
  Flush();
  auto pipeline = StartPipeline(MakeConfig("g8", {"state.max_bytes=20000"}));
  ASSERT_NE(pipeline, nullptr);
  const PipelineStats& st = pipeline->stats();
  ASSERT_TRUE(WaitFor([&] { return st.lists_delivered.load() >= kUsers; }));
  // Measured every 5 s.
  ASSERT_TRUE(WaitFor([&] { return st.evicted_lru.load() + st.evicted_negligible.load() > 0; }));
  // Within one round of measurements of every worker, the instance is under the bound.
  EXPECT_TRUE(WaitFor([&] { return st.user_state_bytes.load() <= 20000; }, std::chrono::seconds(8)))
      << st.user_state_bytes.load();
  // A worker reports its users after the evictions and bytes it counts: wait for that too.
  EXPECT_TRUE(WaitFor([&] { return st.users.load() < kUsers; })) << st.users.load();
  pipeline->Stop();
  EXPECT_EQ(pipeline->Wait(), 0);
  EXPECT_EQ(st.Applied(), static_cast<std::uint64_t>(kUsers));
}

// Durability: a restart reads each partition's state back from the changelog before its events,
// so the state equals an uninterrupted replay of every event (compared by state digest).
// Runs a pipeline over three rounds of events of 10 users and stops it; `between` then acts (on
// state.dir, say); a fourth round follows and a second pipeline starts. Every user's state digest
// on the second must equal an uninterrupted replay of all four rounds, and only the new events may
// be applied. Returns the second pipeline's restore counters.
RestartCounts PipelineTest::RestartAndCompare(const std::string& group,
                                              const std::vector<std::string>& sets,
                                              const std::function<void()>& between) {
  RestartCounts counts;
  ProduceCatalog(8);
  constexpr int kUsers = 10;
  stream::ReplayInput input;
  for (int i = 0; i < 8; ++i) input.items.push_back(Item("i" + std::to_string(i), i % 4));
  const auto event = [&](int u, int round) {
    const std::string user = "u" + std::to_string(u);
    const std::string item = "i" + std::to_string((u + round) % 8);
    const std::int64_t ts = kT0 + round * 1000 + u;
    ProduceEvent(user, item, ts);
    Event e;
    e.user = UserId(user);
    e.item = ItemId(item);
    e.ts = {ts};
    input.events.push_back(e);
  };
  for (int round = 0; round < 3; ++round) {
    for (int u = 0; u < kUsers; ++u) event(u, round);
  }
  Flush();
  std::vector<std::string> first_sets = sets;
  first_sets.emplace_back("state.flush_interval=100ms");
  {
    auto first = StartPipeline(MakeConfig(group, first_sets));
    if (first == nullptr) return counts;
    EXPECT_TRUE(WaitFor([&] { return first->stats().Applied() == 3 * kUsers; }));
    EXPECT_TRUE(WaitFor([&] { return first->stats().changelog_upserts.load() >= kUsers; }));
    first->Stop();
    EXPECT_EQ(first->Wait(), 0);
    counts.snapshots_written = first->stats().snapshots_written.load();
  }
  if (between) between();
  for (int u = 0; u < kUsers; ++u) event(u, 3);
  Flush();
  auto second = StartPipeline(MakeConfig(group, sets));
  if (second == nullptr) return counts;
  const PipelineStats& st = second->stats();
  EXPECT_TRUE(WaitFor([&] { return st.Applied() == kUsers; }));  // only the new events
  EXPECT_EQ(st.restoring_partitions.load(), 0);
  const Config& config = second->config();
  const ReplayReport replayed = RunReplay(input, EngineOptionsFromConfig(config),
                                          config.event_types, 10, 0, {}, /*state_digests=*/true,
                                          ReplayOrder::kInput);  // as produced: log order
  EXPECT_EQ(replayed.state_digests.size(), static_cast<std::size_t>(kUsers));
  std::atomic<Pipeline*> current{second.get()};
  const AdminServer::Handlers h = PipelineHandlers(current);
  for (const auto& [user, digest] : replayed.state_digests) {
    const AdminServer::Response r = h.api("/v1/users/" + user);
    EXPECT_EQ(r.status, 200U) << user << " " << r.body;
    if (r.status != 200U) continue;
    const nlohmann::json j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["digest"], digest) << user;
    EXPECT_EQ(j["events"], 4) << user;
  }
  // The whole instance at once: exactly the replay's users, each with the replay's digest.
  const AdminServer::Response all = h.api("/v1/state/digests");
  EXPECT_EQ(all.status, 200U) << all.body;
  using Digests = std::map<std::string, std::string>;
  const Digests expected(replayed.state_digests.begin(), replayed.state_digests.end());
  EXPECT_EQ(nlohmann::json::parse(all.body)["digests"].get<Digests>(), expected);
  second->Stop();
  EXPECT_EQ(second->Wait(), 0);
  counts.restored_records = st.restored_records.load();
  counts.snapshots_loaded = st.snapshots_loaded.load();
  counts.snapshots_ignored = st.snapshots_ignored.load();
  return counts;
}

TEST_F(PipelineTest, RestartRestoresStateFromTheChangelog) {
  const RestartCounts n = RestartAndCompare("g9", {});
  EXPECT_GE(n.restored_records, 10U);
  EXPECT_EQ(n.snapshots_written, 0U);
  EXPECT_EQ(n.snapshots_loaded, 0U);
}

// With state.dir, a clean stop leaves a snapshot of every partition that has users, and the
// restart reads them instead of the changelog (nothing was written to it after them).
TEST_F(PipelineTest, RestartRestoresFromSnapshotsAndTheChangelogAfterThem) {
  testing::TempDir dir;
  const RestartCounts n = RestartAndCompare("g11", {"state.dir=" + dir.path().string()});
  EXPECT_GE(n.snapshots_written, 1U);
  EXPECT_EQ(n.snapshots_loaded, n.snapshots_written);
  EXPECT_EQ(n.snapshots_ignored, 0U);
  EXPECT_EQ(n.restored_records, 0U);
}

// A corrupt snapshot is detected, logged and ignored: the restore reads the whole changelog and
// ends in the same state.
TEST_F(PipelineTest, ACorruptSnapshotIsIgnoredAndTheChangelogRestoresEverything) {
  testing::TempDir dir;
  std::size_t corrupted = 0;
  const RestartCounts n = RestartAndCompare("g12", {"state.dir=" + dir.path().string()}, [&] {
    for (const auto& f : std::filesystem::directory_iterator(dir.path())) {
      std::fstream file(f.path(), std::ios::in | std::ios::out | std::ios::binary);
      file.seekp(static_cast<std::streamoff>(std::filesystem::file_size(f.path()) / 2));
      file.put('\x5a');
      ++corrupted;
    }
  });
  EXPECT_GE(corrupted, 1U);
  EXPECT_EQ(n.snapshots_ignored, corrupted);
  EXPECT_EQ(n.snapshots_loaded, 0U);
  EXPECT_GE(n.restored_records, 10U);
}

// A snapshot that claims more of the changelog than there is (the topic was recreated, say) is
// not trusted: the restore reads the whole changelog. (It claims more than the new owner's own
// fence, too, so it is ignored before the changelog is read.)
TEST_F(PipelineTest, ASnapshotAheadOfTheChangelogIsIgnored) {
  testing::TempDir dir;
  const RestartCounts n = RestartAndCompare("g13", {"state.dir=" + dir.path().string()}, [&] {
    for (std::int32_t p = 0; p < kPartitions; ++p) {
      state::SnapshotHeader header{"changelog", p, 1'000'000,
                                   std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count(),
                                   0};
      auto w = state::SnapshotWriter::Create(
          (dir.path() / state::SnapshotFileName("changelog", p, 1'000'000)).string(), header);
      ASSERT_TRUE(w) << w.error();
      ASSERT_TRUE(w->Commit());
    }
  });
  EXPECT_EQ(n.snapshots_ignored, static_cast<std::uint64_t>(kPartitions));
  EXPECT_GE(n.restored_records, 10U);
}

// A changelog record of a newer state version (written by a newer recsd) stops the pipeline with
// a clear error rather than dropping that state.
TEST_F(PipelineTest, ANewerStateVersionInTheChangelogStopsThePipelineClearly) {
  ProduceCatalog(8);
  auto catalog_builder = model::CatalogBuilder(kDim);
  const auto catalog = catalog_builder.Build();
  std::string record = state::EncodeUserState(UserId("zed"), model::UserStateParts{}, *catalog);
  ASSERT_EQ(record.substr(1, 3), std::string("\xa1v\x02"));  // {"v": 2, ...}
  record[3] = 3;
  stream::OutgoingMessage m;
  m.topic = "changelog";
  m.partition = 1;
  m.key = "zed";
  m.value = record;
  ASSERT_EQ(stream::Produce(producer_.get(), m), RD_KAFKA_RESP_ERR_NO_ERROR);
  Flush();
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  spdlog::default_logger()->sinks().push_back(sink);
  auto pipeline = StartPipeline(MakeConfig("g10"));
  ASSERT_NE(pipeline, nullptr);
  ASSERT_TRUE(WaitFor([&] { return pipeline->stopping(); }));
  EXPECT_EQ(pipeline->Wait(), 1);
  spdlog::default_logger()->sinks().pop_back();
  EXPECT_NE(log.str().find("restore of changelog [1] at offset 0: user state: version 3 is not "
                           "supported (this build reads 1 to 2)"),
            std::string::npos)
      << log.str();
}

TEST_F(PipelineTest, ItemUpsertsAndDeletesReachLaterLists) {
  ProduceCatalog(8);  // clusters 0..3, two items each: i0,i4 in cluster 0
  auto pipeline = StartPipeline(MakeConfig(
      "g3", {"pipeline.catalog_publish_interval=50ms", "pipeline.min_refresh_interval=0ms"}));
  ASSERT_NE(pipeline, nullptr);
  EXPECT_EQ(pipeline->stats().catalog_items.load(), 8);
  ProduceEvent("carol", "i0", kT0);
  Flush();
  ASSERT_TRUE(WaitFor([&] { return pipeline->stats().lists_delivered.load() >= 1; }));
  // i4 (cluster 0, like what carol saw) is deleted; a new item of cluster 0 arrives.
  Produce("items", "i4", std::nullopt);
  ProduceItem("fresh0", 0);
  Flush();
  ASSERT_TRUE(WaitFor([&] { return pipeline->stats().catalog_items.load() == 8; }));
  ASSERT_TRUE(WaitFor([&] { return pipeline->stats().items_applied.load() == 10; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the next snapshot is taken
  ProduceEvent("carol", "i1", kT0 + 5000);
  Flush();
  ASSERT_TRUE(WaitFor([&] { return pipeline->stats().lists_delivered.load() >= 2; }));
  pipeline->Stop();
  EXPECT_EQ(pipeline->Wait(), 0);
  const std::vector<RecommendationList> lists = Lists();
  ASSERT_EQ(lists.size(), 2U);
  const auto has = [](const RecommendationList& l, const std::string& id) {
    for (const auto& i : l.items) {
      if (i.item.str() == id) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(lists[0], "i4"));
  EXPECT_FALSE(has(lists[0], "fresh0"));
  EXPECT_FALSE(has(lists[1], "i4"));
  EXPECT_TRUE(has(lists[1], "fresh0"));
}

TEST_F(PipelineTest, RestartResumesFromTheCommittedOffsetsSkippingNothing) {
  ProduceCatalog(8);
  for (int u = 0; u < 20; ++u) ProduceEvent("u" + std::to_string(u), "i1", kT0);
  Flush();
  {
    auto first = StartPipeline(MakeConfig("g4"));
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(WaitFor([&] { return first->stats().lists_delivered.load() == 20; }));
    first->Stop();
    EXPECT_EQ(first->Wait(), 0);
  }
  for (int u = 0; u < 20; ++u) ProduceEvent("u" + std::to_string(u), "i2", kT0 + 1000);
  Flush();
  auto second = StartPipeline(MakeConfig("g4"));
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(WaitFor([&] { return second->stats().lists_delivered.load() == 20; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  second->Stop();
  EXPECT_EQ(second->Wait(), 0);
  // Only the new events: the first run's were committed.
  EXPECT_EQ(second->stats().events_consumed.load(), 20U);
  EXPECT_EQ(Lists().size(), 40U);
}

TEST_F(PipelineTest, PausesPartitionsWhenAWorkerQueueIsFullAndLosesNothing) {
  ProduceCatalog(8);
  constexpr int kEvents = 3000;
  for (int i = 0; i < kEvents; ++i) {
    ProduceEvent("u" + std::to_string(i % 50), "i" + std::to_string(i % 8), kT0 + i);
  }
  Flush();
  // No wait before pausing: the pause path itself is under test.
  auto pipeline =
      StartPipeline(MakeConfig("g5", {"pipeline.queue_capacity=200", "pipeline.pause_after=0ms"}));
  ASSERT_NE(pipeline, nullptr);
  // librdkafka 2.0.2 (bookworm's) may fetch a resumed or incrementally assigned partition again
  // from an earlier offset (confluentinc/librdkafka#4637, #4686): a whole partition was seen twice
  // in CI. Re-delivered events must be skipped, not applied twice, so wait for every event applied
  // and count every consumed one as applied or a duplicate.
  ASSERT_TRUE(WaitFor([&] { return pipeline->stats().Applied() == kEvents; }));
  pipeline->Stop();
  EXPECT_EQ(pipeline->Wait(), 0);
  const PipelineStats& st = pipeline->stats();
  EXPECT_GT(st.pauses.load(), 0U);
  EXPECT_EQ(st.paused_partitions.load(), 0);
  EXPECT_EQ(st.Applied(), static_cast<std::uint64_t>(kEvents));
  EXPECT_EQ(st.events_consumed.load(),
            st.Applied() + st.Counted(PipelineStats::Result::kDuplicate));
  // Every user's last list names its last event.
  std::map<std::string, std::int64_t> last_ts;
  for (const RecommendationList& l : Lists()) last_ts[l.user.str()] = l.event_ts.ms;
  ASSERT_EQ(last_ts.size(), 50U);
  for (int u = 0; u < 50; ++u) {
    EXPECT_EQ(last_ts["u" + std::to_string(u)], kT0 + kEvents - 50 + u);
  }
}

// Two members of one group under a steady stream: the second joins (partitions move to it), then
// the first leaves. Every event is applied by exactly one of them and every user's last list names
// the user's last event.
TEST_F(PipelineTest, ARebalanceBetweenTwoConsumersLosesNothing) {
  ProduceCatalog(8);
  constexpr int kUsers = 40;
  std::atomic<bool> producing{true};
  std::atomic<int> produced{0};
  std::thread load([&] {
    for (int i = 0; producing.load(); ++i) {
      ProduceEvent("u" + std::to_string(i % kUsers), "i" + std::to_string(i % 8), kT0 + i);
      produced.fetch_add(1);
      if (i % 20 == 19) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  auto a = StartPipeline(MakeConfig("g6"));
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor([&] { return a->stats().events_consumed.load() > 200; }));
  auto b = StartPipeline(MakeConfig("g6"));
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitFor([&] { return b->stats().events_consumed.load() > 200; }));
  EXPECT_GT(a->stats().assigned_partitions.load(), 0);
  EXPECT_GT(b->stats().assigned_partitions.load(), 0);
  a->Stop();  // its partitions move back to b
  EXPECT_EQ(a->Wait(), 0);
  ASSERT_TRUE(WaitFor([&] { return b->stats().assigned_partitions.load() == kPartitions; }));
  producing.store(false);
  load.join();
  Flush();
  const auto total = static_cast<std::uint64_t>(produced.load());
  ASSERT_TRUE(WaitFor([&] { return a->stats().Applied() + b->stats().Applied() >= total; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  b->Stop();
  EXPECT_EQ(b->Wait(), 0);
  // Redelivery after a handover is allowed (at-least-once) but the committed offsets make it
  // rare here; a duplicate is never applied twice to one state (different owners hold different
  // states, so what counts is that nothing is missing).
  EXPECT_GE(a->stats().Applied() + b->stats().Applied(), total);
  std::map<std::string, std::int64_t> last_ts;
  for (const RecommendationList& l : Lists()) {
    last_ts[l.user.str()] = std::max(last_ts[l.user.str()], l.event_ts.ms);
  }
  ASSERT_EQ(last_ts.size(), static_cast<std::size_t>(kUsers));
  const int n = produced.load();
  for (int u = 0; u < kUsers; ++u) {
    // The user's last event is the largest i < n with i % kUsers == u.
    const int last = (n - 1) - (((n - 1) % kUsers) - u + kUsers) % kUsers;
    EXPECT_EQ(last_ts["u" + std::to_string(u)], kT0 + last) << "u" << u;
  }
}

// Global statistics: every partition ranks from every partition's aggregates, and a partition's
// aggregates move with it. Users u0..u11 each view only their own item and the next one (u<k>
// views i<k> then i<k+1 mod 12>), so without topics.model_stats a partition knows only the items,
// transitions and learned vectors of its own users.
TEST_F(PipelineTest, GlobalStatisticsReachEveryPartitionAndMoveWithThePartitions) {
  ProduceCatalog(12);
  constexpr int kUsers = 12;
  const auto next = [](int k) { return "i" + std::to_string((k + 1) % kUsers); };
  for (int round = 0; round < 5; ++round) {
    for (int u = 0; u < kUsers; ++u) {
      const std::int64_t t = kT0 + round * 1000 + 2 * u;
      ProduceEvent("u" + std::to_string(u), "i" + std::to_string(u), t);
      if (round == 0) ProduceEvent("u" + std::to_string(u), next(u), t + 1);
    }
  }
  Flush();
  const std::vector<std::string> sets = {"state.model_stats_interval=200ms",
                                         "pipeline.catalog_publish_interval=100ms"};
  auto a = StartPipeline(MakeConfig("g-stats", sets));
  ASSERT_NE(a, nullptr);
  auto b = StartPipeline(MakeConfig("g-stats", sets));
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitFor([&] {
    return a->stats().assigned_partitions.load() > 0 && b->stats().assigned_partitions.load() > 0 &&
           a->stats().Applied() + b->stats().Applied() >= 6 * kUsers;
  }));
  // Per partition of a pipeline: the items its engine knows a popularity of, and those known only
  // from its own events (popularity minus the peers').
  struct Seen {
    std::set<std::string> known;
    std::set<std::string> own;
    std::set<std::string> users;
    // Other partitions' users k whose transition i<k> → i<k+1> and learned vector of i<k> the
    // partition's peers share.
    std::set<int> peer_transitions;
    std::set<int> peer_vectors;
  };
  const auto seen = [&](const Pipeline& p) {
    auto result = std::make_shared<std::map<std::int32_t, Seen>>();
    auto mu = std::make_shared<std::mutex>();
    const bool visited = p.Visit(
        [result, mu, next](std::int32_t partition, model::Engine& engine, TimestampMs /*now*/) {
          // A fixed time: a partition that has had no event since it moved has no clock yet.
          const TimestampMs at{kT0 + 5000};
          Seen s;
          for (int k = 0; k < kUsers; ++k) {
            const ItemId item("i" + std::to_string(k));
            const double all = engine.Popularity(item, at);
            const model::SourcePeers* popularity =
                engine.peer_stats() ? engine.peer_stats()->Find("popularity") : nullptr;
            const double peers =
                popularity ? popularity->ItemValue(item, at.ms / 1000.0, partition) : 0.0;
            if (all > 0) s.known.insert(item.str());
            if (all - peers > 1e-9 * all) s.own.insert(item.str());
            if (engine.FindUser(UserId("u" + std::to_string(k)))) {
              s.users.insert("u" + std::to_string(k));
            }
            const model::SourcePeers* sequence =
                engine.peer_stats() ? engine.peer_stats()->Find("sequence") : nullptr;
            if (sequence != nullptr) {
              sequence->ForEachEdge(item, at.ms / 1000.0, partition,
                                    [&](const ItemId& to, double w) {
                                      if (to.str() == next(k) && w > 0)
                                        s.peer_transitions.insert(k);
                                    });
            }
          }
          const model::SourcePeers* vectors =
              engine.peer_stats() ? engine.peer_stats()->Find("embedding") : nullptr;
          if (vectors != nullptr) {
            vectors->ForEachVector(
                at.ms / 1000.0, partition,
                [&](const ItemId& item, double mass, std::span<const float>, double) {
                  if (mass > 0) s.peer_vectors.insert(std::stoi(item.str().substr(1)));
                });
          }
          std::lock_guard lock(*mu);
          (*result)[partition] = std::move(s);
        },
        std::chrono::seconds(5));
    EXPECT_TRUE(visited);
    std::lock_guard lock(*mu);
    return *result;
  };
  const auto everything_everywhere = [&] {
    for (const Pipeline* p : {a.get(), b.get()}) {
      const auto parts = seen(*p);
      for (const auto& [partition, s] : parts) {
        if (s.known.size() != static_cast<std::size_t>(kUsers)) return false;
        // Every other partition's users' transitions and learned vectors arrived.
        for (int k = 0; k < kUsers; ++k) {
          const std::string user = "u" + std::to_string(k);
          if (s.users.count(user) != 0) continue;  // its own: not a peer's
          if (s.peer_transitions.count(k) == 0 || s.peer_vectors.count(k) == 0) return false;
        }
      }
    }
    return true;
  };
  EXPECT_TRUE(WaitFor(everything_everywhere, std::chrono::seconds(20)))
      << "some partition does not see every partition's popular items, transitions and vectors";
  EXPECT_GT(a->stats().model_stats_delivered.load(), 0U);
  EXPECT_GT(b->stats().model_stats_merged.load(), 0U);
  EXPECT_EQ(a->stats().model_stats_invalid.load(), 0U);

  // a leaves: its partitions move to b, which starts each from a's hand-over record. No event
  // comes after, so what a moved partition knows of its own users' items came with it.
  const std::map<std::int32_t, Seen> before = seen(*a);
  ASSERT_FALSE(before.empty());
  a->Stop();
  EXPECT_EQ(a->Wait(), 0);
  ASSERT_TRUE(WaitFor([&] {
    return b->stats().assigned_partitions.load() == kPartitions &&
           b->stats().restoring_partitions.load() == 0;
  }));
  const std::map<std::int32_t, Seen> after = seen(*b);
  for (const auto& [partition, was] : before) {
    ASSERT_TRUE(after.count(partition)) << partition;
    const Seen& now = after.at(partition);
    EXPECT_EQ(now.users, was.users) << "partition " << partition;
    // Each of its users' items is its own again, not a peer's.
    for (const std::string& user : was.users) {
      EXPECT_TRUE(now.own.count("i" + user.substr(1))) << "partition " << partition << " " << user;
    }
    EXPECT_EQ(now.known.size(), static_cast<std::size_t>(kUsers)) << "partition " << partition;
  }
  b->Stop();
  EXPECT_EQ(b->Wait(), 0);
}

}  // namespace
}  // namespace recsd::daemon
