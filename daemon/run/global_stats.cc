// Worker: global statistics (topics.model_stats): seeding a partition's aggregates, merging
// the peers' view, publishing its own.

#include <spdlog/spdlog.h>
#include "daemon/run/worker.h"
#include "state/model_stats_codec.h"

namespace recsd::daemon {

// Global statistics. A partition's aggregates move with it: its new owner starts from the
// latest record the previous one published (at most model_stats_interval old, or the hand-over
// publish); the other partitions' records become its peer view.
void Worker::SeedStats(std::int32_t p, Partition& part) {
  if (!ctx_.config.state.SharesModelStats()) return;
  part.last_stats = ctx_.clock.Now();
  if (const auto table = ctx_.references.model_stats()) {
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
          p, ctx_.config.topics.model_stats, it->second->as_of.ms, items, edges, vectors,
          it->second->learner.examples);
    }
  }
  UpdatePeers(p, part);
}

// Gives the partition's engine the latest merge of every partition's record (the catalog
// thread makes it; the engine leaves its own partition out) when there is a newer one.
void Worker::UpdatePeers(std::int32_t p, Partition& part) {
  if (!ctx_.config.state.SharesModelStats()) return;
  const std::uint64_t version = ctx_.references.model_stats_version();
  if (version == part.model_stats_version) return;
  const auto table = ctx_.references.model_stats();  // at least as new as `version`
  part.model_stats_version = version;
  part.engine->SetPeerStats(table ? table->merged : nullptr, p);
}

// Publishes the partition's aggregates to topics.model_stats (key = partition). A partition
// that has seen no event since it was assigned publishes nothing: its latest record stands.
// Best effort: a record that cannot be enqueued (the producer's queue is full, the record is
// too large) is counted and logged, and the next interval tries again; nothing waits for it.
void Worker::PublishStats(std::int32_t p, Partition& part) {
  if (!ctx_.config.state.SharesModelStats()) return;
  part.last_stats = ctx_.clock.Now();
  if (part.now.ms == 0) return;
  const std::string value =
      state::EncodeModelStats(part.engine->ExportStats(p, part.now, ModelStatsLimits()));
  const std::string key = std::to_string(p);
  OutgoingRecord m;
  m.topic = ctx_.config.topics.model_stats;
  m.key = key;
  m.value = value;
  ctx_.outputs.ProduceModelStats(
      m, std::make_unique<Delivery>(Delivery{std::make_shared<OutputBatch>(0), ModelStatsOutput{}}),
      fmt::format("partition {}", p));
}

}  // namespace recsd::daemon
