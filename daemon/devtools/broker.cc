#include "daemon/devtools/broker.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stop_token>
#include <string_view>
#include <system_error>
#include <thread>

#include <spdlog/spdlog.h>

#include "daemon/base/exit_codes.h"
#include "daemon/base/lifecycle.h"
#include "stream/mock_broker.h"

namespace recsd::daemon {
namespace {

// Writes `text` to `path` through a temporary file in the same directory and a rename.
bool WriteAtomically(const std::string& path, const std::string& text) {
  const std::filesystem::path target(path);
  const std::filesystem::path tmp = target.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, target, ec);
  return !ec;
}

constexpr std::size_t kMaxControlLine = 4096;

// Answers control line `n` on stdout ("fault N: LINE" or "fault N failed: REASON") and in the log.
void Answer(int n, std::string_view line, const std::string& failure) {
  if (failure.empty()) {
    spdlog::info("broker: fault {}: {}", n, line);
    std::cout << "fault " << n << ": " << line << std::endl;
  } else {
    spdlog::warn("broker: fault {} ({}) failed: {}", n, line, failure);
    std::cout << "fault " << n << " failed: " << failure << std::endl;
  }
}

// Parses and injects one control line; blank lines and comments are not counted.
void ApplyControlLine(stream::MockBroker& broker, std::string_view line, int* count) {
  auto fault = stream::ParseMockFault(line);
  if (fault && fault->kind == stream::MockFault::Kind::kNone) return;
  std::string failure;
  if (!fault) {
    failure = std::move(fault).error();
  } else if (auto injected = broker.Inject(*fault); !injected) {
    failure = std::move(injected).error();
  }
  Answer(++*count, line, failure);
}

// Opens the control input: stdin for "-"; a FIFO read-write, since one opened for reading only
// would read end-of-file whenever no writer is connected. -1 (errno set) if it cannot.
int OpenControl(const std::string& path) {
  if (path == "-") return STDIN_FILENO;
  struct stat st {};
  const int mode = stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode) ? O_RDWR : O_RDONLY;
  return open(path.c_str(), mode | O_CLOEXEC);
}

// Reads control lines from `fd` until its end or a stop request, applying each; closes it
// (unless stdin). Polls, so a stop request is seen within 200 ms.
void ReadControl(int fd, const std::string& path, stream::MockBroker& broker,
                 const std::stop_token& stop) {
  std::string pending;
  int count = 0;
  char buf[4096];
  while (!stop.stop_requested()) {
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, 200);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // the end of a file or stdin
    pending.append(buf, static_cast<std::size_t>(n));
    for (std::size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
      ApplyControlLine(broker, std::string_view(pending).substr(0, eol), &count);
      pending.erase(0, eol + 1);
    }
    if (pending.size() > kMaxControlLine) {
      Answer(++count, std::string_view(pending).substr(0, 40), "a line longer than 4096 bytes");
      pending.clear();
    }
  }
  if (!pending.empty() && !stop.stop_requested()) ApplyControlLine(broker, pending, &count);
  spdlog::info("broker: control input {} ended after {} fault(s)", path, count);
  if (fd != STDIN_FILENO) close(fd);
}

}  // namespace

int BrokerCommand(const BrokerOptions& options, const Config& config) {
  std::vector<stream::MockBroker::Topic> topics;
  for (const std::string& spec : options.topics) {
    auto topic = stream::ParseTopicSpec(spec);
    if (!topic) {
      spdlog::error("recsd broker: {}", topic.error());
      return kExitUsage;
    }
    topics.push_back(std::move(topic).value());
  }
  if (topics.empty()) {
    // The changelog has the events topic's partition count (state moves with its partition);
    // the catalog, dead letters and model statistics need no parallelism here.
    const Config::Topics& t = config.topics;
    topics = {{t.events, options.partitions},
              {t.recommendations, options.partitions},
              {t.changelog, options.partitions},
              {t.items, 1},
              {t.dlq, 1},
              {t.model_stats, 1}};
  }
  int control_fd = -1;
  if (!options.control.empty() && (control_fd = OpenControl(options.control)) < 0) {
    spdlog::error("recsd broker: cannot open the control input {}: {}", options.control,
                  std::error_code(errno, std::generic_category()).message());
    return kExitUsage;
  }
  const StopSignals signals;  // before librdkafka starts its threads

  auto broker = stream::MockBroker::Start(options.brokers, topics);
  if (!broker) {
    spdlog::error("recsd broker: {}", broker.error());
    return kExitFailure;
  }
  const std::string& bootstrap = (*broker)->bootstrap();
  // The file first: whoever reads the line on stdout can rely on the file too.
  if (!options.bootstrap_file.empty() &&
      !WriteAtomically(options.bootstrap_file, bootstrap + "\n")) {
    spdlog::error("recsd broker: cannot write the bootstrap list to {}", options.bootstrap_file);
    return kExitFailure;
  }
  std::cout << bootstrap << std::endl;  // the first line of stdout, flushed
  std::string names;
  for (const auto& t : topics) {
    names += (names.empty() ? "" : ", ") + t.name + ":" + std::to_string(t.partitions);
  }
  spdlog::info(
      "broker: {} mock broker(s) at {}; topics {}. For development and tests only: librdkafka's "
      "mock cluster keeps ~5 MiB per partition and neither compacts nor isolates transactions",
      options.brokers, bootstrap, names);
  std::jthread control;
  if (!options.control.empty()) {
    control = std::jthread([&options, &broker, control_fd](const std::stop_token& stop) {
      ReadControl(control_fd, options.control, **broker, stop);
    });
  }
  const char* signal = nullptr;
  while ((signal = signals.Wait(std::chrono::seconds(1))) == nullptr) {
  }
  spdlog::info("broker: {} received, stopping", signal);
  if (control.joinable()) {
    control.request_stop();
    control.join();  // before the cluster it injects into goes
  }
  broker->reset();
  if (!options.bootstrap_file.empty()) {
    std::error_code ec;
    std::filesystem::remove(options.bootstrap_file, ec);  // it names ports that are closed now
  }
  return kExitOk;
}

}  // namespace recsd::daemon
