#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (packages), builds ptune in Release and starts it on the built-in default
# experiment: the workbench when it is built, else `ptune train` (the CLI) on the built-in model and data.
# Usage: bash scripts/run.sh [build-dir]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash scripts/build.sh "$BUILD"
if [ -x "$BUILD/bin/ptune-workbench" ]; then
  exec "$BUILD/bin/ptune-workbench"
fi
exec "$BUILD/bin/ptune" train --model builtin --train builtin --db "$BUILD/runs.sqlite"
