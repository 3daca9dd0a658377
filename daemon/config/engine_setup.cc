#include "daemon/config/engine_setup.h"

#include <algorithm>
#include <chrono>
#include <limits>

namespace recsd::daemon {
namespace {

double Seconds(Milliseconds d) { return std::chrono::duration<double>(d).count(); }

// The logarithmic long-term kernel is fitted over this many long half-lives: beyond it the
// mixture falls faster than the kernel, and interest that old has little say anyway.
constexpr double kLogHorizonHalfLives = 12;

// The candidate sources' options (model.*), under the interest clock in use.
void SetSourceOptions(const Config::Model& m, bool activity, model::SourceOptions* out) {
  model::SourceOptions& sources = *out;
  sources.popularity.half_life = Seconds(m.trending_half_life);
  sources.popularity.refresh = Seconds(m.global_refresh);
  sources.covisit.graph.half_life = Seconds(m.covisit_half_life);
  sources.covisit.graph.max_neighbours = m.covisit_neighbours;
  sources.covisit.gaps = m.covisit_gaps;
  sources.covisit.seeds = m.covisit_seeds;
  sources.covisit.recency = m.covisit_recency;
  // A window of 0 turns co-visits off. Under the activity clock consecutive interactions are
  // one clock unit apart: any window pairs them all.
  if (m.covisit_window.count() == 0) sources.covisit.gaps = 0;
  sources.covisit.window =
      activity ? static_cast<double>(m.covisit_gaps) : Seconds(m.covisit_window);
  sources.fresh.half_life = Seconds(m.fresh_half_life);
  sources.embedding.learned.enabled = m.learned_embeddings;
  sources.embedding.learned.window = m.learned_window;
  sources.embedding.learned.half_life = Seconds(m.learned_half_life);
  sources.embedding.learned.prior_mass = m.learned_prior_mass;
  sources.embedding.learned.max_items = m.learned_items;
  sources.sequence.gaps = m.sequence_gaps;
  sources.sequence.backward = m.sequence_backward;
  // A window of 0 pairs any distance.
  sources.sequence.window =
      m.sequence_window.count() == 0
          ? std::numeric_limits<double>::infinity()
          : (activity ? static_cast<double>(m.sequence_gaps) : Seconds(m.sequence_window));
  sources.sequence.seeds = m.sequence_seeds;
  sources.sequence.recency = m.sequence_recency;
  sources.sequence.graph.half_life = Seconds(m.sequence_half_life);
  sources.sequence.graph.max_neighbours = m.sequence_neighbours;
}

// Online learning (learning.*); the prior is the static weights already in `o`.
void SetLearningOptions(const Config& config, model::EngineOptions* o) {
  const Config::Learning& l = config.learning;
  model::LearningOptions& learning = o->learning;
  learning.learn = l.enabled;
  learning.exploration = l.exploration;
  learning.feedback_types.clear();
  for (const std::string& name : l.feedback_types) {
    if (const auto type = config.event_types.Find(name)) learning.feedback_types.push_back(*type);
  }
  learning.segment_keys = l.segment_keys;
  learning.attribution.window_ms = l.attribution_window.count();
  learning.attribution.examine_k = l.examine_k;
  learning.attribution.propensity_power = l.propensity_power;
  learning.attribution.max_propensity_weight = l.max_propensity_weight;
  o->user.max_pending = l.pending_lists;
  model::LearnerOptions& learner = learning.learner;
  learner.features = o->features.size();
  learner.prior_mean = o->weights.w;  // learning starts from the static weights
  learner.prior_variance = l.prior_variance;
  learner.bias_prior_mean = l.bias_prior_mean;
  learner.beta = l.beta;
  learner.drift_variance = l.drift_variance;
  learner.restart_threshold = l.restart_threshold;
  learner.restart_ratio = l.restart_ratio;
  learner.confidence = l.confidence;
  learner.min_weight = l.min_weight;
  learner.max_weight = l.max_weight;
  learner.segment_min_examples = l.segment_min_examples;
  learner.max_segments = l.max_segments;
  learning.holdout_share = l.holdout_share;
  learning.guard.enabled = l.guard;
  learning.guard.half_life_lists = static_cast<double>(l.guard_window);
  learning.guard.min_lists = static_cast<double>(l.guard_min_lists);
  learning.guard.z_revert = l.guard_z;
}

}  // namespace

model::EngineOptions EngineOptionsFromConfig(const Config& config) {
  const Config::Model& m = config.model;
  model::EngineOptions o;
  o.clock =
      m.clock == "activity" ? model::InterestClock::kActivity : model::InterestClock::kEventTime;
  const bool activity = o.clock == model::InterestClock::kActivity;
  const double h_short = activity ? m.activity_half_life_short : Seconds(m.half_life_short);
  const double h_long = activity ? m.activity_half_life_long : Seconds(m.half_life_long);
  const model::DecayKernel long_kernel =
      m.long_kernel == "logarithmic"
          ? model::DecayKernel::Logarithmic(h_short,
                                            std::max(kLogHorizonHalfLives * h_long, 2 * h_short))
          : model::DecayKernel::Exponential(h_long);
  model::SetInterestKernels(model::DecayKernel::Exponential(h_short), long_kernel, &o);
  o.user.dim = m.embedding_dim;
  o.user.category_half_life = h_long;
  o.user.max_categories = m.category_affinities;
  o.user.recent_capacity = m.seen_items;
  o.user.seen_capacity = m.seen_capacity;
  for (const std::string& name : m.repeatable_types) {
    if (const auto type = config.event_types.Find(name)) o.repeatable_types.push_back(*type);
  }
  o.features = m.sources;
  SetSourceOptions(m, activity, &o.sources);
  // Each seed's neighbours are candidates: the ring holds at least as many items as seed or gap.
  o.user.recent_capacity = std::max(
      {o.user.recent_capacity, m.sequence_seeds, m.sequence_gaps, m.covisit_seeds, m.covisit_gaps});
  o.candidates_per_source = m.candidates_per_source;
  o.ann.min_items = m.ann_min_items;
  o.ann.lists = m.ann_lists;
  o.ann.probes = m.ann_probes;
  o.offer.fill(false);
  for (const std::string& name : m.offering) {
    if (const auto f = o.FeatureIndex(name)) o.offer[*f] = true;
  }
  o.refresh_batch = m.refresh_batch;
  o.rank.k = m.list_size;
  o.rank.diversity = m.diversity == "mmr"            ? model::RankOptions::Diversity::kMmr
                     : m.diversity == "category_cap" ? model::RankOptions::Diversity::kCategoryCap
                                                     : model::RankOptions::Diversity::kNone;
  o.rank.mmr_lambda = m.mmr_lambda;
  o.rank.category_cap = m.category_cap;
  o.normalisation = config.fusion.normalisation == "max"    ? model::Normalisation::kMax
                    : config.fusion.normalisation == "rank" ? model::Normalisation::kRank
                                                            : model::Normalisation::kReciprocalRank;
  for (const auto& [name, w] : config.fusion.weights) {
    if (const auto f = o.FeatureIndex(name)) o.weights.w[*f] = w;
  }

  SetLearningOptions(config, &o);
  return o;
}

}  // namespace recsd::daemon
