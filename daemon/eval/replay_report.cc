// What a replay reports: the report's JSON, the summary it prints, the files it writes.

#include <fstream>
#include <iostream>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/base/exit_codes.h"
#include "daemon/eval/replay.h"

namespace recsd::daemon {
namespace {

std::string Ctr(const model::VariantCounts& c) {
  return c.lists == 0
             ? std::string("-")
             : fmt::format("{:.4f}", static_cast<double>(c.clicks) / static_cast<double>(c.lists));
}

// One line on clicks and learning: "learning on: ...", or the click rate of the static lists.
std::string FeedbackSummary(const ReplayReport& r) {
  const auto& learned = r.feedback[static_cast<std::size_t>(model::Variant::kLearned)];
  const auto& holdout = r.feedback[static_cast<std::size_t>(model::Variant::kHoldout)];
  if (!r.learn) {
    return fmt::format("learning off: {} clicks, ctr {:.4f}", r.clicks, r.ctr);
  }
  std::string weights;
  if (!r.weight_trajectory.empty()) {
    const WeightPoint& last = r.weight_trajectory.back();
    for (std::size_t s = 0; s < r.features.size(); ++s) {
      weights += fmt::format("{}{}={:.3f}", s == 0 ? "" : ",", r.features[s], last.weights[s]);
    }
  }
  return fmt::format(
      "learning on: {} clicks, ctr {:.4f} (learned {} over {} lists, holdout {} over {}); guard "
      "{} (z {:.2f}); {} restarts from the prior\n  learned weights {}",
      r.clicks, r.ctr, Ctr(learned), learned.lists, Ctr(holdout), holdout.lists,
      r.guard.reverted ? "REVERTED to the static weights" : "ok", r.guard.z, r.learner_restarts,
      weights);
}

}  // namespace

// Writes `json` to --json-report (nothing when it is not given; "-" is stdout): an exit code.
int WriteJsonReport(const ReplayOptions& options, const nlohmann::ordered_json& json) {
  if (options.json_report.empty()) return kExitOk;
  const std::string text = json.dump(2) + "\n";
  if (options.json_report == "-") {
    std::cout << text;
    return kExitOk;
  }
  std::ofstream out(options.json_report, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) {
    spdlog::error("recsd replay: cannot write the report to {}", options.json_report);
    return kExitFailure;
  }
  return kExitOk;
}

std::uint64_t ReplayReport::FillFromRun(const model::Engine& engine,
                                        const model::PrequentialEvaluator& evaluator,
                                        bool learning) {
  learn = learning;
  std::uint64_t finished = 0;
  for (std::size_t v = 0; v < model::kVariantCount; ++v) {
    feedback[v] = engine.counts(static_cast<model::Variant>(v));
    clicks += feedback[v].clicks;
    finished += feedback[v].lists;
  }
  ctr = finished == 0 ? 0.0 : static_cast<double>(clicks) / static_cast<double>(finished);
  guard = engine.guard();
  learner_restarts = engine.learner().restarts();
  users = engine.users();
  items = engine.catalog().size();
  user_state_bytes = engine.UserStateBytes();
  evaluated = evaluator.evaluated();
  hits = evaluator.hits();
  hit_rate = evaluator.HitRate();
  ndcg = evaluator.Ndcg();
  mrr = evaluator.Mrr();
  coverage = evaluator.Coverage(items);
  return finished;
}

nlohmann::ordered_json ReplayReport::ToJson() const {
  nlohmann::ordered_json j;
  j["events"] = events;
  j["evaluated"] = evaluated;
  j["users"] = users;
  j["items"] = items;
  j["k"] = k;
  j["hit_rate"] = hit_rate;
  j["ndcg"] = ndcg;
  j["mrr"] = mrr;
  j["coverage"] = coverage;
  j["events_per_second"] = events_per_second;
  j["wall_seconds"] = wall_seconds;
  nlohmann::ordered_json w = nlohmann::ordered_json::object();
  for (std::size_t s = 0; s < features.size(); ++s) w[features[s]] = weights[s];
  j["weights"] = std::move(w);
  j["only_source"] =
      only_source.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(only_source);
  j["input_format"] = input_format;
  j["hits"] = hits;
  j["lists"] = lists;
  j["unknown_items"] = unknown_items;
  j["rejected"] = rejected;
  j["user_state_bytes"] = user_state_bytes;
  j["bytes_per_user"] = BytesPerUser();
  j["learn"] = learn;
  j["clicks"] = clicks;
  j["ctr"] = ctr;
  const auto rate = [](const model::VariantCounts& c) {
    return c.lists == 0 ? nlohmann::ordered_json()
                        : nlohmann::ordered_json(static_cast<double>(c.clicks) /
                                                 static_cast<double>(c.lists));
  };
  j["ctr_learned"] = rate(feedback[static_cast<std::size_t>(model::Variant::kLearned)]);
  j["ctr_holdout"] = rate(feedback[static_cast<std::size_t>(model::Variant::kHoldout)]);
  nlohmann::ordered_json variants = nlohmann::ordered_json::object();
  for (std::size_t v = 0; v < model::kVariantCount; ++v) {
    variants[std::string(model::VariantName(static_cast<model::Variant>(v)))] = {
        {"lists", feedback[v].lists},
        {"clicked_lists", feedback[v].clicked_lists},
        {"clicks", feedback[v].clicks},
        {"ctr", rate(feedback[v])}};
  }
  j["variants"] = std::move(variants);
  j["guard"] = {{"reverted", guard.reverted}, {"z", guard.z}};
  j["learner_restarts"] = learner_restarts;
  nlohmann::ordered_json trajectory = nlohmann::ordered_json::array();
  for (const WeightPoint& p : weight_trajectory) {
    nlohmann::ordered_json point;
    point["events"] = p.events;
    point["version"] = p.version;
    for (std::size_t s = 0; s < features.size(); ++s) point[features[s]] = p.weights[s];
    trajectory.push_back(std::move(point));
  }
  j["weight_trajectory"] = std::move(trajectory);
  if (!baselines.empty()) {
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const Baseline& b : baselines) {
      all.push_back({{"name", b.name},
                     {"hit_rate", b.hit_rate},
                     {"ndcg", b.ndcg},
                     {"mrr", b.mrr},
                     {"coverage", b.coverage},
                     {"wall_seconds", b.wall_seconds},
                     {"mcnemar",
                      {{"engine_only", b.engine_only},
                       {"baseline_only", b.baseline_only},
                       {"z", b.z},
                       {"p_two_sided", b.p_two_sided}}}});
    }
    j["baselines"] = std::move(all);
  }
  return j;
}

