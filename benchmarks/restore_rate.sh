#!/usr/bin/env bash
# How fast recsd gets its user state back, release build, `recsd broker` in its own process:
#
#   1. USERS synthetic users' events (recsd loadgen, EVENTS in all) are processed by `recsd run`
#      with state.dir set; its clean stop writes every partition's snapshot (timed by recsd:
#      "snapshot of N users (B bytes ...) in T ms"). Reported: the snapshot write rate (users/s,
#      MB/s) over the partitions' snapshots.
#   2. The changelog topic as it stands: records, bytes per record (one user's state), and the raw
#      consume rate of the topic (kcat to /dev/null, best of 3, with the fetch.wait.max.ms of
#      recsd's changelog reader) in records/s.
#   3. A restart without state.dir reads the whole changelog: users and records per second, from
#      the partition assignment to the last partition restored (the workers restore in
#      parallel), and the ratio to the raw consume rate.
#   4. A restart with state.dir reads the snapshots (and the changelog after them, empty here):
#      users per second, and the ratio to 3.
#
#   benchmarks/restore_rate.sh [USERS (8000)] [EVENTS (40000)]
# The mock keeps about 5 MiB per partition and drops older data beyond that: the default run's
# changelog (one or two records of ~1.5 KB per user) fits in 8 partitions; the script checks
# that every user came back from the changelog. KEEP=1 keeps the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-8000}
events=${2:-40000}
# shellcheck source=tests/e2e/lib.sh
source tests/e2e/lib.sh
bench_start

start_broker "$work" 8
bs=$bootstrap
config() {  # [state.dir]
  cat <<EOF2
$(kafka_section "$bs")
fetch.wait.max.ms = 10
[pipeline]
stats_interval = "200ms"
[state]
dir = "${1:-}"
EOF2
}
ms_of() { date -d "$(cut -d' ' -f1 <<<"$1")" +%s%3N; }  # a log line's ISO time -> epoch ms
# Runs recsd until every partition is restored and, when $3 events are expected, a stats line
# says they are all consumed and no lists are coming; then stops it (a clean stop: snapshots).
# $1: log file; $2: state.dir or empty.
run() {
  config "${2:-}" >"$work/run.toml"
  "$recsd" run --config "$work/run.toml" 2>"$1" &
  local pid=$! line consumed
  pids+=("$pid")
  for _ in $(seq 900); do
    sleep 0.2
    [[ $(grep -c 'restored .* users' "$1" || true) -ge 8 ]] || continue
    [[ ${3:-0} -eq 0 ]] && break
    line=$(grep 'stats: ' "$1" | tail -n 1 || true)
    consumed=$(sed -nE 's/.*stats: ([0-9]+) events.*/\1/p' <<<"$line")
    [[ -n $consumed && $consumed -ge $3 && $line == *" lists delivered (0/s)"* ]] && break
  done
  kill -TERM "$pid"
  wait "$pid" || true
}
restore_report() {  # log, what
  local assigned last users records
  assigned=$(grep -m1 'assigned ' "$1")
  last=$(grep 'restored .* users' "$1" | tail -n 1)
  users=$(sed -nE 's/.*restored ([0-9]+) users.*/\1/p' "$1" | awk '{ s += $1 } END { print s }')
  records=$(sed -nE 's/.*users \(.*\) and ([0-9]+) changelog records.*/\1/p' "$1" |
    awk '{ s += $1 } END { print s }')
  restore_ms=$(($(ms_of "$last") - $(ms_of "$assigned")))
  restore_ms=$((restore_ms > 0 ? restore_ms : 1))
  restore_users_rate=$((users * 1000 / restore_ms))
  restored_users=$users
  echo "  $2: $users users, $records changelog records in ${restore_ms} ms = ${restore_users_rate} users/s, $((records * 1000 / restore_ms)) records/s"
  # A worker's first partition also pays for its changelog reader's start; the partitions after
  # it show the steady rate of one worker.
  sed -nE 's/.*restored ([0-9]+) users .* in ([0-9]+) ms.*/\1 \2/p' "$1" | tail -n +"$(($(nproc) + 1))" |
    awk '{ u += $1; t += $2 } END { if (t > 0) printf "    per worker after its first partition: %.0f users/s\n", u * 1000 / t }'
}

# ---- 1: process the events, stop: snapshots ----
"$recsd" --log-level warn loadgen --bootstrap "$bs" --users "$users" --items 2000 --rate 20000 \
  --events "$events" >/dev/null
mkdir "$work/state"
run "$work/first.log" "$work/state" "$events"
read -r snap_users snap_bytes snap_ms < <(sed -nE \
  's/.*snapshot of ([0-9]+) users \(([0-9]+) bytes, changelog offset [0-9]+\) in ([0-9]+) ms.*/\1 \2 \3/p' \
  "$work/first.log" | awk '{ u += $1; b += $2; t += $3 } END { print u, b, t }')
echo "restore: $users users, $events events, 8 partitions, $(nproc) workers, release build"
snap_ms=$((snap_ms > 0 ? snap_ms : 1))
awk -v u="$snap_users" -v b="$snap_bytes" -v t="$snap_ms" 'BEGIN {
  printf "  snapshot write: %d users, %.1f MB in %d ms (summed over partitions) = %.0f users/s, %.1f MB/s\n",
    u, b / 1e6, t, u * 1000 / t, b / 1e3 / t }'

# ---- 2: the changelog and its raw consume rate ----
kcat -b "$bs" -C -t recsd.state-changelog -e -q -f '%S\n' >"$work/sizes"
records=$(wc -l <"$work/sizes")
awk '{ b += $1 } END { printf "  changelog: %d records, %.0f bytes per record (one user state), %.1f MB\n", NR, b / NR, b / 1e6 }' "$work/sizes"
raw_ms=0
for _ in 1 2 3; do
  t0=$(date +%s%N)
  kcat -b "$bs" -C -t recsd.state-changelog -e -q -o beginning -X fetch.wait.max.ms=1 >/dev/null
  ms=$((($(date +%s%N) - t0) / 1000000))
  if [[ $raw_ms -eq 0 || $ms -lt $raw_ms ]]; then raw_ms=$ms; fi
done
raw_rate=$((records * 1000 / raw_ms))
echo "  raw consume of the changelog (kcat to /dev/null, best of 3): ${raw_ms} ms = ${raw_rate} records/s"

# ---- 3: restore from the changelog alone ----
run "$work/changelog.log" ""
restore_report "$work/changelog.log" "restore from the changelog"
if [[ $restored_users -ne $snap_users ]]; then
  echo "  the changelog gave back $restored_users users, the snapshots held $snap_users: the" \
    "mock broker dropped changelog data (about 5 MiB per partition); use fewer users" >&2
  exit 1
fi
changelog_rate=$restore_users_rate
awk -v a="$((records * 1000 / restore_ms))" -v b="$raw_rate" \
  'BEGIN { printf "  ratio restore / raw consume (records/s): %.2f\n", a / b }'

# ---- 4: restore from the snapshots ----
run "$work/snapshot.log" "$work/state"
restore_report "$work/snapshot.log" "restore from the snapshots"
awk -v a="$restore_users_rate" -v b="$changelog_rate" \
  'BEGIN { printf "  ratio snapshot / changelog restore (users/s): %.2f\n", a / b }'
