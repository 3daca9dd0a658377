// Reads the events and the lists of a durability run (kcat dumps) and says what a crash cost in
// outputs: lists repeated with the same `rec`, lists re-issued under a new `rec` for events an
// earlier list already covered, and users whose last list is not for their last event (a lost
// list).
//
// Input: kcat -C -e -f '%p %o %K %S\n%k%s' dumps (partition, offset, key and value lengths on a
// line, then the key and value bytes), one of the events topic and one of the lists topic.
// Usage: lists_check EVENTS_DUMP LISTS_DUMP
// Prints one line of figures ("lists N distinct_recs N same_rec_repeats N reissued N users N
// lost N undecodable N tombstones N") and, for the first few problems, what they are. A
// tombstone (a null value: recsd deletes a forgotten user's lists) ends that user's lists, so they
// have no last list to check. Exit 0 when no list is lost and no
// list is re-issued under a new rec; 1 otherwise; 2 when the dumps cannot be read.

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/event.h"
#include "model/list_id.h"
#include "stream/event_codec.h"
#include "stream/recommendation_codec.h"

namespace {

struct Message {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string value;
  bool tombstone = false;  // a null value (kcat's length -1)
};

bool ReadDump(const char* path, std::vector<Message>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t at = 0;
  while (at < bytes.size()) {
    const std::size_t eol = bytes.find('\n', at);
    if (eol == std::string::npos) return false;
    Message m;
    long long key_len = 0;
    long long value_len = 0;
    long long offset = 0;
    int partition = 0;
    if (std::sscanf(bytes.substr(at, eol - at).c_str(), "%d %lld %lld %lld", &partition, &offset,
                    &key_len, &value_len) != 4) {
      return false;
    }
    m.tombstone = value_len < 0;
    key_len = std::max(0LL, key_len);
    value_len = std::max(0LL, value_len);
    at = eol + 1;
    if (at + static_cast<std::size_t>(key_len + value_len) > bytes.size()) return false;
    m.partition = partition;
    m.offset = offset;
    m.key = bytes.substr(at, static_cast<std::size_t>(key_len));
    m.value =
        bytes.substr(at + static_cast<std::size_t>(key_len), static_cast<std::size_t>(value_len));
    at += static_cast<std::size_t>(key_len + value_len);
    out->push_back(std::move(m));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: lists_check EVENTS_DUMP LISTS_DUMP\n";
    return 2;
  }
  std::vector<Message> events;
  std::vector<Message> lists;
  if (!ReadDump(argv[1], &events) || !ReadDump(argv[2], &lists)) {
    std::cerr << "lists_check: cannot read the dumps\n";
    return 2;
  }
  // The last event of each user that asks for a list (weight not 0), and its rec ("p-offset").
  const recsd::EventTypeTable types;
  std::map<std::string, std::string> last_trigger;
  for (const Message& m : events) {
    auto e = recsd::stream::DecodeEvent(m.value, types);
    if (!e || types.Get(e->type).weight == 0.0) continue;
    last_trigger[e->user.str()] = recsd::model::FormatListId({m.partition, m.offset});
  }
  const auto offset_of = [](const std::string& rec) {
    const auto id = recsd::model::ParseListId(rec);
    return id ? id->offset : std::int64_t{-1};
  };
  // Lists in the order each user's partition holds them.
  std::map<std::string, std::set<std::string>> seen;  // by user: recs published
  std::map<std::string, std::int64_t> newest;         // by user: highest trigger published
  std::map<std::string, std::string> last_list;       // by user: rec of the last list
  std::size_t same_rec = 0;
  std::size_t reissued = 0;
  std::size_t undecodable = 0;
  std::size_t tombstones = 0;
  std::vector<std::string> problems;
  for (const Message& m : lists) {
    if (m.tombstone) {  // a forgotten user: every list of theirs is deleted
      ++tombstones;
      last_list[m.key] = "deleted";
      continue;
    }
    auto list = recsd::stream::DecodeRecommendationList(m.value);
    if (!list) {
      ++undecodable;
      continue;
    }
    const std::string user = list->user.str();
    const std::int64_t trigger = offset_of(list->rec);
    if (!seen[user].insert(list->rec).second) {
      ++same_rec;
    } else if (newest.contains(user) && trigger < newest[user]) {
      ++reissued;
      if (problems.size() < 5) {
        problems.push_back("user " + user + ": new list " + list->rec +
                           " after a list for offset " + std::to_string(newest[user]));
      }
    }
    newest[user] = std::max(newest.contains(user) ? newest[user] : -1, trigger);
    last_list[user] = list->rec;
  }
  std::size_t lost = 0;
  for (const auto& [user, rec] : last_trigger) {
    const auto it = last_list.find(user);
    if (it != last_list.end() && it->second == "deleted") continue;  // forgotten last
    if (it == last_list.end() || it->second != rec) {
      ++lost;
      if (problems.size() < 10) {
        problems.push_back("user " + user + ": last event " + rec + ", last list " +
                           (it == last_list.end() ? std::string("none") : it->second));
      }
    }
  }
  std::cout << "lists " << lists.size() << " distinct_recs " << lists.size() - same_rec
            << " same_rec_repeats " << same_rec << " reissued " << reissued << " users "
            << last_trigger.size() << " lost " << lost << " undecodable " << undecodable
            << " tombstones " << tombstones << "\n";
  for (const std::string& p : problems) std::cout << "  " << p << "\n";
  return lost == 0 && reissued == 0 && undecodable == 0 ? 0 : 1;
}
