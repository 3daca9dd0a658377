#include "daemon/run/pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <system_error>
#include <thread>
#include <variant>

#include <spdlog/spdlog.h>

#include "daemon/base/exit_codes.h"
#include "daemon/base/lifecycle.h"
#include "daemon/base/mutex.h"
#include "daemon/config/engine_setup.h"
#include "daemon/run/offset_tracker.h"
#include "model/catalog.h"
#include "model/engine.h"
#include "state/model_stats_codec.h"
#include "state/snapshot.h"
#include "state/user_state_codec.h"
#include "stream/decode_error.h"
#include "stream/event_codec.h"
#include "stream/item_codec.h"
#include "stream/kafka.h"
#include "stream/recommendation_codec.h"

namespace recsd::daemon {

// ---- PipelineStats ----

namespace {

std::vector<double> FreshnessBounds(double objective_seconds) {
  // 5 ms to 25 s in 1.5x steps (quantiles within 1.5x, fine enough for the log line, the demo
  // and the dashboards), then up to 5 minutes, and the objective itself, so the share within it
  // is exact.
  std::vector<double> bounds = metrics::ExponentialBounds(0.005, 1.5, 22);
  bounds.insert(bounds.end(), {30, 60, 120, 300, objective_seconds});
  return bounds;
}

}  // namespace

PipelineStats::PipelineStats(double freshness_objective_seconds)
    : freshness(FreshnessBounds(freshness_objective_seconds)),
      list_items({1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}),
      stages{metrics::AtomicHistogram(metrics::ExponentialBounds(1e-6, 4, 12)),
             metrics::AtomicHistogram(metrics::ExponentialBounds(1e-6, 4, 12)),
             metrics::AtomicHistogram(metrics::ExponentialBounds(1e-6, 4, 12)),
             metrics::AtomicHistogram(metrics::ExponentialBounds(1e-6, 4, 12))} {}

std::string_view PipelineStats::ResultName(Result result) noexcept {
  switch (result) {
    case Result::kOk:
      return "ok";
    case Result::kLate:
      return "late";
    case Result::kDuplicate:
      return "duplicate";
    case Result::kDecodeError:
      return "decode_error";
    case Result::kInvalid:
      return "invalid";
    case Result::kUnsupportedVersion:
      return "unsupported_version";
    case Result::kDlq:
      return "dlq";
  }
  return "unknown";
}

std::string_view PipelineStats::StageName(Stage stage) noexcept {
  switch (stage) {
    case Stage::kDecode:
      return "decode";
    case Stage::kState:
      return "state";
    case Stage::kScore:
      return "score";
    case Stage::kPublish:
      return "publish";
  }
  return "unknown";
}

std::uint64_t PipelineStats::DeadLettered() const noexcept {
  return Counted(Result::kDecodeError) + Counted(Result::kInvalid) +
         Counted(Result::kUnsupportedVersion) + Counted(Result::kDlq);
}

KafkaObservations::KafkaObservations() {
  for (rd_kafka_resp_err_t e : {RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
                                RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TIMED_OUT}) {
    view_.errors[rd_kafka_err2name(e)] = 0;
  }
}

void KafkaObservations::CountError(const std::string& code) {
  MutexLock lock(mu_);
  ++view_.errors[code];
}

void KafkaObservations::Update(const stream::KafkaStats& stats) {
  MutexLock lock(mu_);
  if (stats.type == "producer") {
    view_.producer_queue = stats.queued_messages;
    return;
  }
  view_.lag.clear();  // only the partitions assigned now
  for (const auto& l : stats.lags) view_.lag[l.partition] = l.lag;
  view_.rtt_seconds.clear();
  for (const auto& b : stats.brokers) view_.rtt_seconds[b.node_id] = b.avg_seconds;
}

KafkaObservations::View KafkaObservations::Get() const {
  MutexLock lock(mu_);
  return view_;
}

namespace {

using Clock = std::chrono::steady_clock;

// What a produced message stands for, handed back by its delivery report.
struct ListOutput {
  std::int64_t event_ts_ms = 0;  // the event time of the list's trigger (freshness)
};
struct DeadLetterOutput {};
struct ChangelogOutput {
  // Raised to one past the record's offset once acknowledged: the partition's acknowledged end
  // of the changelog, which a snapshot records.
  std::shared_ptr<std::atomic<std::int64_t>> end;
};
struct ModelStatsOutput {};  // a partition's aggregates: a failed delivery is counted, not fatal
struct Delivery {
  std::shared_ptr<OutputBatch> batch;
  std::variant<ListOutput, DeadLetterOutput, ChangelogOutput, ModelStatsOutput> output;
};

// The latest record of every partition in topics.model_stats, and all of them merged (each
// engine reads the merge without its own partition).
struct ModelStatsTable {
  std::map<std::int32_t, std::shared_ptr<const model::PartitionStats>> records;
  std::shared_ptr<const model::PeerStats> merged;  // null when there is no record
};

// A partition given to or taken from a worker. A revoke is done when the worker has handed the
// partition over (refreshed, acknowledged, offset stored).
struct Control {
  enum class Kind { kAssign, kRevoke, kVisit, kStop } kind = Kind::kStop;
  std::int32_t partition = 0;
  std::shared_ptr<std::promise<void>> done;
  std::shared_ptr<const Pipeline::PartitionVisitor> visit;  // kVisit
};
using MailItem = std::variant<stream::KafkaMessage, Control>;

// A worker's queue: the consumer thread pushes, the worker takes everything at once.
class Mailbox {
 public:
  std::size_t Push(MailItem item) {
    std::size_t size = 0;
    {
      MutexLock lock(mu_);
      items_.push_back(std::move(item));
      size = items_.size();
      size_.store(size, std::memory_order_relaxed);
    }
    cv_.NotifyOne();
    return size;
  }
  // Waits until something is queued or `until`, then takes all of it.
  void TakeAll(std::deque<MailItem>* out, Clock::time_point until) {
    MutexLock lock(mu_);
    while (items_.empty() && cv_.WaitUntil(lock, until)) {
    }
    out->swap(items_);
    size_.store(0, std::memory_order_relaxed);
  }
  std::size_t Size() const noexcept { return size_.load(std::memory_order_relaxed); }

 private:
  Mutex mu_;
  CondVar cv_;
  std::deque<MailItem> items_ GUARDED_BY(mu_);
  std::atomic<std::size_t> size_{0};
};

// At most one warning per kind per 10 s, with how many were left out.
class RateLimitedWarnings {
 public:
  template <class... Args>
  void Warn(const std::string& kind, spdlog::format_string_t<Args...> format, Args&&... args) {
    MutexLock lock(mu_);
    Entry& e = entries_[kind];
    const Clock::time_point now = Clock::now();
    if (e.last != Clock::time_point{} && now - e.last < std::chrono::seconds(10)) {
      ++e.suppressed;
      return;
    }
    const std::uint64_t suppressed = e.suppressed;
    e = {now, 0};
    lock.Unlock();
    const std::string msg = fmt::format(format, std::forward<Args>(args)...);
    if (suppressed > 0) {
      spdlog::warn("{} ({} more like it in the last 10 s)", msg, suppressed);
    } else {
      spdlog::warn("{}", msg);
    }
  }

 private:
  struct Entry {
    Clock::time_point last;
    std::uint64_t suppressed = 0;
  };
  Mutex mu_;
  std::map<std::string, Entry> entries_ GUARDED_BY(mu_);
};

void LogFromKafka(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  // Properties meant for the other client type (the consumer's on the producer and back) are
  // expected: one configuration serves both.
  if (std::string_view(fac) == "CONFWARN") level = 7;
  const char* name = rd_kafka_name(rk);
  if (level <= 3) {
    spdlog::error("librdkafka {} {}: {}", name, fac, buf);
  } else if (level <= 4) {
    spdlog::warn("librdkafka {} {}: {}", name, fac, buf);
  } else if (level <= 6) {
    spdlog::info("librdkafka {} {}: {}", name, fac, buf);
  } else {
    spdlog::debug("librdkafka {} {}: {}", name, fac, buf);
  }
}

// Why a consumed message goes to the DLQ instead of being applied: the decoder's reason, or
// `key_mismatch` when the message key is not the decoded record's id (`id_of(record)`). Nothing
// when the message is good.
struct Rejection {
  std::string_view reason;
  std::string detail;
};
template <class T, class IdOf>
std::optional<Rejection> RejectionOf(const stream::DecodeResult<T>& decoded,
                                     const rd_kafka_message_t& msg, IdOf id_of,
                                     const char* mismatch) {
  if (!decoded) return Rejection{stream::ReasonOf(decoded.error().code), decoded.error().detail};
  if (msg.key != nullptr &&
      std::string_view(static_cast<const char*>(msg.key), msg.key_len) != id_of(*decoded)) {
    return Rejection{"key_mismatch", mismatch};
  }
  return std::nullopt;
}

PipelineStats::Result ResultOf(stream::DecodeErrorClass c) {
  switch (c) {
    case stream::DecodeErrorClass::kDecodeError:
      return PipelineStats::Result::kDecodeError;
    case stream::DecodeErrorClass::kInvalid:
      return PipelineStats::Result::kInvalid;
    case stream::DecodeErrorClass::kUnsupportedVersion:
      return PipelineStats::Result::kUnsupportedVersion;
  }
  return PipelineStats::Result::kDlq;
}

}  // namespace

class Worker;

struct Pipeline::Impl {
  explicit Impl(const Config& c)
      : config(c), stats(std::chrono::duration<double>(c.pipeline.freshness_objective).count()) {}

  Config config;
  model::EngineOptions engine_options;
  PipelineStats stats;
  RateLimitedWarnings warnings;
  std::int64_t min_refresh_ms = 0;

  Mutex stop_mu;
  CondVar stop_cv;
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  // Set when a shutdown starts: the moment everything must be done by (ns since the clock's epoch).
  std::atomic<std::int64_t> deadline_ns{0};

  // Declared before the handles that call back into them: callbacks outlive no handle.
  stream::KafkaHandle producer;
  stream::KafkaHandle consumer;
  stream::KafkaHandle catalog_consumer;
  int events_partitions = 0;
  std::vector<std::unique_ptr<Worker>> workers;
  std::thread producer_thread;
  std::thread consumer_thread;
  std::thread catalog_thread;
  std::atomic<bool> producer_stop{false};
  std::atomic<bool> catalog_stop{false};

