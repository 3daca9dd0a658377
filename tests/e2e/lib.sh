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

# Starts `recsd broker` with PARTITIONS partitions (4) on BROKERS brokers (1), its output in
# DIR/broker.out and DIR/broker.log; sets broker_pid and bootstrap, and adds the broker to pids.
# Its fault control is the FIFO DIR/control, held open on fd $broker_control (see fault). Not in
# a command substitution: that would run it in a subshell and lose both.
start_broker() {  # dir [partitions] [brokers]
  mkfifo "$1/control"
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
