#pragma once

#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace recsd::metrics {

// The Prometheus text exposition (format 0.0.4) of everything the collectables hold at the time
// of the call: a registry of recsd's metrics, the process collector, ... Collectables that are
// gone are skipped. Any thread.
std::string Render(const std::vector<std::weak_ptr<prometheus::Collectable>>& collectables);
// The exposition of families already collected.
std::string Render(const std::vector<prometheus::MetricFamily>& families);

}  // namespace recsd::metrics
