#include "model/text_embedder.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace recsd::model {
namespace {

constexpr std::size_t kDim = 64;

std::vector<float> Embed(const std::string& text, std::vector<std::string> tags = {},
                         const std::string& category = "") {
  const HashedTextEmbedder embedder(kDim);
  std::vector<float> v(kDim);
  embedder.Embed(text, tags, category, v);
  return v;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

TEST(HashedTextEmbedderTest, ProducesUnitVectors) {
  EXPECT_NEAR(Dot(Embed("Toy Story (1995)"), Embed("Toy Story (1995)")), 1.0, 1e-6);
  EXPECT_NEAR(Dot(Embed("x", {"a tag"}, "Drama"), Embed("x", {"a tag"}, "Drama")), 1.0, 1e-6);
}

TEST(HashedTextEmbedderTest, NoWordsGiveTheZeroVector) {
  for (float x : Embed("")) EXPECT_EQ(x, 0.0F);
  for (float x : Embed("  the of -- ()")) EXPECT_EQ(x, 0.0F);  // only stop words and punctuation
}

TEST(HashedTextEmbedderTest, IsDeterministicAndCaseInsensitive) {
  EXPECT_EQ(Embed("Star Wars: Episode IV"), Embed("Star Wars: Episode IV"));
  EXPECT_EQ(Embed("STAR wars"), Embed("star WARS"));
}

TEST(HashedTextEmbedderTest, SharedWordsMeanHigherSimilarity) {
  const auto a = Embed("Star Wars: Episode IV - A New Hope", {"space", "sci-fi"}, "Action");
  const auto b = Embed("Star Wars: Episode V - The Empire Strikes Back", {"space"}, "Action");
  const auto c = Embed("Pride and Prejudice", {"romance", "period drama"}, "Romance");
  // At 64 dimensions hash collisions give unrelated items a cosine of about ±1/8 (here 0.16).
  EXPECT_GT(Dot(a, b), 0.3);
  EXPECT_GT(Dot(a, b), Dot(a, c) + 0.1);
}

TEST(HashedTextEmbedderTest, BigramsMakeWordOrderCount) {
  // Same words, different order: the unigrams agree, the bigrams do not.
  const double same_words = Dot(Embed("new york city"), Embed("city york new"));
  EXPECT_LT(same_words, 0.99);
  EXPECT_GT(same_words, 0.5);
}

TEST(HashedTextEmbedderTest, CategoryAndTagsAreFeatures) {
  EXPECT_LT(Dot(Embed("film", {}, "Comedy"), Embed("film", {}, "Horror")), 0.9);
  EXPECT_LT(Dot(Embed("film", {"funny"}), Embed("film", {"scary"})), 0.9);
}

TEST(HashedTextEmbedderTest, KeepsUtf8WordsWhole) {
  // "amélie" is one word, not "am" + "lie".
  EXPECT_LT(Dot(Embed("Am\xc3\xa9lie"), Embed("am lie")), 0.5);
  EXPECT_NEAR(Dot(Embed("Am\xc3\xa9lie"), Embed("am\xc3\xa9lie")), 1.0, 1e-6);
}

TEST(Fnv1aTest, MatchesReferenceValues) {
  // Reference values of 64-bit FNV-1a.
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(Fnv1aTest, HashesAStreamPiecewise) {
  EXPECT_EQ(Fnv1a64("bar", Fnv1a64("foo")), 0x85944171f73967e8ULL);
  EXPECT_NE(Fnv1a64("foo", Fnv1a64("bar")), 0x85944171f73967e8ULL);
}

}  // namespace
}  // namespace recsd::model
