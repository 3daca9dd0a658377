// Outputs: a rejected input message to the dead-letter topic, with why and where it came from.

#include <array>
#include <string>

#include "daemon/run/dead_letter.h"
#include "daemon/run/outputs.h"

namespace recsd::daemon {

bool Outputs::DeadLetter(const ConsumedMessage& msg, std::string_view reason,
                         std::string_view detail, std::unique_ptr<Delivery> delivery) {
  const std::string partition = std::to_string(msg.partition);
  const std::string offset = std::to_string(msg.offset);
  const std::array<MessageHeader, 5> headers = {{
      {"recsd.error.reason", reason},
      {"recsd.error.detail", detail},
      {"recsd.source.topic", msg.topic},
      {"recsd.source.partition", partition},
      {"recsd.source.offset", offset},
  }};
  OutgoingRecord m;
  m.topic = dlq_topic_;
  m.key = msg.key.value_or(std::string_view());
  m.value = msg.value;
  m.headers = headers;
  return Produce(m, std::move(delivery));
}

}  // namespace recsd::daemon
