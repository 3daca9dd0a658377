#!/usr/bin/env bash
# Static checks of recsd's operations files, each timed; exit 1 when any fails. Run by
# ops/test.sh (so by CI). Needs promtool, docker-compose, yamllint and shellcheck (Debian
# packages, ops/install-deps.sh) and Node.js with npm (the Dockerfile linter and the Kubernetes
# manifest validator are npm packages, pinned in ops/lint/package-lock.json, installed into
# ops/lint/node_modules on first use).
#
#   promtool check rules      ops/prometheus/alerts.yaml
#   promtool test rules       ops/prometheus/alerts_test.yaml (every alert fires when it should)
#   dashboard queries         every PromQL expression of ops/grafana/dashboards/recsd.json parses
#                             (checked as recording rules) and names a recsd metric or rule
#   metrics documented        every metric of metrics/catalog.cc has a row in ops/README.md
#   docker-compose config -q  ops/compose.yaml
#   yamllint                  every YAML file of the repository (.yamllint.yaml)
#   shell scripts             every one in the repository, by shellcheck
#   dockerfilelint            ops/Dockerfile
#   validate-k8s              ops/k8s/base and every overlay (kubernetes-models schemas)
#   check-config              the TOML files shipped in ops/ (with a recsd binary: $RECSD_BIN)
# The check functions are called through step(), which shellcheck cannot follow.
# shellcheck disable=SC2317
set -euo pipefail
cd "$(dirname "$0")/.."
failures=0
summary=()
step() {  # name, then the command
  local name=$1
  shift
  local start end
  start=$(date +%s%N)
  if "$@" >"$tmp/out" 2>&1; then
    end=$(date +%s%N)
    summary+=("ok    $(((end - start) / 1000000)) ms  $name")
  else
    end=$(date +%s%N)
    summary+=("FAIL  $(((end - start) / 1000000)) ms  $name")
    failures=$((failures + 1))
    echo "check-ops: $name failed:" >&2
    cat "$tmp/out" >&2
  fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

dashboard_queries() {
  local rules=$tmp/dashboard_rules.yaml
  jq -r '"groups:\n  - name: dashboard\n    rules:",
         ([.panels[].targets[].expr] | to_entries[] |
          "      - record: dashboard:query_\(.key)\n        expr: " + (.value | tojson))' \
    ops/grafana/dashboards/recsd.json >"$rules"
  promtool check rules "$rules"
  local names
  names=$(jq -r '.panels[].targets[].expr' ops/grafana/dashboards/recsd.json |
    grep -oE 'recsd(_[a-z_]+|:[a-z0-9_:]+)' | sort -u)
  local known
  known=$(grep -oE '"recsd_[a-z_]+"' metrics/catalog.cc | tr -d '"'
    grep -oE 'record: recsd:[a-z0-9_:]+' ops/prometheus/alerts.yaml | sed 's/record: //')
  local missing=0 name
  for name in $names; do
    name=${name%_bucket}
    if ! grep -qx "$name" <<<"$known"; then
      echo "the dashboard uses $name, which recsd does not expose (metrics/catalog.cc) nor record"
      missing=1
    fi
  done
  return "$missing"
}

metrics_documented() {  # every metric of the catalog has a row in ops/README.md
  local missing=0 name
  for name in $(grep -oE '"recsd_[a-z_]+"' metrics/catalog.cc | tr -d '"' | sort -u); do
    if ! grep -q "\`${name}[{\`]" ops/README.md; then
      echo "$name (metrics/catalog.cc) is not documented in ops/README.md"
      missing=1
    fi
  done
  return "$missing"
}

npm_tools() {
  if ! command -v npm >/dev/null; then
    echo "npm not found: install Node.js (the machine's, or Debian's nodejs and npm)"
    return 1
  fi
  if [[ ! -x ops/lint/node_modules/.bin/dockerfilelint ]]; then
    (cd ops/lint && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

check_configs() {
  local bin=${RECSD_BIN:-build/release/daemon/recsd}
  [[ -x $bin ]] || { echo "no recsd binary at $bin (set RECSD_BIN)"; return 1; }
  local f
  for f in ops/recsd.example.toml ops/k8s/base/recsd.toml ops/k8s/overlays/*/recsd.toml; do
    "$bin" check-config "$f"
  done
}

step "promtool check rules" promtool check rules ops/prometheus/alerts.yaml
step "promtool test rules" bash -c 'cd ops/prometheus && promtool test rules alerts_test.yaml'
step "dashboard queries" dashboard_queries
step "metrics documented" metrics_documented
step "docker-compose config -q" docker-compose -f ops/compose.yaml config -q
step "yamllint" bash -c 'git ls-files -co --exclude-standard "*.yaml" "*.yml" | xargs yamllint -s'
step "shellcheck" bash -c 'git ls-files -co --exclude-standard "*.sh" .ci/run | xargs shellcheck -x'
step "npm tools (install on first use)" npm_tools
step "dockerfilelint" ops/lint/node_modules/.bin/dockerfilelint ops/Dockerfile
step "validate-k8s" node ops/lint/validate-k8s.mjs ops/k8s/base ops/k8s/overlays/*/
step "check-config of the shipped TOML files" check_configs

echo "== ops checks =="
printf '  %s\n' "${summary[@]}"
exit $((failures > 0))
