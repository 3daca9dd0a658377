#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/catalog.h"
#include "model/event.h"
#include "model/item.h"
#include "model/result.h"

namespace recsd::stream {

// File sources for `recsd replay`: catalogs and event histories read into memory, in file order.
//
// A record that does not decode is what the daemon would dead-letter: it is counted, described
// (FILE:LINE or FILE:@BYTE, the reason and the detail), and skipped. A file that cannot be opened,
// or whose framing is lost (a msgpack stream cut mid-value), is an error for the whole read.
struct ReplayInput {
  static constexpr std::size_t kMaxProblems = 20;  // problems kept; `rejected` counts them all

  std::vector<ItemRecord> items;
  // The items as a catalog, when the reader built one as it read them (then `items` is empty).
  std::shared_ptr<const model::Catalog> catalog;
  std::vector<Event> events;
  std::size_t rejected = 0;
  std::vector<std::string> problems;

  void Reject(std::string problem);
};

using ReadResult = Result<std::size_t, std::string>;  // records read, or why the file failed

// MovieLens CSV (https://grouplens.org/datasets/movielens/, the ml-latest layout):
//   movies.csv  movieId,title,genres        → an item: id = movieId, text = title, cat = the
//               first genre, tags = every genre plus (from tags.csv) every tag given to the movie,
//               item time = 1 January of the year in the title (no year: 1970)
//   ratings.csv userId,movieId,rating,timestamp → a `rating` event, value = the rating, ts = the
//               timestamp (seconds) in ms
//   tags.csv    userId,movieId,tag,timestamp  → item text only (tags are item metadata here)
// Quoted fields with commas and doubled quotes are read as RFC 4180 says. `tags_path` may be empty.
ReadResult ReadMovieLensItems(const std::string& movies_path, const std::string& tags_path,
                              ReplayInput* out);
ReadResult ReadMovieLensRatings(const std::string& ratings_path, const EventTypeTable& types,
                                ReplayInput* out);

// v1 wire records: one JSON object per line (blank lines skipped), or a stream of concatenated
// msgpack maps (the Kafka values, back to back).
enum class RecordFormat { kJsonLines, kMsgpack };
ReadResult ReadEventRecords(const std::string& path, RecordFormat format,
                            const EventTypeTable& types, ReplayInput* out);
ReadResult ReadItemRecords(const std::string& path, RecordFormat format, std::size_t embedding_dim,
                           ReplayInput* out);
// The same, handing each item that decodes to `sink` (in file order) instead of keeping it in
// out->items: a caller that builds a catalog as it reads never holds a second copy of it.
ReadResult ReadItemRecords(const std::string& path, RecordFormat format, std::size_t embedding_dim,
                           ReplayInput* out, const std::function<void(ItemRecord&&)>& sink);

// Splits one CSV record into fields (RFC 4180 quoting). nullopt for an unterminated quote.
std::optional<std::vector<std::string>> SplitCsvRecord(std::string_view line);

// Where the msgpack value that starts at `offset` ends (one past its last byte), or nullopt when
// the bytes end first or hold a byte that starts no msgpack value (0xc1). Allocates nothing.
std::optional<std::size_t> MsgpackValueEnd(std::string_view bytes, std::size_t offset);

}  // namespace recsd::stream
