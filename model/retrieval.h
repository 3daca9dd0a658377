#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "model/catalog.h"
#include "model/ids.h"

namespace recsd::model {

// A catalog row with a source's score for it.
struct ScoredRow {
  std::uint32_t row = 0;
  float score = 0;
  friend bool operator==(const ScoredRow&, const ScoredRow&) = default;
};

// The n highest-scoring available rows of `catalog` (scores has one value per row), best first,
// ties broken by the lower row. O(N + n log n): rows above a rising threshold are kept in a
// buffer of 2n, pruned with nth_element when it fills. Unavailable items never take a place, so a
// source always offers n usable candidates when the catalog has them.
void SelectTopN(std::span<const float> scores, const Catalog& catalog, std::size_t n,
                std::vector<ScoredRow>* out);

// Cosine similarity of `user` with every row: scores = E·u / |u| (rows are unit or zero). A zero
// user vector (no history) scores every item 0.
void EmbeddingScores(const Catalog& catalog, std::span<const float> user, std::span<float> scores);

// Top-n by cosine for B users at once (`users` is B × D): one matrix product E·Uᵀ reads the catalog
// matrix once per batch instead of once per user, which is what makes refreshing many users in
// one pass cheap. out[b] is user b's top-n, as SelectTopN.
void EmbeddingTopNBatch(const Catalog& catalog, const EmbeddingMatrix& users, std::size_t n,
                        std::vector<std::vector<ScoredRow>>* out);
// The same over `items`, one unit (or zero) vector per catalog row (an engine's learned item
// vectors) instead of the catalog's own matrix; availability is still the catalog's.
void EmbeddingTopNBatch(const Catalog& catalog, const EmbeddingMatrix& items,
                        const EmbeddingMatrix& users, std::size_t n,
                        std::vector<std::vector<ScoredRow>>* out);

// Rows with their vectors grouped by a list number: list l's are rows[begin[l], begin[l + 1]),
// their vectors at the same places.
struct RowsByList {
  std::vector<std::uint32_t> begin;  // list count + 1 offsets
  std::vector<std::uint32_t> rows;
  std::vector<const float*> vectors;
};
// Groups rows[i] (vector vectors[i]) by lists[i] < list_count into *out, in their order within a
// list.
void GroupByList(std::span<const std::uint32_t> rows, std::span<const float* const> vectors,
                 std::span<const std::uint32_t> lists, std::size_t list_count, RowsByList* out);

// The same when the catalog has a nearest-neighbour index (Catalog::index()): each user's top-n by
// the inner product (with its unit vector) among the rows of the index's lists nearest the user
// (AnnOptions::probes of them) and `exact_rows`, each row once. A row's vector is the catalog's
// own except at `exact_rows` (ascending; `exact_mark` has a 1 for each, one byte per catalog row,
// or is empty with them), whose vectors are `exact_vectors` (D floats each, in the same order):
// rows whose vector is a source's own, such as learned vectors, which the index cannot know.
// `exact_by_list` is null (every exact row is scored for every user) or holds the exact rows
// grouped by their list in the index (AnnIndex::NearestLists of their vectors, GroupByList):
// then a user's exact rows are those in the lists it reads, as for the index's own rows.
// Approximate only in the lists it does not read (recall: benchmarks/README.md, "Retrieval");
// the lists hold exactly the snapshot's rows, so a deleted item is never returned, and
// unavailable ones are skipped as in SelectTopN.
void IndexedTopNBatch(const Catalog& catalog, const EmbeddingMatrix& users,
                      std::span<const std::uint32_t> exact_rows,
                      std::span<const float* const> exact_vectors,
                      std::span<const std::uint8_t> exact_mark, std::size_t n,
                      std::vector<std::vector<ScoredRow>>* out,
                      const RowsByList* exact_by_list = nullptr);

// The `fresh` source: 2^(−age/half_life) of the item's age in ms at `now`; items dated in the
// future count as new (1).
float FreshScore(TimestampMs item_ts, TimestampMs now, double half_life_ms);
void FreshScores(const Catalog& catalog, TimestampMs now, double half_life_ms,
                 std::span<float> scores);

}  // namespace recsd::model
