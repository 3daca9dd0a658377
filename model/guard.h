#pragma once

#include <array>
#include <cstdint>

namespace recsd::model {

// The guard that reverts to the static weights when the learned ones do worse than the holdout's.
// It compares the share of lists with a click, learned against holdout, over exponentially
// decayed counts (a window of about `half_life_lists` finished lists), and reverts when both
// variants have at least `min_lists` (decayed) and z < −z_revert. The revert lasts until
// restart: an operator looks first.
struct GuardOptions {
  bool enabled = true;
  double half_life_lists = 20'000;
  double min_lists = 2'000;
  double z_revert = 3.0;
};

// A user's decayed lists and clicked lists in the guard's counts, as of `epoch` (GuardStats).
struct GuardUser {
  double lists = 0;
  double clicked = 0;
  std::uint64_t epoch = 0;
};

// The guard's statistic. The holdout is a share of users, not of lists, and users differ widely
// in how often they click: lists of one user are not independent, so a test that counts lists as
// independent draws finds differences that are only who happened to be in which group (on
// MovieLens latest-small, 61 holdout users gave |z| > 3 with identical weights). Users are the
// clusters: the click rate of variant v is R = Σ_u C_u / Σ_u L_u over its users' decayed lists L_u
// and clicked lists C_u, with the cluster-robust (linearisation) variance
//   V = Σ_u (C_u − R·L_u)² / (Σ_u L_u)²
// (which is R(1 − R)/n when every user has one list), and z = (R_learned − R_holdout)/√(V_l + V_h).
// Every sum decays by 2^(−1/half_life_lists) per finished list, the users' own counts lazily.
// Pure; one writer.
class GuardStats {
 public:
  enum Arm : std::uint8_t { kLearned = 0, kHoldout = 1 };

  explicit GuardStats(double half_life_lists);

  // A finished list of `arm`, clicked or not, of `user` (null: a user whose counts are not
  // kept, counted as a cluster of one list).
  void Add(Arm arm, bool clicked, GuardUser* user);

  double lists(Arm arm) const noexcept { return sums_[arm].lists; }
  double rate(Arm arm) const noexcept;
  // z of learned against holdout (> 0: learned does better); 0 until both have lists.
  double z() const noexcept;

 private:
  struct Sums {
    double lists = 0;    // Σ L_u
    double clicked = 0;  // Σ C_u
    double ll = 0;       // Σ L_u²
    double cc = 0;       // Σ C_u²
    double lc = 0;       // Σ L_u·C_u
  };
  double Variance(Arm arm) const noexcept;

  double keep_;
  std::uint64_t epoch_ = 0;
  std::array<Sums, 2> sums_{};
};

}  // namespace recsd::model
