#pragma once

#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include <Eigen/Core>

namespace recsd::model {

// Time in recsd's model is a clock value in the unit of the configured clock: seconds of event
// time, or events of the user's own activity (the activity clock: every event of a user advances
// that user's clock by 1, so a user who pauses for a month does not forget). Half-lives are in the
// same unit.

// 2^(−age/half_life): the weight left of something observed `age` clock units ago. age >= 0.
double DecayFactor(double age, double half_life);

// k(Δ) = 1 / (1 + ln(1 + Δ/τ)): the logarithmic forgetting kernel, which falls fast at first and
// then very slowly (k(τ) = 0.59, k(100τ) = 0.18, k(10⁴τ) = 0.10). Not an exponential, so it cannot
// be applied lazily by itself; DecayKernel::Logarithmic approximates it by a mixture that can.
double LogarithmicKernel(double age, double tau);

// A decay kernel written as a non-negative mixture of exponentials,
//   k(Δ) = Σ_j a_j · 2^(−Δ/h_j),   a_j >= 0,
// because only exponentials compose (2^(−x/h)·2^(−y/h) = 2^(−(x+y)/h)): keeping one accumulator per
// component h_j (InterestState) applies any such kernel exactly and lazily, in O(D) per event and
// per component, with replay-deterministic results. Immutable; safe to share.
class DecayKernel {
 public:
  // One exponential: k(Δ) = 2^(−Δ/half_life).
  static DecayKernel Exponential(double half_life);

  // The logarithmic kernel with time constant τ, fitted over Δ ∈ [0, horizon] as a mixture of
  // `components` exponentials whose half-lives are spaced geometrically from τ/4 to 4·horizon, the
  // weights by non-negative least squares on a geometric grid of Δ. With τ = 1 h, horizon = 90 d
  // and 12 components the largest absolute error over [0, horizon] is 0.0027 (at Δ = 0; 16 or 20
  // components only reach 0.0023); tests/model/decay_test.cc holds it below 0.005 on a grid ten
  // times finer than the fit's. Beyond the horizon the mixture decays faster than the kernel.
  static DecayKernel Logarithmic(double tau, double horizon, std::size_t components = 12);

  // Components must be non-empty, half-lives > 0, weights >= 0 (a broken kernel is a bug: checked).
  DecayKernel(std::vector<double> half_lives, std::vector<double> weights);

  double operator()(double age) const;
  std::span<const double> half_lives() const { return half_lives_; }
  std::span<const double> weights() const { return weights_; }

 private:
  std::vector<double> half_lives_;
  std::vector<double> weights_;
};

// The shared frame of many decayed values with one half-life (popularity counts, co-visitation
// edges). A weight w added at t is stored as w·2^((t − t_ref)/h) and read back at t as
// stored·2^(−(t − t_ref)/h): one common factor decays every value, so an update touches one value
// however many there are. Stored values grow as time moves on; Advance rebases the frame
// (t_ref = t) once t is kRebaseHalfLives half-lives past t_ref, a growth of 2^32, far from
// overflowing a double.
class DecayFrame {
 public:
  static constexpr double kRebaseHalfLives = 32;

  explicit DecayFrame(double half_life) : half_life_(half_life) {}

  // Makes the frame cover time t (the first call starts it at t). When it rebases, returns the
  // factor by which the owner must multiply every stored value; otherwise nullopt.
  std::optional<double> Advance(double t) {
    if (!started_) {
      started_ = true;
      t_ref_ = t;
      return std::nullopt;
    }
    if ((t - t_ref_) / half_life_ <= kRebaseHalfLives) {
      return std::nullopt;
    }
    const double scale = Scale(t);
    t_ref_ = t;
    return scale;
  }
  // What to store for a weight w added at time t.
  double Store(double t, double w) const { return w * std::exp2((t - t_ref_) / half_life_); }
  // Stored value → value at time t.
  double Scale(double t) const { return std::exp2(-(t - t_ref_) / half_life_); }

 private:
  double half_life_;
  double t_ref_ = 0;
  bool started_ = false;
};

// argmin over w >= 0 of |A·w − y|² (non-negative least squares), for small dense problems.
std::vector<double> NonNegativeLeastSquares(const Eigen::MatrixXd& a, const Eigen::VectorXd& y);

// Interest at several exponential time scales, decayed lazily in clock time (ARCHITECTURE.md,
// "User state and interest decay"). Component j keeps a vector u_j ∈ R^D and a mass m_j as of the
// clock t_u:
//   event of weight w on unit embedding e at t >= t_u:  a_j = 2^(−(t − t_u)/h_j)
//       u_j ← a_j·u_j + w·e,   m_j ← a_j·m_j + w,   t_u ← t
//   late event (t < t_u):  u_j ← u_j + w·2^(−(t_u − t)/h_j)·e,  m_j likewise,  t_u unchanged
// so the result does not depend on how the decay between events is split, and the clock never
// moves back. Reads at t >= t_u apply the pending decay without changing the state. Owned by one
// user's state; one writer, no locking.
class InterestState {
 public:
  // dim 0: masses and clock only, no vectors (Apply takes embeddings of any size then).
  InterestState(std::size_t dim, std::span<const double> half_lives);

  // Applies one event. `e` has dim() values (normally L2-normalised); `weight` is the event type's
  // interest weight (negative for a dislike); `t` is in clock units.
  void Apply(double t, double weight, std::span<const float> e);

  // The component j as seen at time t (t >= clock(); earlier t reads the state at the clock).
  double MassAt(std::size_t j, double t) const;
  void VectorAt(std::size_t j, double t, std::span<float> out) const;
  // Σ_j a_j·u_j at time t for a kernel over the same components (weights a_j), e.g. the long-term
  // interest of a logarithmic kernel.
  void MixtureAt(std::span<const double> weights, double t, std::span<float> out) const;

  bool empty() const noexcept { return !started_; }
  double clock() const noexcept { return clock_; }
  std::size_t dim() const noexcept { return static_cast<std::size_t>(vectors_.cols()); }
  std::size_t components() const noexcept { return half_lives_.size(); }
  // Heap bytes held (vectors, masses, half-lives), for memory accounting.
  std::size_t HeapBytes() const noexcept;

  // The stored state as of clock(), for serialisation: masses by component and the vectors, row
  // by row (components() × dim()). Restore() puts it back; false, and nothing changed, when the
  // shape differs from this state's (another dimension or set of time scales). Vectors given to
  // a state without them are dropped, and a state with vectors restored without any starts them
  // from zero (an engine whose configuration started or stopped reading them).
  std::span<const double> masses() const noexcept { return masses_; }
  std::span<const float> vectors() const noexcept {
    return {vectors_.data(), static_cast<std::size_t>(vectors_.size())};
  }
  bool Restore(double clock, bool started, std::span<const double> masses,
               std::span<const float> vectors);

 private:
  double PendingDecay(std::size_t j, double t) const;

  std::vector<double> half_lives_;
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> vectors_;  // J × D
  std::vector<double> masses_;
  double clock_ = 0.0;
  bool started_ = false;
};

}  // namespace recsd::model
