#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) on recsd's .cc files that changed since a base revision (default:
# the previous commit), using the compile commands of build/release, one file per core.
# `ops/lint.sh --all` lints all.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/release
if [[ ! -f $build/compile_commands.json ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
if [[ "${1:-}" == "--all" ]]; then
  mapfile -t files < <(git ls-files -- 'model/*.cc' 'state/*.cc' 'stream/*.cc' 'metrics/*.cc' 'daemon/*.cc')
else
  base=${1:-HEAD~1}
  mapfile -t files < <(git diff --name-only --diff-filter=AM "$base" -- \
    'model/*.cc' 'state/*.cc' 'stream/*.cc' 'metrics/*.cc' 'daemon/*.cc' 2>/dev/null || true)
fi
if [[ ${#files[@]} -eq 0 ]]; then
  echo "lint: no changed source files"
  exit 0
fi
printf '%s\0' "${files[@]}" | xargs -0 -n 1 -P "$(nproc)" clang-tidy -p "$build" --quiet
echo "lint: ${#files[@]} file(s) clean"
