#include "state/model_stats_codec.h"

#include <cmath>
#include <optional>

#include <msgpack.hpp>

#include "model/fusion.h"
#include "model/ids.h"
#include "state/msgpack_reader.h"
#include "state/msgpack_writer.h"

namespace recsd::state {
namespace {

// At most this many entries per list: a record is bounded whatever wrote it.
constexpr std::uint32_t kMaxEntries = 1 << 20;

// Appended: GCC 12 at -O3 reports a false -Wrestrict on `"literal" + std::string`.
Unexpected<StateError> Invalid(std::string_view why) {
  std::string message = "model statistics: ";
  message.append(why);
  return Fail(StateError{std::move(message), /*unsupported_version=*/false});
}

bool Finite(double v) { return std::isfinite(v); }

bool ValidId(const std::string& id) { return !id.empty() && id.size() <= kMaxIdBytes; }

// An array of kSourceCount numbers into `out`; false when it is not one.
bool Numbers(const msgpack::object& o, std::array<double, model::kSourceCount>* out) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size != model::kSourceCount) return false;
  for (std::size_t s = 0; s < model::kSourceCount; ++s) {
    const auto v = Num(o.via.array.ptr[s]);
    if (!v || !Finite(*v)) return false;
    (*out)[s] = *v;
  }
  return true;
}

std::optional<model::WeightPosterior> PosteriorOf(const msgpack::object& o) {
  if (o.type != msgpack::type::MAP) return std::nullopt;
  Reader r{o, {}};
  const auto* mean = r.Need("mean", msgpack::type::ARRAY);
  const auto* variance = r.Need("variance", msgpack::type::ARRAY);
  const auto* bias_mean = r.Need("bias_mean", msgpack::type::FLOAT64);
  const auto* bias_variance = r.Need("bias_variance", msgpack::type::FLOAT64);
  const auto* examples = r.Need("examples", msgpack::type::POSITIVE_INTEGER);
  if (!r.error.empty()) return std::nullopt;
  model::WeightPosterior p;
  if (!Numbers(*mean, &p.mean) || !Numbers(*variance, &p.variance)) return std::nullopt;
  p.bias_mean = *Num(*bias_mean);
  p.bias_variance = *Num(*bias_variance);
  p.examples = examples->via.u64;
  if (!Finite(p.bias_mean) || !(p.bias_variance > 0) || !Finite(p.bias_variance)) {
    return std::nullopt;
  }
  for (double v : p.variance) {
    if (!(v > 0)) return std::nullopt;
  }
  return p;
}

}  // namespace

std::string EncodeModelStats(const model::PartitionStats& stats) {
  std::string out;
  MsgpackWriter w(&out);
  w.Map(10);
  w.Key("v").Int(kModelStatsVersion);
  w.Key("partition").Int(stats.partition);
  w.Key("as_of").Int(stats.as_of.ms);
  w.Key("offset").Int(stats.offset);
  w.Key("trending_half_life").Double(stats.trending_half_life);
  w.Key("covisit_half_life").Double(stats.covisit_half_life);
  w.Key("prior_variance").Double(stats.prior_variance);
  w.Key("popularity").Array(stats.popularity.size());
  for (const auto& [item, v] : stats.popularity) w.Array(2).Str(item.str()).Double(v);
  w.Key("covisit").Array(stats.covisit.size());
  for (const model::PartitionStats::Edge& e : stats.covisit) {
    w.Array(3).Str(e.from.str()).Str(e.to.str()).Double(e.weight);
  }
  const model::WeightPosterior& p = stats.learner;
  w.Key("learner").Map(5);
  w.Key("mean").Array(p.mean.size());
  for (double m : p.mean) w.Double(m);
  w.Key("variance").Array(p.variance.size());
  for (double v : p.variance) w.Double(v);
  w.Key("bias_mean").Double(p.bias_mean);
  w.Key("bias_variance").Double(p.bias_variance);
  w.Key("examples").Uint(p.examples);
  return out;
}

Result<model::PartitionStats, StateError> DecodeModelStats(std::string_view bytes) {
  static const msgpack::unpack_limit limits(kMaxEntries, 64, kMaxEntries, 1 << 26, 1024, 8);
  msgpack::object_handle handle;
  if (auto problem = UnpackRecord(bytes, limits, "model statistics", kModelStatsVersion, &handle)) {
    return Fail(StateError{std::move(problem->message), problem->unsupported});
  }
  Reader r{handle.get(), {}};
  const auto* partition = r.Need("partition", msgpack::type::POSITIVE_INTEGER);
  const auto* as_of = r.Need("as_of", msgpack::type::NEGATIVE_INTEGER);
  const auto* offset = r.Need("offset", msgpack::type::NEGATIVE_INTEGER);
  const auto* trending = r.Need("trending_half_life", msgpack::type::FLOAT64);
  const auto* covisit_h = r.Need("covisit_half_life", msgpack::type::FLOAT64);
  const auto* prior = r.Need("prior_variance", msgpack::type::FLOAT64);
  const auto* popularity = r.Need("popularity", msgpack::type::ARRAY);
  const auto* covisit = r.Need("covisit", msgpack::type::ARRAY);
  const auto* learner = r.Need("learner", msgpack::type::MAP);
  if (!r.error.empty()) return Invalid(r.error);
  model::PartitionStats out;
  if (partition->via.u64 > INT32_MAX) return Invalid("bad 'partition'");
  out.partition = static_cast<std::int32_t>(partition->via.u64);
  const auto ms = Int(*as_of);
  if (!ms) return Invalid("bad 'as_of'");
  out.as_of = {*ms};
  const auto covered = Int(*offset);
  if (!covered || *covered < -1) return Invalid("bad 'offset'");
  out.offset = *covered;
  out.trending_half_life = *Num(*trending);
  out.covisit_half_life = *Num(*covisit_h);
  out.prior_variance = *Num(*prior);
  for (double h : {out.trending_half_life, out.covisit_half_life, out.prior_variance}) {
    if (!(h > 0) || !Finite(h)) return Invalid("a half-life or the prior variance is not > 0");
  }
  out.popularity.reserve(popularity->via.array.size);
  for (std::uint32_t i = 0; i < popularity->via.array.size; ++i) {
    auto entry = NameAndNumber(popularity->via.array.ptr[i]);
    if (!entry || !ValidId(entry->first) || !(entry->second >= 0) || !Finite(entry->second)) {
      return Invalid("bad 'popularity' entry");
    }
    out.popularity.emplace_back(ItemId(std::move(entry->first)), entry->second);
  }
  out.covisit.reserve(covisit->via.array.size);
  for (std::uint32_t i = 0; i < covisit->via.array.size; ++i) {
    const msgpack::object& e = covisit->via.array.ptr[i];
    if (e.type != msgpack::type::ARRAY || e.via.array.size != 3) {
      return Invalid("bad 'covisit' entry");
    }
    auto from = Str(e.via.array.ptr[0]);
    auto to = Str(e.via.array.ptr[1]);
    const auto weight = Num(e.via.array.ptr[2]);
    if (!from || !to || !weight || !ValidId(*from) || !ValidId(*to) || *from == *to ||
        !(*weight >= 0) || !Finite(*weight)) {
      return Invalid("bad 'covisit' entry");
    }
    out.covisit.push_back({ItemId(std::move(*from)), ItemId(std::move(*to)), *weight});
  }
  auto posterior = PosteriorOf(*learner);
  if (!posterior) return Invalid("bad 'learner'");
  out.learner = *posterior;
  return out;
}

}  // namespace recsd::state
