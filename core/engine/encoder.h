#pragma once
// BERT, RoBERTa and ELECTRA encoders for sequence classification, written out with plain tensor operations so
// a reader can follow them top to bottom (names follow transformers' modules). Deep prompts (P-Tuning v2)
// enter as per-layer key/value prefixes: layer l attends to [prefix_k(l); k] and [prefix_v(l); v], the mask
// is prefixed with ones, and the real tokens take positions P..P+n-1 (RoBERTa: offset by padding_idx + 1),
// exactly as transformers does with past_key_values of length P.
#include <torch/torch.h>

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/attention.h"
#include "core/engine/model_config.h"

namespace ptune {

// Per-layer prefixes. key[l]/value[l]: [B or 1, heads, P, head_dim], undefined for a layer without prompts.
struct PrefixKV {
    std::vector<at::Tensor> key, value;
    int64_t length = 0;  // P; real tokens' positions start after it
    bool empty() const { return length == 0; }
};

struct Linear {
    at::Tensor weight, bias;  // weight [out, in] as nn.Linear
    at::Tensor operator()(const at::Tensor& x) const { return at::linear(x, weight, bias); }
};

struct LayerNorm {
    at::Tensor weight, bias;
    double eps = 1e-12;
    at::Tensor operator()(const at::Tensor& x) const {
        return at::layer_norm(x, {weight.size(0)}, weight, bias, eps);
    }
};

struct EncoderLayer {
    Linear query, key, value, attn_out;
    LayerNorm attn_norm;
    Linear intermediate, output;
    LayerNorm out_norm;
};

// The linear layers of an encoder layer, in transformers' module names (see site_name).
enum class Site { Query, Key, Value, AttnOut, Intermediate, Output };
constexpr int kSites = 6;
// "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
// "intermediate.dense", "output.dense"
const char* site_name(Site s);

// What other PEFT methods change in one linear layer y = W x + b:
//   LoRA: y += dropout(x) A^T B^T * scaling (A [r, in], B [out, r]);
//   IA3 on an attention module: y = (W x + b) * l_out; on a feed-forward module: y = W (x * l_in) + b;
//   a bottleneck adapter (Houlsby et al. 2019) on a sublayer's output (attention.output.dense, output.dense)
//   after its dropout and before the residual connection and LayerNorm, as AdapterHub places it:
//   y += up(act(down(y))) (down [m, out], up [out, m]; not mergeable: act is not linear). apply() leaves it out;
//   the encoder calls adapt() after the dropout.
struct LinearDelta {
    at::Tensor lora_A, lora_B;
    double lora_scaling = 1.0;
    double lora_dropout = 0.0;
    at::Tensor ia3_out;   // [out]
    at::Tensor ia3_in;    // [in]
    Linear adapter_down, adapter_up;
    std::string adapter_act = "relu";   // relu | gelu | tanh | swish
    bool has_adapter() const { return adapter_down.weight.defined(); }
    bool empty() const { return !lora_A.defined() && !ia3_out.defined() && !ia3_in.defined() && !has_adapter(); }
    at::Tensor apply(const Linear& lin, const at::Tensor& x, bool training) const;
    at::Tensor adapt(const at::Tensor& y) const;   // y + the adapter's output (y itself without an adapter)
};

// Everything a forward pass adds to the frozen encoder; each part optional.
struct Adaptation {
    const PrefixKV* prefix = nullptr;       // P-Tuning v2 / prefix tuning: per-layer key/value prefixes
    // Prompt tuning and P-tuning: [Pv, E] embeddings of virtual tokens put before the real tokens' word
    // embeddings (as PEFT does through inputs_embeds): positions and token types cover them too (type 0), the
    // mask is prefixed with ones, and the head reads the first virtual token's state, as PEFT's models do.
    at::Tensor input_prompt;
    std::vector<std::array<LinearDelta, kSites>> layers;   // LoRA / IA3: empty, or one entry per layer
    // LoRA / IA3 on the pooler's dense layer (a PEFT adapter whose target "dense" matched pooler.dense); the
    // heads that read the pooler (BERT's sequence head, multiple choice) apply it.
    LinearDelta pooler;
};

// A batch of tokenized inputs: ids and mask [B, n] (int64), type ids optional.
struct Batch {
    at::Tensor input_ids, attention_mask, token_type_ids;
    at::Tensor labels;  // [B] int64, or undefined
};

class EncoderClassifier {
public:
    // Loads config.json and the safetensors checkpoint of `dir`. Weight names with or without the
    // "bert."/"roberta."/"electra." prefix and legacy LayerNorm gamma/beta are accepted. num_labels < 0 takes
    // the config's label count. A classification head missing from the checkpoint (or of another label count)
    // is initialised fresh: normal(0, initializer_range), zero bias, from `seed`.
    static std::unique_ptr<EncoderClassifier> load(const std::string& dir, int64_t num_labels = -1, uint64_t seed = 0);
    // A model from a config and named tensors in memory (the built-in model is made this way).
    static std::unique_ptr<EncoderClassifier> from_tensors(const ModelConfig& cfg,
                                                           const std::map<std::string, at::Tensor>& tensors,
                                                           int64_t num_labels, uint64_t seed);

