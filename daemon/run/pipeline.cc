#include "daemon/run/pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <future>
#include <system_error>
#include <thread>

#include <spdlog/spdlog.h>

#include "daemon/base/clock.h"
#include "daemon/base/exit_codes.h"
#include "daemon/base/rate_limited_warnings.h"
#include "daemon/config/engine_setup.h"
#include "daemon/run/dispatcher.h"
#include "daemon/run/kafka/kafka_transport.h"
#include "daemon/run/kafka/reference_reader.h"
#include "daemon/run/liveness.h"
#include "daemon/run/outputs.h"
#include "daemon/run/references.h"
#include "daemon/run/shutdown.h"
#include "daemon/run/weights_board.h"
#include "daemon/run/worker.h"

namespace recsd::daemon {

// The parts of a running pipeline, declared so that each is destroyed before what it uses: the
// transport's callbacks use the outputs and the dispatcher; the workers and the reference reader
// use the transport.
struct Pipeline::Impl {
  explicit Impl(const Config& c)
      : config(c),
        stats(std::chrono::duration<double>(c.pipeline.freshness_objective).count()),
        warnings(SystemClock()),
        shutdown(SystemClock()) {}

  Config config;
  model::EngineOptions engine_options;
  PipelineStats stats;
  RateLimitedWarnings warnings;
  Shutdown shutdown;
  References references;
  TransportEvents events;
  std::unique_ptr<Liveness> liveness;
  std::unique_ptr<Outputs> outputs;
  std::unique_ptr<Dispatcher> dispatcher;
  std::unique_ptr<KafkaTransport> transport;
  std::unique_ptr<ReferenceReader> reader;
  std::unique_ptr<WeightsBoard> weights;
  std::vector<std::unique_ptr<Worker>> workers;
  std::thread consumer_thread;
  bool waited = false;
};

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Pipeline::~Pipeline() {
  Stop();
  Wait();
}

void Pipeline::Stop() noexcept { impl_->shutdown.RequestStop(); }

bool Pipeline::stopping() const noexcept { return impl_->shutdown.stopping(); }

const PipelineStats& Pipeline::stats() const noexcept { return impl_->stats; }

const Config& Pipeline::config() const noexcept { return impl_->config; }

std::vector<std::size_t> Pipeline::WorkerQueueSizes() const {
  std::vector<std::size_t> sizes;
  for (const auto& w : impl_->workers) sizes.push_back(w->Queue().Size());
  return sizes;
}

bool Pipeline::Visit(PartitionVisitor visit, std::chrono::milliseconds timeout) const {
  if (impl_->shutdown.stopping()) return false;  // the workers are finishing: no new work
  const auto shared = std::make_shared<const PartitionVisitor>(std::move(visit));
  std::vector<std::future<void>> done;
  for (const auto& w : impl_->workers) {
    auto promise = std::make_shared<std::promise<void>>();
    done.push_back(promise->get_future());
    w->Queue().Push(Control{Control::Kind::kVisit, 0, std::move(promise), shared});
  }
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (auto& f : done) {
    if (f.wait_until(until) != std::future_status::ready) return false;
    try {
      f.get();
    } catch (const std::future_error&) {
      return false;  // the worker is gone: its queue was dropped
    }
  }
  return true;
}

WeightsView Pipeline::weights() const { return impl_->weights->Mean(impl_->engine_options); }

namespace {

// The group's session timeout: kafka."session.timeout.ms", or librdkafka's default.
std::chrono::milliseconds SessionTimeout(const Config& config) {
  const auto it = config.kafka.find("session.timeout.ms");
  std::int64_t ms = 45'000;
  if (it != config.kafka.end())
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), ms);
  return std::chrono::milliseconds(ms);
}

// Snapshots are written from the workers' threads; find out at start if they cannot be.
Result<bool, std::string> CheckStateDir(const std::string& dir) {
  if (dir.empty()) return true;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || ::access(dir.c_str(), W_OK | X_OK) != 0) {
    return Fail(fmt::format("state.dir {}: {}", dir,
                            (ec ? ec : std::error_code(errno, std::generic_category())).message()));
  }
  return true;
}

// The topics recsd writes and reads exist, and the changelog has a partition per events
// partition. Returns the events topic's partition count.
Result<int, std::string> CheckTopics(const Config& config, KafkaTransport& transport) {
  std::vector<std::string> topics = {config.topics.events, config.topics.recommendations,
                                     config.topics.dlq};
  if (config.state.changelog) topics.push_back(config.topics.changelog);
  auto counts = transport.PartitionCounts(topics);
  if (!counts) return Fail(counts.error());
  const int events = counts->at(config.topics.events);
  if (config.state.changelog && counts->at(config.topics.changelog) != events) {
    return Fail(
        fmt::format("{} has {} partitions, {} has {}: the changelog needs one partition per events "
                    "partition (or state.changelog = false)",
                    config.topics.changelog, counts->at(config.topics.changelog),
                    config.topics.events, events));
  }
  return events;
}

}  // namespace

