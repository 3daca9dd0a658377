#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "model/sources/source.h"

namespace recsd::model {

struct FreshOptions {
  double half_life = 30 * 86400.0;  // seconds of item age at which the score halves
};

// `fresh`: how new an item is, 2^(−age/half-life) of its age (item ts) at the time of the list;
// items dated in the future count as new. Offers the catalog's newest available items. No
// statistics of its own: nothing to share across partitions.
class FreshSource final : public Source {
 public:
  static constexpr std::string_view kName = "fresh";
  explicit FreshSource(const FreshOptions& options);

  std::string_view name() const noexcept override { return kName; }
  std::span<const std::string_view> features() const noexcept override;
  void SetCatalog(const Catalog& catalog) override;
  void Prepare(std::span<const RankUser> users, const RankContext& ctx) override;
  void Offer(std::size_t feature, const RankUser& user, const RankContext& ctx,
             CandidateSink& sink) override;
  void Score(std::size_t feature, const RankUser& user, const RankContext& ctx,
             std::span<Candidate> candidates, std::size_t x) override;

 private:
  FreshOptions options_;
  const Catalog* catalog_ = nullptr;
  std::vector<std::uint32_t> newest_;  // the newest available rows, newest first
  std::size_t newest_n_ = 0;           // how many newest_ was made for (0: to be made)
};

}  // namespace recsd::model
