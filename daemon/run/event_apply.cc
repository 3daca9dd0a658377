// Worker: applying one consumed event, and resuming a partition at its first event.

#include <algorithm>

#include <spdlog/spdlog.h>

#include "daemon/run/dead_letter.h"
#include "daemon/run/worker.h"
#include "stream/event_codec.h"

namespace recsd::daemon {

// The partition's first event since it was assigned: consumption resumes at `offset`, the
// committed offset. (1) Lists the restored state says were published for events from there on
// are published again (same rec): the previous owner committed only past acknowledged lists,
// so they may not have arrived, and their events are duplicates now. (2) The lists of the
// backlog (up to the partition's end now, at most pipeline.catch_up_events) wait until all of
// it is applied: one list per user for the whole backlog, standing for the user's latest event
// in it, so a crash repeats lists under the rec they had rather than re-issuing older ones.
void Worker::Resume(std::int32_t p, Partition& part, std::int64_t offset) {
  part.resumed = true;
  part.resumed_at = ctx_.clock.Now();
  batch_ = part.tracker.Open(offset);
  const std::size_t republished = part.engine->RepublishUnconfirmed(offset, *this);
  batch_.reset();
  ctx_.stats.lists_republished.fetch_add(republished, std::memory_order_relaxed);
  const auto cap = static_cast<std::int64_t>(ctx_.config.pipeline.catch_up_events);
  if (const std::optional<std::int64_t> high = ctx_.transport.EndOffset(p);
      cap > 0 && high && *high > offset + 1) {
    part.catch_up_end = std::min(*high, offset + cap);
  }
  if (republished > 0 || part.catch_up_end) {
    spdlog::info(
        "partition {}: resuming at offset {}; {} list(s) published again (not known to have "
        "arrived); lists wait until offset {} is reached",
        p, offset, republished, part.catch_up_end.value_or(offset));
  }
}

// A rejected event: counted as `result`, sent to the dead-letter topic, and the partition moves
// on (its offset is stored past it once the dead letter is acknowledged, or failed for good).
void Worker::DeadLetter(const ConsumedMessage& msg, Partition& part, const Rejection& rejection,
                        PipelineStats::Result result) {
  ctx_.warnings.Warn("dlq", "dead-lettered an event of {} [{}] at offset {}: {}: {}", msg.topic,
                     msg.partition, msg.offset, rejection.reason, rejection.detail);
  ctx_.stats.Count(result);
  ctx_.outputs.DeadLetter(
      msg, rejection.reason, rejection.detail,
      std::make_unique<Delivery>(Delivery{part.tracker.Open(msg.offset), DeadLetterOutput{}}));
  part.tracker.Handled(msg.offset);
}

void Worker::Handle(const ConsumedMessage& msg) {
  auto it = partitions_.find(msg.partition);
  if (it == partitions_.end()) return;  // revoked meanwhile: the new owner consumes it again
  Partition& part = it->second;
  if (!part.resumed) Resume(msg.partition, part, msg.offset);
  part.next_offset = msg.offset + 1;
  // The backlog's lists go out at the end of this round, not at the next tick.
  if (part.catch_up_end && part.next_offset >= *part.catch_up_end) tick_now_ = true;
  PipelineStats& st = ctx_.stats;
  st.events_consumed.fetch_add(1, std::memory_order_relaxed);
  const Config::Pipeline& cfg = ctx_.config.pipeline;
  const Clock::Steady::time_point start = ctx_.clock.Now();
  auto event = DecodeBounded(msg.value.value_or(std::string_view()), cfg.max_event_bytes,
                             "pipeline.max_event_bytes", [this](std::string_view bytes) {
                               return stream::DecodeEvent(bytes, ctx_.config.event_types);
                             });
  const Clock::Steady::time_point decoded = ctx_.clock.Now();
  Observe(PipelineStats::Stage::kDecode, decoded - start);
  // A user's events must all reach the partition that holds its state: keyed by the user.
  auto rejection = RejectionOf(
      event, msg, [](const Event& e) -> std::string_view { return e.user.str(); },
      "the message key is not the event's user", /*key_required=*/true);
  if (event) {
    st.consumed_by_type[event->type].fetch_add(1, std::memory_order_relaxed);
  } else {
    st.consumed_untyped.fetch_add(1, std::memory_order_relaxed);
  }
  // A future event time would become the partition's clock, at which every list is ranked.
  if (const std::int64_t ahead = event ? event->ts.ms - ctx_.clock.WallMs() : 0;
      !rejection && ahead > cfg.max_event_future.count()) {
    rejection = Rejection{"future_timestamp",
                          fmt::format("event time {} ms is {} s after this instance's clock, more "
                                      "than pipeline.max_event_future",
                                      event->ts.ms, ahead / 1000)};
  }
  if (rejection) {
    DeadLetter(msg, part, *rejection,
               event ? PipelineStats::Result::kDlq : ResultOf(stream::ClassOf(event.error().code)));
    return;
  }
  bool late = false;
  const model::ApplyOutcome outcome =
      part.engine->Apply(*event, {msg.partition, msg.offset}, &late);
  Observe(PipelineStats::Stage::kState, ctx_.clock.Now() - decoded);
  if (outcome == model::ApplyOutcome::kDuplicate) {
    st.Count(PipelineStats::Result::kDuplicate);
  } else {
    st.Count(late ? PipelineStats::Result::kLate : PipelineStats::Result::kOk);
  }
  if (outcome == model::ApplyOutcome::kForgotten) {
    st.evicted_forget.fetch_add(1, std::memory_order_relaxed);
    // The user's last list goes too: a tombstone under their key in the recommendations topic
    // (a compacted topic then drops every list of theirs).
    OutgoingRecord m;
    m.topic = ctx_.config.topics.recommendations;
    m.key = event->user.str();
    ctx_.outputs.Produce(
        m, std::make_unique<Delivery>(Delivery{part.tracker.Open(msg.offset), ForgetOutput{}}));
  }
  if (outcome != model::ApplyOutcome::kDuplicate && !part.unflushed_since) {
    part.unflushed_since = msg.offset;
  }
  part.now = std::max(part.now, event->ts);
  part.last_event = ctx_.clock.Now();
  part.tracker.Handled(msg.offset);
}

}  // namespace recsd::daemon
