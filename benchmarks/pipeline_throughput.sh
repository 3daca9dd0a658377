#!/usr/bin/env bash
# End-to-end throughput and freshness of `recsd run` on `recsd broker` (librdkafka's mock
# cluster), each in its own process, release build.
#
#   1. Throughput: EVENTS synthetic events (recsd loadgen --events, at PRELOAD_RATE per second of
#      event time) are put on the events topic first. The raw consume rate of that topic is measured with kcat reading it to /dev/null;
#      then `recsd run` processes the same events (decode, state update, coalesced refresh,
#      publish, delivery reports, offset store). Its rate is the events over the time from its
#      partition assignment to the stats line where every event is consumed and no more lists
#      come (stats every 200 ms). Reported: both rates and their ratio.
#   2. Freshness: on a fresh broker, recsd run with the loadgen producing at half the measured
#      rate for FRESH_SECONDS, then again at 1,000 events/s; p50/p99 of event time to list
#      acknowledged from recsd's histogram (interpolated inside 1.5x-wide buckets), with the default
#      pipeline settings (refresh every 100 ms, at most one list per user per second). The
#      loadgen's clicks come on top of the offered rate, and the broker, the loadgen and recsd
#      share the machine's cores.
#
#   benchmarks/pipeline_throughput.sh [EVENTS (200000)] [FRESH_SECONDS (20)] [PRELOAD_RATE (20000)]
# The mock keeps about 5 MiB per partition: 200,000 events of ~70 bytes over 8 partitions fit.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-200000}
fresh_seconds=${2:-20}
# Events are stamped with the wall time they are produced at: preloading at a live-like rate
# spreads their event times as live traffic would, so the run coalesces lists as it would live
# (at most one list per user per second of event time) rather than one per user in all.
preload_rate=${3:-20000}
users=10000
items=2000
# shellcheck source=tests/e2e/lib.sh
source tests/e2e/lib.sh
bench_start

new_broker() {  # name: a broker of 8 partitions in $work/name; sets bs
  mkdir -p "$work/$1"
  start_broker "$work/$1" 8
  bs=$bootstrap
}
config() {  # bootstrap > toml
  cat <<EOF
$(kafka_section "$1")
# librdkafka's mock broker answers a fetch only after fetch.wait.max.ms (500 ms by default) even
# when data arrives meanwhile; a real broker answers as soon as fetch.min.bytes (1) is there.
fetch.wait.max.ms = 10
[pipeline]
stats_interval = "200ms"
EOF
}
ms_of() {  # a log line's ISO time -> ms since the epoch
  date -d "$(cut -d' ' -f1 <<<"$1")" +%s%3N
}

# ---- 1: throughput against raw consume ----
new_broker tp
"$recsd" --log-level warn loadgen --bootstrap "$bs" --users "$users" --items "$items" \
  --rate "$preload_rate" --events "$events" >/dev/null
raw_ms=0
for _ in 1 2 3; do  # the fastest of three reads (kcat's start-up is part of each)
  t0=$(date +%s%N)
  kcat -b "$bs" -C -t recsd.events -e -q -o beginning -X fetch.wait.max.ms=10 >/dev/null
  ms=$((($(date +%s%N) - t0) / 1000000))
  if [[ $raw_ms -eq 0 || $ms -lt $raw_ms ]]; then raw_ms=$ms; fi
done
raw_rate=$((events * 1000 / raw_ms))
config "$bs" >"$work/tp.toml"
"$recsd" run --config "$work/tp.toml" 2>"$work/run.log" &
run_pid=$!
pids+=("$run_pid")
# Done: every event consumed and no event or list for three stats lines in a row (600 ms; a
# partition still applying its backlog can hold its lists back for one or two); the time is that
# of the last line that counted an event or a list. The times come from the log, so looking once
# a second loses nothing and leaves the cores to the run (kcat's reads had no watcher beside
# them); the quiet lines that pile up meanwhile are skipped.
quiet_line() {  # stats line: true when it counted no event and no list
  [[ $1 == *" events (0/s), "* && $1 == *" lists delivered (0/s)"* ]]
}
done_line=""
for _ in $(seq 120); do
  sleep 1
  mapfile -t lines < <(grep 'stats: ' "$work/run.log")
  n=${#lines[@]}
  [[ $n -ge 4 ]] || continue
  consumed=$(sed -nE 's/.*stats: ([0-9]+) events.*/\1/p' <<<"${lines[n - 1]}")
  [[ -n $consumed && $consumed -ge $events ]] || continue
  i=$((n - 1))
  while [[ $i -ge 0 ]] && quiet_line "${lines[i]}"; do i=$((i - 1)); done
  if [[ $i -ge 0 && $((n - 1 - i)) -ge 3 ]]; then
    done_line=${lines[i]}
    break
  fi
done
kill -TERM "$run_pid"
wait "$run_pid" || true
[[ -n $done_line ]] || { echo "recsd did not finish the $events events" >&2; tail "$work/run.log" >&2; exit 1; }
assigned=$(grep -m1 'assigned ' "$work/run.log")
run_ms=$(($(ms_of "$done_line") - $(ms_of "$assigned")))
run_rate=$((events * 1000 / run_ms))
lists=$(sed -nE 's/.*events \([0-9]+\/s\), ([0-9]+) lists delivered.*/\1/p' <<<"$done_line")
echo "throughput: $events events ($preload_rate/s of event time), $users users, $items items, 8 partitions, $(nproc) workers"
echo "  raw consume (kcat to /dev/null, best of 3): ${raw_ms} ms = ${raw_rate} events/s"
echo "  recsd run end to end:            ${run_ms} ms = ${run_rate} events/s, ${lists} lists"
awk -v a="$run_rate" -v b="$raw_rate" 'BEGIN { printf "  ratio recsd / raw consume: %.2f\n", a / b }'

# ---- 2: freshness at half that load, and at a light load ----
freshness() {  # offered events/s
  local bs last
  new_broker "fresh$1"
  config "$bs" >"$work/fresh.toml"
  sed -i 's/stats_interval = "200ms"/stats_interval = "1s"/' "$work/fresh.toml"
  # The catalog goes first (with one event): the run loads it at start.
  "$recsd" --log-level warn loadgen --bootstrap "$bs" --users "$users" --items "$items" \
    --rate 1 --events 1 >/dev/null
  "$recsd" run --config "$work/fresh.toml" 2>"$work/fresh-run.log" &
  run_pid=$!
  pids+=("$run_pid")
  for _ in $(seq 100); do grep -q 'assigned ' "$work/fresh-run.log" && break; sleep 0.2; done
  "$recsd" --log-level warn loadgen --bootstrap "$bs" --users "$users" --items "$items" \
    --no-catalog --rate "$1" --duration "$fresh_seconds" >"$work/loadgen.out"
  sleep 2
  kill -TERM "$run_pid"
  wait "$run_pid" || true
  last=$(grep 'stats: ' "$work/fresh-run.log" | tail -n 1)
  echo "freshness at $1 events/s offered for ${fresh_seconds} s ($(cat "$work/loadgen.out"))"
  echo "  $(sed -nE 's/.*(freshness p50 [0-9]+ ms p99 [0-9]+ ms).*/\1/p' <<<"$last") (event time to list acknowledged)"
  echo "  recsd: $(sed -nE 's/.*stats: (.*), freshness.*/\1/p' <<<"$last")"
}
freshness $((run_rate / 2))
freshness 1000
