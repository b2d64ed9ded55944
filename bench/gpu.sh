#!/usr/bin/env bash
# ptune against transformers + PEFT on one CUDA GPU, side by side, in one run (docs/PERFORMANCE.md, "GPU").
#   bash bench/gpu.sh
# Everything goes to $OUT (default /tmp/ptune-gpu); the last thing printed is the table ($OUT/gpu-table.md).
# Phases, each under `timeout` and within an overall budget (PTUNE_GPU_BENCH_BUDGET seconds, default 450), each
# leaving its numbers in $OUT as it goes, so a killed run still leaves a table (bash bench/gpu.sh table rebuilds it):
#   1. env      GPU, driver, torch/transformers/peft versions
#   2. build    ptune and bench/make_random_bert without Qt (PTUNE_BUILD_GUI=OFF, PTUNE_BUILD_TESTS=OFF) against
#               PyTorch's LibTorch, in build-gpu (PTUNE_GPU_BENCH_BUILD_DIR)
#   3. model    a random BERT-base-sized model directory (config.json + model.safetensors, HF names)
#   4. ptune    training (batch 32 and 128, 128 tokens, P = 100 on all layers, fp32) and `ptune bench` latency
#   5. peft     the same with transformers + PEFT prefix tuning: eager fp32 and bf16 autocast (bench/gpu_peer.py)
#   6. checks   CUDA logits and training losses of ptune against transformers/PEFT's values in tests/fixtures
#   7. compile  PEFT under torch.compile (bf16 autocast)
# Testing without a GPU: PTUNE_GPU_BENCH_DEVICE=cpu PTUNE_GPU_BENCH_SMOKE=1 bash bench/gpu.sh (tiny model and step
# counts); PTUNE_GPU_BENCH_BUILD_DIR=DIR reuses a build directory.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
REPO=$PWD
OUT=${OUT:-/tmp/ptune-gpu}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DEV=${PTUNE_GPU_BENCH_DEVICE:-cuda}
SMOKE=${PTUNE_GPU_BENCH_SMOKE:-0}
BUDGET=${PTUNE_GPU_BENCH_BUDGET:-450}
B=${PTUNE_GPU_BENCH_BUILD_DIR:-build-gpu}
JOBS=${PTUNE_GPU_BENCH_JOBS:-$(nproc)}
PY=${PYTHON:-python3}
START=$SECONDS

if [ "${1:-}" = table ]; then "$PY" bench/gpu_report.py table "$OUT"; exit; fi

# The measured configurations.
if [ "$SMOKE" = 1 ]; then
  TRAIN_BS="4,8"; LAT_BS="1,4"; SEQ=128; P=100
  PT_WARM=2; PT_TIMED=3; PEER_WARM=1; PEER_STEPS=2; LAT_WARM=1; LAT_REP=3
  MODEL_ARGS=(--layers 2 --hidden 64 --heads 2 --intermediate 128)
  MODEL_DESC="SMOKE: random BERT, 2 layers, hidden 64"
else
  TRAIN_BS="32,128"; LAT_BS="1,32"; SEQ=128; P=100
  # ptune on CUDA reads losses back every 16 steps: the first window (16 steps) is the warm-up, two windows are timed.
  PT_WARM=16; PT_TIMED=32; PEER_WARM=5; PEER_STEPS=30; LAT_WARM=5; LAT_REP=20
  MODEL_ARGS=()
  MODEL_DESC="random BERT-base-sized (12 layers, hidden 768, 12 heads, intermediate 3072, vocabulary 30522; bench/make_random_bert)"
fi
[ "$DEV" = cpu ] && [ "$SMOKE" != 1 ] && PT_WARM=5
PT_STEPS=$((PT_WARM + PT_TIMED))
MODEL=$OUT/bert-base
PTUNE=$REPO/$B/bin/ptune
[ "${B:0:1}" = / ] && PTUNE=$B/bin/ptune

rm -f "$OUT"/phases.tsv "$OUT"/commands.txt "$OUT"/checks.json "$OUT"/peer.json "$OUT"/ptune-*.jsonl "$OUT"/check-*.jsonl \
      "$OUT"/ptune.sqlite "$OUT"/gpu-table.md
