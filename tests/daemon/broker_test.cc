// `recsd broker` in its own process, used by a real librdkafka client over loopback.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "stream/kafka.h"
#include "stream/mock_broker.h"
#include "tests/daemon/temp_dir.h"

namespace {

using recsd::testing::TempDir;
using Clock = std::chrono::steady_clock;

// A child process running `recsd ARGS...` whose stdout is read through a pipe.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv;
      std::string binary = RECSD_BINARY;
      argv.push_back(binary.data());
      std::vector<std::string> copy = args;
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ != nullptr) fclose(out_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  std::string ReadLine() {
    std::string line;
    for (int c = 0; out_ != nullptr && (c = fgetc(out_)) != EOF && c != '\n';) {
      line.push_back(static_cast<char>(c));
    }
    return line;
  }
  // Sends `sig` and waits up to `limit` for the exit; the exit code, or -1 on a timeout or crash.
  int StopWith(int sig, std::chrono::seconds limit) {
    kill(pid_, sig);
    const Clock::time_point deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  bool reaped_ = false;
};

rd_kafka_t* Client(rd_kafka_type_t type, const std::string& bootstrap) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof(errstr));
  if (type == RD_KAFKA_CONSUMER) {
    rd_kafka_conf_set(conf, "group.id", "broker-test", errstr, sizeof(errstr));
  }
  return rd_kafka_new(type, conf, errstr, sizeof(errstr));
}

// Topic → partition count, from the cluster's metadata.
std::map<std::string, int> Topics(rd_kafka_t* rk) {
  std::map<std::string, int> topics;
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 1, nullptr, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) return topics;
  for (int i = 0; i < md->topic_cnt; ++i) {
    topics[md->topics[i].topic] = md->topics[i].partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  return topics;
}

