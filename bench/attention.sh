#!/usr/bin/env bash
# LibTorch 2.x: the two attention kernels side by side (PTUNE_ATTENTION=manual|fused), the same binary on the same
# machine, alternating in rounds so drift hits both alike: P-Tuning v2 training samples/s (median step of steps
# 6..end) and inference latency of the base model and with P-Tuning v2 prompts.
# Usage: bash bench/attention.sh [build-dir] [threads] [rounds]   (on 1.13 there is only the manual kernel)
# On Debian 12 run it in the Debian 13 root: bash scripts/debian13.sh bash bench/attention.sh /build 2
source "$(dirname "$0")/setup.sh"
ROUNDS=${3:-3}
for round in $(seq "$ROUNDS"); do
  for k in manual fused; do
    for m in builtin "$OUT/bert-base"; do
      steps=60; [ "$m" = builtin ] || steps=12
      rm -f "$OUT/att.jsonl" "$OUT/att.sqlite"
      PTUNE_ATTENTION=$k "$B/bin/ptune" train --model "$m" --train builtin --valid-fraction 0 --steps $steps \
        --batch-size 16 --max-len 48 --prompt-len 16 --threads "$T" --db "$OUT/att.sqlite" \
        --log-jsonl "$OUT/att.jsonl" >/dev/null 2>&1
      sps=$(samples_per_s_median "$OUT/att.jsonl")
      echo "round $round  $k  train  $(basename "$m")  ${sps} samples/s (batch 16, max len 48, P=16)"
    done
    echo "round $round  $k  latency (ms):"
    PTUNE_ATTENTION=$k "$B/bin/ptune" bench --model builtin --method base,ptv2 --prompt-len 16,64 --seq-len 128 \
      --batch-size 1,8 --repeats 20 --threads "$T"
    PTUNE_ATTENTION=$k "$B/bin/ptune" bench --model "$OUT/bert-base" --method base,ptv2 --prompt-len 16,64 \
      --seq-len 128 --batch-size 1,8 --repeats 10 --threads "$T"
  done
done
