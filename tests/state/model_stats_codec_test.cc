#include "state/model_stats_codec.h"

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "model/learner.h"
#include "state/msgpack_writer.h"

namespace recsd::state {
namespace {

model::PartitionStats Sample() {
  model::PartitionStats s;
  s.partition = 3;
  s.as_of = {1'700'000'000'123};
  s.offset = 977;
  s.features = {"emb_short", "emb_long", "covisit", "trending", "category", "fresh"};
  s.prior_variance = 1.0;
  model::SourceStats popularity;
  popularity.source = "popularity";
  popularity.half_life = 86400;
  popularity.items = {{ItemId("i1"), 12.5}, {ItemId("i7"), 0.25}};
  model::SourceStats covisit;
  covisit.source = "covisit";
  covisit.half_life = 604800;
  covisit.edges = {{ItemId("i1"), ItemId("i7"), 3.0}, {ItemId("i7"), ItemId("i1"), 3.0}};
  model::SourceStats embedding;
  embedding.source = "embedding";
  embedding.half_life = 2592000;
  embedding.vectors = {{ItemId("i1"), 4.0, {0.5F, -0.25F, 1.0F}},
                       {ItemId("i9"), 1.5, {0.0F, 2.0F, -1.0F}}};
  s.sources = {popularity, covisit, embedding};
  s.learner.mean = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
  s.learner.variance = {0.5, 0.4, 0.3, 0.2, 0.1, 0.05};
  for (std::size_t f = 6; f < model::kMaxSources; ++f) s.learner.variance[f] = 1.0;
  s.learner.bias_mean = -1.25;
  s.learner.bias_variance = 0.01;
  s.learner.examples = 4242;
  return s;
}

TEST(ModelStatsCodecTest, RoundTripsEveryField) {
  const model::PartitionStats s = Sample();
  auto back = DecodeModelStats(EncodeModelStats(s));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->partition, 3);
  EXPECT_EQ(back->as_of, s.as_of);
  EXPECT_EQ(back->offset, 977);
  EXPECT_EQ(back->features, s.features);
  EXPECT_EQ(back->prior_variance, s.prior_variance);
  EXPECT_EQ(back->sources, s.sources);
  EXPECT_EQ(back->learner.mean, s.learner.mean);
  // Features past the record's are at the prior (the record's prior variance).
  EXPECT_EQ(back->learner.variance, s.learner.variance);
  EXPECT_EQ(back->learner.bias_mean, s.learner.bias_mean);
  EXPECT_EQ(back->learner.bias_variance, s.learner.bias_variance);
  EXPECT_EQ(back->learner.examples, 4242U);
  // A diagonal posterior is written as its full matrix.
  EXPECT_EQ(back->learner.covariance, model::CovarianceOf(s.learner, 6));
}

// A full covariance (what the learner keeps) survives exactly, correlations included.
TEST(ModelStatsCodecTest, RoundTripsTheLearnersFullCovariance) {
  model::PartitionStats s = Sample();
  s.learner.covariance = model::CovarianceOf(s.learner, 6);
  s.learner.covariance[0 * 7 + 1] = s.learner.covariance[1 * 7 + 0] = 0.125;
  s.learner.covariance[2 * 7 + 6] = s.learner.covariance[6 * 7 + 2] = -0.02;
  auto back = DecodeModelStats(EncodeModelStats(s));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->learner.covariance, s.learner.covariance);
}

// Another version is reported as such (a newer recsd wrote it), never decoded as this one.
TEST(ModelStatsCodecTest, AnotherVersionIsUnsupportedNotInvalid) {
  for (std::int64_t v : {kModelStatsVersion - 1, kModelStatsVersion + 1}) {
    std::string bytes;
    MsgpackWriter w(&bytes);
    w.Map(1).Key("v").Int(v);
    auto decoded = DecodeModelStats(bytes);
    ASSERT_FALSE(decoded);
    EXPECT_TRUE(decoded.error().unsupported_version);
    EXPECT_EQ(decoded.error().message, "model statistics: version " + std::to_string(v) +
                                           " is not supported (this build reads 2)");
  }
}

