#!/usr/bin/env bash
# recsd's whole test suite, as CI runs it (.ci/run):
#   1. install dependencies (ops/install-deps.sh; fast when nothing is missing)
#   2. format check over the tree (ops/check-format.sh)
#   3. g++ debug build with -Werror, benchmarks compiled too, and every test (build/debug): unit,
#      integration (the pipeline on librdkafka's mock cluster) and end to end (tests/e2e/: recsd
#      broker, kcat and recsd run as separate processes);
#      clang-tidy on the .cc files changed by the last commit (ops/lint.sh); the static checks of
#      the operations files (ops/check-ops.sh: alert rules and their tests, dashboard queries,
#      compose, yamllint, shellcheck, the Dockerfile, the Kubernetes manifests), each timed
#   4. the release build of the README's first command (ops/recsd.sh, build/release): GCC at -O3
#      warns differently from the debug build, and warnings are errors
#   5. clang build under ASan+UBSan (build/asan): every test again, then one libFuzzer run
#      per wire decoder for RECSD_FUZZ_SECONDS each (default 60; set e.g. 5 for a quick re-run)
# Builds are incremental, so a re-run of an unchanged tree only runs the tests.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
fuzz_seconds=${RECSD_FUZZ_SECONDS:-60}
jobs=$(nproc)

ops/install-deps.sh
ops/check-format.sh

configure() {  # dir, then cmake options
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
}
configure build/debug -DCMAKE_BUILD_TYPE=Debug -DRECSD_BENCHMARKS=ON
cmake --build build/debug
ops/lint.sh
ops_status=0
RECSD_BIN=build/debug/daemon/recsd ops/check-ops.sh || ops_status=1
echo "== release build of the README's first command (ops/recsd.sh) =="
ops/recsd.sh version
configure build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DRECSD_SANITIZE=address,undefined -DRECSD_FUZZ=ON -DRECSD_BENCHMARKS=OFF \
  -DRECSD_FUZZ_SECONDS="$fuzz_seconds"
cmake --build build/asan

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
echo "== unit, integration and end-to-end tests (g++, debug) =="
ctest --test-dir build/debug --output-on-failure -j "$jobs" 2>&1 | tee "$logs/debug" || status=1
echo "== unit, integration and end-to-end tests and fuzzers (clang, ASan+UBSan, ${fuzz_seconds}s per fuzzer) =="
ctest --test-dir build/asan --output-on-failure -j "$jobs" 2>&1 | tee "$logs/asan" || status=1

# One closing line over both runs: "N passed, N failed".
passed=0
failed=0
for log in "$logs/debug" "$logs/asan"; do
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" || true)
  if [[ -z $line ]]; then
    echo "test.sh: no ctest summary in $(basename "$log") run" >&2
    status=1
    continue
  fi
  f=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  n=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  failed=$((failed + f))
  passed=$((passed + n - f))
  [[ $f -eq 0 ]] || status=1
done
if [[ $ops_status -ne 0 ]]; then
  echo "test.sh: the ops checks failed (above)" >&2
  status=1
fi
echo "recsd: ${passed} passed, ${failed} failed"
exit "$status"
