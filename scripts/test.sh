#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (packages), builds ptune in Release and runs every test suite with CTest.
# Usage: bash scripts/test.sh [build-dir]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash scripts/build.sh "$BUILD"
cd "$BUILD"
QT_QPA_PLATFORM=offscreen ctest --output-on-failure --timeout 900
