#!/usr/bin/env bash
# Soak: `recsd run` under steady load for MINUTES, watching for leaks and creeping lag. One
# `recsd broker` (8 partitions) and one `recsd run` (default configuration, stats every 10 s)
# serve three phases of `recsd loadgen` (10,000 users, 2,000 items, clicks on the lists it reads),
# all sharing the machine:
#   1. warm-up: 5,000 events/s for WARM seconds, so that the state (users' histories and seen
#      items, the co-visitation graph) is what it will be in the soak: a refresh costs more as it
#      grows, so a drain rate measured on a fresh instance overstates what it sustains;
#   2. drain: 18,000 events/s offered for 40 s (more than recsd takes live on 2 cores; the backlog
#      stays within the mock broker's retention of about 5 MiB per partition); the drain rate is
#      what recsd processes per second (views and loadgen's clicks) from 10 s to 40 s. Events
#      carry the wall time they are produced at, so users draw lists as live traffic does;
#   3. soak: 70% of the drain rate (views offered so that views and the clicks they draw, at the
#      drain's clicks per view, come to 70%) for MINUTES, unless RATE (views/s) is given.
# Every 10 s of the soak: recsd's RSS (/proc), recsd_user_state_bytes, its consumer lag
# (recsd_kafka_consumer_lag_messages, against the committed offsets) and the freshness of the
# lists of those 10 s (event time to list acknowledged, from
# recsd_recommendation_freshness_seconds' bucket deltas, interpolated inside the bucket holding
# the quantile). Reported: the RSS and user-state slopes per hour (least squares over the samples
# after the first 5 minutes), lag and freshness percentiles over the samples, and the events
# processed in the soak against produced (the drain's backlog, if not worked off, is included).
#
#   benchmarks/soak.sh [MINUTES (30)] [RATE (0: 70% of the measured drain rate)] [WARM (180)]
# Writes the samples to soak.csv in its work directory; KEEP=1 keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
rate=${2:-0}
warm=${3:-180}
users=10000
items=2000
# shellcheck source=tests/e2e/lib.sh
source tests/e2e/lib.sh
bench_start

start_broker "$work" 8
cat >"$work/recsd.toml" <<TOML
$(kafka_section "$bootstrap" soak)
# As in pipeline_throughput.sh: the mock broker holds a fetch for fetch.wait.max.ms even when
# data arrives meanwhile.
fetch.wait.max.ms = 10
[admin]
listen = "127.0.0.1:0"
[pipeline]
stats_interval = "10s"
TOML
"$recsd" --log-level warn loadgen --config "$work/recsd.toml" --users "$users" --items "$items" \
  --rate 1 --events 1 >/dev/null  # the catalog first: the run loads it at start
"$recsd" run --config "$work/recsd.toml" 2>"$work/run.log" &
run_pid=$!
pids+=("$run_pid")
for _ in $(seq 100); do grep -q 'ready:' "$work/run.log" && break; sleep 0.2; done
port=$(sed -nE 's/.*admin: serving .* on port ([0-9]+).*/\1/p' "$work/run.log" | head -n 1)

load() {  # phase rate seconds: loadgen in the background; sets loadgen_pid
  "$recsd" --log-level warn loadgen --config "$work/recsd.toml" --users "$users" \
    --items "$items" --no-catalog --rate "$2" --duration "$3" >"$work/$1.out" 2>"$work/$1.log" &
  loadgen_pid=$!
  pids+=("$loadgen_pid")
}
processed() {
  curl -sf "http://127.0.0.1:$port/metrics" |
    awk '/^recsd_events_processed_total/ { s += $NF } END { print s + 0 }'
}

load warm 5000 "$warm"
wait "$loadgen_pid"
echo "soak: warm-up: $(cat "$work/warm.out")"
if [[ $rate -eq 0 ]]; then
  load drain 18000 40
  sleep 10
  p10=$(processed)
  sleep 30
  drain=$((($(processed) - p10) / 30))
  wait "$loadgen_pid"
  echo "soak: drain: $(cat "$work/drain.out")"
  rate=$(awk -v d="$drain" -v out="$(cat "$work/drain.out")" 'BEGIN {
    match(out, /[0-9]+ events/); v = substr(out, RSTART, RLENGTH) + 0
    match(out, /[0-9]+ clicks/); c = substr(out, RSTART, RLENGTH) + 0
    printf "%d", 0.7 * d * v / (v + c) }')
  echo "soak: live drain rate $drain events/s (views and clicks); offering $rate views/s"
fi
soak_start_processed=$(processed)
load soak "$rate" $((minutes * 60))

