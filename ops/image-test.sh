#!/usr/bin/env bash
# Builds the container image from ops/Dockerfile and runs it, without a Docker engine:
#   1. a Debian bookworm base made here with debootstrap (minbase), stored as debian:bookworm and
#      debian:bookworm-slim in buildah's local storage (skipped when they are there already;
#      nothing is pulled from a registry)
#   2. buildah bud --isolation chroot: the image's two stages, as Docker would build them
#   3. from the image, as uid 10001: `recsd version`, `recsd check-config` of the baked
#      /etc/recsd/recsd.toml, then `recsd broker` and the daemon (tini as PID 1's stand-in, the
#      baked configuration, the broker's address and a free admin port by --set); /readyz must
#      answer 200 and /metrics must show the daemon ready. The daemon runs as the StatefulSet
#      runs it (ops/k8s/base/statefulset.yaml): the image's root file system read-only (a
#      read-only bind mount of the container's root in a mount namespace of its own, entered by
#      chroot: buildah run has no read-only option), /tmp a writable tmpfs
# Needs buildah and debootstrap (ops/install-deps.sh --image) and root (chroot isolation).
# Takes about 3 minutes on a 2-core machine with the packages cached, most of it compiling recsd
# inside the image, so .ci/run does not run it. IMAGE_KEEP=1 keeps the image and the work directory.
#
# Usage: ops/image-test.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
image=localhost/recsd:image-test
work=$(mktemp -d)
containers=()
pids=()
cleanup() {
  # Each `buildah run` leads its own process group (setsid): signals to buildah alone do not
  # reach what runs in the container.
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  for c in "${containers[@]}"; do
    buildah umount "$c" >/dev/null 2>&1 || true
    buildah rm "$c" >/dev/null 2>&1 || true
  done
  if [[ -z ${IMAGE_KEEP:-} ]]; then
    buildah rmi "$image" >/dev/null 2>&1 || true
    rm -rf "$work"
  else
    echo "kept $work and $image" >&2
  fi
}
trap cleanup EXIT
for tool in buildah debootstrap curl; do
  command -v "$tool" >/dev/null || {
    echo "image-test: $tool not found (ops/install-deps.sh --image installs it)" >&2
    exit 1
  }
done
failures=0
check() {  # description command...
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; failures=$((failures + 1)); fi
}
start=$(date +%s)

# ---- 1: the base ----
if ! buildah inspect --type image docker.io/library/debian:bookworm >/dev/null 2>&1; then
  echo "image-test: making a bookworm base with debootstrap"
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian \
    >"$work/debootstrap.log" 2>&1
  rm -f "$work"/rootfs/var/cache/apt/archives/*.deb
  tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
  rm -rf "$work/rootfs"
  base=$(buildah from scratch)
  containers+=("$base")
  buildah add "$base" "$work/rootfs.tar" / >/dev/null
  buildah config --cmd /bin/bash "$base"
  buildah commit -q "$base" docker.io/library/debian:bookworm >/dev/null
fi
buildah tag docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim

# ---- 2: the image ----
echo "image-test: building $image (log: $work/bud.log)"
if ! (cd "$root" && buildah bud --isolation chroot --pull=never -f ops/Dockerfile -t "$image" . \
  >"$work/bud.log" 2>&1); then
  tail -n 30 "$work/bud.log" >&2
  echo "image-test: the image did not build" >&2
  exit 1
fi
echo "image-test: built in $(($(date +%s) - start)) s"

# ---- 3: run it ----
run_in() {  # container command...: as the image's user (10001), on the host's network
  local c=$1
  shift
  buildah run --isolation chroot --network host --user 10001:10001 "$c" -- "$@"
}
ctr=$(buildah from "$image")
containers+=("$ctr")
check "the image's user is 10001" test "$(buildah inspect --format '{{.OCIv1.Config.User}}' "$image")" = "10001:10001"
check "a process in the image runs as uid 10001" test "$(run_in "$ctr" id -u)" = 10001
check "recsd version runs in the image" run_in "$ctr" /usr/local/bin/recsd version
check "the baked configuration checks out" run_in "$ctr" /usr/local/bin/recsd check-config \
  /etc/recsd/recsd.toml
setsid buildah run --isolation chroot --network host --user 10001:10001 "$ctr" -- \
  /usr/local/bin/recsd broker --config /etc/recsd/recsd.toml --partitions 4 \
  >"$work/broker.out" 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/broker.out ]] && break; sleep 0.1; done
bootstrap=$(head -n 1 "$work/broker.out")
# The daemon's root: the container's, read-only, with /proc, /dev and a tmpfs /tmp; entered as
# USER (uid:gid) by chroot. Arguments: root, user, command...
# shellcheck disable=SC2016  # expanded by the inner shell
ro_root='set -e; m=$1; u=$2; shift 2
  mount --bind "$m" "$m"; mount -o remount,bind,ro "$m"
  mount -t proc proc "$m/proc"; mount --rbind /dev "$m/dev"
  mount -t tmpfs -o size=64m,mode=1777 tmpfs "$m/tmp"
  exec chroot --userspec="$u" "$m" "$@"'
mnt=$(buildah mount "$ctr")
read_only_root() { unshare --mount --fork -- sh -c "$ro_root" sh "$mnt" "$@"; }
check "the daemon's root is read-only (even root cannot write to it)" \
  grep -q 'Read-only file system' <(read_only_root 0:0 touch /probe 2>&1)
check "its /tmp is writable by uid 10001" read_only_root 10001:10001 touch /tmp/probe
setsid unshare --mount --fork -- sh -c "$ro_root" sh "$mnt" 10001:10001 \
  /usr/bin/tini -- /usr/local/bin/recsd run --config /etc/recsd/recsd.toml \
  --set "kafka.bootstrap.servers=$bootstrap" --set admin.listen=127.0.0.1:0 \
  >/dev/null 2>"$work/run.log" &
pids+=($!)
port=""
for _ in $(seq 300); do
  port=$(sed -nE 's/.*admin: serving .* on port ([0-9]+).*/\1/p' "$work/run.log" | head -n 1)
  [[ -n $port ]] && break
  sleep 0.1
done
ready() {
  for _ in $(seq 300); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz") == 200 ]] &&
      return 0
    sleep 0.1
  done
  tail -n 20 "$work/run.log" >&2
  return 1
}
check "the daemon in the image answers /readyz 200 (admin port ${port:-none})" ready
check "its /metrics says it is ready" grep -q '^recsd_ready 1$' \
  <(curl -s "http://127.0.0.1:$port/metrics")
echo "image-test: $(($(date +%s) - start)) s in all"
if [[ $failures -gt 0 ]]; then
  echo "image-test: $failures check(s) failed" >&2
  exit 1
fi
echo "image-test: all checks passed"
