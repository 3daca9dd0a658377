#!/usr/bin/env bash
# Installs everything recsd needs to build, test and fuzz, from Debian bookworm packages only.
# Idempotent: when every package is already installed it does nothing and asks no registry.
# Runs apt-get as root, or through sudo when not root. Used by the README, .ci/run and the Dockerfile.
#
#   ops/install-deps.sh            build + test + tooling packages (developer machines, CI)
#   ops/install-deps.sh --runtime  only the shared libraries the recsd binary needs (container image)
#   ops/install-deps.sh --image    buildah and debootstrap, to build and run the image without a
#                                  Docker engine (ops/image-test.sh)
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  librdkafka-dev libeigen3-dev libboost-dev libboost-system-dev libmsgpack-cxx-dev
  libspdlog-dev libfmt-dev prometheus-cpp-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # Fuzzing (libFuzzer) and sanitizers with clang, format and lint checks.
  clang libclang-rt-14-dev clang-format clang-tidy
  # End-to-end tests (tests/e2e/): an external Kafka client, JSON on the command line, an HTTP
  # client, and promtool (in Debian's prometheus package) to lint a live scrape.
  kcat jq curl prometheus
  # Static checks of the operations files (ops/check-ops.sh; Node.js and npm come with the
  # machine).
  yamllint docker-compose shellcheck
)
runtime_packages=(
  librdkafka1 libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 libtomlplusplus3
  ca-certificates tini
)

image_packages=(buildah debootstrap curl)

packages=("${build_packages[@]}")
if [[ "${1:-}" == "--runtime" ]]; then
  packages=("${runtime_packages[@]}")
elif [[ "${1:-}" == "--image" ]]; then
  packages=("${image_packages[@]}")
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--runtime | --image]" >&2
  exit 2
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: missing packages (${missing[*]}); run as root or install sudo" >&2
    exit 1
  fi
  sudo_cmd=(sudo)
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
