#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (packages), builds ptune in Release and starts the workbench training the
# built-in default experiment (its setup stays in the form to change and run again). Without a display (no $DISPLAY or
# $WAYLAND_DISPLAY) it trains the same experiment with the CLI instead.
# Usage: bash scripts/run.sh [build-dir]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash scripts/build.sh "$BUILD"
if [ -x "$BUILD/bin/ptune-workbench" ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$BUILD/bin/ptune-workbench" --spec resources/builtin/experiment.json --run
fi
echo "No display: training the built-in default experiment with the CLI (store: $BUILD/runs.sqlite)" >&2
exec "$BUILD/bin/ptune" train --spec resources/builtin/experiment.json --db "$BUILD/runs.sqlite"
