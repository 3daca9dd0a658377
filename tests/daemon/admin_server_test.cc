#include "daemon/admin/admin_server.h"

#include <condition_variable>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>

#include "daemon/base/logging.h"

namespace recsd::daemon {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Sends `request` as is and returns everything the server answers before it closes.
std::string Exchange(std::uint16_t port, const std::string& request) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(socket, asio::buffer(request));
  std::string response;
  boost::system::error_code ec;
  std::array<char, 4096> buf{};
  while (true) {
    const std::size_t n = socket.read_some(asio::buffer(buf), ec);
    response.append(buf.data(), n);
    if (ec) break;
  }
  return response;
}

std::string Get(std::uint16_t port, const std::string& target) {
  return Exchange(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
}

struct Server {
  explicit Server(bool ready) {
    AdminServer::Handlers h;
    h.metrics = [] { return std::string("recsd_up 1\n"); };
    h.readiness = [ready] {
      return std::vector<AdminServer::Check>{{"catalog", true, ""},
                                             {"assignment", ready, ready ? "" : "waiting"}};
    };
    auto s = AdminServer::Start("127.0.0.1:0", std::move(h));
    EXPECT_TRUE(s) << s.error();
    server = std::move(s).value();
  }
  std::unique_ptr<AdminServer> server;
};

TEST(AdminServerTest, ServesMetricsLivenessAndReadiness) {
  Server s(/*ready=*/true);
  const std::uint16_t port = s.server->port();
  ASSERT_NE(port, 0);
  const std::string metrics = Get(port, "/metrics");
  EXPECT_EQ(metrics.rfind("HTTP/1.1 200", 0), 0U) << metrics;
  EXPECT_NE(metrics.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(metrics.find("\r\n\r\nrecsd_up 1\n"), std::string::npos) << metrics;
  EXPECT_EQ(Get(port, "/livez").rfind("HTTP/1.1 200", 0), 0U);
  const std::string ready = Get(port, "/readyz?verbose");
  EXPECT_EQ(ready.rfind("HTTP/1.1 200", 0), 0U) << ready;
  EXPECT_NE(ready.find("[+] catalog\n[+] assignment\nready"), std::string::npos) << ready;
}

TEST(AdminServerTest, ReadinessIs503WithTheFailingCheck) {
  Server s(/*ready=*/false);
  const std::string ready = Get(s.server->port(), "/readyz");
  EXPECT_EQ(ready.rfind("HTTP/1.1 503", 0), 0U) << ready;
  EXPECT_NE(ready.find("[-] assignment: waiting"), std::string::npos) << ready;
  EXPECT_EQ(ready.find("[+] catalog"), std::string::npos) << ready;  // only with ?verbose
}

TEST(AdminServerTest, BadRequestsGet4xxAndTheServerKeepsServing) {
  Server s(/*ready=*/true);
  const std::uint16_t port = s.server->port();
  EXPECT_EQ(Get(port, "/nope").rfind("HTTP/1.1 404", 0), 0U);
  EXPECT_EQ(Exchange(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                .rfind("HTTP/1.1 405", 0),
            0U);
  EXPECT_EQ(Exchange(port, "GARBAGE\r\n\r\n").rfind("HTTP/1.1 400", 0), 0U);
  const std::string huge =
      "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_EQ(Exchange(port, huge).rfind("HTTP/1.1 400", 0), 0U);
  EXPECT_EQ(Get(port, "/livez").rfind("HTTP/1.1 200", 0), 0U);  // still serving
}

// An API that echoes the path, or waits until released (to show /livez never waits for it).
struct ApiServer {
  explicit ApiServer(std::string token) {
    AdminServer::Handlers h;
    h.api = [this](std::string_view path) {
      std::unique_lock lock(mu);
      cv.wait(lock, [this] { return !hold; });
      return AdminServer::Response{200, "{\"path\":\"" + std::string(path) + "\"}"};
    };
    h.token = std::move(token);
    auto s = AdminServer::Start("127.0.0.1:0", std::move(h));
    EXPECT_TRUE(s) << s.error();
    server = std::move(s).value();
  }
  void Release() {
    {
      std::lock_guard lock(mu);
      hold = false;
    }
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false;
  std::unique_ptr<AdminServer> server;
};

TEST(AdminServerTest, ApiAnswersJsonAndNeedsTheBearerTokenWhenSet) {
  ApiServer s("s3cret");
  const std::uint16_t port = s.server->port();
  const std::string open = Get(port, "/v1/users/u%201?x=1");
  EXPECT_EQ(open.rfind("HTTP/1.1 401", 0), 0U) << open;
  EXPECT_NE(open.find("WWW-Authenticate: Bearer"), std::string::npos) << open;
  const auto with = [&](const std::string& auth) {
    return Exchange(
        port, "GET /v1/users/u%201?x=1 HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth + "\r\n\r\n");
  };
  EXPECT_EQ(with("Bearer wrong").rfind("HTTP/1.1 401", 0), 0U);
  EXPECT_EQ(with("Bearer s3cre").rfind("HTTP/1.1 401", 0), 0U);
  const std::string ok = with("Bearer s3cret");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0U) << ok;
  EXPECT_NE(ok.find("Content-Type: application/json"), std::string::npos) << ok;
  EXPECT_NE(ok.find("\r\n\r\n{\"path\":\"/v1/users/u%201\"}"), std::string::npos) << ok;
  // The token guards /v1/ only: probes and scrapes need none.
  EXPECT_EQ(Get(port, "/livez").rfind("HTTP/1.1 200", 0), 0U);
  EXPECT_EQ(
      Exchange(port, "DELETE /v1/users/u HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 405", 0),
      0U);
}

TEST(AdminServerTest, SlowApiRequestsNeverHoldUpProbes) {
  ApiServer s("");
  s.hold = true;
  const std::uint16_t port = s.server->port();
  std::string slow;
  std::thread client([&] { slow = Get(port, "/v1/weights"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(Get(port, "/livez").rfind("HTTP/1.1 200", 0), 0U);  // answered while the API waits
  s.Release();
  client.join();
  EXPECT_EQ(slow.rfind("HTTP/1.1 200", 0), 0U) << slow;
}

// A flood of connections that send nothing (or too slowly) holds at most max_connections file
// descriptors: each new connection beyond closes the oldest, so a probe still gets its answer at
// once. Before, every connection was kept until its 10 s timeout: 1,100 of them exhausted the
// descriptors and /livez timed out.
TEST(AdminServerTest, AFloodOfIdleConnectionsNeverKeepsAProbeOut) {
  AdminServer::Handlers h;
  auto s = AdminServer::Start("127.0.0.1:0", std::move(h), /*max_connections=*/8);
  ASSERT_TRUE(s) << s.error();
  const std::uint16_t port = (*s)->port();
  asio::io_context io;
  std::vector<tcp::socket> idle;
  for (int i = 0; i < 40; ++i) {
    idle.emplace_back(io).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Get(port, "/livez").rfind("HTTP/1.1 200", 0), 0U);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // The oldest idle connections were closed by the server (before it answered the probe), the
  // newest are still open: a read without waiting finds the end, or nothing yet.
  std::size_t closed = 0;
  for (tcp::socket& socket : idle) {
    socket.non_blocking(true);
    boost::system::error_code ec;
    std::array<char, 16> buf{};
    socket.read_some(asio::buffer(buf), ec);
    closed += ec && ec != asio::error::would_block ? 1 : 0;
  }
  EXPECT_GE(closed, 32U);  // 40 idle + the probe, at most 8 open
  EXPECT_LT(closed, 40U);
}

// A failed request is logged with the user's id as a pseudonym (log.raw_ids keeps it). Before,
// the raw id was in the log line.
TEST(AdminServerTest, AFailedRequestIsLoggedWithoutTheUsersId) {
  std::ostringstream out;
  const auto before = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)));
  {
    AdminServer::Handlers h;
    h.api = [](std::string_view) -> AdminServer::Response { throw std::runtime_error("boom"); };
    auto s = AdminServer::Start("127.0.0.1:0", std::move(h));
    ASSERT_TRUE(s) << s.error();
    EXPECT_EQ(Get((*s)->port(), "/v1/users/alice.smith").rfind("HTTP/1.1 500", 0), 0U);
  }
  spdlog::set_default_logger(before);
  EXPECT_EQ(out.str().find("alice.smith"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("/v1/users/" + LoggedId("alice.smith")), std::string::npos) << out.str();
  EXPECT_EQ(LoggedId("alice.smith").rfind("id:", 0), 0U);
  EXPECT_EQ(LoggedId("alice.smith").size(), 15U);
  EXPECT_NE(LoggedId("alice.smith"), LoggedId("alice.smyth"));
  SetRawIdsInLogs(true);
  EXPECT_EQ(LoggedId("alice.smith"), "alice.smith");
  SetRawIdsInLogs(false);
}

TEST(AdminServerTest, ProbeExitsZeroOnlyFor200) {
  Server s(/*ready=*/false);
  const std::string address = "127.0.0.1:" + std::to_string(s.server->port());
  const std::chrono::milliseconds timeout(2000);
  EXPECT_EQ(ProbeCommand(address, "/livez", timeout), 0);
  EXPECT_EQ(ProbeCommand(address, "/readyz", timeout), 1);  // 503
  EXPECT_EQ(ProbeCommand(address, "/nope", timeout), 1);
  EXPECT_EQ(ProbeCommand("no-port", "/livez", timeout), 2);
  EXPECT_EQ(ProbeCommand(address, "livez", timeout), 2);
  const std::uint16_t closed = s.server->port();
  s.server.reset();
  EXPECT_EQ(ProbeCommand("127.0.0.1:" + std::to_string(closed), "/livez", timeout), 1);
}

TEST(AdminServerTest, ABadListenAddressIsAClearError) {
  EXPECT_FALSE(AdminServer::Start("no-port", {}));
  const auto taken = AdminServer::Start("127.0.0.1:0", {});
  ASSERT_TRUE(taken);
  const auto again = AdminServer::Start("127.0.0.1:" + std::to_string((*taken)->port()), {});
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().find("admin.listen"), std::string::npos) << again.error();
}

}  // namespace
}  // namespace recsd::daemon
