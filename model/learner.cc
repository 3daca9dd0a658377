#include "model/learner.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "model/check.h"
#include "model/random.h"

namespace recsd::model {
namespace {

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

}  // namespace

double NormalPdf(double t) { return std::exp(-0.5 * t * t) / std::sqrt(2.0 * std::numbers::pi); }

double NormalCdf(double t) { return 0.5 * std::erfc(-t / std::numbers::sqrt2); }

WeightLearner::WeightLearner(const LearnerOptions& options) : options_(options) {
  RECSD_CHECK(options.prior_variance > 0 && options.beta > 0 && options.drift_variance >= 0 &&
                  options.min_weight <= options.max_weight && options.features <= kMaxSources,
              "learner options");
  for (std::size_t s = 0; s < options.features; ++s) {
    prior_.mean[s] = std::clamp(options.prior_mean[s], options.min_weight, options.max_weight);
  }
  prior_.variance.fill(options.prior_variance);
  prior_.bias_mean = options.bias_prior_mean;
  prior_.bias_variance = options.prior_variance;
  global_ = prior_;
  combined_ = prior_;
}

void LearnerEvidence::Add(const WeightPosterior& posterior, const WeightPosterior& prior) {
  const auto add = [](double mean, double variance, double prior_mean, double prior_variance,
                      double* info, double* info_mean) {
    if (!(variance > 0) || !(variance < prior_variance)) return;
    *info += 1.0 / variance - 1.0 / prior_variance;
    *info_mean += mean / variance - prior_mean / prior_variance;
  };
  for (std::size_t s = 0; s < kMaxSources; ++s) {
    add(posterior.mean[s], posterior.variance[s], prior.mean[s], prior.variance[s], &precision[s],
        &weighted_mean[s]);
  }
  add(posterior.bias_mean, posterior.bias_variance, prior.bias_mean, prior.bias_variance,
      &bias_precision, &bias_weighted_mean);
  examples += posterior.examples;
}

void LearnerEvidence::Add(const LearnerEvidence& other) {
  for (std::size_t s = 0; s < kMaxSources; ++s) {
    precision[s] += other.precision[s];
    weighted_mean[s] += other.weighted_mean[s];
  }
  bias_precision += other.bias_precision;
  bias_weighted_mean += other.bias_weighted_mean;
  examples += other.examples;
}

WeightPosterior LearnerEvidence::CombinedWith(const WeightPosterior& own) const {
  WeightPosterior out = own;
  const auto combine = [](double info, double info_mean, double* mean, double* variance) {
    if (!(info > 0) || !(*variance > 0)) return;
    const double total = 1.0 / *variance + info;
    *mean = (*mean / *variance + info_mean) / total;
    *variance = 1.0 / total;
  };
  for (std::size_t s = 0; s < kMaxSources; ++s) {
    combine(precision[s], weighted_mean[s], &out.mean[s], &out.variance[s]);
  }
  combine(bias_precision, bias_weighted_mean, &out.bias_mean, &out.bias_variance);
  out.examples += examples;
  return out;
}

void WeightLearner::SetPeerEvidence(const LearnerEvidence& evidence) {
  peers_ = evidence;
  Combine();
}

void WeightLearner::SeedGlobal(const WeightPosterior& posterior) {
  global_ = posterior;
  for (std::size_t s = 0; s < options_.features; ++s) {
    global_.mean[s] = std::clamp(global_.mean[s], options_.min_weight, options_.max_weight);
    global_.variance[s] = std::clamp(global_.variance[s], 1e-12, options_.prior_variance);
  }
  global_.bias_variance = std::clamp(global_.bias_variance, 1e-12, options_.prior_variance);
  Combine();
}

void WeightLearner::Combine() {
  combined_ = peers_.CombinedWith(global_);
  for (double& m : combined_.mean) m = std::clamp(m, options_.min_weight, options_.max_weight);
}

FeatureVector WeightLearner::Centred(const FeatureVector& x) const {
  FeatureVector c;
  for (std::size_t s = 0; s < options_.features; ++s) {
    c[s] = static_cast<float>(x[s] - center_.mean[s]);
  }
  return c;
}

void WeightLearner::UpdatePosterior(const FeatureVector& centred, const FeedbackExample& example,
                                    WeightPosterior* p) const {
  // Drift: the true weights may have moved since the last example.
  for (std::size_t s = 0; s < options_.features; ++s) {
    p->variance[s] = std::min(p->variance[s] + options_.drift_variance, options_.prior_variance);
  }
  p->bias_variance = std::min(p->bias_variance + options_.drift_variance, options_.prior_variance);

  const double y = example.clicked ? 1.0 : -1.0;
  double score = p->bias_mean;
  double total_variance = options_.beta * options_.beta + p->bias_variance;
  for (std::size_t s = 0; s < options_.features; ++s) {
    const double x = centred[s];
    score += p->mean[s] * x;
    total_variance += x * x * p->variance[s];
  }
  const double sigma = std::sqrt(total_variance);
  const double t = y * score / sigma;
  const double v = V(t);
  const double w = W(t);
  const double c = std::max(0.0, example.weight);
  const auto step = [&](double x, double* mean, double* variance, bool bounded) {
    *mean += c * y * x * (*variance) / sigma * v;
    if (bounded) *mean = std::clamp(*mean, options_.min_weight, options_.max_weight);
    const double factor = 1.0 - c * x * x * (*variance) / total_variance * w;
    *variance *= std::max(factor, 0.1);
  };
  for (std::size_t s = 0; s < options_.features; ++s) {
    step(centred[s], &p->mean[s], &p->variance[s], /*bounded=*/true);
  }
  step(1.0, &p->bias_mean, &p->bias_variance, /*bounded=*/false);
  ++p->examples;
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

FusionWeights WeightLearner::Mean(const std::string& segment) const {
  const WeightPosterior& p = For(segment);
  FusionWeights weights;
  for (std::size_t s = 0; s < options_.features; ++s) weights.w[s] = p.mean[s];
  weights.version = version_;
  return weights;
}

FusionWeights WeightLearner::Sample(std::uint64_t seed, const std::string& segment,
                                    double scale) const {
  const WeightPosterior& p = For(segment);
  SplitMix64 rng(seed);
  FusionWeights weights;
  for (std::size_t s = 0; s < options_.features; ++s) {
    weights.w[s] = std::clamp(p.mean[s] + scale * std::sqrt(p.variance[s]) * rng.Normal(),
                              options_.min_weight, options_.max_weight);
  }
  weights.version = version_;
  return weights;
}

}  // namespace recsd::model