TEST(BrokerTest, ServesKafkaToAnotherProcessUntilSigterm) {
  TempDir dir;
  const std::string file = (dir.path() / "bootstrap").string();
  Child broker({"broker", "--topic", "t:3", "--brokers", "2", "--bootstrap-file", file});
  const std::string bootstrap = broker.ReadLine();
  ASSERT_EQ(bootstrap.rfind("127.0.0.1:", 0), 0U) << bootstrap;
  EXPECT_EQ(std::count(bootstrap.begin(), bootstrap.end(), ','), 1);  // two brokers
  std::ifstream in(file);
  std::string from_file;
  std::getline(in, from_file);
  EXPECT_EQ(from_file, bootstrap);

  rd_kafka_t* producer = Client(RD_KAFKA_PRODUCER, bootstrap);
  ASSERT_NE(producer, nullptr);
  EXPECT_EQ(Topics(producer), (std::map<std::string, int>{{"t", 3}}));
  for (int i = 0; i < 30; ++i) {
    const std::string value = "m" + std::to_string(i);
    // produceva, not producev: the RD_KAFKA_V_* macros use GNU statement expressions.
    std::array<rd_kafka_vu_t, 4> vus{};
    vus[0].vtype = RD_KAFKA_VTYPE_TOPIC;
    vus[0].u.cstr = "t";
    vus[1].vtype = RD_KAFKA_VTYPE_PARTITION;
    vus[1].u.i32 = i % 3;
    vus[2].vtype = RD_KAFKA_VTYPE_VALUE;
    vus[2].u.mem = {const_cast<char*>(value.data()), value.size()};
    vus[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vus[3].u.i = RD_KAFKA_MSG_F_COPY;
    rd_kafka_error_t* error = rd_kafka_produceva(producer, vus.data(), vus.size());
    ASSERT_EQ(error, nullptr) << rd_kafka_error_string(error);
  }
  EXPECT_EQ(rd_kafka_flush(producer, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(producer);

  rd_kafka_t* consumer = Client(RD_KAFKA_CONSUMER, bootstrap);
  ASSERT_NE(consumer, nullptr);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(3);
  for (int p = 0; p < 3; ++p) {
    rd_kafka_topic_partition_list_add(parts, "t", p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  ASSERT_EQ(rd_kafka_assign(consumer, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<std::string> got;
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(20);
  while (got.size() < 30 && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      got.emplace_back(static_cast<const char*>(m->payload), m->len);
      EXPECT_EQ(m->partition, std::stoi(got.back().substr(1)) % 3);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  EXPECT_EQ(got.size(), 30U);

  EXPECT_EQ(broker.StopWith(SIGTERM, std::chrono::seconds(10)), 0);
  EXPECT_FALSE(std::filesystem::exists(file));  // it named ports that are closed now
}

TEST(BrokerTest, CreatesTheRecsdTopicsByDefault) {
  Child broker({"broker", "--partitions", "4", "--set", "topics.events=custom.events"});
  const std::string bootstrap = broker.ReadLine();
  ASSERT_FALSE(bootstrap.empty());
  rd_kafka_t* client = Client(RD_KAFKA_PRODUCER, bootstrap);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(Topics(client), (std::map<std::string, int>{{"custom.events", 4},
                                                        {"recsd.recommendations", 4},
                                                        {"recsd.state-changelog", 4},
                                                        {"recsd.items", 1},
                                                        {"recsd.events.dlq", 1},
                                                        {"recsd.model-stats", 1}}));
  rd_kafka_destroy(client);
  EXPECT_EQ(broker.StopWith(SIGINT, std::chrono::seconds(10)), 0);
}

TEST(BrokerTest, BadTopicSpecsAreUsageErrors) {
  for (const char* spec : {"t", ":3", "t:0", "t:x", "t:3x", "bad/name:1"}) {
    EXPECT_FALSE(recsd::stream::ParseTopicSpec(spec)) << spec;
  }
  const auto ok = recsd::stream::ParseTopicSpec("a.b-c_d:12");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->name, "a.b-c_d");
  EXPECT_EQ(ok->partitions, 12);
  Child broker({"broker", "--topic", "t:zero"});
  EXPECT_EQ(broker.ReadLine(), "");                            // nothing served
  EXPECT_EQ(broker.StopWith(0, std::chrono::seconds(10)), 2);  // signal 0: just wait
}

// ---- Fault injection (MockBroker::Inject; `recsd broker --control`) ----

// A producer whose delivery reports land in `reports`; gives up on a message after 1.5 s.
struct Producer {
  std::vector<rd_kafka_resp_err_t> reports;
  rd_kafka_t* rk = nullptr;

  explicit Producer(const std::string& bootstrap) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "message.timeout.ms", "1500", errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "retry.backoff.ms", "50", errstr, sizeof(errstr));
    // Back quickly once a broker is up again (the default backoff grows to 10 s).
    rd_kafka_conf_set(conf, "reconnect.backoff.ms", "20", errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "reconnect.backoff.max.ms", "100", errstr, sizeof(errstr));
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* self) {
      static_cast<Producer*>(self)->reports.push_back(m->err);
    });
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  }
  ~Producer() { rd_kafka_destroy(rk); }
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Produces one message to t[0] and waits for its delivery report: its error.
  rd_kafka_resp_err_t Send() {
    const std::size_t before = reports.size();
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, "t", nullptr);
    char value[] = "v";
    const int produced = rd_kafka_produce(t, 0, RD_KAFKA_MSG_F_COPY, value, 1, nullptr, 0, nullptr);
    rd_kafka_topic_destroy(t);
    if (produced != 0) return rd_kafka_last_error();
    while (reports.size() == before) rd_kafka_poll(rk, 50);
    return reports.back();
  }
};

using recsd::stream::MockBroker;
using recsd::stream::ParseMockFault;

void Inject(MockBroker& broker, const std::string& line) {
  auto fault = ParseMockFault(line);
  ASSERT_TRUE(fault) << fault.error();
  auto injected = broker.Inject(*fault);
  ASSERT_TRUE(injected) << line << ": " << injected.error();
}

TEST(BrokerFaultTest, ABrokerDownRefusesServiceUntilItIsUpAgain) {
  auto broker = MockBroker::Start(1, {{"t", 1}});
  ASSERT_TRUE(broker) << broker.error();
  Producer p((*broker)->bootstrap());
  EXPECT_EQ(p.Send(), RD_KAFKA_RESP_ERR_NO_ERROR);
  Inject(**broker, "down 1");
  EXPECT_EQ(p.Send(), RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
  Inject(**broker, "up 1");
  EXPECT_EQ(p.Send(), RD_KAFKA_RESP_ERR_NO_ERROR);
}

TEST(BrokerFaultTest, RequestErrorsAreReturnedInOrderThenServiceResumes) {
  auto broker = MockBroker::Start(1, {{"t", 1}});
  ASSERT_TRUE(broker) << broker.error();
  Producer p((*broker)->bootstrap());
  EXPECT_EQ(p.Send(), RD_KAFKA_RESP_ERR_NO_ERROR);  // connected: the next Produce gets the error
  // A retriable error is retried (and succeeds); a fatal one reaches the delivery report.
  Inject(**broker, "errors Produce NOT_LEADER_FOR_PARTITION,MSG_SIZE_TOO_LARGE");
  EXPECT_EQ(p.Send(), RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  EXPECT_EQ(p.Send(), RD_KAFKA_RESP_ERR_NO_ERROR);
  Inject(**broker, "errors Produce MSG_SIZE_TOO_LARGE*3");
  Inject(**broker, "clear Produce");
  EXPECT_EQ(p.Send(), RD_KAFKA_RESP_ERR_NO_ERROR);
}

TEST(BrokerFaultTest, RttDelaysEveryResponse) {
  auto broker = MockBroker::Start(1, {{"t", 1}});
  ASSERT_TRUE(broker) << broker.error();
  Producer p((*broker)->bootstrap());
  EXPECT_EQ(p.Send(), RD_KAFKA_RESP_ERR_NO_ERROR);
  Inject(**broker, "rtt 1 600");
  const Clock::time_point start = Clock::now();
  EXPECT_EQ(p.Send(), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(550));  // a lower bound: the fault
}

// Leader of t[p] per the cluster's metadata.
int32_t LeaderOf(rd_kafka_t* rk, int partition) {
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 1, nullptr, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) return -2;
  int32_t leader = -2;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (std::string(md->topics[i].topic) == "t")
      leader = md->topics[i].partitions[partition].leader;
  }
  rd_kafka_metadata_destroy(md);
  return leader;
}

TEST(BrokerFaultTest, LeadersMoveAndUnknownTargetsAreRefused) {
  auto broker = MockBroker::Start(3, {{"t", 2}});
  ASSERT_TRUE(broker) << broker.error();
  Producer p((*broker)->bootstrap());
  Inject(**broker, "leader t 1 3");
  EXPECT_EQ(LeaderOf(p.rk, 1), 3);
  Inject(**broker, "leader t 1 2");
  EXPECT_EQ(LeaderOf(p.rk, 1), 2);
  for (const char* line :
       {"leader t 2 1", "leader nope 0 1", "down 4", "rtt 4 10", "coordinator group g 9"}) {
    auto fault = ParseMockFault(line);
    ASSERT_TRUE(fault) << line;
    EXPECT_FALSE((*broker)->Inject(*fault)) << line;
  }
  EXPECT_EQ(Topics(p.rk).count("nope"), 0U);  // not created by the refused fault
}

// A consumer in group g is assigned t's partition within `limit`.
bool JoinsWithin(const std::string& bootstrap, std::chrono::seconds limit) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "group.id", "g", errstr, sizeof(errstr));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, "t", RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  bool assigned = false;
  for (const Clock::time_point until = Clock::now() + limit; !assigned && Clock::now() < until;) {
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100)) rd_kafka_message_destroy(m);
    rd_kafka_topic_partition_list_t* mine = nullptr;
    if (rd_kafka_assignment(rk, &mine) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      assigned = mine->cnt > 0;
      rd_kafka_topic_partition_list_destroy(mine);
    }
  }
  rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  return assigned;
}

