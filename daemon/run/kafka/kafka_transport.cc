#include "daemon/run/kafka/kafka_transport.h"

#include <string_view>

#include <spdlog/spdlog.h>

#include "stream/kafka_stats.h"

namespace recsd::daemon {

namespace {

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

std::optional<std::string_view> View(const void* data, std::size_t size) {
  if (data == nullptr) return std::nullopt;
  return std::string_view(static_cast<const char*>(data), size);
}

bool Cooperative(rd_kafka_t* rk) {
  return std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
}

}  // namespace

void DestroyWithoutClose(stream::KafkaHandle rk) {
  if (rk) rd_kafka_destroy_flags(rk.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

ConsumedMessage FromKafka(stream::KafkaMessage msg, bool with_headers) {
  ConsumedMessage m;
  m.topic = rd_kafka_topic_name(msg->rkt);
  m.partition = msg->partition;
  m.offset = msg->offset;
  m.key = View(msg->key, msg->key_len);
  m.value = View(msg->payload, msg->len);
  rd_kafka_headers_t* headers = nullptr;
  if (with_headers && rd_kafka_message_headers(msg.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      m.headers.push_back({name, View(value, size).value_or(std::string_view())});
    }
  }
  m.owner = ConsumedMessage::Owner(msg.release(), [](void* p) {
    rd_kafka_message_destroy(static_cast<rd_kafka_message_t*>(p));
  });
  return m;
}

KafkaTransport::KafkaTransport(const Config& config, PipelineStats& stats,
                               RateLimitedWarnings& warnings, Shutdown& shutdown,
                               const TransportEvents& events)
    : config_(config), stats_(stats), warnings_(warnings), shutdown_(shutdown), events_(events) {}

Result<std::unique_ptr<KafkaTransport>, std::string> KafkaTransport::Create(
    const Config& config, PipelineStats& stats, RateLimitedWarnings& warnings, Shutdown& shutdown,
    const TransportEvents& events) {
  std::unique_ptr<KafkaTransport> t(new KafkaTransport(config, stats, warnings, shutdown, events));
  // Idempotent unless the operator said otherwise; every delivery report is checked.
  auto conf = t->MakeConf({{"client.id", "recsd-producer"}});
  if (!conf) return Fail(conf.error());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &OnDelivery);
  rd_kafka_conf_set_stats_cb(conf->get(), &OnStats);
  auto rk = stream::MakeKafkaClient(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!rk) return Fail("producer: " + rk.error());
  t->producer_ = std::move(rk).value();
  KafkaTransport& self = *t;
  t->producer_thread_ = std::thread([&self] {
    while (!self.producer_stop_.load()) rd_kafka_poll(self.producer_.get(), 50);
  });
  return t;
}

KafkaTransport::~KafkaTransport() {
  producer_stop_.store(true);
  if (producer_thread_.joinable()) producer_thread_.join();
  DestroyWithoutClose(std::move(consumer_));
  MutexLock lock(restore_mu_);
  for (auto& rk : idle_restore_consumers_) DestroyWithoutClose(std::move(rk));
}

Result<stream::KafkaConf, std::string> KafkaTransport::MakeConf(
    const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> props = config_.kafka;
  for (const auto& [k, v] : overrides) props[k] = v;
  auto conf = stream::MakeKafkaConf(props);
  if (!conf) return conf;
  rd_kafka_conf_set_log_cb(conf->get(), &LogFromKafka);
  rd_kafka_conf_set_error_cb(conf->get(), &OnError);
  rd_kafka_conf_set_opaque(conf->get(), this);
  return conf;
}

Result<std::map<std::string, int>, std::string> KafkaTransport::PartitionCounts(
    const std::vector<std::string>& topics) {
  return stream::PartitionCounts(producer_.get(), topics, 10'000,
                                 [this] { return shutdown_.stopping(); });
}

Result<bool, std::string> KafkaTransport::Subscribe() {
  if (auto it = config_.kafka.find("enable.auto.offset.store");
      it != config_.kafka.end() && it->second != "false") {
    spdlog::warn(
        "kafka.enable.auto.offset.store={} ignored: recsd stores offsets itself, only "
        "once their outputs are acknowledged",
        it->second);
  }
  auto conf = MakeConf({{"enable.auto.offset.store", "false"}, {"client.id", "recsd"}});
  if (!conf) return Fail(conf.error());
  rd_kafka_conf_set_rebalance_cb(conf->get(), &OnRebalance);
  rd_kafka_conf_set_offset_commit_cb(conf->get(), &OnCommit);
  rd_kafka_conf_set_stats_cb(conf->get(), &OnStats);
  auto rk = stream::MakeKafkaClient(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!rk) return Fail("consumer: " + rk.error());
  consumer_ = std::move(rk).value();
  // Statistics, commit and error callbacks come on the main queue: without this the consumer
  // poll never serves them.
  rd_kafka_poll_set_consumer(consumer_.get());
  stream::PartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), config_.topics.events.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  if (const rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics.get()); err) {
    return Fail(std::string("cannot subscribe to ") + config_.topics.events + ": " +
                rd_kafka_err2str(err));
  }
  return true;
}