  Mutex catalog_mu;
  std::shared_ptr<const model::Catalog> catalog GUARDED_BY(catalog_mu);
  std::atomic<std::uint64_t> catalog_version{0};
  std::unique_ptr<model::CatalogBuilder> catalog_builder;  // the catalog thread's

  // Global statistics, read by the catalog thread (its consumer reads topics.model_stats too).
  Mutex model_stats_mu;
  std::shared_ptr<const ModelStatsTable> model_stats GUARDED_BY(model_stats_mu);
  std::atomic<std::uint64_t> model_stats_version{0};
  std::map<std::int32_t, std::shared_ptr<const model::PartitionStats>>
      model_stats_records;  // the catalog thread's

  // Consumer thread only: assignment and pause state.
  std::set<std::int32_t> assigned;
  std::vector<bool> worker_paused;

  Mutex weights_mu;
  std::vector<WeightsView> worker_weights GUARDED_BY(weights_mu);  // one per worker

  void Fail(const std::string& why) {
    if (!failed.exchange(true)) spdlog::error("pipeline failed: {}", why);
    RequestStop();
  }
  void RequestStop() {
    {
      MutexLock lock(stop_mu);
      stop.store(true);
    }
    stop_cv.NotifyAll();
  }
  bool PastDeadline() const {
    const std::int64_t d = deadline_ns.load();
    return d != 0 && Clock::now().time_since_epoch().count() > d;
  }
  Clock::time_point Deadline() const {
    return Clock::time_point(Clock::duration(deadline_ns.load()));
  }

  std::shared_ptr<const model::Catalog> CurrentCatalog() {
    MutexLock lock(catalog_mu);
    return catalog;
  }
  std::shared_ptr<const ModelStatsTable> CurrentModelStats() {
    MutexLock lock(model_stats_mu);
    return model_stats;
  }
  bool SharesModelStats() const { return config.state.model_stats_interval.count() > 0; }
  model::ExportLimits ModelStatsLimits() const {
    return {config.state.model_stats_items, config.state.model_stats_edges,
            config.state.model_stats_vectors};
  }

  // Produces, waiting while the producer's queue is full (the poller drains it) but never past
  // the shutdown deadline. Takes ownership of `delivery`, which counts in its batch until the
  // delivery report. False when the message could not be enqueued: its batch is marked failed.
  bool ProduceOrFail(const stream::OutgoingMessage& message, Delivery* delivery) {
    delivery->batch->outstanding.fetch_add(1, std::memory_order_acq_rel);
    stream::OutgoingMessage m = message;
    m.opaque = delivery;
    while (true) {
      const rd_kafka_resp_err_t err = stream::Produce(producer.get(), m);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !PastDeadline()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      delivery->batch->failed.store(true);
      delivery->batch->outstanding.fetch_sub(1, std::memory_order_acq_rel);
      delete delivery;
      Fail("cannot produce to " + std::string(message.topic) + ": " + rd_kafka_err2str(err));
      return false;
    }
  }

  // Sends a rejected message to the DLQ with the reason headers of ARCHITECTURE.md.
  bool DeadLetter(const rd_kafka_message_t& msg, std::string_view reason, std::string_view detail,
                  Delivery* delivery) {
    const std::string topic = rd_kafka_topic_name(msg.rkt);
    const std::string partition = std::to_string(msg.partition);
    const std::string offset = std::to_string(msg.offset);
    const std::array<stream::KafkaHeader, 5> headers = {{
        {"recsd.error.reason", reason},
        {"recsd.error.detail", detail},
        {"recsd.source.topic", topic},
        {"recsd.source.partition", partition},
        {"recsd.source.offset", offset},
    }};
    stream::OutgoingMessage m;
    m.topic = config.topics.dlq;
    m.key = std::string_view(static_cast<const char*>(msg.key), msg.key_len);
    if (msg.payload != nullptr) {
      m.value = std::string_view(static_cast<const char*>(msg.payload), msg.len);
    }
    m.headers = headers;
    return ProduceOrFail(m, delivery);
  }

  // librdkafka configuration: kafka.* of the config, then `overrides`, with recsd's callbacks.
  Result<stream::KafkaConf, std::string> MakeConf(
      const std::map<std::string, std::string>& overrides) {
    std::map<std::string, std::string> props = config.kafka;
    for (const auto& [k, v] : overrides) props[k] = v;
    auto conf = stream::MakeKafkaConf(props);
    if (!conf) return conf;
    rd_kafka_conf_set_log_cb(conf->get(), &LogFromKafka);
    rd_kafka_conf_set_error_cb(conf->get(), &OnError);
    rd_kafka_conf_set_opaque(conf->get(), this);
    return conf;
  }

  static void OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void OnCommit(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* offsets, void* opaque);
  static int OnStats(rd_kafka_t* rk, char* json, std::size_t json_len, void* opaque);
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);

  Worker& WorkerOf(std::int32_t partition);
  void Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  void ConsumeLoop();
  void PauseWorker(std::size_t w, bool pause);
  void LogStats(double seconds, std::uint64_t* last_events, std::uint64_t* last_lists);

  Result<bool, std::string> LoadCatalog();
  void CatalogLoop();
  // Applies one items message to the builder; false when it was dead-lettered.
  void ApplyItem(const rd_kafka_message_t& msg);
  void PublishCatalog();
  // Keeps one topics.model_stats record as its partition's latest (or dead-letters it).
  void ApplyModelStats(const rd_kafka_message_t& msg);
  void PublishModelStats();
  // Applies a message of the catalog thread's consumer (items or model statistics; errors are
  // logged); true when it changed the catalog.
  bool ApplyReference(const rd_kafka_message_t& msg);
};

