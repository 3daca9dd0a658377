#include "model/learner.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <Eigen/Core>
#include <Eigen/LU>

namespace recsd::model {
namespace {

constexpr std::size_t kFeatures = 6;  // LearnerOptions' default
using Weights = std::array<double, kMaxSources>;

// Examples from a known probit model: features uniform in [0, 1] (like normalised source scores),
// P(click) = Φ(w*·x + b*).
class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}
  FeedbackExample Next(const Weights& w, double b) {
    FeedbackExample e;
    double score = b;
    for (std::size_t s = 0; s < kFeatures; ++s) {
      e.x[s] = static_cast<float>(uniform_(rng_));
      score += w[s] * e.x[s];
    }
    e.clicked = uniform_(rng_) < NormalCdf(score);
    return e;
  }

 private:
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
};

double MaxError(const WeightPosterior& p, const Weights& w) {
  double worst = 0;
  for (std::size_t s = 0; s < kFeatures; ++s) worst = std::max(worst, std::fabs(p.mean[s] - w[s]));
  return worst;
}

// The weight a learner ranks with for feature s of posterior p: the lower confidence bound.
double Bound(const WeightPosterior& p, std::size_t s, const LearnerOptions& o) {
  return std::clamp(p.mean[s] - o.confidence * std::sqrt(p.variance[s]), o.min_weight,
                    o.max_weight);
}

constexpr Weights kTruth = {0.2, 0.5, 1.5, 0.0, 0.8, 0.3};
constexpr double kBias = -1.5;

TEST(NormalTest, PdfAndCdf) {
  EXPECT_NEAR(NormalCdf(0), 0.5, 1e-12);
  EXPECT_NEAR(NormalCdf(1.959963984540054), 0.975, 1e-9);
  EXPECT_NEAR(NormalPdf(0), 0.3989422804014327, 1e-12);
}

