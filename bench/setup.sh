# Sourced by the bench scripts: B (build dir, $1), T (threads, $2), OUT (scratch, $OUT or /tmp/ptune-bench);
# builds ptune and the random BERT-base-sized model in $OUT/bert-base, and prints the machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B=${1:-build}
T=${2:-$(nproc)}
OUT=${OUT:-/tmp/ptune-bench}
mkdir -p "$OUT"
cmake --build "$B" --target ptune make_random_bert >/dev/null
[ -f "$OUT/bert-base/model.safetensors" ] || "$B/bin/make_random_bert" --out "$OUT/bert-base"
echo "== machine"; nproc; lscpu | grep -E "Model name" || true
# The median of the samples/s of the steps after the first five in a `ptune train --log-jsonl` file (no python:
# the Debian 13 root has none).
samples_per_s_median() {
  grep -o '"samples_per_s":[0-9.e+-]*' "$1" | tail -n +6 | cut -d: -f2 | sort -g |
    awk '{v[NR]=$1} END {if (NR%2) printf "%.1f\n", v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2}'
}
