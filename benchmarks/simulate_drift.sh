#!/usr/bin/env bash
# The drift simulation (recsd replay --simulate drift) for several seeds: prints each phase's
# expected click-through rates (learned, holdout, oracle) and where the learned weights ended, and
# exits 1 unless, for every seed and phase, learned >= 0.9x oracle and learned beats holdout (from
# 10% into the phase; each as a share of its own users' oracle, since holdout is a different 10%
# of the users whose rates differ by more than learning does in a low-click phase: raw holdout
# rates above the learned users' oracle were measured), and the learned weights at the phase's end point towards that phase's w*
# more than towards any other phase's (cosine similarity): they followed the switch.
#   benchmarks/simulate_drift.sh [SEEDS (default: 1 to 20)] [extra replay options...]
# The release binary is built first; each seed takes about 18 s on one core, and nproc seeds run
# at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a seeds <<<"${1:-$(seq -s ' ' 1 20)}"
shift || true
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target recsd >/dev/null
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
run_seed() {  # seed, then extra options
  local seed=$1
  shift
  build/release/daemon/recsd replay --log-level warn --simulate drift --learn on --seed "$seed" \
    --trajectory-every 100 "$@" --json-report "$out/$seed.json" >/dev/null
}
export -f run_seed
export out
printf '%s\n' "${seeds[@]}" | xargs -P "$(nproc)" -I{} bash -c 'run_seed "$@"' _ {} "$@"
python3 - "$out" "${seeds[@]}" <<'PY'
import json, math, sys
out, seeds = sys.argv[1], sys.argv[2:]
ok = True
def cos(a, b):
    dot = sum(a[s] * b[s] for s in a)
    na, nb = math.sqrt(sum(v * v for v in a.values())), math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0
print(f"{'seed':>4} {'phase':>5} {'w* leader':>10} {'learned':>8} {'holdout':>8} {'oracle':>8}"
      f" {'l/oracle':>8} {'h/oracle':>8} {'leader at end':>14} {'cos w*':>7} {'next best':>9} {'followed':>8}  verdict")
for seed in seeds:
    r = json.load(open(f"{out}/{seed}.json"))
    phases = r["phases"]
    static = dict(r["weights"])
    traj = [({k: v for k, v in t.items() if k not in ("events", "version")}, t["events"])
            for t in r["weight_trajectory"]]
    for i, p in enumerate(phases, 1):
        # Events from the switch until the learned weights point more towards the new w* than
        # towards the old one (the static weights before the first phase).
        old = phases[i - 2]["w_star"] if i > 1 else static
        followed = next((e - p["first_event"] for w, e in traj if e >= p["first_event"]
                         and cos(w, p["w_star"]) > cos(w, old)), None)
        leader = max(p["w_star"], key=p["w_star"].get)
        learned = p["learned_weights"]
        learned_leader = max(learned, key=learned.get)
        ratio = p["ctr_learned"] / p["ctr_oracle"]
        holdout = p["ctr_holdout"] / p["ctr_holdout_oracle"]
        own = cos(learned, p["w_star"])
        other = max(cos(learned, q["w_star"]) for q in phases if q is not p)
        good = ratio >= 0.9 and ratio > holdout and own > other
        ok &= good
        print(f"{seed:>4} {i:>5} {leader:>10} {p['ctr_learned']:8.4f} {p['ctr_holdout']:8.4f}"
              f" {p['ctr_oracle']:8.4f} {ratio:8.3f} {holdout:8.3f} {learned_leader:>14} {own:7.3f} {other:9.3f}"
              f" {followed if followed is not None else '-':>8}  {'ok' if good else 'FAIL'}")
    print(f"     guard reverted: {r['guard']['reverted']}, learner restarts: {r['learner_restarts']},"
          f" {r['events']} events,"
          f" {r['wall_seconds']:.1f} s")
sys.exit(0 if ok else 1)
PY
