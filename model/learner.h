#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

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
  // Restarting from the prior when clicks change abruptly (see WeightLearner): the evidence, as a
  // log-likelihood ratio, that the click rate moved by `restart_ratio` (either way) from what the
  // posterior predicts. 0 = never restart.
  double restart_threshold = 40.0;
  double restart_ratio = 4.0;
  // The weights ranked with are each posterior mean less this many posterior standard deviations
  // (a lower confidence bound), within [min_weight, max_weight]: a source ranks with the weight
  // its evidence supports, not with one a few clicks lifted in a direction the served items
  // barely vary in (see WeightLearner). 0 = the means.
  double confidence = 0.5;
  // Bounds on the weights ranked with (Weights) and on sampled weights; the posterior itself is not
  // bounded (a mean held at a bound would be biased towards the inside: see WeightLearner).
  double min_weight = 0.0;
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

// A Gaussian belief over the fusion weights and an intercept. mean/variance and bias_mean/
// bias_variance are the marginals; `covariance` is the whole matrix over the learner's S features
// and the intercept ((S + 1) × (S + 1), row-major, the intercept last), which is what the learner
// updates: correlated features (two co-occurrence sources, two interest vectors) share their
// evidence instead of each taking the credit for it.
struct WeightPosterior {
  std::array<double, kMaxSources> mean{};
  std::array<double, kMaxSources> variance{};
  double bias_mean = 0;
  double bias_variance = 0;
  std::uint64_t examples = 0;
  std::vector<double> covariance;  // empty: diagonal (variance, bias_variance)
};

// Evidence about the fusion weights gathered elsewhere (other partitions' learners) as
// information beyond the prior, in natural parameters: the precision matrix Σ⁻¹ minus the
// prior's and the precision-weighted mean Σ⁻¹μ minus the prior's, over the features and the
// intercept (row-major, (S + 1)², the intercept last; empty: none). Independent evidence adds
// up, and combining it with a posterior N(μ, Σ) gives precision Σ⁻¹ + Λ and mean
// (Σ⁻¹ + Λ)⁻¹(Σ⁻¹μ + η): the product of the posteriors with the prior they share counted once.
// (Drift makes old evidence count less in each posterior; the sum inherits that. Where drift
// left a posterior less certain than the prior, that direction adds nothing.)
struct LearnerEvidence {
  std::size_t dim = 0;                // S + 1, or 0 when empty
  std::vector<double> precision;      // dim × dim
  std::vector<double> weighted_mean;  // dim
  std::uint64_t examples = 0;

  // Adds a posterior over `features` features that was updated from `prior`.
  void Add(const WeightPosterior& posterior, const WeightPosterior& prior, std::size_t features);
  // Adds other evidence (independent of this).
  void Add(const LearnerEvidence& other);
  // `own` combined with this evidence (`own` itself when this is empty).
  WeightPosterior CombinedWith(const WeightPosterior& own) const;
};

// Running means of the features, which the learner subtracts before its update (see below).
struct FeatureCenter {
  std::array<double, kMaxSources> mean{};
  std::uint64_t count = 0;
};