// One worker thread: owns the engines of its partitions (every partition p with p mod W = its
// index that is assigned to this process) and is their only writer.
class Worker : public model::ListSink {
 public:
  Worker(Pipeline::Impl& impl, std::size_t index) : impl_(impl), index_(index) {}
  ~Worker() override { Join(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  Mailbox& Queue() { return mailbox_; }

  // ListSink: a refreshed list goes to the recommendations topic.
  void Publish(RecommendationList list) override {
    const Clock::time_point start = Clock::now();
    impl_.stats.list_items.Observe(static_cast<double>(list.items.size()));
    const std::string value = stream::EncodeRecommendationList(list);
    stream::OutgoingMessage m;
    m.topic = impl_.config.topics.recommendations;
    m.key = list.user.str();
    m.value = value;
    impl_.ProduceOrFail(m, new Delivery{batch_, ListOutput{list.event_ts.ms}});
    const Clock::duration took = Clock::now() - start;
    publish_time_ += took;
    Observe(PipelineStats::Stage::kPublish, took);
  }

 private:
  struct Partition {
    std::unique_ptr<model::Engine> engine;
    OffsetTracker tracker;
    std::uint64_t catalog_version = 0;
    TimestampMs now{0};            // latest event time seen: the engine's clock
    Clock::time_point last_event;  // wall time of the latest event handled
    std::optional<std::int64_t> stored;
    // What Report() has added to the pipeline's counters so far.
    std::uint64_t coalesced = 0;
    std::array<std::array<model::SourceFeedback, model::kMaxSources>, model::kVariantCount>
        feedback{};
    std::int64_t bytes = 0;
    bool guard_reverted = false;
    std::uint64_t learner_restarts = 0;
    // Changelog: the first input offset whose state change is not yet written, and when the
    // partition last wrote.
    std::optional<std::int64_t> unflushed_since;
    Clock::time_point last_flush;
    // One past the last changelog record known to be in the changelog (restored or acknowledged).
    std::shared_ptr<std::atomic<std::int64_t>> changelog_end =
        std::make_shared<std::atomic<std::int64_t>>(0);
    // Snapshots (state.dir): when the last was written, and the changelog end it recorded.
    Clock::time_point last_snapshot;
    std::int64_t snapshot_end = -1;
    // Resuming after assignment: whether the first event has come, the offset after the latest
    // event handled, and the end of the backlog whose lists wait until it is all applied.
    bool resumed = false;
    std::int64_t next_offset = -1;
    std::optional<std::int64_t> catch_up_end;
    Clock::time_point resumed_at;
    // Global statistics: the version of the table its peer view is from, and when it last
    // published its own aggregates.
    std::uint64_t model_stats_version = 0;
    Clock::time_point last_stats;
  };

  void Observe(PipelineStats::Stage stage, Clock::duration took) {
    impl_.stats.stages[static_cast<std::size_t>(stage)].Observe(
        std::chrono::duration<double>(took).count());
  }

  // Adds what the partition's engine counted since the last report to the pipeline's counters;
  // `bytes`: also re-measure its state size (O(users)).
  void Report(std::int32_t p, Partition& part, bool bytes) {
    const model::Engine& e = *part.engine;
    PipelineStats& st = impl_.stats;
    st.coalesced.fetch_add(e.coalesced() - part.coalesced, std::memory_order_relaxed);
    part.coalesced = e.coalesced();
    for (std::size_t v = 0; v < model::kVariantCount; ++v) {
      const auto& now = e.source_feedback(static_cast<model::Variant>(v));
      for (std::size_t s = 0; s < model::kMaxSources; ++s) {
        model::SourceFeedback& seen = part.feedback[v][s];
        st.impressions[v][s].fetch_add(now[s].impressions - seen.impressions,
                                       std::memory_order_relaxed);
        st.clicks[v][s].fetch_add(now[s].clicks - seen.clicks, std::memory_order_relaxed);
        seen = now[s];
      }
    }
    if (bytes) {
      const auto b = static_cast<std::int64_t>(e.UserStateBytes());
      st.user_state_bytes.fetch_add(b - part.bytes, std::memory_order_relaxed);
      part.bytes = b;
    }
    if (const std::uint64_t restarts = e.learner().restarts(); restarts > part.learner_restarts) {
      st.learner_restarts.fetch_add(restarts - part.learner_restarts, std::memory_order_relaxed);
      part.learner_restarts = restarts;
      spdlog::info(
          "partition {}: clicks departed from what the learned weights predict; the learner "
          "restarted from the static weights ({} restarts)",
          p, restarts);
    }
    if (e.guard().reverted && !part.guard_reverted) {
      part.guard_reverted = true;
      const model::GuardState& g = e.guard();
      spdlog::warn(
          "partition {}: guard reverted to the static weights (learned vs holdout z = {:.2f} "
          "over {:.0f} and {:.0f} lists); they stay until restart",
          p, g.z, g.lists[0], g.lists[1]);
    }
  }

  void Run() {
    std::deque<MailItem> items;
    Clock::time_point next_tick = Clock::now() + impl_.config.pipeline.refresh_interval;
    bool stopping = false;
    while (!stopping) {
      mailbox_.TakeAll(&items, next_tick);
      for (MailItem& item : items) {
        if (auto* msg = std::get_if<stream::KafkaMessage>(&item)) {
          Handle(**msg);
        } else {
          Control& c = std::get<Control>(item);
          if (c.kind == Control::Kind::kStop) {
            stopping = true;  // everything queued before it is handled first
          } else if (c.kind == Control::Kind::kAssign) {
            Assign(c.partition);
          } else if (c.kind == Control::Kind::kVisit) {
            for (auto& [p, part] : partitions_) (*c.visit)(p, *part.engine, part.now);
            c.done->set_value();
          } else {
            HandOver(c.partition);
            c.done->set_value();
          }
        }
      }
      items.clear();
      if (Clock::now() >= next_tick || stopping) {
        Tick();
        next_tick = Clock::now() + impl_.config.pipeline.refresh_interval;
      }
    }
    // Shutdown: every partition is handed over as in a revoke.
    std::vector<std::int32_t> owned;
    for (const auto& [p, part] : partitions_) owned.push_back(p);
    for (std::int32_t p : owned) HandOver(p);
    // An assign-only consumer has nothing to commit, and a close would wait for unreachable
    // brokers without a deadline.
    if (restore_consumer_) {
      rd_kafka_destroy_flags(restore_consumer_.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    }
  }

  // A partition's engine with no users, on the current catalog.
  void FreshEngine(Partition& part) {
    part.engine = std::make_unique<model::Engine>(impl_.engine_options, impl_.config.event_types);
    part.catalog_version = impl_.catalog_version.load();
    part.engine->SetCatalog(impl_.CurrentCatalog());
  }

  void Assign(std::int32_t p) {
    Partition& part = partitions_[p];
    part = Partition{};
    FreshEngine(part);
    part.last_flush = Clock::now();
    part.last_snapshot = Clock::now();
    const bool restored = Restore(p, part);
    if (restored) SeedStats(p, part);
    impl_.stats.restoring_partitions.fetch_sub(1, std::memory_order_relaxed);
    // Not restored (stopping, or failed): its events are left alone and nothing of it is
    // committed or written; the next owner restores and consumes it again.
    if (!restored) partitions_.erase(p);
  }

  // Global statistics. A partition's aggregates move with it: its new owner starts from the
  // latest record the previous one published (at most model_stats_interval old, or the hand-over
  // publish); the other partitions' records become its peer view.
  void SeedStats(std::int32_t p, Partition& part) {
    if (!impl_.SharesModelStats()) return;
    part.last_stats = Clock::now();
    if (const auto table = impl_.CurrentModelStats()) {
      if (auto it = table->records.find(p); it != table->records.end()) {
        part.engine->SeedStats(*it->second);
        std::size_t items = 0;
        std::size_t edges = 0;
        std::size_t vectors = 0;
        for (const model::SourceStats& share : it->second->sources) {
          items += share.items.size();
          edges += share.edges.size();
          vectors += share.vectors.size();
        }
        spdlog::info(
            "partition {}: aggregates restored from {} as of {} ms ({} item values, {} edges, {} "
            "item vectors, {} learner examples)",
            p, impl_.config.topics.model_stats, it->second->as_of.ms, items, edges, vectors,
            it->second->learner.examples);
      }
    }
    UpdatePeers(p, part);
  }

  // Gives the partition's engine the latest merge of every partition's record (the catalog
  // thread makes it; the engine leaves its own partition out) when there is a newer one.
  void UpdatePeers(std::int32_t p, Partition& part) {
    if (!impl_.SharesModelStats()) return;
    const std::uint64_t version = impl_.model_stats_version.load();
    if (version == part.model_stats_version) return;
    const auto table = impl_.CurrentModelStats();  // at least as new as `version`
    part.model_stats_version = version;
    part.engine->SetPeerStats(table ? table->merged : nullptr, p);
  }

  // Publishes the partition's aggregates to topics.model_stats (key = partition). A partition
  // that has seen no event since it was assigned publishes nothing: its latest record stands.
  // Best effort: a record that cannot be enqueued (the producer's queue is full, the record is
  // too large) is counted and logged, and the next interval tries again; nothing waits for it.
  void PublishStats(std::int32_t p, Partition& part) {
    if (!impl_.SharesModelStats()) return;
    part.last_stats = Clock::now();
    if (part.now.ms == 0) return;
    const std::string value =
        state::EncodeModelStats(part.engine->ExportStats(p, part.now, impl_.ModelStatsLimits()));
    const std::string key = std::to_string(p);
    stream::OutgoingMessage m;
    m.topic = impl_.config.topics.model_stats;
    m.key = key;
    m.value = value;
    auto delivery =
        std::make_unique<Delivery>(Delivery{std::make_shared<OutputBatch>(0), ModelStatsOutput{}});
    delivery->batch->outstanding.fetch_add(1, std::memory_order_acq_rel);
    m.opaque = delivery.get();
    if (const rd_kafka_resp_err_t err = stream::Produce(impl_.producer.get(), m); err) {
      impl_.stats.model_stats_failures.fetch_add(1, std::memory_order_relaxed);
      impl_.warnings.Warn("model-stats-produce",
                          "partition {}: cannot produce its {}-byte record to {}: {}", p,
                          value.size(), m.topic, rd_kafka_err2str(err));
      return;
    }
    static_cast<void>(delivery.release());  // enqueued: the delivery report frees it
  }

  // Writes the state of every user changed since the last flush to the changelog (same
  // partition, key = user id, a tombstone for a user gone); the input offsets from the first
  // unflushed event on stay uncommitted until these writes are acknowledged.
  void Flush(std::int32_t p, Partition& part) {
    part.last_flush = Clock::now();
    if (!impl_.config.state.changelog) {
      part.unflushed_since.reset();
      return;
    }
    const std::vector<UserId> changed = part.engine->TakeChanged();
    if (changed.empty()) {
      part.unflushed_since.reset();
      return;
    }
    auto batch =
        part.tracker.Open(part.unflushed_since.value_or(std::numeric_limits<std::int64_t>::max()));
    part.unflushed_since.reset();
    const model::Catalog& catalog = part.engine->catalog();
    for (const UserId& user : changed) {
      stream::OutgoingMessage m;
      m.topic = impl_.config.topics.changelog;
      m.partition = p;
      m.key = user.str();
      std::string value;
      if (const auto state = part.engine->ExportUser(user)) {
        value = state::EncodeUserState(user, *state, catalog);
        m.value = value;
        impl_.stats.changelog_upserts.fetch_add(1, std::memory_order_relaxed);
      } else {
        impl_.stats.changelog_tombstones.fetch_add(1, std::memory_order_relaxed);
      }
      if (!impl_.ProduceOrFail(m, new Delivery{batch, ChangelogOutput{part.changelog_end}})) return;
    }
  }

  // Restores partition p before any of its events is handled: its snapshot (state.dir), if there
  // is a usable one, then the changelog from the snapshot's offset (or from its beginning) to its
  // end. A record of a newer state version stops the pipeline: a newer recsd wrote it, and going
  // on would silently drop state.
  // False when the restore did not finish (a stop, a failure): the partition must not be used.
  bool Restore(std::int32_t p, Partition& part) {
    if (!impl_.config.state.changelog) return true;
    const Clock::time_point start = Clock::now();
    std::int64_t from = RD_KAFKA_OFFSET_BEGINNING;
    if (const auto covered = LoadSnapshot(p, part)) from = *covered;
    const std::size_t from_snapshot = part.engine->users();
    std::uint64_t records = 0;
    ChangelogRead read = ReadChangelog(p, part, from, &records);
    if (read == ChangelogRead::kOutOfRange) {
      // The snapshot is ahead of the changelog (the topic was recreated?): it cannot be trusted.
      spdlog::warn(
          "partition {}: the snapshot's changelog offset {} is out of range of {} [{}]; "
          "ignoring the snapshot and reading the whole changelog",
          p, from, impl_.config.topics.changelog, p);
      impl_.stats.snapshots_ignored.fetch_add(1, std::memory_order_relaxed);
      FreshEngine(part);
      read = ReadChangelog(p, part, RD_KAFKA_OFFSET_BEGINNING, &records);
    }
    if (read != ChangelogRead::kDone) return false;
    part.engine->TakeChanged();  // what was restored is in the changelog already
    part.snapshot_end = from == RD_KAFKA_OFFSET_BEGINNING ? -1 : from;
    spdlog::info(
        "partition {}: restored {} users ({} from the snapshot) and {} changelog records in {} ms",
        p, part.engine->users(), from_snapshot, records,
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
    return true;
  }

  // Loads partition p's snapshot into its (empty) engine; returns the changelog offset it
  // covers, or nullopt (and an empty engine) when there is none or it cannot be used.
  std::optional<std::int64_t> LoadSnapshot(std::int32_t p, Partition& part) {
    const Config::State& cfg = impl_.config.state;
    if (cfg.dir.empty()) return std::nullopt;
    const std::string path = SnapshotPath(p);
    if (!std::filesystem::exists(path)) return std::nullopt;
    std::vector<state::DecodedUserState> users;
    std::string problem;
    auto header =
        state::ReadSnapshot(path, impl_.config.topics.changelog, p, [&](std::string_view record) {
          if (!problem.empty()) return;
          auto decoded = state::DecodeUserState(record, part.engine->catalog());
          if (decoded) {
            users.push_back(std::move(decoded).value());
          } else {
            problem = fmt::format("snapshot {}: user {}: {}", path, users.size(),
                                  decoded.error().message);
          }
        });
    if (!header) problem = header.error();
    if (problem.empty()) {
      const std::int64_t age = WallMs() - header->written_ms;
      if (age > cfg.snapshot_max_age.count()) {
        problem = fmt::format("snapshot {}: written {} s ago, more than state.snapshot_max_age",
                              path, age / 1000);
      }
    }
    for (state::DecodedUserState& u : users) {
      if (!problem.empty()) break;
      if (!part.engine->RestoreUser(u.user, std::move(u.state))) {
        problem = fmt::format(
            "snapshot {}: a user state of another shape (model settings changed?)", path);
      }
    }
    if (!problem.empty()) {
      spdlog::warn("partition {}: {}; snapshot ignored, reading the whole changelog", p, problem);
      impl_.stats.snapshots_ignored.fetch_add(1, std::memory_order_relaxed);
      if (part.engine->users() > 0) FreshEngine(part);
      return std::nullopt;
    }
    impl_.stats.snapshots_loaded.fetch_add(1, std::memory_order_relaxed);
    return header->changelog_offset;
  }

  // The changelog reader of this worker's restores (assign-only), made on the first restore and
  // kept. False (and the pipeline failed) when it cannot be made.
  bool MakeRestoreConsumer() {
    if (restore_consumer_) return true;
    // A catch-up reader: the end of a partition is known after one fetch that brokers answer
    // once fetch.wait.max.ms has passed, so keep that short. An offset out of range (a
    // snapshot ahead of the changelog) is reported, not silently reset.
    auto conf = impl_.MakeConf({{"enable.auto.commit", "false"},
                                {"enable.partition.eof", "true"},
                                {"auto.offset.reset", "error"},
                                {"fetch.wait.max.ms", "10"},
                                {"client.id", "recsd-restore"}});
    if (!conf) {
      impl_.Fail("restore consumer: " + conf.error());
      return false;
    }
    auto rk = stream::MakeKafkaClient(RD_KAFKA_CONSUMER, std::move(conf).value());
    if (!rk) {
      impl_.Fail("restore consumer: " + rk.error());
      return false;
    }
    restore_consumer_ = std::move(rk).value();
    rd_kafka_poll_set_consumer(restore_consumer_.get());
    return true;
  }

  enum class ChangelogRead { kDone, kStopped, kOutOfRange };
  // Reads partition p of the changelog from `from` to its end into the partition's engine (the
  // end reported by the consumer: no blocking call, so a stop, or a broker that is gone, ends the
  // read at the next poll). Sets the partition's changelog end.
  ChangelogRead ReadChangelog(std::int32_t p, Partition& part, std::int64_t from,
                              std::uint64_t* records) {
    const std::string& topic = impl_.config.topics.changelog;
    if (!MakeRestoreConsumer()) return ChangelogRead::kStopped;
    rd_kafka_t* rk = restore_consumer_.get();
    stream::PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = from;
    if (const rd_kafka_resp_err_t err = rd_kafka_assign(rk, list.get()); err) {
      impl_.Fail(fmt::format("restore of {} [{}]: {}", topic, p, rd_kafka_err2str(err)));
      return ChangelogRead::kStopped;
    }
    struct Unassign {
      rd_kafka_t* rk;
      ~Unassign() { rd_kafka_assign(rk, nullptr); }
    } unassign{rk};
    while (true) {
      if (impl_.stop.load()) return ChangelogRead::kStopped;
      stream::KafkaMessage msg(rd_kafka_consumer_poll(rk, 100));
      if (!msg || msg->partition != p) continue;
      if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        part.changelog_end->store(msg->offset);
        return ChangelogRead::kDone;
      }
      if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
        if (from >= 0) return ChangelogRead::kOutOfRange;
        // Read from the beginning, and the beginning moved past the read position (retention
        // deleted records while they were read; the fetcher stops on this error): read on from
        // the new beginning. Later records of a user replace what was read of it.
        impl_.warnings.Warn("restore", "restore of {} [{}]: {}; reading on from its new beginning",
                            topic, p, rd_kafka_message_errstr(msg.get()));
        if (const rd_kafka_resp_err_t err = rd_kafka_assign(rk, list.get()); err) {
          impl_.Fail(fmt::format("restore of {} [{}]: {}", topic, p, rd_kafka_err2str(err)));
          return ChangelogRead::kStopped;
        }
        continue;
      }
      if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        impl_.warnings.Warn("restore", "restore of {} [{}]: {}", topic, p,
                            rd_kafka_message_errstr(msg.get()));
        continue;
      }
      ++*records;
      impl_.stats.restored_records.fetch_add(1, std::memory_order_relaxed);
      const UserId user(std::string_view(static_cast<const char*>(msg->key), msg->key_len));
      if (msg->payload == nullptr) {
        part.engine->EraseUser(user);
        continue;
      }
      auto decoded = state::DecodeUserState({static_cast<const char*>(msg->payload), msg->len},
                                            part.engine->catalog());
      if (!decoded) {
        if (decoded.error().unsupported_version) {
          impl_.Fail(fmt::format("restore of {} [{}] at offset {}: {}", topic, p, msg->offset,
                                 decoded.error().message));
          return ChangelogRead::kStopped;
        }
        impl_.warnings.Warn("restore-corrupt",
                            "restore of {} [{}] at offset {}: {}; that user starts fresh", topic, p,
                            msg->offset, decoded.error().message);
        part.engine->EraseUser(user);
        continue;
      }
      if (!part.engine->RestoreUser(decoded->user, std::move(decoded->state))) {
        impl_.warnings.Warn("restore-shape",
                            "restore of {} [{}]: a user state of another shape (model settings "
                            "changed?); that user starts fresh",
                            topic, p);
      }
    }
  }

  std::string SnapshotPath(std::int32_t p) const {
    return (std::filesystem::path(impl_.config.state.dir) /
            state::SnapshotFileName(impl_.config.topics.changelog, p))
        .string();
  }

  // Writes partition p's snapshot (state.dir), unless nothing reached the changelog since the
  // last one. Every changelog record below the acknowledged end was produced from state this
  // snapshot has or has moved past, so a restore reads the changelog from that end on. A failure
  // is logged and counted; the changelog still holds everything.
  void WriteSnapshot(std::int32_t p, Partition& part) {
    part.last_snapshot = Clock::now();
    if (impl_.config.state.dir.empty()) return;
    const std::int64_t end = part.changelog_end->load();
    if (end == part.snapshot_end) return;
    const Clock::time_point start = Clock::now();
    const std::vector<UserId> users = part.engine->UserIds();
    state::SnapshotHeader header{impl_.config.topics.changelog, p, end, WallMs(), users.size()};
    auto writer = state::SnapshotWriter::Create(SnapshotPath(p), header);
    Result<std::uint64_t, std::string> bytes =
        writer ? Result<std::uint64_t, std::string>(0) : Fail(writer.error());
    if (writer) {
      const model::Catalog& catalog = part.engine->catalog();
      for (const UserId& user : users) {
        writer->Add(state::EncodeUserState(user, *part.engine->ExportUser(user), catalog));
      }
      bytes = writer->Commit();
    }
    if (!bytes) {
      impl_.stats.snapshot_failures.fetch_add(1, std::memory_order_relaxed);
      impl_.warnings.Warn("snapshot", "partition {}: snapshot not written: {}", p, bytes.error());
      return;
    }
    part.snapshot_end = end;
    impl_.stats.snapshots_written.fetch_add(1, std::memory_order_relaxed);
    spdlog::info(
        "partition {}: snapshot of {} users ({} bytes, changelog offset {}) in {} ms", p,
        users.size(), *bytes, end,
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
  }

  // The partition's first event since it was assigned: consumption resumes at `offset`, the
  // committed offset. (1) Lists the restored state says were published for events from there on
  // are published again (same rec): the previous owner committed only past acknowledged lists,
  // so they may not have arrived, and their events are duplicates now. (2) The lists of the
  // backlog (up to the partition's end now, at most pipeline.catch_up_events) wait until all of
  // it is applied: one list per user for the whole backlog, standing for the user's latest event
  // in it, so a crash repeats lists under the rec they had rather than re-issuing older ones.
  void Resume(std::int32_t p, Partition& part, std::int64_t offset) {
    part.resumed = true;
    part.resumed_at = Clock::now();
    batch_ = part.tracker.Open(offset);
    const std::size_t republished = part.engine->RepublishUnconfirmed(offset, *this);
    batch_.reset();
    impl_.stats.lists_republished.fetch_add(republished, std::memory_order_relaxed);
    std::int64_t low = 0;
    std::int64_t high = 0;
    const std::int64_t cap = static_cast<std::int64_t>(impl_.config.pipeline.catch_up_events);
    if (cap > 0 &&
        rd_kafka_get_watermark_offsets(impl_.consumer.get(), impl_.config.topics.events.c_str(), p,
                                       &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        high > offset + 1) {
      part.catch_up_end = std::min(high, offset + cap);
    }
    if (republished > 0 || part.catch_up_end) {
      spdlog::info(
          "partition {}: resuming at offset {}; {} list(s) published again (not known to have "
          "arrived); lists wait until offset {} is reached",
          p, offset, republished, part.catch_up_end.value_or(offset));
    }
  }

  void Handle(const rd_kafka_message_t& msg) {
    auto it = partitions_.find(msg.partition);
    if (it == partitions_.end()) return;  // revoked meanwhile: the new owner consumes it again
    Partition& part = it->second;
    if (!part.resumed) Resume(msg.partition, part, msg.offset);
    part.next_offset = msg.offset + 1;
    PipelineStats& st = impl_.stats;
    st.events_consumed.fetch_add(1, std::memory_order_relaxed);
    const std::string_view bytes(static_cast<const char*>(msg.payload),
                                 msg.payload == nullptr ? 0 : msg.len);
    const Clock::time_point start = Clock::now();
    auto event = stream::DecodeEvent(bytes, impl_.config.event_types);
    const Clock::time_point decoded = Clock::now();
    Observe(PipelineStats::Stage::kDecode, decoded - start);
    // A user's events must all reach the partition that holds its state.
    const auto rejection = RejectionOf(
        event, msg, [](const Event& e) -> std::string_view { return e.user.str(); },
        "the message key is not the event's user");
    if (event) {
      st.consumed_by_type[event->type].fetch_add(1, std::memory_order_relaxed);
    } else {
      st.consumed_untyped.fetch_add(1, std::memory_order_relaxed);
    }
    if (rejection) {
      const auto& [reason, detail] = *rejection;
      impl_.warnings.Warn("dlq", "dead-lettered an event of {} [{}] at offset {}: {}: {}",
                          rd_kafka_topic_name(msg.rkt), msg.partition, msg.offset, reason, detail);
      st.Count(event ? PipelineStats::Result::kDlq : ResultOf(stream::ClassOf(event.error().code)));
      impl_.DeadLetter(msg, reason, detail,
                       new Delivery{part.tracker.Open(msg.offset), DeadLetterOutput{}});
      part.tracker.Handled(msg.offset);
      return;
    }
    const bool late = part.engine->IsLate(*event);
    const model::ApplyOutcome outcome = part.engine->Apply(*event, {msg.partition, msg.offset});
    Observe(PipelineStats::Stage::kState, Clock::now() - decoded);
    if (outcome == model::ApplyOutcome::kDuplicate) {
      st.Count(PipelineStats::Result::kDuplicate);
    } else {
      st.Count(late ? PipelineStats::Result::kLate : PipelineStats::Result::kOk);
    }
    if (outcome == model::ApplyOutcome::kForgotten) {
      st.evicted_forget.fetch_add(1, std::memory_order_relaxed);
    }
    if (outcome != model::ApplyOutcome::kDuplicate && !part.unflushed_since) {
      part.unflushed_since = msg.offset;
    }
    part.now = std::max(part.now, event->ts);
    part.last_event = Clock::now();
    part.tracker.Handled(msg.offset);
  }

  // Refreshes a partition's dirty users; `flush`: all of them, whatever the minimum interval and
  // the backlog.
  void Refresh(std::int32_t p, Partition& part, bool flush) {
    if (const std::uint64_t v = impl_.catalog_version.load(); v != part.catalog_version) {
      part.engine->SetCatalog(impl_.CurrentCatalog());
      part.catalog_version = v;
    }
    UpdatePeers(p, part);
    if (part.catch_up_end) {
      if (part.next_offset < *part.catch_up_end && !flush) return;  // the backlog's lists wait
      spdlog::info(
          "partition {}: backlog applied up to offset {} in {} ms; publishing", p, part.next_offset,
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - part.resumed_at)
              .count());
      part.catch_up_end.reset();
    }
    if (part.engine->dirty() == 0) return;
    // The lists of this refresh stand for every event from the oldest dirty one on.
    batch_ = part.tracker.Open(part.engine->OldestDirtyOffset().value_or(0));
    // Event time drives the minimum interval while events flow; a partition that has had no event
    // for that long in wall time refreshes everyone left, so a user's last events are never held
    // back for want of later ones.
    const bool idle = Clock::now() - part.last_event >= impl_.config.pipeline.min_refresh_interval;
    const std::int64_t min_interval = flush || idle ? 0 : impl_.min_refresh_ms;
    publish_time_ = {};
    const Clock::time_point start = Clock::now();
    if (part.engine->Refresh(part.now, *this, min_interval) > 0) {
      Observe(PipelineStats::Stage::kScore, Clock::now() - start - publish_time_);
    }
    batch_.reset();
  }

  void Store(std::int32_t p, Partition& part) {
    std::optional<std::int64_t> hold = part.engine->OldestDirtyOffset();
    if (part.unflushed_since)
      hold = std::min(hold.value_or(*part.unflushed_since), *part.unflushed_since);
    const std::optional<std::int64_t> committable = part.tracker.Committable(hold);
    if (!committable || committable == part.stored) return;
    stream::PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), impl_.config.topics.events.c_str(), p)->offset =
        *committable;
    const rd_kafka_resp_err_t err = rd_kafka_offsets_store(impl_.consumer.get(), list.get());
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      part.stored = committable;
    }
  }

  void Tick() {
    std::int64_t users = 0;
    WeightsView view;
    const bool measure = Clock::now() >= next_measure_;
    if (measure) next_measure_ = Clock::now() + std::chrono::seconds(5);
    for (auto& [p, part] : partitions_) {
      Refresh(p, part, /*flush=*/false);
      if (Clock::now() - part.last_flush >= impl_.config.state.flush_interval) Flush(p, part);
      if (Clock::now() - part.last_snapshot >= impl_.config.state.snapshot_interval) {
        WriteSnapshot(p, part);
      }
      Store(p, part);
      if (Clock::now() - part.last_stats >= impl_.config.state.model_stats_interval) {
        PublishStats(p, part);
      }
      Report(p, part, measure);
      users += static_cast<std::int64_t>(part.engine->users());
      if (part.engine->learner().version() > 0) {
        const model::FusionWeights w = part.engine->learner().Mean();
        for (std::size_t s = 0; s < model::kMaxSources; ++s) view.weights.w[s] += w.w[s];
        view.weights.version += part.engine->learner().version();
        ++view.partitions;
      }
      view.reverted = view.reverted || part.engine->guard().reverted;
    }
    if (measure) users -= static_cast<std::int64_t>(BoundMemory());
    impl_.stats.users.fetch_add(users - users_reported_, std::memory_order_relaxed);
    users_reported_ = users;
    MutexLock lock(impl_.weights_mu);
    impl_.worker_weights[index_] = view;
  }

  // state.max_bytes: when the instance's users take more, every partition of this worker is cut
  // to an equal share of 90% of the bound (90% so it does not evict at every measurement). Equal
  // shares need no fresh figures from the other workers, so one round of measurements brings
  // the instance under the bound; a partition with more active users than its share loses its
  // least active ones even if others have room. Returns how many users were evicted.
  std::size_t BoundMemory() {
    const Config::State& cap = impl_.config.state;
    const std::int64_t total = impl_.stats.user_state_bytes.load();
    const std::int64_t assigned = std::max<std::int64_t>(1, impl_.stats.assigned_partitions.load());
    if (cap.max_bytes == 0 || total <= static_cast<std::int64_t>(cap.max_bytes)) return 0;
    const auto share = static_cast<std::size_t>(0.9 * static_cast<double>(cap.max_bytes) /
                                                static_cast<double>(assigned));
    std::size_t evicted = 0;
    for (auto& [p, part] : partitions_) {
      const model::EvictionCounts n = part.engine->Evict(share, part.now, cap.negligible_mass);
      impl_.stats.evicted_negligible.fetch_add(n.negligible, std::memory_order_relaxed);
      impl_.stats.evicted_lru.fetch_add(n.lru, std::memory_order_relaxed);
      evicted += n.negligible + n.lru;
      Report(p, part, /*bytes=*/true);
    }
    if (evicted > 0) {
      impl_.warnings.Warn("evict", "state.max_bytes ({} bytes) reached: evicted {} users",
                          cap.max_bytes, evicted);
    }
    return evicted;
  }

  // Everything of partition p done: refreshed, acknowledged (or the deadline passed), offset
  // stored; then its state is dropped (the durability issue restores it from the changelog).
  void HandOver(std::int32_t p) {
    auto it = partitions_.find(p);
    if (it == partitions_.end()) return;
    Partition& part = it->second;
    Refresh(p, part, /*flush=*/true);
    Flush(p, part);
    PublishStats(p, part);  // for the next owner
    const Clock::time_point give_up = impl_.deadline_ns.load() != 0
                                          ? impl_.Deadline()
                                          : Clock::now() + impl_.config.pipeline.shutdown_timeout;
    while (part.tracker.outstanding() > 0 && !part.tracker.failed() && Clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    Store(p, part);
    // The next owner, or this instance after a restart, restores from here.
    if (part.tracker.outstanding() == 0 && !part.tracker.failed()) WriteSnapshot(p, part);
    if (part.tracker.outstanding() > 0) {
      spdlog::warn(
          "partition {}: {} outputs not acknowledged in time; their events will be "
          "consumed again",
          p, part.tracker.outstanding());
    }
    Report(p, part, /*bytes=*/false);
    const auto users = static_cast<std::int64_t>(part.engine->users());
    users_reported_ -= users;
    impl_.stats.users.fetch_sub(users, std::memory_order_relaxed);
    impl_.stats.user_state_bytes.fetch_sub(part.bytes, std::memory_order_relaxed);
    impl_.stats.evicted_revoke.fetch_add(static_cast<std::uint64_t>(users),
                                         std::memory_order_relaxed);
    partitions_.erase(it);
  }

  Pipeline::Impl& impl_;
  const std::size_t index_;
  Mailbox mailbox_;
  std::thread thread_;
  std::map<std::int32_t, Partition> partitions_;
  std::shared_ptr<OutputBatch> batch_;  // of the refresh in progress
  Clock::duration publish_time_{};      // spent in Publish during the refresh in progress
  Clock::time_point next_measure_;      // of the partitions' state sizes
  std::int64_t users_reported_ = 0;
  stream::KafkaHandle restore_consumer_;  // assign-only, made on the first restore
};

