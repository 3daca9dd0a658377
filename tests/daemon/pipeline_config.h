#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/config/config.h"

namespace recsd::testing {

// The configuration the pipeline's tests share: short topic names (ev, items, recs, dlq,
// changelog, stats), 8-dimensional embeddings, a 20 ms refresh, no stats log line, a 5 s shutdown;
// then `sets` (section.key=value, as --set). A problem fails the calling test.
inline daemon::Config PipelineTestConfig(const std::string& bootstrap, const std::string& group,
                                         const std::vector<std::string>& sets) {
  std::vector<std::string> all = {"kafka.bootstrap.servers=" + bootstrap,
                                  "kafka.group.id=" + group,
                                  "topics.events=ev",
                                  "topics.items=items",
                                  "topics.recommendations=recs",
                                  "topics.dlq=dlq",
                                  "topics.changelog=changelog",
                                  "topics.model_stats=stats",
                                  "model.embedding_dim=8",
                                  "pipeline.refresh_interval=20ms",
                                  "pipeline.stats_interval=0ms",
                                  "pipeline.shutdown_timeout=5s"};
  all.insert(all.end(), sets.begin(), sets.end());
  daemon::LoadedConfig loaded = daemon::LoadConfig({"", all, {}});
  for (const auto& p : loaded.problems) ADD_FAILURE() << p.ToString();
  return loaded.config;
}

}  // namespace recsd::testing
