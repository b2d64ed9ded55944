#pragma once
// A linear head on an encoder's token states, trained with a P-Tuning v2 prefix, another method, or alone: the
// part token classification (classifier [tags, H]) and extractive QA (qa_outputs [2, H]) share. It owns the head,
// runs the encoder over a batch (the prefix or method applied, virtual tokens dropped from the output), and gives
// the training loop its trainable tensors, snapshot and restore; a task adds its loss, metrics and predictions.
//
// Every method trains on these tasks: a P-Tuning v2 prefix (ptv2, prefix-mlp), another method's tensors (prompt,
// ptuning, lora, ia3, adapter: a DeltaMethod), the whole backbone (full: the model made trainable) or nothing but
// the head (head). Virtual tokens of prompt tuning and P-tuning come first and are dropped from the output, as
// the logits of PEFT's PeftModelFor{TokenClassification,QuestionAnswering} at the real tokens' positions.
//
// Adapters of these tasks are saved alike: ptune's format always (ptune_adapter.json with the task, the method,
// its options and the task's own fields; ptune_adapter.safetensors with prompt.*, method.*, backbone.* (full) and
// head.*), and PEFT's adapter with the task's task_type beside it where PEFT can express the run: PREFIX_TUNING
// when the prefix is in every layer (prompt_embeddings [P, 2 L H] and base_model.<head>.weight/bias,
// modules_to_save naming the head), PROMPT_TUNING, P_TUNING (the encoder's output), LORA and IA3.
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/deep_prompt.h"
#include "core/engine/encoder.h"
#include "core/engine/events.h"
#include "core/engine/methods.h"
#include "core/engine/train_options.h"
#include "core/engine/trainer.h"
#include "core/io/json_util.h"

namespace ptune {

class EncoderHead {
public:
    // The head "<name>.weight" [outputs, H] ~ normal(0, initializer_range) from opt.seed, "<name>.bias" zero;
    // `dropout` on the token states before it (transformers' *ForTokenClassification has one, *ForQuestionAnswering
    // none).
    EncoderHead(EncoderClassifier& model, DeepPrompt* prompt, DeltaMethod* method, const std::string& name,
                int64_t outputs, double dropout, const TrainOptions& opt, int64_t pad_id, TrainEvents* events,
                const CancelFlag* cancel);
    virtual ~EncoderHead() = default;

    // The head under transformers' names: "<name>.weight", "<name>.bias".
    std::vector<std::pair<std::string, at::Tensor>> head_parameters() const;
    void set_head_tensor(const std::string& n, const at::Tensor& value);
    int64_t head_param_count() const { return head_.weight.numel() + head_.bias.numel(); }
    const std::string& head_name() const { return name_; }
    const std::vector<std::pair<std::string, at::Tensor>>& best_state() const { return best_state_; }
    // What trains besides the head.
    const DeepPrompt* prompt() const { return prompt_; }
    const DeltaMethod* method() const { return method_; }
    const EncoderClassifier& model() const { return model_; }
    // The method's name in adapters: ptv2, prefix-mlp, prompt, ptuning, lora, ia3, adapter, full or head.
    std::string method_name() const;
    // Trainable parameters: the prefix's or method's, the backbone's when it trains, and the head's.
    int64_t trainable_param_count() const;

protected:
    // The head's outputs [B, n, outputs] for rows of token ids (padded to the longest; type ids may be empty).
    at::Tensor head_logits(const std::vector<std::vector<int64_t>>& ids,
                           const std::vector<std::vector<int64_t>>& type_ids, bool training) const;
    // The encoder's last hidden states [B, n, H] (fp32) of the real tokens of those rows, the prefix or method
    // applied; and the head (without dropout) on states [..., H]. A task that pools the states uses these.
    at::Tensor encode_rows(const std::vector<std::vector<int64_t>>& ids,
                           const std::vector<std::vector<int64_t>>& type_ids, bool training) const;
    at::Tensor apply_head(const at::Tensor& x) const { return head_(x); }
    // The mean over rows 0..n-1 (in order, batches of the batch size, no gradients) of batch_loss(order, begin,
    // end), each batch's mean loss weighted by its rows: the evaluation loss of tasks whose loss is a mean over rows.
    double mean_loss(size_t n, const std::function<at::Tensor(const std::vector<size_t>&, size_t, size_t)>& batch_loss) const;
    // The loop's trainable tensors, snapshot and restore; the task fills rows, batch_loss and evaluate.
    LoopHooks hooks();
    TrainResult run(const LoopHooks& h) { return run_training_loop(h, opt_, device_, events_, cancel_, best_state_); }