// Every value a record could carry wrongly is refused with a reason, not merged.
TEST(ModelStatsCodecTest, RejectsWhatCannotBeMerged) {
  const auto rejected = [](const model::PartitionStats& s) {
    auto decoded = DecodeModelStats(EncodeModelStats(s));
    EXPECT_FALSE(decoded);
    return decoded ? std::string() : decoded.error().message;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  model::PartitionStats s = Sample();
  s.sources[0].items[1].second = -1;
  EXPECT_EQ(rejected(s), "model statistics: bad 'items' entry of source 'popularity'");
  s = Sample();
  s.sources[0].items[0].second = nan;
  EXPECT_EQ(rejected(s), "model statistics: bad 'items' entry of source 'popularity'");
  s = Sample();
  s.sources[0].items[0].first = ItemId("");
  EXPECT_EQ(rejected(s), "model statistics: bad 'items' entry of source 'popularity'");
  s = Sample();
  s.sources[1].edges[0].to = s.sources[1].edges[0].from;
  EXPECT_EQ(rejected(s), "model statistics: bad 'edges' entry of source 'covisit'");
  s = Sample();
  s.sources[1].edges[1].weight = std::numeric_limits<double>::infinity();
  EXPECT_EQ(rejected(s), "model statistics: bad 'edges' entry of source 'covisit'");
  s = Sample();
  s.sources[2].vectors[1].values.push_back(1.0F);  // vectors of two dimensions
  EXPECT_EQ(rejected(s), "model statistics: bad 'vectors' entry of source 'embedding'");
  s = Sample();
  s.sources[2].vectors[0].values[0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(rejected(s), "model statistics: bad 'vectors' entry of source 'embedding'");
  s = Sample();
  s.sources[2].vectors[0].mass = -1;
  EXPECT_EQ(rejected(s), "model statistics: bad 'vectors' entry of source 'embedding'");
  s = Sample();
  s.sources[1].source = "popularity";
  EXPECT_EQ(rejected(s), "model statistics: a source has two 'sources' entries");
  s = Sample();
  s.sources[0].half_life = 0;
  EXPECT_EQ(rejected(s),
            "model statistics: a 'sources' entry has no name or a half-life that is not > 0");
  s = Sample();
  s.learner.variance[2] = 0;
  EXPECT_EQ(rejected(s), "model statistics: bad 'learner'");
  s = Sample();
  s.learner.mean[0] = nan;
  EXPECT_EQ(rejected(s), "model statistics: bad 'learner'");
  s = Sample();  // not positive definite: a correlation above 1
  s.learner.covariance = model::CovarianceOf(s.learner, 6);
  s.learner.covariance[0 * 7 + 1] = s.learner.covariance[1 * 7 + 0] = 1.0;
  EXPECT_EQ(rejected(s), "model statistics: bad 'learner'");
  s = Sample();  // not symmetric
  s.learner.covariance = model::CovarianceOf(s.learner, 6);
  s.learner.covariance[0 * 7 + 1] = 0.01;
  EXPECT_EQ(rejected(s), "model statistics: bad 'learner'");
  s = Sample();
  s.offset = -2;
  EXPECT_EQ(rejected(s), "model statistics: bad 'offset'");
  s = Sample();
  s.prior_variance = 0;
  EXPECT_EQ(rejected(s), "model statistics: the prior variance is not > 0");
  s = Sample();
  s.features.clear();
  EXPECT_EQ(rejected(s),
            "model statistics: 'features' is empty or longer than the most features a build "
            "fuses");

  for (const std::string& bytes :
       {std::string("\xc1"), std::string("\x93\x01\x02\x03"), EncodeModelStats(Sample()) + "x"}) {
    auto decoded = DecodeModelStats(bytes);
    ASSERT_FALSE(decoded);
    EXPECT_FALSE(decoded.error().unsupported_version);
  }
  std::string missing;
  MsgpackWriter w(&missing);
  w.Map(2).Key("v").Int(kModelStatsVersion).Key("partition").Int(1);
  auto decoded = DecodeModelStats(missing);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().message, "model statistics: 'as_of' is missing");
}

}  // namespace
}  // namespace recsd::state
