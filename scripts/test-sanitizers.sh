#!/usr/bin/env bash
# Builds ptune with AddressSanitizer and UndefinedBehaviorSanitizer (PTUNE_SANITIZE=ON, RelWithDebInfo) and runs
# every test suite under them. LibTorch, Qt and the other libraries are not instrumented; ASan still checks every
# access ptune's code makes. Leak checking is off: LibTorch keeps allocations alive until exit by design.
# A report stops the test that made it (halt_on_error) and fails the run.
# Usage: bash scripts/test-sanitizers.sh [build-dir]   (default: build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-asan}
bash scripts/install-deps.sh
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPTUNE_SANITIZE=ON -DPTUNE_WERROR="${PTUNE_WERROR:-OFF}"
cmake --build "$BUILD" --parallel "$(nproc)"
cd "$BUILD"
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
QT_QPA_PLATFORM=offscreen ctest --output-on-failure --timeout 1800
