#include "model/learner.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include "model/check.h"
#include "model/random.h"

namespace recsd::model {
namespace {

// At most kMaxSources features and the intercept: sized at run time, never on the heap.
constexpr int kMaxDim = static_cast<int>(kMaxSources) + 1;
using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, 0, kMaxDim, kMaxDim>;
using Vector = Eigen::Matrix<double, Eigen::Dynamic, 1, 0, kMaxDim, 1>;
using RowMajor =
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor, kMaxDim, kMaxDim>;

// v(t) = φ(t)/Φ(t), the mean shift of a Gaussian truncated at -t. For very negative t, Φ(t)
// underflows; there v(t) → −t (Mills' ratio).
double V(double t) {
  if (t < -30.0) return -t;
  const double cdf = NormalCdf(t);
  return NormalPdf(t) / cdf;
}

// w(t) = v(t)·(v(t) + t), in [0, 1): the relative variance reduction.
double W(double t) {
  const double v = V(t);
  return std::clamp(v * (v + t), 0.0, 1.0);
}

// The mean over S features and the intercept (the intercept last).
Vector MeanOf(const WeightPosterior& p, std::size_t features) {
  Vector m(static_cast<Eigen::Index>(features + 1));
  for (std::size_t s = 0; s < features; ++s) m(static_cast<Eigen::Index>(s)) = p.mean[s];
  m(static_cast<Eigen::Index>(features)) = p.bias_mean;
  return m;
}

Matrix CovMatrix(const WeightPosterior& p, std::size_t features) {
  const auto n = static_cast<Eigen::Index>(features + 1);
  if (p.covariance.size() == static_cast<std::size_t>(n * n)) {
    return Eigen::Map<const RowMajor>(p.covariance.data(), n, n);
  }
  Matrix c = Matrix::Zero(n, n);
  for (std::size_t s = 0; s < features; ++s) {
    c(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(s)) = p.variance[s];
  }
  c(n - 1, n - 1) = p.bias_variance;
  return c;
}

// Writes μ and Σ back into p: the full matrix and its marginals.
void Store(const Vector& mean, const Matrix& cov, std::size_t features, WeightPosterior* p) {
  const auto n = static_cast<Eigen::Index>(features + 1);
  for (std::size_t s = 0; s < features; ++s) {
    const auto i = static_cast<Eigen::Index>(s);
    p->mean[s] = mean(i);
    p->variance[s] = cov(i, i);
  }
  p->bias_mean = mean(n - 1);
  p->bias_variance = cov(n - 1, n - 1);
  p->covariance.resize(static_cast<std::size_t>(n * n));
  for (Eigen::Index r = 0; r < n; ++r) {
    for (Eigen::Index c = 0; c < n; ++c) {
      // Symmetric by construction; averaged so rounding never makes it otherwise.
      p->covariance[static_cast<std::size_t>(r * n + c)] = 0.5 * (cov(r, c) + cov(c, r));
    }
  }
}

}  // namespace

double NormalPdf(double t) { return std::exp(-0.5 * t * t) / std::sqrt(2.0 * std::numbers::pi); }

double NormalCdf(double t) { return 0.5 * std::erfc(-t / std::numbers::sqrt2); }

std::vector<double> CovarianceOf(const WeightPosterior& p, std::size_t features) {
  const std::size_t n = features + 1;
  if (p.covariance.size() == n * n) return p.covariance;
  std::vector<double> c(n * n, 0.0);
  for (std::size_t s = 0; s < features; ++s) c[s * n + s] = p.variance[s];
  c[n * n - 1] = p.bias_variance;
  return c;
}

bool IsCovariance(const std::vector<double>& covariance, std::size_t features) {
  const std::size_t n = features + 1;
  if (covariance.size() != n * n) return false;
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t c = 0; c < n; ++c) {
      const double a = covariance[r * n + c];
      const double b = covariance[c * n + r];
      if (!std::isfinite(a) || std::abs(a - b) > 1e-9 * (std::abs(a) + std::abs(b) + 1e-300)) {
        return false;
      }
    }
  }
  const auto m = static_cast<Eigen::Index>(n);
  const Eigen::LLT<Matrix> llt(Eigen::Map<const RowMajor>(covariance.data(), m, m));
  return llt.info() == Eigen::Success;
}

WeightLearner::WeightLearner(const LearnerOptions& options) : options_(options) {
  RECSD_CHECK(options.restart_threshold >= 0 && options.restart_ratio > 1, "learner restarts");
  RECSD_CHECK(options.prior_variance > 0 && options.beta > 0 && options.drift_variance >= 0 &&
                  options.confidence >= 0 && options.min_weight <= options.max_weight &&
                  options.features <= kMaxSources,
              "learner options");
  for (std::size_t s = 0; s < options.features; ++s) {
    prior_.mean[s] = std::clamp(options.prior_mean[s], options.min_weight, options.max_weight);
  }
  prior_.variance.fill(options.prior_variance);
  prior_.bias_mean = options.bias_prior_mean;
  prior_.bias_variance = options.prior_variance;
  prior_.covariance = CovarianceOf(prior_, options.features);
  global_ = prior_;
  combined_ = prior_;
}