// Bayesian online probit regression (AdPredictor: Graepel, Candela, Borchert and Herbrich, ICML
// 2010, for real-valued features) with a full covariance: assumed density filtering keeps a
// Gaussian N(μ, Σ) over the weights and the intercept (whose feature is always 1), and for an
// example (x, y = ±1) with s = xᵀΣx + β² and t = y·μᵀx/√s projects the posterior back to a
// Gaussian:
//   μ ← μ + y·Σx/√s · v(t),   Σ ← Σ − (Σx)(Σx)ᵀ · w(t)/s
// with v(t) = φ(t)/Φ(t) and w(t) = v(t)·(v(t) + t) (the moments of a truncated Gaussian).
// AdPredictor keeps only the diagonal of Σ; with features that move together (covisit and
// sequence, emb_short and emb_long) the diagonal credits each of them with the evidence they
// share, and the learned weights over-weight such groups (measured: the learned hit rate rose
// from 0.96 to NN of the best static weights on MovieLens). S ≤ 16, so an update is O(S²).
// An importance weight c scales both the mean step and the reduction (c ≤ 1 is exact for a
// fractional observation in the limit of small steps; larger c is clipped so no variance along x
// falls below a tenth of itself). Before each update drift_variance is added to every variance
// (capped at the prior), so the weights follow a switch of the true ones. Features are centred
// first (x − x̄, a running mean over the last ~10,000 examples), which keeps the intercept from
// absorbing what the features share; w·(x − x̄) and w·x differ by the same constant for every
// item of a list.
// Drift variance follows weights that move; it does not unlearn a source whose weight was earned
// in an earlier regime when that source now varies little among the items served (a source the
// weights favour fills the top of every list, so nothing served contradicts it: measured in the
// drift simulation, a learned fresh weight outlived its phase by the whole next phase). So the
// learner also watches its own predictions: two one-sided CUSUM statistics (Page 1954) add up, for
// each example before its update, the log-likelihood ratio of "the click rate is restart_ratio
// times (or 1/restart_ratio times) the predicted one" against "it is as predicted",
//   click: log(ρ),  no click: log((1 − ρp)/(1 − p)),  p = Φ(μᵀx/√s),
// floored at 0. When either exceeds restart_threshold, the global posterior and the segments start
// again from the prior (the static weights) and both statistics from 0; restarts() counts them.
// The threshold is high (e^40 odds) because real feedback is correlated within users and the probit
// is only roughly calibrated: on MovieLens, thresholds of 10 and 20 restarted 208 and 22 times,
// 40 never; a regime switch in the simulation crosses it within about a thousand examples.
// The ranking uses a lower confidence bound of each weight, μ_s − confidence·σ_s, not μ_s. A
// greedy ranking fills its lists with what its weights favour, so a source whose weight a few
// clicks lifted (noise, in a direction the served items barely vary in) fills the lists, stops
// varying among them, and is never contradicted: the same trap as above, sprung by noise instead
// of by a past regime (measured in the drift simulation's fourth phase: a fresh weight of 0.6–0.9
// held for the whole phase with fresh at 0 in the true weights, while an offline fit of the
// phase's examples found fresh 1.5 ± 0.9 and the clicks per fresh bin matched the true weights).
// Ranked at its lower bound, a weakly supported weight stays out of the lists' choice, its items
// keep varying, and evidence can correct it. min_weight and max_weight bound the weights ranked
// with, not the posterior (a mean clamped at 0 after each update is lifted by every noisy step
// up and pulled down by none). At cold start and after a restart the bound is the static weights
// less confidence·√prior_variance.
// Thompson sampling draws w ~ N(μ, Σ) per served list. The version increments
// with every update. Pure and deterministic: randomness comes in as a seed. One writer; copy to
// share.
class WeightLearner {
 public:
  explicit WeightLearner(const LearnerOptions& options);

  // Updates the global posterior and, when `segment` is not empty, that segment's.
  void Update(const FeedbackExample& example, const std::string& segment = {});

  // The weights to rank with: the lower confidence bounds μ − confidence·σ (within the weight
  // bounds) of the segment's posterior once it has enough examples, else of the global one.
  // Version is the learner's.
  FusionWeights Weights(const std::string& segment = {}) const;
  // A Thompson sample from that posterior (deterministic for the seed), clamped to the bounds.
  // `scale` multiplies the posterior's spread: 1 is Thompson sampling, smaller values explore
  // less (Chapelle and Li, "An empirical evaluation of Thompson sampling", 2011), 0 gives the
  // means.
  FusionWeights Sample(std::uint64_t seed, const std::string& segment = {},
                       double scale = 1.0) const;

  // Evidence from elsewhere (other partitions) that the global posterior is combined with for
  // ranking (Weights, Sample); updates keep changing only this learner's own posterior. Replaces
  // the previous evidence; an empty one (the default) leaves the own posterior alone.
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
  // Restarts from the prior since construction (a change of the click rate detected).
  std::uint64_t restarts() const noexcept { return restarts_; }
  std::size_t features() const noexcept { return options_.features; }

 private:
  const WeightPosterior& For(const std::string& segment) const;
  void UpdatePosterior(const FeatureVector& centred, const FeedbackExample& example,
                       WeightPosterior* p) const;
  FeatureVector Centred(const FeatureVector& x) const;
  void Combine();
  // Adds the example to the change statistics; true when they call for a restart.
  bool ChangeDetected(const FeatureVector& centred, bool clicked);

  LearnerOptions options_;
  WeightPosterior prior_;
  WeightPosterior global_;
  LearnerEvidence peers_;
  WeightPosterior combined_;                         // global_ with peers_
  std::map<std::string, WeightPosterior> segments_;  // ordered: deterministic iteration
  FeatureCenter center_;
  std::uint64_t version_ = 0;
  double rate_up_ = 0;    // CUSUM: evidence that clicks are restart_ratio times the prediction
  double rate_down_ = 0;  // and that they are 1/restart_ratio times it
  std::uint64_t restarts_ = 0;
};

// The full covariance of `p` over `features` features and the intercept ((features + 1)²,
// row-major): p.covariance, or the diagonal of its marginals when it has none.
std::vector<double> CovarianceOf(const WeightPosterior& p, std::size_t features);

// Whether `covariance` is a valid covariance over `features` features and the intercept:
// (features + 1)² finite values, symmetric, positive definite. A decoder checks this before a
// posterior from another partition reaches a learner.
bool IsCovariance(const std::vector<double>& covariance, std::size_t features);

// Standard normal density and distribution function.
double NormalPdf(double t);
double NormalCdf(double t);

}  // namespace recsd::model
