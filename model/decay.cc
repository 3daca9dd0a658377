#include "model/decay.h"

#include <algorithm>
#include <cmath>

#include <Eigen/Cholesky>

#include "model/check.h"

namespace recsd::model {

double DecayFactor(double age, double half_life) { return std::exp2(-age / half_life); }

double LogarithmicKernel(double age, double tau) { return 1.0 / (1.0 + std::log1p(age / tau)); }

DecayKernel DecayKernel::Exponential(double half_life) { return DecayKernel({half_life}, {1.0}); }

DecayKernel DecayKernel::Logarithmic(double tau, double horizon, std::size_t components) {
  RECSD_CHECK(tau > 0 && horizon > tau && components >= 2, "logarithmic kernel parameters");
  // Half-lives h_j geometric in [τ/4, 4·horizon]: components slower than the horizon carry the
  // kernel's long flat tail up to it.
  std::vector<double> half_lives(components);
  const double lo = tau / 4;
  const double ratio = std::pow(4 * horizon / lo, 1.0 / static_cast<double>(components - 1));
  for (std::size_t j = 0; j < components; ++j) {
    half_lives[j] = lo * std::pow(ratio, static_cast<double>(j));
  }
  // Samples: Δ = 0 and a geometric grid from τ/100 to horizon, so every decade of age counts alike.
  constexpr std::size_t kSamples = 240;
  std::vector<double> ages = {0.0};
  const double first = tau / 100;
  const double step = std::pow(horizon / first, 1.0 / static_cast<double>(kSamples - 2));
  for (std::size_t s = 0; s + 1 < kSamples; ++s) {
    ages.push_back(first * std::pow(step, static_cast<double>(s)));
  }
  Eigen::MatrixXd a(static_cast<Eigen::Index>(ages.size()), static_cast<Eigen::Index>(components));
  Eigen::VectorXd y(static_cast<Eigen::Index>(ages.size()));
  for (std::size_t s = 0; s < ages.size(); ++s) {
    y(static_cast<Eigen::Index>(s)) = LogarithmicKernel(ages[s], tau);
    for (std::size_t j = 0; j < components; ++j) {
      a(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(j)) =
          DecayFactor(ages[s], half_lives[j]);
    }
  }
  return DecayKernel(std::move(half_lives), NonNegativeLeastSquares(a, y));
}

std::vector<double> NonNegativeLeastSquares(const Eigen::MatrixXd& a, const Eigen::VectorXd& y) {
  // Lawson & Hanson's active-set method ("Solving Least Squares Problems", 1974, ch. 23) on the
  // normal equations: G = AᵀA, b = Aᵀy. Exact for the small, ill-conditioned problems of kernel
  // fitting (nearby exponentials are almost collinear), where gradient methods crawl.
  const Eigen::MatrixXd g = a.transpose() * a;
  const Eigen::VectorXd b = a.transpose() * y;
  const Eigen::Index n = g.rows();
  const double tol = 1e-12 * (1.0 + b.cwiseAbs().maxCoeff());
  Eigen::VectorXd w = Eigen::VectorXd::Zero(n);
  std::vector<bool> passive(static_cast<std::size_t>(n), false);
  const auto solve_passive = [&]() {
    std::vector<Eigen::Index> idx;
    for (Eigen::Index j = 0; j < n; ++j) {
      if (passive[static_cast<std::size_t>(j)]) idx.push_back(j);
    }
    const auto m = static_cast<Eigen::Index>(idx.size());
    Eigen::MatrixXd gp(m, m);
    Eigen::VectorXd bp(m);
    for (Eigen::Index r = 0; r < m; ++r) {
      bp(r) = b(idx[static_cast<std::size_t>(r)]);
      for (Eigen::Index c = 0; c < m; ++c) {
        gp(r, c) = g(idx[static_cast<std::size_t>(r)], idx[static_cast<std::size_t>(c)]);
      }
    }
    const Eigen::VectorXd sp = gp.ldlt().solve(bp);
    Eigen::VectorXd s = Eigen::VectorXd::Zero(n);
    for (Eigen::Index r = 0; r < m; ++r) s(idx[static_cast<std::size_t>(r)]) = sp(r);
    return s;
  };
  for (Eigen::Index outer = 0; outer < 3 * n; ++outer) {
    const Eigen::VectorXd gradient = b - g * w;  // −∇ of ½wᵀGw − bᵀw
    Eigen::Index best = -1;
    for (Eigen::Index j = 0; j < n; ++j) {
      if (!passive[static_cast<std::size_t>(j)] && gradient(j) > tol &&
          (best < 0 || gradient(j) > gradient(best))) {
        best = j;
      }
    }
    if (best < 0) {
      break;  // Karush-Kuhn-Tucker conditions hold: optimal
    }
    passive[static_cast<std::size_t>(best)] = true;
    for (Eigen::Index inner = 0; inner <= n; ++inner) {
      const Eigen::VectorXd s = solve_passive();
      double alpha = 1.0;
      bool feasible = true;
      for (Eigen::Index j = 0; j < n; ++j) {
        if (passive[static_cast<std::size_t>(j)] && s(j) <= 0) {
          feasible = false;
          alpha = std::min(alpha, w(j) / (w(j) - s(j)));
        }
      }
      if (feasible) {
        w = s;
        break;
      }
      w += alpha * (s - w);
      for (Eigen::Index j = 0; j < n; ++j) {
        if (passive[static_cast<std::size_t>(j)] && w(j) <= tol) {
          passive[static_cast<std::size_t>(j)] = false;
          w(j) = 0;
        }
      }
    }
  }
  std::vector<double> out(static_cast<std::size_t>(n));
  for (Eigen::Index j = 0; j < n; ++j) out[static_cast<std::size_t>(j)] = std::max(0.0, w(j));
  return out;
}

DecayKernel::DecayKernel(std::vector<double> half_lives, std::vector<double> weights)
    : half_lives_(std::move(half_lives)), weights_(std::move(weights)) {
  RECSD_CHECK(!half_lives_.empty() && half_lives_.size() == weights_.size(),
              "a kernel has one weight per half-life");
  for (std::size_t j = 0; j < half_lives_.size(); ++j) {
    RECSD_CHECK(half_lives_[j] > 0 && std::isfinite(half_lives_[j]), "half-lives are positive");
    RECSD_CHECK(weights_[j] >= 0 && std::isfinite(weights_[j]), "mixture weights are >= 0");
  }
}

double DecayKernel::operator()(double age) const {
  double k = 0.0;
  for (std::size_t j = 0; j < half_lives_.size(); ++j) {
    k += weights_[j] * DecayFactor(age, half_lives_[j]);
  }
  return k;
}

InterestState::InterestState(std::size_t dim, std::span<const double> half_lives)
    : half_lives_(half_lives.begin(), half_lives.end()),
      vectors_(static_cast<Eigen::Index>(half_lives.size()), static_cast<Eigen::Index>(dim)),
      masses_(half_lives.size(), 0.0) {
  RECSD_CHECK(!half_lives_.empty(), "interest needs a time scale");
  for (double h : half_lives_) {
    RECSD_CHECK(h > 0 && std::isfinite(h), "half-lives are positive");
  }
  vectors_.setZero();
}

void InterestState::Apply(double t, double weight, std::span<const float> e) {
  const bool vectors = dim() > 0;
  RECSD_CHECK(!vectors || e.size() == dim(), "embedding of the interest dimension");
  const Eigen::Map<const Eigen::RowVectorXf> item(e.data(),
                                                  static_cast<Eigen::Index>(vectors ? dim() : 0));
  if (!started_) {
    started_ = true;
    clock_ = t;
  }
  const bool late = t < clock_;
  for (std::size_t j = 0; j < half_lives_.size(); ++j) {
    const auto row = static_cast<Eigen::Index>(j);
    if (late) {
      // Seen from the clock, the late event is already (t_u − t) old.
      const double a = DecayFactor(clock_ - t, half_lives_[j]);
      if (vectors) vectors_.row(row) += static_cast<float>(weight * a) * item;
      masses_[j] += weight * a;
    } else {
      const double a = DecayFactor(t - clock_, half_lives_[j]);
      if (vectors) {
        vectors_.row(row) =
            static_cast<float>(a) * vectors_.row(row) + static_cast<float>(weight) * item;
      }
      masses_[j] = a * masses_[j] + weight;
    }
  }
  if (!late) {
    clock_ = t;
  }
}

double InterestState::PendingDecay(std::size_t j, double t) const {
  return t > clock_ ? DecayFactor(t - clock_, half_lives_[j]) : 1.0;
}

double InterestState::MassAt(std::size_t j, double t) const {
  RECSD_CHECK(j < components(), "component index");
  return masses_[j] * PendingDecay(j, t);
}

void InterestState::VectorAt(std::size_t j, double t, std::span<float> out) const {
  RECSD_CHECK(j < components() && out.size() == dim(), "component index and output size");
  Eigen::Map<Eigen::RowVectorXf> o(out.data(), static_cast<Eigen::Index>(out.size()));
  o = static_cast<float>(PendingDecay(j, t)) * vectors_.row(static_cast<Eigen::Index>(j));
}

void InterestState::MixtureAt(std::span<const double> weights, double t,
                              std::span<float> out) const {
  RECSD_CHECK(weights.size() == components() && out.size() == dim(), "mixture shape");
  Eigen::Map<Eigen::RowVectorXf> o(out.data(), static_cast<Eigen::Index>(out.size()));
  o.setZero();
  for (std::size_t j = 0; j < components(); ++j) {
    o += static_cast<float>(weights[j] * PendingDecay(j, t)) *
         vectors_.row(static_cast<Eigen::Index>(j));
  }
}

bool InterestState::Restore(double clock, bool started, std::span<const double> masses,
                            std::span<const float> vectors) {
  const auto size = static_cast<std::size_t>(vectors_.size());
  if (masses.size() != masses_.size() || (vectors.size() != size && size > 0 && !vectors.empty())) {
    return false;
  }
  clock_ = clock;
  started_ = started;
  std::copy(masses.begin(), masses.end(), masses_.begin());
  if (vectors.size() == size) {
    std::copy(vectors.begin(), vectors.end(), vectors_.data());
  } else {
    vectors_.setZero();
  }
  return true;
}

std::size_t InterestState::HeapBytes() const noexcept {
  return static_cast<std::size_t>(vectors_.size()) * sizeof(float) +
         masses_.capacity() * sizeof(double) + half_lives_.capacity() * sizeof(double);
}

}  // namespace recsd::model
