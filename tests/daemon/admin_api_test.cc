#include "daemon/admin/admin_api.h"

#include <gtest/gtest.h>

#include "tests/daemon/temp_dir.h"

namespace recsd::daemon {
namespace {

Config WithToken(const std::string& token, const std::string& file) {
  Config c;
  c.admin.token = token;
  c.admin.token_file = file;
  return c;
}

TEST(AdminTokenTest, FromTheConfigOrTheFirstLineOfAFile) {
  const recsd::testing::TempDir dir;
  EXPECT_EQ(AdminToken(WithToken("", "")).value(), "");
  EXPECT_EQ(AdminToken(WithToken("abc", "")).value(), "abc");
  EXPECT_EQ(AdminToken(WithToken("", dir.Write("t", "s3cret \r\nignored\n"))).value(), "s3cret");
}

TEST(AdminTokenTest, BothSetAMissingOrEmptyFileAreErrors) {
  const recsd::testing::TempDir dir;
  const auto both = AdminToken(WithToken("abc", dir.Write("t", "x\n")));
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().find("both"), std::string::npos) << both.error();
  const auto missing = AdminToken(WithToken("", (dir.path() / "nope").string()));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("cannot be read"), std::string::npos) << missing.error();
  const auto empty = AdminToken(WithToken("", dir.Write("e", "\n")));
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().find("no token"), std::string::npos) << empty.error();
}

// Before the pipeline has started (the catalog is loading) the API says so.
TEST(AdminApiTest, AnswersServiceUnavailableWhileStarting) {
  const std::atomic<Pipeline*> none{nullptr};
  const AdminServer::Handlers h = PipelineHandlers(none);
  const AdminServer::Response r = h.api("/v1/weights");
  EXPECT_EQ(r.status, 503U);
  EXPECT_NE(r.body.find("catalog"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace recsd::daemon
