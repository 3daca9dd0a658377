// Outputs: a rejected input message to the dead-letter topic, with why and where it came from.

#include <algorithm>
#include <array>
#include <string>

#include "daemon/run/dead_letter.h"
#include "daemon/run/outputs.h"

namespace recsd::daemon {

bool Outputs::DeadLetter(const ConsumedMessage& msg, std::string_view reason,
                         std::string_view detail, std::unique_ptr<Delivery> delivery) {
  const std::string partition = std::to_string(msg.partition);
  const std::string offset = std::to_string(msg.offset);
  const std::string size = std::to_string(msg.value ? msg.value->size() : 0);
  const std::array<MessageHeader, 6> headers = {{
      {"recsd.error.reason", reason},
      {"recsd.error.detail", detail},
      {"recsd.source.topic", msg.topic},
      {"recsd.source.partition", partition},
      {"recsd.source.offset", offset},
      {"recsd.source.size", size},
  }};
  // Truncated so that any rejected message fits the topic (the size header keeps the original).
  const auto cut = [this](std::string_view bytes) {
    return bytes.substr(0, std::min(bytes.size(), dead_letter_max_bytes_));
  };
  if (auto* dead = std::get_if<DeadLetterOutput>(&delivery->output)) {
    dead->source = msg.topic;
    dead->source.append(" [").append(partition).append("] at offset ").append(offset);
  }
  OutgoingRecord m;
  m.topic = dlq_topic_;
  m.key = cut(msg.key.value_or(std::string_view()));
  if (msg.value) m.value = cut(*msg.value);
  m.headers = headers;
  return Produce(m, std::move(delivery));
}

}  // namespace recsd::daemon
