#!/usr/bin/env bash
# The method comparison on the CPU, for docs/PERFORMANCE.md: the ready-made methods suite (P-Tuning v2, prefix
# tuning, prompt tuning, P-tuning, LoRA, IA3, bottleneck adapters, full fine-tuning, head only), each run recording
# its median step time and peak tensor memory and measuring its inference latency against the base model right
# after training; then `ptune compare` prints the table. On the built-in experiment (three seeds, as shipped) and on
# a BERT-base-sized random model (one seed, 12 steps: costs only, its accuracy means nothing).
# Usage: bash bench/methods.sh [build-dir] [threads]
source "$(dirname "$0")/setup.sh"
rm -f "$OUT/methods-builtin.sqlite" "$OUT/methods-bert.sqlite"
rm -rf "$OUT/methods-builtin-runs" "$OUT/methods-bert-runs"

# The built-in experiment as shipped (5 epochs), latency at batch 8 x 128 tokens.
python3 - resources/builtin/experiment.json "$OUT/builtin-spec.json" "$T" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["name"] = ""
s["train"]["threads"] = int(sys.argv[3])
s["latency"] = {"measure": True, "batch_size": 8, "seq_len": 128, "repeats": 30, "warmup": 3}
json.dump(s, open(sys.argv[2], "w"), indent=2)
PY
echo "== built-in experiment: methods suite, seeds 1,2,3"
"$B/bin/ptune" suite --ablation methods --spec "$OUT/builtin-spec.json" --seeds 1,2,3 --db "$OUT/methods-builtin.sqlite" >/dev/null
"$B/bin/ptune" compare --db "$OUT/methods-builtin.sqlite" --csv "$OUT/methods-builtin.csv"

# BERT-base-sized: 12 steps of batch 16 x 48 tokens, latency at batch 8 x 128 tokens.
python3 - "$OUT/builtin-spec.json" "$OUT/bert-spec.json" "$OUT/bert-base" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["model"] = sys.argv[3]
s["data"]["max_rows"] = 400
s["train"].update({"epochs": 0, "steps": 12, "batch_size": 16, "max_len": 48, "eval_every": 0})
s["latency"].update({"repeats": 10})
json.dump(s, open(sys.argv[2], "w"), indent=2)
PY
echo "== BERT-base-sized random model: methods suite, seed 1"
"$B/bin/ptune" suite --ablation methods --spec "$OUT/bert-spec.json" --seeds 1 --db "$OUT/methods-bert.sqlite" >/dev/null
"$B/bin/ptune" compare --db "$OUT/methods-bert.sqlite" --csv "$OUT/methods-bert.csv"
echo "CSV: $OUT/methods-builtin.csv $OUT/methods-bert.csv"
echo "== what the peak-memory hook costs a training step (median of steps with and without it, alternating)"
cmake --build "$B" --target memory_hook_cost >/dev/null
"$B/bin/memory_hook_cost" builtin 16
"$B/bin/memory_hook_cost" builtin 48
"$B/bin/memory_hook_cost" "$OUT/bert-base" 16 8
