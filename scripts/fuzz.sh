#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/) with clang, libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer, and runs
# each on its corpus for SECONDS, as many at once as there are cores. Prints one line per target: the seconds it
# ran (less than SECONDS when it stopped at a finding), executions, corpus size, result. A crash, hang (over 10 s), leak, out-of-memory (2 GiB) or sanitizer report
# leaves its input in BUILD/findings/TARGET/ and makes the script fail; add that input to
# fuzz/regressions/TARGET/ with the fix, and the corpus replay tests keep it fixed.
# New inputs found go to BUILD/corpus/TARGET (the committed corpus stays as it is).
#
# Usage: bash scripts/fuzz.sh [SECONDS per target, default 60] [TARGET...]     (BUILD: $PTUNE_FUZZ_BUILD or build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
shift || true
B=${PTUNE_FUZZ_BUILD:-build-fuzz}
bash scripts/install-deps.sh clang libclang-rt-dev
cmake -S fuzz -B "$B" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" --parallel "$(nproc)"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.cpp; do
    t=$(basename "$f" .cpp)
    [ "$t" = fuzz_util ] || targets+=("$t")
  done
fi
mkdir -p "$B/logs"
run_one() {
  local t=$1
  rm -rf "$B/findings/$t"   # this run's findings only
  mkdir -p "$B/corpus/$t" "$B/findings/$t"
  cp -n fuzz/corpus/"$t"/* "$B/corpus/$t/" 2>/dev/null || true
  [ -d "fuzz/regressions/$t" ] && cp -n fuzz/regressions/"$t"/* "$B/corpus/$t/" 2>/dev/null || true
  local start=$(date +%s)
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$B/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=131072 -print_final_stats=1 \
    -artifact_prefix="$B/findings/$t/" "$B/corpus/$t" >"$B/logs/$t.log" 2>&1 || true
  echo $(( $(date +%s) - start )) >"$B/logs/$t.seconds"
}
pids=()
status=0
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=("$!:$t")
  running=$((running + 1))
  if [ "$running" -ge "$(nproc)" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true
printf '%-18s %8s %12s %8s  %s\n' target seconds executions corpus result
for entry in "${pids[@]}"; do
  t=${entry#*:}
  log="$B/logs/$t.log"
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" 2>/dev/null | tail -1 | awk '{print $2}' || true)
  corpus=$(ls "$B/corpus/$t" 2>/dev/null | wc -l || true)
  found=$(ls "$B/findings/$t" 2>/dev/null | wc -l || true)
  if [ "$found" -gt 0 ] || ! grep -q 'stat::number_of_executed_units' "$log" 2>/dev/null; then
    result="FINDING: $(ls "$B/findings/$t" | head -3 | tr '\n' ' ')(log: $log)"
    status=1
  else
    result="ok"
  fi
  printf '%-18s %8s %12s %8s  %s\n' "$t" "$(cat "$B/logs/$t.seconds" 2>/dev/null || echo ?)" "${execs:-?}" "$corpus" "$result"
done
exit $status
