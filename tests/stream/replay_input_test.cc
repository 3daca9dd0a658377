#include "stream/replay_input.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stream/item_codec.h"
#include "tests/daemon/temp_dir.h"

namespace recsd::stream {
namespace {

using recsd::testing::TempDir;

TEST(SplitCsvRecordTest, QuotesCommasAndDoubledQuotes) {
  EXPECT_EQ(SplitCsvRecord("1,Alpha (1995),Drama"),
            (std::vector<std::string>{"1", "Alpha (1995)", "Drama"}));
  EXPECT_EQ(SplitCsvRecord(R"x(2,"Beta, The (1996)","say ""hi""",)x"),
            (std::vector<std::string>{"2", "Beta, The (1996)", "say \"hi\"", ""}));
  EXPECT_EQ(SplitCsvRecord(""), (std::vector<std::string>{""}));
  EXPECT_EQ(SplitCsvRecord(R"(1,"open)"), std::nullopt);
}

TEST(MsgpackValueEndTest, FindsTheEndOfEveryKindOfValue) {
  const nlohmann::json values[] = {
      nullptr,
      true,
      5,
      -3,
      200,
      70000,
      1LL << 40,
      -(1LL << 40),
      1.5,
      "short",
      std::string(40, 'x'),
      std::string(300, 'y'),
      std::string(70000, 'z'),
      nlohmann::json::array({1, "a", nlohmann::json::object({{"k", 1}})}),
      nlohmann::json::binary({1, 2, 3}),
      nlohmann::json::binary(std::vector<std::uint8_t>(300)),
  };
  for (const auto& v : values) {
    const auto bytes = nlohmann::json::to_msgpack(v);
    std::string s(bytes.begin(), bytes.end());
    EXPECT_EQ(MsgpackValueEnd(s, 0), s.size()) << v.dump().substr(0, 40);
    EXPECT_EQ(MsgpackValueEnd(s + "\x01", 0), s.size());  // a next value does not count
    EXPECT_EQ(MsgpackValueEnd(s.substr(0, s.size() - 1), 0), std::nullopt);  // cut short
  }
  nlohmann::json big = nlohmann::json::object();
  for (int i = 0; i < 20; ++i) big["k" + std::to_string(i)] = nlohmann::json::array({i, i});
  const auto bytes = nlohmann::json::to_msgpack(big);  // map16 of arrays
  const std::string s(bytes.begin(), bytes.end());
  EXPECT_EQ(MsgpackValueEnd("ab" + s, 2), s.size() + 2);
  EXPECT_EQ(MsgpackValueEnd("\xc1", 0), std::nullopt);  // never used
  EXPECT_EQ(MsgpackValueEnd(std::string("\xdd\xff\xff\xff\xff", 5), 0), std::nullopt);  // huge
  EXPECT_EQ(MsgpackValueEnd(std::string("\xd4\x01\x02", 3), 0), 3U);                    // fixext1
}

TEST(MovieLensTest, ItemsTakeTitleGenresTagsAndTheYear) {
  TempDir dir;
  const std::string movies =
      dir.Write("movies.csv",
                "movieId,title,genres\r\n1,\"Beta, The (1996)\",Drama|Comedy\r\n2,Delta,(no genres "
                "listed)\r\nx,Bad,Drama\r\n");
  const std::string tags =
      dir.Write("tags.csv", "userId,movieId,tag,timestamp\n7,1,noir,5\n8,1,noir,6\n9,1,dark,7\n");
  ReplayInput in;
  const ReadResult r = ReadMovieLensItems(movies, tags, &in);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, 2U);
  ASSERT_EQ(in.items.size(), 2U);
  const ItemRecord& beta = in.items[0];
  EXPECT_EQ(beta.item, ItemId("1"));
  EXPECT_EQ(beta.text, "Beta, The (1996)");
  EXPECT_EQ(beta.cat, "Drama");
  EXPECT_EQ(beta.tags, (std::vector<std::string>{"Drama", "Comedy", "noir", "dark"}));
  EXPECT_EQ(beta.ts, TimestampMs{820'454'400'000});  // 1996-01-01T00:00:00Z
  EXPECT_FALSE(in.items[1].cat.has_value());
  EXPECT_TRUE(in.items[1].tags.empty());
  EXPECT_EQ(in.items[1].ts, TimestampMs{0});
  EXPECT_EQ(in.rejected, 1U);
  ASSERT_EQ(in.problems.size(), 1U);
  EXPECT_NE(in.problems[0].find("movies.csv:4:"), std::string::npos) << in.problems[0];
}

TEST(MovieLensTest, RatingsBecomeRatingEventsInMilliseconds) {
  TempDir dir;
  const std::string ratings = dir.Write(
      "ratings.csv",
      "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,32,abc,1\n2,33,4,99999999999\n");
  ReplayInput in;
  const EventTypeTable types;
  ASSERT_TRUE(ReadMovieLensRatings(ratings, types, &in));
  ASSERT_EQ(in.events.size(), 1U);
  EXPECT_EQ(in.events[0].type, event_type::kRating);
  EXPECT_EQ(in.events[0].user, UserId("1"));
  EXPECT_EQ(in.events[0].item, ItemId("31"));
  EXPECT_EQ(in.events[0].value, 2.5);
  EXPECT_EQ(in.events[0].ts, TimestampMs{1'260'759'144'000});
  EXPECT_EQ(in.rejected, 2U);  // a bad rating, a timestamp past 2100
  const ReadResult missing = ReadMovieLensRatings((dir.path() / "none.csv").string(), types, &in);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("none.csv: cannot open"), std::string::npos);
}

// Record files are read a piece at a time (1 MiB): records that cross a piece's end, one larger
// than a piece, and an error's place after the first piece must come out as from a whole read.
TEST(ReplayInputTest, RecordsAcrossPiecesReadAsFromAWholeFile) {
  TempDir dir;
  const std::string path = (dir.path() / "items.mp").string();
  std::string bytes;
  std::size_t too_large_at = 0;
  constexpr int kItems = 300;  // 300 × ~7.5 KB: about 2.3 MB, over two pieces
  for (int i = 0; i < kItems; ++i) {
    if (i == 150) {  // a record over a piece: a map with a 1.25 MiB string, rejected, then skipped
      too_large_at = bytes.size();
      const auto big = nlohmann::json::to_msgpack(
          nlohmann::json{{"v", 1}, {"item", "big"}, {"text", std::string(5 << 18, 'x')}});
      bytes.append(big.begin(), big.end());
    }
    ItemRecord item;
    item.item = ItemId("i" + std::to_string(i));
    item.text = std::string(7'500 + i, 'a' + static_cast<char>(i % 26));
    item.ts = TimestampMs{1000 + i};
    bytes += EncodeItem(item);
  }
  std::ofstream(path, std::ios::binary) << bytes;
  ReplayInput in;
  const ReadResult read = ReadItemRecords(path, RecordFormat::kMsgpack, 0, &in);
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(*read, std::size_t{kItems} + 1);
  ASSERT_EQ(in.items.size(), std::size_t{kItems});
  for (int i = 0; i < kItems; ++i) {
    EXPECT_EQ(in.items[i].item, ItemId("i" + std::to_string(i)));
    ASSERT_TRUE(in.items[i].text.has_value());
    EXPECT_EQ(in.items[i].text->size(), std::size_t(7'500 + i));
  }
  ASSERT_EQ(in.rejected, 1U);
  EXPECT_EQ(in.problems[0].rfind(path + ":@" + std::to_string(too_large_at) + ": ", 0), 0U)
      << in.problems[0];

  // A stream broken far into the file: the error names the byte and the records before it.
  const std::string broken = (dir.path() / "broken.mp").string();
  std::ofstream(broken, std::ios::binary)
      << bytes.substr(0, too_large_at) << "\xc1" << bytes.substr(too_large_at);
  ReplayInput b;
  const ReadResult cut = ReadItemRecords(broken, RecordFormat::kMsgpack, 0, &b);
  ASSERT_FALSE(cut);
  EXPECT_NE(cut.error().find(broken + ":@" + std::to_string(too_large_at) +
                             ": the msgpack stream is cut or broken here; 150 records"),
            std::string::npos)
      << cut.error();

  // JSON lines across pieces: CRLF and blank lines, line numbers, a last line without "\n".
  const std::string lines = (dir.path() / "events.jsonl").string();
  std::string text;
  constexpr int kLines = 30'001;  // ~2.3 MB
  for (int i = 1; i <= kLines; ++i) {
    if (i == 25'001) {
      text += "{\"v\": 1, \"broken\"\r\n";
    } else if (i % 1000 == 0) {
      text += "  \n";
    } else {
      text += R"({"v":1,"user":"u1","item":"i)" + std::to_string(i) +
              R"(","type":"view","ts":1700000000000,"pad":"......"})";
      text += i % 7 == 0 ? "\r\n" : "\n";
    }
  }
  text.pop_back();  // the last line ends without a newline
  std::ofstream(lines, std::ios::binary) << text;
  const EventTypeTable types;
  ReplayInput e;
  const ReadResult events = ReadEventRecords(lines, RecordFormat::kJsonLines, types, &e);
  ASSERT_TRUE(events) << events.error();
  const std::size_t blank = kLines / 1000;
  EXPECT_EQ(*events, std::size_t{kLines} - blank);
  EXPECT_EQ(e.events.size(), std::size_t{kLines} - blank - 1);
  ASSERT_EQ(e.rejected, 1U);
  EXPECT_EQ(e.problems[0].rfind(lines + ":25001: ", 0), 0U) << e.problems[0];
  EXPECT_EQ(e.events.back().item, ItemId("i" + std::to_string(kLines)));
}

TEST(ReplayInputTest, ItemsGoToTheSinkInFileOrderAndRejectsAreCounted) {
  TempDir dir;
  const std::string path = (dir.path() / "items.jsonl").string();
  std::ofstream(path) << R"({"v":1,"item":"a","ts":1})"
                      << "\n"
                      << R"({"v":1,"item":"b","emb":[1,2]})"
                      << "\n"  // wrong dimension
                      << R"({"v":1,"item":"c","emb":[1,2,3],"ts":3})"
                      << "\n"
                      << R"({"v":1,"item":"d","ts":4})"
                      << "\n";
  ReplayInput in;
  std::vector<ItemRecord> got;
  const ReadResult read = ReadItemRecords(path, RecordFormat::kJsonLines, 3, &in,
                                          [&got](ItemRecord&& item) { got.push_back(item); });
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(*read, 4U);
  ASSERT_EQ(got.size(), 3U);
  EXPECT_EQ(got[0].item, ItemId("a"));
  EXPECT_EQ(got[1].item, ItemId("c"));
  EXPECT_EQ(got[1].emb, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(got[2].item, ItemId("d"));
  EXPECT_TRUE(in.items.empty());  // the sink has them, not the input
  ASSERT_EQ(in.rejected, 1U);
  EXPECT_EQ(in.problems[0].rfind(path + ":2: ", 0), 0U) << in.problems[0];
}

TEST(ReplayInputTest, KeepsAtMostTwentyProblemsButCountsAll) {
  ReplayInput in;
  for (int i = 0; i < 30; ++i) in.Reject("p" + std::to_string(i));
  EXPECT_EQ(in.rejected, 30U);
  EXPECT_EQ(in.problems.size(), ReplayInput::kMaxProblems);
}

}  // namespace
}  // namespace recsd::stream