// Tolerance stated: every weight within 0.1 of the generating one after 50,000 examples.
TEST(WeightLearnerTest, RecoversTheGeneratingWeights) {
  LearnerOptions o;
  o.drift_variance = 0;
  WeightLearner learner(o);
  Generator gen(1);
  for (int i = 0; i < 50'000; ++i) learner.Update(gen.Next(kTruth, kBias));
  EXPECT_LT(MaxError(learner.global(), kTruth), 0.1);
  // The intercept is that of centred features: b* + w*·E[x], E[x] = 0.5.
  double centred_bias = kBias;
  for (double w : kTruth) centred_bias += 0.5 * w;
  EXPECT_NEAR(learner.global().bias_mean, centred_bias, 0.1);
  EXPECT_EQ(learner.version(), 50'000U);
  EXPECT_EQ(learner.global().examples, 50'000U);
  const FusionWeights ranked = learner.Weights();
  EXPECT_EQ(ranked.version, 50'000U);
  // Ranked at the lower confidence bound, a little below the mean where the evidence is strong.
  for (std::size_t s = 0; s < kFeatures; ++s) {
    EXPECT_DOUBLE_EQ(ranked.w[s], Bound(learner.global(), s, o)) << s;
  }
  EXPECT_LT(ranked.w[2], learner.global().mean[2]);
  EXPECT_GT(ranked.w[2], learner.global().mean[2] - 0.05);
}

// Stated: with no evidence the ranked weights are the static ones (the prior means) less
// confidence prior standard deviations, at least min_weight; confidence 0 ranks with the means.
// A weight whose evidence is weak (a feature that barely varies among the examples) ranks at 0
// though its mean is positive, while a well-supported one keeps most of its mean.
TEST(WeightLearnerTest, RanksWithTheLowerConfidenceBoundOfEachWeight) {
  LearnerOptions o;
  o.prior_mean = {1.0, 0.1, 1.0, 1.0, 0.1, 0.1};
  o.confidence = 0.5;
  const WeightLearner cold(o);
  EXPECT_EQ(cold.Weights().w, (Weights{0.5, 0, 0.5, 0.5, 0, 0}));
  LearnerOptions means = o;
  means.confidence = 0;
  EXPECT_EQ(WeightLearner(means).Weights().w, o.prior_mean);

  o.drift_variance = 0;
  WeightLearner learner(o);
  Generator gen(21);
  const Weights truth = {0.0, 0.0, 1.5, 0.0, 0.0, 0.6};
  for (int i = 0; i < 3'000; ++i) {
    FeedbackExample e = gen.Next(truth, kBias);
    e.x[5] = static_cast<float>(0.97 + 0.03 * e.x[5]);  // feature 5 barely varies
    double score = kBias;
    for (std::size_t s = 0; s < kFeatures; ++s) score += truth[s] * e.x[s];
    e.clicked = (i * 0.618034 - std::floor(i * 0.618034)) < NormalCdf(score);
    learner.Update(e);
  }
  const WeightPosterior& p = learner.global();
  EXPECT_GT(std::sqrt(p.variance[5]), 0.5);  // little evidence: still near the prior's spread
  EXPECT_LT(std::sqrt(p.variance[2]), 0.2);
  EXPECT_EQ(learner.Weights().w[5], 0.0);
  EXPECT_GT(learner.Weights().w[2], 0.8 * p.mean[2]);
  for (std::size_t s = 0; s < kFeatures; ++s) {
    EXPECT_DOUBLE_EQ(learner.Weights().w[s], Bound(p, s, o)) << s;
  }
}

// Stated: after the true weights switch, drift (variance 1e-4 per example) brings every weight
// within 0.25 of the new ones in at most 10,000 examples; a stationary learner is still further
// off than that after the same number.
TEST(WeightLearnerTest, FollowsASwitchOfTheTrueWeights) {
  const Weights after = {1.5, 0.2, 0.0, 0.8, 0.3, 0.5};
  const auto examples_to_follow = [&](double drift) {
    LearnerOptions o;
    o.drift_variance = drift;
    o.restart_threshold = 0;  // drift alone (restarts are tested below)
    WeightLearner learner(o);
    Generator gen(2);
    for (int i = 0; i < 30'000; ++i) learner.Update(gen.Next(kTruth, kBias));
    for (int i = 1; i <= 10'000; ++i) {
      learner.Update(gen.Next(after, kBias));
      if (MaxError(learner.global(), after) < 0.25) return i;
    }
    return 10'001;
  };
  const int with_drift = examples_to_follow(1e-4);
  EXPECT_LE(with_drift, 10'000);
  EXPECT_GT(examples_to_follow(0.0), with_drift);
}

TEST(WeightLearnerTest, ExplorationShrinksWithEvidence) {
  LearnerOptions o;
  o.drift_variance = 0;
  WeightLearner learner(o);
  Generator gen(3);
  const auto spread = [&] {
    double sum = 0;
    double sum2 = 0;
    constexpr int kDraws = 2000;
    for (std::uint64_t seed = 0; seed < kDraws; ++seed) {
      const double w = learner.Sample(seed).w[2];
      sum += w;
      sum2 += w * w;
    }
    return std::sqrt(sum2 / kDraws - (sum / kDraws) * (sum / kDraws));
  };
  for (int i = 0; i < 10; ++i) learner.Update(gen.Next(kTruth, kBias));
  const double early = spread();
  for (int i = 0; i < 20'000; ++i) learner.Update(gen.Next(kTruth, kBias));
  const double late = spread();
  EXPECT_GT(early, 0.3);
  EXPECT_LT(late, early / 5);
  EXPECT_NEAR(late, std::sqrt(learner.global().variance[2]), 0.2 * late);
  // A sample is a function of its seed.
  EXPECT_EQ(learner.Sample(42).w, learner.Sample(42).w);
  EXPECT_NE(learner.Sample(42).w, learner.Sample(43).w);
}

// The bounds hold for the weights ranked with and for samples, not for the belief: a mean clamped
// after every update would be held above (or below) what its evidence says.
TEST(WeightLearnerTest, RankedWeightsAndSamplesStayWithinTheBoundsThePosteriorDoesNot) {
  LearnerOptions o;
  o.min_weight = 0.0;
  o.max_weight = 1.0;
  WeightLearner learner(o);
  Generator gen(4);
  const Weights extreme = {-3, 3, -3, 3, -3, 3};
  for (int i = 0; i < 5000; ++i) learner.Update(gen.Next(extreme, 0));
  for (std::size_t s = 0; s < kFeatures; ++s) {
    EXPECT_GE(learner.Weights().w[s], 0.0);
    EXPECT_LE(learner.Weights().w[s], 1.0);
  }
  EXPECT_EQ(learner.Weights().w[0], 0.0);     // pushed to the lower bound
  EXPECT_EQ(learner.Weights().w[1], 1.0);     // and to the upper
  EXPECT_LT(learner.global().mean[0], -2.0);  // the belief follows the evidence
  EXPECT_GT(learner.global().mean[1], 2.0);
  for (std::uint64_t seed = 0; seed < 100; ++seed) {
    for (double w : learner.Sample(seed).w) {
      EXPECT_GE(w, 0.0);
      EXPECT_LE(w, 1.0);
    }
  }
}

TEST(WeightLearnerTest, SegmentsBackOffToGlobalUntilTheyHaveEvidence) {
  LearnerOptions o;
  o.drift_variance = 0;
  o.segment_min_examples = 2000;
  o.max_segments = 1;
  WeightLearner learner(o);
  Generator gen(5);
  const Weights mobile = {1.5, 0.0, 0.2, 0.0, 0.0, 1.0};
  for (int i = 0; i < 20'000; ++i) learner.Update(gen.Next(kTruth, kBias), "desktop");
  for (int i = 0; i < 1999; ++i) learner.Update(gen.Next(mobile, kBias), "mobile");
  // "desktop" took the one segment slot; "mobile" has none, so it is served the global weights.
  EXPECT_EQ(learner.segments(), 1U);
  EXPECT_EQ(learner.FindSegment("mobile"), nullptr);
  EXPECT_EQ(learner.Weights("mobile").w, learner.Weights().w);

  LearnerOptions o2 = o;
  o2.max_segments = 8;
  WeightLearner segmented(o2);
  for (int i = 0; i < 20'000; ++i) segmented.Update(gen.Next(kTruth, kBias), "desktop");
  for (int i = 0; i < 1999; ++i) segmented.Update(gen.Next(mobile, kBias), "mobile");
  EXPECT_EQ(segmented.Weights("mobile").w, segmented.Weights().w);  // 1999 < 2000: backed off
  for (int i = 0; i < 8000; ++i) segmented.Update(gen.Next(mobile, kBias), "mobile");
  const WeightPosterior* m = segmented.FindSegment("mobile");
  ASSERT_NE(m, nullptr);
  for (std::size_t s = 0; s < kFeatures; ++s) {
    EXPECT_DOUBLE_EQ(segmented.Weights("mobile").w[s], Bound(*m, s, o2)) << s;
  }
  EXPECT_LT(MaxError(*m, mobile), 0.25);
  EXPECT_GT(MaxError(segmented.global(), mobile), 0.5);  // the global mixes both populations
}

TEST(WeightLearnerTest, ImportanceWeightsScaleTheStep) {
  LearnerOptions o;
  o.drift_variance = 0;
  WeightLearner full(o);
  WeightLearner half(o);
  WeightLearner none(o);
  // Examples of weight 0 change no belief, only the feature centre (here: towards 0).
  FeedbackExample e;
  e.weight = 0;
  for (int i = 0; i < 100; ++i) {
    for (WeightLearner* l : {&full, &half, &none}) l->Update(e);
  }
  EXPECT_EQ(full.global().mean, WeightLearner(o).global().mean);
  e.x = {1, 0, 0, 0, 0, 0};
  e.clicked = true;
  e.weight = 1;
  full.Update(e);
  e.weight = 0.5;
  half.Update(e);
  e.weight = 0;
  none.Update(e);
  const double prior = o.prior_mean[0];
  EXPECT_GT(full.global().mean[0], prior);
  EXPECT_NEAR(half.global().mean[0] - prior, (full.global().mean[0] - prior) / 2, 1e-12);
  EXPECT_EQ(none.global().mean[0], prior);
  EXPECT_EQ(none.global().variance[0], o.prior_variance);
  EXPECT_LT(full.global().variance[0], half.global().variance[0]);
}

// Global statistics: two partitions' learners, each seeing half of the feedback, pooled through
// their evidence. Stated: the pooled means are closer to the truth than either half alone, and
// within 0.05 of one learner that saw all of it; the pooled precision is the information sum
// (Σ₁⁻¹ + Σ₂⁻¹ − Σ₀⁻¹) exactly.
TEST(WeightLearnerTest, PeerEvidencePoolsPartitionsLikeOneLearner) {
  LearnerOptions o;
  o.drift_variance = 0;
  WeightLearner a(o);
  WeightLearner b(o);
  WeightLearner all(o);
  Generator gen(11);
  for (int i = 0; i < 8'000; ++i) {
    const FeedbackExample e = gen.Next(kTruth, kBias);
    (i % 2 == 0 ? a : b).Update(e);
    all.Update(e);
  }
  LearnerEvidence from_b;
  from_b.Add(b.global(), b.prior(), kFeatures);
  a.SetPeerEvidence(from_b);
  const WeightPosterior& pooled = a.combined();
  EXPECT_LT(MaxError(pooled, kTruth), MaxError(a.global(), kTruth));
  EXPECT_LT(MaxError(pooled, kTruth), MaxError(b.global(), kTruth));
  for (std::size_t s = 0; s < kFeatures; ++s) {
    EXPECT_NEAR(pooled.mean[s], all.global().mean[s], 0.05) << s;
  }
  const auto cov = [](const WeightPosterior& p) {
    const std::vector<double> c = CovarianceOf(p, kFeatures);
    return Eigen::Map<const Eigen::MatrixXd>(c.data(), kFeatures + 1, kFeatures + 1).eval();
  };
  const Eigen::MatrixXd info =
      cov(a.global()).inverse() + cov(b.global()).inverse() - cov(a.prior()).inverse();
  EXPECT_LT((cov(pooled).inverse() - info).cwiseAbs().maxCoeff(), 1e-6 * info.norm());
  EXPECT_EQ(pooled.examples, 8'000U);
  // Ranking uses the pooled posterior; the own one (what the partition publishes) is unchanged.
  EXPECT_DOUBLE_EQ(a.Weights().w[2], Bound(pooled, 2, o));
  EXPECT_EQ(a.global().examples, 4'000U);
  // Later updates keep the peers' evidence; an empty evidence removes it.
  a.Update(gen.Next(kTruth, kBias));
  EXPECT_EQ(a.combined().examples, 8'001U);
  a.SetPeerEvidence(LearnerEvidence{});
  EXPECT_DOUBLE_EQ(a.Weights().w[2], Bound(a.global(), 2, o));
  // A posterior that learned nothing adds no evidence.
  LearnerEvidence none;
  none.Add(all.prior(), all.prior(), kFeatures);
  for (double x : none.precision) EXPECT_NEAR(x, 0.0, 1e-12);
  EXPECT_EQ(none.examples, 0U);
}

// Features that carry the same evidence (two co-occurrence sources, two interest vectors) share
// it: the posterior learns that more of one means less of the other (their weights' correlation
// is strongly negative) instead of crediting each with all of it, which independent Gaussians
// cannot represent.
TEST(WeightLearnerTest, CorrelatedFeaturesShareTheirEvidence) {
  LearnerOptions o;
  o.drift_variance = 0;
  WeightLearner learner(o);
  Generator gen(13);
  for (int i = 0; i < 5'000; ++i) {
    FeedbackExample e = gen.Next(kTruth, kBias);
    e.x[1] = e.x[0];  // feature 1 repeats feature 0
    learner.Update(e);
  }
  const std::vector<double> c = CovarianceOf(learner.global(), kFeatures);
  const std::size_t n = kFeatures + 1;
  const double correlation = c[0 * n + 1] / std::sqrt(c[0 * n + 0] * c[1 * n + 1]);
  EXPECT_LT(correlation, -0.5);
}

// A partition's posterior moves with it: a learner seeded with it ranks as the old one did.
TEST(WeightLearnerTest, SeedGlobalStartsFromAnotherLearnersPosterior) {
  LearnerOptions o;
  WeightLearner old_owner(o);
  Generator gen(12);
  for (int i = 0; i < 2'000; ++i) old_owner.Update(gen.Next(kTruth, kBias));
  WeightLearner next_owner(o);
  next_owner.SeedGlobal(old_owner.global());
  for (std::size_t s = 0; s < kFeatures; ++s) {
    EXPECT_EQ(next_owner.Weights().w[s], old_owner.Weights().w[s]) << s;
    EXPECT_EQ(next_owner.global().variance[s], old_owner.global().variance[s]) << s;
  }
  EXPECT_EQ(next_owner.global().examples, 2'000U);
}

TEST(WeightLearnerTest, AStationaryStreamNeverRestarts) {
  WeightLearner learner{LearnerOptions{}};
  Generator gen(13);
  for (int i = 0; i < 200'000; ++i) learner.Update(gen.Next(kTruth, kBias), "segment");
  EXPECT_EQ(learner.restarts(), 0U);
  EXPECT_LT(MaxError(learner.global(), kTruth), 0.15);
}

// The case drift variance cannot mend: feature 0 earned a large weight, then clicks become rare
// and come from feature 1 while feature 0 is nearly the same for every example (a source the
// weights favour fills the top of every list). Nothing contradicts feature 0's weight; only the
// collapse of the click rate says the world changed.
TEST(WeightLearnerTest, RestartsFromThePriorWhenClicksDepartAbruptly) {
  const auto run = [](double threshold, std::size_t* switch_to_restart) {
    LearnerOptions o;
    o.restart_threshold = threshold;
    WeightLearner learner(o);
    Generator gen(14);
    for (int i = 0; i < 20'000; ++i) learner.Update(gen.Next({3, 0, 0, 0, 0, 0}, -2.0), "s");
    EXPECT_EQ(learner.restarts(), 0U);
    EXPECT_GT(learner.global().mean[0], 1.5);
    for (std::size_t i = 1; i <= 10'000; ++i) {
      FeedbackExample e = gen.Next({0, 2, 0, 0, 0, 0}, -3.5);
      e.x[0] = 0.9F + 0.1F * e.x[0];
      learner.Update(e, "s");
      if (learner.restarts() > 0 && *switch_to_restart == 0) *switch_to_restart = i;
    }
    return learner;
  };
  std::size_t never = 0;
  const WeightLearner stays = run(0, &never);
  EXPECT_EQ(stays.restarts(), 0U);
  EXPECT_GT(stays.global().mean[0], 1.0);  // the stale weight outlives 10,000 examples

  std::size_t after = 0;
  const WeightLearner restarted = run(LearnerOptions{}.restart_threshold, &after);
  EXPECT_EQ(restarted.restarts(), 1U);
  EXPECT_GT(after, 0U);
  EXPECT_LT(after, 2'000U);
  EXPECT_LT(restarted.global().mean[0], 0.5);  // back near the prior's 0.1
  EXPECT_GT(restarted.global().mean[1], restarted.global().mean[0]);
  // Every example is still counted; the segment started again with the global posterior.
  EXPECT_EQ(restarted.global().examples, 30'000U);
  ASSERT_NE(restarted.FindSegment("s"), nullptr);
  EXPECT_EQ(restarted.FindSegment("s")->examples, 10'000U - after + 1);
}

}  // namespace
}  // namespace recsd::model
