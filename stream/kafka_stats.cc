#include "stream/kafka_stats.h"

#include <nlohmann/json.hpp>

namespace recsd::stream {

Result<KafkaStats, std::string> ParseKafkaStats(std::string_view json, std::string_view topic) {
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Fail(std::string("librdkafka statistics: not a JSON object"));
  }
  KafkaStats out;
  try {
    out.type = doc.value("type", "");
    out.queued_messages = doc.value("msg_cnt", std::int64_t{0});
    if (const auto brokers = doc.find("brokers"); brokers != doc.end() && brokers->is_object()) {
      for (const auto& [name, b] : brokers->items()) {
        const std::int32_t id = b.value("nodeid", -1);
        if (id < 0) continue;  // a bootstrap address, not a broker of the cluster
        const auto rtt = b.find("rtt");
        if (rtt == b.end() || rtt->value("cnt", std::int64_t{0}) == 0) continue;
        out.brokers.push_back({id, static_cast<double>(rtt->value("avg", std::int64_t{0})) / 1e6});
      }
    }
    if (const auto topics = doc.find("topics"); topics != doc.end() && topics->is_object()) {
      if (const auto t = topics->find(std::string(topic)); t != topics->end()) {
        if (const auto parts = t->find("partitions"); parts != t->end() && parts->is_object()) {
          for (const auto& [key, p] : parts->items()) {
            const std::int32_t partition = p.value("partition", -1);
            const std::int64_t lag = p.value("consumer_lag", std::int64_t{-1});
            if (partition < 0 || lag < 0) continue;  // the unassigned-partition entry; unknown
            out.lags.push_back({partition, lag});
          }
        }
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Fail(std::string("librdkafka statistics: ") + e.what());
  }
  return out;
}

}  // namespace recsd::stream
