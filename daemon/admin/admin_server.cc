#include "daemon/admin/admin_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "daemon/base/logging.h"
#include "daemon/base/rate_limited_warnings.h"

namespace recsd::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kMaxRequestBytes = std::size_t{8} * 1024;
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr int kMaxApiRequests = 16;

// Compares in time independent of where the strings differ (a token must not leak by timing).
bool SameSecret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

std::string_view PathOf(const http::request<http::string_body>& req) {
  const std::string_view target(req.target().data(), req.target().size());
  return target.substr(0, target.find('?'));
}

// A request path for a log line: the id in /v1/users/{id} and /v1/recommendations/{id} as
// LoggedId shows it.
std::string LoggedPath(std::string_view path) {
  for (const std::string_view prefix : {"/v1/users/", "/v1/recommendations/"}) {
    if (path.starts_with(prefix)) {
      return std::string(prefix) + LoggedId(path.substr(prefix.size()));
    }
  }
  return std::string(path);
}

std::string_view Authorization(const http::request<http::string_body>& req) {
  const auto value = req[http::field::authorization];
  return {value.data(), value.size()};
}

bool IsApi(const http::request<http::string_body>& req) { return PathOf(req).starts_with("/v1/"); }

http::response<http::string_body> JsonResponse(const http::request<http::string_body>& req,
                                               AdminServer::Response r) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(false);
  res.set(http::field::server, "recsd");
  res.set(http::field::content_type, "application/json");
  res.result(static_cast<http::status>(r.status));
  res.body() = std::move(r.body);
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

// The answer to a /v1/ request that may not reach `api`: the method, the token.
std::optional<http::response<http::string_body>> ApiPrecheck(
    const http::request<http::string_body>& req, const AdminServer::Handlers& handlers) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = JsonResponse(req, {405, R"({"error":"method not allowed"})"});
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  if (!handlers.token.empty() && !SameSecret(Authorization(req), "Bearer " + handlers.token)) {
    auto res =
        JsonResponse(req, {401, R"j({"error":"a bearer token is required (admin.token)"})j"});
    res.set(http::field::www_authenticate, "Bearer realm=\"recsd\"");
    return res;
  }
  if (!handlers.api) return JsonResponse(req, {404, R"({"error":"not found"})"});
  return std::nullopt;
}

http::response<http::string_body> ApiResponse(const http::request<http::string_body>& req,
                                              const AdminServer::Handlers& handlers) {
  try {
    return JsonResponse(req, handlers.api(PathOf(req)));
  } catch (const std::exception& e) {
    spdlog::error("admin: {} failed: {}", LoggedPath(PathOf(req)), e.what());
    return JsonResponse(req, {500, R"({"error":"internal error"})"});
  }
}

http::response<http::string_body> Respond(const http::request<http::string_body>& req,
                                          const AdminServer::Handlers& handlers) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(false);
  res.set(http::field::server, "recsd");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = PathOf(req);
  const std::string_view query =
      target.find('?') == std::string_view::npos ? "" : target.substr(target.find('?') + 1);
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET, HEAD");
    res.body() = "method not allowed\n";
  } else if (path == "/metrics") {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = handlers.metrics ? handlers.metrics() : std::string();
  } else if (path == "/livez") {
    res.result(http::status::ok);
    res.body() = "ok\n";
  } else if (path == "/readyz") {
    const std::vector<AdminServer::Check> checks =
        handlers.readiness ? handlers.readiness() : std::vector<AdminServer::Check>{};
    bool ready = true;
    std::string body;
    for (const auto& c : checks) {
      ready = ready && c.ok;
      if (!c.ok || query == "verbose") {
        body.append(c.ok ? "[+] " : "[-] ").append(c.name);
        if (!c.detail.empty()) body.append(": ").append(c.detail);
        body.append("\n");
      }
    }
    res.result(ready ? http::status::ok : http::status::service_unavailable);
    res.body() = body + (ready ? "ready\n" : "not ready\n");
  } else {
    res.result(http::status::not_found);
    res.body() = "not found\n";
  }
  if (req.method() == http::verb::head) {
    res.prepare_payload();
    res.body().clear();
    return res;
  }
  res.prepare_payload();
  return res;
}