Worker& Pipeline::Impl::WorkerOf(std::int32_t partition) {
  return *workers[static_cast<std::size_t>(partition) % workers.size()];
}

void Pipeline::Impl::OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque) {
  auto* impl = static_cast<Impl*>(opaque);
  std::unique_ptr<Delivery> d(static_cast<Delivery*>(msg->_private));
  if (!d) return;
  if (std::holds_alternative<ModelStatsOutput>(d->output)) {
    // The next interval publishes the partition's aggregates again: nothing waits for this one.
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      impl->stats.model_stats_failures.fetch_add(1, std::memory_order_relaxed);
      impl->stats.kafka.CountError(rd_kafka_err2name(msg->err));
      impl->warnings.Warn("model-stats-delivery", "delivery to {} failed: {}",
                          rd_kafka_topic_name(msg->rkt), rd_kafka_err2str(msg->err));
    } else {
      impl->stats.model_stats_delivered.fetch_add(1, std::memory_order_relaxed);
    }
  } else if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    impl->stats.delivery_failures.fetch_add(1, std::memory_order_relaxed);
    impl->stats.kafka.CountError(rd_kafka_err2name(msg->err));
    d->batch->failed.store(true, std::memory_order_release);
    impl->Fail("delivery to " + std::string(rd_kafka_topic_name(msg->rkt)) +
               " failed: " + rd_kafka_err2str(msg->err));
  } else if (const auto* changelog = std::get_if<ChangelogOutput>(&d->output)) {
    std::int64_t end = changelog->end->load(std::memory_order_relaxed);
    while (msg->offset + 1 > end && !changelog->end->compare_exchange_weak(
                                        end, msg->offset + 1, std::memory_order_relaxed)) {
    }
  } else if (const auto* list = std::get_if<ListOutput>(&d->output)) {
    impl->stats.lists_delivered.fetch_add(1, std::memory_order_relaxed);
    impl->stats.freshness.Observe(
        static_cast<double>(std::max<std::int64_t>(0, WallMs() - list->event_ts_ms)) / 1000.0);
  } else {
    impl->stats.dead_letters_delivered.fetch_add(1, std::memory_order_relaxed);
  }
  d->batch->outstanding.fetch_sub(1, std::memory_order_acq_rel);
}

