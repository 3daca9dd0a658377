#!/usr/bin/env bash
# End to end, every piece in its own process: `recsd broker` (librdkafka's mock cluster), kcat as
# an external Kafka client producing JSON and msgpack events and reading the outputs, and
# `recsd run` as a separate process.
#
#   1. a list for every user, each reflecting that user's events (top items of the user's
#      cluster, none the user has seen); a bad event is dead-lettered with its reason header
#   2. SIGTERM while kcat keeps producing: recsd exits 0 within 10 s
#   3. a restart resumes from the committed offsets: every event is consumed exactly once over
#      the two runs and every user's last list names the user's last event
#   4. the broker gone silent (SIGSTOP): SIGTERM still ends recsd within its shutdown deadline
#      (+1 s)
#   5. the admin server: /readyz 503 while the catalog cannot load, 200 once it has; a scrape of
#      /metrics passes `promtool check metrics` and its counters move with new events
#   6. the broker killed (connections refused): SIGTERM ends recsd within the deadline (+1 s)
#
# Usage: tests/e2e/pipeline_e2e.sh [RECSD_BINARY]   (default: build/release/daemon/recsd)
# Needs kcat. Exit 0 when every check holds; each failed check prints "FAIL: ...".
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
recsd="${1:-$root/build/release/daemon/recsd}"
command -v kcat >/dev/null || {
  echo "e2e: kcat not found (ops/install-deps.sh installs it)" >&2
  exit 1
}
work=$(mktemp -d)
pids=()
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
trap cleanup EXIT  # E2E_KEEP=1 keeps the logs and captures for a look

# ---- broker ----
start_broker "$work"
echo "e2e: broker at $bootstrap"
produce() { kcat -b "$bootstrap" -P -t "$1" -K '|' -l "$2"; }

# ---- catalog: 4 clusters (a..d) of 6 items, embeddings along one axis each ----
axis=(a b c d)
: >"$work/items"
for c in 0 1 2 3; do
  emb=("0.05" "0.05" "0.05" "0.05")
  emb[c]="1"
  for i in 1 2 3 4 5 6; do
    id="item-${axis[c]}$i"
    printf '%s|{"item":"%s","emb":[%s],"cat":"%s","ts":1700000000000}\n' "$id" "$id" \
      "$(IFS=,; echo "${emb[*]}")" "${axis[c]}" >>"$work/items"
  done
done
produce recsd.items "$work/items"

# ---- events: user u-<cluster><n> views items 1 and 2 of its cluster; half JSON, half msgpack ----
# msgpack map {type, user, item, ts} written byte by byte (one file per message: kcat sends each
# file as one message, so bytes that happen to be newlines are safe).
fixstr() { printf '%b%s' "\\x$(printf %02x $((0xa0 + ${#1})))" "$1"; }
msgpack_event() {  # user item ts(ms) > file
  local hex j
  hex=$(printf %016x "$3")
  {
    printf '\x84'
    fixstr type; fixstr view
    fixstr user; fixstr "$1"
    fixstr item; fixstr "$2"
    fixstr ts; printf '\xcf'
    for j in 0 2 4 6 8 10 12 14; do printf '%b' "\\x${hex:j:2}"; done
  } >"$4"
}
users=()
ts=1700000100000
: >"$work/events.json"
mkdir "$work/mp"
for c in 0 1 2 3; do
  for n in 1 2 3 4 5; do
    u="u-${axis[c]}$n"
    users+=("$u")
    for i in 1 2; do
      ts=$((ts + 1000))
      if (( n % 2 == 0 )); then
        msgpack_event "$u" "item-${axis[c]}$i" "$ts" "$work/mp/$u-$i.mp"
        kcat -b "$bootstrap" -P -t recsd.events -k "$u" "$work/mp/$u-$i.mp"
      else
        printf '%s|{"type":"view","user":"%s","item":"item-%s%d","ts":%d}\n' "$u" "$u" \
          "${axis[c]}" "$i" "$ts" >>"$work/events.json"
      fi
    done
  done
