#pragma once
// Training options, torch-free so specs, the CLI and the workbench share them.
#include <cstdint>
#include <string>

namespace ptune {

struct TrainOptions {
    double lr = 5e-3;
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double weight_decay = 0.0;
    std::string schedule = "linear";   // constant | linear (both with warm-up)
    int64_t warmup_steps = 0;
    double max_grad_norm = 1.0;        // 0: no clipping
    // The encoder's dropout on hidden states while training (config.json's hidden_dropout_prob, and the head's where
    // the config sets no classifier_dropout), as the P-Tuning v2 scripts' --hidden_dropout_prob; < 0: the config's.
    double hidden_dropout = -1;
    int64_t batch_size = 16;
    int64_t max_len = 128;
    int64_t epochs = 3;                // used when steps == 0
    int64_t steps = 0;                 // > 0: train exactly this many steps
    bool shuffle = true;
    uint64_t seed = 42;
    int64_t eval_every = 0;            // steps; evaluation also runs at each epoch's end and after the last step
    // accuracy | f1 | f1_pos | mcc | loss (best = lowest); causal LMs: exact_match | perplexity | loss; token
    // classification: entity_f1 | tag_accuracy | loss; extractive QA: qa_f1 | exact_match | loss
    std::string metric = "accuracy";
    int64_t early_stopping_patience = 0;  // evaluations without improvement; 0: off
    bool keep_best = true;             // restore the best evaluation's state at the end
    std::string device = "cpu";        // cpu | cuda | cuda:N
    int threads = 0;                   // 0: all cores
    int64_t norms_every = 1;           // report per-layer prompt norms every N steps
    int64_t sync_every = 0;            // read losses and norms back every N steps; 0: 1 on the CPU, 16 on CUDA

    void validate() const;             // throws ptune::Error naming the field
};

}  // namespace ptune