void Pipeline::Impl::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* impl = static_cast<Impl*>(opaque);
  impl->stats.kafka.CountError(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)));
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    impl->Fail(std::string("fatal Kafka error: ") + fatal);
    return;
  }
  impl->warnings.Warn(
      std::string("kafka-") + rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)),
      "Kafka {} ({}): {}", rd_kafka_name(rk),
      rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), reason);
}

void Pipeline::Impl::OnCommit(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  auto* impl = static_cast<Impl*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;  // nothing was stored since the last commit
  bool ok = err == RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_resp_err_t first = err;
  for (int i = 0; ok && offsets != nullptr && i < offsets->cnt; ++i) {
    if (offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ok = false;
      first = offsets->elems[i].err;
    }
  }
  if (ok) {
    impl->stats.commits_ok.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  impl->stats.commits_failed.fetch_add(1, std::memory_order_relaxed);
  impl->stats.kafka.CountError(rd_kafka_err2name(first));
  impl->warnings.Warn("commit", "offset commit failed: {} (retried at the next commit)",
                      rd_kafka_err2str(first));
}

int Pipeline::Impl::OnStats(rd_kafka_t* /*rk*/, char* json, std::size_t json_len, void* opaque) {
  auto* impl = static_cast<Impl*>(opaque);
  auto stats = stream::ParseKafkaStats({json, json_len}, impl->config.topics.events);
  if (stats) {
    impl->stats.kafka.Update(*stats);
  } else {
    impl->warnings.Warn("kafka-stats", "{}", stats.error());
  }
  return 0;  // librdkafka frees the document
}

void Pipeline::Impl::OnRebalance(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<Impl*>(opaque)->Rebalance(err, partitions);
}

void Pipeline::Impl::Rebalance(rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = consumer.get();
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS   ? stats.rebalances_assign
   : err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? stats.rebalances_revoke
                                                 : stats.rebalances_error)
      .fetch_add(1, std::memory_order_relaxed);
  std::string names;
  for (int i = 0; i < partitions->cnt; ++i) {
    if (!names.empty()) names += ',';
    names += std::to_string(partitions->elems[i].partition);
  }
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (partitions->cnt > 0) {
      spdlog::info("assigned {} partition(s) of {}: [{}]", partitions->cnt, config.topics.events,
                   names);
    }
    std::vector<std::int32_t> added;
    for (int i = 0; i < partitions->cnt; ++i) {
      const std::int32_t p = partitions->elems[i].partition;
      if (assigned.insert(p).second) {
        stats.restoring_partitions.fetch_add(1, std::memory_order_relaxed);
        WorkerOf(p).Queue().Push(Control{Control::Kind::kAssign, p, nullptr, nullptr});
        added.push_back(p);
      }
    }
    if (cooperative) {
      if (stream::KafkaError e(rd_kafka_incremental_assign(rk, partitions)); e) {
        Fail(std::string("incremental assign: ") + rd_kafka_error_string(e.get()));
      }
    } else if (rd_kafka_assign(rk, partitions) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Fail("assign failed");
    }
    for (std::int32_t p : added) {  // a paused worker's new partitions wait too
      const std::size_t w = static_cast<std::size_t>(p) % workers.size();
      if (worker_paused[w]) {
        stream::PartitionList one(rd_kafka_topic_partition_list_new(1));
        rd_kafka_topic_partition_list_add(one.get(), config.topics.events.c_str(), p);
        rd_kafka_pause_partitions(rk, one.get());
        stats.paused_partitions.fetch_add(1, std::memory_order_relaxed);
      }
    }
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    spdlog::info("revoking {} partition(s) of {}: [{}]", partitions->cnt, config.topics.events,
                 names);
    // Each worker hands its revoked partitions over (everything before the revoke in its queue
    // first); the unassign waits for them, up to the shutdown timeout.
    std::vector<std::future<void>> handed;
    for (int i = 0; i < partitions->cnt; ++i) {
      const std::int32_t p = partitions->elems[i].partition;
      if (assigned.erase(p) == 0) continue;
      const std::size_t w = static_cast<std::size_t>(p) % workers.size();
      if (worker_paused[w]) stats.paused_partitions.fetch_sub(1, std::memory_order_relaxed);
      auto done = std::make_shared<std::promise<void>>();
      handed.push_back(done->get_future());
      WorkerOf(p).Queue().Push(Control{Control::Kind::kRevoke, p, std::move(done), nullptr});
    }
    const Clock::time_point until =
        deadline_ns.load() != 0 ? Deadline() : Clock::now() + config.pipeline.shutdown_timeout;
    for (auto& f : handed) {
      if (f.wait_until(until) != std::future_status::ready) {
        spdlog::warn("revoke: a worker did not hand its partitions over in time");
        break;
      }
    }
    if (cooperative) {
      if (stream::KafkaError e(rd_kafka_incremental_unassign(rk, partitions)); e) {
        spdlog::warn("incremental unassign: {}", rd_kafka_error_string(e.get()));
      }
    } else {
      rd_kafka_assign(rk, nullptr);
    }
    spdlog::info("revoked {} partition(s) of {}: [{}]", partitions->cnt, config.topics.events,
                 names);
  } else {
    spdlog::error("rebalance error: {}", rd_kafka_err2str(err));
    if (cooperative) {
      if (stream::KafkaError e(rd_kafka_incremental_unassign(rk, partitions)); e) {
        spdlog::warn("incremental unassign: {}", rd_kafka_error_string(e.get()));
      }
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }
  stats.assigned_partitions.store(static_cast<std::int64_t>(assigned.size()));
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS && !stats.assignment_received.exchange(true)) {
    spdlog::info("ready: catalog loaded and {} partition(s) assigned", assigned.size());
  }
}

