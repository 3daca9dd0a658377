#include "model/engine.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "model/check.h"
#include "model/list_id.h"
#include "model/text_embedder.h"

namespace recsd::model {
namespace {

double Seconds(TimestampMs t) { return static_cast<double>(t.ms) / 1000.0; }

LearnerOptions WithFeatures(LearnerOptions options, std::size_t features) {
  options.features = features;
  return options;
}

// Collects the rows the features offer for one user into candidates, each row once:
// slot[row] is the row's index in `candidates` (-1: not a candidate), a catalog-sized scratch
// that the engine resets for the rows touched.
class CandidateCollector final : public CandidateSink {
 public:
  CandidateCollector(std::vector<Candidate>* candidates, std::vector<std::int32_t>* slot)
      : candidates_(candidates), slot_(slot) {}
  void Offer(std::uint32_t row) override {
    if ((*slot_)[row] < 0) {
      (*slot_)[row] = static_cast<std::int32_t>(candidates_->size());
      candidates_->push_back({row, {}});
    }
  }

 private:
  std::vector<Candidate>* candidates_;
  std::vector<std::int32_t>* slot_;
};

// Thompson samples are seeded by the list id, so a list recomputed after a crash is the same.
constexpr std::uint64_t kSampleSalt = 0x243f6a8885a308d3ULL;  // digits of pi

}  // namespace

std::string_view VariantName(Variant variant) noexcept {
  switch (variant) {
    case Variant::kLearned:
      return "learned";
    case Variant::kHoldout:
      return "holdout";
    case Variant::kStatic:
      break;
  }
  return "static";
}

void SetInterestKernels(const DecayKernel& short_kernel, const DecayKernel& long_kernel,
                        EngineOptions* options) {
  std::vector<double> half_lives;
  const auto add = [&](const DecayKernel& kernel) {
    for (double h : kernel.half_lives()) {
      if (std::find(half_lives.begin(), half_lives.end(), h) == half_lives.end()) {
        half_lives.push_back(h);
      }
    }
  };
  add(short_kernel);
  add(long_kernel);
  const auto mix = [&](const DecayKernel& kernel) {
    std::vector<double> weights(half_lives.size(), 0.0);
    for (std::size_t j = 0; j < kernel.half_lives().size(); ++j) {
      const auto at = std::find(half_lives.begin(), half_lives.end(), kernel.half_lives()[j]);
      weights[static_cast<std::size_t>(at - half_lives.begin())] += kernel.weights()[j];
    }
    return weights;
  };
  options->sources.embedding.short_mix = mix(short_kernel);
  options->sources.embedding.long_mix = mix(long_kernel);
  options->user.half_lives = std::move(half_lives);
}

std::string StatsIncompatibility(const EngineOptions& options, const PartitionStats& record) {
  if (record.features != options.features) return "other features";
  if (record.prior_variance != options.learning.learner.prior_variance) {
    return "another learner prior variance";
  }
  const SourceSet sources = MakeSources(options.sources, options.features, options.user);
  for (const SourceStats& share : record.sources) {
    const Source* room = RoomSharing(sources, share.source);
    if (room != nullptr && !room->Compatible(share)) {
      return "source " + share.source + " with another half-life";
    }
  }
  return "";
}

std::optional<std::size_t> EngineOptions::FeatureIndex(std::string_view name) const {
  const auto it = std::find(features.begin(), features.end(), name);
  if (it == features.end()) return std::nullopt;
  return static_cast<std::size_t>(it - features.begin());
}

Engine::Engine(EngineOptions options, EventTypeTable types)
    : options_(std::move(options)),
      types_(std::move(types)),
      catalog_(CatalogBuilder(options_.user.dim).Build()),
      sources_(MakeSources(options_.sources, options_.features, options_.user)),
      feedback_type_(EventTypeTable::kMaxTypes, false),
      repeatable_type_(EventTypeTable::kMaxTypes, false),
      learner_(WithFeatures(options_.learning.learner, options_.features.size())),
      guard_stats_(options_.learning.guard.half_life_lists) {
  for (std::size_t f = 0; f < sources_.features.size(); ++f) {
    sources_.features[f].room->set_offers(sources_.features[f].local, options_.offer[f]);
  }
  // The interest vectors are read by the embedding room alone, and by it only without learned item
  // vectors (with them, a user's vector is made from the recent items' learned vectors): a user
  // keeps them only then (512 bytes of a light user's ~1 KB at 64 dimensions). No user exists
  // yet that was made with the other setting.
  bool embedding = false;
  for (const auto& room : sources_.rooms)
    embedding = embedding || room->name() == EmbeddingSource::kName;
  options_.user.interest_vectors = embedding && !options_.sources.embedding.learned.enabled;
  for (const auto& room : sources_.rooms) {
    if (auto* p = dynamic_cast<PopularitySource*>(room.get())) popularity_ = p;
    room->SetCatalog(*catalog_);
  }
  for (EventTypeId t : options_.learning.feedback_types) {
    RECSD_CHECK(t < feedback_type_.size(), "feedback type");
    feedback_type_[t] = true;
  }
  for (EventTypeId t : options_.repeatable_types) {
    RECSD_CHECK(t < repeatable_type_.size(), "repeatable type");
    repeatable_type_[t] = true;
  }
  const GuardOptions& guard = options_.learning.guard;
  RECSD_CHECK(options_.learning.holdout_share >= 0 && options_.learning.holdout_share <= 1 &&
                  guard.half_life_lists > 0 && guard.min_lists >= 0 && guard.z_revert > 0 &&
                  options_.learning.attribution.window_ms >= 0,
              "learning options");
  RECSD_CHECK(options_.candidates_per_source > 0 && options_.refresh_batch > 0 &&
                  options_.rank.k > 0 && options_.rank.k <= kMaxListItems,
              "engine options");
}

void Engine::SetCatalog(std::shared_ptr<const Catalog> catalog) {
  RECSD_CHECK(catalog != nullptr && catalog->dim() == options_.user.dim, "catalog dimension");
  catalog_ = std::move(catalog);
  slot_.assign(catalog_->size(), -1);
  for (const auto& room : sources_.rooms) room->SetCatalog(*catalog_);
}

double Engine::ClockTime(const UserState& state, double now_s) const {
  if (options_.clock == InterestClock::kActivity) {
    return state.interest().empty() ? 0.0 : state.clock();  // no decay between a user's events
  }
  return state.interest().empty() ? now_s : std::max(now_s, state.clock());
}

ApplyOutcome Engine::Apply(const Event& event, EventPosition position, bool* late) {
  if (event.type == event_type::kForget) {
    // Its id may stay in dirty_ and expiry_: both skip users that are gone. Its pending lists go
    // unlearned: a user who asked to be forgotten leaves no examples behind.
    const auto it = users_.find(event.user);
    if (late != nullptr) *late = it != users_.end() && event.ts < it->second.latest_ts;
    if (it != users_.end()) {
      users_.erase(it);
      erased_.insert(event.user);
    }
    return ApplyOutcome::kForgotten;
  }
  auto [it, inserted] = users_.try_emplace(event.user, options_.user);
  UserEntry& entry = it->second;
  if (late != nullptr) *late = event.ts < entry.latest_ts;  // a new entry's is 0
  UserState& state = entry.state;
  if (position.offset <= state.last_offset()) {
    // Consumed again, after a restart or a hand-over that resumed below it: the state has the
    // event already (restored from the changelog, which may be written before the event's list is
    // made). An event that asks for a list (a non-zero interest weight) and is newer than the
    // trigger of the user's newest list has no list yet (RepublishUnconfirmed published again
    // those that had one): this is the last chance to make it. Not only the user's last event:
    // one followed by an impression (which asks for none) would lose its list. Each such event
    // moves the trigger on, so the list goes out under the newest.
    if (types_.Get(event.type).weight != 0.0 &&
        !(entry.dirty && entry.trigger.offset >= position.offset)) {
      const std::optional<ListId> current =
          state.pending().empty() ? std::nullopt : ParseListId(state.pending().back().rec);
      if (!current || current->offset < position.offset) {
        MarkDirty(it->first, entry, event, position);
      }
    }
    return ApplyOutcome::kDuplicate;
  }
  MarkChanged(it->first, entry);
  Attribute(event, &state);
  const double weight = types_.Get(event.type).weight;
  if (weight == 0.0) {
    state.MarkApplied(position.offset);
    return ApplyOutcome::kNoInterest;
  }
  const double now_s = Seconds(event.ts);
  const double t = options_.clock == InterestClock::kActivity
                       ? (state.interest().empty() ? 0.0 : state.clock()) + 1.0
                       : now_s;
  applied_offset_ = std::max(applied_offset_, position.offset);
  const std::optional<std::size_t> row = catalog_->Find(event.item);
  if (weight > 0 && position.offset > seeded_offset_) {  // else the seeded record holds it
    // The global statistics count positive interest only: a dislike is not a vote.
    Interaction interaction;
    interaction.item = &event.item;
    if (row) interaction.row = static_cast<std::uint32_t>(*row);
    interaction.weight = weight;
    interaction.now_s = now_s;
    interaction.clock = t;
    interaction.user = &state;
    for (const auto& room : sources_.rooms) room->Learn(interaction);
  }
  const std::span<const float> embedding =
      row ? catalog_->Embedding(*row) : std::span<const float>();
  const CategoryId category = row ? catalog_->item(*row).category : kNoCategory;
  state.Observe(position.offset, t, weight, event.item, embedding, category,
                /*remember=*/!repeatable_type_[event.type]);
  if (entry.dirty) ++coalesced_;  // this event's list will also stand for the earlier dirty ones
  MarkDirty(it->first, entry, event, position);
  return row ? ApplyOutcome::kApplied : ApplyOutcome::kUnknownItem;
}

void Engine::MarkDirty(const UserId& id, UserEntry& entry, const Event& event,
                       EventPosition position) {
  if (!entry.dirty) {
    entry.dirty = true;
    entry.dirty_since = position.offset;
    dirty_.push_back(id);
  }
  entry.trigger = position;
  entry.trigger_ts = event.ts;
  entry.latest_ts = std::max(entry.latest_ts, event.ts);
  if (!options_.learning.segment_keys.empty()) entry.segment = SegmentOf(event);
}

void Engine::Attribute(const Event& event, UserState* state) {
  if (event.type == event_type::kImpression) {
    if (event.rec && event.pos) RecordImpression(state, *event.rec, *event.pos);
    return;
  }
  if (!feedback_type_[event.type] || (!event.rec && !options_.learning.attribute_by_item)) return;
  AttributeClick(state, event.item, event.rec, event.pos, event.ts, options_.learning.attribution);
}

std::string Engine::SegmentOf(const Event& event) const {
  std::string segment;
  for (const std::string& key : options_.learning.segment_keys) {
    for (const auto& [k, v] : event.ctx) {
      if (k != key) continue;
      if (!segment.empty()) segment += ',';
      segment.append(k).append("=").append(v);
      break;
    }
  }
  return segment;
}

bool Engine::Holdout(const UserId& user) const {
  // A stable hash as a fraction in [0, 1): the same users on every instance and after every
  // restart.
  const double u = static_cast<double>(MixedHash64(user.str()) >> 11) * 0x1.0p-53;
  return u < options_.learning.holdout_share;
}

Variant Engine::VariantOf(const UserId& user) const {
  if (!options_.learning.learn) return Variant::kStatic;
  if (Holdout(user)) return Variant::kHoldout;
  return guard_.reverted ? Variant::kStatic : Variant::kLearned;
}

std::size_t Engine::FinishPending(TimestampMs now) {
  const TimestampMs cutoff{now.ms - options_.learning.attribution.window_ms};
  std::size_t finished = 0;
  while (!expiry_.empty() && expiry_.front().first < cutoff) {
    auto it = users_.find(expiry_.front().second);
    expiry_.pop_front();
    if (it == users_.end()) continue;
    MarkChanged(it->first, it->second);
    for (const PendingList& list : it->second.state.TakePendingShownBefore(cutoff)) {
      Finish(list, &it->second);
      ++finished;
    }
  }
  return finished;
}

void Engine::Finish(const PendingList& list, UserEntry* user) {
  Variant variant = Variant::kStatic;
  for (Variant v : {Variant::kLearned, Variant::kHoldout}) {
    if (list.variant == VariantName(v)) variant = v;
  }
  VariantCounts& c = counts_[static_cast<std::size_t>(variant)];
  ++c.lists;
  c.clicks += list.clicked.size();
  if (!list.clicked.empty()) ++c.clicked_lists;
  auto& by_source = source_feedback_[static_cast<std::size_t>(variant)];
  const std::size_t examined = ExaminedPositions(list, options_.learning.attribution);
  for (std::size_t p = 0; p < examined; ++p) ++by_source[DominantSource(list, p)].impressions;
  for (std::uint32_t p : list.clicked) {
    if (p < list.items.size()) ++by_source[DominantSource(list, p)].clicks;
  }
  if (!options_.learning.learn) return;

  examples_.clear();
  ExamplesOf(list, options_.learning.attribution, &examples_);
  for (const FeedbackExample& e : examples_) learner_.Update(e, list.segment);

  const GuardOptions& g = options_.learning.guard;
  if (variant == Variant::kStatic || !g.enabled || guard_.reverted) return;
  guard_stats_.Add(variant == Variant::kLearned ? GuardStats::kLearned : GuardStats::kHoldout,
                   !list.clicked.empty(), user != nullptr ? &user->guard : nullptr);
  guard_.lists = {guard_stats_.lists(GuardStats::kLearned),
                  guard_stats_.lists(GuardStats::kHoldout)};
  guard_.z = guard_stats_.z();
  if (guard_.lists[0] >= g.min_lists && guard_.lists[1] >= g.min_lists && guard_.z < -g.z_revert) {
    guard_.reverted = true;
  }
}

std::optional<std::int64_t> Engine::OldestDirtyOffset() const {
  std::optional<std::int64_t> oldest;
  for (const UserId& id : dirty_) {
    auto it = users_.find(id);
    if (it == users_.end() || !it->second.dirty) continue;  // forgotten, or listed twice
    if (!oldest || it->second.dirty_since < *oldest) oldest = it->second.dirty_since;
  }
  return oldest;
}

std::size_t Engine::Refresh(TimestampMs now, ListSink& sink, std::int64_t min_interval_ms) {
  FinishPending(now);
  std::vector<UserId> queue;
  queue.swap(dirty_);
  std::size_t published = 0;
  std::vector<const UserId*> ids;
  std::vector<UserEntry*> entries;
  std::vector<RecommendationList> lists;
  const auto flush = [&] {
    RankBatch(ids, entries, now, &lists, /*keep_pending=*/true);
    for (RecommendationList& list : lists) sink.Publish(std::move(list));
    published += lists.size();
    ids.clear();
    entries.clear();
  };
  for (const UserId& id : queue) {
    auto it = users_.find(id);
    if (it == users_.end() || !it->second.dirty) continue;  // forgotten, or listed twice
    if (const auto& last = it->second.published;
        min_interval_ms > 0 && last && now.ms - last->ms < min_interval_ms) {
      dirty_.push_back(id);  // coalesced: refreshed by a later call, still in order
      continue;
    }
    it->second.dirty = false;
    it->second.published = now;
    ids.push_back(&it->first);
    entries.push_back(&it->second);
    if (ids.size() == options_.refresh_batch) flush();
  }
  if (!ids.empty()) flush();
  return published;
}

RecommendationList Engine::Recommend(const UserId& user, TimestampMs now,
                                     const FusionWeights* weights) {
  auto it = users_.find(user);
  std::vector<RecommendationList> lists;
  RankBatch({&user}, {it == users_.end() ? nullptr : &it->second}, now, &lists,
            /*keep_pending=*/false, weights);
  return std::move(lists.front());
}

std::optional<RecommendationList> Engine::CurrentList(const UserId& user) const {
  auto it = users_.find(user);
  if (it == users_.end() || it->second.state.pending().empty()) return std::nullopt;
  const PendingList& p = it->second.state.pending().back();
  RecommendationList list;
  list.user = user;
  list.rec = p.rec;
  list.ts = p.shown_at;
  list.event_ts = p.event_ts;
  list.model = p.model;
  list.variant = p.variant;
  for (std::size_t pos = 0; pos < p.items.size(); ++pos) {
    RecommendedItem item{p.items[pos], 0.0F, {}};
    // A list restored from a record of another configuration may have other features: only the
    // ones this engine names are explained.
    const std::size_t features = std::min(p.feature_dim, sources_.names.size());
    for (std::size_t s = 0; s < features; ++s) {
      const float contribution = p.weights[s] * p.features[pos * p.feature_dim + s];
      if (contribution == 0.0F) continue;
      item.src.emplace_back(sources_.names[s], contribution);
      item.score += contribution;
    }
    list.items.push_back(std::move(item));
  }
  return list;
}

std::size_t Engine::RepublishUnconfirmed(std::int64_t resume_offset, ListSink& sink) const {
  std::size_t republished = 0;
  for (const auto& [user, entry] : users_) {
    if (entry.state.pending().empty()) continue;
    const std::optional<ListId> id = ParseListId(entry.state.pending().back().rec);
    if (!id || id->offset < resume_offset) continue;
    if (auto list = CurrentList(user)) {
      sink.Publish(std::move(*list));
      ++republished;
    }
  }
  return republished;
}

std::optional<UserStateParts> Engine::ExportUser(const UserId& user) const {
  auto it = users_.find(user);
  if (it == users_.end()) return std::nullopt;
  return it->second.state.Export();
}

bool Engine::RestoreUser(const UserId& user, UserStateParts parts) {
  UserEntry restored(options_.user);
  if (!restored.state.Restore(std::move(parts))) return false;
  for (const PendingList& p : restored.state.pending()) expiry_.emplace_back(p.shown_at, user);
  if (auto it = users_.find(user); it != users_.end()) restored.changed = it->second.changed;
  users_.insert_or_assign(user, std::move(restored));
  return true;
}

void Engine::EraseUser(const UserId& user) { users_.erase(user); }

void Engine::MarkChanged(const UserId& id, UserEntry& entry) {
  if (entry.changed) return;
  entry.changed = true;
  changed_.push_back(id);
}

std::vector<UserId> Engine::TakeChanged() {
  std::vector<UserId> out;
  out.reserve(changed_.size() + erased_.size());
  for (UserId& id : changed_) {
    // Skipped: a user gone since (erased_ names it), and the second listing of one erased and
    // back (the first took the flag).
    auto it = users_.find(id);
    if (it == users_.end() || !it->second.changed) continue;
    it->second.changed = false;
    out.push_back(std::move(id));
  }
  for (const UserId& id : erased_) {
    if (!users_.contains(id)) out.push_back(id);  // back since: its state was listed above
  }
  changed_.clear();
  erased_.clear();
  return out;
}

std::vector<UserId> Engine::UserIds() const {
  std::vector<UserId> ids;
  ids.reserve(users_.size());
  for (const auto& [id, entry] : users_) ids.push_back(id);
  return ids;
}

EvictionCounts Engine::Evict(std::size_t target_bytes, TimestampMs now, double negligible_mass) {
  struct Evictable {
    bool negligible;
    TimestampMs latest;
    std::size_t bytes;
    const UserId* id;
  };
  std::vector<Evictable> evictable;
  std::size_t total = 0;
  const double now_s = Seconds(now);
  for (const auto& [id, entry] : users_) {
    const std::size_t bytes = EntryBytes(id, entry);
    total += bytes;
    if (entry.dirty) continue;
    const InterestState& interest = entry.state.interest();
    const double t = ClockTime(entry.state, now_s);
    bool negligible = true;
    for (std::size_t j = 0; j < interest.components() && negligible; ++j) {
      negligible = std::fabs(interest.MassAt(j, t)) < negligible_mass;
    }
    evictable.push_back({negligible, entry.latest_ts, bytes, &id});
  }
  EvictionCounts counts;
  if (total <= target_bytes) return counts;
  std::sort(evictable.begin(), evictable.end(), [](const Evictable& a, const Evictable& b) {
    if (a.negligible != b.negligible) return a.negligible;
    if (a.latest != b.latest) return a.latest < b.latest;
    return *a.id < *b.id;  // deterministic
  });
  std::vector<UserId> evicted;
  for (const Evictable& c : evictable) {
    if (total <= target_bytes) break;
    total -= c.bytes;
    ++(c.negligible ? counts.negligible : counts.lru);
    evicted.push_back(*c.id);
  }
  for (const UserId& id : evicted) {
    auto it = users_.find(id);
    for (const PendingList& p : it->second.state.pending()) Finish(p, &it->second);
    users_.erase(it);  // expiry_ entries of the user find nothing later
    erased_.insert(id);
  }
  return counts;
}

const UserState* Engine::FindUser(const UserId& user) const {
  auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second.state;
}

std::size_t Engine::EntryBytes(const UserId& id, const UserEntry& entry) noexcept {
  // Besides the state: the rest of the map's node (key, entry, next pointer; libstdc++ keeps no
  // hash in it, the hasher being noexcept), the allocator's header of the node and the bucket
  // that points at it (glibc; at most one bucket per user at the default load factor).
  constexpr std::size_t kEntry = sizeof(std::pair<const UserId, UserEntry>) - sizeof(UserState) +
                                 sizeof(void*) + 16 + sizeof(void*);
  return kEntry + entry.state.ApproxBytes() + StringHeapBytes(id.str()) +
         StringHeapBytes(entry.segment);
}

std::size_t Engine::UserStateBytes() const noexcept {
  std::size_t bytes = 0;
  for (const auto& [id, entry] : users_) bytes += EntryBytes(id, entry);
  return bytes;
}

double Engine::Popularity(const ItemId& item, TimestampMs now) const {
  return popularity_ != nullptr ? popularity_->Popularity(item, Seconds(now)) : 0.0;
}

PartitionStats Engine::ExportStats(std::int32_t partition, TimestampMs now,
                                   const ExportLimits& limits) const {
  PartitionStats out;
  out.partition = partition;
  out.as_of = now;
  out.offset = std::max(seeded_offset_, applied_offset_);
  out.features = sources_.names;
  out.prior_variance = options_.learning.learner.prior_variance;
  for (const auto& room : sources_.rooms) {
    SourceStats share;
    room->Export(Seconds(now), limits, &share);
    if (!share.source.empty()) out.sources.push_back(std::move(share));
  }
  out.learner = learner_.global();
  return out;
}

void Engine::SeedStats(const PartitionStats& record) {
  const double t = Seconds(record.as_of);
  for (const SourceStats& share : record.sources) {
    if (Source* room = RoomSharing(sources_, share.source)) room->Seed(share, t);
  }
  learner_.SeedGlobal(record.learner);
  seeded_offset_ = std::max(seeded_offset_, record.offset);
}

void Engine::SetPeerStats(std::shared_ptr<const PeerStats> peers, std::int32_t own) {
  peers_ = std::move(peers);
  own_partition_ = own;
  for (const auto& room : sources_.rooms) room->SetPeers(peers_.get(), own);
  learner_.SetPeerEvidence(peers_ ? peers_->Evidence(own) : LearnerEvidence{});
}

void Engine::RankBatch(const std::vector<const UserId*>& ids,
                       const std::vector<UserEntry*>& entries, TimestampMs now,
                       std::vector<RecommendationList>* out, bool keep_pending,
                       const FusionWeights* weights_override) {
  const Catalog& catalog = *catalog_;
  RankContext ctx;
  ctx.catalog = &catalog;
  ctx.now = now;
  ctx.now_s = Seconds(now);
  ctx.n = options_.candidates_per_source;
  const std::size_t features = sources_.names.size();

  // What every source sees of each user: the clock, the recent items and their catalog rows.
  const std::size_t users = ids.size();
  std::vector<RankUser> batch(users);
  std::vector<std::vector<RecentRow>> recent_rows(users);
  for (std::size_t b = 0; b < users; ++b) {
    const UserState* state = entries[b] == nullptr ? nullptr : &entries[b]->state;
    batch[b].index = b;
    batch[b].state = state;
    batch[b].clock = state == nullptr ? ctx.now_s : ClockTime(*state, ctx.now_s);
    if (state != nullptr) {
      for (std::size_t j = state->recent_size(); j-- > 0;) {  // oldest first
        const RecentItem& r = *state->RecentAt(j);
        if (const auto row = catalog.Find(r.item)) {
          recent_rows[b].push_back({static_cast<std::uint32_t>(*row), r.t, r.weight});
        }
      }
    }
    batch[b].recent = recent_rows[b];
  }
  for (const auto& room : sources_.rooms) room->Prepare(batch, ctx);

  out->clear();
  for (std::size_t b = 0; b < users; ++b) {
    UserEntry* entry = entries[b];
    const RankUser& user = batch[b];
    for (const auto& room : sources_.rooms) room->BeginUser(user, ctx);
    std::vector<Candidate> candidates;
    CandidateCollector collector(&candidates, &slot_);
    for (std::size_t f = 0; f < features; ++f) {
      if (options_.offer[f]) {
        sources_.features[f].room->Offer(sources_.features[f].local, user, ctx, collector);
      }
    }
    for (std::size_t f = 0; f < features; ++f) {
      sources_.features[f].room->Score(sources_.features[f].local, user, ctx, candidates, f);
    }
    for (const auto& room : sources_.rooms) room->EndUser(user);
    NormaliseFeatures(&candidates, features, options_.normalisation, ctx.n);
    // The seen filter: every item the user interacted with (but for repeatable types); when the
    // user's seen set is full, also the recent items it could not take.
    const UserState* state = user.state;
    std::vector<std::uint32_t> recent;
    if (state != nullptr && state->seen_full()) {
      for (const RecentRow& r : user.recent) recent.push_back(r.row);
      std::sort(recent.begin(), recent.end());
    }
    const auto unseen = [&](std::uint32_t row) {
      return state == nullptr || (!state->seen().Contains(catalog.item(row).fingerprint) &&
                                  !std::binary_search(recent.begin(), recent.end(), row));
    };

    // The weights: static for the static and holdout variants; for learned users a posterior
    // sample seeded by the list id (published lists, with Thompson sampling) or the learner's
    // Weights (lower confidence bounds).
    const Variant variant = VariantOf(*ids[b]);
    // Named after its trigger, so a list repeated after a crash has the same id. On-demand
    // lists have none: they were triggered by no event.
    std::string rec;
    if (keep_pending && entry != nullptr) {
      rec = FormatListId({entry->trigger.partition, entry->trigger.offset});
    }
    const std::string& segment = entry != nullptr ? entry->segment : std::string();
    FusionWeights weights = options_.weights;
    if (weights_override != nullptr) {
      weights = *weights_override;
    } else if (variant == Variant::kLearned) {
      weights =
          options_.learning.exploration > 0 && !rec.empty()
              ? learner_.Sample(Fnv1a64(rec) ^ kSampleSalt, segment, options_.learning.exploration)
              : learner_.Weights(segment);
    }
    const auto keep = [&](std::uint32_t row) { return catalog.available(row) && unseen(row); };
    std::vector<RecommendedItem> items =
        Rank(candidates, weights, sources_.names, catalog, options_.rank, keep);
    if (rank_observer_ != nullptr && keep_pending && entry != nullptr) {
      std::vector<Candidate> kept;
      for (const Candidate& c : candidates) {
        if (keep(c.row)) kept.push_back(c);
      }
      rank_observer_->Ranked(*ids[b], catalog, kept);
    }

    RecommendationList list;
    list.user = *ids[b];
    list.ts = now;
    list.model = weights.version;
    list.variant = VariantName(variant);
    if (entry != nullptr) list.event_ts = entry->trigger_ts;
    if (keep_pending && entry != nullptr) {
      list.rec = std::move(rec);
      PendingList pending{list.rec, now,      list.model, list.variant, segment,
                          {},       features, {},         {},           -1};
      for (std::size_t i = 0; i < features; ++i) {
        pending.weights[i] = static_cast<float>(weights.w[i]);
      }
      pending.event_ts = list.event_ts;
      pending.items.reserve(items.size());
      pending.features.reserve(items.size() * features);
      for (const RecommendedItem& item : items) {
        const Candidate& c = candidates[static_cast<std::size_t>(slot_[*catalog.Find(item.item)])];
        pending.items.push_back(item.item);
        pending.features.insert(pending.features.end(), c.x.begin(), c.x.begin() + features);
      }
      // A list pushed out by newer ones is as final as an expired one.
      MarkChanged(*ids[b], *entry);
      if (std::optional<PendingList> dropped = entry->state.AddPending(std::move(pending))) {
        Finish(*dropped, entry);
      }
      expiry_.emplace_back(now, *ids[b]);
    }
    for (const Candidate& c : candidates) slot_[c.row] = -1;
    list.items = std::move(items);
    out->push_back(std::move(list));
  }
}

}  // namespace recsd::model
