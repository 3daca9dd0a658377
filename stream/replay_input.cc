#include "stream/replay_input.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "stream/decode_error.h"
#include "stream/event_codec.h"
#include "stream/item_codec.h"
#include "stream/utf8.h"

namespace recsd::stream {
namespace {

Result<std::string, std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Fail(path + ": cannot open");
  }
  std::string bytes;
  // A regular file is read whole into a buffer of its size (one allocation, one pass: a catalog
  // file of a million items is some 300 MB); a pipe, whose size is unknown, in pieces.
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size > 0) {
    bytes.resize(static_cast<std::size_t>(size));
    in.seekg(0, std::ios::beg);
    in.read(bytes.data(), size);
    bytes.resize(static_cast<std::size_t>(in.gcount()));
  }
  in.clear();
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    bytes.append(chunk, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) {
    return Fail(path + ": read error");
  }
  return bytes;
}

// Calls f(line_number, line) for every line (without "\n" or "\r\n").
template <class F>
void ForEachLine(std::string_view bytes, F&& f) {
  std::size_t line_no = 0;
  while (!bytes.empty()) {
    const std::size_t nl = bytes.find('\n');
    std::string_view line = bytes.substr(0, nl);
    bytes = nl == std::string_view::npos ? std::string_view() : bytes.substr(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    f(++line_no, line);
  }
}

std::string Where(const std::string& path, std::size_t line) {
  return path + ":" + std::to_string(line);
}

std::string DecodeProblem(const std::string& where, const DecodeError& error) {
  return where + ": " + std::string(ReasonOf(error.code)) + ": " + error.detail;
}

template <class T>
bool ParseNumber(std::string_view text, T* out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

// Checks the header line of a MovieLens file; returns an error message or "".
std::string CheckHeader(const std::string& path, std::string_view bytes,
                        std::string_view expected) {
  std::string_view first = bytes.substr(0, bytes.find('\n'));
  if (first.ends_with('\r')) first.remove_suffix(1);
  if (first != expected) {
    return path + ":1: expected the header \"" + std::string(expected) + "\", got \"" +
           std::string(first.substr(0, 80)) + "\"";
  }
  return "";
}

// A MovieLens id: the decimal integer the files use, kept as its text.
bool ValidId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxIdBytes &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// 1 January of the "(YYYY)" at the end of a MovieLens title, in ms; 0 when there is none.
TimestampMs YearOfTitle(std::string_view title) {
  while (!title.empty() && title.back() == ' ') title.remove_suffix(1);
  if (title.size() < 6 || title.back() != ')' || title[title.size() - 6] != '(') return {};
  int year = 0;
  if (!ParseNumber(title.substr(title.size() - 5, 4), &year) || year < 1970 || year > 2099) {
    return {};
  }
  const std::chrono::sys_days day{std::chrono::year{year} / 1 / 1};
  return {std::chrono::duration_cast<std::chrono::milliseconds>(day.time_since_epoch()).count()};
}

}  // namespace

void ReplayInput::Reject(std::string problem) {
  ++rejected;
  if (problems.size() < kMaxProblems) problems.push_back(std::move(problem));
}

std::optional<std::vector<std::string>> SplitCsvRecord(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c != '"') {
        fields.back() += c;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  if (quoted) return std::nullopt;
  return fields;
}

ReadResult ReadMovieLensItems(const std::string& movies_path, const std::string& tags_path,
                              ReplayInput* out) {
  std::unordered_map<std::string, std::vector<std::string>> tags;
  if (!tags_path.empty()) {
    auto bytes = ReadFile(tags_path);
    if (!bytes) return Fail(std::move(bytes).error());
    if (std::string e = CheckHeader(tags_path, *bytes, "userId,movieId,tag,timestamp");
        !e.empty()) {
      return Fail(std::move(e));
    }
    ForEachLine(*bytes, [&](std::size_t no, std::string_view line) {
      if (no == 1 || line.empty()) return;
      const auto fields = SplitCsvRecord(line);
      if (!fields || fields->size() != 4 || !ValidId((*fields)[1]) || (*fields)[2].empty() ||
          (*fields)[2].size() > kMaxStringBytes || !IsValidUtf8((*fields)[2])) {
        out->Reject(Where(tags_path, no) + ": not a userId,movieId,tag,timestamp record");
        return;
      }
      std::vector<std::string>& list = tags[(*fields)[1]];
      if (list.size() < kMaxTags / 2 &&
          std::find(list.begin(), list.end(), (*fields)[2]) == list.end()) {
        list.push_back((*fields)[2]);
      }
    });
  }
  auto bytes = ReadFile(movies_path);
  if (!bytes) return Fail(std::move(bytes).error());
  if (std::string e = CheckHeader(movies_path, *bytes, "movieId,title,genres"); !e.empty()) {
    return Fail(std::move(e));
  }
  std::size_t read = 0;
  ForEachLine(*bytes, [&](std::size_t no, std::string_view line) {
    if (no == 1 || line.empty()) return;
    const auto fields = SplitCsvRecord(line);
    if (!fields || fields->size() != 3 || !ValidId((*fields)[0]) ||
        (*fields)[1].size() > kMaxStringBytes || !IsValidUtf8((*fields)[1]) ||
        !IsValidUtf8((*fields)[2])) {
      out->Reject(Where(movies_path, no) + ": not a movieId,title,genres record");
      return;
    }
    ItemRecord item;
    item.item = ItemId((*fields)[0]);
    item.text = (*fields)[1];
    item.ts = YearOfTitle((*fields)[1]);
    if ((*fields)[2] != "(no genres listed)") {
      std::string_view genres = (*fields)[2];
      while (!genres.empty() && item.tags.size() < kMaxTags / 2) {
        const std::size_t bar = genres.find('|');
        const std::string_view genre = genres.substr(0, bar);
        if (!genre.empty()) item.tags.emplace_back(genre);
        genres = bar == std::string_view::npos ? std::string_view() : genres.substr(bar + 1);
      }
      if (!item.tags.empty()) item.cat = item.tags.front();
    }
    if (auto it = tags.find((*fields)[0]); it != tags.end()) {
      item.tags.insert(item.tags.end(), it->second.begin(), it->second.end());
    }
    out->items.push_back(std::move(item));
    ++read;
  });
  return read;
}

ReadResult ReadMovieLensRatings(const std::string& ratings_path, const EventTypeTable& types,
                                ReplayInput* out) {
  const std::optional<EventTypeId> rating = types.Find("rating");
  if (!rating) return Fail(std::string("the event type table has no \"rating\" type"));
  auto bytes = ReadFile(ratings_path);
  if (!bytes) return Fail(std::move(bytes).error());
  if (std::string e = CheckHeader(ratings_path, *bytes, "userId,movieId,rating,timestamp");
      !e.empty()) {
    return Fail(std::move(e));
  }
  std::size_t read = 0;
  ForEachLine(*bytes, [&](std::size_t no, std::string_view line) {
    if (no == 1 || line.empty()) return;
    const auto fields = SplitCsvRecord(line);
    double value = 0;
    std::int64_t seconds = 0;
    if (!fields || fields->size() != 4 || !ValidId((*fields)[0]) || !ValidId((*fields)[1]) ||
        !ParseNumber((*fields)[2], &value) || !std::isfinite(value) ||
        !ParseNumber((*fields)[3], &seconds) || seconds < kMinTimestampMs / 1000 ||
        seconds > kMaxTimestampMs / 1000) {
      out->Reject(Where(ratings_path, no) +
                  ": not a userId,movieId,rating,timestamp record (ids are integers, the "
                  "rating a number, the timestamp seconds between 1970 and 2100)");
      return;
    }
    Event event;
    event.type = *rating;
    event.user = UserId((*fields)[0]);
    event.item = ItemId((*fields)[1]);
    event.ts = TimestampMs{seconds * 1000};
    event.value = value;
    out->events.push_back(std::move(event));
    ++read;
  });
  return read;
}

std::optional<std::size_t> MsgpackValueEnd(std::string_view bytes, std::size_t offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t size = bytes.size();
  std::size_t pos = offset;
  std::uint64_t pending = 1;  // values still to skip (an array or map adds its elements)
  const auto be = [&](std::size_t at, int n) -> std::optional<std::uint64_t> {
    if (at + static_cast<std::size_t>(n) > size) return std::nullopt;
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | p[at + static_cast<std::size_t>(i)];
    return v;
  };
  while (pending > 0) {
    if (pos >= size) return std::nullopt;
    const unsigned char b = p[pos];
    --pending;
    std::uint64_t skip = 0;    // payload bytes after the header
    std::uint64_t header = 1;  // header bytes, the type byte included
    std::uint64_t children = 0;
    int len_bytes = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
      // fixint, nil, bool: the type byte is the whole value
    } else if (b >= 0x80 && b <= 0x8f) {
      children = 2ULL * (b & 0x0f);
    } else if (b >= 0x90 && b <= 0x9f) {
      children = b & 0x0f;
    } else if (b >= 0xa0 && b <= 0xbf) {
      skip = b & 0x1f;
    } else {
      switch (b) {
        case 0xc4:
        case 0xd9:
          len_bytes = 1;
          break;  // bin8, str8
        case 0xc5:
        case 0xda:
          len_bytes = 2;
          break;  // bin16, str16
        case 0xc6:
        case 0xdb:
          len_bytes = 4;
          break;  // bin32, str32
        case 0xc7:
          len_bytes = 1;
          skip = 1;
          break;  // ext8 (+ type byte)
        case 0xc8:
          len_bytes = 2;
          skip = 1;
          break;  // ext16
        case 0xc9:
          len_bytes = 4;
          skip = 1;
          break;  // ext32
        case 0xca:
          skip = 4;
          break;
        case 0xcb:
          skip = 8;
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xd4:
          skip = 2;
          break;  // fixext1..16 (+ type byte)
        case 0xd5:
          skip = 3;
          break;
        case 0xd6:
          skip = 5;
          break;
        case 0xd7:
          skip = 9;
          break;
        case 0xd8:
          skip = 17;
          break;
        case 0xdc:
        case 0xdd: {  // array16, array32
          const int n = b == 0xdc ? 2 : 4;
          const auto count = be(pos + 1, n);
          if (!count) return std::nullopt;
          children = *count;
          header += static_cast<std::uint64_t>(n);
          break;
        }
        case 0xde:
        case 0xdf: {  // map16, map32
          const int n = b == 0xde ? 2 : 4;
          const auto count = be(pos + 1, n);
          if (!count) return std::nullopt;
          children = 2 * *count;
          header += static_cast<std::uint64_t>(n);
          break;
        }
        default:
          return std::nullopt;  // 0xc1: never used
      }
    }
    if (len_bytes > 0) {
      const auto len = be(pos + 1, len_bytes);
      if (!len) return std::nullopt;
      header += static_cast<std::uint64_t>(len_bytes);
      skip += *len;
    }
    if (header + skip > size - pos) return std::nullopt;
    pos += static_cast<std::size_t>(header + skip);
    // Every child takes at least one byte: a count beyond the bytes left is a truncation.
    if (children > size - pos + pending) return std::nullopt;
    pending += children;
  }
  return pos;
}

