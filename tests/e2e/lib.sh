# shellcheck shell=bash
# Shared by the end-to-end scripts (sourced): check DESCRIPTION COMMAND... runs the command,
# prints "ok: ..." or "FAIL: ..." and counts failures in $failures.
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
