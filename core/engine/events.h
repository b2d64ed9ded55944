#pragma once
// What a training run reports, as plain structs (no torch, no Qt): the runner stores them, the CLI prints
// them, the workbench plots them. One interface, TrainEvents, receives all of them in order.
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ptune {

struct StepEvent {
    int64_t step = 0;            // 1-based optimizer step
    int64_t total_steps = 0;
    double epoch = 0;            // fractional epoch at the end of this step
    double loss = 0;             // the batch loss computed before this step's update
    double lr = 0;               // learning rate used for this step's update
    double grad_norm = 0;        // before clipping
    double samples_per_s = 0;    // throughput over this step
    double step_ms = 0;          // wall time of this step: batch, forward, backward, clipping, optimizer update
    double elapsed_s = 0;        // since training started
    double eta_s = 0;
};

struct EvalEvent {
    int64_t step = 0;
    double epoch = 0;
    double elapsed_s = 0;
    std::map<std::string, double> metrics;  // "loss", "accuracy", "f1" (macro-F1), "mcc"; two labels: "f1_pos"
    std::string positive_label;             // two labels: the name of label 1, whose F1 is "f1_pos" (set by the runner)
    bool is_best = false;
};

struct PromptNormEvent {
    int64_t step = 0;
    std::vector<int> layers;          // the layers that carry prompts
    std::vector<double> key_norms;    // L2 norm of each layer's key prefix
    std::vector<double> value_norms;
};

// A causal LM's answers to a few validation prompts, at an evaluation: the base model's (fixed) and the adapted
// model's greedy continuations beside the target.
struct GenerationSample {
    std::string prompt, target, base, adapted;
};

struct SampleEvent {
    int64_t step = 0;
    std::vector<GenerationSample> samples;
};

class TrainEvents {
public:
    virtual ~TrainEvents() = default;
    virtual void on_start(int64_t total_steps, int64_t steps_per_epoch) {}
    virtual void on_step(const StepEvent&) {}
    virtual void on_eval(const EvalEvent&) {}
    virtual void on_prompt_norms(const PromptNormEvent&) {}
    virtual void on_samples(const SampleEvent&) {}     // causal LMs, at each evaluation
    virtual void on_message(const std::string&) {}   // notes for the user (head initialised fresh, ...)
};

// Cancellation, checked once per step by the trainer.
struct CancelFlag {
    std::atomic<bool> requested{false};
    void cancel() { requested.store(true); }
    bool is_set() const { return requested.load(); }
};

}  // namespace ptune
