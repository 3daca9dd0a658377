#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "model/fusion.h"

namespace recsd::model {

// Options of the fusion-weight learner. Weights are dimensionless (they multiply normalised
// features); variances are of those weights.
struct LearnerOptions {
  // How many features the weights are of (the engine's configured sources), at most kMaxSources.
  std::size_t features = 6;
  // Each feature's weight before any evidence (the engine starts from its static weights).
  std::array<double, kMaxSources> prior_mean{0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
  double prior_variance = 1.0;    // and its variance: how far evidence may move it
  double bias_prior_mean = -1.5;  // the intercept: most examined items are not clicked
  double beta = 1.0;              // probit noise scale (P(click) = Φ((w·x + b)/β))
  // Variance added to every weight before each update (a random walk of the true weights), so the
  // posterior never becomes certain and follows drift. 0 = a stationary model. Capped at the prior.
  double drift_variance = 1e-5;
  double min_weight = 0.0;  // bounds on the means (and on sampled weights) of the source weights
  double max_weight = 10.0;
  // Segments (values of configured ctx keys) use their own posterior once it has this many
  // examples, the global one before; at most max_segments are kept (later ones use the global).
  std::uint64_t segment_min_examples = 1000;
  std::size_t max_segments = 1024;
};

// One example: the feature vector an item was served with, whether it was clicked, and an
// importance weight (inverse propensity of its position; 1 when not used).
struct FeedbackExample {
  FeatureVector x{};
  bool clicked = false;
  double weight = 1.0;
};

// Independent Gaussian beliefs N(mean_s, variance_s) over the fusion weights and an intercept.
struct WeightPosterior {
  std::array<double, kMaxSources> mean{};
  std::array<double, kMaxSources> variance{};
  double bias_mean = 0;
  double bias_variance = 0;
  std::uint64_t examples = 0;
};

// Evidence about the fusion weights gathered elsewhere (other partitions' learners) as information
// beyond the prior: per weight, the precision 1/σ² minus the prior's and the precision-weighted
// mean μ/σ² minus the prior's. Independent evidence adds up, and combining it with a posterior
// N(μ, σ²) gives precision 1/σ² + Λ and mean (μ/σ² + η)/(1/σ² + Λ): the product of the
// posteriors with the prior they share counted once. (Drift makes old evidence count less in each
// posterior; the sum inherits that.)
struct LearnerEvidence {
  std::array<double, kMaxSources> precision{};
  std::array<double, kMaxSources> weighted_mean{};
  double bias_precision = 0;
  double bias_weighted_mean = 0;
  std::uint64_t examples = 0;

  // Adds a posterior that was updated from `prior` (a precision below the prior's adds nothing).
  void Add(const WeightPosterior& posterior, const WeightPosterior& prior);
  // Adds other evidence (independent of this).
  void Add(const LearnerEvidence& other);
  // `own` combined with this evidence.
  WeightPosterior CombinedWith(const WeightPosterior& own) const;
};

// Running means of the features, which the learner subtracts before its update (see below).
struct FeatureCenter {
  std::array<double, kMaxSources> mean{};
  std::uint64_t count = 0;
};

// Bayesian online probit regression with one independent Gaussian per weight: AdPredictor
// (Graepel, Candela, Borchert and Herbrich, ICML 2010), here for real-valued features. For an
// example (x, y = ±1) with Σ² = β² + Σ_s x_s² σ_s² + σ_b² and t = y·(μ·x + μ_b)/Σ:
//   μ_s ← μ_s + y·x_s·σ_s²/Σ · v(t),   σ_s² ← σ_s² · (1 − x_s²·σ_s²/Σ² · w(t))
// with v(t) = φ(t)/Φ(t) and w(t) = v(t)·(v(t) + t) (the moments of a truncated Gaussian); the
// intercept is a weight whose feature is always 1. An importance weight c scales both the mean
// step and the variance reduction (c ≤ 1 is exact for a fractional observation in the limit of
// small steps; larger c is clipped so a variance never falls below a tenth of itself per update).
// Before each update drift_variance is added to every variance (capped at the prior), so the
// weights follow a switch of the true ones. Features are centred first (x − x̄, a running mean
// over the last ~10,000 examples): with features that are all >= 0 the weights and the intercept
// are strongly correlated in the posterior, which independent Gaussians cannot represent, and the
// uncentred estimates shrink towards the prior (0.2 off in the recovery test). Centring costs
// nothing in ranking: w·(x − x̄) and w·x differ by the same constant for every item of a list.
// Thompson sampling draws w ~ N(μ, σ²) per served list: exploration shrinks as the variances do.
// The version increments with every update. Pure and deterministic: randomness comes in as a seed.
// One writer; copy to share.
class WeightLearner {
 public:
  explicit WeightLearner(const LearnerOptions& options);

  // Updates the global posterior and, when `segment` is not empty, that segment's.
  void Update(const FeedbackExample& example, const std::string& segment = {});

  // The weights to rank with: the posterior means of the segment once it has enough examples,
  // else the global ones. Version is the learner's.
  FusionWeights Mean(const std::string& segment = {}) const;
  // A Thompson sample from that posterior (deterministic for the seed), clamped to the bounds.
  // `scale` multiplies the posterior standard deviations: 1 is Thompson sampling, smaller values
  // explore less (Chapelle and Li, "An empirical evaluation of Thompson sampling", 2011), 0 gives
  // the means.
  FusionWeights Sample(std::uint64_t seed, const std::string& segment = {},
                       double scale = 1.0) const;

  // Evidence from elsewhere (other partitions) that the global posterior is combined with for
  // ranking (Mean, Sample); updates keep changing only this learner's own posterior. Replaces the
  // previous evidence; an empty one (the default) leaves the own posterior alone.
  void SetPeerEvidence(const LearnerEvidence& evidence);
  // Starts the global posterior from `posterior` (a partition's aggregates moving with it).
  void SeedGlobal(const WeightPosterior& posterior);

  // This learner's own global posterior (what it publishes), and the one it ranks with (the own
  // combined with the peer evidence; the own when there is none).
  const WeightPosterior& global() const noexcept { return global_; }
  const WeightPosterior& combined() const noexcept { return combined_; }
  const WeightPosterior& prior() const noexcept { return prior_; }
  // The segment's posterior, or null when it has none.
  const WeightPosterior* FindSegment(const std::string& segment) const;
  std::size_t segments() const noexcept { return segments_.size(); }
  const std::map<std::string, WeightPosterior>& segment_posteriors() const noexcept {
    return segments_;
  }
  std::uint64_t version() const noexcept { return version_; }

 private:
  const WeightPosterior& For(const std::string& segment) const;
  void UpdatePosterior(const FeatureVector& centred, const FeedbackExample& example,
                       WeightPosterior* p) const;
  FeatureVector Centred(const FeatureVector& x) const;
  void Combine();

  LearnerOptions options_;
  WeightPosterior prior_;
  WeightPosterior global_;
  LearnerEvidence peers_;
  WeightPosterior combined_;                         // global_ with peers_
  std::map<std::string, WeightPosterior> segments_;  // ordered: deterministic iteration
  FeatureCenter center_;
  std::uint64_t version_ = 0;
};

// Standard normal density and distribution function.
double NormalPdf(double t);
double NormalCdf(double t);

}  // namespace recsd::model