int WriteReport(const ReplayOptions& options, const ReplayReport& report,
                const nlohmann::ordered_json& json_report, const std::string& extra) {
  std::string weights;
  for (std::size_t s = 0; s < report.features.size(); ++s) {
    weights += fmt::format("{}{}={:g}", s == 0 ? "" : ",", report.features[s], report.weights[s]);
  }
  std::cout << fmt::format(
      "replay {}: {} events, {} users, {} items; {} interactions evaluated at k={}\n"
      "  hit_rate {:.4f}  ndcg {:.4f}  mrr {:.4f}  coverage {:.4f}\n"
      "  weights {}{}\n"
      "  {:.2f} s, {:.0f} events/s; {} lists; {} events on unknown items; {} records rejected\n"
      "  user state {:.1f} KB per user\n"
      "  {}\n",
      report.input_format, report.events, report.users, report.items, report.evaluated, report.k,
      report.hit_rate, report.ndcg, report.mrr, report.coverage, weights,
      report.only_source.empty() ? "" : " (only " + report.only_source + ")", report.wall_seconds,
      report.events_per_second, report.lists, report.unknown_items, report.rejected,
      report.BytesPerUser() / 1024.0, FeedbackSummary(report));
  for (const ReplayReport::Baseline& b : report.baselines) {
    std::cout << fmt::format(
        "baseline {}: hit_rate {:.4f}  ndcg {:.4f}  mrr {:.4f}  coverage {:.4f}  ({:.2f} s)\n"
        "  engine vs {}: hits only the engine's {}, only the baseline's {}; McNemar z {:.2f}, "
        "two-sided p {:.2g}\n",
        b.name, b.hit_rate, b.ndcg, b.mrr, b.coverage, b.wall_seconds, b.name, b.engine_only,
        b.baseline_only, b.z, b.p_two_sided);
  }
  if (!extra.empty()) std::cout << extra << "\n";
  if (!options.ranks_file.empty()) {
    std::ofstream out(options.ranks_file, std::ios::binary | std::ios::trunc);
    for (const std::int32_t rank : report.ranks) out << rank << '\n';
    out.flush();
    if (!out) {
      spdlog::error("recsd replay: cannot write the ranks to {}", options.ranks_file);
      return kExitFailure;
    }
  }
  if (!options.state_digests.empty()) {
    std::ofstream out(options.state_digests, std::ios::binary | std::ios::trunc);
    for (const auto& [user, digest] : report.state_digests) out << user << ' ' << digest << '\n';
    out.flush();
    if (!out) {
      spdlog::error("recsd replay: cannot write the state digests to {}", options.state_digests);
      return kExitFailure;
    }
  }
  return WriteJsonReport(options, json_report);
}

}  // namespace recsd::daemon
