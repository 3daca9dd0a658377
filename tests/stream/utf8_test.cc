#include "stream/utf8.h"

#include <gtest/gtest.h>

namespace recsd::stream {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9"));                // é, 2 bytes
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));               // €, 3 bytes
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x8e\xac"));           // 🎬, 4 bytes
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));           // U+10FFFF, the last code point
  EXPECT_TRUE(IsValidUtf8(std::string_view("a\0b", 3)));  // NUL is a code point
}

TEST(Utf8Test, RejectsMalformedText) {
  EXPECT_FALSE(IsValidUtf8("\x80"));              // continuation byte first
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated 2-byte sequence
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated 3-byte sequence
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong, 3 bytes
  EXPECT_FALSE(IsValidUtf8("\xf0\x80\x80\xaf"));  // overlong, 4 bytes
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // UTF-16 surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xff"));              // never valid
  EXPECT_FALSE(IsValidUtf8("\xc3\x28"));          // bad continuation
  EXPECT_FALSE(IsValidUtf8("\xe2\x82\x28"));      // bad third byte
}

}  // namespace
}  // namespace recsd::stream
