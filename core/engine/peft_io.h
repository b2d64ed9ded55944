#pragma once
// Adapters on disk: Hugging Face PEFT adapter directories (adapter_config.json + adapter_model.safetensors) and
// ptune's own format (ptune_adapter.json + ptune_adapter.safetensors), which also keeps what PEFT cannot
// express: partial depth and the MLP reparameterization's weights (so training can resume).
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/deep_prompt.h"
#include "core/engine/encoder.h"
#include "core/io/json_util.h"

namespace ptune {

struct PeftAdapter {
    std::string dir;
    json config;                            // adapter_config.json
    std::string peft_type;                  // "PREFIX_TUNING", ...
    std::string task_type;                  // "SEQ_CLS", ...
    std::map<std::string, at::Tensor> tensors;  // adapter_model.safetensors as stored

    static PeftAdapter load(const std::string& dir);  // throws ptune::Error naming the file and field
    // Head tensors under the model's names ("classifier.weight", ...), from "base_model.classifier.weight",
    // "base_model.model.classifier.modules_to_save.default.weight" and the like.
    std::map<std::string, at::Tensor> head_tensors() const;
};

// A trained (or imported) P-Tuning v2 adapter: prompts plus the classification head.
struct PromptAdapter {
    std::unique_ptr<DeepPrompt> prompt;
    std::map<std::string, at::Tensor> head;   // model names -> tensors
    std::map<std::string, at::Tensor> base;   // frozen tensors the base checkpoint lacked (a random BERT pooler)
    std::vector<std::string> label_names;
    std::string base_model;                   // as recorded (a path or "builtin")
    std::vector<std::string> notes;           // what the import could not keep, e.g. an MLP's weights
};

// PREFIX_TUNING adapter -> PromptAdapter for `cfg` (all layers; with prefix_projection the stored MLP output
// becomes plain prompts, noted). Checks num_layers, token_dim, heads against the model.
PromptAdapter prompt_adapter_from_peft(const PeftAdapter& a, const ModelConfig& cfg);
// The same for any model whose prefixes have geometry `g` (a decoder: key/value heads, head_dim); no head.
PromptAdapter prompt_adapter_from_peft(const PeftAdapter& a, const PrefixGeometry& g);

// LORA, IA3, PROMPT_TUNING and P_TUNING adapters: what each changes in the forward pass, plus the head.
struct PeftDelta {
    std::string peft_type;
    at::Tensor input_prompt;                                  // PROMPT_TUNING, P_TUNING: [P, token_dim]
    std::vector<std::array<LinearDelta, kSites>> layers;      // LORA, IA3: one entry per layer
    LinearDelta pooler;                                       // LORA, IA3 on BERT's pooler.dense (PEFT's "dense")
    std::map<std::string, at::Tensor> head;                   // model names -> tensors
    std::vector<std::string> notes;                           // e.g. what a P_TUNING file does not hold
    json config;                                              // adapter_config.json as read
    Adaptation adaptation() const;                            // shares this object's tensors
    int64_t virtual_tokens() const { return input_prompt.defined() ? input_prompt.size(0) : 0; }
    void to(const at::Device& device);
};
// The adapter's tensors under the names DeltaMethod::parameters() gives them ("prompt_embeddings",
// "layer.<l>.<module>.lora_A.weight", ".lora_B.weight", ".ia3_out", ".ia3_in"), to load into a method.
std::map<std::string, at::Tensor> delta_parameters_of(const PeftDelta& d);
// Whether `dir` holds a PEFT adapter of a type peft_delta_from reads (not PREFIX_TUNING: load_prompt_adapter).
bool is_peft_delta_dir(const std::string& dir);
// Reads the adapter for `cfg`, checking every tensor's layer, module and shape against the model. LoRA:
// scaling lora_alpha / r (use_rslora: / sqrt(r)); refused with a clear message where the numbers would differ
// (DoRA, trained biases, per-module rank or alpha patterns, modules other than the encoder's linear layers).
// P_TUNING files hold the prompt encoder's output only (PEFT saves no encoder weights), used as is.
PeftDelta peft_delta_from(const PeftAdapter& a, const ModelConfig& cfg);

// Writes an imported adapter back in PEFT's layout: its adapter_config.json as read (base_model_name_or_path set
// when `base_model` is not empty) and its tensors under PEFT's names, the head taken from `model`. Tensors come
// back identical to the imported file's.
void export_peft_delta(const std::string& dir, const PeftDelta& d, const EncoderClassifier& model,
                       const std::string& base_model = "");
// The same with the head given by its tensors under the model's names (a task head outside the model).
void export_peft_delta(const std::string& dir, const PeftDelta& d,
                       const std::vector<std::pair<std::string, at::Tensor>>& head, const ModelConfig& cfg,
                       const std::string& base_model);

class DeltaMethod;
struct DeltaOptions;

// The PEFT adapter of a trained run of another method: PROMPT_TUNING (prompt), P_TUNING (ptuning: the prompt
// encoder's output, which is what PEFT saves and what it uses in inference mode; ptune's own format keeps the
// encoder), LORA (lora) or IA3 (ia3), with adapter_config.json as PEFT 0.21 writes it (target and feed-forward
// modules as PEFT's suffix lists, or as a regular expression where a list would match more modules than were
// trained). `tokenizer_dir` is recorded for PROMPT_TUNING's text initialisation (PEFT requires it). Throws
// ptune::Error saying why for what PEFT cannot express (bottleneck adapters, full fine-tuning, the linear probe,
// a model whose pooler ptune drew at random).
// `task_type` and `modules_to_save` as PEFT's model class for the task sets them (TOKEN_CLS: classifier and score;
// QUESTION_ANS: qa_outputs; empty: SEQ_CLS's, peft_seq_cls_modules); the pooler matters (and a random one is refused)
// for SEQ_CLS only.
PeftDelta peft_delta_of(const std::string& method, const DeltaOptions& options, const DeltaMethod& delta,
                        const EncoderClassifier& model, const std::string& tokenizer_dir,
                        const std::string& task_type = "SEQ_CLS",
                        const std::vector<std::string>& modules_to_save = {});
// Whether PEFT can express a trained run of this method (peft_delta_of would not refuse it for its method).
bool peft_can_express(const std::string& method);
// PEFT's module list or pattern for these encoder sites: {"target_modules": ..., "feedforward_modules": ...}
// (the second only when `feedforward` is given, for IA3). Exposed for tests.
json peft_module_fields(const std::vector<Site>& sites, const std::vector<Site>* feedforward,
                        const EncoderFamily& family = bert_encoder_family());
// PEFT's modules_to_save for a sequence-classification model of this family: its head's modules ("classifier",
// DistilBERT's "pre_classifier") and PeftModelForSequenceClassification's own "classifier", "score".
std::vector<std::string> peft_seq_cls_modules(const ModelConfig& cfg);

// ptune_labels.json beside a PEFT adapter: the label names (PEFT's format has no place for them).
void write_peft_labels(const std::string& dir, const std::vector<std::string>& label_names);
// The label names of ptune_labels.json in `dir`; empty when there is none.
std::vector<std::string> read_peft_labels(const std::string& dir);

// Why a run on a model whose checkpoint has no pooler (BERT without pooler.dense) has no PEFT form; the one
// explanation `ptune export`, `ptune train` and `ptune predict` give.
extern const char* const kRandomPoolerNoPeft;

// A PEFT PREFIX_TUNING adapter of a causal LM (task_type CAUSAL_LM) for prefixes of geometry `g`; throws naming
// adapter_config.json for another adapter type or task, or a model of another shape.
PromptAdapter load_decoder_prefix(const std::string& dir, const PrefixGeometry& g);

// Reads either format from `dir` (PEFT when adapter_config.json is there, ptune when ptune_adapter.json is).
PromptAdapter load_prompt_adapter(const std::string& dir, const ModelConfig& cfg);

// The prefix of a ptune_adapter.json (`c`, read from `where`): its options, and its tensors "prompt.*" from
// `tensors` (read from `tensors_file`, named in errors).
std::unique_ptr<DeepPrompt> ptune_prompt_from(const json& c, const std::string& where,
                                              const std::map<std::string, at::Tensor>& tensors,
                                              const std::string& tensors_file, const ModelConfig& cfg);

// adapter_config.json of an encoder's PREFIX_TUNING adapter for `task_type` (SEQ_CLS, TOKEN_CLS), as PEFT 0.21
// writes it, the head kept through modules_to_save ["classifier", "score"].
json peft_prefix_config(const ModelConfig& cfg, const PrefixOptions& o, const std::string& task_type,
                        const std::string& base_model);

// Writes a PEFT PREFIX_TUNING adapter that PeftModel.from_pretrained loads and that gives the same logits.
// Refuses (ptune::Error) prompts on only some layers: PEFT's format has no way to leave a layer without a
// prefix (a zero key still takes attention weight), so that export would compute something else; and a model
// whose checkpoint had no pooler (transformers would draw a different random one).
void export_peft(const std::string& dir, const DeepPrompt& prompt, const EncoderClassifier& model,
                 const std::vector<std::string>& label_names, const std::string& base_model);

// Writes a causal LM's prefix as PEFT's PREFIX_TUNING adapter with task_type CAUSAL_LM (prompt_embeddings
// [P, 2 * L * kv_heads * head_dim]; token_dim and num_attention_heads are the key/value heads' width and
// count, as PEFT records them for grouped-query models). With the MLP option the file holds the MLP's output,
// as PEFT saves it (noted in the config as plain prompts, so PEFT loads it in any mode). Refuses a prefix on
// only some layers.
void export_peft_decoder_prefix(const std::string& dir, const DeepPrompt& prompt, const std::string& base_model);

// Writes ptune's own format (every option, the MLP weights, the head, label names).
void export_ptune(const std::string& dir, const DeepPrompt& prompt, const EncoderClassifier& model,
                  const std::vector<std::string>& label_names, const std::string& base_model);

// Puts an adapter's `base` tensors (a pooler the checkpoint lacked) into the model.
void apply_base(EncoderClassifier& model, const std::map<std::string, at::Tensor>& base);
// Applies an adapter's head to a model (its label count must match).
void apply_head(EncoderClassifier& model, const std::map<std::string, at::Tensor>& head);

}  // namespace ptune
