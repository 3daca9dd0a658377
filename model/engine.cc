#include "model/engine.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "model/check.h"
#include "model/text_embedder.h"

namespace recsd::model {
namespace {

// The global candidate lists are recomputed once `global_refresh` of event time has passed and
// at least this many events changed the statistics, or after kStaleRefreshes intervals whatever
// the count. A daemon's minute holds far more events than this; a replay that compresses years
// of sparse history into seconds would otherwise spend its time re-sorting popularity.
constexpr std::uint64_t kRefreshEvents = 64;
constexpr double kStaleRefreshes = 60;

constexpr std::size_t Index(Source s) { return static_cast<std::size_t>(s); }

double Seconds(TimestampMs t) { return static_cast<double>(t.ms) / 1000.0; }

// Best first by value, ties by the lower row: the order of every candidate list.
void SortAndTruncate(std::vector<std::pair<std::uint32_t, double>>* scored, std::size_t n) {
  const auto better = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  const std::size_t k = std::min(n, scored->size());
  std::partial_sort(scored->begin(), scored->begin() + static_cast<std::ptrdiff_t>(k),
                    scored->end(), better);
  scored->resize(k);
}

std::vector<std::uint32_t> Rows(const std::vector<std::pair<std::uint32_t, double>>& scored) {
  std::vector<std::uint32_t> rows;
  rows.reserve(scored.size());
  for (const auto& [row, value] : scored) rows.push_back(row);
  return rows;
}

// Unit vector of v, or false when v is (numerically) zero.
bool Normalise(std::span<float> v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  norm = std::sqrt(norm);
  if (!(norm > 1e-12)) return false;
  for (float& x : v) x = static_cast<float>(x / norm);
  return true;
}

float Dot(std::span<const float> a, std::span<const float> b) {
  float dot = 0;
  for (std::size_t d = 0; d < a.size(); ++d) dot += a[d] * b[d];
  return dot;
}

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
  options->short_mix = mix(short_kernel);
  options->long_mix = mix(long_kernel);
  options->user.half_lives = std::move(half_lives);
}

Engine::Engine(EngineOptions options, EventTypeTable types)
    : options_(std::move(options)),
      types_(std::move(types)),
      catalog_(CatalogBuilder(options_.user.dim).Build()),
      popularity_(options_.trending_half_life, options_.trending_max_items),
      covisit_(options_.covisit),
      feedback_type_(EventTypeTable::kMaxTypes, false),
      learner_(options_.learning.learner) {
  for (EventTypeId t : options_.learning.feedback_types) {
    RECSD_CHECK(t < feedback_type_.size(), "feedback type");
    feedback_type_[t] = true;
  }
  const GuardOptions& guard = options_.learning.guard;
  RECSD_CHECK(options_.learning.holdout_share >= 0 && options_.learning.holdout_share <= 1 &&
                  guard.half_life_lists > 0 && guard.min_lists >= 0 && guard.z_revert > 0 &&
                  options_.learning.attribution.window_ms >= 0,
              "learning options");
  RECSD_CHECK(options_.short_mix.size() == options_.user.half_lives.size() &&
                  options_.long_mix.size() == options_.user.half_lives.size(),
              "interest mixes cover the components");
  RECSD_CHECK(options_.candidates_per_source > 0 && options_.refresh_batch > 0 &&
                  options_.fresh_half_life > 0 && options_.global_refresh >= 0 &&
                  options_.rank.k > 0 && options_.rank.k <= kMaxListItems,
              "engine options");
}

void Engine::SetCatalog(std::shared_ptr<const Catalog> catalog) {
  RECSD_CHECK(catalog != nullptr && catalog->dim() == options_.user.dim, "catalog dimension");
  catalog_ = std::move(catalog);
  global_.valid = false;  // rows changed
  slot_.assign(catalog_->size(), -1);
  covisit_weight_.assign(catalog_->size(), 0.0);
}

double Engine::ClockTime(const UserState& state, double now_s) const {
  if (options_.clock == InterestClock::kActivity) {
    return state.interest().empty() ? 0.0 : state.clock();  // no decay between a user's events
  }
  return state.interest().empty() ? now_s : std::max(now_s, state.clock());
}

ApplyOutcome Engine::Apply(const Event& event, EventPosition position) {
  if (event.type == event_type::kForget) {
    // Its id may stay in dirty_ and expiry_: both skip users that are gone. Its pending lists go
    // unlearned: a user who asked to be forgotten leaves no examples behind.
    if (users_.erase(event.user) > 0) changed_.insert(event.user);
    return ApplyOutcome::kForgotten;
  }
  auto [it, inserted] = users_.try_emplace(event.user, options_.user);
  UserEntry& entry = it->second;
  UserState& state = entry.state;
  if (position.offset <= state.last_offset()) {
    return ApplyOutcome::kDuplicate;
  }
  changed_.insert(event.user);
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
  if (weight > 0 && position.offset > seeded_offset_) {  // else the seeded record holds it
    // Co-visits and popularity count positive interest only: a dislike is not a vote.
    if (const RecentItem* last = state.Last(); options_.covisit_window > 0 && last != nullptr &&
                                               !(last->item == event.item) &&
                                               std::fabs(t - last->t) <= options_.covisit_window) {
      covisit_.Add(now_s, last->item, event.item, 1.0);
    }
    popularity_.Add(now_s, weight, event.item);
    ++events_since_global_;
  }
  const std::optional<std::size_t> row = catalog_->Find(event.item);
  const std::span<const float> embedding =
      row ? catalog_->Embedding(*row) : std::span<const float>();
  const CategoryId category = row ? catalog_->item(*row).category : kNoCategory;
  state.Observe(position.offset, t, weight, event.item, embedding, category);
  if (!entry.dirty) {
    entry.dirty = true;
    entry.dirty_since = position.offset;
    dirty_.push_back(event.user);
  } else {
    ++coalesced_;  // this event's list will also stand for the earlier dirty ones
  }
  entry.trigger = position;
  entry.trigger_ts = event.ts;
  entry.latest_ts = std::max(entry.latest_ts, event.ts);
  if (!options_.learning.segment_keys.empty()) entry.segment = SegmentOf(event);
  return row ? ApplyOutcome::kApplied : ApplyOutcome::kUnknownItem;
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
  // restart. FNV-1a alone leaves its high bits poorly mixed for ids that differ in their last
  // characters ("user-1", "user-2"), so MurmurHash3's 64-bit finaliser follows it.
  std::uint64_t h = Fnv1a64(user.str());
  h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdULL;
  h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  const double u = static_cast<double>(h >> 11) * 0x1.0p-53;
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
    changed_.insert(it->first);
    for (const PendingList& list : it->second.state.TakePendingShownBefore(cutoff)) {
      Finish(list);
      ++finished;
    }
  }
  return finished;
}

