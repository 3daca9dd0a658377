#include "state/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <system_error>
#include <utility>
#include <vector>

#include "model/text_embedder.h"
#include "state/changelog_fence.h"
#include "state/msgpack_reader.h"
#include "state/msgpack_writer.h"

namespace recsd::state {
namespace {

constexpr std::string_view kFormat = "recsd-snapshot";
constexpr std::size_t kTrailerBytes = 9;            // 0xcf and a big-endian uint64
constexpr std::size_t kBufferBytes = 1U << 20;      // written out when this full
constexpr std::size_t kMaxHeaderBytes = 64U << 10;  // a header is a few dozen bytes

// Pieces appended, not `"literal" + std::string`: GCC 12 at -O3 warns falsely (-Wrestrict) on that.
std::string Cat(std::initializer_list<std::string_view> pieces) {
  std::string out;
  for (std::string_view p : pieces) out.append(p);
  return out;
}
std::string Errno(std::string_view what, const std::string& path) {
  return Cat({what, " ", path, ": ", std::error_code(errno, std::generic_category()).message()});
}

// Every byte of `bytes` written, through short writes and EINTR.
bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string Problem(const std::string& path, std::string_view why) {
  return Cat({"snapshot ", path, ": ", why});
}

}  // namespace

std::string SnapshotFileName(std::string_view topic, std::int32_t partition, std::int64_t epoch) {
  std::string out(topic);
  out.append("-").append(std::to_string(partition)).append(".");
  if (epoch >= 0) out.append(std::to_string(epoch)).append(".");
  out.append("snapshot");
  return out;
}

std::optional<std::int64_t> SnapshotEpochOf(std::string_view name, std::string_view topic,
                                            std::int32_t partition) {
  std::string prefix(topic);
  prefix.append("-").append(std::to_string(partition)).append(".");
  constexpr std::string_view kSuffix = "snapshot";
  if (!name.starts_with(prefix) || !name.ends_with(kSuffix)) return std::nullopt;
  std::string_view middle =
      name.substr(prefix.size(), name.size() - prefix.size() - kSuffix.size());
  if (middle.empty()) return kNoEpoch;
  if (!middle.ends_with('.')) return std::nullopt;
  middle.remove_suffix(1);
  return ParseEpoch(middle);
}

SnapshotWriter::SnapshotWriter(std::string path, std::string tmp_path, int fd)
    : path_(std::move(path)), tmp_path_(std::move(tmp_path)), fd_(fd), hash_(model::kFnv1a64Basis) {
  buffer_.reserve(kBufferBytes);
}

SnapshotWriter::SnapshotWriter(SnapshotWriter&& other) noexcept
    : path_(std::move(other.path_)),
      tmp_path_(std::move(other.tmp_path_)),
      fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      hash_(other.hash_),
      bytes_(other.bytes_),
      expected_(other.expected_),
      added_(other.added_),
      error_(std::move(other.error_)) {}

SnapshotWriter::~SnapshotWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
  }
}

