#!/usr/bin/env bash
# Replays MovieLens (read at run time, never copied) with the fused ranking on the static default
# weights, with every source alone, and with the weights learned online from the replay's clicks
# (all users learned; the default config with its 10% holdout; Thompson sampling on), prints one
# table, and exits 1 unless the static fused hit rate beats every single source and the learned
# one is at least the static one's.
#   benchmarks/replay_movielens.sh [DATA_DIR] [extra replay options...]
# DATA_DIR defaults to ../shared/data/movielens-latest-small; the release binary is built first.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/movielens-latest-small}"
shift || true
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target recsd >/dev/null
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
runs=(fused emb_short emb_long covisit trending category fresh learned default explore)
for run in "${runs[@]}"; do
  case "$run" in
    fused) args=(--learn off) ;;
    learned) args=(--learn on --set learning.holdout_share=0) ;;
    default) args=(--learn on) ;;
    explore) args=(--learn on --set learning.holdout_share=0 --set learning.exploration=1) ;;
    *) args=(--only-source "$run") ;;
  esac
  build/release/daemon/recsd replay --log-level warn --data "$data" "${args[@]}" "$@" \
    --json-report "$out/$run.json" --ranks-file "$out/$run.ranks" >/dev/null
done
python3 - "$out" "${runs[@]}" <<'PY'
import json, math, sys
out, runs = sys.argv[1], sys.argv[2:]
r = {name: json.load(open(f"{out}/{name}.json")) for name in runs}
print(f"{'ranking':10} {'hit_rate':>9} {'ndcg':>7} {'mrr':>7} {'coverage':>8} {'ctr':>7}"
      f" {'ctr_learned':>11} {'ctr_holdout':>11} {'seconds':>8}")
fmt = lambda v: f"{v:.4f}" if v is not None else "-"
for name in runs:
    x = r[name]
    print(f"{name:10} {x['hit_rate']:9.4f} {x['ndcg']:7.4f} {x['mrr']:7.4f} {x['coverage']:8.4f}"
          f" {x['ctr']:7.4f} {fmt(x['ctr_learned']):>11} {fmt(x['ctr_holdout']):>11}"
          f" {x['wall_seconds']:8.1f}")
f = r["fused"]
print(f"k={f['k']}, {f['events']} events, {f['evaluated']} evaluated, weights {f['weights']}")
singles = ["emb_short", "emb_long", "covisit", "trending", "category", "fresh"]
best = max(singles, key=lambda n: r[n]["hit_rate"])
print(f"fused / best single source ({best}): {f['hit_rate'] / r[best]['hit_rate']:.3f}x hit rate;"
      f" fused / trending: {f['hit_rate'] / r['trending']['hit_rate']:.2f}x")
# McNemar's test on the same interactions: b = fused hit where the best source missed, c = the
# reverse. Under "no difference" b ~ Binomial(b + c, 1/2); z = (b - c) / sqrt(b + c).
def hits(name):
    return [int(x) >= 0 for x in open(f"{out}/{name}.ranks")]
def mcnemar(one, other):
    h1, h2 = hits(one), hits(other)
    b = sum(1 for x, y in zip(h1, h2) if x and not y)
    c = sum(1 for x, y in zip(h1, h2) if y and not x)
    z = (b - c) / math.sqrt(b + c) if b + c else 0.0
    p = math.erfc(abs(z) / math.sqrt(2))
    print(f"paired (McNemar) {one} against {other}: {one} alone hits {b}, {other} alone hits {c},"
          f" z = {z:.2f}, two-sided p = {p:.3g}")
mcnemar("fused", best)
mcnemar("learned", "fused")
l = r["learned"]
w = l["weight_trajectory"][-1]
print("learned weights at the end: " +
      ", ".join(f"{s}={w[s]:.3f}" for s in singles) + f" (version {w['version']})")
ok = f["hit_rate"] > r[best]["hit_rate"] and l["hit_rate"] >= f["hit_rate"]
sys.exit(0 if ok else 1)
PY