ProduceResult KafkaTransport::Produce(const OutgoingRecord& record, void* opaque) {
  std::vector<stream::KafkaHeader> headers;
  headers.reserve(record.headers.size());
  for (const MessageHeader& h : record.headers) headers.push_back({h.name, h.value});
  stream::OutgoingMessage m;
  m.topic = record.topic;
  m.partition = record.partition < 0 ? RD_KAFKA_PARTITION_UA : record.partition;
  m.key = record.key;
  m.value = record.value;
  m.headers = headers;
  m.opaque = opaque;
  const rd_kafka_resp_err_t err = stream::Produce(producer_.get(), m);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
    return {ProduceStatus::kQueueFull, rd_kafka_err2str(err)};
  return {ProduceStatus::kFailed, rd_kafka_err2str(err)};
}

std::optional<ConsumedMessage> KafkaTransport::Poll(std::chrono::milliseconds timeout) {
  stream::KafkaMessage msg(
      rd_kafka_consumer_poll(consumer_.get(), static_cast<int>(timeout.count())));
  if (!msg) return std::nullopt;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      warnings_.Warn(std::string("consume-") + rd_kafka_err2name(msg->err), "consume: {}",
                     rd_kafka_message_errstr(msg.get()));
    }
    return std::nullopt;
  }
  return FromKafka(std::move(msg));
}

stream::PartitionList KafkaTransport::EventsPartitions(
    std::span<const std::int32_t> partitions) const {
  stream::PartitionList list(rd_kafka_topic_partition_list_new(
      static_cast<int>(std::max<std::size_t>(1, partitions.size()))));
  for (const std::int32_t p : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), config_.topics.events.c_str(), p);
  }
  return list;
}

void KafkaTransport::Pause(std::span<const std::int32_t> partitions) {
  rd_kafka_pause_partitions(consumer_.get(), EventsPartitions(partitions).get());
}

void KafkaTransport::Resume(std::span<const std::int32_t> partitions) {
  rd_kafka_resume_partitions(consumer_.get(), EventsPartitions(partitions).get());
}