cat > "$OUT/config.json" <<EOF
{"device": "$DEV", "smoke": $([ "$SMOKE" = 1 ] && echo true || echo false), "train_batch": "$TRAIN_BS",
 "lat_batch": "$LAT_BS", "seq_len": $SEQ, "prefix": $P, "ptune_warmup": $PT_WARM, "ptune_steps": $PT_STEPS,
 "peer_warmup": $PEER_WARM, "peer_steps": $PEER_STEPS, "lat_warmup": $LAT_WARM, "lat_repeats": $LAT_REP,
 "model_desc": "$MODEL_DESC", "build_mode": "not built", "libtorch": "–"}
EOF
setcfg() { "$PY" - "$OUT/config.json" "$1" "$2" <<'PYEOF'
import json, sys
p, k, v = sys.argv[1:4]
d = json.load(open(p)); d[k] = v; json.dump(d, open(p, "w"))
PYEOF
}

left() { echo $((BUDGET - (SECONDS - START))); }
table() { "$PY" bench/gpu_report.py table "$OUT" > /dev/null 2>&1 || true; }
# phase NAME CAP COMMAND...: runs COMMAND under `timeout` (CAP seconds, or what is left of the budget less 10 s for
# the table), output to $OUT/NAME.log; records the phase in phases.tsv and rebuilds the table after it.
phase() {
  local name=$1 cap=$2; shift 2
  local avail=$(( $(left) - 10 )) t0=$SECONDS rc
  [ "$avail" -lt "$cap" ] && cap=$avail
  if [ "$cap" -lt 5 ]; then
    printf '%s\tskipped (budget spent)\t0\t\n' "$name" >> "$OUT/phases.tsv"
    echo "== $name: skipped (budget spent)"; return 124
  fi
  echo "== $name (at most ${cap}s; $OUT/$name.log)"
  # timeout signals its whole process group (the phase's children too); the functions run in a bash of their own
  timeout -k 5 "$cap" bash -c '"$@"' _ "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  local st=ok
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && st="timed out (${cap}s)"
  [ $rc -ne 0 ] && [ "$st" = ok ] && st="failed (exit $rc)"
  printf '%s\t%s\t%s\t%s\n' "$name" "$st" $((SECONDS - t0)) "$name.log" >> "$OUT/phases.tsv"
  echo "   $st in $((SECONDS - t0))s"; [ "$st" = ok ] || tail -n 5 "$OUT/$name.log" | sed 's/^/   | /'
  table
  return $rc
}
# cmd ARGS...: records the command line in commands.txt, then runs it.
cmd() {
  local a shown=() texts=0
  for a in "$@"; do [ "$a" = --text ] && texts=1 && continue; [ $texts = 1 ] && { texts=2; continue; }; shown+=("$a"); done
  { printf '%q ' "${shown[@]}" | sed "s|$OUT|\$OUT|g; s|$REPO/||g"; [ $texts = 2 ] && printf -- '--text ...'; echo; } >> "$OUT/commands.txt"
  "$@"
}
export OUT REPO DEV B JOBS PY PTUNE MODEL P SEQ PT_STEPS
export -f cmd setcfg

# ---------------------------------------------------------------------------------------------------- 1. env
env_phase() {
  {
    echo "gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n1)"
    echo "driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1)"
    echo "cpus=$(nproc)"
  } > "$OUT/env.txt"
  nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
  "$PY" - "$OUT" <<'PYEOF'
import json, os, sys
out = sys.argv[1]
d = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(out, "env.txt")) if "=" in l)
for mod in ("torch", "transformers", "peft"):
    try:
        m = __import__(mod)
        d[mod] = m.__version__
        if mod == "torch":
            d["torch_cuda"] = m.version.cuda
            d["torch_cmake_prefix"] = m.utils.cmake_prefix_path
            d["torch_cxx11_abi"] = int(m._C._GLIBCXX_USE_CXX11_ABI)
            if not d.get("gpu") and m.cuda.is_available():
                d["gpu"] = m.cuda.get_device_name(0)
    except Exception as e:
        d[mod] = "not available (%s)" % type(e).__name__
