#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

#include "model/ann_index.h"

namespace recsd::daemon {

// A model::ParallelFor that splits [0, n) into `threads` equal ranges, runs all but the first on
// threads of their own and the first on the caller, and returns when every one is done. For
// one-off work that would otherwise hold one core while the others wait (training the catalog's
// index at start-up); 0 threads: one per core.
inline model::ParallelFor ParallelForThreads(std::size_t threads = 0) {
  if (threads == 0) threads = std::max(1U, std::thread::hardware_concurrency());
  return [threads](std::size_t n, const std::function<void(std::size_t, std::size_t)>& body) {
    const std::size_t parts = std::max<std::size_t>(1, std::min(threads, n / 1024));
    std::vector<std::jthread> others;
    for (std::size_t p = 1; p < parts; ++p) {
      others.emplace_back([&body, p, parts, n] { body(n * p / parts, n * (p + 1) / parts); });
    }
    body(0, n / parts);
  };
}

}  // namespace recsd::daemon