bool KafkaTransport::StoreOffset(std::int32_t partition, std::int64_t next) {
  stream::PartitionList list = EventsPartitions(std::span<const std::int32_t>(&partition, 1));
  list->elems[0].offset = next;
  const rd_kafka_resp_err_t err = rd_kafka_offsets_store(consumer_.get(), list.get());
  return err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

std::optional<std::int64_t> KafkaTransport::EndOffset(std::int32_t partition) {
  std::int64_t low = 0;
  std::int64_t high = 0;
  if (rd_kafka_get_watermark_offsets(consumer_.get(), config_.topics.events.c_str(), partition,
                                     &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  return high;
}

// The changelog reader of a restore (assign-only), made on first need and kept for the next
// restore; nothing when it cannot be made (the pipeline failed then).
stream::KafkaHandle KafkaTransport::TakeRestoreConsumer() {
  {
    MutexLock lock(restore_mu_);
    if (!idle_restore_consumers_.empty()) {
      stream::KafkaHandle rk = std::move(idle_restore_consumers_.back());
      idle_restore_consumers_.pop_back();
      return rk;
    }
  }
  // A catch-up reader: the end of a partition is known after one fetch that brokers answer
  // once fetch.wait.max.ms has passed, so keep that short. An offset out of range (a snapshot
  // ahead of the changelog) is reported, not silently reset.
  auto conf = MakeConf({{"enable.auto.commit", "false"},
                        {"enable.partition.eof", "true"},
                        {"auto.offset.reset", "error"},
                        {"fetch.wait.max.ms", "1"},
                        {"client.id", "recsd-restore"}});
  if (!conf) {
    shutdown_.Fail("restore consumer: " + conf.error());
    return nullptr;
  }
  auto rk = stream::MakeKafkaClient(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!rk) {
    shutdown_.Fail("restore consumer: " + rk.error());
    return nullptr;
  }
  rd_kafka_poll_set_consumer(rk->get());
  return std::move(rk).value();
}

ChangelogRead KafkaTransport::ReadChangelog(std::int32_t partition, std::int64_t from,
                                            const ChangelogVisitor& record, std::int64_t* end) {
  stream::KafkaHandle rk = TakeRestoreConsumer();
  if (!rk) return ChangelogRead::kStopped;
  const ChangelogRead read = ReadChangelogWith(rk.get(), partition, from, record, end);
  rd_kafka_assign(rk.get(), nullptr);
  MutexLock lock(restore_mu_);
  idle_restore_consumers_.push_back(std::move(rk));
  return read;
}

// Reads to the end reported by the consumer (enable.partition.eof): no blocking call, so a
// stop, or a broker that is gone, ends the read at the next poll.
ChangelogRead KafkaTransport::ReadChangelogWith(rd_kafka_t* rk, std::int32_t p, std::int64_t from,
                                                const ChangelogVisitor& record, std::int64_t* end) {
  const std::string& topic = config_.topics.changelog;
  stream::PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
      from == kFromBeginning ? RD_KAFKA_OFFSET_BEGINNING : from;
  // The beginning as an offset: a new reader assigned a logical offset before it knows the
  // partition's leader resolves it only at librdkafka's offset-query retry, half a second later
  // (measured: a worker's first restore took 0.52 s instead of 15 ms). One bounded round trip;
  // without an answer, librdkafka resolves the logical offset itself.
  std::int64_t low = 0;
  std::int64_t high = 0;
  if (from == kFromBeginning &&
      rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 1000) ==
          RD_KAFKA_RESP_ERR_NO_ERROR) {
    list->elems[0].offset = low;
  }
  if (const rd_kafka_resp_err_t err = rd_kafka_assign(rk, list.get()); err) {
    shutdown_.Fail(fmt::format("restore of {} [{}]: {}", topic, p, rd_kafka_err2str(err)));
    return ChangelogRead::kStopped;
  }
  while (true) {
    if (shutdown_.stopping()) return ChangelogRead::kStopped;
    stream::KafkaMessage msg(rd_kafka_consumer_poll(rk, 100));
    if (!msg || msg->partition != p) continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      *end = msg->offset;
      return ChangelogRead::kDone;
    }
    if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
      if (from >= 0) return ChangelogRead::kOutOfRange;
      // Read from the beginning, and the beginning moved past the read position (retention
      // deleted records while they were read; the fetcher stops on this error): read on from
      // the new beginning. Later records of a user replace what was read of it.
      warnings_.Warn("restore", "restore of {} [{}]: {}; reading on from its new beginning", topic,
                     p, rd_kafka_message_errstr(msg.get()));
      list->elems[0].offset = RD_KAFKA_OFFSET_BEGINNING;
      if (const rd_kafka_resp_err_t err = rd_kafka_assign(rk, list.get()); err) {
        shutdown_.Fail(fmt::format("restore of {} [{}]: {}", topic, p, rd_kafka_err2str(err)));
        return ChangelogRead::kStopped;
      }
      continue;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      warnings_.Warn("restore", "restore of {} [{}]: {}", topic, p,
                     rd_kafka_message_errstr(msg.get()));
      continue;
    }
    if (!record(FromKafka(std::move(msg), /*with_headers=*/true))) return ChangelogRead::kStopped;
  }
}

void KafkaTransport::OnRebalance(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KafkaTransport*>(opaque)->Rebalance(err, partitions);
}

void KafkaTransport::Rebalance(rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t* partitions) {
  std::vector<std::int32_t> ps;
  ps.reserve(static_cast<std::size_t>(partitions->cnt));
  for (int i = 0; i < partitions->cnt; ++i) ps.push_back(partitions->elems[i].partition);
  rd_kafka_t* rk = consumer_.get();
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (Cooperative(rk)) {
      if (stream::KafkaError e(rd_kafka_incremental_assign(rk, partitions)); e) {
        shutdown_.Fail(std::string("incremental assign: ") + rd_kafka_error_string(e.get()));
      }
    } else if (rd_kafka_assign(rk, partitions) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      shutdown_.Fail("assign failed");
    }
    events_.assigned(ps);  // after the assign: a paused worker's new partitions can be paused
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    // Lost (this member's session expired, the group gave them away): dropped, not handed over.
    const bool lost = rd_kafka_assignment_lost(rk) != 0;
    if (lost) stats_.rebalances_lost.fetch_add(1, std::memory_order_relaxed);
    events_.revoked(ps, lost);  // handed over, or dropped: give them back
    GiveBack(partitions);
  } else {
    stats_.rebalances_error.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("rebalance error: {}", rd_kafka_err2str(err));
    GiveBack(partitions);
  }
}