done
echo 'u-bad|{"type":"view","user":"u-bad"' >"$work/bad.json"
produce recsd.events "$work/events.json"
produce recsd.events "$work/bad.json"
initial_events=$((${#users[@]} * 2 + 1))

cat >"$work/recsd.toml" <<EOF
$(kafka_section "$bootstrap" e2e)
[model]
embedding_dim = 4
list_size = 3
# Rank by the user's own interest alone, so that "reflects its events" has one right answer
# (the blend of sources is the model's business, tested by replay and the model tests).
[fusion.weights]
emb_short = 1
emb_long = 0
covisit = 0
trending = 0
category = 0
fresh = 0
[learning]
enabled = false
[admin]
listen = "127.0.0.1:0"
[pipeline]
workers = 2
stats_interval = "0ms"
shutdown_timeout = "8s"
EOF
start_recsd() {  # log file
  "$recsd" run --config "$work/recsd.toml" >/dev/null 2>"$1" &
  recsd_pid=$!
  pids+=("$recsd_pid")
}
consumed_by() { sed -nE 's/.*shutdown: done; ([0-9]+) events consumed.*/\1/p' "$1"; }
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
# The output topic as hex, one message per line: hex(key) hex("<<k>>") hex(payload). Lists are
# binary msgpack (bytes that are newlines included), so they are compared in hex.
read_lists() {
  kcat -b "$bootstrap" -C -t recsd.recommendations -e -q -f '<<m>>%k<<k>>%s' 2>/dev/null |
    od -An -tx1 -v | tr -d ' \n' | sed "s/$(hex '<<m>>')/\n/g" | grep .
}
# The latest list of a user (hex payload), from read_lists output in file $1.
last_list() { grep "^$(hex "$2")$(hex '<<k>>')" "$1" | tail -n 1; }
# The event_ts of a list (hex payload) in ms.
event_ts_of() {
  local h
  h=$(grep -oE "$(hex event_ts)(cf|d3)[0-9a-f]{16}" <<<"$1" | head -n 1 | tail -c 17)
  [[ -n $h ]] && echo $((16#$h))
}
users_with_lists() {  # key prefix
  kcat -b "$bootstrap" -C -t recsd.recommendations -e -q -f '%k\n' 2>/dev/null |
    grep -a "^$1" | sort -u | grep -c . || true
}
wait_for_lists() {  # key prefix, count of distinct users expected
  for _ in $(seq 150); do
    [[ $(users_with_lists "$1") -ge $2 ]] && return 0
    sleep 0.2
  done
  return 1
}

# ---- 1: a list for every user, reflecting its events ----
start_recsd "$work/run1.log"
check "a list for each of the ${#users[@]} users" wait_for_lists u- "${#users[@]}"
read_lists >"$work/lists1"
reflects() {
  local u c last found
  for u in "${users[@]}"; do
    c=${u:2:1}
    last=$(last_list "$work/lists1" "$u")
    # All three items are unseen items of the user's cluster (3 to 6 tie), none one it saw.
    found=0
    for i in 3 4 5 6; do
      if grep -q "$(hex "item-$c$i")" <<<"$last"; then found=$((found + 1)); fi
    done
    [[ $found -eq 3 ]] || { echo "  $u: $found of its cluster's unseen items" >&2; return 1; }
    for i in 1 2; do
      if grep -q "$(hex "item-$c$i")" <<<"$last"; then echo "  $u: seen item-$c$i" >&2; return 1; fi
    done
  done
}
check "each user's list holds three unseen items of its cluster and none it saw" reflects
dlq_reason() {
  kcat -b "$bootstrap" -C -t recsd.events.dlq -e -q -f '%k %h\n' 2>/dev/null |
    grep -q '^u-bad .*recsd.error.reason=truncated'
}
check "the bad event is in the DLQ with its reason" dlq_reason

# ---- 2: SIGTERM under load ----
load_users=50
(
  i=0
  while [[ ! -e $work/stop-load ]]; do
    : >"$work/load.part"
    for _ in $(seq 200); do
      i=$((i + 1))
      u="load$((i % load_users))"
      printf '%s|{"type":"view","user":"%s","item":"item-a%d","ts":%d}\n' "$u" "$u" \
        $((i % 6 + 1)) $((1700001000000 + i)) >>"$work/load.part"
    done
    produce recsd.events "$work/load.part"
    cat "$work/load.part" >>"$work/load.all"
  done
) &
load_pid=$!
pids+=("$load_pid")
sleep 4
start=$(date +%s%N)
kill -TERM "$recsd_pid"
code=0
wait "$recsd_pid" || code=$?
ms=$((($(date +%s%N) - start) / 1000000))
echo "e2e: recsd exited $code ${ms} ms after SIGTERM under load"
check "SIGTERM under load exits 0" test "$code" -eq 0
check "within 10 s (took ${ms} ms)" test "$ms" -lt 10000
touch "$work/stop-load"
wait "$load_pid"
load_events=$(wc -l <"$work/load.all")
c1=$(consumed_by "$work/run1.log")

# ---- 3: restart resumes from the committed offsets ----
# Every load user's last list names the user's last produced event (event_ts).
last_lists_match() {
  read_lists >"$work/lists2"
  local u got expected
  for k in $(seq 0 $((load_users - 1))); do
    u="load$k"
    expected=$(grep "^$u|" "$work/load.all" | tail -n 1 | sed -E 's/.*"ts":([0-9]+).*/\1/')
    got=$(event_ts_of "$(last_list "$work/lists2" "$u")")
    [[ $got == "$expected" ]] || { echo "  $u: last list event_ts ${got:-none}, last event $expected" >&2; return 1; }
  done
}
start_recsd "$work/run2.log"
for _ in $(seq 60); do
  last_lists_match 2>/dev/null && break
  sleep 0.5
done
kill -TERM "$recsd_pid"
wait "$recsd_pid" || true
c2=$(consumed_by "$work/run2.log")
total=$((initial_events + load_events))
echo "e2e: produced $total events; run 1 consumed $c1, run 2 consumed $c2"
check "the two runs consumed every event exactly once ($c1 + $c2 = $total)" \
  test $((c1 + c2)) -eq "$total"
check "every load user's last list names its last event" last_lists_match

# ---- 4: shutdown when the broker is gone ----
term_with_broker_stopped() {  # freezes the broker, SIGTERMs recsd; sets code and ms (to its exit)
  kill -STOP "$broker_pid"
  local start
  start=$(date +%s%N)
  kill -TERM "$recsd_pid"
  code=0
  wait "$recsd_pid" || code=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  kill -CONT "$broker_pid"
}
# SIGTERM while the start-up waits for the frozen broker (the catalog not read yet): the start-up
# gives up at once instead of waiting out pipeline.catalog_load_timeout (60 s).
start_recsd "$work/run3a.log"
for _ in $(seq 100); do grep -q 'admin: serving' "$work/run3a.log" && break; sleep 0.05; done
term_with_broker_stopped
echo "e2e: SIGTERM during start-up with the broker stopped: exit $code after ${ms} ms"
check "SIGTERM during start-up with the broker stopped exits 0 within the deadline (took ${ms} ms)" \
  test "$code" -eq 0 -a "$ms" -lt 9000
start_recsd "$work/run3.log"
# Polled closely, so the broker mostly freezes while the partitions restore: a worker then stays
# inside librdkafka past the deadline, and only the last resort (exit 0.5 s after it) keeps it.
for _ in $(seq 2000); do grep -q 'assigned ' "$work/run3.log" && break; sleep 0.01; done
term_with_broker_stopped
echo "e2e: with the broker stopped, recsd exited $code ${ms} ms after SIGTERM (deadline 8 s)"
check "shutdown with the broker gone ends within the deadline + 1 s (took ${ms} ms)" test "$ms" -lt 9000

# ---- 5: admin server ----
admin_port() { sed -nE 's/.*admin: serving .* on port ([0-9]+).*/\1/p' "$1" | head -n 1; }
# Never fails (000 when nothing answers): a dead recsd shows as a FAIL line, not as set -e's abort.
http_code() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$2" || true; }
kill -STOP "$broker_pid"  # the catalog cannot load until it is back
start_recsd "$work/run4.log"
for _ in $(seq 50); do [[ -n $(admin_port "$work/run4.log") ]] && break; sleep 0.1; done
port=$(admin_port "$work/run4.log")
check "/readyz is 503 while the catalog loads" test "$(http_code "$port" /readyz)" = 503
check "/livez is 200 meanwhile" test "$(http_code "$port" /livez)" = 200
check "recsd_ready is 0 meanwhile" grep -q '^recsd_ready 0$' <(curl -s "http://127.0.0.1:$port/metrics")
# Frozen for longer than one 200 ms metadata request: the start-up waits for the broker, it does
# not give up when a request finds no connection up.
sleep 1.5
check "recsd is still starting after 1.5 s without a broker" kill -0 "$recsd_pid"
kill -CONT "$broker_pid"
ready=""
for _ in $(seq 100); do
  ready=$(http_code "$port" /readyz)
  [[ $ready == 200 ]] && break
  sleep 0.2
done
check "/readyz is 200 once the catalog is loaded and partitions assigned" test "$ready" = 200
curl -s "http://127.0.0.1:$port/metrics" >"$work/metrics1" || true
check "recsd_ready is 1 then" grep -q '^recsd_ready 1$' "$work/metrics1"
if command -v promtool >/dev/null; then
  promtool_clean() { promtool check metrics <"$work/metrics1" >"$work/promtool.out" 2>&1 && ! grep -q . "$work/promtool.out"; }
  check "a scrape passes promtool check metrics with no warnings" promtool_clean
else
  echo "FAIL: promtool not found (ops/install-deps.sh installs it)"
  failures=$((failures + 1))
fi
consumed() { awk '/^recsd_events_consumed_total[{ ]/ { n += $NF } END { print n + 0 }' "$1"; }
echo 'after|{"type":"view","user":"after","item":"item-a1","ts":1700002000000}' >"$work/after"
produce recsd.events "$work/after"
moved() {
  for _ in $(seq 50); do
    curl -s "http://127.0.0.1:$port/metrics" >"$work/metrics2" || true
    [[ $(consumed "$work/metrics2") -gt $(consumed "$work/metrics1") ]] && return 0
    sleep 0.2
  done
  return 1
}
check "recsd_events_consumed_total moves with a new event" moved
check "unknown paths are 404" test "$(http_code "$port" /nope)" = 404
kill -TERM "$recsd_pid"
wait "$recsd_pid" || true

# ---- 6: shutdown when the broker was killed (connections refused) ----
# Before, the consumer's destruction waited out its group session after the deadline: 14 s.
# Under load, so that outputs are in flight when the broker dies.
start_recsd "$work/run5.log"
"$recsd" loadgen --config "$work/recsd.toml" --rate 500 --users 300 --items 100 --no-catalog \
  >/dev/null 2>"$work/loadgen.log" &
loadgen_pid=$!
pids+=("$loadgen_pid")
for _ in $(seq 100); do grep -q 'partition .*: restored' "$work/run5.log" && break; sleep 0.2; done
sleep 3
# The output topic holds section 1's lists (users and items not of the loadgen's naming).
check "loadgen runs on beside lists of other users and items" kill -0 "$loadgen_pid"
kill -9 "$broker_pid" "$loadgen_pid"
wait "$broker_pid" "$loadgen_pid" 2>/dev/null || true
sleep 1
start=$(date +%s%N)
kill -TERM "$recsd_pid"
code=0
wait "$recsd_pid" || code=$?
ms=$((($(date +%s%N) - start) / 1000000))
echo "e2e: with the broker killed, recsd exited $code ${ms} ms after SIGTERM (deadline 8 s)"
check "shutdown with the broker killed ends within the deadline + 1 s (took ${ms} ms)" \
  test "$ms" -lt 9000

if [[ $failures -gt 0 ]]; then
  echo "e2e: $failures check(s) failed; logs:" >&2
  tail -n 20 "$work/run1.log" "$work/run2.log" "$work/run3.log" "$work/run4.log" >&2
  cat "$work/promtool.out" >&2 2>/dev/null || true
  exit 1
fi
echo "e2e: all checks passed"
