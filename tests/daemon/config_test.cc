#include "daemon/config/config.h"
#include "daemon/config/engine_setup.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include "bad_config.h"
#include "temp_dir.h"

namespace recsd::daemon {
namespace {

using recsd::testing::TempDir;

LoadedConfig Load(const std::string& file, std::vector<std::string> sets = {},
                  std::vector<std::string> env = {}) {
  return LoadConfig({file, std::move(sets), std::move(env)});
}

// The problem reported for `key`, or nullptr.
const ConfigProblem* ProblemFor(const LoadedConfig& c, const std::string& key) {
  auto it = std::find_if(c.problems.begin(), c.problems.end(),
                         [&](const ConfigProblem& p) { return p.key == key; });
  return it == c.problems.end() ? nullptr : &*it;
}

TEST(ConfigTest, DefaultsAreValidAndComplete) {
  const LoadedConfig c = Load("");
  ASSERT_TRUE(c.problems.empty()) << c.problems.front().ToString();
  EXPECT_EQ(c.config.topics.events, "recsd.events");
  EXPECT_EQ(c.config.topics.dlq, "recsd.events.dlq");
  EXPECT_EQ(c.config.kafka.at("auto.offset.reset"), "earliest");
  EXPECT_EQ(c.config.model.half_life_short, std::chrono::minutes(30));
  EXPECT_EQ(c.config.model.half_life_long, std::chrono::hours(24 * 7));
  EXPECT_EQ(c.config.model.embedding_dim, 64U);
  EXPECT_EQ(c.config.event_types.size(), event_type::kBuiltinCount);
}

TEST(ConfigTest, FileEnvironmentAndSetLayerInThatOrder) {
  TempDir dir;
  const std::string file = dir.Write("recsd.toml", R"(
[topics]
events = "from-file"
items = "items-from-file"
recommendations = "recs-from-file"
)");
  const LoadedConfig c = Load(file, {"topics.events=from-set"},
                              {"RECSD_TOPICS__EVENTS=from-env", "RECSD_TOPICS__ITEMS=items-env",
                               "HOME=/nowhere", "RECSD_FUZZ_SECONDS=1"});
  ASSERT_TRUE(c.problems.empty()) << c.problems.front().ToString();
  EXPECT_EQ(c.config.topics.events, "from-set");
  EXPECT_EQ(c.config.topics.items, "items-env");
  EXPECT_EQ(c.config.topics.recommendations, "recs-from-file");
  EXPECT_EQ(c.settings.at("topics.events").origin, "--set");
  EXPECT_EQ(c.settings.at("topics.items").origin, "env RECSD_TOPICS__ITEMS");
  EXPECT_EQ(c.settings.at("topics.recommendations").origin, file + ":5");
}

TEST(ConfigTest, KafkaKeysPassThroughInEveryForm) {
  TempDir dir;
  const std::string file = dir.Write("recsd.toml", R"(
[kafka]
bootstrap.servers = "b1:9092"
"client.id" = "recsd-1"
session.timeout.ms = 6000
enable.idempotence = true
)");
  const LoadedConfig c = Load(file, {"kafka.linger.ms=5"}, {"RECSD_KAFKA__GROUP_ID=g2"});
  ASSERT_TRUE(c.problems.empty()) << c.problems.front().ToString();
  EXPECT_EQ(c.config.kafka.at("bootstrap.servers"), "b1:9092");
  EXPECT_EQ(c.config.kafka.at("client.id"), "recsd-1");
  EXPECT_EQ(c.config.kafka.at("session.timeout.ms"), "6000");
  EXPECT_EQ(c.config.kafka.at("enable.idempotence"), "true");
  EXPECT_EQ(c.config.kafka.at("linger.ms"), "5");
  EXPECT_EQ(c.config.kafka.at("group.id"), "g2");
}

TEST(ConfigTest, WrongTypeUnknownKeyAndBadDurationAreAllReportedWithLines) {
  TempDir dir;
  const std::string file = dir.Write("bad.toml", kThreeProblemConfig);
  const LoadedConfig c = Load(file);
  ASSERT_EQ(c.problems.size(), 3U);
  const ConfigProblem* wrong_type = ProblemFor(c, "topics.events");
  const ConfigProblem* unknown = ProblemFor(c, "topics.evnts");
  const ConfigProblem* duration = ProblemFor(c, "model.half_life_short");
  ASSERT_NE(wrong_type, nullptr);
  ASSERT_NE(unknown, nullptr);
  ASSERT_NE(duration, nullptr);
  EXPECT_EQ(wrong_type->origin, file + ":2");
  EXPECT_NE(wrong_type->message.find("expected a string"), std::string::npos);
  EXPECT_EQ(unknown->origin, file + ":3");
  EXPECT_EQ(unknown->message, "unknown key");
  EXPECT_EQ(duration->origin, file + ":6");
  EXPECT_NE(duration->message.find("bad duration"), std::string::npos);
  // In file order.
  EXPECT_EQ(c.problems[0].key, "topics.events");
  EXPECT_EQ(c.problems[2].key, "model.half_life_short");
}

TEST(ConfigTest, UnknownSectionAndNestedTypoAreErrors) {
  TempDir dir;
  const std::string file =
      dir.Write("bad.toml", "[topicz]\nevents = \"x\"\n[model.extra]\na = 1\n");
  const LoadedConfig c = Load(file);
  EXPECT_NE(ProblemFor(c, "topicz"), nullptr);
  EXPECT_NE(ProblemFor(c, "model.extra"), nullptr);
}

TEST(ConfigTest, EnvironmentAndSetTyposAreErrors) {
  const LoadedConfig c = Load("", {"topics.evnts=x", "no-equals-sign"}, {"RECSD_TOPICS__EVENT=x"});
  EXPECT_NE(ProblemFor(c, "topics.evnts"), nullptr);
  EXPECT_NE(ProblemFor(c, "topics.event"), nullptr);
  EXPECT_EQ(c.problems.size(), 3U);
}

TEST(ConfigTest, ValuesAreValidated) {
  const LoadedConfig c =
      Load("", {"model.embedding_dim=0", "log.level=loud", "log.format=xml", "model.list_size=ten",
                "model.half_life_long=0s", "events.weights.view=nan", "events.weights.Bad-Name=1"});
  for (const char* key :
       {"model.embedding_dim", "log.level", "log.format", "model.list_size", "model.half_life_long",
        "events.weights.view", "events.weights.Bad-Name"}) {
    EXPECT_NE(ProblemFor(c, key), nullptr) << key;
  }
}

TEST(ConfigTest, StateValuesAreValidated) {
  const LoadedConfig c = Load("", {"state.dir=snapshots", "state.changelog=false",
                                   "state.snapshot_interval=0s", "state.snapshot_max_age=0s"});
  for (const char* key : {"state.dir", "state.snapshot_interval", "state.snapshot_max_age"}) {
    EXPECT_NE(ProblemFor(c, key), nullptr) << key;
  }
  const LoadedConfig ok = Load("", {"state.dir=snapshots", "state.snapshot_interval=30s"});
  EXPECT_TRUE(ok.problems.empty());
  EXPECT_EQ(ok.config.state.dir, "snapshots");
  EXPECT_EQ(ok.config.state.snapshot_interval, std::chrono::seconds(30));
  EXPECT_EQ(ok.config.state.snapshot_max_age, std::chrono::hours(12));
}

TEST(ConfigTest, ModelAndFusionValuesAreValidated) {
  const LoadedConfig c =
      Load("", {"model.clock=wall", "model.long_kernel=power", "model.activity_half_life_short=0",
                "model.mmr_lambda=1.5", "model.trending_half_life=0s", "model.seen_items=0",
                "model.diversity=random", "fusion.weights.covisit=-1", "fusion.weights.magic=1"});
  for (const char* key : {"model.clock", "model.long_kernel", "model.activity_half_life_short",
                          "model.mmr_lambda", "model.trending_half_life", "model.seen_items",
                          "model.diversity", "fusion.weights.covisit", "fusion.weights.magic"}) {
    EXPECT_NE(ProblemFor(c, key), nullptr) << key;
  }
  const LoadedConfig zero = Load(
      "", {"fusion.weights.emb_short=0", "fusion.weights.emb_long=0", "fusion.weights.covisit=0",
           "fusion.weights.sequence=0", "fusion.weights.trending=0", "fusion.weights.category=0",
           "fusion.weights.fresh=0"});
  EXPECT_NE(ProblemFor(zero, "fusion.weights"), nullptr);
  // Only the weights of the configured sources count.
  EXPECT_NE(
      ProblemFor(Load("", {"model.sources=fresh", "fusion.weights.fresh=0"}), "fusion.weights"),
      nullptr);
  EXPECT_TRUE(Load("", {"model.sources=fresh,sequence"}).problems.empty());
  for (const char* bad : {"model.sources=fresh,magic", "model.sources=fresh,fresh",
                          "model.sources=", "model.repeatable_types=teleport"}) {
    const LoadedConfig loaded = Load("", {bad});
    const std::string key = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(ProblemFor(loaded, key), nullptr) << bad;
  }
  // A window of 0 is allowed: it turns co-visits off.
  EXPECT_TRUE(Load("", {"model.covisit_window=0s"}).problems.empty());
}

TEST(ConfigTest, EngineOptionsFollowTheConfig) {
  const LoadedConfig c =
      Load("", {"model.long_kernel=logarithmic", "model.half_life_short=1m",
                "fusion.weights.fresh=0.5", "model.diversity=category_cap", "model.list_size=7"});
  ASSERT_TRUE(c.problems.empty());
  const model::EngineOptions o = EngineOptionsFromConfig(c.config);
  EXPECT_EQ(o.clock, model::InterestClock::kEventTime);
  EXPECT_EQ(o.user.half_lives[0], 60.0);
  EXPECT_GT(o.user.half_lives.size(), 2U);  // the logarithmic kernel's components
  EXPECT_EQ(o.sources.embedding.short_mix[0], 1.0);
  EXPECT_EQ(o.weights.w[*o.FeatureIndex("fresh")], 0.5);
  EXPECT_EQ(o.weights.w[*o.FeatureIndex("covisit")], 1.0);
  EXPECT_EQ(o.rank.diversity, model::RankOptions::Diversity::kCategoryCap);
  EXPECT_EQ(o.rank.k, 7U);
  const LoadedConfig a = Load("", {"model.clock=activity", "model.activity_half_life_short=3"});
  const model::EngineOptions oa = EngineOptionsFromConfig(a.config);
  EXPECT_EQ(oa.clock, model::InterestClock::kActivity);
  EXPECT_EQ(oa.user.half_lives, (std::vector<double>{3, 200}));
  EXPECT_EQ(oa.sources.covisit.window, 5.0);  // activity: the covisit_gaps latest interactions
}

TEST(ConfigTest, LearningValuesAreValidatedAndReachTheEngine) {
  const LoadedConfig bad =
      Load("", {"learning.feedback_types=click,teleport", "learning.prior_variance=0",
                "learning.min_weight=5", "learning.max_weight=1", "learning.holdout_share=1.5",
                "learning.guard=maybe", "learning.examine_k=0"});
  for (const char* key :
       {"learning.feedback_types", "learning.prior_variance", "learning.min_weight",
        "learning.holdout_share", "learning.guard", "learning.examine_k"}) {
    EXPECT_NE(ProblemFor(bad, key), nullptr) << key;
  }
  // 1% of 20,000 lists: the guard's window never holds 2,000 holdout lists.
  EXPECT_NE(ProblemFor(Load("", {"learning.holdout_share=0.01"}), "learning.guard_min_lists"),
            nullptr);
  EXPECT_TRUE(Load("", {"learning.holdout_share=0"}).problems.empty());  // no holdout, no guard
  const LoadedConfig c = Load(
      "", {"learning.feedback_types=click, purchase", "learning.segment_keys=device,,country",
           "learning.attribution_window=10m", "learning.holdout_share=0.25",
           "learning.exploration=0.5", "learning.drift_variance=0.001", "learning.pending_lists=2",
           "learning.confidence=1.5", "learning.guard_window=500", "learning.guard_min_lists=10"});
  ASSERT_TRUE(c.problems.empty()) << c.problems.front().ToString();
  const model::EngineOptions o = EngineOptionsFromConfig(c.config);
  EXPECT_TRUE(o.learning.learn);
  EXPECT_EQ(o.learning.exploration, 0.5);
  EXPECT_EQ(o.learning.feedback_types,
            (std::vector<EventTypeId>{event_type::kClick, event_type::kPurchase}));
  EXPECT_EQ(o.learning.segment_keys, (std::vector<std::string>{"device", "country"}));
  EXPECT_EQ(o.learning.attribution.window_ms, 600'000);
  EXPECT_EQ(o.learning.holdout_share, 0.25);
  EXPECT_EQ(o.learning.learner.drift_variance, 0.001);
  EXPECT_EQ(o.learning.learner.confidence, 1.5);
  EXPECT_EQ(EngineOptionsFromConfig(Load("", {}).config).learning.learner.confidence, 0.5);
  EXPECT_EQ(o.learning.guard.half_life_lists, 500.0);
  EXPECT_EQ(o.user.max_pending, 2U);
  EXPECT_FALSE(EngineOptionsFromConfig(Load("", {"learning.enabled=false"}).config).learning.learn);
}

TEST(ConfigTest, LibrdkafkaRejectsUnknownKafkaProperties) {
  const LoadedConfig c = Load("", {"kafka.bootstrap.server=b:9092", "kafka.acks=maybe"});
  const ConfigProblem* typo = ProblemFor(c, "kafka.bootstrap.server");
  ASSERT_NE(typo, nullptr);
  EXPECT_NE(typo->message.find("No such configuration property"), std::string::npos);
  EXPECT_NE(ProblemFor(c, "kafka.acks"), nullptr);
}

TEST(ConfigTest, CustomEventTypesAndWeightsComeFromConfig) {
  const LoadedConfig c = Load("", {"events.weights.share=2.5", "events.weights.view=0.25"});
  ASSERT_TRUE(c.problems.empty()) << c.problems.front().ToString();
  const auto share = c.config.event_types.Find("share");
  ASSERT_TRUE(share.has_value());
  EXPECT_EQ(c.config.event_types.Get(*share).weight, 2.5);
  EXPECT_EQ(c.config.event_types.Get(event_type::kView).weight, 0.25);
}

TEST(ConfigTest, TomlSyntaxErrorNamesTheLine) {
  TempDir dir;
  const std::string file = dir.Write("bad.toml", "[topics]\nevents = \"unterminated\n");
  const LoadedConfig c = Load(file);
  ASSERT_EQ(c.problems.size(), 1U);
  EXPECT_EQ(c.problems[0].origin, file + ":2");
  EXPECT_NE(c.problems[0].message.find("TOML syntax error"), std::string::npos);
}

TEST(ConfigTest, MissingFileIsAProblem) {
  TempDir dir;
  const LoadedConfig c = Load((dir.path() / "absent.toml").string());
  ASSERT_EQ(c.problems.size(), 1U);
  EXPECT_NE(c.problems[0].message.find("cannot read"), std::string::npos);
}

TEST(ConfigTest, SecretsAreRedactedWhenRendered) {
  const LoadedConfig c = Load(
      "", {"kafka.sasl.password=hunter2", "admin.token=t0ps3cret", "kafka.sasl.username=alice"});
  ASSERT_TRUE(c.problems.empty()) << c.problems.front().ToString();
  const std::string text = RenderConfig(c.settings);
  EXPECT_EQ(text.find("hunter2"), std::string::npos);
  EXPECT_EQ(text.find("t0ps3cret"), std::string::npos);
  EXPECT_NE(text.find("\"sasl.password\" = \"<redacted>\""), std::string::npos) << text;
  EXPECT_NE(text.find("alice"), std::string::npos);
}

// A secret given with --set is visible in /proc/PID/cmdline: warned about, never echoed.
TEST(ConfigTest, ASecretGivenWithSetIsWarnedAbout) {
  const LoadedConfig c =
      Load("", {"kafka.sasl.password=hunter2", "admin.token_file=/run/token", "topics.events=e"});
  ASSERT_TRUE(c.problems.empty()) << c.problems.front().ToString();
  ASSERT_EQ(c.warnings.size(), 1U);
  EXPECT_NE(c.warnings[0].find("kafka.sasl.password"), std::string::npos);
  EXPECT_EQ(c.warnings[0].find("hunter2"), std::string::npos);
  EXPECT_TRUE(Load("", {}, {"RECSD_KAFKA__SASL_PASSWORD=hunter2"}).warnings.empty());
}

TEST(ConfigTest, SecretValuesNeverAppearInProblems) {
  const LoadedConfig c = Load("", {"kafka.sasl.password.typo=hunter2", "admin.token"});
  ASSERT_FALSE(c.problems.empty());
  for (const ConfigProblem& p : c.problems) {
    EXPECT_EQ(p.ToString().find("hunter2"), std::string::npos) << p.ToString();
  }
  EXPECT_TRUE(IsSecretKey("kafka.sasl.password"));
  EXPECT_TRUE(IsSecretKey("kafka.ssl.key.pem"));
  EXPECT_TRUE(IsSecretKey("admin.token_file"));
  EXPECT_TRUE(IsSecretKey("kafka.sasl.oauthbearer.client.secret"));
  EXPECT_FALSE(IsSecretKey("kafka.bootstrap.servers"));
}

TEST(ConfigTest, RenderedConfigParsesBackToTheSameSettings) {
  const LoadedConfig c = Load("", {"topics.events=a\"quoted\"name"});
  ASSERT_TRUE(c.problems.empty());
  TempDir dir;
  const LoadedConfig again = Load(dir.Write("round.toml", RenderConfig(c.settings)));
  ASSERT_TRUE(again.problems.empty()) << again.problems.front().ToString();
  for (const auto& [key, s] : c.settings) {
    EXPECT_EQ(again.settings.at(key).value, s.value) << key;
  }
}

TEST(DurationTest, ParsesEveryUnitAndRejectsTheRest) {
  Milliseconds d{};
  ASSERT_TRUE(ParseDuration("250ms", &d));
  EXPECT_EQ(d.count(), 250);
  ASSERT_TRUE(ParseDuration("30s", &d));
  EXPECT_EQ(d.count(), 30'000);
  ASSERT_TRUE(ParseDuration("30m", &d));
  EXPECT_EQ(d.count(), 1'800'000);
  ASSERT_TRUE(ParseDuration("2h", &d));
  EXPECT_EQ(d.count(), 7'200'000);
  ASSERT_TRUE(ParseDuration("7d", &d));
  EXPECT_EQ(d.count(), 604'800'000);
  for (const char* bad :
       {"", "30", "m", "-5s", "1.5h", "5 m", "5M", "5min", "99999999999999999d"}) {
    EXPECT_FALSE(ParseDuration(bad, &d)) << bad;
  }
}

// ops/recsd.example.toml documents every key with its default: it must load cleanly and set
// exactly the defaults, and every default key must appear in it.
TEST(ExampleConfigTest, DocumentsEveryKeyWithItsDefault) {
  const std::string example = std::string(RECSD_SOURCE_DIR) + "/ops/recsd.example.toml";
  const LoadedConfig loaded = Load(example);
  ASSERT_TRUE(loaded.problems.empty()) << loaded.problems.front().ToString();
  const LoadedConfig defaults = Load("");
  for (const auto& [key, s] : defaults.settings) {
    ASSERT_TRUE(loaded.settings.count(key)) << key;
    EXPECT_EQ(loaded.settings.at(key).value, s.value) << key << " differs from its default";
    EXPECT_NE(loaded.settings.at(key).origin, "default")
        << key << " is not written in ops/recsd.example.toml";
  }
  EXPECT_EQ(loaded.settings.size(), defaults.settings.size())
      << "the example sets keys that have no default";
}

}  // namespace
}  // namespace recsd::daemon