Result<SnapshotWriter, std::string> SnapshotWriter::Create(const std::string& path,
                                                           const SnapshotHeader& header) {
  // The process id keeps two writers of one path (two instances sharing a directory by mistake)
  // off each other's temporary file; the rename decides which snapshot stays.
  std::string tmp = path;
  tmp.append(".tmp.").append(std::to_string(::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(Errno("cannot create", tmp));
  SnapshotWriter w(path, std::move(tmp), fd);
  w.expected_ = header.users;
  std::string head;
  MsgpackWriter m(&head);
  m.Map(8);
  m.Key("format").Str(kFormat);
  m.Key("v").Int(kSnapshotVersion);
  m.Key("topic").Str(header.topic);
  m.Key("partition").Int(header.partition);
  m.Key("changelog_offset").Int(header.changelog_offset);
  m.Key("written_ms").Int(header.written_ms);
  m.Key("users").Uint(header.users);
  m.Key("epoch").Int(header.epoch);
  w.Write(head);
  return w;
}

void SnapshotWriter::Write(std::string_view bytes) {
  hash_ = model::Fnv1a64(bytes, hash_);
  bytes_ += bytes.size();
  buffer_.append(bytes);
  if (buffer_.size() >= kBufferBytes) Drain();
}

void SnapshotWriter::Drain() {
  if (error_.empty() && !WriteAll(fd_, buffer_)) error_ = Errno("cannot write", tmp_path_);
  buffer_.clear();
}

void SnapshotWriter::Add(std::string_view record) {
  ++added_;
  std::string bin;
  MsgpackWriter(&bin).Bin(record);
  Write(bin);
}

Result<std::uint64_t, std::string> SnapshotWriter::Commit() {
  if (fd_ < 0) return Fail(std::string("snapshot writer already committed"));
  if (added_ != expected_) {
    error_ = Cat({"the header promised ", std::to_string(expected_), " users, ",
                  std::to_string(added_), " were added"});
  }
  char trailer[kTrailerBytes] = {static_cast<char>(0xcf)};
  for (int i = 0; i < 8; ++i) trailer[1 + i] = static_cast<char>((hash_ >> (8 * (7 - i))) & 0xFF);
  buffer_.append(trailer, sizeof(trailer));
  bytes_ += sizeof(trailer);
  Drain();
  if (error_.empty() && ::fsync(fd_) != 0) error_ = Errno("cannot fsync", tmp_path_);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && error_.empty()) error_ = Errno("cannot close", tmp_path_);
  if (error_.empty() && std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    error_ = Errno(Cat({"cannot rename to ", path_, ":"}), tmp_path_);
  }
  if (!error_.empty()) {
    ::unlink(tmp_path_.c_str());
    return Fail(error_);
  }
  // The rename is durable once the directory is.
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return bytes_;
}

Result<SnapshotHeader, std::string> ReadSnapshot(
    const std::string& path, std::string_view topic, std::int32_t partition,
    const std::function<void(std::string_view record)>& record) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(Problem(path, "cannot be opened"));
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Fail(Problem(path, "cannot be read"));
  if (bytes.size() < kTrailerBytes + 1) return Fail(Problem(path, "truncated (no trailer)"));
  const std::string_view body(bytes.data(), bytes.size() - kTrailerBytes);
  const std::string_view trailer(bytes.data() + body.size(), kTrailerBytes);
  std::uint64_t stored = 0;
  for (std::size_t i = 1; i < kTrailerBytes; ++i) {
    stored = (stored << 8) | static_cast<unsigned char>(trailer[i]);
  }
  if (static_cast<unsigned char>(trailer[0]) != 0xcf || stored != model::Fnv1a64(body)) {
    return Fail(Problem(path, "checksum mismatch (truncated or corrupt)"));
  }
  SnapshotHeader header;
  std::size_t offset = 0;
  try {
    const msgpack::unpack_limit limits(64, 64, 1 << 10, 1 << 10, 1 << 10, 4);
    const msgpack::object_handle h = msgpack::unpack(
        body.data(), std::min(body.size(), kMaxHeaderBytes), offset, nullptr, nullptr, limits);
    const msgpack::object& root = h.get();
    if (root.type != msgpack::type::MAP) return Fail(Problem(path, "the header is not a map"));
    Reader r{root, {}};
    const auto* format = r.Need("format", msgpack::type::STR);
    if (format != nullptr && Str(*format) != kFormat) {
      return Fail(Problem(path, "not a recsd snapshot"));
    }
    const auto* v = r.Need("v", msgpack::type::POSITIVE_INTEGER);
    if (v != nullptr && v->via.u64 != static_cast<std::uint64_t>(kSnapshotVersion)) {
      return Fail(Problem(
          path, Cat({"version ", std::to_string(v->via.u64), " is not supported (this build reads ",
                     std::to_string(kSnapshotVersion), ")"})));
    }
    const auto* t = r.Need("topic", msgpack::type::STR);
    const auto* p = r.Need("partition", msgpack::type::POSITIVE_INTEGER);
    const auto* o = r.Need("changelog_offset", msgpack::type::POSITIVE_INTEGER);
    const auto* w = r.Need("written_ms", msgpack::type::POSITIVE_INTEGER);
    const auto* u = r.Need("users", msgpack::type::POSITIVE_INTEGER);
    if (!r.error.empty()) return Fail(Problem(path, Cat({"header: ", r.error})));
    header.topic = *Str(*t);
    header.partition = static_cast<std::int32_t>(p->via.u64);
    header.changelog_offset = *Int(*o);
    header.written_ms = *Int(*w);
    header.users = u->via.u64;
    if (const auto* e = r.Find("epoch")) {
      const std::optional<std::int64_t> epoch = Int(*e);
      if (!epoch) return Fail(Problem(path, "header: epoch is not an integer"));
      header.epoch = *epoch;
    }
  } catch (const std::exception& e) {
    return Fail(Problem(path, Cat({"header: not msgpack: ", e.what()})));
  }
  if (header.topic != topic || header.partition != partition) {
    return Fail(Problem(path, Cat({"holds ", header.topic, " [", std::to_string(header.partition),
                                   "], not ", topic, " [", std::to_string(partition), "]"})));
  }
  // The records: each a bin. Checked in full before any is handed out.
  std::vector<std::string_view> records;
  records.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(header.users, body.size())));
  while (offset < body.size()) {
    const auto marker = static_cast<unsigned char>(body[offset]);
    std::size_t len_bytes = 0;
    if (marker == 0xc4) len_bytes = 1;
    if (marker == 0xc5) len_bytes = 2;
    if (marker == 0xc6) len_bytes = 4;
    if (len_bytes == 0 || offset + 1 + len_bytes > body.size()) {
      return Fail(Problem(path, Cat({"record ", std::to_string(records.size()), " is not a bin"})));
    }
    std::size_t len = 0;
    for (std::size_t i = 0; i < len_bytes; ++i) {
      len = (len << 8) | static_cast<unsigned char>(body[offset + 1 + i]);
    }
    const std::size_t start = offset + 1 + len_bytes;
    if (len > body.size() - start) {
      return Fail(Problem(path, Cat({"record ", std::to_string(records.size()), " is cut short"})));
    }
    records.emplace_back(body.data() + start, len);
    offset = start + len;
  }
  if (records.size() != header.users) {
    return Fail(Problem(path, Cat({"the header promises ", std::to_string(header.users),
                                   " users, the file holds ", std::to_string(records.size())})));
  }
  for (std::string_view r : records) record(r);
  return header;
}

}  // namespace recsd::state
