#!/usr/bin/env bash
# Crash recovery with the example configuration (ops/recsd.example.toml: session.timeout.ms
# 10000): `recsd run` under `recsd loadgen` (300 events/s) is killed with kill -9, the load
# stops, and an identical instance starts at once. Prints the time from the kill to /readyz 200
# (the group gave the partitions to the new member and their state is restored) and to a
# consumer lag of 0 on every partition (librdkafka's statistics, every 500 ms here instead of the
# example's 5 s, so that the lag is seen when it happens), and whether every user's state digest
# then equals an uninterrupted `recsd replay --order input` of the broker's events (the oracle of
# tests/e2e/durability_e2e.sh). RUNS repeats (default 3). Needs kcat, jq and curl.
#
# Usage: benchmarks/crash_recovery.sh [RECSD_BINARY] [RUNS]
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
recsd="${1:-$root/build/release/daemon/recsd}"
runs="${2:-3}"
# shellcheck source=tests/e2e/lib.sh
source "$root/tests/e2e/lib.sh"

port_of() { sed -nE 's/.*admin: serving .* on port ([0-9]+).*/\1/p' "$1" | head -n 1; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

once() {
  local w bp lp rp killed port ready="" lag0="" sets
  w=$(mktemp -d)
  "$recsd" broker --partitions 8 --bootstrap-file "$w/bootstrap" >/dev/null 2>"$w/broker.log" &
  bp=$!
  for _ in $(seq 50); do [[ -s $w/bootstrap ]] && break; sleep 0.1; done
  bootstrap=$(cat "$w/bootstrap")
  sed "s|^bootstrap.servers = .*|bootstrap.servers = \"$bootstrap\"|" "$root/ops/recsd.example.toml" \
    >"$w/recsd.toml"  # for the replay: the example's model settings, this broker
  sets=(--config "$root/ops/recsd.example.toml" --set "kafka.bootstrap.servers=$bootstrap"
    --set admin.listen=127.0.0.1:0 --set kafka.statistics.interval.ms=500)
  "$recsd" loadgen "${sets[@]}" --rate 300 --users 1000 --items 500 >/dev/null 2>"$w/loadgen.log" &
  lp=$!
  "$recsd" run "${sets[@]}" >/dev/null 2>"$w/run1.log" &
  rp=$!
  for _ in $(seq 300); do grep -q "partition .*: restored" "$w/run1.log" && break; sleep 0.1; done
  sleep 8
  kill -9 "$rp" "$lp"
  killed=$(date +%s%N)
  wait "$rp" "$lp" 2>/dev/null
  "$recsd" run "${sets[@]}" >/dev/null 2>"$w/run2.log" &
  rp=$!
  for _ in $(seq 600); do
    port=$(port_of "$w/run2.log")
    if [[ -n $port ]]; then
      if [[ -z $ready && $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz") == 200 ]]; then
        ready=$(ms_since "$killed")
      fi
      if [[ -n $ready ]] && curl -s "http://127.0.0.1:$port/metrics" |
        awk '/^recsd_kafka_consumer_lag_messages\{/ { n++; s += $NF } END { exit !(n > 0 && s == 0) }'; then
        lag0=$(ms_since "$killed")
        break
      fi
    fi
    sleep 0.1
  done
  local digests="not compared"
  if [[ -n $lag0 ]]; then
    replay_digests "$w"
    live_digests "$port" >"$w/live.digests"
    if cmp -s "$w/live.digests" "$w/replay.digests"; then
      digests="all $(wc -l <"$w/live.digests") users' digests equal the replay's"
    else
      digests="DIGESTS DIFFER: $(diff "$w/replay.digests" "$w/live.digests" | grep -c '^[<>]') lines"
    fi
  fi
  echo "kill -9 to ready: ${ready:-never} ms; to lag 0: ${lag0:-never} ms" \
    "($(grep -c 'restored' "$w/run2.log") partitions restored); $digests"
  kill -TERM "$rp"
  wait "$rp" 2>/dev/null
  kill -9 "$bp"
  wait 2>/dev/null
  rm -rf "$w"
}

for _ in $(seq "$runs"); do once; done
