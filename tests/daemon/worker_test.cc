// The worker and dispatcher of `recsd run` driven through a fake transport and a fake clock: no
// broker, no sleeps. What only a broker shows (rebalance protocols, commits, the mock cluster's
// faults) is in tests/integration/pipeline_test.cc and tests/e2e/.

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/config/config.h"
#include "daemon/config/engine_setup.h"
#include "daemon/run/dispatcher.h"
#include "daemon/run/outputs.h"
#include "daemon/run/references.h"
#include "daemon/run/shutdown.h"
#include "daemon/run/weights_board.h"
#include "daemon/run/worker.h"
#include "model/catalog.h"
#include "state/changelog_fence.h"
#include "stream/event_codec.h"
#include "stream/recommendation_codec.h"
#include "tests/daemon/fake_transport.h"
#include "tests/daemon/pipeline_config.h"
#include "tests/daemon/temp_dir.h"

namespace recsd::daemon {
namespace {

using recsd::testing::FakeClock;
using recsd::testing::FakeTransport;
using recsd::testing::Message;

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::size_t kDim = 8;

Config MakeConfig(std::vector<std::string> sets) {
  sets.insert(sets.begin(), {"pipeline.workers=1", "state.flush_interval=100ms"});
  return recsd::testing::PipelineTestConfig("fake:9092", "worker-test", sets);
}

std::shared_ptr<const model::Catalog> MakeCatalog(int items) {
  model::CatalogBuilder builder(kDim);
  for (int i = 0; i < items; ++i) {
    ItemRecord r;
    r.item = ItemId("i" + std::to_string(i));
    r.emb.assign(kDim, 0.05F);
    r.emb[static_cast<std::size_t>(i) % kDim] = 1.0F;
    r.cat = "c" + std::to_string(i % 4);
    r.ts = {kT0};
    builder.Upsert(r);
  }
  return builder.Build();
}

// One pipeline's worth of shared parts around a fake transport, with `workers` workers whose
// threads do not run unless a test starts them: the test drives them with Drain.
class Harness {
 public:
  explicit Harness(const std::vector<std::string>& sets = {}, std::size_t workers = 1)
      : config_(MakeConfig(sets)),
        options_(EngineOptionsFromConfig(config_)),
        stats_(10),
        warnings_(clock_),
        shutdown_(clock_),
        transport_(config_.topics.changelog),
        outputs_(transport_, clock_, stats_, warnings_, shutdown_, config_.topics.dlq,
                 config_.pipeline.dead_letter_max_bytes),
        weights_(workers) {
    transport_.delivered = [this](void* opaque, const DeliveryReport& r) {
      outputs_.Delivered(opaque, r);
    };
    references_.SetCatalog(MakeCatalog(40));
    for (std::size_t w = 0; w < workers; ++w) AddWorker();
  }
  // What is still in flight fails, as the real transport's purge at shutdown reports it: every
  // Delivery is freed.
  ~Harness() { transport_.AckAll(/*ok=*/false); }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  Worker& AddWorker() {
    const WorkerContext context{config_,  options_,  stats_,   warnings_, references_, transport_,
                                outputs_, shutdown_, weights_, clock_,    liveness_};
    workers_.push_back(std::make_unique<Worker>(context, workers_.size()));
    return *workers_.back();
  }
  Dispatcher MakeDispatcher() {
    std::vector<Worker*> ws;
    for (auto& w : workers_) ws.push_back(w.get());
    return Dispatcher(config_, stats_, warnings_, transport_, shutdown_, clock_, liveness_, ws);
  }

  Worker& worker(std::size_t i = 0) { return *workers_[i]; }
  FakeClock& clock() { return clock_; }
  FakeTransport& transport() { return transport_; }
  PipelineStats& stats() { return stats_; }
  Shutdown& shutdown() { return shutdown_; }

