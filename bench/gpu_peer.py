#!/usr/bin/env python3
"""The transformers + PEFT half of bench/gpu.sh: prefix tuning (PEFT's PREFIX_TUNING, no projection) on the same
random BERT directory that ptune trains, same batch, sequence and prefix length; training throughput, peak memory
and inference latency, eager (fp32 and bf16 autocast) and under torch.compile (bf16 autocast).

Writes every result to --json as soon as it is measured (the file is rewritten after each one), so a run killed by
its timeout still leaves what it measured. When torch, transformers or peft cannot be imported it writes
{"available": false, "error": ...} and exits 0, and the table says "PEFT not available".
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True, help="HF model directory (config.json + model.safetensors)")
    p.add_argument("--json", required=True, help="results file (rewritten after each result)")
    p.add_argument("--modes", default="eager-fp32,eager-bf16", help="eager-fp32, eager-bf16, compile-bf16, compile-fp32")
    p.add_argument("--train-batch", default="32,128")
    p.add_argument("--lat-batch", default="1,32")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--prefix", type=int, default=100)
    p.add_argument("--steps", type=int, default=30, help="timed training steps")
    p.add_argument("--warmup", type=int, default=5, help="untimed training steps first (the first one compiles)")
    p.add_argument("--repeats", type=int, default=20, help="timed inference passes")
    p.add_argument("--lat-warmup", type=int, default=5)
    p.add_argument("--device", default="cuda")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


class Results:
    def __init__(self, path, header):
        self.path = path
        self.doc = dict(header)
        self.doc.setdefault("results", [])
        self.doc.setdefault("errors", [])
        self.save()

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.doc, f, indent=1)
        os.replace(tmp, self.path)

    def add(self, rec):
        self.doc["results"].append(rec)
        self.save()
        print("peer:", json.dumps(rec), flush=True)

    def error(self, where, exc):
        msg = "%s: %s: %s" % (where, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        self.doc["errors"].append(msg)
        self.save()
        print("peer: ERROR", msg, file=sys.stderr, flush=True)
        traceback.print_exc()


def load_existing(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def main():
    a = parse_args()
    prev = load_existing(a.json)  # a second phase (compile) appends to the first (eager)
    try:
        import torch
        import transformers
        import peft
        from peft import PrefixTuningConfig, TaskType, get_peft_model
        from transformers import BertConfig, BertForSequenceClassification
    except Exception as e:  # ImportError, or a broken CUDA install
        doc = {"available": False, "error": "%s: %s" % (type(e).__name__, e), "python": sys.version.split()[0]}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
        print("peer: PEFT not available (%s)" % doc["error"], file=sys.stderr)
        return 0

    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    if cuda and not torch.cuda.is_available():
        doc = {"available": False, "error": "torch.cuda.is_available() is False"}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
        print("peer: PEFT not available (no CUDA device)", file=sys.stderr)
        return 0
    header = {
        "available": True,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "python": platform.python_version(),
        "device": torch.cuda.get_device_name(dev) if cuda else "cpu",
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
    }
    if prev.get("available"):
        prev.update({k: v for k, v in header.items() if k not in prev})
        header = prev
    res = Results(a.json, header)

    def sync():
        if cuda:
            torch.cuda.synchronize(dev)

    # The model: the directory bench/make_random_bert wrote (HF names, "bert." prefix); its classifier is not in
    # the file, so transformers initialises it (as ptune does: a random head).
    model_src = a.model
    if not os.path.exists(os.path.join(a.model, "model.safetensors")):
        model_src = None
    transformers.logging.set_verbosity_error()
    torch.manual_seed(a.seed)
    if model_src:
        base = BertForSequenceClassification.from_pretrained(model_src, num_labels=2)
    else:  # make_random_bert did not run: the same shape, initialised here (timings only)
        base = BertForSequenceClassification(BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                                                        num_attention_heads=12, intermediate_size=3072,
                                                        num_labels=2))
        res.doc["model_note"] = "initialised in python (no model.safetensors in %s)" % a.model
    base.to(dev)
    res.doc["model_params"] = sum(p.numel() for p in base.parameters())
    res.doc["attn_implementation"] = getattr(base.config, "_attn_implementation", None)
    pcfg = PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=a.prefix)  # prefix_projection=False
    pm = get_peft_model(base, pcfg)
    pm.to(dev)
    trainable = [p for p in pm.parameters() if p.requires_grad]
    res.doc["trainable_params"] = sum(p.numel() for p in trainable)
    res.save()
    vocab = base.config.vocab_size
    L = a.seq_len

    def batch(bs, g):
        ids = torch.randint(1000 if vocab > 2000 else 5, vocab, (bs, L), generator=g).to(dev)
        mask = torch.ones(bs, L, dtype=torch.long, device=dev)
        labels = torch.randint(0, 2, (bs,), generator=g).to(dev)
        return ids, mask, labels

    modes = [m for m in a.modes.split(",") if m]
    for mode in modes:
        compiled = mode.startswith("compile")
        bf16 = mode.endswith("bf16")
        amp = (lambda: torch.autocast(dev.type, dtype=torch.bfloat16)) if bf16 else None

        def ctx():
            import contextlib
            return amp() if amp else contextlib.nullcontext()

        try:
            # dynamic=False: one static graph per batch shape (train 32, train 128, eval 1, eval 32)
            fwd = torch.compile(pm, dynamic=False) if compiled else pm
        except Exception as e:
            res.error("%s: torch.compile" % mode, e)
            continue
        # --- training: AdamW over the prefix and the classifier, gradient clipping at 1.0 (ptune's default)
        def train(bs):
            where = "%s train batch %d" % (mode, bs)
            try:
                pm.train()
                opt = torch.optim.AdamW(trainable, lr=1e-2, weight_decay=0.01)
                g = torch.Generator().manual_seed(a.seed + bs)
                data = [batch(bs, g) for _ in range(4)]
                sync()
                if cuda:
                    torch.cuda.reset_peak_memory_stats(dev)
                times, first_s = [], None
                for s in range(a.warmup + a.steps):
                    ids, mask, labels = data[s % len(data)]
                    sync()
                    t0 = time.perf_counter()
                    opt.zero_grad(set_to_none=True)
                    with ctx():
                        out = fwd(input_ids=ids, attention_mask=mask, labels=labels)
                    out.loss.backward()
                    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                    opt.step()
                    sync()
                    dt = time.perf_counter() - t0
                    if s == 0:
                        first_s = dt
                    if s >= a.warmup:
                        times.append(dt * 1000.0)
                loss = float(out.loss)
                med = statistics.median(times)
                res.add({"impl": "peft", "mode": mode, "kind": "train", "batch": bs, "seq": L, "prefix": a.prefix,
                         "steps": len(times), "warmup": a.warmup, "ms_step_median": med,
                         "ms_step_mean": statistics.fmean(times), "samples_per_s": bs * 1000.0 / med,
                         "first_step_s": first_s,
                         "peak_mib": torch.cuda.max_memory_allocated(dev) / 2**20 if cuda else None,
                         "last_loss": loss})
                del opt, data, out
            except Exception as e:
                res.error(where, e)
            if cuda:
                torch.cuda.empty_cache()

        def latency():
            # --- inference latency: eval mode under inference_mode; synchronise around every timed pass
            variants = [("ptv2", fwd)]
            if not compiled:
                variants.append(("base", base))  # the base model alone (PEFT's wrapper bypassed)
            for bs in [int(x) for x in a.lat_batch.split(",") if x]:
                g = torch.Generator().manual_seed(a.seed + 1000 + bs)
                ids, mask, _ = batch(bs, g)
                for name, m in variants:
                    where = "%s latency %s batch %d" % (mode, name, bs)
                    try:
                        pm.eval()
                        base.eval()
                        ms = []
                        with torch.inference_mode(), ctx():
                            t0 = time.perf_counter()
                            for _ in range(a.lat_warmup):
                                m(input_ids=ids, attention_mask=mask)
                            sync()
                            warm_s = time.perf_counter() - t0
                            for _ in range(a.repeats):
                                sync()
                                t0 = time.perf_counter()
                                m(input_ids=ids, attention_mask=mask)
                                sync()
                                ms.append((time.perf_counter() - t0) * 1000.0)
                        ms.sort()
                        pos = 0.9 * (len(ms) - 1)  # linear interpolation, as ptune bench (numpy's default)
                        lo = int(pos)
                        p90 = ms[lo] + (ms[min(lo + 1, len(ms) - 1)] - ms[lo]) * (pos - lo)
                        res.add({"impl": "peft", "mode": mode, "kind": "latency", "variant": name, "batch": bs, "seq": L,
                                 "prefix": a.prefix if name == "ptv2" else 0, "repeats": len(ms),
                                 "warmup": a.lat_warmup, "warmup_s": warm_s, "median_ms": statistics.median(ms),
                                 "p90_ms": p90})
                    except Exception as e:
                        res.error(where, e)

        # the first training batch size, the latencies, then the larger batch sizes (what a timeout cuts last)
        tbs = [int(x) for x in a.train_batch.split(",") if x]
        for bs in tbs[:1]:
            train(bs)
        latency()
        for bs in tbs[1:]:
            train(bs)
        if compiled:
            try:
                import torch._dynamo
                torch._dynamo.reset()
            except Exception:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
