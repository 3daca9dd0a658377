#pragma once

// An in-memory Transport and a hand-driven Clock, so the pipeline's worker and dispatcher can be
// tested without a broker and without sleeping (tests/daemon/worker_test.cc).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/base/clock.h"
#include "daemon/run/transport.h"

namespace recsd::testing {

// Time moves only when a test advances it, or when the code under test sleeps on it.
class FakeClock final : public daemon::Clock {
 public:
  Steady::time_point Now() const override {
    return Steady::time_point(Steady::duration(ns_.load()));
  }
  std::int64_t WallMs() const override { return kWallStartMs + ns_.load() / 1'000'000; }
  void SleepFor(Steady::duration d) const override {
    ns_.fetch_add(d.count());
    sleeps_.fetch_add(1);
  }
  void Advance(std::chrono::nanoseconds d) { ns_.fetch_add(d.count()); }
  std::int64_t sleeps() const { return sleeps_.load(); }

  static constexpr std::int64_t kWallStartMs = 1'700'000'000'000;

 private:
  mutable std::atomic<Steady::rep> ns_{1'000'000'000'000};  // far from the epoch
  mutable std::atomic<std::int64_t> sleeps_{0};
};

// A consumed message that owns copies of its bytes.
inline daemon::ConsumedMessage Message(const std::string& topic, std::int32_t partition,
                                       std::int64_t offset, std::optional<std::string> key,
                                       std::optional<std::string> value,
                                       std::map<std::string, std::string> headers = {}) {
  struct Owned {
    std::string topic;
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::map<std::string, std::string> headers;
  };
  auto* owned = new Owned{topic, std::move(key), std::move(value), std::move(headers)};
  daemon::ConsumedMessage m;
  m.topic = owned->topic;
  m.partition = partition;
  m.offset = offset;
  if (owned->key) m.key = *owned->key;
  if (owned->value) m.value = *owned->value;
  for (const auto& [name, text] : owned->headers) m.headers.push_back({name, text});
  m.owner = daemon::ConsumedMessage::Owner(owned, [](void* p) { delete static_cast<Owned*>(p); });
  return m;
}

// The broker, in memory. Produced messages get an offset in their topic-partition and are
// acknowledged at once (auto_ack) or when the test says; acknowledged changelog records become
// readable by ReadChangelog, as a compacted topic would serve them (no compaction needed here).
class FakeTransport final : public daemon::Transport {
 public:
  struct Produced {
    std::string topic;
    std::int32_t partition = -1;
    std::string key;
    std::optional<std::string> value;
    std::map<std::string, std::string> headers;
    void* opaque = nullptr;
    std::int64_t offset = -1;
    bool reported = false;
  };

  explicit FakeTransport(std::string changelog_topic) : changelog_(std::move(changelog_topic)) {}

  // Set by the test: where delivery reports go (Outputs::Delivered).
  std::function<void(void*, const daemon::DeliveryReport&)> delivered;
  bool auto_ack = true;
  // Every ReadChangelog: the partition, and how many messages had been produced by then.
  std::vector<std::pair<std::int32_t, std::size_t>> reads;
  int queue_full = 0;  // the next this many Produce calls find the queue full
  // Produce to these topics fails at once, as librdkafka's does for a message over
  // message.max.bytes.
  std::set<std::string> refuse_topics;
  std::map<std::int32_t, std::int64_t> end_offsets;
  std::deque<daemon::ConsumedMessage> to_poll;

  daemon::ProduceResult Produce(const daemon::OutgoingRecord& r, void* opaque) override {
    if (queue_full > 0) {
      --queue_full;
      return {daemon::ProduceStatus::kQueueFull, "queue full"};
    }
    if (refuse_topics.count(std::string(r.topic)) > 0) {
      return {daemon::ProduceStatus::kFailed, "Broker: Message size too large"};
    }
    Produced p;
    p.topic = r.topic;
    p.partition = r.partition < 0 ? 0 : r.partition;
    p.key = r.key;
    if (r.value) p.value = std::string(*r.value);
    for (const daemon::MessageHeader& h : r.headers) p.headers[std::string(h.name)] = h.value;
    p.opaque = opaque;
    p.offset = next_offset_[{p.topic, p.partition}]++;
    produced_.push_back(std::move(p));
    if (auto_ack) Ack(produced_.size() - 1, true);
    return {};
  }

