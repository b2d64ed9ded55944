#pragma once
// Suites: one base experiment and several variations of it (methods, settings), each run for every seed, queued
// and run one after another into the same run store. Versioned JSON ({"ptune_suite": 1, ...}):
//   {"ptune_suite": 1, "name": "p-sweep", "base": {<an experiment spec>}, "seeds": [1, 2, 3],
//    "variants": [{"method": {"prompt_len": 4}}, {"method": {"prompt_len": 8}}]}
// Each variant is a JSON merge patch (RFC 7386) on the base spec's JSON, so a variant names only what changes;
// the result must be a valid spec (errors name the variant). No variants: the base alone.
// Ready-made suites (the paper's ablations and the method comparison), from a base spec:
//   "prompt-len": P in 4, 8, 16, 32, 64, 128 (those that fit the position table);
//   "depth": prompts in the first k layers and in the last k layers, k = 1 .. L;
//   "methods": ptv2, prefix tuning (ptv2 + MLP), prompt, ptuning, lora, ia3, adapter, full, head, each with its
//     inference latency measured after training (latency.measure). The base's learning rate is P-Tuning v2's;
//     LoRA, IA3 and the bottleneck adapters get a quarter of it, full fine-tuning and prefix tuning's MLP a
//     twentieth (deep prompts train at higher rates than weight updates, and the MLP's 2-layer network does not
//     learn at P-Tuning v2's rate: on the built-in experiment it stays at chance at 2e-2 and 5e-3, and reaches
//     0.73 at 1e-3; edit the suite file to tune them).
//   "grid": the P-Tuning v2 authors' hyperparameter search (THUDM/P-tuning-v2 search_script/search_copa_roberta.sh):
//     learning rate 5e-3, 7e-3, 1e-2 x P 4, 8, 16, 32, 64, 128 (those that fit) x 20, 40, ..., 120 epochs: 108 runs
//     per seed, P-Tuning v2 in every layer.
#include <string>
#include <vector>

#include "experiments/spec.h"

namespace ptune {

struct Suite {
    static constexpr int kVersion = 1;
    std::string name;
    ExperimentSpec base;
    std::vector<json> variants;
    std::vector<uint64_t> seeds;   // empty: the base's seed

    // Every run of the suite: variants x seeds, in that order; each spec's suite is the suite's name and its
    // tags gain the suite's name.
    std::vector<ExperimentSpec> expand() const;
    json to_json() const;
    static Suite from_json(const json& j, const std::string& where);
    static Suite load(const std::string& path);
    void save(const std::string& path) const;
};

const std::vector<std::string>& ablation_names();   // prompt-len, depth, methods
// A ready-made suite on `base` for a model with `num_layers` layers and `max_input` usable positions.
Suite make_ablation(const std::string& kind, const ExperimentSpec& base, int num_layers, int max_input,
                    const std::vector<uint64_t>& seeds);

}  // namespace ptune
