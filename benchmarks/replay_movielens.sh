#!/usr/bin/env bash
# recsd's quality report on a MovieLens-format data set (read at run time, never copied): the
# prequential replay of `recsd replay` (K = 10, seen items excluded) with
#   static    the fused ranking with the default static weights (learning off)
#   learned   the default configuration: weights learned online from the replay's clicks (10%
#             holdout users keep the static weights)
#   tuned     `replay --tune`: the best static weights in hindsight, verified by a replay
#   SOURCE    every source alone (--only-source)
#   baselines popularity, cooccurrence and sequential-rules (replay --baseline), with McNemar's
#             test of the static engine against each
# It prints one table (HR@10, NDCG, MRR, coverage, seconds) and exits 1 unless static beats every
# single source and every baseline, and learned reaches 0.97x tuned and beats static.
#   benchmarks/replay_movielens.sh [DATA_DIR] [extra replay options...]
# DATA_DIR defaults to ../shared/data/movielens-latest-small; the release binary is built first.
# The runs are independent and run nproc at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/movielens-latest-small}"
shift || true
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target recsd >/dev/null
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
sources=(emb_short emb_long covisit sequence trending category fresh)
runs=(static learned tuned "${sources[@]}")
run_one() {  # name, then extra options
  local name=$1 args
  shift
  case "$name" in
    static) args=(--learn off --baseline popularity --baseline cooccurrence
      --baseline sequential-rules) ;;
    learned) args=(--learn on) ;;
    tuned) args=(--tune) ;;
    *) args=(--only-source "$name") ;;
  esac
  build/release/daemon/recsd replay --log-level warn --data "$data" "${args[@]}" "$@" \
    --json-report "$out/$name.json" >"$out/$name.out"
}
export -f run_one
export data out
printf '%s\n' "${runs[@]}" | xargs -P "$(nproc)" -I{} bash -c 'run_one "$@"' _ {} "$@"
python3 - "$out" "${sources[@]}" <<'PY'
import json, sys
out, sources = sys.argv[1], sys.argv[2:]
load = lambda name: json.load(open(f"{out}/{name}.json"))
static, learned, tune = load("static"), load("learned"), load("tuned")
tuned = tune["verified"]
rows = [("static", static), ("learned", learned), ("tuned", tuned)]
rows += [(s, load(s)) for s in sources]
rows += [(f"base:{b['name']}", b) for b in static.get("baselines", [])]
print(f"{'ranking':24} {'HR@10':>7} {'NDCG':>7} {'MRR':>7} {'coverage':>8} {'seconds':>8}")
for name, x in rows:
    print(f"{name:24} {x['hit_rate']:7.4f} {x['ndcg']:7.4f} {x['mrr']:7.4f} {x['coverage']:8.4f}"
          f" {x['wall_seconds']:8.1f}")
print(f"k={static['k']}, {static['events']} events, {static['evaluated']} evaluated")
print("static weights: " + ", ".join(f"{k}={v:g}" for k, v in tune["start"]["weights"].items()))
print(f"tuned weights ({tune['evaluations']} evaluations on {tune['interactions']} interactions,"
      f" {tune['reachable']} with the item among the candidates): " +
      ", ".join(f"{k}={v:.3g}" for k, v in tune["best"]["weights"].items()))
w = learned["weight_trajectory"][-1]
print("learned weights at the end: " +
      ", ".join(f"{k}={v:.3f}" for k, v in w.items() if k not in ("events", "version")))
for b in static.get("baselines", []):
    m = b["mcnemar"]
    print(f"McNemar static vs {b['name']}: engine alone hits {m['engine_only']},"
          f" baseline alone {m['baseline_only']}, z = {m['z']:.2f}, p = {m['p_two_sided']:.3g}")
best = max(sources, key=lambda s: load(s)["hit_rate"])
ratio = learned["hit_rate"] / tuned["hit_rate"]
print(f"static / best single source ({best}): {static['hit_rate'] / load(best)['hit_rate']:.3f}x;"
      f" learned / tuned: {ratio:.3f}x; learned / static: "
      f"{learned['hit_rate'] / static['hit_rate']:.3f}x")
ok = static["hit_rate"] > load(best)["hit_rate"]
ok &= all(static["hit_rate"] > b["hit_rate"] for b in static.get("baselines", []))
ok &= ratio >= 0.97 and learned["hit_rate"] > static["hit_rate"]
sys.exit(0 if ok else 1)
PY
