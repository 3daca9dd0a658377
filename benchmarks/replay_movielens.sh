#!/usr/bin/env bash
# Replays MovieLens (read at run time, never copied) with the fused ranking and with every source
# alone, prints one table, and exits 1 unless the fused hit rate beats every single source.
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
runs=(fused emb_short emb_long covisit trending category fresh)
for run in "${runs[@]}"; do
  args=()
  [[ "$run" != fused ]] && args=(--only-source "$run")
  build/release/daemon/recsd replay --log-level warn --data "$data" "${args[@]}" "$@" \
    --json-report "$out/$run.json" --ranks-file "$out/$run.ranks" >/dev/null
done
python3 - "$out" "${runs[@]}" <<'PY'
import json, math, sys
out, runs = sys.argv[1], sys.argv[2:]
r = {name: json.load(open(f"{out}/{name}.json")) for name in runs}
print(f"{'ranking':10} {'hit_rate':>9} {'ndcg':>7} {'mrr':>7} {'coverage':>8} {'seconds':>8}")
for name in runs:
    x = r[name]
    print(f"{name:10} {x['hit_rate']:9.4f} {x['ndcg']:7.4f} {x['mrr']:7.4f} {x['coverage']:8.4f}"
          f" {x['wall_seconds']:8.1f}")
f = r["fused"]
print(f"k={f['k']}, {f['events']} events, {f['evaluated']} evaluated, weights {f['weights']}")
best = max((n for n in runs if n != "fused"), key=lambda n: r[n]["hit_rate"])
print(f"fused / best single source ({best}): {f['hit_rate'] / r[best]['hit_rate']:.3f}x hit rate;"
      f" fused / trending: {f['hit_rate'] / r['trending']['hit_rate']:.2f}x")
# McNemar's test on the same interactions: b = fused hit where the best source missed, c = the
# reverse. Under "no difference" b ~ Binomial(b + c, 1/2); z = (b - c) / sqrt(b + c).
def hits(name):
    return [int(x) >= 0 for x in open(f"{out}/{name}.ranks")]
hf, hb = hits("fused"), hits(best)
b = sum(1 for x, y in zip(hf, hb) if x and not y)
c = sum(1 for x, y in zip(hf, hb) if y and not x)
z = (b - c) / math.sqrt(b + c) if b + c else 0.0
p = math.erfc(abs(z) / math.sqrt(2))
print(f"paired (McNemar) against {best}: fused alone hits {b}, {best} alone hits {c}, z = {z:.2f},"
      f" two-sided p = {p:.3g}")
sys.exit(0 if f["hit_rate"] > r[best]["hit_rate"] else 1)
PY