void Engine::Finish(const PendingList& list) {
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
  const double keep = std::exp2(-1.0 / g.half_life_lists);
  for (std::size_t i = 0; i < 2; ++i) {
    guard_.lists[i] *= keep;
    guard_.clicked[i] *= keep;
  }
  const std::size_t i = variant == Variant::kLearned ? 0 : 1;
  guard_.lists[i] += 1;
  if (!list.clicked.empty()) guard_.clicked[i] += 1;
  const double n_l = guard_.lists[0];
  const double n_h = guard_.lists[1];
  if (n_l <= 0 || n_h <= 0) return;
  const double p = (guard_.clicked[0] + guard_.clicked[1]) / (n_l + n_h);
  const double se = std::sqrt(p * (1 - p) * (1 / n_l + 1 / n_h));
  guard_.z = se > 0 ? (guard_.clicked[0] / n_l - guard_.clicked[1] / n_h) / se : 0.0;
  if (n_l >= g.min_lists && n_h >= g.min_lists && guard_.z < -g.z_revert) guard_.reverted = true;
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
    for (std::size_t s = 0; s < std::min(p.feature_dim, kSourceCount); ++s) {
      const float contribution = p.weights[s] * p.features[pos * p.feature_dim + s];
      if (contribution == 0.0F) continue;
      item.src.emplace_back(SourceName(static_cast<Source>(s)), contribution);
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
    // rec is "<partition>-<offset>" of the trigger (Refresh names lists that way).
    const std::string& rec = entry.state.pending().back().rec;
    const std::size_t dash = rec.find('-');
    if (dash == std::string::npos) continue;
    std::int64_t trigger = -1;
    std::from_chars(rec.data() + dash + 1, rec.data() + rec.size(), trigger);
    if (trigger < resume_offset) continue;
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
  users_.insert_or_assign(user, std::move(restored));
  return true;
}

void Engine::EraseUser(const UserId& user) { users_.erase(user); }

std::vector<UserId> Engine::TakeChanged() {
  std::vector<UserId> out(changed_.begin(), changed_.end());
  changed_.clear();
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
    const std::size_t bytes = entry.state.ApproxBytes() + StringHeapBytes(id.str());
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
    for (const PendingList& p : it->second.state.pending()) Finish(p);
    users_.erase(it);  // expiry_ entries of the user find nothing later
    changed_.insert(id);
  }
  return counts;
}

