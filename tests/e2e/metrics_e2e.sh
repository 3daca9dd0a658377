#!/usr/bin/env bash
# End to end: every metric of recsd's catalog is on /metrics while `recsd demo` runs (its load
# generator sends a share of unusual events, so the dead-letter, late and forget paths run too),
# the scrape passes `promtool check metrics` with no warnings, and the metrics that follow the
# traffic move between two scrapes ten seconds apart.
#
#   tests/e2e/metrics_e2e.sh path/to/recsd
set -euo pipefail
recsd=${1:?usage: $0 path/to/recsd}
work=$(mktemp -d)
pids=()
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
trap cleanup EXIT

# Global statistics every 2 s, so their counters surely move between the two scrapes.
"$recsd" demo --duration 40 --set admin.listen=127.0.0.1:0 --set state.model_stats_interval=2s \
  >"$work/view" 2>"$work/log" &
demo_pid=$!
pids+=("$demo_pid")
port=""
for _ in $(seq 100); do
  port=$(sed -nE 's/.*admin: serving .* on port ([0-9]+).*/\1/p' "$work/log" | head -n 1)
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || { echo "FAIL: the demo did not start its admin server" >&2; cat "$work/log" >&2; exit 1; }
ready=""
for _ in $(seq 150); do
  ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
  [[ $ready == 200 ]] && break
  sleep 0.2
done
check "/readyz turns 200 as the demo starts" test "$ready" = 200
sleep 8  # lists, clicks and finished lists need some traffic first
curl -s "http://127.0.0.1:$port/metrics" >"$work/s1"
sleep 10
curl -s "http://127.0.0.1:$port/metrics" >"$work/s2"

promtool_clean() { promtool check metrics <"$1" >"$work/promtool.out" 2>&1 && ! grep -q . "$work/promtool.out"; }
check "the scrape passes promtool check metrics with no warnings" promtool_clean "$work/s2"

series() { grep -E "^$2(_bucket|_sum|_count)?[{ ]" "$1" | sort; }
present() { [[ -n $(series "$work/s2" "$1") ]]; }
moved() { [[ -n $(series "$work/s2" "$1") && $(series "$work/s1" "$1") != $(series "$work/s2" "$1") ]]; }

# Every metric of the catalog (ARCHITECTURE.md and the issue's list), present.
for m in recsd_build_info recsd_ready recsd_events_consumed_total recsd_events_processed_total \
  recsd_event_processing_duration_seconds recsd_recommendation_freshness_seconds \
  recsd_recommendations_published_total recsd_dead_letters_total recsd_refreshes_coalesced_total \
  recsd_recommendation_list_items recsd_kafka_consumer_lag_messages \
  recsd_kafka_assigned_partitions recsd_kafka_rebalances_total recsd_kafka_commits_total \
  recsd_kafka_broker_rtt_seconds recsd_kafka_errors_total recsd_kafka_producer_queue_messages \
  recsd_partitions_paused recsd_worker_queue_messages recsd_users_tracked recsd_user_state_bytes \
  recsd_user_state_evictions_total recsd_catalog_items recsd_catalog_last_update_timestamp_seconds \
  recsd_fusion_weight recsd_fusion_weights_version recsd_feedback_impressions_total \
  recsd_feedback_clicks_total recsd_fusion_guard_reverted recsd_model_stats_published_total \
  recsd_model_stats_records_total recsd_model_stats_partitions process_cpu_seconds_total \
  process_resident_memory_bytes process_virtual_memory_bytes process_open_fds process_max_fds \
  process_start_time_seconds; do
  check "$m is exposed" present "$m"
done
# Those that follow the traffic, moving. (Gauges of a steady state — assignment, pauses, catalog
# size, the guard — move on rebalances, backpressure, catalog changes and reverts instead.)
for m in recsd_events_consumed_total recsd_events_processed_total \
  recsd_event_processing_duration_seconds recsd_recommendation_freshness_seconds \
  recsd_recommendations_published_total recsd_refreshes_coalesced_total \
  recsd_recommendation_list_items recsd_kafka_consumer_lag_messages recsd_kafka_commits_total \
  recsd_user_state_bytes recsd_user_state_evictions_total recsd_fusion_weight \
  recsd_fusion_weights_version recsd_feedback_impressions_total recsd_feedback_clicks_total \
  recsd_model_stats_published_total recsd_model_stats_records_total process_cpu_seconds_total; do
  check "$m moves as the demo runs" moved "$m"
done
counted() { awk -v s="$2" 'index($0, s) == 1 { print ($NF > 0) ? "yes" : "no" }' "$1"; }
for r in ok late decode_error invalid unsupported_version dlq; do
  check "events with result $r are counted" \
    test "$(counted "$work/s2" "recsd_events_processed_total{result=\"$r\"}")" = yes
done
check "the freshness histogram has a bucket at the 5 s objective" \
  grep -q '^recsd_recommendation_freshness_seconds_bucket{le="5"}' "$work/s2"

kill -INT "$demo_pid"
code=0
wait "$demo_pid" || code=$?
check "the demo exits 0 on SIGINT" test "$code" = 0
if [[ $failures -gt 0 ]]; then
  echo "e2e: $failures check(s) failed" >&2
  tail -n 30 "$work/log" >&2
  cat "$work/promtool.out" >&2 2>/dev/null || true
  exit 1
fi
echo "e2e: all checks passed"