void Pipeline::Impl::PauseWorker(std::size_t w, bool pause) {
  stream::PartitionList list(rd_kafka_topic_partition_list_new(8));
  for (std::int32_t p : assigned) {
    if (static_cast<std::size_t>(p) % workers.size() == w) {
      rd_kafka_topic_partition_list_add(list.get(), config.topics.events.c_str(), p);
    }
  }
  worker_paused[w] = pause;
  spdlog::debug("worker {}: {} {} partition(s), {} queued", w, pause ? "pausing" : "resuming",
                list->cnt, workers[w]->Queue().Size());
  if (pause) {
    rd_kafka_pause_partitions(consumer.get(), list.get());
    stats.pauses.fetch_add(1, std::memory_order_relaxed);
    stats.paused_partitions.fetch_add(list->cnt, std::memory_order_relaxed);
  } else {
    rd_kafka_resume_partitions(consumer.get(), list.get());
    stats.paused_partitions.fetch_sub(list->cnt, std::memory_order_relaxed);
  }
}

void Pipeline::Impl::LogStats(double seconds, std::uint64_t* last_events,
                              std::uint64_t* last_lists) {
  const std::uint64_t events = stats.events_consumed.load();
  const std::uint64_t lists = stats.lists_delivered.load();
  const metrics::HistogramSnapshot freshness = stats.freshness.Snapshot();
  spdlog::info(
      "stats: {} events ({:.0f}/s), {} lists delivered ({:.0f}/s), {} dead-lettered, {} users, "
      "{} items, freshness p50 {:.0f} ms p99 {:.0f} ms, {} partitions ({} paused)",
      events, static_cast<double>(events - *last_events) / seconds, lists,
      static_cast<double>(lists - *last_lists) / seconds, stats.DeadLettered(), stats.users.load(),
      stats.catalog_items.load(), freshness.Quantile(0.5) * 1000, freshness.Quantile(0.99) * 1000,
      stats.assigned_partitions.load(), stats.paused_partitions.load());
  *last_events = events;
  *last_lists = lists;
}

void Pipeline::Impl::ConsumeLoop() {
  const std::size_t capacity = config.pipeline.queue_capacity;
  Clock::time_point last_stats = Clock::now();
  std::uint64_t last_events = 0;
  std::uint64_t last_lists = 0;
  while (!stop.load()) {
    stream::KafkaMessage msg(rd_kafka_consumer_poll(consumer.get(), 100));
    for (std::size_t w = 0; w < workers.size(); ++w) {
      if (worker_paused[w] && workers[w]->Queue().Size() <= capacity / 2) PauseWorker(w, false);
    }
    if (const auto interval = config.pipeline.stats_interval;
        interval.count() > 0 && Clock::now() - last_stats >= interval) {
      const double seconds = std::chrono::duration<double>(Clock::now() - last_stats).count();
      LogStats(seconds, &last_events, &last_lists);
      last_stats = Clock::now();
    }
    if (!msg) continue;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      warnings.Warn(std::string("consume-") + rd_kafka_err2name(msg->err), "consume: {}",
                    rd_kafka_message_errstr(msg.get()));
      continue;
    }
    const std::size_t w = static_cast<std::size_t>(msg->partition) % workers.size();
    const std::size_t size = workers[w]->Queue().Push(std::move(msg));
    // Messages already fetched still arrive after a pause; the queue is bounded by capacity plus
    // what librdkafka had fetched (queued.max.messages.kbytes).
    if (size >= capacity && !worker_paused[w]) PauseWorker(w, true);
  }
}

