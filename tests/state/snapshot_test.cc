#include "state/snapshot.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model/text_embedder.h"
#include "state/changelog_fence.h"
#include "state/msgpack_writer.h"
#include "tests/daemon/temp_dir.h"

namespace recsd::state {
namespace {

namespace fs = std::filesystem;

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = (dir_ / SnapshotFileName("changelog", 3, 7)).string(); }

  static SnapshotHeader Header(std::uint64_t users) {
    SnapshotHeader h;
    h.topic = "changelog";
    h.partition = 3;
    h.changelog_offset = 1234;
    h.written_ms = 1'700'000'000'000;
    h.users = users;
    h.epoch = 7;
    return h;
  }
  // Records of varied sizes, including ones longer than a one-byte bin length.
  static std::vector<std::string> Records() {
    std::vector<std::string> r;
    for (int i = 0; i < 50; ++i)
      r.push_back(std::string(static_cast<std::size_t>(i * 37), 'a' + i % 26));
    r.push_back(std::string(70'000, 'z'));  // a bin 32 length
    return r;
  }
  void Write(const std::vector<std::string>& records) {
    auto w = SnapshotWriter::Create(path_, Header(records.size()));
    ASSERT_TRUE(w) << w.error();
    for (const std::string& r : records) w->Add(r);
    auto bytes = w->Commit();
    ASSERT_TRUE(bytes) << bytes.error();
    EXPECT_EQ(*bytes, fs::file_size(path_));
  }
  std::string Contents() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void Overwrite(const std::string& bytes) const {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;
  }
  // Reads path_ as changelog [3]; the records seen go to *seen.
  Result<SnapshotHeader, std::string> Read(std::vector<std::string>* seen) const {
    return ReadSnapshot(path_, "changelog", 3, [&](std::string_view r) { seen->emplace_back(r); });
  }

  recsd::testing::TempDir temp_;
  const fs::path& dir_ = temp_.path();
  std::string path_;
};

TEST_F(SnapshotTest, RoundTripsTheHeaderAndEveryRecordInOrder) {
  const auto records = Records();
  Write(records);
  std::vector<std::string> seen;
  const auto h = Read(&seen);
  ASSERT_TRUE(h) << h.error();
  EXPECT_EQ(h->topic, "changelog");
  EXPECT_EQ(h->partition, 3);
  EXPECT_EQ(h->changelog_offset, 1234);
  EXPECT_EQ(h->written_ms, 1'700'000'000'000);
  EXPECT_EQ(h->users, records.size());
  EXPECT_EQ(h->epoch, 7);
  EXPECT_EQ(seen, records);
  // Nothing but the snapshot is left in the directory (the temporary file was renamed).
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

// The epoch in the file name keeps a fenced-off owner's snapshot beside the newer owner's
// instead of over it; the name without an epoch (earlier versions) reads as kNoEpoch.
TEST(SnapshotFileNameTest, CarriesTheEpochAndIsReadBackOnlyForItsTopicAndPartition) {
  EXPECT_EQ(SnapshotFileName("cl", 3, 42), "cl-3.42.snapshot");
  EXPECT_EQ(SnapshotEpochOf("cl-3.42.snapshot", "cl", 3), 42);
  EXPECT_EQ(SnapshotEpochOf("cl-3.snapshot", "cl", 3), kNoEpoch);
  EXPECT_EQ(SnapshotEpochOf("cl-3.42.snapshot", "cl", 4), std::nullopt);
  EXPECT_EQ(SnapshotEpochOf("cl-3.42.snapshot", "c", 3), std::nullopt);
  EXPECT_EQ(SnapshotEpochOf("cl-3.42.snapshot.tmp.99", "cl", 3), std::nullopt);
  EXPECT_EQ(SnapshotEpochOf("cl-3.x.snapshot", "cl", 3), std::nullopt);
  EXPECT_EQ(SnapshotEpochOf("cl-33.snapshot", "cl", 3), std::nullopt);
}

// A changelog read in order: a record counts unless an owner fenced it off before it, by a fence
// record or by a record of its own (the fence record itself may have been compacted away).
TEST(ChangelogFenceTest, SkipsRecordsOfOwnersFencedOffBeforeThem) {
  ChangelogFence fence;
  EXPECT_TRUE(fence.Admit(0));  // the first owner's records
  fence.Fence(10);              // a new owner's fence at offset 10
  EXPECT_FALSE(fence.Admit(0));
  EXPECT_TRUE(fence.Admit(10));
  EXPECT_TRUE(fence.Admit(25));  // a third owner, its fence compacted away
  EXPECT_FALSE(fence.Admit(10));
  fence.Fence(20);  // an older fence read later changes nothing
  EXPECT_EQ(fence.fence(), 25);
  EXPECT_EQ(ParseEpoch("25"), 25);
  EXPECT_EQ(ParseEpoch("-1"), std::nullopt);
  EXPECT_EQ(ParseEpoch("2x"), std::nullopt);
  EXPECT_EQ(ParseEpoch(""), std::nullopt);
}

TEST_F(SnapshotTest, AnEmptySnapshotIsValid) {
  Write({});
  std::vector<std::string> seen;
  const auto h = Read(&seen);
  ASSERT_TRUE(h) << h.error();
  EXPECT_EQ(h->users, 0U);
  EXPECT_TRUE(seen.empty());
}

TEST_F(SnapshotTest, EveryTruncationAndEveryFlippedByteIsDetectedBeforeAnyRecordIsUsed) {
  Write({"alpha", "beta", std::string(300, 'g')});
  const std::string good = Contents();
  for (std::size_t n = 0; n < good.size(); ++n) {
    Overwrite(good.substr(0, n));
    std::vector<std::string> seen;
    EXPECT_FALSE(Read(&seen)) << "truncated to " << n << " bytes";
    EXPECT_TRUE(seen.empty());
  }
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    Overwrite(bad);
    std::vector<std::string> seen;
    const auto h = Read(&seen);
    EXPECT_FALSE(h) << "byte " << i << " flipped";
    EXPECT_TRUE(seen.empty());
  }
}

TEST_F(SnapshotTest, AMissingFileIsAnError) {
  std::vector<std::string> seen;
  const auto h = Read(&seen);
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().find("cannot be opened"), std::string::npos) << h.error();
}

TEST_F(SnapshotTest, ASnapshotOfAnotherPartitionOrTopicIsRejected) {
  Write({"x"});
  std::vector<std::string> seen;
  auto h = ReadSnapshot(path_, "changelog", 4, [&](std::string_view r) { seen.emplace_back(r); });
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().find("holds changelog [3], not changelog [4]"), std::string::npos)
      << h.error();
  h = ReadSnapshot(path_, "other", 3, [&](std::string_view r) { seen.emplace_back(r); });
  EXPECT_FALSE(h);
  EXPECT_TRUE(seen.empty());
}

