#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/result.h"

namespace recsd::daemon {

// The admin HTTP server (Boost.Beast on Asio, HTTP/1.1, one request per connection,
// `Connection: close`), on its own thread. /metrics and the probes are answered on that thread
// from snapshots; /v1/ requests on two API threads. None of it blocks a worker.
//
//   GET /metrics         200, the Prometheus text exposition from `metrics`
//   GET /livez           200 "ok": the process and the server's thread are alive
//   GET /readyz          200 "ready" or 503 with the failing checks; `?verbose` lists every check
//   GET /v1/...          JSON from `api`, which runs on one of the server's two API threads (it
//                        may wait for workers); with `token` set, only with the header
//                        "Authorization: Bearer <token>" (401 otherwise). At most 16 such
//                        requests at a time (503 beyond), so /livez and /metrics never wait.
//   anything else        404 (unknown path), 405 (not GET/HEAD), 400 (malformed request)
//
// Requests larger than 8 KiB or slower than 10 s are cut off; nothing a client sends can disturb
// the pipeline. At most `max_connections` are open at once (file descriptors are shared with the
// Kafka clients and state files): a new connection beyond closes the oldest one, which a flood
// of idle or slow connections holds, so a probe still gets through. A failed accept (no file
// descriptors left, say) is logged and retried after 100 ms, never in a busy loop.
class AdminServer {
 public:
  struct Check {
    std::string name;
    bool ok = false;
    std::string detail;
  };
  struct Response {
    unsigned status = 200;
    std::string body;  // JSON
  };
  struct Handlers {
    std::function<std::string()> metrics;
    std::function<std::vector<Check>()> readiness;  // every check; ready when all are ok
    // /v1/...: the path (no query), percent-encoded as received.
    std::function<Response(std::string_view path)> api;
    std::string token;  // required on /v1/ when not empty
  };

  static constexpr std::size_t kMaxConnections = 128;

  // Binds "host:port" (port 0: a free port) and starts serving. An error says what failed.
  static Result<std::unique_ptr<AdminServer>, std::string> Start(
      const std::string& listen, Handlers handlers, std::size_t max_connections = kMaxConnections);
  ~AdminServer();  // stops and joins
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  std::uint16_t port() const;  // the bound port (0 if the socket is gone)

  struct Impl;

 private:
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `recsd probe`: GET http://<address><path> (address "host:port") and exit 0 when the answer is
// 200 within `timeout`, 1 otherwise with one line saying what happened. For container health
// checks (the runtime image has no HTTP client).
int ProbeCommand(const std::string& address, const std::string& path,
                 std::chrono::milliseconds timeout);

}  // namespace recsd::daemon