// ---- catalog ----

void Pipeline::Impl::ApplyItem(const rd_kafka_message_t& msg) {
  const std::string_view key(static_cast<const char*>(msg.key),
                             msg.key == nullptr ? 0 : msg.key_len);
  if (msg.payload == nullptr) {  // tombstone: delete
    catalog_builder->Erase(ItemId(key));
    stats.items_applied.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::string_view bytes(static_cast<const char*>(msg.payload), msg.len);
  auto item = stream::DecodeItem(bytes, config.model.embedding_dim);
  // A tombstone for the key would not delete an item of another id.
  const auto rejection = RejectionOf(
      item, msg, [](const ItemRecord& r) -> std::string_view { return r.item.str(); },
      "the message key is not the item's id");
  if (rejection) {
    const auto& [reason, detail] = *rejection;
    warnings.Warn("dlq-item", "dead-lettered an item of {} [{}] at offset {}: {}: {}",
                  rd_kafka_topic_name(msg.rkt), msg.partition, msg.offset, reason, detail);
    stats.items_dead_lettered.fetch_add(1, std::memory_order_relaxed);
    // Items are read from the beginning at every start: nothing to commit, only to deliver.
    DeadLetter(msg, reason, detail,
               new Delivery{std::make_shared<OutputBatch>(0), DeadLetterOutput{}});
    return;
  }
  catalog_builder->Upsert(*item);
  stats.items_applied.fetch_add(1, std::memory_order_relaxed);
}

void Pipeline::Impl::PublishCatalog() {
  auto snapshot = catalog_builder->Build();
  stats.catalog_items.store(static_cast<std::int64_t>(snapshot->size()));
  stats.catalog_updated_ms.store(WallMs());
  {
    MutexLock lock(catalog_mu);
    catalog = std::move(snapshot);
  }
  catalog_version.fetch_add(1);
}

void Pipeline::Impl::ApplyModelStats(const rd_kafka_message_t& msg) {
  const std::string_view key(static_cast<const char*>(msg.key),
                             msg.key == nullptr ? 0 : msg.key_len);
  std::int32_t partition = -1;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), partition);
  const bool key_ok = ec == std::errc() && end == key.data() + key.size() && partition >= 0;
  if (msg.payload == nullptr && key_ok) {  // tombstone: the partition has no aggregates
    model_stats_records.erase(partition);
    stats.model_stats_deleted.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::string_view bytes(static_cast<const char*>(msg.payload),
                               msg.payload == nullptr ? 0 : msg.len);
  auto record = state::DecodeModelStats(bytes);
  std::string detail;
  const char* reason = "invalid";
  if (!key_ok) {
    detail = "the key is not a partition number";
  } else if (!record) {
    detail = record.error().message;
    if (record.error().unsupported_version) reason = "unsupported_version";
  } else if (record->partition != partition) {
    detail = fmt::format("the key names partition {}, the record {}", partition, record->partition);
  }
  if (!detail.empty()) {
    warnings.Warn("dlq-model-stats", "dead-lettered a record of {} [{}] at offset {}: {}: {}",
                  rd_kafka_topic_name(msg.rkt), msg.partition, msg.offset, reason, detail);
    (std::string_view(reason) == "invalid" ? stats.model_stats_invalid
                                           : stats.model_stats_unsupported)
        .fetch_add(1, std::memory_order_relaxed);
    DeadLetter(msg, reason, detail,
               new Delivery{std::make_shared<OutputBatch>(0), DeadLetterOutput{}});
    return;
  }
  if (const std::string why = model::StatsIncompatibility(engine_options, *record); !why.empty()) {
    // A valid record of an instance configured otherwise: its values mean something else.
    warnings.Warn("model-stats-incompatible",
                  "{} [{}]: partition {}'s aggregates were made with {} than this instance's "
                  "configuration: not merged",
                  rd_kafka_topic_name(msg.rkt), msg.partition, partition, why);
    stats.model_stats_incompatible.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  model_stats_records[partition] =
      std::make_shared<const model::PartitionStats>(std::move(record).value());
  stats.model_stats_merged.fetch_add(1, std::memory_order_relaxed);
}

void Pipeline::Impl::PublishModelStats() {
  auto table = std::make_shared<ModelStatsTable>();
  table->records = model_stats_records;
  if (!model_stats_records.empty()) {
    std::vector<const model::PartitionStats*> records;
    for (const auto& [partition, record] : model_stats_records) records.push_back(record.get());
    table->merged = std::make_shared<const model::PeerStats>(
        records, model::WeightLearner(engine_options.learning.learner).prior());
  }
  stats.model_stats_partitions.store(static_cast<std::int64_t>(table->records.size()));
  {
    MutexLock lock(model_stats_mu);
    model_stats = std::move(table);
  }
  model_stats_version.fetch_add(1);
}

Result<bool, std::string> Pipeline::Impl::LoadCatalog() {
  rd_kafka_t* rk = catalog_consumer.get();
  // The catalog thread's consumer reads the items and, when shared, the model statistics: both
  // all partitions from the beginning.
  std::vector<std::string> topics = {config.topics.items};
  if (SharesModelStats()) topics.push_back(config.topics.model_stats);
  auto counts = stream::PartitionCounts(rk, topics, 10'000);
  if (!counts) return recsd::Fail(counts.error());
  stream::PartitionList list(rd_kafka_topic_partition_list_new(1));
  std::size_t partitions = 0;
  for (const std::string& topic : topics) {
    for (int p = 0; p < counts->at(topic); ++p) {
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
      ++partitions;
    }
  }
  if (const rd_kafka_resp_err_t err = rd_kafka_assign(rk, list.get()); err) {
    return recsd::Fail(std::string("cannot assign the items topic: ") + rd_kafka_err2str(err));
  }
  catalog_builder = std::make_unique<model::CatalogBuilder>(config.model.embedding_dim);
  // enable.partition.eof: every partition reports when it has been read to its end.
  std::set<std::pair<std::string, std::int32_t>> at_end;
  const Clock::time_point give_up = Clock::now() + config.pipeline.catalog_load_timeout;
  while (at_end.size() < partitions) {
    if (Clock::now() > give_up) {
      return recsd::Fail("the catalog (" + config.topics.items +
                         (SharesModelStats() ? " and " + config.topics.model_stats : "") +
                         ") was not read to its end within " +
                         std::to_string(config.pipeline.catalog_load_timeout.count()) + " ms");
    }
    if (stop.load()) return recsd::Fail(std::string("stopped while loading the catalog"));
    stream::KafkaMessage msg(rd_kafka_consumer_poll(rk, 100));
    if (!msg) continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.emplace(rd_kafka_topic_name(msg->rkt), msg->partition);
    } else {
      ApplyReference(*msg);
    }
  }
  PublishCatalog();
  PublishModelStats();
  spdlog::info("catalog loaded: {} items from {}", catalog_builder->size(), config.topics.items);
  if (SharesModelStats()) {
    spdlog::info("global statistics loaded: aggregates of {} partitions from {}",
                 model_stats_records.size(), config.topics.model_stats);
  }
  return true;
}

bool Pipeline::Impl::ApplyReference(const rd_kafka_message_t& msg) {
  if (msg.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (msg.err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      warnings.Warn("catalog-consume", "catalog: {}", rd_kafka_message_errstr(&msg));
    }
    return false;
  }
  if (rd_kafka_topic_name(msg.rkt) == config.topics.items) {
    ApplyItem(msg);
    return true;
  }
  ApplyModelStats(msg);
  return false;
}

void Pipeline::Impl::CatalogLoop() {
  bool changed = false;
  std::uint64_t stats_seen = stats.model_stats_merged.load() + stats.model_stats_deleted.load();
  Clock::time_point last_publish = Clock::now();
  while (!catalog_stop.load()) {
    stream::KafkaMessage msg(rd_kafka_consumer_poll(catalog_consumer.get(), 100));
    if (msg && ApplyReference(*msg)) changed = true;
    const std::uint64_t records =
        stats.model_stats_merged.load() + stats.model_stats_deleted.load();
    // Changes are batched: at most one catalog and one statistics snapshot per interval.
    if ((!changed && records == stats_seen) ||
        Clock::now() - last_publish < config.pipeline.catalog_publish_interval) {
      continue;
    }
    if (changed) PublishCatalog();
    if (records != stats_seen) PublishModelStats();
    changed = false;
    stats_seen = records;
    last_publish = Clock::now();
  }
}

// ---- Pipeline ----

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Pipeline::~Pipeline() {
  Stop();
  Wait();
}

void Pipeline::Stop() noexcept { impl_->RequestStop(); }

bool Pipeline::stopping() const noexcept { return impl_->stop.load(); }

const PipelineStats& Pipeline::stats() const noexcept { return impl_->stats; }

const Config& Pipeline::config() const noexcept { return impl_->config; }

std::vector<std::size_t> Pipeline::WorkerQueueSizes() const {
  std::vector<std::size_t> sizes;
  for (const auto& w : impl_->workers) sizes.push_back(w->Queue().Size());
  return sizes;
}

bool Pipeline::Visit(PartitionVisitor visit, std::chrono::milliseconds timeout) const {
  if (impl_->stop.load()) return false;  // the workers are finishing: no new work for them
  const auto shared = std::make_shared<const PartitionVisitor>(std::move(visit));
  std::vector<std::future<void>> done;
  for (const auto& w : impl_->workers) {
    auto promise = std::make_shared<std::promise<void>>();
    done.push_back(promise->get_future());
    w->Queue().Push(Control{Control::Kind::kVisit, 0, std::move(promise), shared});
  }
  const Clock::time_point until = Clock::now() + timeout;
  for (auto& f : done) {
    if (f.wait_until(until) != std::future_status::ready) return false;
    try {
      f.get();
    } catch (const std::future_error&) {
      return false;  // the worker is gone: its queue was dropped
    }
  }
  return true;
}

WeightsView Pipeline::weights() const {
  WeightsView view;
  MutexLock lock(impl_->weights_mu);
  std::uint64_t versions = 0;
  for (const WeightsView& w : impl_->worker_weights) {
    for (std::size_t s = 0; s < model::kMaxSources; ++s) view.weights.w[s] += w.weights.w[s];
    versions += w.weights.version;
    view.partitions += w.partitions;
    view.reverted = view.reverted || w.reverted;
  }
  if (view.partitions > 0) {
    for (double& x : view.weights.w) x /= static_cast<double>(view.partitions);
  } else {
    view.weights = impl_->engine_options.weights;  // nothing learned yet: the static weights
  }
  view.weights.version = versions;
  view.names = impl_->engine_options.features;
  return view;
}

Result<std::unique_ptr<Pipeline>, std::string> Pipeline::Start(const Config& config) {
  auto impl = std::make_unique<Impl>(config);
  Impl& m = *impl;
  m.engine_options = EngineOptionsFromConfig(config);
  m.min_refresh_ms = config.pipeline.min_refresh_interval.count();
  const std::size_t workers = config.pipeline.workers > 0
                                  ? config.pipeline.workers
                                  : std::max<std::size_t>(1, std::thread::hardware_concurrency());
  if (const std::string& dir = config.state.dir; !dir.empty()) {
    // Snapshots are written from the workers' threads; find out now if they cannot be.
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || ::access(dir.c_str(), W_OK | X_OK) != 0) {
      return Fail(
          fmt::format("state.dir {}: {}", dir,
                      (ec ? ec : std::error_code(errno, std::generic_category())).message()));
    }
  }

  // Producer: idempotent unless the operator said otherwise; every delivery report is checked.
  {
    auto conf = m.MakeConf({{"client.id", "recsd-producer"}});
    if (!conf) return Fail(conf.error());
    rd_kafka_conf_set_dr_msg_cb(conf->get(), &Impl::OnDelivery);
    rd_kafka_conf_set_stats_cb(conf->get(), &Impl::OnStats);
    auto rk = stream::MakeKafkaClient(RD_KAFKA_PRODUCER, std::move(conf).value());
    if (!rk) return Fail("producer: " + rk.error());
    m.producer = std::move(rk).value();
  }
  m.producer_thread = std::thread([&m] {
    while (!m.producer_stop.load()) rd_kafka_poll(m.producer.get(), 50);
  });
  const auto abandon = [&m] {  // on a start-up error: stop what runs
    m.catalog_stop.store(true);
    if (m.catalog_thread.joinable()) m.catalog_thread.join();
    m.producer_stop.store(true);
    if (m.producer_thread.joinable()) m.producer_thread.join();
  };

  // Catalog consumer: no group, all partitions from the beginning, told when it reaches the end.
  {
    std::map<std::string, std::string> overrides = {{"enable.auto.commit", "false"},
                                                    {"enable.partition.eof", "true"},
                                                    {"client.id", "recsd-catalog"}};
    auto conf = m.MakeConf(overrides);
    if (!conf) {
      abandon();
      return Fail(conf.error());
    }
    auto rk = stream::MakeKafkaClient(RD_KAFKA_CONSUMER, std::move(conf).value());
    if (!rk) {
      abandon();
      return Fail("catalog consumer: " + rk.error());
    }
    m.catalog_consumer = std::move(rk).value();
    // Error callbacks come on the main queue: serve it from the consumer poll.
    rd_kafka_poll_set_consumer(m.catalog_consumer.get());
  }
  {
    std::vector<std::string> topics = {config.topics.events, config.topics.recommendations,
                                       config.topics.dlq};
    if (config.state.changelog) topics.push_back(config.topics.changelog);
    auto counts = stream::PartitionCounts(m.producer.get(), topics, 10'000);
    if (!counts) {
      abandon();
      return Fail(counts.error());
    }
    m.events_partitions = counts->at(config.topics.events);
    if (config.state.changelog && counts->at(config.topics.changelog) != m.events_partitions) {
      abandon();
      return Fail(fmt::format(
          "{} has {} partitions, {} has {}: the changelog needs one partition per events "
          "partition (or state.changelog = false)",
          config.topics.changelog, counts->at(config.topics.changelog), config.topics.events,
          m.events_partitions));
    }
  }
  if (auto loaded = m.LoadCatalog(); !loaded) {
    abandon();
    return Fail(loaded.error());
  }
  m.catalog_thread = std::thread([&m] { m.CatalogLoop(); });

  // The group consumer: offsets stored by recsd only (after acknowledgement), committed by
  // librdkafka's auto-commit and at close.
  {
    if (auto it = config.kafka.find("enable.auto.offset.store");
        it != config.kafka.end() && it->second != "false") {
      spdlog::warn(
          "kafka.enable.auto.offset.store={} ignored: recsd stores offsets itself, only "
          "once their outputs are acknowledged",
          it->second);
    }
    auto conf = m.MakeConf({{"enable.auto.offset.store", "false"}, {"client.id", "recsd"}});
    if (!conf) {
      abandon();
      return Fail(conf.error());
    }
    rd_kafka_conf_set_rebalance_cb(conf->get(), &Impl::OnRebalance);
    rd_kafka_conf_set_offset_commit_cb(conf->get(), &Impl::OnCommit);
    rd_kafka_conf_set_stats_cb(conf->get(), &Impl::OnStats);
    auto rk = stream::MakeKafkaClient(RD_KAFKA_CONSUMER, std::move(conf).value());
    if (!rk) {
      abandon();
      return Fail("consumer: " + rk.error());
    }
    m.consumer = std::move(rk).value();
    // Statistics, commit and error callbacks come on the main queue: without this the consumer
    // poll never serves them.
    rd_kafka_poll_set_consumer(m.consumer.get());
  }
  m.worker_paused.assign(workers, false);
  {
    MutexLock lock(m.weights_mu);  // no worker runs yet; the analysis asks for it all the same
    m.worker_weights.assign(workers, WeightsView{});
  }
  for (std::size_t w = 0; w < workers; ++w) {
    m.workers.push_back(std::make_unique<Worker>(m, w));
    m.workers.back()->Start();
  }
  stream::PartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), config.topics.events.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  if (const rd_kafka_resp_err_t err = rd_kafka_subscribe(m.consumer.get(), topics.get()); err) {
    for (auto& w : m.workers) w->Queue().Push(Control{});
    m.workers.clear();
    abandon();
    return Fail(std::string("cannot subscribe to ") + config.topics.events + ": " +
                rd_kafka_err2str(err));
  }
  m.consumer_thread = std::thread([&m] { m.ConsumeLoop(); });
  spdlog::info(
      "run: consuming {} ({} partitions) in group {} with {} workers; lists to {}, dead "
      "letters to {}",
      config.topics.events, m.events_partitions, config.kafka.at("group.id"), workers,
      config.topics.recommendations, config.topics.dlq);
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(impl)));
}

