#include "model/text_embedder.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_map>
#include <vector>

#include "model/check.h"

namespace recsd::model {
namespace {

constexpr double kUnigramWeight = 1.0;
constexpr double kBigramWeight = 0.5;
constexpr double kTagWeight = 1.0;
constexpr double kTagWordWeight = 0.5;
constexpr double kCategoryWeight = 1.5;

constexpr std::array<std::string_view, 40> kStopWords = {
    "a",   "an",  "and",  "as", "at",  "by",  "for", "from", "in", "is", "it", "of",  "on",  "or",
    "the", "to",  "with", "la", "le",  "les", "de",  "des",  "du", "et", "un", "une", "der", "die",
    "das", "und", "ein",  "el", "los", "las", "y",   "del",  "en", "il", "lo", "s"};

bool IsStopWord(std::string_view w) {
  return std::find(kStopWords.begin(), kStopWords.end(), w) != kStopWords.end();
}

bool IsWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsWordByte(c)) {
      word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : ch);
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) {
    words.push_back(std::move(word));
  }
  std::erase_if(words, [](const std::string& w) { return IsStopWord(w); });
  return words;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::uint64_t Fnv1a64(std::string_view bytes, std::uint64_t h) noexcept {
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

HashedTextEmbedder::HashedTextEmbedder(std::size_t dim) : dim_(dim) {
  RECSD_CHECK(dim > 0, "embedding dimension");
}

void HashedTextEmbedder::Embed(std::string_view text, std::span<const std::string> tags,
                               std::string_view category, std::span<float> out) const {
  RECSD_CHECK(out.size() == dim_, "output of the embedder's dimension");
  // Feature → (field weight, term frequency). Prefixes keep the fields apart in hash space.
  std::unordered_map<std::string, std::pair<double, int>> features;
  const auto add = [&](std::string feature, double weight) {
    auto [it, inserted] = features.try_emplace(std::move(feature), weight, 0);
    it->second.first = std::max(it->second.first, weight);
    ++it->second.second;
  };
  const std::vector<std::string> words = Words(text);
  for (std::size_t i = 0; i < words.size(); ++i) {
    add("w:" + words[i], kUnigramWeight);
    if (i + 1 < words.size()) {
      add("b:" + words[i] + " " + words[i + 1], kBigramWeight);
    }
  }
  for (const std::string& tag : tags) {
    add("t:" + Lower(tag), kTagWeight);
    for (const std::string& w : Words(tag)) {
      add("w:" + w, kTagWordWeight);
    }
  }
  if (!category.empty()) {
    add("c:" + Lower(category), kCategoryWeight);
  }

  std::vector<double> v(dim_, 0.0);
  for (const auto& [feature, weight_tf] : features) {
    const std::uint64_t h = Fnv1a64(feature);
    const double sign = (h >> 63) != 0 ? -1.0 : 1.0;
    v[h % dim_] += sign * weight_tf.first * (1.0 + std::log(static_cast<double>(weight_tf.second)));
  }
  double norm = 0.0;
  for (double x : v) norm += x * x;
  norm = std::sqrt(norm);
  for (std::size_t i = 0; i < dim_; ++i) {
    out[i] = norm > 0 ? static_cast<float>(v[i] / norm) : 0.0F;
  }
}

}  // namespace recsd::model