# One sample: seconds, RSS KiB, lag, processed events, and the cumulative freshness buckets.
sample() {  # t
  local rss
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$run_pid/status")
  curl -sf "http://127.0.0.1:$port/metrics" | awk -v t="$1" -v rss="$rss" '
    /^recsd_kafka_consumer_lag_messages/ { lag += $NF }
    /^recsd_events_processed_total/ { processed += $NF }
    /^recsd_user_state_bytes / { state = $NF }
    /^recsd_recommendation_freshness_seconds_bucket/ {
      match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5); buckets = buckets " " le ":" $NF }
    END { printf "%d %d %d %d %d%s\n", t, rss, lag, processed, state / 1024, buckets }'
}
start=$SECONDS
: >"$work/samples"
while kill -0 "$loadgen_pid" 2>/dev/null; do
  sleep 10
  kill -0 "$run_pid" 2>/dev/null || { echo "soak: recsd exited" >&2; tail "$work/run.log" >&2; exit 1; }
  sample $((SECONDS - start)) >>"$work/samples"
done
sleep 5
sample $((SECONDS - start)) >>"$work/samples"
offered=$(sed -nE 's/.* ([0-9]+) events, .* ([0-9]+) clicks.*/\1 + \2/p' "$work/soak.out" | head -n 1)
offered=$((${offered:-0}))  # views and clicks: both are events to recsd

# Per sample: the window's freshness p50/p99 (bucket deltas, interpolated inside the bucket),
# then the summary.
awk '
  function q(p,   total, i, c, lo) {
    total = 0; for (i = 1; i <= nb; i++) total += d[i]
    if (total == 0) return -1
    c = 0
    for (i = 1; i <= nb; i++) {
      if (c + d[i] >= p * total) { lo = i > 1 ? le[i - 1] : 0; return lo + (le[i] - lo) * (p * total - c) / d[i] }
      c += d[i]
    }
    return le[nb]
  }
  {
    nb = 0
    for (i = 6; i <= NF; i++) { split($i, kv, ":"); if (kv[1] == "+Inf") continue; nb++; le[nb] = kv[1]; cum[nb] = kv[2] }
    # the buckets are cumulative: per-bucket counts, then their change over this window
    for (i = 1; i <= nb; i++) { cur = cum[i] - (i > 1 ? cum[i - 1] : 0); d[i] = cur - (prev[i] + 0); prev[i] = cur }
    printf "%d,%d,%d,%d,%d,%s,%s\n", $1, $2, $3, $4, $5, q(0.5), q(0.99)
  }' "$work/samples" >"$work/soak.csv"
sed -i '1i seconds,rss_kib,lag_messages,processed_events,user_state_kib,freshness_p50_s,freshness_p99_s' \
  "$work/soak.csv"
kill -TERM "$run_pid"
wait "$run_pid" || true
echo "soak: $minutes min at $rate views/s offered (loadgen: $(cat "$work/soak.out")), 8 partitions," \
  "$users users, $items items${MALLOC_ARENA_MAX:+, MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX}"
awk -F, -v warm=300 -v offered="${offered:-0}" -v before="$soak_start_processed" '
  NR == 1 { next }
  { n++; t[n] = $1; rss[n] = $2; lag[n] = $3; last_processed = $4; st[n] = $5
    if ($6 >= 0) { f50[++m] = $6; f99[m] = $7 } }
  function pct(a, k, p,   i, j, tmp, b) { for (i = 1; i <= k; i++) b[i] = a[i]
    for (i = 2; i <= k; i++) { tmp = b[i]; for (j = i - 1; j >= 1 && b[j] > tmp; j--) b[j + 1] = b[j]; b[j + 1] = tmp }
    return b[int((k - 1) * p) + 1] }
  function slope(y,   i, k, sx, sy, sxx, sxy) {
    for (i = 1; i <= n; i++) if (t[i] >= warm) { k++; sx += t[i]; sy += y[i]; sxx += t[i] * t[i]; sxy += t[i] * y[i] }
    return k > 1 ? (k * sxy - sx * sy) / (k * sxx - sx * sx) * 3600 / 1024 : 0
  }
  END {
    for (i = 1; i <= n; i++) if (t[i] >= warm) { first = i; break }
    printf "  RSS: %.1f MiB after 10 s, %.1f MiB at 5 min, %.1f MiB at the end; slope after 5 min %+.1f MiB/hour\n",
      rss[1] / 1024, rss[first] / 1024, rss[n] / 1024, slope(rss)
    printf "  user state (recsd_user_state_bytes): %.1f MiB at 5 min, %.1f MiB at the end; slope %+.1f MiB/hour\n",
      st[first] / 1024, st[n] / 1024, slope(st)
    for (i = 1; i <= n; i++) lg[i] = lag[i]
    printf "  lag (messages): p50 %d, p99 %d, max %d, at the end %d\n", pct(lg, n, 0.5), pct(lg, n, 0.99), pct(lg, n, 1), lag[n]
    printf "  freshness per 10 s window: p50 median %.2f s (worst %.2f s), p99 median %.2f s (worst %.2f s)\n",
      pct(f50, m, 0.5), pct(f50, m, 1), pct(f99, m, 0.5), pct(f99, m, 1)
    printf "  events processed in the soak %d of %d produced (views and clicks)\n", last_processed - before, offered
  }' "$work/soak.csv"
echo "  samples: $work/soak.csv${KEEP:+ (kept)}"