int Pipeline::Wait() {
  Impl& m = *impl_;
  if (!m.consumer) return m.failed.load() ? kExitFailure : kExitOk;  // waited before
  {
    MutexLock lock(m.stop_mu);
    while (!m.stop.load()) m.stop_cv.Wait(lock);
  }
  const Clock::time_point deadline = Clock::now() + m.config.pipeline.shutdown_timeout;
  m.deadline_ns.store(deadline.time_since_epoch().count());
  spdlog::info("shutdown: finishing in-flight work (deadline {} ms)",
               m.config.pipeline.shutdown_timeout.count());
  if (m.consumer_thread.joinable()) m.consumer_thread.join();
  // Workers handle what is queued, refresh, wait for acknowledgements and store offsets.
  for (auto& w : m.workers) w->Queue().Push(Control{});
  for (auto& w : m.workers) w->Join();

  // Close the group consumer (commits the stored offsets) with a hard deadline: close can block
  // for as long as the brokers are unreachable.
  stream::KafkaQueue queue(rd_kafka_queue_new(m.consumer.get()));
  bool closed = false;
  if (stream::KafkaError e(rd_kafka_consumer_close_queue(m.consumer.get(), queue.get())); e) {
    spdlog::warn("consumer close: {}", rd_kafka_error_string(e.get()));
  } else {
    while (!(closed = rd_kafka_consumer_closed(m.consumer.get()) != 0) && !m.PastDeadline()) {
      rd_kafka_event_t* ev = rd_kafka_queue_poll(queue.get(), 50);
      if (ev == nullptr) continue;
      if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
        // Everything was handed over above: only give the partitions back.
        rd_kafka_topic_partition_list_t* parts = rd_kafka_event_topic_partition_list(ev);
        if (std::string_view(rd_kafka_rebalance_protocol(m.consumer.get())) == "COOPERATIVE") {
          stream::KafkaError ignored(rd_kafka_incremental_unassign(m.consumer.get(), parts));
        } else {
          rd_kafka_assign(m.consumer.get(), nullptr);
        }
      }
      rd_kafka_event_destroy(ev);
    }
  }
  if (!closed) spdlog::warn("shutdown: the consumer did not close before the deadline");
  queue.reset();
  rd_kafka_destroy_flags(m.consumer.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);

  m.catalog_stop.store(true);
  if (m.catalog_thread.joinable()) m.catalog_thread.join();
  rd_kafka_destroy_flags(m.catalog_consumer.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);

  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  const rd_kafka_resp_err_t flushed =
      rd_kafka_flush(m.producer.get(), static_cast<int>(std::max<std::int64_t>(0, left.count())));
  m.producer_stop.store(true);
  if (m.producer_thread.joinable()) m.producer_thread.join();
  const int unflushed = rd_kafka_outq_len(m.producer.get());
  if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("shutdown: {} messages not delivered before the deadline", unflushed);
  }
  // Messages still queued get an error delivery report at destroy; their batches no longer
  // matter (nothing is stored any more) but their Delivery records must be freed.
  rd_kafka_purge(m.producer.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(m.producer.get(), 0);
  m.producer.reset();
  m.workers.clear();

  const PipelineStats& s = m.stats;
  spdlog::info(
      "shutdown: done; {} events consumed, {} applied, {} skipped, {} dead-lettered, {} "
      "lists delivered",
      s.events_consumed.load(), s.Applied(), s.Counted(PipelineStats::Result::kDuplicate),
      s.DeadLettered(), s.lists_delivered.load());
  const bool clean = !m.failed.load() && closed && flushed == RD_KAFKA_RESP_ERR_NO_ERROR;
  return clean ? kExitOk : kExitFailure;
}

}  // namespace recsd::daemon
