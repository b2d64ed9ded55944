#!/usr/bin/env bash
# The LibTorch 2.x leg: builds ptune and runs every test suite on Debian 13 (LibTorch 2.6, Qt 6.8) inside a
# Debian 13 root made with debootstrap (scripts/debian13.sh: made on the first run, kept and reused after).
# It runs the README's test command, `bash scripts/test.sh /build`, on the source tree mounted read-only at /src:
# the package list, the build and CTest are exactly what a Debian 13 user runs, out of tree (/build in the root).
#
# Usage (as root): bash scripts/test-debian13.sh       (PTUNE_WERROR=ON: warnings as errors, as CI builds)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/debian13.sh bash scripts/test.sh /build
echo "test-debian13: passed in $(( $(date +%s) - start )) s"