// One connection: read one request, answer, close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const AdminServer::Handlers& handlers, asio::thread_pool& api,
          std::atomic<int>& api_requests)
      : stream_(std::move(socket)), handlers_(handlers), api_(api), api_requests_(api_requests) {}

  void Run() {
    parser_.body_limit(kMaxRequestBytes);
    parser_.header_limit(kMaxRequestBytes);
    stream_.expires_after(kRequestTimeout);
    http::async_read(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout) return Close();
    if (ec) {
      // Malformed or too large: a 400 and the connection closed.
      response_.result(http::status::bad_request);
      response_.set(http::field::content_type, "text/plain; charset=utf-8");
      response_.keep_alive(false);
      response_.body() = "bad request: " + ec.message() + "\n";
      response_.prepare_payload();
    } else if (IsApi(parser_.get())) {
      if (auto early = ApiPrecheck(parser_.get(), handlers_)) {
        response_ = std::move(*early);
      } else if (api_requests_.fetch_add(1) >= kMaxApiRequests) {
        api_requests_.fetch_sub(1);
        response_ = JsonResponse(parser_.get(), {503, R"({"error":"too many requests"})"});
      } else {
        // Off the I/O thread: the answer may wait for workers.
        asio::post(api_, [self = shared_from_this()] {
          auto res = ApiResponse(self->parser_.get(), self->handlers_);
          self->api_requests_.fetch_sub(1);
          asio::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable {
            self->response_ = std::move(res);
            self->Write();
          });
        });
        return;
      }
    } else {
      response_ = Respond(parser_.get(), handlers_);
    }
    Write();
  }
  void Write() {
    stream_.expires_after(kRequestTimeout);
    http::async_write(
        stream_, response_,
        [self = shared_from_this()](beast::error_code, std::size_t) { self->Close(); });
  }
  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

 public:
  // Closes the connection at once, whatever it is doing (the server's I/O thread).
  void Abort() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> response_;
  const AdminServer::Handlers& handlers_;
  asio::thread_pool& api_;
  std::atomic<int>& api_requests_;
};

}  // namespace

struct AdminServer::Impl {
  Handlers handlers;
  asio::thread_pool api{2};  // /v1/ requests, which may wait for workers
  std::atomic<int> api_requests{0};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer retry{io};
  std::thread thread;
  std::size_t max_connections = AdminServer::kMaxConnections;
  std::deque<std::weak_ptr<Session>> sessions;  // open connections, oldest first (I/O thread)
  std::uint64_t evicted = 0;
  RateLimitedWarnings warnings;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {  // e.g. EMFILE: free a descriptor, and wait before trying again
        warnings.Warn("admin-accept", "admin: accept failed: {}; retrying in 100 ms", ec.message());
        EvictOldest();
        retry.expires_after(std::chrono::milliseconds(100));
        retry.async_wait([this](beast::error_code e) {
          if (!e) Accept();
        });
        return;
      }
      std::erase_if(sessions, [](const std::weak_ptr<Session>& s) { return s.expired(); });
      if (sessions.size() >= max_connections) {
        EvictOldest();
        warnings.Warn("admin-connections",
                      "admin: {} connections open; closing the oldest for each new one ({} so far)",
                      max_connections, evicted);
      }
      auto session = std::make_shared<Session>(std::move(socket), handlers, api, api_requests);
      sessions.push_back(session);
      session->Run();
      Accept();
    });
  }
  void EvictOldest() {
    while (!sessions.empty()) {
      const std::shared_ptr<Session> oldest = sessions.front().lock();
      sessions.pop_front();
      if (oldest) {
        oldest->Abort();
        ++evicted;
        return;
      }
    }
  }
};

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() {
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->retry.cancel();
    impl_->io.stop();
  });
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->api.join();  // requests in progress finish (their answers go nowhere)
}

std::uint16_t AdminServer::port() const {
  beast::error_code ec;
  const auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

Result<std::unique_ptr<AdminServer>, std::string> AdminServer::Start(const std::string& listen,
                                                                     Handlers handlers,
                                                                     std::size_t max_connections) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Fail("admin.listen \"" + listen + "\" is not host:port");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // [::1]:9464
  }
  auto impl = std::make_unique<Impl>();
  impl->handlers = std::move(handlers);
  impl->max_connections = std::max<std::size_t>(1, max_connections);
  beast::error_code ec;
  tcp::resolver resolver(impl->io);
  const auto endpoints = resolver.resolve(host, listen.substr(colon + 1), ec);
  if (ec || endpoints.empty()) {
    return Fail("admin.listen \"" + listen + "\": " + ec.message());
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Fail("admin.listen \"" + listen + "\": " + ec.message());
  Impl& m = *impl;
  m.Accept();
  m.thread = std::thread([&m] { m.io.run(); });
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

int ProbeCommand(const std::string& address, const std::string& path,
                 std::chrono::milliseconds timeout) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos || path.empty() || path.front() != '/') {
    std::cerr << "recsd probe: expected --address host:port and a --path starting with /\n";
    return 2;
  }
  try {
    asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    stream.connect(resolver.resolve(address.substr(0, colon), address.substr(colon + 1)));
    http::request<http::empty_body> req{http::verb::get, path, 11};
    req.set(http::field::host, address);
    req.set(http::field::user_agent, "recsd-probe");
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    if (res.result() == http::status::ok) return 0;
    std::cerr << "recsd probe: " << path << " answered " << res.result_int() << ": " << res.body();
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "recsd probe: " << address << path << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace recsd::daemon