void KafkaTransport::GiveBack(rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = consumer_.get();
  if (Cooperative(rk)) {
    if (stream::KafkaError e(rd_kafka_incremental_unassign(rk, partitions)); e) {
      spdlog::warn("incremental unassign: {}", rd_kafka_error_string(e.get()));
    }
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

void KafkaTransport::OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque) {
  auto* t = static_cast<KafkaTransport*>(opaque);
  DeliveryReport report;
  report.ok = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR;
  report.topic = rd_kafka_topic_name(msg->rkt);
  report.offset = msg->offset;
  if (!report.ok) {
    report.error_name = rd_kafka_err2name(msg->err);
    report.error = rd_kafka_err2str(msg->err);
  }
  t->events_.delivered(msg->_private, report);
}

void KafkaTransport::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* t = static_cast<KafkaTransport*>(opaque);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  t->stats_.kafka.CountError(rd_kafka_err2name(code));
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    t->shutdown_.Fail(std::string("fatal Kafka error: ") + fatal);
    return;
  }
  t->warnings_.Warn(std::string("kafka-") + rd_kafka_err2name(code), "Kafka {} ({}): {}",
                    rd_kafka_name(rk), rd_kafka_err2name(code), reason);
}

void KafkaTransport::OnCommit(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  auto* t = static_cast<KafkaTransport*>(opaque);
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
    t->stats_.commits_ok.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  t->stats_.commits_failed.fetch_add(1, std::memory_order_relaxed);
  t->stats_.kafka.CountError(rd_kafka_err2name(first));
  t->warnings_.Warn("commit", "offset commit failed: {} (retried at the next commit)",
                    rd_kafka_err2str(first));
}

int KafkaTransport::OnStats(rd_kafka_t* /*rk*/, char* json, std::size_t json_len, void* opaque) {
  auto* t = static_cast<KafkaTransport*>(opaque);
  auto stats = stream::ParseKafkaStats({json, json_len}, t->config_.topics.events);
  if (stats) {
    t->stats_.kafka.Update(*stats);
  } else {
    t->warnings_.Warn("kafka-stats", "{}", stats.error());
  }
  return 0;  // librdkafka frees the document
}

bool KafkaTransport::CloseConsumer(Clock::Steady::time_point deadline) {
  if (!consumer_) return true;
  stream::KafkaQueue queue(rd_kafka_queue_new(consumer_.get()));
  bool closed = false;
  if (stream::KafkaError e(rd_kafka_consumer_close_queue(consumer_.get(), queue.get())); e) {
    spdlog::warn("consumer close: {}", rd_kafka_error_string(e.get()));
  } else {
    while (!(closed = rd_kafka_consumer_closed(consumer_.get()) != 0) &&
           Clock::Steady::now() < deadline) {
      rd_kafka_event_t* ev = rd_kafka_queue_poll(queue.get(), 50);
      if (ev == nullptr) continue;
      if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
        // Everything was handed over already: only give the partitions back.
        GiveBack(rd_kafka_event_topic_partition_list(ev));
      }
      rd_kafka_event_destroy(ev);
    }
  }
  queue.reset();
  if (!closed) {
    // Destroying it would wait for its group session to end (session.timeout.ms, with the
    // brokers gone): past the deadline it is left to the process's exit instead.
    spdlog::warn(
        "shutdown: the consumer did not close before the deadline; abandoning it (its offsets "
        "stored since the last commit are consumed again)");
    static_cast<void>(consumer_.release());
    return false;
  }
  DestroyWithoutClose(std::move(consumer_));
  return closed;
}

bool KafkaTransport::FlushProducer(Clock::Steady::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::Steady::now());
  const rd_kafka_resp_err_t flushed =
      rd_kafka_flush(producer_.get(), static_cast<int>(std::max<std::int64_t>(0, left.count())));
  producer_stop_.store(true);
  if (producer_thread_.joinable()) producer_thread_.join();
  if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("shutdown: {} messages not delivered before the deadline",
                 rd_kafka_outq_len(producer_.get()));
  }
  // Messages still queued get an error delivery report: their batches no longer matter
  // (nothing is stored any more) but their Delivery records must be freed.
  rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(producer_.get(), 0);
  producer_.reset();
  return flushed == RD_KAFKA_RESP_ERR_NO_ERROR;
}

}  // namespace recsd::daemon