    const ModelConfig& config() const { return cfg_; }
    int64_t num_labels() const { return num_labels_; }
    bool head_from_checkpoint() const { return head_from_checkpoint_; }
    const std::vector<std::string>& load_notes() const { return notes_; }
    // What is wrong with the checkpoint but does not stop it loading (every layer weight zero: an untrained save),
    // each naming the file; the CLI prints them as warnings, the runner reports them as messages.
    const std::vector<std::string>& load_warnings() const { return warnings_; }

    // Last hidden states [B, n, H] ([B, Pv + n, H] with an input prompt).
    at::Tensor encode(const Batch& b, const PrefixKV* prefix, bool training) const;
    at::Tensor encode(const Batch& b, const Adaptation& a, bool training) const;
    // Classification logits [B, num_labels].
    at::Tensor forward(const Batch& b, const PrefixKV* prefix, bool training) const;
    at::Tensor forward(const Batch& b, const Adaptation& a, bool training) const;
    at::Tensor head(const at::Tensor& hidden, bool training, const LinearDelta* pooler_delta = nullptr) const;
    // Rows (batch entries) encode() has run through the encoder since the model was made: the tests check with it
    // that the linear probe runs its frozen encoder once per row.
    int64_t encoded_rows() const { return encoded_rows_.load(std::memory_order_relaxed); }
    // The attention kernel (default_attention_kernel(): fused on LibTorch 2.x, else manual).
    AttentionKernel attention_kernel() const { return attention_; }
    void set_attention_kernel(AttentionKernel k) { attention_ = k; }

    // The classification head's tensors under transformers' names ("classifier.weight", or
    // "classifier.dense.weight" ... for RoBERTa/ELECTRA); trainable.
    std::vector<std::pair<std::string, at::Tensor>> head_parameters() const;
    void set_head_tensor(const std::string& name, const at::Tensor& value);  // copies in; throws on a shape mismatch
    void reset_head(uint64_t seed);  // a fresh head (head_from_checkpoint() becomes false)
    // BERT's pooler; pooler_from_checkpoint() is false when the checkpoint had none and it was drawn at random.
    bool pooler_from_checkpoint() const { return pooler_from_checkpoint_; }
    std::vector<std::pair<std::string, at::Tensor>> pooler_parameters() const;
    // The pooler output tanh(pooler.dense(h[:, 0])) [B, H] of last hidden states [B, n, H], as BertModel and
    // RobertaModel give it to *ForMultipleChoice. BERT always has one; RoBERTa has the checkpoint's, or after
    // ensure_pooler() one drawn from a fixed seed (frozen, with a note); ELECTRA has none (ensure_pooler throws).
    void ensure_pooler();
    // Overrides the config's hidden_dropout_prob (training-time dropout on hidden states; the head's too where the
    // config sets no classifier_dropout), as transformers does with a config edited before loading.
    void set_hidden_dropout(double p) { cfg_.hidden_dropout = p; }
    at::Tensor pool(const at::Tensor& hidden, const LinearDelta* pooler_delta = nullptr) const;
    void set_pooler_tensor(const std::string& name, const at::Tensor& value);
    // Every backbone tensor (frozen unless set_backbone_trainable), under transformers' names.
    std::vector<std::pair<std::string, at::Tensor>> backbone_parameters() const;
    void set_backbone_trainable(bool on);
    int64_t backbone_param_count() const;
    int64_t head_param_count() const;

    void to(const at::Device& device);
    at::Device device() const { return device_; }

    // Folds an adaptation's LoRA and IA3 changes into the linear layers' weights (PEFT's merge_and_unload):
    // W += scaling * B A; IA3 at the output scales W's rows and the bias, at the input W's columns. Afterwards
    // forward(b, Adaptation{}) computes what forward(b, a) computed (up to rounding). Prefixes, virtual
    // tokens and bottleneck adapters cannot be merged (throws).
    void merge(const Adaptation& a);

private:
    EncoderClassifier() = default;
    void init_from(const std::map<std::string, at::Tensor>* tensors, const std::string& source,
                   const std::function<at::Tensor(const std::string&)>& lookup, int64_t num_labels, uint64_t seed);
    at::Tensor embed(const Batch& b, int64_t prefix_len, const at::Tensor& input_prompt, bool training) const;
    at::Tensor act(const at::Tensor& x) const;

    ModelConfig cfg_;
    int64_t num_labels_ = 2;
    bool head_from_checkpoint_ = false;
    bool pooler_from_checkpoint_ = true;
    std::vector<std::string> notes_;
    std::vector<std::string> warnings_;
    at::Device device_ = at::kCPU;
    mutable std::atomic<int64_t> encoded_rows_{0};
    AttentionKernel attention_ = default_attention_kernel();

    at::Tensor word_emb_, pos_emb_, type_emb_;
    LayerNorm emb_norm_;
    Linear emb_project_;  // ELECTRA with embedding_size != hidden_size
    std::vector<EncoderLayer> layers_;
    Linear pooler_;      // BERT
    Linear classifier_;  // BERT: the linear classifier; RoBERTa/ELECTRA: out_proj
    Linear cls_dense_;   // RoBERTa/ELECTRA head dense
};

// Cross-entropy over the logits (transformers' single_label_classification loss).
at::Tensor classification_loss(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace ptune

namespace ptune {
// Right-pads token id lists to the longest with `pad_id`; mask 1 on real tokens. type_ids may be empty.
Batch make_batch(const std::vector<std::vector<int64_t>>& ids, int64_t pad_id,
                 const std::vector<std::vector<int64_t>>& type_ids = {});
}  // namespace ptune
