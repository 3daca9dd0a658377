#include "state/model_stats_codec.h"

#include <algorithm>
#include <array>
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

// An array of `n` finite numbers into `out`; false when it is not one.
bool Numbers(const msgpack::object& o, std::size_t n, std::array<double, model::kMaxSources>* out) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size != n || n > model::kMaxSources) {
    return false;
  }
  for (std::size_t s = 0; s < n; ++s) {
    const auto v = Num(o.via.array.ptr[s]);
    if (!v || !Finite(*v)) return false;
    (*out)[s] = *v;
  }
  return true;
}

std::optional<model::WeightPosterior> PosteriorOf(const msgpack::object& o, std::size_t features,
                                                  double prior_variance) {
  if (o.type != msgpack::type::MAP) return std::nullopt;
  Reader r{o, {}};
  const auto* mean = r.Need("mean", msgpack::type::ARRAY);
  const auto* variance = r.Need("variance", msgpack::type::ARRAY);
  const auto* bias_mean = r.Need("bias_mean", msgpack::type::FLOAT64);
  const auto* bias_variance = r.Need("bias_variance", msgpack::type::FLOAT64);
  const auto* examples = r.Need("examples", msgpack::type::POSITIVE_INTEGER);
  if (!r.error.empty()) return std::nullopt;
  const auto* covariance = r.Find("covariance");  // optional: older writers kept the diagonal
  model::WeightPosterior p;
  p.variance.fill(prior_variance);  // features past the record's are at their prior
  if (!Numbers(*mean, features, &p.mean) || !Numbers(*variance, features, &p.variance)) {
    return std::nullopt;
  }
  p.bias_mean = *Num(*bias_mean);
  p.bias_variance = *Num(*bias_variance);
  p.examples = examples->via.u64;
  if (!Finite(p.bias_mean) || !(p.bias_variance > 0) || !Finite(p.bias_variance)) {
    return std::nullopt;
  }
  for (double v : p.variance) {
    if (!(v > 0)) return std::nullopt;
  }
  if (covariance != nullptr) {
    const std::size_t n = features + 1;
    if (covariance->type != msgpack::type::ARRAY || covariance->via.array.size != n * n) {
      return std::nullopt;
    }
    p.covariance.resize(n * n);
    for (std::size_t i = 0; i < n * n; ++i) {
      const auto v = Num(covariance->via.array.ptr[i]);
      if (!v) return std::nullopt;
      p.covariance[i] = *v;
    }
    if (!model::IsCovariance(p.covariance, features)) return std::nullopt;
    // The marginals are the matrix's diagonal, whatever the record's 'variance' said.
    for (std::size_t s = 0; s < features; ++s) p.variance[s] = p.covariance[s * n + s];
    p.bias_variance = p.covariance[n * n - 1];
  }
  return p;
}

// One source's share: {source, half_life, items, edges, vectors}; nothing when it is malformed
// (the error says what).
std::optional<model::SourceStats> ShareOf(const msgpack::object& o, std::string* error) {
  if (o.type != msgpack::type::MAP) {
    *error = "a 'sources' entry is not a map";
    return std::nullopt;
  }
  Reader r{o, {}};
  const auto* source = r.Need("source", msgpack::type::STR);
  const auto* half_life = r.Need("half_life", msgpack::type::FLOAT64);
  const auto* items = r.Need("items", msgpack::type::ARRAY);
  const auto* edges = r.Need("edges", msgpack::type::ARRAY);
  const auto* vectors = r.Need("vectors", msgpack::type::ARRAY);
  if (!r.error.empty()) {
    *error = "a 'sources' entry: " + r.error;
    return std::nullopt;
  }
  model::SourceStats out;
  out.source = *Str(*source);
  out.half_life = *Num(*half_life);
  if (out.source.empty() || out.source.size() > 64 || !(out.half_life > 0) ||
      !Finite(out.half_life)) {
    *error = "a 'sources' entry has no name or a half-life that is not > 0";
    return std::nullopt;
  }
  const auto bad = [&](std::string_view what) {
    *error = "bad '";
    error->append(what).append("' entry of source '").append(out.source).append("'");
    return std::nullopt;
  };
  out.items.reserve(items->via.array.size);
  for (std::uint32_t i = 0; i < items->via.array.size; ++i) {
    auto entry = NameAndNumber(items->via.array.ptr[i]);
    if (!entry || !ValidId(entry->first) || !(entry->second >= 0) || !Finite(entry->second)) {
      return bad("items");
    }
    out.items.emplace_back(ItemId(std::move(entry->first)), entry->second);
  }
  out.edges.reserve(edges->via.array.size);
  for (std::uint32_t i = 0; i < edges->via.array.size; ++i) {
    const msgpack::object& e = edges->via.array.ptr[i];
    if (e.type != msgpack::type::ARRAY || e.via.array.size != 3) return bad("edges");
    auto from = Str(e.via.array.ptr[0]);
    auto to = Str(e.via.array.ptr[1]);
    const auto weight = Num(e.via.array.ptr[2]);
    if (!from || !to || !weight || !ValidId(*from) || !ValidId(*to) || *from == *to ||
        !(*weight >= 0) || !Finite(*weight)) {
      return bad("edges");
    }
    out.edges.push_back({ItemId(std::move(*from)), ItemId(std::move(*to)), *weight});
  }
  out.vectors.reserve(vectors->via.array.size);
  std::size_t dim = 0;
  for (std::uint32_t i = 0; i < vectors->via.array.size; ++i) {
    const msgpack::object& e = vectors->via.array.ptr[i];
    if (e.type != msgpack::type::ARRAY || e.via.array.size != 3) return bad("vectors");
    auto item = Str(e.via.array.ptr[0]);
    const auto mass = Num(e.via.array.ptr[1]);
    model::SourceStats::Vector v;
    if (!item || !mass || !ValidId(*item) || !(*mass >= 0) || !Finite(*mass) ||
        !Floats(e.via.array.ptr[2], &v.values) || v.values.empty() ||
        (i > 0 && v.values.size() != dim) ||
        !std::all_of(v.values.begin(), v.values.end(), [](float x) { return std::isfinite(x); })) {
      return bad("vectors");
    }
    dim = v.values.size();
    v.item = ItemId(std::move(*item));
    v.mass = *mass;
    out.vectors.push_back(std::move(v));
  }
  return out;
}

}  // namespace

