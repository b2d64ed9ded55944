#!/usr/bin/env python3
"""bench/gpu.sh's helpers, standard library only (they run where torch is missing):

  gpu_report.py texts EXPECTED.json            the fixture texts, NUL-separated (for bash's mapfile -d '')
  gpu_report.py checks OUT                     compares ptune's CUDA outputs in OUT with the fixtures' expected
                                               values (transformers/PEFT, tests/fixtures/*/expected.json);
                                               writes OUT/checks.json
  gpu_report.py table OUT                      prints the table and writes OUT/gpu-table.md from whatever OUT holds
                                               (a phase that did not run or was killed shows as missing)
"""
import json
import os
import statistics
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(REPO, "tests", "fixtures")


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def read_jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


# ---------------------------------------------------------------------------------------------------- checks

# (name, ptune output file in OUT, fixture, key path of the expected logits, tolerance): the same comparisons as
# tests/tst_model.cpp (base logits, one text at a time, max length 128) and tests/tst_cli.cpp (adapters, max length
# 96, batches of 3), on the device the script runs on.
LOGIT_CHECKS = [
    ("bert base logits", "check-bert-base.jsonl", "bert", ["logits_base"]),
    ("roberta base logits", "check-roberta-base.jsonl", "roberta", ["logits_base"]),
    ("bert prefix_p5 (PEFT prefix tuning)", "check-bert-prefix_p5.jsonl", "bert", ["adapters", "prefix_p5", "logits"]),
    ("bert prefix_mlp_p4", "check-bert-prefix_mlp_p4.jsonl", "bert", ["adapters", "prefix_mlp_p4", "logits"]),
    ("bert lora_r4", "check-bert-lora_r4.jsonl", "bert", ["adapters", "lora_r4", "logits"]),
    ("bert ia3", "check-bert-ia3.jsonl", "bert", ["adapters", "ia3", "logits"]),
    ("bert prompt_p6", "check-bert-prompt_p6.jsonl", "bert", ["adapters", "prompt_p6", "logits"]),
    ("bert ptuning_mlp_p4", "check-bert-ptuning_mlp_p4.jsonl", "bert", ["adapters", "ptuning_mlp_p4", "logits"]),
    ("roberta prefix_p5", "check-roberta-prefix_p5.jsonl", "roberta", ["adapters", "prefix_p5", "logits"]),
]


