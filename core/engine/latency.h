#pragma once
// Inference latency of the base model against the same model with deep prompts: for each (batch size,
// sequence length, prompt length) a forward pass on random token ids (no padding) under no_grad, `warmup`
// untimed passes, then `repeats` timed ones (CUDA synchronised), taken round-robin over all configurations so
// that base and prompted models are measured side by side; median and 90th percentile in milliseconds.
// A causal LM (a decoder directory) is measured as generation runs: per pass, the input of `seq_len` tokens
// with the prefix's keys and values in the cache, and the first new token chosen (phase "first_token": the time
// to first token), then `new_tokens` more tokens one step at a time over the cache, each chosen on the host as
// generate() does (phase "per_token": milliseconds per step, each step giving every row of the batch one token:
// tokens per second = 1000 x batch / ms). Methods base and ptv2 (the prefix in every layer).
// Torch-free interface; the model is loaded inside.
#include <functional>
#include <string>
#include <vector>

#include "core/engine/method_options.h"
#include "core/engine/prompt_options.h"

namespace ptune {

struct LatencyOptions {
    std::string model_dir;              // a model directory (resolve "builtin" before calling)
    std::vector<std::string> methods{"base", "ptv2"};
    std::vector<int> batch_sizes{1};
    std::vector<int> seq_lens{128};
    // base, ptv2, prompt (prompt tuning), ptuning, lora, ia3, adapter (unmerged: the change applied on every
    // pass), lora-merged / ia3-merged (a copy of the model with the adapter folded into its weights), and full /
    // head (fine-tuned weights or a new head: the base model's forward pass, measured as a configuration of its
    // own). Prompts and P-tuning's encoder output are computed once, as PEFT does in inference mode.
    std::vector<int> prompt_lens;       // for ptv2, prompt, ptuning (required with them; Runner::bench_run: empty = the run's P)
    std::string layers = "all";         // ptv2's layers
    DeltaOptions delta;                 // the methods' options (default: PEFT's defaults)
    int warmup = 3;
    int repeats = 20;
    int new_tokens = 16;                // causal LMs: the decoding steps timed per pass
    std::string device = "cpu";
    int threads = 0;
    uint64_t seed = 0;
};

struct LatencyResult {
    std::string method;                 // one of LatencyOptions::methods' names
    int batch_size = 0, seq_len = 0, prompt_len = 0;
    double median_ms = 0, p90_ms = 0, mean_ms = 0;
    std::string device;
    std::string phase;                  // "" (a forward pass); causal LMs: "first_token" or "per_token"
};

// Runs every configuration; `on_result` (optional) sees each result at the end, in method, prompt length,
// batch size, sequence length order; `cancelled` (optional) is polled between passes (a cancelled run returns
// nothing). Throws ptune::Error when a configuration does not fit the position table.
std::vector<LatencyResult> run_latency(const LatencyOptions& opt,
                                       const std::function<void(const LatencyResult&)>& on_result = {},
                                       const std::function<bool()>& cancelled = {});

// The methods run_latency measures, and whether a name is one of them.
const std::vector<std::string>& latency_method_names();

// Median and p90 (linear interpolation, numpy's default) of a sample.
double percentile(std::vector<double> v, double q);

}  // namespace ptune