std::string EncodeModelStats(const model::PartitionStats& stats) {
  std::string out;
  MsgpackWriter w(&out);
  w.Map(8);
  w.Key("v").Int(kModelStatsVersion);
  w.Key("partition").Int(stats.partition);
  w.Key("as_of").Int(stats.as_of.ms);
  w.Key("offset").Int(stats.offset);
  w.Key("features").Array(stats.features.size());
  for (const std::string& f : stats.features) w.Str(f);
  w.Key("prior_variance").Double(stats.prior_variance);
  w.Key("sources").Array(stats.sources.size());
  for (const model::SourceStats& share : stats.sources) {
    w.Map(5);
    w.Key("source").Str(share.source);
    w.Key("half_life").Double(share.half_life);
    w.Key("items").Array(share.items.size());
    for (const auto& [item, v] : share.items) w.Array(2).Str(item.str()).Double(v);
    w.Key("edges").Array(share.edges.size());
    for (const model::SourceStats::Edge& e : share.edges) {
      w.Array(3).Str(e.from.str()).Str(e.to.str()).Double(e.weight);
    }
    w.Key("vectors").Array(share.vectors.size());
    for (const model::SourceStats::Vector& v : share.vectors) {
      w.Array(3).Str(v.item.str()).Double(v.mass).Bin(Bytes(v.values));
    }
  }
  const model::WeightPosterior& p = stats.learner;
  const std::size_t n = std::min(stats.features.size(), model::kMaxSources);
  const std::vector<double> covariance = model::CovarianceOf(p, n);
  w.Key("learner").Map(6);
  w.Key("mean").Array(n);
  for (std::size_t s = 0; s < n; ++s) w.Double(p.mean[s]);
  w.Key("variance").Array(n);
  for (std::size_t s = 0; s < n; ++s) w.Double(p.variance[s]);
  w.Key("bias_mean").Double(p.bias_mean);
  w.Key("bias_variance").Double(p.bias_variance);
  w.Key("examples").Uint(p.examples);
  w.Key("covariance").Array(covariance.size());
  for (double c : covariance) w.Double(c);
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
  const auto* features = r.Need("features", msgpack::type::ARRAY);
  const auto* prior = r.Need("prior_variance", msgpack::type::FLOAT64);
  const auto* sources = r.Need("sources", msgpack::type::ARRAY);
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
  if (features->via.array.size == 0 || features->via.array.size > model::kMaxSources) {
    return Invalid("'features' is empty or longer than the most features a build fuses");
  }
  for (std::uint32_t i = 0; i < features->via.array.size; ++i) {
    auto name = Str(features->via.array.ptr[i]);
    if (!name || name->empty() || name->size() > 64) return Invalid("bad 'features' entry");
    out.features.push_back(std::move(*name));
  }
  out.prior_variance = *Num(*prior);
  if (!(out.prior_variance > 0) || !Finite(out.prior_variance)) {
    return Invalid("the prior variance is not > 0");
  }
  for (std::uint32_t i = 0; i < sources->via.array.size; ++i) {
    std::string error;
    auto share = ShareOf(sources->via.array.ptr[i], &error);
    if (!share) return Invalid(error);
    if (out.Find(share->source) != nullptr) return Invalid("a source has two 'sources' entries");
    out.sources.push_back(std::move(*share));
  }
  auto posterior = PosteriorOf(*learner, out.features.size(), out.prior_variance);
  if (!posterior) return Invalid("bad 'learner'");
  out.learner = *posterior;
  return out;
}

}  // namespace recsd::state
