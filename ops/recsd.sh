#!/usr/bin/env bash
# Installs recsd's dependencies (ops/install-deps.sh), builds the recsd binary in build/release
# (incrementally: an unchanged tree rebuilds nothing) and runs it with the given arguments.
#
#   ops/recsd.sh replay
#   ops/recsd.sh version
#   ops/recsd.sh check-config ops/recsd.example.toml
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/ops/install-deps.sh"
build="$root/build/release"
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRECSD_TESTS=OFF \
    -DRECSD_BENCHMARKS=OFF >&2
fi
cmake --build "$build" --target recsd >&2
exec "$build/daemon/recsd" "$@"
