#include "model/user_state.h"

#include <algorithm>

#include "model/check.h"

namespace recsd::model {

UserState::UserState(const UserStateOptions& options)
    : options_(&options),
      interest_(options.interest_vectors ? options.dim : 0, options.half_lives) {
  RECSD_CHECK(options.max_categories > 0 && options.recent_capacity > 0 &&
                  options.max_pending > 0 && options.category_half_life > 0,
              "user state bounds");
}

bool UserState::Observe(std::int64_t offset, double t, double weight, const ItemId& item,
                        std::span<const float> embedding, CategoryId category, bool remember) {
  if (offset <= last_offset_) {
    return false;
  }
  last_offset_ = offset;
  ++event_count_;
  if (!embedding.empty()) {
    // The category decays from the interest clock, so update it before the clock moves.
    UpdateCategory(t, weight, category);
    interest_.Apply(t, weight, embedding);
  }
  if (remember) seen_.Add(SeenItems::Fingerprint(item), options_->seen_capacity);
  if (recent_.size() < options_->recent_capacity) {
    recent_.push_back({item, t, weight});
  } else {
    recent_[recent_next_] = {item, t, weight};
    recent_next_ = (recent_next_ + 1) % recent_.size();
  }
  return true;
}

void UserState::UpdateCategory(double t, double weight, CategoryId category) {
  const double clock = interest_.empty() ? t : interest_.clock();
  double added = weight;
  if (t >= clock) {
    const double a = DecayFactor(t - clock, options_->category_half_life);
    for (CategoryAffinity& c : categories_) c.value *= a;
  } else {
    added = weight * DecayFactor(clock - t, options_->category_half_life);  // late: exact
  }
  if (category == kNoCategory) {
    return;
  }
  auto it = std::find_if(categories_.begin(), categories_.end(),
                         [&](const CategoryAffinity& c) { return c.category == category; });
  if (it != categories_.end()) {
    it->value += added;
    return;
  }
  if (categories_.size() < options_->max_categories) {
    categories_.push_back({category, added});
    return;
  }
  auto weakest = std::min_element(
      categories_.begin(), categories_.end(),
      [](const CategoryAffinity& a, const CategoryAffinity& b) { return a.value < b.value; });
  if (added > weakest->value) {
    *weakest = {category, added};
  }
}

bool UserState::MarkApplied(std::int64_t offset) {
  if (offset <= last_offset_) {
    return false;
  }
  last_offset_ = offset;
  ++event_count_;
  return true;
}

const RecentItem* UserState::RecentAt(std::size_t back) const noexcept {
  const std::size_t size = recent_.size();
  if (back >= size) return nullptr;
  // The ring is written at recent_next_ once full; until then items are appended.
  const std::size_t newest =
      size < options_->recent_capacity ? size - 1 : (recent_next_ + size - 1) % size;
  return &recent_[(newest + size - back) % size];
}

UserStateParts UserState::Export() const {
  UserStateParts p;
  p.clock = interest_.clock();
  p.started = !interest_.empty();
  p.masses.assign(interest_.masses().begin(), interest_.masses().end());
  p.vectors.assign(interest_.vectors().begin(), interest_.vectors().end());
  p.categories = categories_;
  p.recent = Recent();
  p.seen.assign(seen_.fingerprints().begin(), seen_.fingerprints().end());
  p.pending = pending_;
  p.last_offset = last_offset_;
  p.event_count = event_count_;
  return p;
}

bool UserState::Restore(UserStateParts parts) {
  if (parts.categories.size() > options_->max_categories ||
      parts.recent.size() > options_->recent_capacity ||
      parts.pending.size() > options_->max_pending) {
    return false;
  }
  SeenItems seen;
  if (!seen.Restore(std::move(parts.seen), options_->seen_capacity)) return false;
  if (!interest_.Restore(parts.clock, parts.started, parts.masses, parts.vectors)) return false;
  seen_ = std::move(seen);
  categories_ = std::move(parts.categories);
  recent_ = std::move(parts.recent);
  recent_next_ = 0;  // oldest first: the ring starts at 0 (when full, the next write replaces it)
  pending_ = std::move(parts.pending);
  last_offset_ = parts.last_offset;
  event_count_ = parts.event_count;
  return true;
}

std::vector<RecentItem> UserState::Recent() const {
  std::vector<RecentItem> out;
  out.reserve(recent_.size());
  for (std::size_t i = 0; i < recent_.size(); ++i) {
    out.push_back(recent_[(recent_next_ + i) % recent_.size()]);
  }
  return out;
}

bool UserState::HasSeen(const ItemId& item) const {
  return std::any_of(recent_.begin(), recent_.end(),
                     [&](const RecentItem& r) { return r.item == item; });
}

double UserState::CategoryAffinityAt(CategoryId category, double t) const {
  for (const CategoryAffinity& c : categories_) {
    if (c.category == category) {
      return t > clock() ? c.value * DecayFactor(t - clock(), options_->category_half_life)
                         : c.value;
    }
  }
  return 0.0;
}

std::optional<PendingList> UserState::AddPending(PendingList list) {
  std::optional<PendingList> dropped;
  if (pending_.size() >= options_->max_pending) {
    dropped = std::move(pending_.front());
    pending_.erase(pending_.begin());
  }
  pending_.push_back(std::move(list));
  return dropped;
}

std::vector<PendingList> UserState::TakePendingShownBefore(TimestampMs cutoff) {
  std::vector<PendingList> taken;
  std::vector<PendingList> kept;
  for (PendingList& p : pending_) (p.shown_at < cutoff ? taken : kept).push_back(std::move(p));
  pending_ = std::move(kept);
  return taken;
}

std::size_t UserState::ApproxBytes() const noexcept {
  std::size_t bytes = sizeof(UserState) + interest_.HeapBytes() +
                      categories_.capacity() * sizeof(CategoryAffinity) +
                      recent_.capacity() * sizeof(RecentItem) + seen_.HeapBytes() +
                      pending_.capacity() * sizeof(PendingList);
  for (const RecentItem& r : recent_) bytes += StringHeapBytes(r.item.str());
  for (const PendingList& p : pending_) {
    bytes += StringHeapBytes(p.rec) + StringHeapBytes(p.variant) + StringHeapBytes(p.segment) +
             p.items.capacity() * sizeof(ItemId) + p.features.capacity() * sizeof(float) +
             p.clicked.capacity() * sizeof(std::uint32_t);
    for (const ItemId& i : p.items) bytes += StringHeapBytes(i.str());
  }
  return bytes;
}

}  // namespace recsd::model