namespace {

// Reads a file a piece at a time into a buffer that holds the piece being parsed: a catalog file
// of a million items (some 300 MB) is never in memory whole, and the buffer stays in cache.
class PieceReader {
 public:
  static constexpr std::size_t kPiece = 1 << 20;

  explicit PieceReader(const std::string& path) : in_(path, std::ios::binary) {}
  bool IsOpen() const { return static_cast<bool>(in_); }
  bool Bad() const { return in_.bad(); }

  // The bytes read and not yet consumed.
  std::string_view Pending() const { return {buf_.data() + begin_, end_ - begin_}; }
  // The file offset of Pending()'s first byte.
  std::uint64_t Offset() const { return base_ + begin_; }
  void Consume(std::size_t n) { begin_ += n; }
  // Reads more after Pending() (moved to the buffer's front; the buffer grows when Pending()
  // fills it); false at the end of the file or on a read error.
  bool More() {
    if (eof_) return false;
    if (begin_ > 0) {
      std::copy(buf_.begin() + static_cast<std::ptrdiff_t>(begin_),
                buf_.begin() + static_cast<std::ptrdiff_t>(end_), buf_.begin());
      base_ += begin_;
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - end_ < kPiece / 2) buf_.resize(std::max(kPiece, 2 * buf_.size()));
    in_.read(buf_.data() + end_, static_cast<std::streamsize>(buf_.size() - end_));
    const auto got = static_cast<std::size_t>(in_.gcount());
    end_ += got;
    if (!in_) eof_ = true;  // the end of the file, or an error (Bad())
    return got > 0 || !eof_;
  }