json.dump(d, open(os.path.join(out, "env.json"), "w"), indent=1)
print(json.dumps(d, indent=1))
PYEOF
}
export -f env_phase
phase env 60 env_phase
TORCH_PREFIX=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("torch_cmake_prefix",""))' "$OUT/env.json" 2>/dev/null)
export TORCH_PREFIX

# ---------------------------------------------------------------------------------------------------- 2. build
# Against PyTorch's LibTorch when python has torch (else the system's, e.g. Debian's libtorch-dev). A CUDA LibTorch's
# CMake config (Caffe2's cuda.cmake) needs the CUDA toolkit (nvcc); when that configure fails the script retries with
# an nvcc it finds (PATH, /usr/local/cuda, pip's nvidia packages), then with a minimal Torch config of its own
# ($OUT/torch-cmake: the wheel's headers and libraries, libtorch_cuda linked --no-as-needed), which ptune's CMake
# files accept as they are (they use TORCH_LIBRARIES and TORCH_CXX_FLAGS only).
write_torch_shim() {
  "$PY" - "$OUT/torch-cmake" <<'PYEOF' || return 1
import glob, os, sys
import torch
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
root = os.path.dirname(torch.__file__)
inc = [os.path.join(root, "include"), os.path.join(root, "include", "torch", "csrc", "api", "include")]
lib = os.path.join(root, "lib")
libs = [os.path.join(lib, "lib%s.so" % n) for n in ("torch", "torch_cpu", "c10")]
cuda = [os.path.join(lib, "lib%s.so" % n) for n in ("torch_cuda", "c10_cuda") if os.path.exists(os.path.join(lib, "lib%s.so" % n))]
abi = int(torch._C._GLIBCXX_USE_CXX11_ABI)
with open(os.path.join(d, "TorchConfig.cmake"), "w") as f:
    f.write("# written by bench/gpu.sh: %s's headers and libraries, without Caffe2's CUDA toolkit lookup\n" % torch.__version__)
    f.write("set(TORCH_INCLUDE_DIRS %s)\n" % " ".join('"%s"' % i for i in inc))
    f.write("add_library(ptune_torch_shim INTERFACE IMPORTED)\n")
    f.write("set_target_properties(ptune_torch_shim PROPERTIES INTERFACE_INCLUDE_DIRECTORIES \"${TORCH_INCLUDE_DIRS}\"\n")
    f.write("  INTERFACE_LINK_LIBRARIES \"%s\")\n" % ";".join(libs + (["-Wl,--no-as-needed"] + cuda + ["-Wl,--as-needed"] if cuda else []) + ["Threads::Threads"]))
    f.write("set(TORCH_LIBRARIES ptune_torch_shim)\n")
    f.write("set(TORCH_CXX_FLAGS \"-D_GLIBCXX_USE_CXX11_ABI=%d\")\n" % abi)
    f.write("set(Torch_FOUND TRUE)\n")
with open(os.path.join(d, "TorchConfigVersion.cmake"), "w") as f:
    f.write('set(PACKAGE_VERSION "%s")\nset(PACKAGE_VERSION_COMPATIBLE TRUE)\n' % torch.__version__.split("+")[0])
print("wrote", d, "cuda libraries:", cuda)
PYEOF
}
find_nvcc() {
  command -v nvcc 2>/dev/null && return
  for c in /usr/local/cuda/bin/nvcc /usr/local/cuda-*/bin/nvcc; do [ -x "$c" ] && { echo "$c"; return; }; done
  "$PY" - <<'PYEOF' 2>/dev/null
import glob, os, site
for s in site.getsitepackages() + [site.getusersitepackages()]:
    for c in sorted(glob.glob(os.path.join(s, "nvidia", "*", "bin", "nvcc")) + glob.glob(os.path.join(s, "nvidia", "cu*", "bin", "nvcc"))):
        print(c); raise SystemExit
PYEOF
}
build_phase() {
  local gen=Ninja; command -v ninja > /dev/null || gen="Unix Makefiles"
  local common=(-S . -B "$B" -G "$gen" -DCMAKE_BUILD_TYPE=Release -DPTUNE_BUILD_GUI=OFF -DPTUNE_BUILD_TESTS=OFF)
  local mode="" nvcc
  if [ -f "$B/CMakeCache.txt" ] && [ -f "$B/build.ninja" ]; then
    mode=$(cat "$B/.ptune-gpu-mode" 2>/dev/null || echo "existing build directory")
    echo "reusing $B ($mode)"
  elif [ -n "$TORCH_PREFIX" ]; then
    if cmd cmake "${common[@]}" -DCMAKE_PREFIX_PATH="$TORCH_PREFIX"; then
      mode="find_package(Torch) from PyTorch's CMake config"
    else
      nvcc=$(find_nvcc)
      rm -rf "$B"
      if [ -n "$nvcc" ] && cmd cmake "${common[@]}" -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DCMAKE_CUDA_COMPILER="$nvcc" \
           -DCUDAToolkit_ROOT="$(dirname "$(dirname "$nvcc")")"; then
        mode="PyTorch's CMake config, nvcc $nvcc"
      else
        echo "== PyTorch's CMake config did not configure (no CUDA toolkit?): a minimal Torch config instead"
        rm -rf "$B"
        write_torch_shim && cmd cmake "${common[@]}" -DTorch_DIR="$OUT/torch-cmake" && mode="minimal Torch config ($OUT/torch-cmake)"
      fi
    fi
  else
    cmd cmake "${common[@]}" && mode="system LibTorch (python has no torch)"
  fi
  [ -n "$mode" ] || return 1
  echo "$mode" > "$B/.ptune-gpu-mode"
  setcfg build_mode "$mode"
  setcfg libtorch "$(grep -m1 -E '^(Torch_DIR|CMAKE_PREFIX_PATH):' "$B/CMakeCache.txt" | cut -d= -f2-)"
  if grep -qiE 'Qt6|QT_DIR' "$B/CMakeCache.txt" "$B/build.ninja"; then echo "WARNING: Qt appears in $B"; fi
  cmd cmake --build "$B" --target ptune make_random_bert -j "$JOBS"
}
export -f write_torch_shim find_nvcc build_phase
phase build 300 build_phase
[ -x "$PTUNE" ] || echo "   (no ptune binary: the ptune phases are skipped, PEFT runs on a model of its own)"