    EncoderClassifier& model_;
    DeepPrompt* prompt_;
    DeltaMethod* method_;
    TrainOptions opt_;
    int64_t pad_id_;
    TrainEvents* events_;
    const CancelFlag* cancel_;
    at::Device device_ = at::kCPU;

private:
    std::string name_;
    Linear head_;
    double dropout_;
    std::vector<std::pair<std::string, at::Tensor>> best_state_;
};

// How a task's adapter is named on disk.
struct HeadAdapterKind {
    std::string task;             // ptune_adapter.json's "task": "token-cls", "qa"
    std::string peft_task_type;   // "TOKEN_CLS", "QUESTION_ANS"; "" where PEFT has no task type (no PEFT files)
    std::string title;            // in messages: "token classification"
    std::vector<std::string> peft_modules;   // modules_to_save as PEFT's model class sets it
};

// Writes both formats (see the top of this file) of the trained `head` (its prefix or method included);
// `options` are the method's (prompt, ptuning, lora, ia3, adapter); `extra` adds the task's fields to
// ptune_adapter.json and `peft_labels` (when not null) writes ptune_labels.json beside the PEFT files. Without a PEFT
// form, PEFT files a former run left in `dir` are removed (they would load other prompts); `why_no_peft` (when not
// null) gets the reason.
void write_head_adapter(const std::string& dir, const HeadAdapterKind& kind, const EncoderHead& head,
                        const DeltaOptions& options, const json& extra, const std::string& base_model,
                        const std::vector<std::string>* peft_labels = nullptr, std::string* why_no_peft = nullptr);

// A task's trained adapter as read back: what trains besides the head (at most one of prompt and delta; neither
// for full and head), the head, and for full the backbone's tensors.
struct HeadAdapter {
    std::string method = "head";              // as method_name() says
    std::unique_ptr<DeepPrompt> prompt;       // ptv2, prefix-mlp
    std::unique_ptr<DeltaMethod> delta;       // prompt, ptuning, lora, ia3, adapter
    DeltaOptions options;                     // the delta's options
    int64_t prompt_len = 0;                   // prompt, ptuning: virtual tokens
    std::map<std::string, at::Tensor> backbone;   // full: every encoder weight, under transformers' names
    std::map<std::string, at::Tensor> head;   // "<name>.weight", "<name>.bias"
    json config;                              // ptune_adapter.json; null for a PEFT adapter
    std::string where;                        // the file `config` came from (messages)
    std::string base_model;
    std::vector<std::string> notes;

    // Virtual tokens before the real ones (a prefix's P, prompt tuning's or P-tuning's), for the position check.
    int64_t positions_taken() const;
    // Puts full fine-tuning's backbone into `model` (nothing for the other methods); throws for a tensor that does
    // not fit.
    void apply_backbone(EncoderClassifier& model) const;
};

// Whether `dir` holds an adapter of this kind (ptune_adapter.json's task, or adapter_config.json's task_type);
// false when it cannot tell.
bool is_head_adapter_dir(const std::string& dir, const HeadAdapterKind& kind);
// Reads either format (ptune's when ptune_adapter.json is there), checking the model's size and that the head
// "<head_name>.weight" [outputs, H] (outputs as given, or any when <= 0) and its bias are there; throws naming the
// file for an adapter of another task or model.
HeadAdapter read_head_adapter(const std::string& dir, const HeadAdapterKind& kind, const ModelConfig& cfg,
                              const std::string& head_name, int64_t outputs);

}  // namespace ptune
