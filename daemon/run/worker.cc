#include "daemon/run/worker.h"

#include <algorithm>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

namespace recsd::daemon {

Worker::Worker(const WorkerContext& context, std::size_t index)
    : ctx_(context),
      index_(index),
      next_tick_(context.clock.Now() + context.config.pipeline.refresh_interval) {}

Worker::~Worker() { Join(); }

void Worker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::Run() {
  while (RunRound(std::max(Clock::Steady::duration::zero(), next_tick_ - ctx_.clock.Now()))) {
  }
}

bool Worker::Drain() { return !stopped_ && RunRound(Clock::Steady::duration::zero()); }

bool Worker::RunRound(Clock::Steady::duration wait) {
  mailbox_.TakeAll(&items_, wait);
  bool stopping = false;
  for (MailItem& item : items_) {
    // A run of assignments (no event of theirs can come before them) is taken over at once.
    if (const auto* c = std::get_if<Control>(&item); c && c->kind == Control::Kind::kAssign) {
      assigned_.push_back(c->partition);
      continue;
    }
    TakeOverAssigned();
    if (!Process(item)) stopping = true;  // everything queued before the stop is handled first
  }
  TakeOverAssigned();
  items_.clear();
  if (ctx_.clock.Now() >= next_tick_ || stopping || tick_now_) {
    tick_now_ = false;
    Tick();
    next_tick_ = ctx_.clock.Now() + ctx_.config.pipeline.refresh_interval;
  }
  if (stopping) Finish();
  return !stopping;
}

bool Worker::Process(MailItem& item) {
  if (const auto* msg = std::get_if<ConsumedMessage>(&item)) {
    Handle(*msg);
    return true;
  }
  Control& c = std::get<Control>(item);
  switch (c.kind) {
    case Control::Kind::kStop:
      return false;
    case Control::Kind::kAssign:  // gathered by RunRound
      assigned_.push_back(c.partition);
      TakeOverAssigned();
      break;
    case Control::Kind::kVisit:
      for (auto& [p, part] : partitions_) (*c.visit)(p, *part.engine, part.now);
      c.done->set_value();
      break;
    case Control::Kind::kRevoke:
      HandOver(c.partition);
      c.done->set_value();
      break;
    case Control::Kind::kLose:
      Drop(c.partition);
      c.done->set_value();
      break;
  }
  return true;
}

// Shutdown: every partition is handed over as in a revoke.
void Worker::Finish() {
  std::vector<std::int32_t> owned;
  for (const auto& [p, part] : partitions_) owned.push_back(p);
  for (std::int32_t p : owned) HandOver(p);
  stopped_ = true;
}

const model::Engine* Worker::engine(std::int32_t p) const {
  const auto it = partitions_.find(p);
  return it == partitions_.end() ? nullptr : it->second.engine.get();
}

void Worker::Observe(PipelineStats::Stage stage, Clock::Steady::duration took) {
  ctx_.stats.stages[static_cast<std::size_t>(stage)].Observe(
      std::chrono::duration<double>(took).count());
}

// Adds what the partition's engine counted since the last report to the pipeline's counters;
// `bytes`: also re-measure its state size (O(users)).
void Worker::Report(std::int32_t p, Partition& part, bool bytes) {
  const model::Engine& e = *part.engine;
  PipelineStats& st = ctx_.stats;
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

// A partition's engine with no users, on the current catalog.
void Worker::FreshEngine(Partition& part) {
  part.engine = std::make_unique<model::Engine>(ctx_.engine_options, ctx_.config.event_types);
  part.catalog_version = ctx_.references.catalog_version();
  part.engine->SetCatalog(ctx_.references.catalog());
}

void Worker::TakeOverAssigned() {
  if (assigned_.empty()) return;
  Assign(assigned_);
  assigned_.clear();
}

void Worker::Assign(std::span<const std::int32_t> ps) {
  const bool changelog = ctx_.config.state.changelog;
  std::vector<std::shared_ptr<OutputBatch>> fences;
  for (std::int32_t p : ps) {
    Partition& part = partitions_[p];
    part = Partition{};
    FreshEngine(part);
    part.last_flush = ctx_.clock.Now();
    part.last_snapshot = ctx_.clock.Now();
    if (changelog) fences.push_back(StartFence(p, part));
  }
  for (std::size_t i = 0; i < ps.size(); ++i) {
    const std::int32_t p = ps[i];
    Partition& part = partitions_[p];
    const bool restored = !changelog || (FinishFence(part, fences[i]) && Restore(p, part));
    if (restored) SeedStats(p, part);
    ctx_.stats.restoring_partitions.fetch_sub(1, std::memory_order_relaxed);
    // Not restored (stopping, or failed): its events are left alone and nothing of it is
    // committed or written; the next owner restores and consumes it again.
    if (!restored) partitions_.erase(p);
  }
}

void Worker::Tick() {
  if (ctx_.liveness.Suspect()) {  // the partitions may be another member's by now
    ctx_.stats.ticks_held.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const Clock& clock = ctx_.clock;
  const Config::State& state = ctx_.config.state;
  std::int64_t users = 0;
  WeightsView view;
  const bool measure = clock.Now() >= next_measure_;
  if (measure) next_measure_ = clock.Now() + std::chrono::seconds(5);
  for (auto& [p, part] : partitions_) {
    Refresh(p, part, /*flush=*/false);
    if (clock.Now() - part.last_flush >= state.flush_interval) Flush(p, part);
    if (clock.Now() - part.last_snapshot >= state.snapshot_interval) WriteSnapshot(p, part);
    Store(p, part);
    if (clock.Now() - part.last_stats >= state.model_stats_interval) PublishStats(p, part);
    Report(p, part, measure);
    users += static_cast<std::int64_t>(part.engine->users());
    if (part.engine->learner().version() > 0) {
      const model::FusionWeights w = part.engine->learner().Weights();
      for (std::size_t s = 0; s < model::kMaxSources; ++s) view.weights.w[s] += w.w[s];
      view.weights.version += part.engine->learner().version();
      ++view.partitions;
    }
    view.reverted = view.reverted || part.engine->guard().reverted;
  }
  if (measure) users -= static_cast<std::int64_t>(BoundMemory());
  ctx_.stats.users.fetch_add(users - users_reported_, std::memory_order_relaxed);
  users_reported_ = users;
  ctx_.weights.Post(index_, std::move(view));
}

}  // namespace recsd::daemon
