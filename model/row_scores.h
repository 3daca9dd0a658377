#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

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

// Dot products of `len` quantised rows (codes: len × dim int8, row-major; row r ≈ scales[r] ·
// codes[r]) with one vector `user`, into out[r].
void ScoreQuantizedRows(const std::int8_t* codes, const float* scales, std::size_t len,
                        std::size_t dim, const float* user, float* out);

}  // namespace recsd::model