TEST(BrokerFaultTest, TheGroupCoordinatorMoves) {
  // The partition's leader (1) stays up; only the coordinator's broker goes down.
  auto broker = MockBroker::Start(2, {{"t", 1}});
  ASSERT_TRUE(broker) << broker.error();
  Inject(**broker, "leader t 0 1");
  Inject(**broker, "coordinator group g 2");
  Inject(**broker, "down 2");
  EXPECT_FALSE(JoinsWithin((*broker)->bootstrap(), std::chrono::seconds(3)));
  Inject(**broker, "coordinator group g 1");
  EXPECT_TRUE(JoinsWithin((*broker)->bootstrap(), std::chrono::seconds(15)));
}

// `--control FILE`: each fault answered on stdout, in order, a bad one with its reason.
TEST(BrokerFaultTest, TheBrokerCommandReadsFaultsFromItsControlFile) {
  TempDir dir;
  const std::string control = (dir.path() / "faults").string();
  std::ofstream(control) << "# a schedule\nrtt 1 10\n\nleader t 0 2\nexplode\nrtt 1 0";
  Child broker({"broker", "--topic", "t:1", "--brokers", "2", "--control", control});
  EXPECT_EQ(broker.ReadLine().rfind("127.0.0.1:", 0), 0U);
  EXPECT_EQ(broker.ReadLine(), "fault 1: rtt 1 10");
  EXPECT_EQ(broker.ReadLine(), "fault 2: leader t 0 2");
  EXPECT_EQ(broker.ReadLine().rfind("fault 3 failed: unknown fault \"explode\"", 0), 0U);
  EXPECT_EQ(broker.ReadLine(), "fault 4: rtt 1 0");  // the last line needs no newline
  EXPECT_EQ(broker.StopWith(SIGTERM, std::chrono::seconds(10)), 0);

  // A control input that cannot be opened is a usage error before anything is served.
  Child missing({"broker", "--control", (dir.path() / "no-such-file").string()});
  EXPECT_EQ(missing.ReadLine(), "");
  EXPECT_EQ(missing.StopWith(0, std::chrono::seconds(10)), 2);
}

