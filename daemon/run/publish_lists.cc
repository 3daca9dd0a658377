// Worker: refreshing a partition's dirty users and producing their lists.

#include <string>

#include <spdlog/spdlog.h>

#include "daemon/run/worker.h"
#include "stream/recommendation_codec.h"

namespace recsd::daemon {

// Refreshes a partition's dirty users; `flush`: all of them, whatever the minimum interval and
// the backlog.
void Worker::Refresh(std::int32_t p, Partition& part, bool flush) {
  if (const std::uint64_t v = ctx_.references.catalog_version(); v != part.catalog_version) {
    part.engine->SetCatalog(ctx_.references.catalog());
    part.catalog_version = v;
  }
  UpdatePeers(p, part);
  if (part.catch_up_end) {
    if (part.next_offset < *part.catch_up_end && !flush) return;  // the backlog's lists wait
    spdlog::info(
        "partition {}: backlog applied up to offset {} in {} ms; publishing", p, part.next_offset,
        std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.clock.Now() - part.resumed_at)
            .count());
    part.catch_up_end.reset();
  }
  if (part.engine->dirty() == 0) return;
  // The lists of this refresh stand for every event from the oldest dirty one on.
  batch_ = part.tracker.Open(part.engine->OldestDirtyOffset().value_or(0));
  // Event time drives the minimum interval while events flow; a partition that has had no event
  // for that long in wall time refreshes everyone left, so a user's last events are never held
  // back for want of later ones.
  const auto min_refresh = ctx_.config.pipeline.min_refresh_interval;
  const bool idle = ctx_.clock.Now() - part.last_event >= min_refresh;
  const std::int64_t min_interval = flush || idle ? 0 : min_refresh.count();
  publish_time_ = {};
  const Clock::Steady::time_point start = ctx_.clock.Now();
  if (part.engine->Refresh(part.now, *this, min_interval) > 0) {
    Observe(PipelineStats::Stage::kScore, ctx_.clock.Now() - start - publish_time_);
  }
  batch_.reset();
}

void Worker::Publish(RecommendationList list) {
  const Clock::Steady::time_point start = ctx_.clock.Now();
  ctx_.stats.list_items.Observe(static_cast<double>(list.items.size()));
  const std::string value = stream::EncodeRecommendationList(list);
  OutgoingRecord m;
  m.topic = ctx_.config.topics.recommendations;
  m.key = list.user.str();
  m.value = value;
  ctx_.outputs.Produce(m,
                       std::make_unique<Delivery>(Delivery{batch_, ListOutput{list.event_ts.ms}}));
  const Clock::Steady::duration took = ctx_.clock.Now() - start;
  publish_time_ += took;
  Observe(PipelineStats::Stage::kPublish, took);
}

}  // namespace recsd::daemon