bool Engine::IsLate(const Event& event) const {
  auto it = users_.find(event.user);
  return it != users_.end() && event.ts < it->second.latest_ts;
}

const UserState* Engine::FindUser(const UserId& user) const {
  auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second.state;
}

std::size_t Engine::UserStateBytes() const noexcept {
  std::size_t bytes = 0;
  for (const auto& [id, entry] : users_)
    bytes += entry.state.ApproxBytes() + StringHeapBytes(id.str());
  return bytes;
}

double Engine::Popularity(const ItemId& item, TimestampMs now) const {
  const double t = Seconds(now);
  return popularity_.ValueAt(item, t) +
         (peers_ ? peers_->Popularity(item, t, own_partition_) : 0.0);
}

PartitionStats Engine::ExportStats(std::int32_t partition, TimestampMs now, std::size_t max_items,
                                   std::size_t max_edges) const {
  PartitionStats out;
  out.partition = partition;
  out.as_of = now;
  out.trending_half_life = options_.trending_half_life;
  out.covisit_half_life = options_.covisit.half_life;
  out.prior_variance = options_.learning.learner.prior_variance;
  out.offset = std::max(seeded_offset_, applied_offset_);
  const double t = Seconds(now);
  out.popularity = popularity_.TopN(max_items, t);
  std::erase_if(out.popularity, [](const auto& entry) { return !(entry.second > 0); });
  for (auto& [from, to, w] : covisit_.TopEdges(max_edges, t)) {
    out.covisit.push_back({std::move(from), std::move(to), w});
  }
  out.learner = learner_.global();
  return out;
}

void Engine::SeedStats(const PartitionStats& record) {
  const double t = Seconds(record.as_of);
  for (const auto& [item, v] : record.popularity) {
    if (v > 0) popularity_.Add(t, v, item);
  }
  for (const PartitionStats::Edge& e : record.covisit) {
    if (e.weight > 0 && !(e.from == e.to)) covisit_.AddDirected(t, e.from, e.to, e.weight);
  }
  learner_.SeedGlobal(record.learner);
  seeded_offset_ = std::max(seeded_offset_, record.offset);
  global_.valid = false;
}

void Engine::SetPeerStats(std::shared_ptr<const PeerStats> peers, std::int32_t own) {
  peers_ = std::move(peers);
  own_partition_ = own;
  learner_.SetPeerEvidence(peers_ ? peers_->Evidence(own) : LearnerEvidence{});
  global_.valid = false;
}

