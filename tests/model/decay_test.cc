#include "model/decay.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <Eigen/Cholesky>

namespace recsd::model {
namespace {

constexpr std::size_t kDim = 8;
constexpr double kHour = 3600.0;
constexpr double kDay = 24 * kHour;
const std::vector<double> kHalfLives = {30 * 60.0, 7 * kDay};  // the defaults, in seconds

struct Ev {
  double t;
  double w;
  std::vector<float> e;
};

std::vector<float> RandomUnit(std::mt19937_64& rng) {
  std::normal_distribution<float> n;
  std::vector<float> v(kDim);
  float norm = 0;
  for (float& x : v) {
    x = n(rng);
    norm += x * x;
  }
  for (float& x : v) x /= std::sqrt(norm);
  return v;
}

// Random events over ~30 days, in random order (so some are late), weights in [0, 5].
std::vector<Ev> RandomEvents(std::mt19937_64& rng, std::size_t n) {
  std::uniform_real_distribution<double> when(0, 30 * kDay);
  std::uniform_real_distribution<double> weight(0, 5);
  std::vector<Ev> events;
  for (std::size_t i = 0; i < n; ++i) {
    events.push_back({1.7e9 + when(rng), weight(rng), RandomUnit(rng)});
  }
  return events;
}

std::vector<float> Vector(const InterestState& s, std::size_t j, double t) {
  std::vector<float> v(kDim);
  s.VectorAt(j, t, v);
  return v;
}

TEST(DecayTest, HalvesAfterOneHalfLife) {
  EXPECT_DOUBLE_EQ(DecayFactor(0, 10), 1.0);
  EXPECT_DOUBLE_EQ(DecayFactor(10, 10), 0.5);
  EXPECT_DOUBLE_EQ(DecayFactor(30, 10), 0.125);
}

TEST(DecayTest, TwoGapsComposeToOneGap) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> gap(0, 60 * kDay);
  for (int trial = 0; trial < 200; ++trial) {
    const double g1 = gap(rng);
    const double g2 = gap(rng);
    const std::vector<float> e1 = RandomUnit(rng);
    const std::vector<float> e2 = RandomUnit(rng);
    // One state sees the gap g1 + g2 at once; the other is moved through g1 by an event of
    // weight 0 first.
    InterestState once(kDim, kHalfLives);
    InterestState split(kDim, kHalfLives);
    for (InterestState* s : {&once, &split}) s->Apply(1e9, 2.0, e1);
    split.Apply(1e9 + g1, 0.0, e2);
    for (InterestState* s : {&once, &split}) s->Apply(1e9 + g1 + g2, 1.0, e2);
    for (std::size_t j = 0; j < kHalfLives.size(); ++j) {
      EXPECT_NEAR(once.MassAt(j, once.clock()), split.MassAt(j, split.clock()), 1e-12);
      const auto a = Vector(once, j, once.clock());
      const auto b = Vector(split, j, split.clock());
      for (std::size_t d = 0; d < kDim; ++d) EXPECT_NEAR(a[d], b[d], 1e-6);
    }
    // Reading lazily across two gaps equals reading across their sum.
    EXPECT_NEAR(once.MassAt(0, once.clock() + g1 + g2),
                once.MassAt(0, once.clock() + g1) * DecayFactor(g2, kHalfLives[0]), 1e-12);
  }
}

TEST(DecayTest, MassesStayNonNegativeForNonNegativeWeights) {
  std::mt19937_64 rng(2);
  for (int trial = 0; trial < 50; ++trial) {
    InterestState s(kDim, kHalfLives);
    for (const Ev& ev : RandomEvents(rng, 100)) {
      s.Apply(ev.t, ev.w, ev.e);
      for (std::size_t j = 0; j < s.components(); ++j) {
        ASSERT_GE(s.MassAt(j, s.clock()), 0.0);
        ASSERT_GE(s.MassAt(j, s.clock() + 365 * kDay), 0.0);
      }
    }
  }
}

TEST(DecayTest, LateEventNeverMovesTheClockBack) {
  std::mt19937_64 rng(3);
  InterestState s(kDim, kHalfLives);
  double latest = -1;
  for (const Ev& ev : RandomEvents(rng, 500)) {
    s.Apply(ev.t, ev.w, ev.e);
    latest = std::max(latest, ev.t);
    ASSERT_EQ(s.clock(), latest);
  }
}

// The state is Σ_i w_i·2^(−(T − t_i)/h)·e_i whatever order the events arrive in: late events are
// exact, not approximations.
TEST(DecayTest, ArrivalOrderDoesNotChangeTheState) {
  std::mt19937_64 rng(4);
  std::vector<Ev> events = RandomEvents(rng, 200);
  InterestState shuffled(kDim, kHalfLives);
  for (const Ev& ev : events) shuffled.Apply(ev.t, ev.w, ev.e);
  std::sort(events.begin(), events.end(), [](const Ev& a, const Ev& b) { return a.t < b.t; });
  InterestState sorted(kDim, kHalfLives);
  for (const Ev& ev : events) sorted.Apply(ev.t, ev.w, ev.e);
  const double t_end = events.back().t;
  for (std::size_t j = 0; j < kHalfLives.size(); ++j) {
    double mass = 0;
    std::vector<double> closed(kDim, 0.0);
    for (const Ev& ev : events) {
      const double a = DecayFactor(t_end - ev.t, kHalfLives[j]);
      mass += ev.w * a;
      for (std::size_t d = 0; d < kDim; ++d) closed[d] += ev.w * a * ev.e[d];
    }
    EXPECT_NEAR(shuffled.MassAt(j, t_end), mass, 1e-9 * mass);
    EXPECT_NEAR(sorted.MassAt(j, t_end), mass, 1e-9 * mass);
    const auto a = Vector(shuffled, j, t_end);
    const auto b = Vector(sorted, j, t_end);
    for (std::size_t d = 0; d < kDim; ++d) {
      EXPECT_NEAR(a[d], closed[d], 2e-4 * (1 + std::fabs(closed[d])));
      EXPECT_NEAR(b[d], closed[d], 2e-4 * (1 + std::fabs(closed[d])));
    }
  }
}

TEST(DecayTest, DislikePushesAway) {
  InterestState s(kDim, kHalfLives);
  std::vector<float> e(kDim, 0.0F);
  e[0] = 1.0F;
  s.Apply(100, 1.0, e);
  s.Apply(100, -3.0, e);
  EXPECT_LT(Vector(s, 0, 100)[0], 0.0F);
  EXPECT_DOUBLE_EQ(s.MassAt(0, 100), -2.0);
}

TEST(DecayTest, ActivityClockDecaysPerEvent) {
  // With the activity clock, t is the user's event count and the half-life is in events.
  const std::vector<double> half_life_events = {10.0};
  InterestState s(kDim, half_life_events);
  std::vector<float> first(kDim, 0.0F);
  first[0] = 1.0F;
  std::vector<float> other(kDim, 0.0F);
  other[1] = 1.0F;
  s.Apply(0, 1.0, first);
  for (int n = 1; n <= 10; ++n) s.Apply(n, 0.0, other);
  EXPECT_NEAR(Vector(s, 0, s.clock())[0], 0.5F, 1e-6);
}

TEST(LogarithmicKernelTest, MixtureApproximatesTheKernelWithinHalfAPercent) {
  const double tau = kHour;
  const double horizon = 90 * kDay;
  const DecayKernel k = DecayKernel::Logarithmic(tau, horizon);
  for (double w : k.weights()) EXPECT_GE(w, 0.0);
  double worst = 0;
  // A grid 10x finer than the fit's, so errors between its sample points count too.
  for (int i = 0; i <= 2400; ++i) {
    const double age = i == 0 ? 0.0 : (tau / 100) * std::pow(horizon / (tau / 100), i / 2400.0);
    worst = std::max(worst, std::fabs(k(age) - LogarithmicKernel(age, tau)));
  }
  EXPECT_LT(worst, 0.005);
  EXPECT_NEAR(k(0), 1.0, 0.005);
}

TEST(LogarithmicKernelTest, InterestStateAppliesTheMixtureExactly) {
  // Mixing the per-component vectors with the kernel's weights is the same as applying the kernel
  // to every event of the history.
  const DecayKernel k = DecayKernel::Logarithmic(kHour, 90 * kDay);
  std::mt19937_64 rng(5);
  const std::vector<Ev> events = RandomEvents(rng, 100);
  InterestState s(kDim, k.half_lives());
  for (const Ev& ev : events) s.Apply(ev.t, ev.w, ev.e);
  const double t_read = s.clock() + 2 * kDay;
  std::vector<float> mixed(kDim);
  s.MixtureAt(k.weights(), t_read, mixed);
  std::vector<double> expected(kDim, 0.0);
  for (const Ev& ev : events) {
    for (std::size_t d = 0; d < kDim; ++d) expected[d] += ev.w * k(t_read - ev.t) * ev.e[d];
  }
  for (std::size_t d = 0; d < kDim; ++d) {
    EXPECT_NEAR(mixed[d], expected[d], 2e-4 * (1 + std::fabs(expected[d])));
  }
}

TEST(NonNegativeLeastSquaresTest, MatchesTheKnownSolution) {
  // Both columns point away from y (Aᵀy = (−1, −3) < 0), so the unconstrained optimum is
  // infeasible and the constrained one is w = 0.
  Eigen::MatrixXd a(3, 2);
  a << 1, 1, 1, 2, 0, 1;
  Eigen::VectorXd y(3);
  y << 0, -1, -1;
  const std::vector<double> w = NonNegativeLeastSquares(a, y);
  ASSERT_EQ(w.size(), 2U);
  EXPECT_NEAR(w[0], 0.0, 1e-12);
  EXPECT_NEAR(w[1], 0.0, 1e-12);
  y << 1, 2, 0.5;
  const std::vector<double> v = NonNegativeLeastSquares(a, y);
  // Unconstrained optimum is feasible here: solve the normal equations directly.
  const Eigen::VectorXd exact = (a.transpose() * a).ldlt().solve(a.transpose() * y);
  ASSERT_GT(exact.minCoeff(), 0.0);
  EXPECT_NEAR(v[0], exact(0), 1e-9);
  EXPECT_NEAR(v[1], exact(1), 1e-9);
}

TEST(LogarithmicKernelTest, ExponentialKernelIsOneComponent) {
  const DecayKernel k = DecayKernel::Exponential(5.0);
  ASSERT_EQ(k.half_lives().size(), 1U);
  EXPECT_DOUBLE_EQ(k(5.0), 0.5);
}

}  // namespace
}  // namespace recsd::model
