#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace recsd::daemon {

// The seam between the pipeline's logic (workers, dispatcher, outputs) and the message broker.
// The pipeline speaks only these types; `run/kafka/` implements them with librdkafka and the
// tests with an in-memory fake (tests/daemon/fake_transport.h). ARCHITECTURE.md, "Threads".

// A header of a consumed or produced message.
struct MessageHeader {
  std::string_view name;
  std::string_view value;
};

// One consumed record. Its views stay valid as long as the message lives (`owner` keeps the
// broker client's buffer, or a test's strings). Move-only.
struct ConsumedMessage {
  using Owner = std::unique_ptr<void, void (*)(void*)>;
  std::string_view topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string_view> key;    // nullopt: a null key
  std::optional<std::string_view> value;  // nullopt: a null value (a tombstone)
  std::vector<MessageHeader> headers;     // changelog records only (ReadChangelog)
  Owner owner{nullptr, [](void*) {}};

  // The value of the first header called `name`.
  std::optional<std::string_view> Header(std::string_view name) const {
    for (const MessageHeader& h : headers) {
      if (h.name == name) return h.value;
    }
    return std::nullopt;
  }
};

// One message to produce. `partition` < 0: the partitioner chooses by key.
struct OutgoingRecord {
  std::string_view topic;
  std::int32_t partition = -1;
  std::string_view key;
  std::optional<std::string_view> value;  // nullopt: a tombstone
  std::span<const MessageHeader> headers;
};

// How an enqueue went. kQueueFull: retry after the delivery reports have drained the queue;
// kFailed: permanent for this message (`error` says why), and no delivery report will come.
enum class ProduceStatus { kOk, kQueueFull, kFailed };
struct ProduceResult {
  ProduceStatus status = ProduceStatus::kOk;
  std::string error;
};

// What became of a produced message, reported once per message that was enqueued.
struct DeliveryReport {
  bool ok = true;
  std::string_view topic;
  std::int64_t offset = -1;  // of the message in its partition, when ok
  std::string error_name;    // e.g. _MSG_TIMED_OUT, when not ok
  std::string error;         // human-readable, when not ok
};

// How a changelog read ended. kOutOfRange: the start offset is outside the partition (a snapshot
// ahead of the changelog).
enum class ChangelogRead { kDone, kStopped, kOutOfRange };

// Read from the changelog partition's first retained record.
inline constexpr std::int64_t kFromBeginning = -2;

// What the pipeline needs of the broker. Produce and ReadChangelog are called from every worker
// thread; Poll, Pause and Resume from the consumer thread only; StoreOffset and EndOffset from
// the worker owning the partition.
class Transport {
 public:
  virtual ~Transport() = default;

  // Enqueues `record`; `opaque` comes back with its delivery report (TransportEvents::Delivered).
  virtual ProduceResult Produce(const OutgoingRecord& record, void* opaque) = 0;

  // The next message of the assigned events partitions, waiting up to `timeout`; nothing when
  // none came (or only errors, which the transport logs and counts). Assignment changes are
  // reported through TransportEvents from inside this call.
  virtual std::optional<ConsumedMessage> Poll(std::chrono::milliseconds timeout) = 0;
  // Stops or restarts fetching these events partitions.
  virtual void Pause(std::span<const std::int32_t> partitions) = 0;
  virtual void Resume(std::span<const std::int32_t> partitions) = 0;
  // Stores the offset to commit for an events partition (the next message to consume after a
  // restart); the transport commits it. False when it was not stored (e.g. no longer assigned).
  virtual bool StoreOffset(std::int32_t partition, std::int64_t next) = 0;
  // The end (high watermark) of an events partition as last known; nothing when unknown.
  virtual std::optional<std::int64_t> EndOffset(std::int32_t partition) = 0;

  // Reads changelog partition `partition` from offset `from` (or kFromBeginning) to its end,
  // calling `record` for each record in order; a record returning false stops the read
  // (kStopped). On kDone, `*end` is one past the last record of the partition.
  using ChangelogVisitor = std::function<bool(const ConsumedMessage&)>;
  virtual ChangelogRead ReadChangelog(std::int32_t partition, std::int64_t from,
                                      const ChangelogVisitor& record, std::int64_t* end) = 0;
};

// What the transport reports back, set before it is used.
struct TransportEvents {
  // A delivery report (the producer's poll thread).
  std::function<void(void* opaque, const DeliveryReport& report)> delivered;
  // Partitions of the events topic assigned or revoked (the consumer thread, inside Poll). A
  // revoke returns once the partitions are handed over: the transport gives them up after it.
  // `lost`: the group already gave them to another member (this one's session expired), so
  // nothing of them may be published, written or committed any more.
  std::function<void(std::span<const std::int32_t> partitions)> assigned;
  std::function<void(std::span<const std::int32_t> partitions, bool lost)> revoked;
};

}  // namespace recsd::daemon