void LearnerEvidence::Add(const WeightPosterior& posterior, const WeightPosterior& prior,
                          std::size_t features) {
  RECSD_CHECK(features <= kMaxSources, "feature count");
  const Matrix post = CovMatrix(posterior, features);
  const Matrix pri = CovMatrix(prior, features);
  const Vector post_mean = MeanOf(posterior, features);
  const Vector prior_mean = MeanOf(prior, features);
  const Matrix post_info = post.inverse();
  const Matrix prior_info = pri.inverse();
  // Λ = Σ⁻¹ − Σ₀⁻¹, kept only in the directions where the posterior is the more certain.
  Eigen::SelfAdjointEigenSolver<Matrix> eigen(post_info - prior_info);
  Vector values = eigen.eigenvalues();
  Vector keep = Vector::Zero(values.size());
  for (Eigen::Index i = 0; i < values.size(); ++i) {
    if (values(i) > 1e-12) {
      keep(i) = 1;
    } else {
      values(i) = 0;
    }
  }
  const Matrix& vecs = eigen.eigenvectors();
  const Matrix info = vecs * values.asDiagonal() * vecs.transpose();
  const Vector eta_raw = post_info * post_mean - prior_info * prior_mean;
  const Vector eta = vecs * keep.asDiagonal() * vecs.transpose() * eta_raw;
  LearnerEvidence one;
  one.dim = features + 1;
  one.precision.assign(info.data(), info.data() + info.size());  // symmetric: order is moot
  one.weighted_mean.assign(eta.data(), eta.data() + eta.size());
  one.examples = posterior.examples;
  Add(one);
}

void LearnerEvidence::Add(const LearnerEvidence& other) {
  if (other.dim == 0) return;
  if (dim == 0) {
    *this = other;
    return;
  }
  RECSD_CHECK(dim == other.dim, "evidence over the same features");
  for (std::size_t i = 0; i < precision.size(); ++i) precision[i] += other.precision[i];
  for (std::size_t i = 0; i < weighted_mean.size(); ++i) weighted_mean[i] += other.weighted_mean[i];
  examples += other.examples;
}

WeightPosterior LearnerEvidence::CombinedWith(const WeightPosterior& own) const {
  if (dim == 0) return own;
  const std::size_t features = dim - 1;
  const auto n = static_cast<Eigen::Index>(dim);
  const Matrix own_info = CovMatrix(own, features).inverse();
  const Matrix info = own_info + Eigen::Map<const Eigen::MatrixXd>(precision.data(), n, n);
  const Vector eta =
      own_info * MeanOf(own, features) + Eigen::Map<const Eigen::VectorXd>(weighted_mean.data(), n);
  const Eigen::LDLT<Matrix> solver(info);
  if (solver.info() != Eigen::Success) return own;
  const Matrix cov = solver.solve(Matrix::Identity(n, n));
  WeightPosterior out = own;
  Store(solver.solve(eta), cov, features, &out);
  out.examples += examples;
  return out;
}

void WeightLearner::SetPeerEvidence(const LearnerEvidence& evidence) {
  peers_ = evidence.dim == options_.features + 1 ? evidence : LearnerEvidence{};
  Combine();
}

void WeightLearner::SeedGlobal(const WeightPosterior& posterior) {
  const std::size_t features = options_.features;
  const Vector mean = MeanOf(posterior, features);
  Matrix cov = CovMatrix(posterior, features);
  for (Eigen::Index i = 0; i < cov.rows(); ++i) {
    cov(i, i) = std::clamp(cov(i, i), 1e-12, options_.prior_variance);
  }
  global_ = posterior;
  Store(mean, cov, features, &global_);
  Combine();
}

void WeightLearner::Combine() { combined_ = peers_.CombinedWith(global_); }

FeatureVector WeightLearner::Centred(const FeatureVector& x) const {
  FeatureVector c{};
  for (std::size_t s = 0; s < options_.features; ++s) {
    c[s] = static_cast<float>(x[s] - center_.mean[s]);
  }
  return c;
}

void WeightLearner::UpdatePosterior(const FeatureVector& centred, const FeedbackExample& example,
                                    WeightPosterior* p) const {
  const std::size_t features = options_.features;
  const auto n = static_cast<Eigen::Index>(features + 1);
  Vector mean = MeanOf(*p, features);
  Matrix cov = CovMatrix(*p, features);
  // Drift: the true weights may have moved since the last example.
  for (Eigen::Index i = 0; i < n; ++i) {
    cov(i, i) +=
        std::max(0.0, std::min(options_.drift_variance, options_.prior_variance - cov(i, i)));
  }
  Vector x(n);
  for (std::size_t s = 0; s < features; ++s) x(static_cast<Eigen::Index>(s)) = centred[s];
  x(n - 1) = 1.0;  // the intercept
  const Vector cov_x = cov * x;
  const double q = x.dot(cov_x);
  const double total = options_.beta * options_.beta + q;
  const double sigma = std::sqrt(total);
  const double y = example.clicked ? 1.0 : -1.0;
  const double t = y * mean.dot(x) / sigma;
  const double c = std::max(0.0, example.weight);
  mean += (c * y * V(t) / sigma) * cov_x;
  // The variance along x falls by the factor 1 − c·w·q/s, at most to a tenth.
  const double k = q > 0 ? std::min(c * W(t) / total, 0.9 / q) : 0.0;
  cov -= k * cov_x * cov_x.transpose();
  Store(mean, cov, features, p);
  ++p->examples;
}