  void Assign(std::int32_t p, std::size_t w = 0) {
    stats_.restoring_partitions.fetch_add(1);
    worker(w).Queue().Push(Control{Control::Kind::kAssign, p, nullptr, nullptr});
    worker(w).Drain();
  }
  // Queues a revoke (or a loss) and handles it; true when the worker said it was done.
  bool Revoke(std::int32_t p, std::size_t w = 0, Control::Kind kind = Control::Kind::kRevoke) {
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> handed = done->get_future();
    worker(w).Queue().Push(Control{kind, p, std::move(done), nullptr});
    worker(w).Drain();
    return handed.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
  static std::string EventBytes(const std::string& user, const std::string& item, std::int64_t ts) {
    Event e;
    e.user = UserId(user);
    e.item = ItemId(item);
    e.ts = {ts};
    return stream::EncodeEvent(e, EventTypeTable());
  }
  void Queue(std::int32_t p, std::int64_t offset, const std::string& user, const std::string& item,
             std::size_t w = 0) {
    worker(w).Queue().Push(Message("ev", p, offset, user, EventBytes(user, item, kT0 + offset)));
  }
  // Lets the refresh interval pass and runs one round: everything queued, then a tick.
  void Round(std::size_t w = 0) {
    clock_.Advance(config_.pipeline.refresh_interval);
    worker(w).Drain();
  }
  // The user records written to the changelog so far (its fence records left out).
  std::size_t ChangelogUsers() const {
    std::size_t n = 0;
    for (const auto& m : transport_.On("changelog")) n += m.headers.count("recsd.fence") == 0;
    return n;
  }
  // The users of the lists produced so far, in order.
  std::vector<std::string> ListUsers() const {
    std::vector<std::string> users;
    for (const auto& m : transport_.On("recs")) users.push_back(m.key);
    return users;
  }

 private:
  FakeClock clock_;
  Config config_;
  model::EngineOptions options_;
  PipelineStats stats_;
  RateLimitedWarnings warnings_;
  Shutdown shutdown_;
  References references_;
  FakeTransport transport_;
  Liveness liveness_{clock_, std::chrono::seconds(45)};
  Outputs outputs_;
  WeightsBoard weights_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

TEST(WorkerTest, PublishesAListPerUserAndStoresTheOffsetAfterTheLastEvent) {
  Harness h;
  h.Assign(0);
  h.Queue(0, 0, "u1", "i1");
  h.Queue(0, 1, "u2", "i2");
  h.Queue(0, 2, "u1", "i3");
  h.Round();
  const std::vector<std::string> users = h.ListUsers();
  ASSERT_EQ(users.size(), 2U);
  EXPECT_EQ(std::set<std::string>(users.begin(), users.end()), (std::set<std::string>{"u1", "u2"}));
  auto list = stream::DecodeRecommendationList(*h.transport().On("recs")[0].value);
  ASSERT_TRUE(list);
  EXPECT_FALSE(list->items.empty());
  // Stored only once the changelog writes (every flush_interval) are acknowledged too.
  EXPECT_FALSE(h.transport().stored(0).has_value() && *h.transport().stored(0) > 0);
  h.clock().Advance(std::chrono::milliseconds(100));
  h.Round();
  EXPECT_EQ(h.transport().stored(0), 3);
  EXPECT_EQ(h.stats().Applied(), 3U);
}

TEST(WorkerTest, DeadLettersABadEventWithItsReasonAndGoesOn) {
  Harness h;
  h.Assign(0);
  h.worker().Queue().Push(Message("ev", 0, 0, "u1", std::string("\xc1 not an event")));
  h.worker().Queue().Push(Message("ev", 0, 1, "u2", Harness::EventBytes("u1", "i1", kT0)));
  h.Queue(0, 2, "u3", "i2");
  h.clock().Advance(std::chrono::milliseconds(100));
  h.Round();
  const auto dead = h.transport().On("dlq");
  ASSERT_EQ(dead.size(), 2U);
  EXPECT_EQ(dead[0].headers.at("recsd.error.reason"), "malformed");
  EXPECT_EQ(dead[0].headers.at("recsd.source.topic"), "ev");
  EXPECT_EQ(dead[0].headers.at("recsd.source.partition"), "0");
  EXPECT_EQ(dead[0].headers.at("recsd.source.offset"), "0");
  EXPECT_EQ(*dead[0].value, "\xc1 not an event");
  EXPECT_EQ(dead[1].headers.at("recsd.error.reason"), "key_mismatch");
  EXPECT_EQ(dead[1].key, "u2");
  EXPECT_EQ(h.ListUsers(), std::vector<std::string>{"u3"});  // the partition kept moving
  EXPECT_EQ(h.stats().DeadLettered(), 2U);
  h.Round();
  EXPECT_EQ(h.transport().stored(0), 3);  // past the dead letters once they are acknowledged
}

// A message of 1 MB or 10 MB is dead-lettered without being decoded, its value cut to
// pipeline.dead_letter_max_bytes so that it fits the topic, its size in a header. Before, it was
// decoded and dead-lettered whole: too large for the topic, so the dead letter failed, the
// pipeline stopped and every restart met the same event (a poison pill).
TEST(WorkerTest, DeadLettersAnOversizedEventCutToFitWithItsOriginalSize) {
  Harness h;
  h.Assign(0);
  h.worker().Queue().Push(Message("ev", 0, 0, "u1", std::string(1'000'000, 'x')));
  h.worker().Queue().Push(Message("ev", 0, 1, "u2", std::string(10'000'000, 'y')));
  h.Queue(0, 2, "u3", "i2");
  h.clock().Advance(std::chrono::milliseconds(100));
  h.Round();
  const auto dead = h.transport().On("dlq");
  ASSERT_EQ(dead.size(), 2U);
  for (const auto& d : dead) {
    EXPECT_EQ(d.headers.at("recsd.error.reason"), "too_large");
    EXPECT_EQ(d.value->size(), 65536U);  // pipeline.dead_letter_max_bytes
  }
  EXPECT_EQ(dead[0].headers.at("recsd.source.size"), "1000000");
  EXPECT_EQ(dead[1].headers.at("recsd.source.size"), "10000000");
  EXPECT_EQ(h.ListUsers(), std::vector<std::string>{"u3"});
  h.Round();
  EXPECT_EQ(h.transport().stored(0), 3);
}

// A dead letter that cannot be sent (refused at once, or its delivery failed) is counted and
// skipped: bad input never stops the pipeline or blocks its partition. Before, either was fatal.
TEST(WorkerTest, ADeadLetterThatCannotBeSentIsCountedAndSkipped) {
  for (const bool refused : {true, false}) {
    SCOPED_TRACE(refused ? "refused" : "delivery failed");
    Harness h;
    h.Assign(0);
    if (refused) {
      h.transport().refuse_topics.insert("dlq");
    } else {
      h.transport().auto_ack = false;
    }
    h.worker().Queue().Push(Message("ev", 0, 0, "u1", std::string("\xc1 not an event")));
    h.Round();
    h.transport().AckAll(/*ok=*/false);
    h.Round();
    EXPECT_FALSE(h.shutdown().failed());
    EXPECT_EQ(h.stats().dead_letter_failures.load(), 1U);
    EXPECT_EQ(h.transport().stored(0), 1);
  }
}

// The producer chooses a user's partition by the key: an event without one may land anywhere,
// splitting the user's state. Before, the key check passed it.
TEST(WorkerTest, DeadLettersAnEventWithoutAKey) {
  Harness h;
  h.Assign(0);
  h.worker().Queue().Push(Message("ev", 0, 0, std::nullopt, Harness::EventBytes("u1", "i1", kT0)));
  h.Round();
  const auto dead = h.transport().On("dlq");
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(dead[0].headers.at("recsd.error.reason"), "null_key");
  EXPECT_TRUE(h.ListUsers().empty());
}

// An event dated far after the wall clock would move the partition's clock (the time every list
// is ranked at) into the future: dead-lettered. One within pipeline.max_event_future (1 h) is
// applied. Before, a 2099 event was applied and every list of the partition lost its
// time-decayed sources.
TEST(WorkerTest, DeadLettersAnEventDatedFarAfterTheWallClock) {
  Harness h;
  h.Assign(0);
  const std::int64_t now = h.clock().WallMs();
  h.worker().Queue().Push(
      Message("ev", 0, 0, "u1", Harness::EventBytes("u1", "i1", 4'070'908'800'000)));  // 2099
  h.worker().Queue().Push(
      Message("ev", 0, 1, "u2", Harness::EventBytes("u2", "i1", now + 7'200'000)));
  h.worker().Queue().Push(
      Message("ev", 0, 2, "u3", Harness::EventBytes("u3", "i1", now + 1'800'000)));
  h.Round();
  const auto dead = h.transport().On("dlq");
  ASSERT_EQ(dead.size(), 2U);
  EXPECT_EQ(dead[0].headers.at("recsd.error.reason"), "future_timestamp");
  EXPECT_EQ(dead[1].key, "u2");
  EXPECT_EQ(h.ListUsers(), std::vector<std::string>{"u3"});
}

// `forget` erases the user's state, and their last list in the recommendations topic: a
// tombstone under their key. Before, the list stayed, readable by anyone who read the topic.
TEST(WorkerTest, AForgetEventDeletesTheUsersLastListWithATombstone) {
  Harness h;
  h.Assign(0);
  h.Queue(0, 0, "u1", "i1");
  h.Round();
  ASSERT_EQ(h.ListUsers(), std::vector<std::string>{"u1"});
  Event forget;
  forget.user = UserId("u1");
  forget.type = EventTypeTable().Find("forget").value();
  forget.ts = {kT0 + 1};
  h.worker().Queue().Push(Message("ev", 0, 1, "u1", stream::EncodeEvent(forget, EventTypeTable())));
  h.clock().Advance(std::chrono::milliseconds(100));
  h.Round();
  const auto recs = h.transport().On("recs");
  ASSERT_EQ(recs.size(), 2U);
  EXPECT_EQ(recs[1].key, "u1");
  EXPECT_FALSE(recs[1].value.has_value()) << "not a tombstone";
  EXPECT_EQ(h.stats().list_tombstones.load(), 1U);
  EXPECT_EQ(h.worker().engine(0)->users(), 0U);
  h.Round();
  EXPECT_EQ(h.transport().stored(0), 2);
}

TEST(WorkerTest, StoresNoOffsetAtOrPastAnUnacknowledgedOutput) {
  Harness h;
  h.Assign(0);  // its fence acknowledged
  h.transport().auto_ack = false;
  h.Queue(0, 0, "u1", "i1");
  h.Queue(0, 1, "u2", "i2");
  h.clock().Advance(std::chrono::milliseconds(100));
  h.Round();
  ASSERT_EQ(h.ListUsers().size(), 2U);
  h.Round();
  EXPECT_FALSE(h.transport().stored(0).has_value() && *h.transport().stored(0) > 0)
      << "stored " << *h.transport().stored(0) << " before the lists were acknowledged";
  h.transport().AckAll();
  h.Round();
  EXPECT_EQ(h.transport().stored(0), 2);
}

TEST(WorkerTest, AFailedDeliveryFailsThePipelineAndNothingPastItIsEverStored) {
  Harness h;
  h.Assign(0);  // its fence acknowledged
  h.transport().auto_ack = false;
  h.Queue(0, 0, "u1", "i1");
  h.Round();
  h.transport().AckAll(/*ok=*/false);
  EXPECT_TRUE(h.shutdown().failed());
  h.Queue(0, 1, "u2", "i2");
  h.clock().Advance(std::chrono::milliseconds(100));
  h.Round();
  h.transport().AckAll();
  h.Round();
  EXPECT_FALSE(h.transport().stored(0).has_value() && *h.transport().stored(0) > 0);
  EXPECT_EQ(h.stats().delivery_failures.load(), 1U);
}

TEST(WorkerTest, WaitsWhileTheProducerQueueIsFull) {
  Harness h;
  h.Assign(0);
  h.transport().queue_full = 3;
  h.Queue(0, 0, "u1", "i1");
  h.Round();
  EXPECT_EQ(h.ListUsers(), std::vector<std::string>{"u1"});
  EXPECT_GE(h.clock().sleeps(), 3);
  EXPECT_FALSE(h.shutdown().failed());
}

TEST(WorkerTest, HoldsTheListsOfTheBacklogUntilItIsAllApplied) {
  Harness h;
  h.transport().end_offsets[0] = 4;  // the partition's end when it resumes
  h.Assign(0);
  h.Queue(0, 0, "u1", "i1");
  h.Queue(0, 1, "u2", "i2");
  h.Round();
  h.Round();
  EXPECT_TRUE(h.ListUsers().empty()) << "lists published before the backlog was applied";
  h.Queue(0, 2, "u1", "i3");
  h.Queue(0, 3, "u2", "i4");
  h.Round();
  const std::vector<std::string> users = h.ListUsers();
  EXPECT_EQ(users.size(), 2U) << "one list per user for the whole backlog";
}

// The round that applies the backlog's last event publishes its lists as it ends, without
// waiting for the next tick (pipeline.refresh_interval).
TEST(WorkerTest, PublishesTheBacklogsListsInTheRoundThatAppliesItsEnd) {
  Harness h;
  h.transport().end_offsets[0] = 2;
  h.Assign(0);
  h.Queue(0, 0, "u1", "i1");
  h.Round();  // ticks: the next tick is a refresh interval away
  EXPECT_TRUE(h.ListUsers().empty());
  h.Queue(0, 1, "u2", "i2");
  h.worker().Drain();  // no time passes
  EXPECT_EQ(h.ListUsers().size(), 2U) << "the backlog's lists waited for the next tick";
}

TEST(WorkerTest, HandsOverOnRevokePublishingWritingAndStoringEverything) {
  Harness h;
  h.Assign(0);
  h.Queue(0, 0, "u1", "i1");
  h.Queue(0, 1, "u2", "i2");
  h.worker().Drain();  // applied, nothing refreshed or written yet
  ASSERT_TRUE(h.ListUsers().empty());
  EXPECT_TRUE(h.Revoke(0));
  EXPECT_EQ(h.ListUsers().size(), 2U);
  EXPECT_EQ(h.ChangelogUsers(), 2U);
  EXPECT_EQ(h.transport().stored(0), 2);
  EXPECT_EQ(h.worker().engine(0), nullptr);  // dropped
  EXPECT_EQ(h.stats().evicted_revoke.load(), 2U);
}

TEST(WorkerTest, HandOverGivesUpAtTheTimeoutAndStoresNothingUnacknowledged) {
  Harness h;
  h.Assign(0);  // its fence acknowledged
  h.transport().auto_ack = false;
  h.Queue(0, 0, "u1", "i1");
  const auto before = h.clock().Now();
  EXPECT_TRUE(h.Revoke(0));
  EXPECT_GE(h.clock().Now() - before, std::chrono::seconds(5));  // pipeline.shutdown_timeout
  EXPECT_FALSE(h.transport().stored(0).has_value() && *h.transport().stored(0) > 0);
  EXPECT_EQ(h.worker().engine(0), nullptr);
}

TEST(WorkerTest, ANewOwnerRestoresTheUsersFromTheChangelogAndSkipsWhatTheyHaveSeen) {
  Harness h({}, 2);
  h.Assign(0, 0);
  h.Queue(0, 0, "u1", "i1", 0);
  h.Queue(0, 1, "u2", "i2", 0);
  h.worker(0).Drain();
  ASSERT_TRUE(h.Revoke(0, 0));
  ASSERT_EQ(h.ChangelogUsers(), 2U);

  h.Assign(0, 1);
  const model::Engine* engine = h.worker(1).engine(0);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->users(), 2U);
  EXPECT_EQ(h.stats().restored_records.load(), 2U);
  // The events again (the offset was stored past them, but a crash could have lost it).
  h.Queue(0, 0, "u1", "i1", 1);
  h.Queue(0, 1, "u2", "i2", 1);
  h.Round(1);
  EXPECT_EQ(h.stats().Counted(PipelineStats::Result::kDuplicate), 2U);
}

// Partitions assigned together are taken over together: every one's fence goes out before the
// first restore reads, so that their acknowledgements are waited for once (the producer's linger
// and a round trip each, one after another, were most of a restore of small partitions).
TEST(WorkerTest, PartitionsAssignedTogetherWriteEveryFenceBeforeTheFirstRestore) {
  Harness h({}, 2);
  for (std::int32_t p : {0, 1, 2}) {
    h.Assign(p, 0);
    h.Queue(p, 0, "u" + std::to_string(p), "i1", 0);
  }
  h.worker(0).Drain();
  for (std::int32_t p : {0, 1, 2}) ASSERT_TRUE(h.Revoke(p, 0));
  const std::size_t before = h.transport().On("changelog").size();  // 3 fences, 3 users
  h.transport().reads.clear();
  for (std::int32_t p : {0, 1, 2}) {
    h.stats().restoring_partitions.fetch_add(1);
    h.worker(1).Queue().Push(Control{Control::Kind::kAssign, p, nullptr, nullptr});
  }
  h.worker(1).Drain();  // one round: the three assignments at once
  ASSERT_EQ(h.transport().reads.size(), 3U);
  // Nothing produced between the first read and the last: the fences were all out before.
  EXPECT_EQ(h.transport().reads.front().second, h.transport().reads.back().second);
  EXPECT_EQ(h.transport().On("changelog").size(), before + 3);  // the three new fences
  for (std::int32_t p : {0, 1, 2}) {
    ASSERT_NE(h.worker(1).engine(p), nullptr) << p;
    EXPECT_EQ(h.worker(1).engine(p)->users(), 1U) << p;
  }
  EXPECT_EQ(h.stats().restoring_partitions.load(), 0);
}

// An owner that was paused past its session (a long GC, a frozen VM) finds on waking that the
// group gave its partition away: it drops the partition as it is. Before this, a lost
// assignment was handed over like a revoke: stale lists, changelog records and a snapshot
// written over the new owner's, the offset stored.
TEST(WorkerTest, ALostPartitionIsDroppedWithoutPublishingWritingOrStoring) {
  testing::TempDir dir;
  Harness h({"state.dir=" + dir.path().string()});
  h.Assign(0);
  EXPECT_EQ(h.transport().On("changelog").size(), 1U);  // its fence
  h.Queue(0, 0, "u1", "i1");
  h.Queue(0, 1, "u2", "i2");
  h.worker().Drain();  // applied, nothing refreshed or written yet
  EXPECT_TRUE(h.Revoke(0, 0, Control::Kind::kLose));
  EXPECT_TRUE(h.ListUsers().empty());
  EXPECT_EQ(h.ChangelogUsers(), 0U);
  EXPECT_FALSE(h.transport().stored(0).has_value());
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "a snapshot was written";
  EXPECT_EQ(h.worker().engine(0), nullptr);
  EXPECT_EQ(h.stats().evicted_lost.load(), 2U);
  EXPECT_EQ(h.stats().evicted_revoke.load(), 0U);
}

// The zombie writes on after the group gave its partition to a new owner (it does not know yet,
// or its records were in flight): nothing of it may win over the new owner's state in a later
// restore, neither changelog records nor a snapshot.
TEST(WorkerTest, WhatAnOwnerFencedOffWritesNeverWinsOverTheNewOwnersState) {
  for (const bool snapshots : {false, true}) {
    SCOPED_TRACE(snapshots ? "with snapshots" : "changelog only");
    testing::TempDir dir;
    Harness h(snapshots ? std::vector<std::string>{"state.dir=" + dir.path().string()}
                        : std::vector<std::string>{},
              3);
    h.Assign(0, 0);  // the owner to be fenced off
    h.Queue(0, 0, "u1", "i1", 0);
    h.worker(0).Drain();
    h.Assign(0, 1);  // the new owner, while the first is paused
    h.Queue(0, 0, "u1", "i1", 1);
    h.Queue(0, 1, "u1", "i2", 1);
    ASSERT_TRUE(h.Revoke(0, 1));  // written, snapshotted, stored
    // The first owner wakes and, not knowing, hands over what it has: u1 after one event.
    ASSERT_TRUE(h.Revoke(0, 0));
    const auto changelog = h.transport().On("changelog");
    ASSERT_GE(changelog.size(), 4U);  // two fences, the new owner's u1, the old owner's u1
    EXPECT_EQ(changelog.back().key, "u1");
    EXPECT_EQ(changelog.back().headers.at(std::string(state::kEpochHeader)), "0");

    h.Assign(0, 2);  // a restore: u1 as the new owner left it, after both events
    EXPECT_EQ(h.stats().restore_fenced.load(), 1U);
    h.Queue(0, 1, "u1", "i2", 2);
    h.Round(2);
    EXPECT_EQ(h.stats().Counted(PipelineStats::Result::kDuplicate), 1U)
        << "u1 was restored without the event the new owner applied";
  }
}

TEST(WorkerTest, EvictsUsersToStayUnderTheMemoryBound) {
  Harness h({"state.max_bytes=20000"});
  h.Assign(0);
  for (int u = 0; u < 200; ++u) h.Queue(0, u, "u" + std::to_string(u), "i1");
  h.Round();  // the first tick measures
  const std::uint64_t evicted = h.stats().evicted_lru.load() + h.stats().evicted_negligible.load();
  EXPECT_GT(evicted, 0U);
  ASSERT_NE(h.worker().engine(0), nullptr);
  EXPECT_LE(h.worker().engine(0)->UserStateBytes(), 20000U);
  EXPECT_EQ(h.worker().engine(0)->users() + evicted, 200U);
}

TEST(DispatcherTest, PausesAFullWorkersPartitionsAndResumesThemOnceItDrains) {
  Harness h({"pipeline.queue_capacity=4", "pipeline.pause_after=0ms"});
  Dispatcher d = h.MakeDispatcher();
  const std::int32_t zero = 0;
  d.Assigned(std::span<const std::int32_t>(&zero, 1));  // queued: 1
  for (int i = 0; i < 5; ++i) {
    h.transport().to_poll.push_back(
        Message("ev", 0, i, "u1", Harness::EventBytes("u1", "i1", kT0 + i)));
  }
  for (int i = 0; i < 3; ++i) d.PollOnce(std::chrono::milliseconds(0));
  EXPECT_TRUE(h.transport().paused().count(0)) << "not paused at 4 queued";
  EXPECT_EQ(h.stats().pauses.load(), 1U);
  // A partition assigned while its worker is paused waits too.
  const std::int32_t one = 1;
  d.Assigned(std::span<const std::int32_t>(&one, 1));
  EXPECT_TRUE(h.transport().paused().count(1));
  d.PollOnce(std::chrono::milliseconds(0));  // fetched before the pause: still delivered
  EXPECT_EQ(h.worker().Queue().Size(), 6U);
  h.worker().Drain();
  d.PollOnce(std::chrono::milliseconds(0));
  EXPECT_TRUE(h.transport().paused().empty());
  EXPECT_EQ(h.stats().paused_partitions.load(), 0);
}

// A full worker that takes its queue within pipeline.pause_after is not paused: the consumer
// waits for it (a pause drops the transport's prefetched messages and resumes late). One that
// does not is paused when the wait ends.
TEST(DispatcherTest, WaitsForAFullWorkerToTakeItsQueueBeforePausing) {
  Harness h({"pipeline.queue_capacity=4", "pipeline.pause_after=10s"});
  Dispatcher d = h.MakeDispatcher();
  const std::int32_t zero = 0;
  d.Assigned(std::span<const std::int32_t>(&zero, 1));  // queued: 1
  for (int i = 0; i < 3; ++i) {
    h.transport().to_poll.push_back(
        Message("ev", 0, i, "u1", Harness::EventBytes("u1", "i1", kT0 + i)));
  }
  std::atomic<bool> polled{false};
  std::thread consumer([&] {
    for (int i = 0; i < 3; ++i) d.PollOnce(std::chrono::milliseconds(0));  // the third fills it
    polled = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(polled) << "did not wait for the full worker";
  h.worker().Drain();
  consumer.join();
  EXPECT_TRUE(h.transport().paused().empty());
  EXPECT_EQ(h.stats().pauses.load(), 0U);

  Harness slow({"pipeline.queue_capacity=4", "pipeline.pause_after=50ms"});
  Dispatcher d2 = slow.MakeDispatcher();
  d2.Assigned(std::span<const std::int32_t>(&zero, 1));
  for (int i = 0; i < 3; ++i) {
    slow.transport().to_poll.push_back(
        Message("ev", 0, i, "u1", Harness::EventBytes("u1", "i1", kT0 + i)));
  }
  for (int i = 0; i < 3; ++i) d2.PollOnce(std::chrono::milliseconds(0));
  EXPECT_TRUE(slow.transport().paused().count(0)) << "a worker that stays full is not paused";
  EXPECT_EQ(slow.stats().pauses.load(), 1U);
}

// Partition 0 assigned through the dispatcher, one event of u1 polled, the worker's thread
// running.
void AssignPollAndStart(Harness& h, Dispatcher& d) {
  const std::int32_t zero = 0;
  d.Assigned(std::span<const std::int32_t>(&zero, 1));
  h.transport().to_poll.push_back(Message("ev", 0, 0, "u1", Harness::EventBytes("u1", "i1", kT0)));
  d.PollOnce(std::chrono::milliseconds(0));
  h.worker().Start();
}

TEST(DispatcherTest, ARevokeReturnsOnceTheWorkerHasHandedThePartitionOver) {
  Harness h;
  Dispatcher d = h.MakeDispatcher();
  const std::int32_t zero = 0;
  AssignPollAndStart(h, d);
  d.Revoked(std::span<const std::int32_t>(&zero, 1));
  // Handed over before Revoked returned: the transport may give the partition away now.
  EXPECT_EQ(h.transport().stored(0), 1);
  EXPECT_EQ(h.ListUsers(), std::vector<std::string>{"u1"});
  EXPECT_EQ(h.stats().assigned_partitions.load(), 0);
  h.worker().Queue().Push(Control{});
  h.worker().Join();
}

// The transport says the revoked partitions were lost (the session expired): the dispatcher has
// the worker drop them, and returns once it has; nothing of them is published or stored.
TEST(DispatcherTest, ALostRevokeHasTheWorkerDropThePartitionWithoutHandingItOver) {
  Harness h;
  Dispatcher d = h.MakeDispatcher();
  const std::int32_t zero = 0;
  AssignPollAndStart(h, d);
  d.Revoked(std::span<const std::int32_t>(&zero, 1), /*lost=*/true);
  EXPECT_FALSE(h.transport().stored(0).has_value());
  EXPECT_TRUE(h.ListUsers().empty());
  EXPECT_EQ(h.stats().evicted_lost.load(), 1U);
  EXPECT_EQ(h.stats().assigned_partitions.load(), 0);
  h.worker().Queue().Push(Control{});
  h.worker().Join();
}

// A member paused past its session timeout (SIGSTOP, a long GC, a frozen VM) may have lost its
// partitions, and librdkafka says so only from a poll some time after it wakes: until the
// consumer has polled and a hold has passed, the workers publish, write and store nothing.
TEST(DispatcherTest, AfterAPausePastTheSessionTimeoutOutputsWaitForTheGroupsVerdict) {
  Harness h;
  Dispatcher d = h.MakeDispatcher();
  const std::int32_t zero = 0;
  d.Assigned(std::span<const std::int32_t>(&zero, 1));
  h.worker().Drain();
  h.Queue(0, 0, "u1", "i1");
  d.PollOnce(std::chrono::milliseconds(0));
  h.Round();
  ASSERT_EQ(h.ListUsers().size(), 1U);
  h.Queue(0, 1, "u2", "i2");
  h.clock().Advance(std::chrono::seconds(50));  // frozen, then awake
  h.Round();                                    // before the consumer has polled
  EXPECT_EQ(h.ListUsers().size(), 1U) << "published before the group's verdict";
  d.PollOnce(std::chrono::milliseconds(0));
  h.Round();  // polled, but within the hold
  EXPECT_EQ(h.ListUsers().size(), 1U) << "published within the hold";
  EXPECT_EQ(h.stats().stalls.load(), 1U);
  EXPECT_GE(h.stats().ticks_held.load(), 2U);
  h.clock().Advance(Liveness::kDefaultHold);
  d.PollOnce(std::chrono::milliseconds(0));
  h.Round();  // no loss reported: the partition is still this member's
  EXPECT_EQ(h.ListUsers(), (std::vector<std::string>{"u1", "u2"}));
}

}  // namespace
}  // namespace recsd::daemon