// ---- stream::PartitionCounts while no broker is up (the start-up of `recsd run`) ----

// Asked in slices so that a stop is seen: a slice with no broker connection up yet fails with
// __TRANSPORT, and that is waited out like a slow answer, not the end of the start-up.
TEST(PartitionCountsTest, WaitsForABrokerThatComesUpWithinTheTimeout) {
  auto broker = MockBroker::Start(1, {{"t", 2}});
  ASSERT_TRUE(broker) << broker.error();
  Inject(**broker, "down 1");
  rd_kafka_t* rk = Client(RD_KAFKA_PRODUCER, (*broker)->bootstrap());
  ASSERT_NE(rk, nullptr);
  std::thread up([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    Inject(**broker, "up 1");
  });
  auto counts = recsd::stream::PartitionCounts(rk, {"t"}, 10'000, [] { return false; });
  up.join();
  ASSERT_TRUE(counts) << counts.error();
  EXPECT_EQ(*counts, (std::map<std::string, int>{{"t", 2}}));
  rd_kafka_destroy(rk);
}

TEST(PartitionCountsTest, AStopEndsTheWaitAndAMissingTopicIsNamed) {
  auto broker = MockBroker::Start(1, {{"t", 2}});
  ASSERT_TRUE(broker) << broker.error();
  rd_kafka_t* rk = Client(RD_KAFKA_PRODUCER, (*broker)->bootstrap());
  ASSERT_NE(rk, nullptr);
  auto missing = recsd::stream::PartitionCounts(rk, {"t", "u"}, 5000, [] { return false; });
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("topic 'u' does not exist"), std::string::npos) << missing.error();

  Inject(**broker, "down 1");
  const Clock::time_point start = Clock::now();
  auto stopped = recsd::stream::PartitionCounts(
      rk, {"t"}, 20'000, [&] { return Clock::now() - start > std::chrono::milliseconds(500); });
  ASSERT_FALSE(stopped);
  EXPECT_NE(stopped.error().find("stopped"), std::string::npos) << stopped.error();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  rd_kafka_destroy(rk);
}

// The README's first command: the demo runs everything in one process, shows lists and learned
// weights, and stops cleanly on SIGINT (Ctrl-C) well within 10 s.
TEST(DemoTest, ServesListsLearnsFromClicksAndStopsCleanlyOnCtrlC) {
  Child demo({"demo", "--rate", "300", "--users", "100", "--items", "500"});
  std::string view;
  const Clock::time_point until = Clock::now() + std::chrono::seconds(40);
  bool learned = false;
  bool listed = false;
  while (!(learned && listed) && Clock::now() < until) {
    const std::string line = demo.ReadLine();
    if (line.find("fusion weights, learned from") != std::string::npos &&
        line.find("from 0 clicks") == std::string::npos) {
      learned = true;
    }
    if (line.find("latest list of user u0") != std::string::npos) listed = true;
    view += line + "\n";
  }
  EXPECT_TRUE(learned) << view.substr(view.size() > 3000 ? view.size() - 3000 : 0);
  EXPECT_TRUE(listed) << view.substr(view.size() > 3000 ? view.size() - 3000 : 0);
  const Clock::time_point stop = Clock::now();
  EXPECT_EQ(demo.StopWith(SIGINT, std::chrono::seconds(15)), 0);
  EXPECT_LT(Clock::now() - stop, std::chrono::seconds(10));
}

}  // namespace