# ---------------------------------------------------------------------------------------------------- 3. model
if [ -x "$REPO/$B/bin/make_random_bert" ] || [ -x "$B/bin/make_random_bert" ]; then
  MRB=$B/bin/make_random_bert; [ "${B:0:1}" = / ] || MRB=$REPO/$MRB
  rm -rf "$MODEL"
  phase model 60 cmd "$MRB" --out "$MODEL" "${MODEL_ARGS[@]}"
fi

# ---------------------------------------------------------------------------------------------------- 4. ptune
# Training data: texts of more than 128 tokens (the built-in sentences, 20 to a row), so every batch is 128 tokens
# after truncation; enough rows that no step starts a second epoch (an epoch's end evaluates).
make_data() {
  local rows=$1
  "$PY" - "$OUT" "$rows" <<'PYEOF'
import os, sys
out, rows = sys.argv[1], int(sys.argv[2])
src = [l.rstrip("\n").split("\t") for l in open(os.path.join("resources", "builtin", "data", "train.tsv"))][1:]
with open(os.path.join(out, "train-long.tsv"), "w") as f, open(os.path.join(out, "valid-long.tsv"), "w") as v:
    f.write("sentence\tlabel\n"); v.write("sentence\tlabel\n")
    for i in range(rows + 32):
        text = " ".join(src[(i * 20 + k) % len(src)][0] for k in range(20))
        (f if i < rows else v).write("%s\t%s\n" % (text, src[i % len(src)][1]))
PYEOF
}
ptune_train() {
  local bs=$1
  cmd "$PTUNE" train --name "gpu-bench batch $bs" --model "$MODEL" --train "$OUT/train-long.tsv" --valid "$OUT/valid-long.tsv" \
     --method ptv2 --prompt-len "$P" --layers all --batch-size "$bs" --max-len "$SEQ" --steps "$PT_STEPS" \
     --eval-every 0 --max-grad-norm 1.0 --device "$DEV" --db "$OUT/ptune.sqlite" --log-jsonl "$OUT/ptune-train-bs$bs.jsonl"
  local rc=$?
  "$PTUNE" runs --db "$OUT/ptune.sqlite" --json > "$OUT/ptune-runs.jsonl"
  return $rc
}
export -f ptune_train
if [ -x "$PTUNE" ] && [ -f "$MODEL/model.safetensors" ]; then
  maxbs=$(echo "$TRAIN_BS" | tr , '\n' | sort -n | tail -n1)
  make_data $((maxbs * (PT_STEPS + 1)))
  for bs in ${TRAIN_BS//,/ }; do
    phase "ptune-train-bs$bs" 90 ptune_train "$bs"
  done
  phase ptune-bench 90 bash -c 'set -o pipefail; "$@" | tee "'"$OUT"'/ptune-bench.jsonl"' _ \
    cmd "$PTUNE" bench --model "$MODEL" --method base,ptv2 --prompt-len "$P" --seq-len "$SEQ" --batch-size "$LAT_BS" \
    --warmup "$LAT_WARM" --repeats "$LAT_REP" --device "$DEV"
fi

# ---------------------------------------------------------------------------------------------------- 5. peft
PEER_ARGS=(--model "$MODEL" --json "$OUT/peer.json" --train-batch "$TRAIN_BS" --lat-batch "$LAT_BS" --seq-len "$SEQ"
           --prefix "$P" --steps "$PEER_STEPS" --warmup "$PEER_WARM" --repeats "$LAT_REP" --lat-warmup "$LAT_WARM" --device "$DEV")
phase peft-eager 120 cmd "$PY" bench/gpu_peer.py "${PEER_ARGS[@]}" --modes eager-fp32,eager-bf16

# ---------------------------------------------------------------------------------------------------- 6. checks
check_phase() {
  local f=tests/fixtures texts=()
  for arch in bert roberta; do
    mapfile -d '' texts < <("$PY" bench/gpu_report.py texts "$f/$arch/expected.json")
    local tx=(); for t in "${texts[@]}"; do tx+=(--text "$t"); done
    echo "# the predictions below take --text T for each text T of $f/$arch/expected.json (shown as ...)" >> "$OUT/commands.txt"
    cmd "$PTUNE" predict --model "$f/$arch/model" --max-len 128 --batch-size 1 --device "$DEV" "${tx[@]}" \
      > "$OUT/check-$arch-base.jsonl" || echo "predict $arch base failed"
    local adapters=(prefix_p5); [ $arch = bert ] && adapters=(prefix_p5 prefix_mlp_p4 lora_r4 ia3 prompt_p6 ptuning_mlp_p4)
    for a in "${adapters[@]}"; do
      cmd "$PTUNE" predict --model "$f/$arch/model" --adapter "$f/$arch/adapter_$a" --max-len 96 --batch-size 3 \
        --device "$DEV" "${tx[@]}" > "$OUT/check-$arch-$a.jsonl" || echo "predict $arch $a failed"
    done
  done
  head -n 61 "$f/data.tsv" > "$OUT/rows60.tsv"
  cmd "$PTUNE" train --model "$f/bert/model" --train "$OUT/rows60.tsv" --valid-fraction 0 --init-adapter "$f/bert/adapter_prefix_p5" \
    --lr 5e-3 --weight-decay 0 --max-grad-norm 0 --batch-size 4 --max-len 48 --steps 15 --no-shuffle --schedule constant \
    --device "$DEV" --db "$OUT/check.sqlite" --log-jsonl "$OUT/check-train.jsonl" > /dev/null || echo "train check failed"
}
export -f check_phase
if [ -x "$PTUNE" ]; then
  rm -f "$OUT/check.sqlite"
  phase checks 60 check_phase
  "$PY" bench/gpu_report.py checks "$OUT" | tee -a "$OUT/checks.log"; table   # also after a timeout: what ran
fi

# ---------------------------------------------------------------------------------------------------- 7. compile
if "$PY" -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("available") else 1)' "$OUT/peer.json" 2>/dev/null; then
  phase peft-compile 200 cmd "$PY" bench/gpu_peer.py "${PEER_ARGS[@]}" --modes compile-bf16
fi

echo "== done in $((SECONDS - START))s; $OUT/gpu-table.md"
echo
"$PY" bench/gpu_report.py table "$OUT"
