# shellcheck shell=bash
# Shared by the end-to-end scripts and the pipeline benchmarks (sourced). They set $recsd (the
# binary) and an array pids whose processes their exit trap kills; start_broker sets variables
# they read.
# shellcheck disable=SC2154,SC2034

# The exit trap of each of them: kills what it started, reaps it quietly (no "Killed" notices),
# and removes $work unless KEEP=1 (or E2E_KEEP=1) asks to keep the logs for a look.
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  if [[ -n ${KEEP:-}${E2E_KEEP:-} ]]; then
    echo "kept $work" >&2
  else
    rm -rf "$work"
  fi
}

# The benchmarks' start, from the repository root: the release build of recsd (configured if need
# be) in $recsd, a work directory $work, and the exit trap.
bench_start() {
  cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build/release --target recsd >/dev/null
  recsd=build/release/daemon/recsd
  work=$(mktemp -d)
  pids=()
  trap cleanup EXIT
}

# Starts `recsd broker` with PARTITIONS partitions (4) on BROKERS brokers (1), its output in
# DIR/broker.out and DIR/broker.log; sets broker_pid and bootstrap, and adds the broker to pids.
# Its fault control is the FIFO DIR/control, held open on fd $broker_control (see fault). Not in
# a command substitution: that would run it in a subshell and lose both.
start_broker() {  # dir [partitions] [brokers]
  [[ -p $1/control ]] || mkfifo "$1/control"  # a second broker in DIR reuses it
  exec {broker_control}<>"$1/control"  # read-write: opening it never waits for the broker
  "$recsd" broker --partitions "${2:-4}" --brokers "${3:-1}" --bootstrap-file "$1/bootstrap" \
    --control "$1/control" >"$1/broker.out" 2>"$1/broker.log" &
  broker_pid=$!
  pids+=("$broker_pid")
  for _ in $(seq 100); do [[ -s $1/bootstrap ]] && break; sleep 0.1; done
  bootstrap=$(cat "$1/bootstrap")
  broker_out="$1/broker.out"
}

# fault LINE: injects a fault into the broker start_broker started (stream/mock_faults.h) and
# waits for its answer; fails (and says why) unless it was injected.
fault() {
  local n answer
  n=$(($(grep -c '^fault ' "$broker_out" || true) + 1))
  echo "$*" >&"$broker_control"
  for _ in $(seq 100); do
    answer=$(grep "^fault ${n}[: ]" "$broker_out" || true)
    [[ -n $answer ]] && break
    sleep 0.05
  done
  echo "  $(date -u '+%H:%M:%S.%3N') ${answer:-fault $n: no answer to \"$*\"}"
  [[ $answer == "fault $n: "* ]]
}

# The [kafka] section every configuration here starts with: the broker, the consumer group
# (when given), and group membership quick enough for a test's restarts and rebalances. More
# [kafka] lines may follow it.
kafka_section() {  # bootstrap [group]
  echo "[kafka]"
  echo "bootstrap.servers = \"$1\""
  [[ -z ${2:-} ]] || echo "group.id = \"$2\""
  echo "session.timeout.ms = 6000"
  echo "heartbeat.interval.ms = 500"
}

# ---- The digest oracle: what the broker holds, replayed without interruption ----
# (DIR/recsd.toml names the broker; $bootstrap is its address.)
# The oracle: the broker's events and items, replayed without interruption in log order (as
# recsd applies them; a user's events may be out of timestamp order in the log: loadgen produces
# views and clicks from two threads).
replay_digests() {  # dir
  read_topics "$1"
  replay_in "$1" input replay.digests
}
replay_in() {  # dir order output: a replay of the events read last, in that order
  "$recsd" replay --config "$1/recsd.toml" --input-format msgpack --events "$1/events.mp" \
    --items "$1/items.mp" --order "$2" --state-digests "$1/$3" >"$1/replay.out" 2>&1
}
# The events topic is read until two reads agree: a producer that was just stopped may have had
# requests in flight that the broker appends after a first read (the instances would apply them).
read_topics() {  # dir: events.mp and items.mp
  local size=-1
  for _ in $(seq 10); do
    kcat -b "$bootstrap" -C -t recsd.events -e -q -f '%s' >"$1/events.mp" 2>/dev/null
    [[ $(stat -c %s "$1/events.mp") -eq $size ]] && break
    size=$(stat -c %s "$1/events.mp")
    sleep 1
  done
  kcat -b "$bootstrap" -C -t recsd.items -e -q -f '%s' >"$1/items.mp" 2>/dev/null
}
# Digests of every user the instances on the given admin ports hold, merged, sorted.
live_digests() {  # port...
  local port
  for port in "$@"; do
    curl -sf "http://127.0.0.1:$port/v1/state/digests" |
      jq -r '.digests | to_entries[] | "\(.key) \(.value)"'
  done | sort
}

# check DESCRIPTION COMMAND... runs the command, prints "ok: ..." or "FAIL: ..." and counts
# failures in $failures.
failures=0
check() {
  local what=$1
  shift
  if "$@"; then
    echo "ok: $what"
  else
    echo "FAIL: $what"
    failures=$((failures + 1))
  fi
}
