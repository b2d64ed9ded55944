// What the peak-memory hook (core/engine/memory.h, on during every run's training) costs a training step: P-Tuning
// v2 steps (forward, backward, clipping, AdamW) on one batch of 16 x n tokens, in blocks of five steps with and
// without a MemoryTracker, alternating so that the machine's drift hits both; the median step time of each.
// Usage: memory_hook_cost [model-dir | builtin] [n=16] [blocks=40]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "core/engine/builtin.h"
#include "core/engine/deep_prompt.h"
#include "core/engine/encoder.h"
#include "core/engine/memory.h"
#include "core/engine/trainer.h"

using namespace ptune;

int main(int argc, char** argv) {
    set_threads(2);
    const bool builtin = argc < 2 || std::string(argv[1]).empty() || std::string(argv[1]) == "builtin";
    const std::string dir = builtin ? builtin_dir() + "/model" : std::string(argv[1]);
    const int n = argc > 2 ? std::atoi(argv[2]) : 16;
    const int blocks = argc > 3 ? std::atoi(argv[3]) : 40;
    auto model = EncoderClassifier::load(dir, 2, 1);
    Batch b;
    b.input_ids = at::randint(5, model->config().vocab_size, {16, n}, at::kLong);
    b.attention_mask = at::ones({16, n}, at::kLong);
    b.labels = at::zeros({16}, at::kLong);
    PrefixOptions po;
    po.prompt_len = 16;
    DeepPrompt prompt(model->config(), po, 1);
    std::vector<at::Tensor> params;
    for (auto& [name, t] : prompt.parameters()) params.push_back(t);
    for (auto& [name, t] : model->head_parameters()) params.push_back(t);
    torch::optim::AdamW optim(params, torch::optim::AdamWOptions(1e-3));
    std::vector<double> with, without;
    for (int block = 0; block < 2 * blocks; ++block) {
        std::optional<MemoryTracker> tracker;
        if (block % 2) tracker.emplace();
        for (int s = 0; s < 5; ++s) {
            const auto t0 = std::chrono::steady_clock::now();
            PrefixKV kv = prompt.prefix(true);
            Adaptation ad;
            ad.prefix = &kv;
            at::Tensor loss = classification_loss(model->forward(b, ad, true), b.labels);
            optim.zero_grad();
            loss.backward();
            torch::nn::utils::clip_grad_norm_(params, 1.0);
            optim.step();
            (void)loss.item<double>();
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            if (block >= 2) (block % 2 ? with : without).push_back(ms);   // the first two blocks warm up
        }
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    const double a = median(without), c = median(with);
    std::cout << (builtin ? std::string("built-in model") : dir) << ", batch 16 x " << n << ": median step " << a
              << " ms without the hook, " << c << " ms with it (" << (c / a - 1) * 100 << " %)\n";
    return 0;
}