void Engine::RefreshGlobalLists(double now_s) {
  const Catalog& catalog = *catalog_;
  const std::size_t n = options_.candidates_per_source;
  std::vector<std::pair<std::uint32_t, double>> all;
  std::unordered_map<CategoryId, std::vector<std::pair<std::uint32_t, double>>> by_category;
  std::unordered_map<CategoryId, double> category_total;
  // This engine's popularity plus its peers', summed per row in covisit_weight_ (a scratch that
  // is all 0 between uses).
  std::vector<std::uint32_t> rows;
  const auto add = [&](const ItemId& id, double value) {
    const std::optional<std::size_t> row = catalog.Find(id);
    if (!row || !catalog.item(*row).available || !(value > 0)) return;
    if (covisit_weight_[*row] == 0.0) rows.push_back(static_cast<std::uint32_t>(*row));
    covisit_weight_[*row] += value;
  };
  popularity_.ForEach(now_s, add);
  if (peers_) peers_->ForEachPopularity(now_s, own_partition_, add);
  std::sort(rows.begin(), rows.end());  // hash order must not reach the lists
  for (std::uint32_t r : rows) {
    const double value = std::exchange(covisit_weight_[r], 0.0);
    all.emplace_back(r, value);
    const CategoryId cat = catalog.item(r).category;
    if (cat != kNoCategory) {
      by_category[cat].emplace_back(r, value);
      category_total[cat] += value;
    }
  }
  SortAndTruncate(&all, n);
  global_.trending = Rows(all);
  global_.by_category.clear();
  for (auto& [cat, scored] : by_category) {
    SortAndTruncate(&scored, n);
    global_.by_category.emplace(cat, Rows(scored));
  }
  std::vector<std::pair<CategoryId, double>> prior(category_total.begin(), category_total.end());
  std::sort(prior.begin(), prior.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  prior.resize(std::min(prior.size(), options_.user.max_categories));
  for (auto& [cat, value] : prior) value /= prior.front().second;
  global_.category_prior = std::move(prior);

  std::vector<std::pair<std::uint32_t, double>> fresh;
  fresh.reserve(catalog.size());
  for (std::size_t row = 0; row < catalog.size(); ++row) {
    if (catalog.item(row).available) {
      fresh.emplace_back(static_cast<std::uint32_t>(row),
                         static_cast<double>(catalog.item(row).ts.ms));
    }
  }
  SortAndTruncate(&fresh, n);
  global_.fresh = Rows(fresh);
  global_.valid = true;
  global_.computed_at = now_s;
  events_since_global_ = 0;
}

void Engine::RankBatch(const std::vector<const UserId*>& ids,
                       const std::vector<UserEntry*>& entries, TimestampMs now,
                       std::vector<RecommendationList>* out, bool keep_pending,
                       const FusionWeights* weights_override) {
  const Catalog& catalog = *catalog_;
  const double now_s = Seconds(now);
  const double elapsed = std::fabs(now_s - global_.computed_at);
  if (!global_.valid ||
      (events_since_global_ > 0 &&
       ((elapsed >= options_.global_refresh && events_since_global_ >= kRefreshEvents) ||
        elapsed >= kStaleRefreshes * options_.global_refresh))) {
    RefreshGlobalLists(now_s);
  }
  const std::size_t dim = options_.user.dim;
  const std::size_t n = options_.candidates_per_source;
  const std::size_t users = ids.size();

  // Interest vectors (unit, or absent) for every user and time scale, then one batched scan.
  std::vector<std::vector<float>> vectors(2 * users);
  std::vector<bool> has_vector(2 * users, false);
  std::vector<std::size_t> batch_of;  // vector index → row in the batch matrix
  std::vector<std::size_t> batch_rows;
  for (std::size_t b = 0; b < users; ++b) {
    const UserEntry* entry = entries[b];
    for (std::size_t k = 0; k < 2; ++k) {
      std::vector<float>& v = vectors[2 * b + k];
      v.assign(dim, 0.0F);
      if (entry == nullptr || entry->state.interest().empty()) continue;
      const double t = ClockTime(entry->state, now_s);
      entry->state.interest().MixtureAt(k == 0 ? options_.short_mix : options_.long_mix, t, v);
      has_vector[2 * b + k] = Normalise(v);
      const Source source = k == 0 ? Source::kEmbShort : Source::kEmbLong;
      if (has_vector[2 * b + k] && options_.offer[Index(source)]) {
        batch_rows.push_back(2 * b + k);
      }
    }
  }
  std::vector<std::vector<ScoredRow>> tops;
  if (!batch_rows.empty() && catalog.size() > 0) {
    EmbeddingMatrix matrix(static_cast<Eigen::Index>(batch_rows.size()),
                           static_cast<Eigen::Index>(dim));
    for (std::size_t i = 0; i < batch_rows.size(); ++i) {
      std::copy(vectors[batch_rows[i]].begin(), vectors[batch_rows[i]].end(),
                matrix.row(static_cast<Eigen::Index>(i)).data());
    }
    EmbeddingTopNBatch(catalog, matrix, n, &tops);
  }

  out->clear();
  std::size_t next_top = 0;
  for (std::size_t b = 0; b < users; ++b) {
    UserEntry* entry = entries[b];
    const UserState* state = entry == nullptr ? nullptr : &entry->state;
    const double t = state == nullptr ? now_s : ClockTime(*state, now_s);

    // slot_[row] is the row's index in `candidates` (-1: not a candidate) and covisit_weight_[row]
    // its summed co-visit weight; both are catalog-sized scratch, reset below for the rows touched.
    std::vector<Candidate> candidates;
    const auto offer = [&](std::uint32_t row) {
      if (slot_[row] < 0) {
        slot_[row] = static_cast<std::int32_t>(candidates.size());
        candidates.push_back({row, {}});
      }
    };
    for (std::size_t k = 0; k < 2; ++k) {
      if (next_top < batch_rows.size() && batch_rows[next_top] == 2 * b + k) {
        for (const ScoredRow& s : tops[next_top]) offer(s.row);
        ++next_top;
      }
    }

    // Co-visitation: the neighbours of the user's latest items, weights summed.
    std::vector<std::pair<std::uint32_t, double>>
        covisit;  // touched rows; weights in covisit_weight_
    std::vector<std::uint32_t> seen;
    if (state != nullptr) {
      const std::vector<RecentItem> recent = state->Recent();
      for (const RecentItem& r : recent) {
        if (const auto row = catalog.Find(r.item)) seen.push_back(static_cast<std::uint32_t>(*row));
      }
      const std::size_t seeds = std::min(options_.covisit_seeds, recent.size());
      for (std::size_t i = recent.size() - seeds; i < recent.size(); ++i) {
        const auto add = [&](const ItemId& id, double w) {
          const auto row = catalog.Find(id);
          if (!row || !(w > 0)) return;
          if (covisit_weight_[*row] == 0.0)
            covisit.emplace_back(static_cast<std::uint32_t>(*row), 0.0);
          covisit_weight_[*row] += w;
        };
        for (const auto& [id, w] : covisit_.Neighbours(recent[i].item, now_s)) add(id, w);
        if (peers_) peers_->ForEachNeighbour(recent[i].item, now_s, own_partition_, add);
      }
    }
    std::sort(seen.begin(), seen.end());
    for (auto& [row, w] : covisit) w = covisit_weight_[row];
    if (options_.offer[Index(Source::kCovisit)]) {
      std::vector<std::pair<std::uint32_t, double>> scored = covisit;
      SortAndTruncate(&scored, n);
      for (const auto& [row, w] : scored) offer(row);
    }
    if (options_.offer[Index(Source::kTrending)]) {
      for (std::uint32_t row : global_.trending) offer(row);
    }
    // Category: the user's affinities, or for a user with none the popular categories.
    std::vector<std::pair<CategoryId, double>> affinity;
    if (state != nullptr) {
      for (const CategoryAffinity& c : state->categories()) {
        const double a = state->CategoryAffinityAt(c.category, t);
        if (a > 0) affinity.emplace_back(c.category, a);
      }
    }
    if (affinity.empty()) affinity = global_.category_prior;
    if (options_.offer[Index(Source::kCategory)] && !affinity.empty()) {
      const std::size_t per =
          std::max<std::size_t>(10, (n + affinity.size() - 1) / affinity.size());
      for (const auto& [cat, a] : affinity) {
        auto it = global_.by_category.find(cat);
        if (it == global_.by_category.end()) continue;
        for (std::size_t i = 0; i < std::min(per, it->second.size()); ++i) offer(it->second[i]);
      }
    }
    if (options_.offer[Index(Source::kFresh)]) {
      for (std::uint32_t row : global_.fresh) offer(row);
    }

    // Every source scores every candidate.
    const double fresh_half_life_ms = options_.fresh_half_life * 1000.0;
    for (Candidate& c : candidates) {
      const std::span<const float> e = catalog.Embedding(c.row);
      const CatalogItem& item = catalog.item(c.row);
      if (has_vector[2 * b]) c.x[Index(Source::kEmbShort)] = Dot(vectors[2 * b], e);
      if (has_vector[2 * b + 1]) c.x[Index(Source::kEmbLong)] = Dot(vectors[2 * b + 1], e);
      c.x[Index(Source::kCovisit)] = static_cast<float>(covisit_weight_[c.row]);
      const double popularity = Popularity(item.id, now);
      c.x[Index(Source::kTrending)] = static_cast<float>(popularity);
      for (const auto& [cat, a] : affinity) {
        if (cat == item.category) {
          c.x[Index(Source::kCategory)] = static_cast<float>(a * popularity);
          break;
        }
      }
      c.x[Index(Source::kFresh)] = FreshScore(item.ts, now, fresh_half_life_ms);
    }
    NormaliseFeatures(&candidates, options_.normalisation, n);

    // The weights: static for the static and holdout variants; for learned users a posterior
    // sample seeded by the list id (published lists, with Thompson sampling) or the means.
    const Variant variant = VariantOf(*ids[b]);
    std::string rec;
    if (keep_pending && entry != nullptr) {
      // Named after its trigger, so a list repeated after a crash has the same id. On-demand
      // lists have none: they were triggered by no event.
      rec = std::to_string(entry->trigger.partition);
      rec.append("-").append(std::to_string(entry->trigger.offset));
    }
    const std::string& segment = entry != nullptr ? entry->segment : std::string();
    FusionWeights weights = options_.weights;
    if (weights_override != nullptr) {
      weights = *weights_override;
    } else if (variant == Variant::kLearned) {
      weights =
          options_.learning.exploration > 0 && !rec.empty()
              ? learner_.Sample(Fnv1a64(rec) ^ kSampleSalt, segment, options_.learning.exploration)
              : learner_.Mean(segment);
    }
    std::vector<RecommendedItem> items =
        Rank(candidates, weights, catalog, options_.rank, [&](std::uint32_t row) {
          return catalog.item(row).available && !std::binary_search(seen.begin(), seen.end(), row);
        });

    RecommendationList list;
    list.user = *ids[b];
    list.ts = now;
    list.model = weights.version;
    list.variant = VariantName(variant);
    if (entry != nullptr) list.event_ts = entry->trigger_ts;
    if (keep_pending && entry != nullptr) {
      list.rec = std::move(rec);
      PendingList pending{list.rec, now,          list.model, list.variant, segment,
                          {},       kSourceCount, {},         {},           -1};
      for (std::size_t i = 0; i < kSourceCount; ++i) {
        pending.weights[i] = static_cast<float>(weights.w[i]);
      }
      pending.event_ts = list.event_ts;
      pending.items.reserve(items.size());
      pending.features.reserve(items.size() * kSourceCount);
      for (const RecommendedItem& item : items) {
        const Candidate& c = candidates[static_cast<std::size_t>(slot_[*catalog.Find(item.item)])];
        pending.items.push_back(item.item);
        pending.features.insert(pending.features.end(), c.x.begin(), c.x.end());
      }
      // A list pushed out by newer ones is as final as an expired one.
      changed_.insert(*ids[b]);
      if (std::optional<PendingList> dropped = entry->state.AddPending(std::move(pending))) {
        Finish(*dropped);
      }
      expiry_.emplace_back(now, *ids[b]);
    }
    for (const Candidate& c : candidates) slot_[c.row] = -1;
    for (const auto& [row, w] : covisit) covisit_weight_[row] = 0.0;
    list.items = std::move(items);
    out->push_back(std::move(list));
  }
}

}  // namespace recsd::model