 private:
  std::ifstream in_;
  std::vector<char> buf_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::uint64_t base_ = 0;
  bool eof_ = false;
};

// Calls decode(where, record bytes) for every record of a JSON-lines or msgpack stream file;
// where() names the record's place in the file ("path:line" or "path:@offset"), for an error.
template <class F>
ReadResult ForEachRecord(const std::string& path, RecordFormat format, F&& decode) {
  PieceReader file(path);
  if (!file.IsOpen()) return Fail(path + ": cannot open");
  std::size_t records = 0;
  if (format == RecordFormat::kJsonLines) {
    std::size_t line_no = 0;
    for (bool more = file.More();;) {
      const std::string_view bytes = file.Pending();
      const std::size_t nl = bytes.find('\n');
      if (nl == std::string_view::npos && more) {
        more = file.More();
        continue;
      }
      if (bytes.empty()) break;
      std::string_view line = bytes.substr(0, nl);
      file.Consume(nl == std::string_view::npos ? bytes.size() : nl + 1);
      if (line.ends_with('\r')) line.remove_suffix(1);
      ++line_no;
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      ++records;
      decode([&] { return Where(path, line_no); }, line);
    }
  } else {
    for (bool more = file.More();;) {
      const std::string_view bytes = file.Pending();
      const std::optional<std::size_t> end =
          bytes.empty() ? std::nullopt : MsgpackValueEnd(bytes, 0);
      if (!end && more) {
        more = file.More();
        continue;
      }
      if (bytes.empty()) break;
      const std::uint64_t offset = file.Offset();
      if (!end) {
        return Fail(path + ":@" + std::to_string(offset) +
                    ": the msgpack stream is cut or broken here; " + std::to_string(records) +
                    " records before it were read");
      }
      ++records;
      decode([&] { return path + ":@" + std::to_string(offset); }, bytes.substr(0, *end));
      file.Consume(*end);
    }
  }
  if (file.Bad()) return Fail(path + ": read error");
  return records;
}

}  // namespace

ReadResult ReadEventRecords(const std::string& path, RecordFormat format,
                            const EventTypeTable& types, ReplayInput* out) {
  return ForEachRecord(path, format, [&](const auto& where, std::string_view record) {
    DecodeResult<Event> event = DecodeEvent(record, types);
    if (!event) {
      out->Reject(DecodeProblem(where(), event.error()));
      return;
    }
    out->events.push_back(std::move(event).value());
  });
}

ReadResult ReadItemRecords(const std::string& path, RecordFormat format, std::size_t embedding_dim,
                           ReplayInput* out) {
  return ReadItemRecords(path, format, embedding_dim, out,
                         [out](ItemRecord&& item) { out->items.push_back(std::move(item)); });
}

ReadResult ReadItemRecords(const std::string& path, RecordFormat format, std::size_t embedding_dim,
                           ReplayInput* out, const std::function<void(ItemRecord&&)>& sink) {
  return ForEachRecord(path, format, [&](const auto& where, std::string_view record) {
    DecodeResult<ItemRecord> item = DecodeItem(record, embedding_dim);
    if (!item) {
      out->Reject(DecodeProblem(where(), item.error()));
      return;
    }
    sink(std::move(item).value());
  });
}

}  // namespace recsd::stream
