#!/usr/bin/env bash
# CPU measurements for docs/PERFORMANCE.md: training throughput and base-vs-P-Tuning-v2 latency, on the
# built-in model and on a BERT-base-sized random model. Usage: bash bench/cpu.sh [build-dir] [threads]
source "$(dirname "$0")/setup.sh"
echo "== training throughput (samples/s per step: median over steps 6..end)"
for m in builtin "$OUT/bert-base"; do
  steps=60; [ "$m" = builtin ] || steps=12
  "$B/bin/ptune" train --model "$m" --train builtin --valid-fraction 0 --steps $steps --batch-size 16 --max-len 48 \
     --prompt-len 16 --threads "$T" --db "$OUT/bench.sqlite" --log-jsonl "$OUT/train.jsonl" >/dev/null 2>&1
  n=$(($(wc -l < "$OUT/train.jsonl") - 5))
  echo "$m: median $(samples_per_s_median "$OUT/train.jsonl") samples/s over $n steps (batch 16, max len 48, P=16)"
done
echo "== latency (ms; median and p90 of 20 passes after 3 warm-up passes)"
"$B/bin/ptune" bench --model builtin --method base,ptv2 --prompt-len 16,64 --seq-len 32,96 --batch-size 1,8 --threads "$T"
"$B/bin/ptune" bench --model "$OUT/bert-base" --method base,ptv2 --prompt-len 16,64 --seq-len 128 --batch-size 1,8 \
   --repeats 10 --threads "$T"
echo "== latency of every method against the base model (ms; round-robin, PEFT's default options per method; adapters: Houlsby, m = H/16)"
"$B/bin/ptune" bench --model builtin --method base,ptv2,prompt,ptuning,lora,lora-merged,ia3,ia3-merged,adapter \
   --prompt-len 16 --seq-len 128 --batch-size 8 --repeats 30 --threads "$T"
"$B/bin/ptune" bench --model "$OUT/bert-base" --method base,ptv2,prompt,ptuning,lora,lora-merged,ia3,ia3-merged,adapter \
   --prompt-len 16 --seq-len 128 --batch-size 8 --repeats 10 --threads "$T"