def dig(d, keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def checks(out):
    res = []
    for name, fname, fix, keys in LOGIT_CHECKS:
        path = os.path.join(out, fname)
        want = dig(read_json(os.path.join(FIX, fix, "expected.json"), {}), keys)
        if not os.path.exists(path):
            res.append({"check": name, "status": "not run"})
            continue
        got = [l.get("logits") for l in read_jsonl(path)]
        if want is None:
            res.append({"check": name, "status": "no expected values"})
        elif len(got) != len(want) or any(g is None or len(g) != len(w) for g, w in zip(got, want)):
            res.append({"check": name, "status": "FAIL", "detail": "%d of %d rows" % (len(got), len(want))})
        else:
            worst = max(abs(a - b) for g, w in zip(got, want) for a, b in zip(g, w))
            res.append({"check": name, "status": "pass" if worst < 1e-4 else "FAIL", "max_abs_diff": worst,
                        "tolerance": 1e-4})
    # training: 15 steps of the reference settings reproduce PEFT's losses (relative 1e-3, as tst_cli does)
    name = "bert prefix_p5: 15 training losses vs PEFT"
    path = os.path.join(out, "check-train.jsonl")
    want = dig(read_json(os.path.join(FIX, "bert", "expected.json"), {}), ["adapters", "prefix_p5", "train", "losses"])
    steps = [s for s in read_jsonl(path) if "loss" in s]
    if not os.path.exists(path):
        res.append({"check": name, "status": "not run"})
    elif not want or len(steps) != len(want):
        res.append({"check": name, "status": "FAIL", "detail": "%d of %d steps" % (len(steps), len(want or []))})
    else:
        worst = max(abs(s["loss"] - w) / abs(w) for s, w in zip(steps, want))
        res.append({"check": name, "status": "pass" if worst < 1e-3 else "FAIL", "max_rel_diff": worst,
                    "tolerance": 1e-3})
    with open(os.path.join(out, "checks.json"), "w") as f:
        json.dump(res, f, indent=1)
    for r in res:
        print("check: %-45s %s" % (r["check"], r["status"]))
    return 0


# ---------------------------------------------------------------------------------------------------- table


def fmt(v, digits=1):
    if v is None:
        return "–"
    if abs(v) >= 100:
        return "%.0f" % v
    return ("%." + str(digits) + "f") % v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return "%.2f" % (a / b)


def ptune_train(out, bs, warm):
    """ms/step of the steps after the warm-up: the median of step_ms and the mean from elapsed_s (on CUDA ptune
    reads the device back every 16 steps and spreads each window's wall time over its steps)."""
    steps = [s for s in read_jsonl(os.path.join(out, "ptune-train-bs%d.jsonl" % bs)) if "step" in s]
    if not steps:
        return None
    timed = [s for s in steps if s["step"] > warm]
    r = {"steps": len(steps), "timed": len(timed)}
    if timed:
        r["ms_step_median"] = statistics.median(s["step_ms"] for s in timed)
        at_warm = [s for s in steps if s["step"] == warm]
        if at_warm and timed[-1]["elapsed_s"] > at_warm[0]["elapsed_s"]:
            r["ms_step_mean"] = (timed[-1]["elapsed_s"] - at_warm[0]["elapsed_s"]) * 1000.0 / len(timed)
        r["samples_per_s"] = bs * 1000.0 / r["ms_step_median"]
    for run in read_jsonl(os.path.join(out, "ptune-runs.jsonl")):
        if run.get("name") == "gpu-bench batch %d" % bs:
            r["peak_mib"] = run.get("peak_mem_bytes", 0) / 2**20 or None
            r["status"] = run.get("status")
            r["device"] = run.get("train_device")
            r["store_median_ms"] = run.get("step_ms")
    return r


def table(out):
    env = read_json(os.path.join(out, "env.json"), {})
    cfg = read_json(os.path.join(out, "config.json"), {})
    peer = read_json(os.path.join(out, "peer.json"), None)
    chk = read_json(os.path.join(out, "checks.json"), None)
    phases = []
    try:
        with open(os.path.join(out, "phases.tsv")) as f:
            phases = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    except OSError:
        pass
    train_bs = [int(x) for x in str(cfg.get("train_batch", "32,128")).split(",") if x]
    lat_bs = [int(x) for x in str(cfg.get("lat_batch", "1,32")).split(",") if x]
    warm = int(cfg.get("ptune_warmup", 16))
    P, L = cfg.get("prefix", 100), cfg.get("seq_len", 128)
    peer_ok = bool(peer and peer.get("available"))
    peer_res = peer.get("results", []) if peer_ok else []

    def peer_get(kind, mode, bs, variant=None):
        for r in peer_res:
            if r["kind"] == kind and r["mode"] == mode and r["batch"] == bs and (variant is None or r.get("variant") == variant):
                return r
        return None

    md = []
    w = md.append
    w("# ptune vs transformers + PEFT on %s" % (env.get("gpu") or cfg.get("device", "?")))
    w("")
    w("- device: %s; driver %s; CUDA (torch) %s; torch %s; transformers %s; peft %s" % (
        env.get("gpu") or "–", env.get("driver") or "–", env.get("torch_cuda") or "–", env.get("torch", "–"),
        (peer or {}).get("transformers", env.get("transformers", "–")), (peer or {}).get("peft", env.get("peft", "–"))))
    w("- ptune build: %s; LibTorch: %s; attention: ptune's default (at::scaled_dot_product_attention on LibTorch 2.x), "
      "transformers' %s" % (cfg.get("build_mode", "–"), cfg.get("libtorch", "–"), (peer or {}).get("attn_implementation") or "–"))
    w("- model: %s; batch shapes: %d tokens, no padding; prefix P = %s on all layers (PEFT PrefixTuningConfig(task_type=SEQ_CLS, "
      "num_virtual_tokens=%s), no projection; ptune --method ptv2 --prompt-len %s)" % (cfg.get("model_desc", "–"), L, P, P, P))
    w("- precision: **ptune fp32** (no autocast yet); PEFT eager fp32, eager bf16 autocast, torch.compile bf16 autocast; "
      "TF32 matmul off on both sides (PyTorch/LibTorch default)")
    if cfg.get("smoke"):
        w("- **SMOKE RUN** (PTUNE_GPU_BENCH_SMOKE=1): tiny model and step counts, numbers mean nothing")
    w("")
    if not peer_ok:
        w("**PEFT not available**: %s" % ((peer or {}).get("error") or "the PEFT phase did not run or left no results"))
        w("")
    w("## Training (ratio = ptune ÷ PEFT of ms/step and of peak memory: below 1, ptune is faster / smaller)")
    w("")
    w("| batch | implementation | precision | samples/s | ms/step (median) | ms/step (mean) | peak MiB | ratio ms/step | ratio MiB |")
    w("|---|---|---|---|---|---|---|---|---|")
    modes = [("eager-fp32", "PEFT eager", "fp32"), ("eager-bf16", "PEFT eager", "bf16 autocast"),
             ("compile-bf16", "PEFT torch.compile", "bf16 autocast")]
    for bs in train_bs:
        p = ptune_train(out, bs, warm) or {}
        w("| %d | ptune | fp32 | %s | %s | %s | %s | | |" % (bs, fmt(p.get("samples_per_s")), fmt(p.get("ms_step_median"), 2),
                                                           fmt(p.get("ms_step_mean"), 2), fmt(p.get("peak_mib"))))
        for mode, impl, prec in modes:
            r = peer_get("train", mode, bs) if peer_ok else None
            r = r or {}
            w("| %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                bs, impl, prec, fmt(r.get("samples_per_s")), fmt(r.get("ms_step_median"), 2), fmt(r.get("ms_step_mean"), 2),
                fmt(r.get("peak_mib")), ratio(p.get("ms_step_median"), r.get("ms_step_median")),
                ratio(p.get("peak_mib"), r.get("peak_mib"))))
    w("")
    w("ptune: %d steps, the first %d untimed (on CUDA ptune reads losses back every 16 steps, so a step's time is its "
      "16-step window's mean); PEFT: %s untimed steps (the first one compiles under torch.compile; its time is below), "
      "then %s timed, each between two cuda synchronizes. Peak memory: ptune's run store (peak bytes of tensors alive "
      "during the run, weights included, c10's memory-reporting hook); PEFT: torch.cuda.max_memory_allocated over the "
      "same kind of run (weights included)." % (cfg.get("ptune_steps", 0), warm, cfg.get("peer_warmup", "–"),
                                                 cfg.get("peer_steps", "–")))
    firsts = [r for r in peer_res if r["kind"] == "train" and r["mode"].startswith("compile")]
    if firsts:
        w("torch.compile warm-up (first step, compile included): " +
          ", ".join("batch %d: %.1f s" % (r["batch"], r["first_step_s"]) for r in firsts))
    w("")
    w("## Inference latency (ms, median / p90 of %s passes after %s warm-up; ratio = ptune ÷ PEFT of the median)" % (
        cfg.get("lat_repeats", "–"), cfg.get("lat_warmup", "–")))
    w("")
    w("| model | batch | ptune fp32 | PEFT eager fp32 | PEFT eager bf16 | PEFT compiled bf16 | ratio vs eager fp32 | ratio vs eager bf16 | ratio vs compiled bf16 |")
    w("|---|---|---|---|---|---|---|---|---|")
    bench = read_jsonl(os.path.join(out, "ptune-bench.jsonl"))
    for variant in ("base", "ptv2"):
        for bs in lat_bs:
            b = next((r for r in bench if r.get("method") == variant and r.get("batch_size") == bs), None) or {}
            cells = []
            meds = []
            for mode, _, _ in modes:
                r = (peer_get("latency", mode, bs, variant) if peer_ok else None) or {}
                cells.append("%s / %s" % (fmt(r.get("median_ms"), 2), fmt(r.get("p90_ms"), 2)) if r else "–")
                meds.append(r.get("median_ms"))
            w("| %s | %d | %s | %s | %s |" % (
                "base" if variant == "base" else "P = %s" % P, bs,
                "%s / %s" % (fmt(b.get("median_ms"), 2), fmt(b.get("p90_ms"), 2)) if b else "–",
                " | ".join(cells), " | ".join(ratio(b.get("median_ms"), m) for m in meds)))
    w("")
    w("ptune bench measures its configurations round-robin (pass r of each before pass r + 1 of any), on random ids; "
      "PEFT's are measured one after the other, model.eval() under torch.inference_mode, cuda synchronize around each "
      "timed pass. The compiled PEFT model is measured with the prefix only.")
    w("")
    w("## CUDA correctness (ptune on the device vs transformers/PEFT's values in tests/fixtures)")
    w("")
    if chk:
        w("| check | result | max difference |")
        w("|---|---|---|")
        for c in chk:
            d = c.get("max_abs_diff", c.get("max_rel_diff"))
            w("| %s | %s | %s |" % (c["check"], c["status"], ("%.2g (tolerance %g%s)" % (
                d, c["tolerance"], ", relative" if "max_rel_diff" in c else "")) if d is not None else c.get("detail", "")))
    else:
        w("not run")
    w("")
    w("## Phases")
    w("")
    w("| phase | status | seconds | log |")
    w("|---|---|---|---|")
    for ph in phases:
        w("| " + " | ".join(ph + [""] * (4 - len(ph))) + " |")
    if peer and peer.get("errors"):
        w("")
        w("PEFT errors: " + "; ".join(peer["errors"]))
    w("")
    w("## Commands")
    w("")
    w("```")
    try:
        with open(os.path.join(out, "commands.txt")) as f:
            md.extend(l.rstrip("\n") for l in f)
    except OSError:
        pass
    w("```")
    text = "\n".join(md) + "\n"
    with open(os.path.join(out, "gpu-table.md"), "w") as f:
        f.write(text)
    return text


def main(argv):
    if len(argv) >= 3 and argv[1] == "texts":
        exp = read_json(argv[2], {})
        sys.stdout.write("".join(t + "\0" for t in exp.get("texts", [])))
        return 0
    if len(argv) >= 3 and argv[1] == "checks":
        return checks(argv[2])
    if len(argv) >= 3 and argv[1] == "table":
        sys.stdout.write(table(argv[2]))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