bool WeightLearner::ChangeDetected(const FeatureVector& centred, bool clicked) {
  if (options_.restart_threshold <= 0) return false;
  const std::size_t features = options_.features;
  const auto n = static_cast<Eigen::Index>(features + 1);
  Vector x(n);
  for (std::size_t s = 0; s < features; ++s) x(static_cast<Eigen::Index>(s)) = centred[s];
  x(n - 1) = 1.0;
  const double spread =
      std::sqrt(options_.beta * options_.beta + x.dot(CovMatrix(global_, features) * x));
  // Clamped away from 0 and 1, where a single example would carry unbounded evidence.
  constexpr double kEdge = 1e-6;
  const double p =
      std::clamp(NormalCdf(MeanOf(global_, features).dot(x) / spread), kEdge, 1.0 - kEdge);
  const auto evidence = [&](double ratio) {
    const double q = std::clamp(ratio * p, kEdge, 1.0 - kEdge);
    return clicked ? std::log(q / p) : std::log((1.0 - q) / (1.0 - p));
  };
  rate_up_ = std::max(0.0, rate_up_ + evidence(options_.restart_ratio));
  rate_down_ = std::max(0.0, rate_down_ + evidence(1.0 / options_.restart_ratio));
  return rate_up_ > options_.restart_threshold || rate_down_ > options_.restart_threshold;
}

void WeightLearner::Update(const FeedbackExample& example, const std::string& segment) {
  // The centre moves first (an average over at most the last kCenterWindow examples), so the
  // example is explained relative to where the features are now.
  constexpr std::uint64_t kCenterWindow = 10'000;
  center_.count = std::min(center_.count + 1, kCenterWindow);
  for (std::size_t s = 0; s < options_.features; ++s) {
    center_.mean[s] += (example.x[s] - center_.mean[s]) / static_cast<double>(center_.count);
  }
  const FeatureVector centred = Centred(example.x);
  if (ChangeDetected(centred, example.clicked)) {
    const std::uint64_t examples = global_.examples;
    global_ = prior_;
    global_.examples = examples;
    segments_.clear();
    rate_up_ = 0;
    rate_down_ = 0;
    ++restarts_;
  }
  UpdatePosterior(centred, example, &global_);
  if (!segment.empty()) {
    auto it = segments_.find(segment);
    if (it == segments_.end() && segments_.size() < options_.max_segments) {
      it = segments_.emplace(segment, prior_).first;
    }
    if (it != segments_.end()) UpdatePosterior(centred, example, &it->second);
  }
  Combine();
  ++version_;
}

const WeightPosterior* WeightLearner::FindSegment(const std::string& segment) const {
  auto it = segments_.find(segment);
  return it == segments_.end() ? nullptr : &it->second;
}

const WeightPosterior& WeightLearner::For(const std::string& segment) const {
  if (segment.empty()) return combined_;
  const WeightPosterior* p = FindSegment(segment);
  return p != nullptr && p->examples >= options_.segment_min_examples ? *p : combined_;
}

FusionWeights WeightLearner::Weights(const std::string& segment) const {
  const WeightPosterior& p = For(segment);
  FusionWeights weights;
  for (std::size_t s = 0; s < options_.features; ++s) {
    const double bound = p.mean[s] - options_.confidence * std::sqrt(std::max(0.0, p.variance[s]));
    weights.w[s] = std::clamp(bound, options_.min_weight, options_.max_weight);
  }
  weights.version = version_;
  return weights;
}

FusionWeights WeightLearner::Sample(std::uint64_t seed, const std::string& segment,
                                    double scale) const {
  const WeightPosterior& p = For(segment);
  const std::size_t features = options_.features;
  SplitMix64 rng(seed);
  // w = μ + scale·L·z with Σ = L·Lᵀ (the intercept's row is drawn too, and dropped).
  const Eigen::LLT<Matrix> llt(CovMatrix(p, features));
  Vector z(static_cast<Eigen::Index>(features + 1));
  for (Eigen::Index i = 0; i < z.size(); ++i) z(i) = rng.Normal();
  const Vector draw =
      llt.info() == Eigen::Success ? Vector(llt.matrixL() * z) : Vector::Zero(z.size());
  FusionWeights weights;
  for (std::size_t s = 0; s < features; ++s) {
    weights.w[s] = std::clamp(p.mean[s] + scale * draw(static_cast<Eigen::Index>(s)),
                              options_.min_weight, options_.max_weight);
  }
  weights.version = version_;
  return weights;
}

}  // namespace recsd::model
