#include "state/model_stats_codec.h"

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "state/msgpack_writer.h"

namespace recsd::state {
namespace {

model::PartitionStats Sample() {
  model::PartitionStats s;
  s.partition = 3;
  s.as_of = {1'700'000'000'123};
  s.offset = 977;
  s.trending_half_life = 86400;
  s.covisit_half_life = 604800;
  s.prior_variance = 1.0;
  s.popularity = {{ItemId("i1"), 12.5}, {ItemId("i7"), 0.25}};
  s.covisit = {{ItemId("i1"), ItemId("i7"), 3.0}, {ItemId("i7"), ItemId("i1"), 3.0}};
  s.learner.mean = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
  s.learner.variance = {0.5, 0.4, 0.3, 0.2, 0.1, 0.05};
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
  EXPECT_EQ(back->trending_half_life, s.trending_half_life);
  EXPECT_EQ(back->covisit_half_life, s.covisit_half_life);
  EXPECT_EQ(back->prior_variance, s.prior_variance);
  EXPECT_EQ(back->popularity, s.popularity);
  EXPECT_EQ(back->covisit, s.covisit);
  EXPECT_EQ(back->learner.mean, s.learner.mean);
  EXPECT_EQ(back->learner.variance, s.learner.variance);
  EXPECT_EQ(back->learner.bias_mean, s.learner.bias_mean);
  EXPECT_EQ(back->learner.bias_variance, s.learner.bias_variance);
  EXPECT_EQ(back->learner.examples, 4242U);
}

// Another version is reported as such (a newer recsd wrote it), never decoded as this one.
TEST(ModelStatsCodecTest, AnotherVersionIsUnsupportedNotInvalid) {
  std::string bytes;
  MsgpackWriter w(&bytes);
  w.Map(1).Key("v").Int(kModelStatsVersion + 1);
  auto decoded = DecodeModelStats(bytes);
  ASSERT_FALSE(decoded);
  EXPECT_TRUE(decoded.error().unsupported_version);
  EXPECT_EQ(decoded.error().message,
            "model statistics: version 2 is not supported (this build reads 1)");
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
  s.popularity[1].second = -1;
  EXPECT_EQ(rejected(s), "model statistics: bad 'popularity' entry");
  s = Sample();
  s.popularity[0].second = nan;
  EXPECT_EQ(rejected(s), "model statistics: bad 'popularity' entry");
  s = Sample();
  s.popularity[0].first = ItemId("");
  EXPECT_EQ(rejected(s), "model statistics: bad 'popularity' entry");
  s = Sample();
  s.covisit[0].to = s.covisit[0].from;
  EXPECT_EQ(rejected(s), "model statistics: bad 'covisit' entry");
  s = Sample();
  s.covisit[1].weight = std::numeric_limits<double>::infinity();
  EXPECT_EQ(rejected(s), "model statistics: bad 'covisit' entry");
  s = Sample();
  s.learner.variance[2] = 0;
  EXPECT_EQ(rejected(s), "model statistics: bad 'learner'");
  s = Sample();
  s.learner.mean[0] = nan;
  EXPECT_EQ(rejected(s), "model statistics: bad 'learner'");
  s = Sample();
  s.offset = -2;
  EXPECT_EQ(rejected(s), "model statistics: bad 'offset'");
  s = Sample();
  s.trending_half_life = 0;
  EXPECT_EQ(rejected(s), "model statistics: a half-life or the prior variance is not > 0");

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
