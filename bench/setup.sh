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
