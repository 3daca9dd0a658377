#include "stream/kafka.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace recsd::stream {

Result<KafkaConf, std::string> MakeKafkaConf(const std::map<std::string, std::string>& properties) {
  KafkaConf conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      return Fail("kafka." + name + ": " + err);
    }
  }
  return conf;
}

Result<KafkaHandle, std::string> MakeKafkaClient(rd_kafka_type_t type, KafkaConf conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof(err));
  if (rk == nullptr) return Fail(std::string(err));  // conf is still ours: conf's deleter frees it
  (void)conf.release();                              // owned by rk now
  return KafkaHandle(rk);
}

rd_kafka_resp_err_t Produce(rd_kafka_t* producer, const OutgoingMessage& message) {
  // produceva, not producev: the RD_KAFKA_V_* macros use GNU statement expressions.
  std::vector<rd_kafka_vu_t> vus(6 + message.headers.size());
  std::size_t n = 0;
  const std::string topic(message.topic);
  vus[n].vtype = RD_KAFKA_VTYPE_TOPIC;
  vus[n++].u.cstr = topic.c_str();
  vus[n].vtype = RD_KAFKA_VTYPE_PARTITION;
  vus[n++].u.i32 = message.partition;
  vus[n].vtype = RD_KAFKA_VTYPE_KEY;
  vus[n++].u.mem = {const_cast<char*>(message.key.data()), message.key.size()};
  if (message.value) {
    vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vus[n++].u.mem = {const_cast<char*>(message.value->data()), message.value->size()};
  }
  vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vus[n++].u.i = RD_KAFKA_MSG_F_COPY;
  vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vus[n++].u.ptr = message.opaque;
  for (const KafkaHeader& h : message.headers) {
    vus[n].vtype = RD_KAFKA_VTYPE_HEADER;
    vus[n].u.header.name = h.name.data();  // names are literals: NUL-terminated
    vus[n].u.header.val = h.value.data();
    vus[n++].u.header.size = static_cast<ssize_t>(h.value.size());
  }
  KafkaError error(rd_kafka_produceva(producer, vus.data(), n));
  return error ? rd_kafka_error_code(error.get()) : RD_KAFKA_RESP_ERR_NO_ERROR;
}

Result<std::map<std::string, int>, std::string> PartitionCounts(
    rd_kafka_t* client, const std::vector<std::string>& topics, int timeout_ms,
    const std::function<bool()>& stop) {
  // In slices, so that a stop (SIGTERM while the brokers do not answer) is not held up. A slice
  // ends in __TIMED_OUT (no answer yet) or __TRANSPORT (no broker connection up yet, which one
  // call of the whole timeout would have waited for): both are tried again until the deadline.
  using std::chrono::steady_clock;
  constexpr std::int64_t kSliceMs = 200;
  const auto deadline = steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
  for (;;) {
    const std::int64_t left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now())
            .count();
    const std::int64_t slice = stop ? std::clamp<std::int64_t>(left, 1, kSliceMs) : left;
    err = rd_kafka_metadata(client, 1, nullptr, &metadata,
                            static_cast<int>(std::max<std::int64_t>(slice, 1)));
    if (!stop || (err != RD_KAFKA_RESP_ERR__TIMED_OUT && err != RD_KAFKA_RESP_ERR__TRANSPORT))
      break;
    if (steady_clock::now() >= deadline) break;
    if (stop()) return Fail(std::string("stopped while fetching metadata"));
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Fail(std::string("cannot fetch cluster metadata: ") + rd_kafka_err2str(err));
  }
  std::map<std::string, int> counts;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[i];
    if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR) counts[t.topic] = t.partition_cnt;
  }
  rd_kafka_metadata_destroy(metadata);
  std::map<std::string, int> wanted;
  for (const std::string& topic : topics) {
    auto it = counts.find(topic);
    if (it == counts.end() || it->second <= 0) {
      return Fail("topic '" + topic + "' does not exist (recsd does not create topics)");
    }
    wanted[topic] = it->second;
  }
  return wanted;
}

}  // namespace recsd::stream