  // Reports every message not yet reported, as delivered (`ok`) or failed.
  void AckAll(bool ok = true) {
    for (std::size_t i = 0; i < produced_.size(); ++i) {
      if (!produced_[i].reported) Ack(i, ok);
    }
  }

  std::optional<daemon::ConsumedMessage> Poll(std::chrono::milliseconds /*timeout*/) override {
    if (to_poll.empty()) return std::nullopt;
    daemon::ConsumedMessage m = std::move(to_poll.front());
    to_poll.pop_front();
    return m;
  }
  void Pause(std::span<const std::int32_t> ps) override { paused_.insert(ps.begin(), ps.end()); }
  void Resume(std::span<const std::int32_t> ps) override {
    for (const std::int32_t p : ps) paused_.erase(p);
  }
  bool StoreOffset(std::int32_t partition, std::int64_t next) override {
    stored_[partition] = next;
    return true;
  }
  std::optional<std::int64_t> EndOffset(std::int32_t partition) override {
    const auto it = end_offsets.find(partition);
    if (it == end_offsets.end()) return std::nullopt;
    return it->second;
  }
  daemon::ChangelogRead ReadChangelog(std::int32_t partition, std::int64_t from,
                                      const ChangelogVisitor& record, std::int64_t* end) override {
    reads.push_back({partition, produced_.size()});
    const std::vector<std::size_t>& records = changelog_records_[partition];
    if (from != daemon::kFromBeginning && from > static_cast<std::int64_t>(records.size())) {
      return daemon::ChangelogRead::kOutOfRange;
    }
    for (std::size_t i = from == daemon::kFromBeginning ? 0 : static_cast<std::size_t>(from);
         i < records.size(); ++i) {
      const Produced& p = produced_[records[i]];
      if (!record(Message(p.topic, partition, static_cast<std::int64_t>(i), p.key, p.value,
                          p.headers))) {
        return daemon::ChangelogRead::kStopped;
      }
    }
    *end = static_cast<std::int64_t>(records.size());
    return daemon::ChangelogRead::kDone;
  }

  // What was produced to `topic`, in order.
  std::vector<Produced> On(const std::string& topic) const {
    std::vector<Produced> out;
    for (const Produced& p : produced_) {
      if (p.topic == topic) out.push_back(p);
    }
    return out;
  }
  std::optional<std::int64_t> stored(std::int32_t partition) const {
    const auto it = stored_.find(partition);
    if (it == stored_.end()) return std::nullopt;
    return it->second;
  }
  const std::set<std::int32_t>& paused() const { return paused_; }

 private:
  void Ack(std::size_t i, bool ok) {
    Produced& p = produced_[i];
    p.reported = true;
    if (ok && p.topic == changelog_) {
      changelog_records_[p.partition].push_back(i);
      p.offset = static_cast<std::int64_t>(changelog_records_[p.partition].size()) - 1;
    }
    daemon::DeliveryReport report;
    report.ok = ok;
    report.topic = p.topic;
    report.offset = p.offset;
    if (!ok) {
      report.error_name = "_MSG_TIMED_OUT";
      report.error = "Local: Message timed out";
    }
    delivered(p.opaque, report);
  }

  const std::string changelog_;
  std::vector<Produced> produced_;
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> next_offset_;
  std::map<std::int32_t, std::vector<std::size_t>> changelog_records_;
  std::map<std::int32_t, std::int64_t> stored_;
  std::set<std::int32_t> paused_;
};

}  // namespace recsd::testing
