#include "daemon/run/kafka/reference_reader.h"

#include <charconv>
#include <set>
#include <system_error>
#include <utility>

#include <spdlog/spdlog.h>

#include "daemon/base/lifecycle.h"
#include "daemon/base/parallel.h"
#include "daemon/run/dead_letter.h"
#include "state/model_stats_codec.h"
#include "stream/item_codec.h"

namespace recsd::daemon {

ReferenceReader::ReferenceReader(const Config& config, const model::EngineOptions& engine_options,
                                 PipelineStats& stats, RateLimitedWarnings& warnings,
                                 References& references, Outputs& outputs, Shutdown& shutdown)
    : config_(config),
      engine_options_(engine_options),
      stats_(stats),
      warnings_(warnings),
      references_(references),
      outputs_(outputs),
      shutdown_(shutdown) {}

ReferenceReader::~ReferenceReader() {
  Stop();
  DestroyWithoutClose(std::move(consumer_));
}

void ReferenceReader::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ReferenceReader::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void ReferenceReader::ApplyItem(const ConsumedMessage& msg) {
  const std::string_view key = msg.key.value_or(std::string_view());
  if (!msg.value) {  // tombstone: delete
    builder_->Erase(ItemId(key));
    stats_.items_applied.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto item = DecodeBounded(*msg.value, config_.pipeline.max_item_bytes, "pipeline.max_item_bytes",
                            [this](std::string_view bytes) {
                              return stream::DecodeItem(bytes, config_.model.embedding_dim);
                            });
  // A tombstone for the key would not delete an item of another id.
  const auto rejection = RejectionOf(
      item, msg, [](const ItemRecord& r) -> std::string_view { return r.item.str(); },
      "the message key is not the item's id");
  if (rejection) {
    const auto& [reason, detail] = *rejection;
    warnings_.Warn("dlq-item", "dead-lettered an item of {} [{}] at offset {}: {}: {}", msg.topic,
                   msg.partition, msg.offset, reason, detail);
    stats_.items_dead_lettered.fetch_add(1, std::memory_order_relaxed);
    // Items are read from the beginning at every start: nothing to commit, only to deliver.
    outputs_.DeadLetter(
        msg, reason, detail,
        std::make_unique<Delivery>(Delivery{std::make_shared<OutputBatch>(0), DeadLetterOutput{}}));
    return;
  }
  builder_->Upsert(*item);
  stats_.items_applied.fetch_add(1, std::memory_order_relaxed);
}

void ReferenceReader::PublishCatalog() {
  auto snapshot = builder_->Build();
  stats_.catalog_items.store(static_cast<std::int64_t>(snapshot->size()));
  stats_.catalog_updated_ms.store(WallMs());
  references_.SetCatalog(std::move(snapshot));
}

void ReferenceReader::ApplyModelStats(const ConsumedMessage& msg) {
  const std::string_view key = msg.key.value_or(std::string_view());
  std::int32_t partition = -1;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), partition);
  const bool key_ok = ec == std::errc() && end == key.data() + key.size() && partition >= 0;
  if (!msg.value && key_ok) {  // tombstone: the partition has no aggregates
    records_.erase(partition);
    stats_.model_stats_deleted.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto record = state::DecodeModelStats(msg.value.value_or(std::string_view()));
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
    warnings_.Warn("dlq-model-stats", "dead-lettered a record of {} [{}] at offset {}: {}: {}",
                   msg.topic, msg.partition, msg.offset, reason, detail);
    (std::string_view(reason) == "invalid" ? stats_.model_stats_invalid
                                           : stats_.model_stats_unsupported)
        .fetch_add(1, std::memory_order_relaxed);
    outputs_.DeadLetter(
        msg, reason, detail,
        std::make_unique<Delivery>(Delivery{std::make_shared<OutputBatch>(0), DeadLetterOutput{}}));
    return;
  }
  if (const std::string why = model::StatsIncompatibility(engine_options_, *record); !why.empty()) {
    // A valid record of an instance configured otherwise: its values mean something else.
    warnings_.Warn("model-stats-incompatible",
                   "{} [{}]: partition {}'s aggregates were made with {} than this instance's "
                   "configuration: not merged",
                   msg.topic, msg.partition, partition, why);
    stats_.model_stats_incompatible.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  records_[partition] = std::make_shared<const model::PartitionStats>(std::move(record).value());
  stats_.model_stats_merged.fetch_add(1, std::memory_order_relaxed);
}

void ReferenceReader::PublishModelStats() {
  auto table = std::make_shared<ModelStatsTable>();
  table->records = records_;
  if (!records_.empty()) {
    std::vector<const model::PartitionStats*> records;
    for (const auto& [partition, record] : records_) records.push_back(record.get());
    table->merged = std::make_shared<const model::PeerStats>(
        records, model::WeightLearner(engine_options_.learning.learner).prior());
  }
  stats_.model_stats_partitions.store(static_cast<std::int64_t>(table->records.size()));
  references_.SetModelStats(std::move(table));
}

Result<bool, std::string> ReferenceReader::Load(KafkaTransport& transport) {
  // No group, all partitions from the beginning, told when it reaches the end.
  auto conf = transport.MakeConf({{"enable.auto.commit", "false"},
                                  {"enable.partition.eof", "true"},
                                  {"client.id", "recsd-catalog"}});
  if (!conf) return recsd::Fail(conf.error());
  auto made = stream::MakeKafkaClient(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!made) return recsd::Fail("catalog consumer: " + made.error());
  consumer_ = std::move(made).value();
  rd_kafka_t* rk = consumer_.get();
  // Error callbacks come on the main queue: serve it from the consumer poll.
  rd_kafka_poll_set_consumer(rk);
  // The catalog thread's consumer reads the items and, when shared, the model statistics: both
  // all partitions from the beginning.
  std::vector<std::string> topics = {config_.topics.items};
  if (config_.state.SharesModelStats()) topics.push_back(config_.topics.model_stats);
  auto counts =
      stream::PartitionCounts(rk, topics, 10'000, [this] { return shutdown_.stopping(); });
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
  builder_ =
      std::make_unique<model::CatalogBuilder>(config_.model.embedding_dim, engine_options_.ann);
  builder_->set_parallel_for(ParallelForThreads());
  // enable.partition.eof: every partition reports when it has been read to its end.
  std::set<std::pair<std::string, std::int32_t>> at_end;
  const Clock::Steady::time_point give_up =
      Clock::Steady::now() + config_.pipeline.catalog_load_timeout;
  while (at_end.size() < partitions) {
    if (Clock::Steady::now() > give_up) {
      return recsd::Fail(
          "the catalog (" + config_.topics.items +
          (config_.state.SharesModelStats() ? " and " + config_.topics.model_stats : "") +
          ") was not read to its end within " +
          std::to_string(config_.pipeline.catalog_load_timeout.count()) + " ms");
    }
    if (shutdown_.stopping()) return recsd::Fail(std::string("stopped while loading the catalog"));
    stream::KafkaMessage msg(rd_kafka_consumer_poll(rk, 100));
    if (!msg) continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.emplace(rd_kafka_topic_name(msg->rkt), msg->partition);
    } else {
      Apply(std::move(msg));
    }
  }
  PublishCatalog();
  PublishModelStats();
  spdlog::info("catalog loaded: {} items from {}", builder_->size(), config_.topics.items);
  if (config_.state.SharesModelStats()) {
    spdlog::info("global statistics loaded: aggregates of {} partitions from {}", records_.size(),
                 config_.topics.model_stats);
  }
  return true;
}

bool ReferenceReader::Apply(stream::KafkaMessage kafka_msg) {
  if (kafka_msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (kafka_msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      warnings_.Warn("catalog-consume", "catalog: {}", rd_kafka_message_errstr(kafka_msg.get()));
    }
    return false;
  }
  const ConsumedMessage msg = FromKafka(std::move(kafka_msg));
  if (msg.topic == config_.topics.items) {
    ApplyItem(msg);
    return true;
  }
  ApplyModelStats(msg);
  return false;
}

void ReferenceReader::Loop() {
  bool changed = false;
  std::uint64_t stats_seen = stats_.model_stats_merged.load() + stats_.model_stats_deleted.load();
  Clock::Steady::time_point last_publish = Clock::Steady::now();
  while (!stop_.load()) {
    stream::KafkaMessage msg(rd_kafka_consumer_poll(consumer_.get(), 100));
    if (msg && Apply(std::move(msg))) changed = true;
    const std::uint64_t records =
        stats_.model_stats_merged.load() + stats_.model_stats_deleted.load();
    // Changes are batched: at most one catalog and one statistics snapshot per interval.
    if ((!changed && records == stats_seen) ||
        Clock::Steady::now() - last_publish < config_.pipeline.catalog_publish_interval) {
      continue;
    }
    if (changed) PublishCatalog();
    if (records != stats_seen) PublishModelStats();
    changed = false;
    stats_seen = records;
    last_publish = Clock::Steady::now();
  }
}

}  // namespace recsd::daemon
