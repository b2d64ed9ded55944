#!/usr/bin/env bash
# Takes docs/screenshots/*.png of the real workbench under Xvfb: real runs of the built-in experiment queued from
# the setup form, latency measured from the window (tests/workbench_screenshots.cpp drives it).
# Usage: scripts/screenshots.sh [BUILD_DIR] [ner|qa|choice]   (needs xvfb; the build from scripts/build.sh; ner, qa or
# choice: only the token-classification, QA or multiple-choice shots)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ninja -C "$BUILD" workbench_screenshots >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export XDG_CONFIG_HOME="$TMP/config" QT_QPA_PLATFORM=xcb
xvfb-run -a -s "-screen 0 1600x1000x24" "$BUILD/tests/workbench_screenshots" docs/screenshots "$TMP/runs.sqlite" ${2:-}
