#!/usr/bin/env bash
# How long `recsd run` takes to exit after SIGTERM when the broker is in trouble, against its
# deadline (pipeline.shutdown_timeout, 8 s). For each mode, a fresh `recsd broker` with
# PARTITIONS partitions, `recsd loadgen` at 500 events/s and one `recsd run` (2 workers), and:
#   killed       the broker and loadgen killed 1 s before SIGTERM (connections refused)
#   frozen       the broker SIGSTOPped 1 s before SIGTERM (connections hang)
#   down-during  the broker and loadgen killed 0.2 s after SIGTERM (during the hand-over)
# Prints one line per mode: the exit code and the milliseconds from SIGTERM to exit.
#
# Usage: benchmarks/shutdown_deadline.sh [RECSD_BINARY] [PARTITIONS] [MODE...]
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
recsd="${1:-$root/build/release/daemon/recsd}"
parts="${2:-8}"
modes=("${@:3}")
[[ ${#modes[@]} -gt 0 ]] || modes=(killed frozen down-during)

measure() {  # mode
  local mode=$1 w bp lp rp start code ms
  w=$(mktemp -d)
  "$recsd" broker --partitions "$parts" --bootstrap-file "$w/bootstrap" >/dev/null 2>"$w/broker.log" &
  bp=$!
  for _ in $(seq 50); do [[ -s $w/bootstrap ]] && break; sleep 0.1; done
  cat >"$w/recsd.toml" <<TOML
[kafka]
bootstrap.servers = "$(cat "$w/bootstrap")"
group.id = "shutdown"
session.timeout.ms = 6000
heartbeat.interval.ms = 500
[admin]
listen = "127.0.0.1:0"
[pipeline]
workers = 2
shutdown_timeout = "8s"
TOML
  "$recsd" loadgen --config "$w/recsd.toml" --rate 500 --users 500 --items 200 >/dev/null \
    2>"$w/loadgen.log" &
  lp=$!
  "$recsd" run --config "$w/recsd.toml" >/dev/null 2>"$w/run.log" &
  rp=$!
  for _ in $(seq 200); do grep -q "partition .*: restored" "$w/run.log" && break; sleep 0.1; done
  sleep 3
  case $mode in
    killed) kill -9 "$bp" "$lp"; sleep 1 ;;
    frozen) kill -STOP "$bp"; sleep 1 ;;
  esac
  start=$(date +%s%N)
  kill -TERM "$rp"
  if [[ $mode == down-during ]]; then sleep 0.2; kill -9 "$bp" "$lp"; fi
  code=0
  wait "$rp" || code=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  echo "$mode, $parts partitions: exit $code, ${ms} ms after SIGTERM (deadline 8000 ms)"
  kill -CONT "$bp" 2>/dev/null
  kill -9 "$bp" "$lp" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$w"
}

for mode in "${modes[@]}"; do measure "$mode"; done