TEST_F(SnapshotTest, AnotherVersionIsRejectedByName) {
  // A well-formed file of version 2, with a valid checksum.
  std::string body;
  MsgpackWriter w(&body);
  w.Map(7).Key("format").Str("recsd-snapshot").Key("v").Int(2).Key("topic").Str("changelog");
  w.Key("partition").Int(3).Key("changelog_offset").Int(0).Key("written_ms").Int(0);
  w.Key("users").Uint(0);
  const std::uint64_t sum = model::Fnv1a64(body);
  body.push_back(static_cast<char>(0xcf));
  for (int i = 7; i >= 0; --i) body.push_back(static_cast<char>((sum >> (8 * i)) & 0xFF));
  Overwrite(body);
  std::vector<std::string> seen;
  const auto h = Read(&seen);
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().find("version 2 is not supported (this build reads 1)"), std::string::npos)
      << h.error();
}

TEST_F(SnapshotTest, AnUnfinishedWriteLeavesThePreviousSnapshotAndNoTemporaryFile) {
  Write({"old"});
  {
    auto w = SnapshotWriter::Create(path_, Header(2));
    ASSERT_TRUE(w) << w.error();
    w->Add("new");
  }  // destroyed without Commit: a crash mid-write, as far as the directory is concerned
  std::vector<std::string> seen;
  ASSERT_TRUE(Read(&seen));
  EXPECT_EQ(seen, std::vector<std::string>{"old"});
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(SnapshotTest, ACountThatDoesNotMatchTheHeaderFailsTheCommit) {
  Write({"old"});
  auto w = SnapshotWriter::Create(path_, Header(2));
  ASSERT_TRUE(w) << w.error();
  w->Add("only one");
  const auto bytes = w->Commit();
  ASSERT_FALSE(bytes);
  EXPECT_NE(bytes.error().find("promised 2 users, 1 were added"), std::string::npos)
      << bytes.error();
  std::vector<std::string> seen;
  ASSERT_TRUE(Read(&seen));
  EXPECT_EQ(seen, std::vector<std::string>{"old"});
}

TEST_F(SnapshotTest, AnUnwritableDirectoryIsAnErrorNamingThePath) {
  const auto w = SnapshotWriter::Create((dir_ / "missing" / "x.snapshot").string(), Header(0));
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().find("cannot create"), std::string::npos) << w.error();
  EXPECT_NE(w.error().find("missing"), std::string::npos) << w.error();
}

}  // namespace
}  // namespace recsd::state
