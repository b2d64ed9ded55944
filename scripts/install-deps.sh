#!/usr/bin/env bash
# Installs the Debian packages ptune builds, runs and tests with (the same names on Debian 12 and 13), and any
# package named as an argument (scripts/fuzz.sh adds clang and libFuzzer's runtime). Idempotent: packages
# already present are skipped, and nothing is done when all of them are there.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopenblas0-pthread
  qt6-base-dev qt6-base-dev-tools libqt6sql6-sqlite qt6-svg-dev libqcustomplot-dev
  libsqlite3-dev nlohmann-json3-dev libutf8proc-dev libpcre2-dev libcli11-dev
  xvfb xauth
)
PKGS+=("$@")
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