Result<std::unique_ptr<Pipeline>, std::string> Pipeline::Start(
    const Config& config, const std::atomic<bool>* stop_requested) {
  auto impl = std::make_unique<Impl>(config);
  Impl& m = *impl;  // on an error, destroying impl stops whatever it started
  m.shutdown.Follow(stop_requested);
  m.engine_options = EngineOptionsFromConfig(m.config);
  const std::size_t workers = m.config.pipeline.workers > 0
                                  ? m.config.pipeline.workers
                                  : std::max<std::size_t>(1, std::thread::hardware_concurrency());
  if (auto ok = CheckStateDir(m.config.state.dir); !ok) return Fail(ok.error());
  m.events.delivered = [&m](void* opaque, const DeliveryReport& r) {
    m.outputs->Delivered(opaque, r);
  };
  m.events.assigned = [&m](std::span<const std::int32_t> ps) { m.dispatcher->Assigned(ps); };
  m.events.revoked = [&m](std::span<const std::int32_t> ps, bool lost) {
    m.dispatcher->Revoked(ps, lost);
  };
  auto transport = KafkaTransport::Create(m.config, m.stats, m.warnings, m.shutdown, m.events);
  if (!transport) return Fail(transport.error());
  m.transport = std::move(transport).value();
  m.outputs =
      std::make_unique<Outputs>(*m.transport, SystemClock(), m.stats, m.warnings, m.shutdown,
                                m.config.topics.dlq, m.config.pipeline.dead_letter_max_bytes);
  auto partitions = CheckTopics(m.config, *m.transport);
  if (!partitions) return Fail(partitions.error());
  m.reader = std::make_unique<ReferenceReader>(m.config, m.engine_options, m.stats, m.warnings,
                                               m.references, *m.outputs, m.shutdown);
  if (auto loaded = m.reader->Load(*m.transport); !loaded) return Fail(loaded.error());
  m.reader->Start();
  if (auto subscribed = m.transport->Subscribe(); !subscribed) return Fail(subscribed.error());

  m.weights = std::make_unique<WeightsBoard>(workers);
  m.liveness = std::make_unique<Liveness>(SystemClock(), SessionTimeout(m.config));
  const WorkerContext context{m.config,     m.engine_options, m.stats,    m.warnings,
                              m.references, *m.transport,     *m.outputs, m.shutdown,
                              *m.weights,   SystemClock(),    *m.liveness};
  std::vector<Worker*> ws;
  for (std::size_t w = 0; w < workers; ++w) {
    m.workers.push_back(std::make_unique<Worker>(context, w));
    ws.push_back(m.workers.back().get());
  }
  m.dispatcher =
      std::make_unique<Dispatcher>(m.config, m.stats, m.warnings, *m.transport, m.shutdown,
                                   SystemClock(), *m.liveness, std::move(ws));
  for (auto& w : m.workers) w->Start();
  m.consumer_thread = std::thread([&m] { m.dispatcher->Run(); });
  spdlog::info(
      "run: consuming {} ({} partitions) in group {} with {} workers; lists to {}, dead "
      "letters to {}",
      m.config.topics.events, *partitions, m.config.kafka.at("group.id"), workers,
      m.config.topics.recommendations, m.config.topics.dlq);
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(impl)));
}

int Pipeline::Wait() {
  Impl& m = *impl_;
  if (m.waited) return m.shutdown.failed() ? kExitFailure : kExitOk;
  m.waited = true;
  m.shutdown.WaitForStop();
  const Clock::Steady::time_point deadline =
      SystemClock().Now() + m.config.pipeline.shutdown_timeout;
  m.shutdown.SetDeadline(deadline);
  spdlog::info("shutdown: finishing in-flight work (deadline {} ms)",
               m.config.pipeline.shutdown_timeout.count());
  if (m.consumer_thread.joinable()) m.consumer_thread.join();
  // Workers handle what is queued, refresh, wait for acknowledgements and store offsets.
  for (auto& w : m.workers) w->Queue().Push(Control{});
  for (auto& w : m.workers) w->Join();
  // Commits the stored offsets, with a hard deadline: a close can block for as long as the
  // brokers are unreachable.
  const bool closed = m.transport->CloseConsumer(deadline);
  m.reader.reset();
  const bool flushed = m.transport->FlushProducer(deadline);
  m.workers.clear();

  const PipelineStats& s = m.stats;
  spdlog::info(
      "shutdown: done; {} events consumed, {} applied, {} skipped, {} dead-lettered, {} "
      "lists delivered",
      s.events_consumed.load(), s.Applied(), s.Counted(PipelineStats::Result::kDuplicate),
      s.DeadLettered(), s.lists_delivered.load());
  return !m.shutdown.failed() && closed && flushed ? kExitOk : kExitFailure;
}

}  // namespace recsd::daemon
