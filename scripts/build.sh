#!/usr/bin/env bash
# Installs the Debian packages (idempotent), then configures and builds ptune in Release.
# Usage: bash scripts/build.sh [build-dir]   (default: build)
# PTUNE_WERROR=ON turns compiler warnings in ptune's own code into errors (CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash scripts/install-deps.sh
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPTUNE_WERROR="${PTUNE_WERROR:-OFF}"
cmake --build "$BUILD" --parallel "$(nproc)"
