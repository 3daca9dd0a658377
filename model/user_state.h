#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/catalog.h"
#include "model/decay.h"
#include "model/fusion.h"
#include "model/ids.h"
#include "model/seen_items.h"

namespace recsd::model {

// Shape of every user's state; one instance shared by all users of an engine.
struct UserStateOptions {
  std::size_t dim = 64;
  // Interest time scales in clock units (defaults: 30 min and 7 days of event time, in seconds).
  std::vector<double> half_lives = {30 * 60.0, 7 * 24 * 3600.0};
  double category_half_life = 7 * 24 * 3600.0;
  std::size_t max_categories = 8;      // category affinities kept per user (top-N)
  std::size_t recent_capacity = 32;    // ring of recent items
  std::size_t max_pending = 4;         // shown lists kept for click attribution
  std::size_t seen_capacity = 10'000;  // items remembered by the seen filter (SeenItems)
  // Keep the interest vectors (dim floats per time scale). Off, a user keeps the interest masses
  // and clock only: the engine turns it off when nothing reads the vectors (model/engine.cc).
  bool interest_vectors = true;
};

struct RecentItem {
  ItemId item;
  double t = 0;         // clock time of the interaction
  double weight = 1.0;  // the event type's interest weight (negative for a dislike)
  friend bool operator==(const RecentItem&, const RecentItem&) = default;
};

// A category and the user's affinity to it, as of the user clock (decayed like interest).
struct CategoryAffinity {
  CategoryId category = kNoCategory;
  double value = 0;
  friend bool operator==(const CategoryAffinity&, const CategoryAffinity&) = default;
};

// A published list kept for attribution of later clicks: which items at which positions, and the
// feature vector x each was ranked with (row-major, items.size() × feature_dim).
struct PendingList {
  std::string rec;
  TimestampMs shown_at;
  std::uint64_t model = 0;
  std::string variant;
  std::string segment;  // the learner segment it was ranked for (empty: global)
  std::vector<ItemId> items;
  std::size_t feature_dim = 0;
  std::vector<float> features;
  // Feedback so far (model/attribution.h): clicked positions, in click order, and the deepest
  // position an impression said was shown (-1: no impression seen, so all count as shown).
  std::vector<std::uint32_t> clicked;
  std::int32_t max_shown = -1;
  // The fusion weights it was ranked with, by source: with `features` they explain each item.
  std::array<float, kMaxSources> weights{};  // the first feature_dim are used
  TimestampMs event_ts{0};                   // of the event it stands for (the list's event_ts)
  friend bool operator==(const PendingList&, const PendingList&) = default;
};

// Everything a UserState holds, in a canonical form (recent items oldest first), for the state
// codec (state/): UserState::Export and UserState::Restore round-trip exactly.
struct UserStateParts {
  double clock = 0;  // the interest clock
  bool started = false;
  std::vector<double> masses;  // by interest component
  std::vector<float> vectors;  // components × dim, row-major, as of the clock
  std::vector<CategoryAffinity> categories;
  std::vector<RecentItem> recent;   // oldest first
  std::vector<std::uint32_t> seen;  // SeenItems' fingerprints, ascending
  std::vector<PendingList> pending;
  std::int64_t last_offset = -1;
  std::uint64_t event_count = 0;
  friend bool operator==(const UserStateParts&, const UserStateParts&) = default;
};

// Everything recsd keeps about one user. Owned by the worker that owns the user's partition: one
// writer, no locking. A `forget` event erases the whole object (the engine's job).
class UserState {
 public:
  explicit UserState(const UserStateOptions& options);

  // Applies one interaction at clock time t with the event type's weight to the item's unit
  // embedding and category, puts the item in the ring of recent items and, when `remember`,
  // in the seen set (an event type whose items may be recommended again passes false). An
  // empty `embedding` (an item the catalog does not know yet) gives interest no direction.
  // Returns false and changes nothing when `offset` is at or below the last applied offset: a
  // re-delivered event cannot count twice.
  bool Observe(std::int64_t offset, double t, double weight, const ItemId& item,
               std::span<const float> embedding, CategoryId category, bool remember = true);
  // Records an event that carries no interest (an impression): only the offset and the count.
  // False when the offset was applied already.
  bool MarkApplied(std::int64_t offset);

  const InterestState& interest() const noexcept { return interest_; }
  double clock() const noexcept { return interest_.clock(); }
  std::int64_t last_offset() const noexcept { return last_offset_; }
  std::uint64_t event_count() const noexcept { return event_count_; }

  // Recent items, oldest first; at most recent_capacity.
  std::vector<RecentItem> Recent() const;
  bool HasSeen(const ItemId& item) const;
  // Every item remembered as seen (Observe's `remember`), for the seen filter.
  const SeenItems& seen() const noexcept { return seen_; }
  bool seen_full() const noexcept { return seen_.full(options_->seen_capacity); }
  // The latest item put in the ring, or null when there is none.
  const RecentItem* Last() const noexcept { return RecentAt(0); }
  // The back-th most recent item of the ring (0: the latest), or null when it holds fewer.
  const RecentItem* RecentAt(std::size_t back) const noexcept;
  std::size_t recent_size() const noexcept { return recent_.size(); }

  // At most max_categories entries, values as of clock(). Space-saving style: a new category
  // replaces the weakest entry only when it would be stronger, so a burst of one-off categories
  // cannot push out the user's main interests.
  std::span<const CategoryAffinity> categories() const noexcept { return categories_; }
  double CategoryAffinityAt(CategoryId category, double t) const;

  // Keeps `list`; when max_pending lists are kept already, the oldest is dropped and returned (its
  // feedback is final: the caller turns it into examples).
  std::optional<PendingList> AddPending(PendingList list);
  std::span<const PendingList> pending() const noexcept { return pending_; }
  std::span<PendingList> mutable_pending() noexcept { return pending_; }
  // Removes and returns, oldest first, the lists shown before `cutoff`.
  std::vector<PendingList> TakePendingShownBefore(TimestampMs cutoff);

  // Bytes this user occupies (object and heap), for memory accounting.
  std::size_t ApproxBytes() const noexcept;

  UserStateParts Export() const;
  // Replaces everything with `parts`. False, and nothing changed, when they do not fit the
  // options (another interest shape, or more categories, recent items or pending lists than
  // allowed).
  bool Restore(UserStateParts parts);

 private:
  void UpdateCategory(double t, double weight, CategoryId category);

  const UserStateOptions* options_;
  InterestState interest_;
  std::vector<CategoryAffinity> categories_;
  std::vector<RecentItem> recent_;  // ring buffer of capacity recent_capacity
  std::size_t recent_next_ = 0;     // where the next item goes once the ring is full
  SeenItems seen_;
  std::vector<PendingList> pending_;
  std::int64_t last_offset_ = -1;
  std::uint64_t event_count_ = 0;
};

}  // namespace recsd::model
