#pragma once
// The PEFT methods beside P-Tuning v2's deep prompts, as the trainer sees them: trainable tensors and what they
// add to a forward pass (an Adaptation). Initialisations follow PEFT's, so a run starts where PEFT's would:
//   - prompt tuning: P virtual-token embeddings [P, E]; random N(0, 1) (nn.Embedding's default, PEFT's RANDOM),
//     rows of the word embeddings at sampled token ids (SAMPLE_VOCAB), or the embeddings of a text's tokens
//     repeated to length P (TEXT);
//   - P-tuning (v1): an embedding [P, E] through a prompt encoder: MLP Linear(E, h) ReLU Linear(h, h) ReLU
//     Linear(h, E), or a 2-layer bidirectional LSTM(E -> h) followed by Linear(2h, 2h) ReLU Linear(2h, E);
//   - LoRA: per chosen linear layer A [r, in] ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform, a = sqrt(5)) and
//     B [out, r] = 0, scaling alpha / r (or alpha / sqrt(r) with rsLoRA): the model starts as the base model;
//   - IA3: scaling vectors initialised to ones (the base model again), on a module's output, or on its input
//     for feed-forward modules;
//   - bottleneck adapters (Houlsby et al. 2019; PEFT has none, AdapterHub's "Adapter" row): per layer, on the
//     output of attention.output.dense and of output.dense (houlsby) or of output.dense alone (pfeiffer), after
//     its dropout and before the residual connection and LayerNorm, y += up(act(down(y))) with down Linear(H, m) ~ kaiming_uniform
//     (a = sqrt(5)) and up Linear(m, H) = 0, biases 0 (AdapterHub's "mam" initialisation): the base model again.
// Full fine-tuning and the linear probe need no method object: the trainer trains the backbone
// (EncoderClassifier::set_backbone_trainable) and/or the head alone.
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/engine/encoder.h"
#include "core/engine/method_options.h"
#include "core/io/json_util.h"

namespace ptune {

class DeltaMethod {
public:
    virtual ~DeltaMethod() = default;
    virtual std::string kind() const = 0;   // "prompt" | "ptuning" | "lora" | "ia3" | "adapter"
    // Trainable tensors (requires_grad) by name; the optimizer and best-state snapshots use them.
    virtual std::vector<std::pair<std::string, at::Tensor>> parameters() const = 0;
    // What the forward pass adds (prompt encoders run here; `training` applies dropout).
    virtual Adaptation adaptation(bool training) const = 0;
    virtual int64_t virtual_tokens() const { return 0; }
    virtual void to(const at::Device& device) = 0;
    void set_parameter(const std::string& name, const at::Tensor& value);   // copies in; throws for a bad name/shape
    int64_t param_count() const;
};

struct LoraOptions {
    int64_t r = 8;
    double alpha = 16;
    double dropout = 0.0;
    bool rslora = false;
    std::vector<Site> sites{Site::Query, Site::Value};   // PEFT's default for BERT/RoBERTa
};

struct Ia3Options {
    // PEFT's defaults for BERT/RoBERTa: key, value and "output.dense" (which matches both attention.output.dense
    // and the feed-forward output.dense), the latter two being feed-forward modules (input scaled).
    std::vector<Site> sites{Site::Key, Site::Value, Site::AttnOut, Site::Output};
    std::vector<Site> feedforward{Site::AttnOut, Site::Output};
};

struct AdapterOptions {
    int64_t size = 0;                   // the bottleneck m; 0: hidden size / 16
    std::vector<Site> sites{Site::AttnOut, Site::Output};   // houlsby; pfeiffer: {Output}
    std::string act = "relu";           // relu | gelu | tanh | swish
};

enum class PromptInit2 { Random, SampleVocab, Text };

struct PromptTuningOptions {
    int64_t prompt_len = 20;
    PromptInit2 init = PromptInit2::Random;
    std::vector<int64_t> init_token_ids;   // Text: the text's token ids (no special tokens), repeated to P
};

struct PTuningOptions {
    int64_t prompt_len = 20;
    std::string encoder = "mlp";   // mlp | lstm
    int64_t hidden = 0;            // 0: the model's hidden size (PEFT's default encoder_hidden_size)
    int64_t lstm_layers = 2;
    double dropout = 0.0;          // LSTM dropout between layers
};

std::unique_ptr<DeltaMethod> make_lora(const ModelConfig& cfg, const LoraOptions& opt, uint64_t seed);
std::unique_ptr<DeltaMethod> make_ia3(const ModelConfig& cfg, const Ia3Options& opt);
std::unique_ptr<DeltaMethod> make_adapter(const ModelConfig& cfg, const AdapterOptions& opt, uint64_t seed);
// The word embeddings are read for SAMPLE_VOCAB and TEXT initialisation.
std::unique_ptr<DeltaMethod> make_prompt_tuning(const EncoderClassifier& model, const PromptTuningOptions& opt,
                                                uint64_t seed);
std::unique_ptr<DeltaMethod> make_ptuning(const ModelConfig& cfg, const PTuningOptions& opt, uint64_t seed);

// "query" | "key" | "value" | "attention.output.dense" | "intermediate.dense" | "output.dense" (or the full
// "attention.self.query" forms) -> Site; throws ptune::Error for another name.
Site site_from_module(const std::string& name);

// Builds method `name` (prompt, ptuning, lora, ia3, adapter) from spec options; `text_ids` are the token ids of
// options.prompt_init_text (the caller tokenizes: no special tokens).
std::unique_ptr<DeltaMethod> make_method(const std::string& name, const EncoderClassifier& model, int64_t prompt_len,
                                         const DeltaOptions& options, const std::vector<int64_t>& text_ids, uint64_t seed);

// The same method with its tensors' shapes only (values to be read from a file): needs the configuration alone.
std::unique_ptr<DeltaMethod> make_method_shape(const std::string& name, const ModelConfig& cfg, int64_t prompt_len,
                                               const DeltaOptions& options);

// A trained run of a method other than P-Tuning v2, in ptune's format: ptune_adapter.json
// {"format": "ptune-method", "method", "prompt_len", "options", "label_names", "base_model"} and
// ptune_adapter.safetensors with "method.*" (the method's tensors), "head.*" and, for full fine-tuning,
// "backbone.*" (every encoder weight).
void export_method(const std::string& dir, const std::string& method, int64_t prompt_len, const DeltaOptions& options,
                   const DeltaMethod* delta, const EncoderClassifier& model, const std::vector<std::string>& label_names,
                   const std::string& base_model);
bool is_method_adapter_dir(const std::string& dir);

struct MethodAdapter {
    std::string method;
    int64_t prompt_len = 0;
    DeltaOptions options;
    std::unique_ptr<DeltaMethod> delta;                  // null for full and head
    std::map<std::string, at::Tensor> head, backbone;   // model names
    std::vector<std::string> label_names;
    std::string base_model;
};
// Reads an export_method directory for `model` (its configuration gives the shapes); throws naming the file.
MethodAdapter load_method_adapter(const std::string& dir, const EncoderClassifier& model);
// Puts a loaded adapter's head and backbone tensors into the model.
void apply_method_adapter(EncoderClassifier& model, const MethodAdapter& a);
// Copies full fine-tuning's backbone tensors (transformers' names) into `model`; throws naming `where` for a tensor
// the model does not have or of another shape.
void load_backbone(EncoderClassifier& model, const std::map<std::string, at::Tensor>& backbone, const std::string& where);

}  // namespace ptune
