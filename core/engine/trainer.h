#pragma once
// Training deep prompts (and the classification head) on a frozen encoder. The backbone's weights have
// requires_grad off, so autograd computes no gradient for them; only the prompts and the head are updated.
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/engine/deep_prompt.h"
#include "core/engine/encoder.h"
#include "core/engine/events.h"
#include "core/engine/methods.h"
#include "core/engine/train_options.h"
#include "core/io/data.h"
#include "core/text/tokenizer.h"

namespace ptune {

// A tokenized data set.
struct TokenizedData {
    std::vector<std::vector<int64_t>> ids;
    std::vector<std::vector<int64_t>> type_ids;
    std::vector<int64_t> labels;
    size_t size() const { return ids.size(); }
};

TokenizedData tokenize(const Dataset& d, const Tokenizer& tok, int64_t max_len);

struct TrainResult {
    std::string status = "completed";   // completed | cancelled | early_stopped | failed (loss not finite)
    std::string error;                  // why it failed
    bool usable = true;                 // the model and prompts hold a state worth saving (a failed run: its best)
    int64_t steps_done = 0;
    std::map<std::string, double> final_metrics;  // last evaluation (or last training loss without validation)
    std::map<std::string, double> best_metrics;
    int64_t best_step = -1;
    double seconds = 0;
    double last_loss = 0;
    double median_step_ms = 0;          // median wall time of the optimizer steps (evaluation not included)
};

// Classification metrics over predictions: accuracy, "f1" (macro-F1), Matthews correlation (multi-class form), and
// for two labels "f1_pos", the F1 of label 1 (the positive one).
std::map<std::string, double> classification_metrics(const std::vector<int64_t>& pred, const std::vector<int64_t>& gold,
                                                     int64_t num_labels);

// The learning-rate multiplier transformers' schedulers give update `t` (0-based).
double schedule_factor(const std::string& schedule, int64_t t, int64_t warmup, int64_t total);

// The training loop every trainer shares: AdamW over `params`, the learning-rate schedule with warm-up, gradient
// clipping on the device, losses and norms read back every sync_every steps, evaluation (each eval_every steps,
// each epoch's end, the last step), early stopping, the best state kept and put back, cancellation, and the
// events. What a task computes comes as hooks.
struct LoopHooks {
    std::vector<at::Tensor> params;                      // trainable tensors, in the optimizer's order
    size_t rows = 0;                                     // training rows (an epoch's batches are over them)
    // The training loss of the batch of rows order[begin, end).
    std::function<at::Tensor(const std::vector<size_t>& order, size_t begin, size_t end)> batch_loss;
    // Validation metrics after `step` steps; empty: no evaluation.
    std::function<std::map<std::string, double>(int64_t step)> evaluate;
    std::function<std::vector<std::pair<std::string, at::Tensor>>()> snapshot;   // the trainable state (CPU copies)
    std::function<void(const std::vector<std::pair<std::string, at::Tensor>>&)> restore;
    const DeepPrompt* prompt = nullptr;                  // its per-layer norms are reported (norms_every)
};
// Runs the loop; `best_state` receives the snapshot of the best evaluation (cleared first).
TrainResult run_training_loop(const LoopHooks& hooks, const TrainOptions& opt, at::Device device, TrainEvents* events,
                              const CancelFlag* cancel, std::vector<std::pair<std::string, at::Tensor>>& best_state);

class PromptTrainer {
public:
    // prompt may be null: the head alone is trained (a linear probe), plus the backbone when it was made
    // trainable (full fine-tuning).
    PromptTrainer(EncoderClassifier& model, DeepPrompt* prompt, const TrainOptions& opt, int64_t pad_id,
                  TrainEvents* events = nullptr, const CancelFlag* cancel = nullptr);
    // Another PEFT method (LoRA, IA3, prompt tuning, P-tuning) trained with the head.
    PromptTrainer(EncoderClassifier& model, DeltaMethod* method, const TrainOptions& opt, int64_t pad_id,
                  TrainEvents* events = nullptr, const CancelFlag* cancel = nullptr);

    TrainResult train(const TokenizedData& train, const TokenizedData* valid);
    // Loss and metrics over a data set (no dropout, no gradients).
    std::map<std::string, double> evaluate(const TokenizedData& d);
    // Logits for a data set, in order.
    at::Tensor predict(const std::vector<std::vector<int64_t>>& ids, const std::vector<std::vector<int64_t>>& type_ids);

    // The state at the best evaluation (prompt and head tensors, on CPU); empty when there was none.
    const std::vector<std::pair<std::string, at::Tensor>>& best_state() const { return best_state_; }
    // Puts the best state back into the model and prompt.
    void restore_best();

    // The linear probe (no prompt, no method, a frozen backbone) trains its head on features of a frozen
    // encoder: the first token's last hidden state, computed with dropout off (the encoder in eval mode; the
    // head's own dropout stays on while training). train() computes them once per row: training rows when their
    // first batch comes, validation rows at the first evaluation, and keeps them on the device ([rows, hidden]);
    // later epochs and evaluations run only the head. Off, it recomputes them every time, as other methods
    // must: the losses are the same (tests and benchmarks compare the two).
    void set_feature_cache(bool on) { feature_cache_ = on; }
    bool is_probe() const;

private:
    std::vector<std::pair<std::string, at::Tensor>> snapshot() const;
    Adaptation adaptation(PrefixKV& kv, bool training) const;   // the prompt's or the method's, or none
    Batch slice(const TokenizedData& d, const std::vector<size_t>& order, size_t begin, size_t end) const;
    // The probe's features of a batch: [B, H], no gradients, the encoder in eval mode.
    at::Tensor probe_features(const Batch& b) const;
    // Loss and metrics from logits in the order of d's rows.
    std::map<std::string, double> metrics_of(const at::Tensor& logits, const TokenizedData& d) const;

    EncoderClassifier& model_;
    DeepPrompt* prompt_;
    DeltaMethod* method_ = nullptr;
    TrainOptions opt_;
    int64_t pad_id_;
    TrainEvents* events_;
    const CancelFlag* cancel_;
    at::Device device_ = at::kCPU;
    std::vector<std::pair<std::string, at::Tensor>> best_state_;
    bool feature_cache_ = true;
};

// Resolves "cpu", "cuda", "cuda:N"; throws ptune::Error when CUDA is asked for and not there.
at::Device resolve_device(const std::string& name);
// Sets LibTorch's intra-op threads (0: all cores).
void set_threads(int threads);

}  // namespace ptune
