#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace recsd::model {

// The built-in text embedder, so recsd recommends by content with no embedding model at all.
// Feature hashing (Weinberger et al., "Feature Hashing for Large Scale Multitask Learning", ICML
// 2009) of an item's words into `dim` signed buckets:
//   - text (title, description): lower-cased word unigrams (weight 1) and adjacent-word bigrams
//     (weight 0.5); words are runs of ASCII letters and digits or of any non-ASCII bytes (so UTF-8
//     words stay whole); a short list of English, French, German and Spanish stop words is dropped
//   - tags: each tag as one phrase feature (weight 1) plus its words (weight 0.5)
//   - category: one feature (weight 1.5)
// tf-idf-like: a feature seen tf times counts field_weight·(1 + ln tf) (sublinear tf, as tf-idf),
// and the stop words play the part of idf for the commonest words. A true idf would change every
// vector whenever the catalog grows, silently moving stored user interest; this weighting depends
// on the item alone. Each feature's 64-bit FNV-1a hash picks a bucket (hash mod dim) and a sign
// (the top bit), so collisions cancel in expectation. The result is L2-normalised; an item with no
// usable words gets the zero vector. Deterministic, stateless, safe to share.
class HashedTextEmbedder {
 public:
  explicit HashedTextEmbedder(std::size_t dim);

  // Writes the unit (or zero) vector of the item's text, tags and category into `out` (dim()).
  void Embed(std::string_view text, std::span<const std::string> tags, std::string_view category,
             std::span<float> out) const;

  std::size_t dim() const noexcept { return dim_; }

 private:
  std::size_t dim_;
};

// FNV-1a, 64 bits: the stable hash recsd uses wherever a hash must not change between runs or
// builds (std::hash may). `h`: the hash of the bytes before these, to hash a stream piecewise.
inline constexpr std::uint64_t kFnv1a64Basis = 0xcbf29ce484222325ULL;
std::uint64_t Fnv1a64(std::string_view bytes, std::uint64_t h = kFnv1a64Basis) noexcept;

// FNV-1a followed by MurmurHash3's 64-bit finaliser: every input bit reaches every output bit.
// FNV-1a alone leaves its high bits poorly mixed for strings that differ in their last characters
// ("user-1", "user-2"); use this where the high bits matter (fractions, fingerprints).
inline std::uint64_t MixedHash64(std::string_view bytes) noexcept {
  std::uint64_t h = Fnv1a64(bytes);
  h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdULL;
  h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

}  // namespace recsd::model
