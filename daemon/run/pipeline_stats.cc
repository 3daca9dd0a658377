#include "daemon/run/pipeline_stats.h"

namespace recsd::daemon {

namespace {

std::vector<double> FreshnessBounds(double objective_seconds) {
  // 5 ms to 25 s in 1.5x steps (quantiles within 1.5x, fine enough for the log line, the demo
  // and the dashboards), then up to 5 minutes, and the objective itself, so the share within it
  // is exact.
  std::vector<double> bounds = metrics::ExponentialBounds(0.005, 1.5, 22);
  bounds.insert(bounds.end(), {30, 60, 120, 300, objective_seconds});
  return bounds;
}

}  // namespace

PipelineStats::PipelineStats(double freshness_objective_seconds)
    : freshness(FreshnessBounds(freshness_objective_seconds)),
      list_items({1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}),
      stages{metrics::AtomicHistogram(metrics::ExponentialBounds(1e-6, 4, 12)),
             metrics::AtomicHistogram(metrics::ExponentialBounds(1e-6, 4, 12)),
             metrics::AtomicHistogram(metrics::ExponentialBounds(1e-6, 4, 12)),
             metrics::AtomicHistogram(metrics::ExponentialBounds(1e-6, 4, 12))} {}

std::string_view PipelineStats::ResultName(Result result) noexcept {
  switch (result) {
    case Result::kOk:
      return "ok";
    case Result::kLate:
      return "late";
    case Result::kDuplicate:
      return "duplicate";
    case Result::kDecodeError:
      return "decode_error";
    case Result::kInvalid:
      return "invalid";
    case Result::kUnsupportedVersion:
      return "unsupported_version";
    case Result::kDlq:
      return "dlq";
  }
  return "unknown";
}

std::string_view PipelineStats::StageName(Stage stage) noexcept {
  switch (stage) {
    case Stage::kDecode:
      return "decode";
    case Stage::kState:
      return "state";
    case Stage::kScore:
      return "score";
    case Stage::kPublish:
      return "publish";
  }
  return "unknown";
}

std::uint64_t PipelineStats::DeadLettered() const noexcept {
  return Counted(Result::kDecodeError) + Counted(Result::kInvalid) +
         Counted(Result::kUnsupportedVersion) + Counted(Result::kDlq);
}

KafkaObservations::KafkaObservations() {
  // librdkafka's names (rd_kafka_err2name) of the errors the alerts of ops/README.md watch.
  for (const char* e : {"_TRANSPORT", "_ALL_BROKERS_DOWN", "_MSG_TIMED_OUT", "_TIMED_OUT"}) {
    view_.errors[e] = 0;
  }
}

void KafkaObservations::CountError(const std::string& code) {
  MutexLock lock(mu_);
  ++view_.errors[code];
}

void KafkaObservations::Update(const stream::KafkaStats& stats) {
  MutexLock lock(mu_);
  if (stats.type == "producer") {
    view_.producer_queue = stats.queued_messages;
    return;
  }
  view_.lag.clear();  // only the partitions assigned now
  for (const auto& l : stats.lags) view_.lag[l.partition] = l.lag;
  view_.rtt_seconds.clear();
  for (const auto& b : stats.brokers) view_.rtt_seconds[b.node_id] = b.avg_seconds;
}

KafkaObservations::View KafkaObservations::Get() const {
  MutexLock lock(mu_);
  return view_;
}

}  // namespace recsd::daemon
