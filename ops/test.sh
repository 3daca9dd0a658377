#!/usr/bin/env bash
# recsd's whole test suite, as CI runs it (.ci/run):
#   1. install dependencies (ops/install-deps.sh; fast when nothing is missing)
#   2. format check over the tree (ops/check-format.sh)
#   3. g++ Release build (-O3, -Werror) with tests and benchmarks, in build/release: the same
#      build directory and flags as the README's first command (ops/recsd.sh), so what a user
#      runs is what is tested. clang-tidy on the .cc files changed by the last commit
#      (ops/lint.sh); the static checks of the operations files (ops/check-ops.sh), each timed
#   4. every test of the Release build: unit, integration (the pipeline on librdkafka's mock
#      cluster) and end to end (tests/e2e/: recsd broker, kcat and recsd run as separate
#      processes). They mostly wait on brokers and rebalances, so ctest runs three per core, the
#      longest (the e2e tests) first, and beside them, at the lowest CPU priority (nice 19: the
#      tests get the CPU they ask for first), the clang build under ASan+UBSan (build/asan, line
#      tables; -O1 for model, state and stream, -O0 elsewhere) takes the CPU they leave idle
#   5. the unit and integration tests again in the clang build (two per core), and beside them,
#      at nice 19, one libFuzzer run per wire decoder for RECSD_FUZZ_SECONDS each (default 60),
#      all at once. The end-to-end tests run in step 4 only: they drive the same code through
#      separate processes and take minutes
# Builds are incremental, so a re-run of an unchanged tree only runs the tests.
#
#   ops/test.sh            everything above (CI)
#   ops/test.sh --quick    a developer's inner loop: format, the Release build and its unit tests
#                          (seconds once built); no integration, end-to-end, sanitizer or fuzz runs
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
quick=0
case "${1:-}" in
  "") ;;
  --quick) quick=1 ;;
  *)
    echo "usage: $0 [--quick]" >&2
    exit 2
    ;;
esac
fuzz_seconds=${RECSD_FUZZ_SECONDS:-60}
jobs=$(nproc)
wait_jobs=$((jobs * 3))  # tests that mostly wait on a broker
asan_jobs=$((jobs * 2))  # the same under the sanitizers: more CPU each

# How long each stage took, printed at the end (where the CI time goes).
stages=()
last=$SECONDS
mark() {  # stage name
  stages+=("$1 $((SECONDS - last)) s")
  last=$SECONDS
}

ops/install-deps.sh
ops/check-format.sh
mark "deps and format"

configure() {  # dir, then cmake options
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
}
configure build/release -DCMAKE_BUILD_TYPE=Release -DRECSD_TESTS=ON -DRECSD_BENCHMARKS=ON
cmake --build build/release
ops/recsd.sh version >/dev/null  # the README's first command builds in build/release too
mark "release build"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
if [[ $quick -eq 1 ]]; then
  ctest --test-dir build/release --output-on-failure -j "$jobs" -L unit 2>&1 | tee "$logs/quick" ||
    status=1
  exit "$status"
fi

ops/lint.sh
ops_status=0
RECSD_BIN=build/release/daemon/recsd ops/check-ops.sh || ops_status=1
mark "lint and ops checks"
# The Release tests mostly wait on brokers, rebalances and sleeps (about 60% of two cores at six
# at a time), so they run while the clang build takes the CPU they leave idle: the build runs at
# the lowest priority (nice 19), the tests get the CPU they ask for first. Their output is shown
# when they end.
echo "== unit, integration and end-to-end tests (g++, Release), beside the clang build =="
ctest --test-dir build/release --output-on-failure -j "$wait_jobs" >"$logs/release" 2>&1 &
release_pid=$!
# Line tables only (what ASan's reports need). -O0 for the daemon and the tests, -O1 for the
# model, state and stream modules, where the tests and fuzzers spend their CPU. -O0 compiles
# with 40% less CPU than -O1 (measured on the model, stream and model_test: 337 -> 201 s); the
# model tests then take 26 s instead of 13 s (83 s with the model at -O0 too). The build was a
# third of the CI time on two cores.
configure build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -gline-tables-only -DNDEBUG" -DRECSD_HOT_OPTIONS=-O1 \
  -DRECSD_SANITIZE=address,undefined -DRECSD_FUZZ=ON -DRECSD_BENCHMARKS=OFF \
  -DRECSD_FUZZ_SECONDS="$fuzz_seconds"
asan_built=1
nice -n 19 cmake --build build/asan || asan_built=0
mark "clang build (beside the release tests)"
wait "$release_pid" || status=1
cat "$logs/release"
mark "release tests (after the build)"
if [[ $asan_built -eq 0 ]]; then
  echo "test.sh: the clang build failed (above)" >&2
  exit 1
fi

# The fuzzers run for a fixed time each, all at once, at the lowest priority: they take the CPU
# the sanitizer tests leave idle.
fuzzers=$(ctest --test-dir build/asan -N -L fuzz | sed -nE 's/^Total Tests: ([0-9]+)$/\1/p')
nice -n 19 ctest --test-dir build/asan --output-on-failure -j "${fuzzers:-1}" -L fuzz \
  >"$logs/fuzz" 2>&1 &
fuzz_pid=$!
echo "== unit and integration tests (clang, ASan+UBSan) =="
ctest --test-dir build/asan --output-on-failure -j "$asan_jobs" -L 'unit|integration' 2>&1 |
  tee "$logs/asan" || status=1
echo "== fuzzers (clang, ASan+UBSan, ${fuzz_seconds}s each, beside the tests above) =="
wait "$fuzz_pid" || status=1
cat "$logs/fuzz"
mark "clang tests and fuzzers"

# One closing line over the three runs: "N passed, N failed".
passed=0
failed=0
for log in "$logs/release" "$logs/asan" "$logs/fuzz"; do
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" || true)
  if [[ -z $line ]]; then
    echo "test.sh: no ctest summary in the $(basename "$log") run" >&2
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
echo "stages: $(printf '%s, ' "${stages[@]}" | sed 's/, $//')"
echo "recsd: ${passed} passed, ${failed} failed"
exit "$status"
