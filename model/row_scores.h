#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace recsd::model {

// The dot products every retrieval path is made of, AVX2 with FMA where the CPU has them (chosen
// at run time, so the binary stays portable), otherwise portable code the compiler vectorises.

// Dot products of `len` consecutive rows (row-major, `dim` columns) with `user_count` vectors
// (user_count × dim, row-major), into out[b * len + r].
void ScoreRows(const float* rows, std::size_t len, std::size_t dim, const float* users,
               std::size_t user_count, float* out);

// Dot products of rows `rows` of `items` (row-major, `dim` columns) with one vector `user`, into
// out[i] for rows[i].
void ScoreGatheredRows(const float* items, std::span<const std::uint32_t> rows, std::size_t dim,
                       const float* user, float* out);

// Dot products of the `len` rows rows[r] (each `dim` floats, anywhere) with `user_count` vectors,
// into out[b * len + r]: ScoreRows for rows that are not one matrix.
void ScorePointedRows(const float* const* rows, std::size_t len, std::size_t dim,
                      const float* users, std::size_t user_count, float* out);

// Quantises v (dim floats) to 8 bits: v ≈ scale · codes, scale = max|v_d| / 127, each code
// rounded to the nearest integer (halves away from zero). Returns the scale (0 for a zero vector,
// whose codes are all 0).
float QuantizeRow(const float* v, std::size_t dim, std::int8_t* codes);

// Dot products of `len` quantised rows (codes: len × dim int8, row-major; row r ≈ scales[r] ·
// codes[r]) with one quantised vector (≈ user_scale · user), into out[r] = Σ codes·user (an exact
// integer sum) · (scales[r] · user_scale): the same value on every CPU path.
void ScoreQuantizedRows(const std::int8_t* codes, const float* scales, std::size_t len,
                        std::size_t dim, const std::int8_t* user, float user_scale, float* out);

// Centroids (count × dim, row-major) laid out for NearestCentroids: blocks of 8 centroids, block k
// holding centroids 8k..8k+7 as dim × 8 floats (their values of dimension d side by side), the last
// block padded with zeros.
std::vector<float> CentroidPanels(const float* centroids, std::size_t count, std::size_t dim);

// For each of the `len` rows rows[r] (dim floats each, anywhere): the centroid with the highest dot
// product among `count` centroids given as CentroidPanels (ties: the lower index) into nearest[r],
// and that dot product into best[r]. Every dot product is summed over d in order, so a row's
// result does not depend on the other rows of the call.
void NearestCentroids(const float* const* rows, std::size_t len, std::size_t dim,
                      const float* panels, std::size_t count, std::uint32_t* nearest, float* best);

}  // namespace recsd::model
