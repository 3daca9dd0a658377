#include "model/guard.h"

#include <algorithm>
#include <cmath>

#include "model/check.h"

namespace recsd::model {

GuardStats::GuardStats(double half_life_lists) : keep_(std::exp2(-1.0 / half_life_lists)) {
  RECSD_CHECK(half_life_lists > 0, "guard half-life");
}

void GuardStats::Add(Arm arm, bool clicked, GuardUser* user) {
  ++epoch_;
  for (Sums& s : sums_) {
    s.lists *= keep_;
    s.clicked *= keep_;
    s.ll *= keep_ * keep_;
    s.cc *= keep_ * keep_;
    s.lc *= keep_ * keep_;
  }
  Sums& s = sums_[arm];
  GuardUser single;
  GuardUser& u = user != nullptr ? *user : single;
  // The user's counts as of now, out of the sums; one more list; back in.
  const double f = u.epoch == 0 ? 0.0 : std::pow(keep_, static_cast<double>(epoch_ - u.epoch));
  const double l = u.lists * f;
  const double c = u.clicked * f;
  s.lists -= l;
  s.clicked -= c;
  s.ll -= l * l;
  s.cc -= c * c;
  s.lc -= l * c;
  u.lists = l + 1;
  u.clicked = c + (clicked ? 1 : 0);
  u.epoch = epoch_;
  s.lists += u.lists;
  s.clicked += u.clicked;
  s.ll += u.lists * u.lists;
  s.cc += u.clicked * u.clicked;
  s.lc += u.lists * u.clicked;
}

double GuardStats::rate(Arm arm) const noexcept {
  return sums_[arm].lists > 0 ? sums_[arm].clicked / sums_[arm].lists : 0.0;
}

double GuardStats::Variance(Arm arm) const noexcept {
  const Sums& s = sums_[arm];
  if (!(s.lists > 0)) return 0.0;
  const double r = s.clicked / s.lists;
  return std::max(0.0, s.cc - 2 * r * s.lc + r * r * s.ll) / (s.lists * s.lists);
}

double GuardStats::z() const noexcept {
  if (!(sums_[kLearned].lists > 0) || !(sums_[kHoldout].lists > 0)) return 0.0;
  const double se = std::sqrt(Variance(kLearned) + Variance(kHoldout));
  return se > 0 ? (rate(kLearned) - rate(kHoldout)) / se : 0.0;
}

}  // namespace recsd::model
