#pragma once
// Decoder-only causal language models (GPT-2, the Llama family), written out with plain tensor operations so a
// reader can follow one block top to bottom, nanoGPT-style. What differs between families (config.json keys,
// weight names, norms, position scheme, MLP shape, biases) is data: a family (core/engine/families/) reads its
// config.json into a DecoderSpec and maps its checkpoint's tensors onto DecoderWeights; the forward pass below is
// shared.
//
// Deep prompts enter as PEFT lays them out for decoders: per layer P key and value vectors per key/value head,
// seen by every position and never rotated (they sit in the key/value cache as if computed earlier); the real
// tokens' positions continue after them (P..P+n-1, counted from the first real token, so left padding changes
// nothing); real tokens attend causally. This is what transformers computes with PEFT's past_key_values.
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/engine/attention.h"
#include "core/engine/deep_prompt.h"   // PrefixGeometry
#include "core/engine/encoder.h"   // Linear, PrefixKV
#include "core/io/json_util.h"

namespace ptune {

enum class NormKind { LayerNorm, RMSNorm };
enum class PositionKind { Learned, Rotary };
// Plain: proj(act(fc(x))) (GPT-2). Gated: down(act(gate(x)) * up(x)) (Llama, Qwen, Mistral).
enum class MlpKind { Plain, Gated };

// Rotary embeddings (RoFormer) and the rope_scaling kinds the supported checkpoints use.
struct RopeSpec {
    double theta = 10000.0;
    std::string type = "default";   // default | linear | llama3
    double factor = 1.0;            // linear, llama3
    double low_freq_factor = 1.0;   // llama3
    double high_freq_factor = 4.0;  // llama3
    int64_t original_max_positions = 8192;  // llama3
    // The inverse frequencies [head_dim / 2] (float32), as transformers' rope initialisation computes them.
    at::Tensor inv_freq(int64_t head_dim) const;
};

struct DecoderSpec {
    std::string dir;          // the model directory ("" in memory)
    std::string family;       // the family that read it: "gpt2", "llama"
    std::string model_type;   // config.json's model_type
    int64_t vocab_size = 0, hidden_size = 0, num_layers = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0;
    int64_t intermediate_size = 0;
    int64_t max_positions = 0;        // learned position table size, or max_position_embeddings (rotary)
    NormKind norm = NormKind::LayerNorm;
    double norm_eps = 1e-5;
    PositionKind positions = PositionKind::Learned;
    RopeSpec rope;
    MlpKind mlp = MlpKind::Plain;
    std::string act = "gelu_new";     // gelu_new | gelu | relu | silu
    bool qkv_bias = false, out_bias = false, mlp_bias = false;
    bool qk_norm = false;             // Qwen3: RMSNorm over head_dim on queries and keys before the rotation
    bool scale_by_inverse_layer = false;   // GPT-2 scale_attn_by_inverse_layer_idx
    int64_t sliding_window = 0;       // Mistral v0.1: keys further back than this are not attended (0: none)
    bool tie_embeddings = false;
    // Dropout in training, as transformers applies it: on the embeddings (GPT-2 embd_pdrop), the attention
    // probabilities (attn_pdrop, attention_dropout) and each sublayer's output before the residual (resid_pdrop).
    double embd_dropout = 0, attn_dropout = 0, resid_dropout = 0;
    std::vector<int64_t> eos_token_ids;
    std::optional<int64_t> bos_token_id, pad_token_id;
    std::string stored_dtype = "float32";   // config.json torch_dtype / dtype

    int64_t kv_dim() const { return num_kv_heads * head_dim; }
    int64_t param_count() const;            // from the shapes alone (tied embeddings counted once)
    std::string describe() const;           // "llama: 3 layers, hidden 48, 4 heads (2 key/value), rotary"
};

struct Norm {
    NormKind kind = NormKind::LayerNorm;
    at::Tensor weight, bias;   // bias undefined for RMSNorm
    double eps = 1e-5;
    at::Tensor operator()(const at::Tensor& x) const;
};

struct DecoderBlock {
    Norm ln1, ln2;             // before attention, before the MLP
    Linear q, k, v, o;         // weights [out, in]
    Norm q_norm, k_norm;       // Qwen3 only
    Linear fc, proj;           // MlpKind::Plain
    Linear gate, up, down;     // MlpKind::Gated
};

struct DecoderWeights {
    at::Tensor wte;            // [V, H]
    at::Tensor wpe;            // [max_positions, H] (learned positions)
    std::vector<DecoderBlock> blocks;
    Norm ln_f;
    at::Tensor lm_head;        // [V, H]; the same tensor as wte when tied
};

// Named tensors of a checkpoint, for a family's loader. need() finds `name` under any of the prefixes the family
// allows ("transformer.", "model.", ...), checks its shape and converts it to the load dtype; it throws naming
// the file, the tensor and both shapes.
class TensorSource {
public:
    TensorSource(std::string source, std::function<at::Tensor(const std::string&)> lookup,
                 std::vector<std::string> prefixes, at::ScalarType dtype)
        : source_(std::move(source)), lookup_(std::move(lookup)), prefixes_(std::move(prefixes)), dtype_(dtype) {}
    // Undefined when absent; as stored. found_as: the name it was found under (with its prefix).
    at::Tensor find(const std::string& name, std::string* found_as = nullptr) const;
    at::Tensor need(const std::string& name, const std::vector<int64_t>& shape) const;
    bool has(const std::string& name) const { return find(name).defined(); }
    const std::string& source() const { return source_; }
    at::ScalarType dtype() const { return dtype_; }

private:
    std::string source_;
    std::function<at::Tensor(const std::string&)> lookup_;
    std::vector<std::string> prefixes_;
    at::ScalarType dtype_;
};

// A model family: reads config.json and maps the checkpoint onto DecoderWeights. One file per family
// (core/engine/families/), one line in families/registry.cpp.
class DecoderFamily {
public:
    virtual ~DecoderFamily() = default;
    virtual std::string name() const = 0;                          // "gpt2"
    virtual std::vector<std::string> model_types() const = 0;      // config.json model_type values it reads
    virtual DecoderSpec read_config(const json& config, const std::string& path) const = 0;
    // Prefixes the checkpoint's names may carry ("transformer." for GPT2LMHeadModel saves, "" for the original).
    virtual std::vector<std::string> weight_prefixes() const = 0;
    virtual DecoderWeights load_weights(const DecoderSpec& spec, const TensorSource& src) const = 0;
};

// Every registered family (core/engine/families/registry.cpp).
const std::vector<const DecoderFamily*>& decoder_families();
// The family reading `model_type`, or nullptr.
const DecoderFamily* find_decoder_family(const std::string& model_type);
// Whether `dir`'s config.json names a model_type a decoder family reads (false for a missing or bad config).
bool is_causal_lm_dir(const std::string& dir);
// Throws ptune::Error unless is_causal_lm_dir(dir): no such directory, no config.json, or not a decoder ptune reads.
void require_causal_lm_dir(const std::string& dir);
// The model_types every decoder family reads, comma-separated (for messages).
std::string decoder_model_types();

// config.json (through its family) and generation_config.json's eos_token_id, without the weights: what the
// model is, for summaries and parameter counts. Throws naming the file for a model no family reads.
DecoderSpec read_decoder_spec(const std::string& dir);

// The weight dtype: as stored in the checkpoint (Auto), or converted. Trainable tensors stay float32.
enum class WeightDtype { Auto, Float32, BFloat16, Float16 };
WeightDtype parse_weight_dtype(const std::string& s, const std::string& what);   // auto|float32|bfloat16|float16
const char* weight_dtype_name(WeightDtype d);

// Per-layer keys and values of the sequence so far ([B, kv_heads, T, head_dim], rotated), the key mask
// [B, T] (1: attend) and the next position of each row; a prefix occupies the first P keys.
struct KVCache {
    std::vector<at::Tensor> key, value;
    at::Tensor key_mask;
    at::Tensor next_position;   // [B] int64
    int64_t length() const { return key_mask.defined() ? key_mask.size(1) : 0; }
};

class CausalLM {
public:
    // Loads config.json (through the family its model_type names) and the safetensors checkpoint (one file or
    // shards). Float32 weights by default; Auto keeps the stored dtype.
    static std::unique_ptr<CausalLM> load(const std::string& dir, WeightDtype dtype = WeightDtype::Float32);
    static std::unique_ptr<CausalLM> from_weights(const DecoderSpec& spec, DecoderWeights w);

    const DecoderSpec& spec() const { return spec_; }
    const DecoderWeights& weights() const { return w_; }
    at::ScalarType dtype() const { return w_.wte.scalar_type(); }
    at::Device device() const { return w_.wte.device(); }
    void to(const at::Device& device);
    AttentionKernel attention_kernel() const { return attention_; }
    void set_attention_kernel(AttentionKernel k) { attention_ = k; }
    // The prefix shape PEFT uses for this model: every layer, key/value heads, head_dim.
    PrefixGeometry prefix_geometry() const { return {spec_.num_layers, spec_.num_kv_heads, spec_.head_dim}; }

    // A cache holding only the prefix (or nothing) for a batch of B rows.
    KVCache empty_cache(int64_t batch, const PrefixKV* prefix) const;
    // Runs ids [B, n] (mask [B, n]: 1 on real tokens; left or right padding) after what `cache` holds, appends
    // their keys and values to it and returns the logits [B, n, V] (only the last position's, [B, 1, V], when
    // last_only). Positions continue from cache.next_position per row.
    at::Tensor forward(KVCache& cache, const at::Tensor& ids, const at::Tensor& mask, bool training,
                       bool last_only = false) const;
    // The same pass up to the final norm: hidden states [B, n, H] (training computes the LM head only where a
    // loss is taken, so that [B, n, V] logits of a large vocabulary never exist).
    at::Tensor hidden(KVCache& cache, const at::Tensor& ids, const at::Tensor& mask, bool training) const;
    at::Tensor lm_head(const at::Tensor& hidden) const { return at::linear(hidden, w_.lm_head); }
    // Logits [B, n, V] of a batch with an optional prefix, without keeping a cache.
    at::Tensor logits(const at::Tensor& ids, const at::Tensor& mask, const PrefixKV* prefix, bool training) const;

private:
    CausalLM() = default;
    at::Tensor act(const at::Tensor& x) const;
    DecoderSpec spec_;
    DecoderWeights w_;
    AttentionKernel attention_ = default_attention_kernel();
};

// Left-pads token id lists to the longest with `pad_id` (mask 0 there), as decoders are batched for generation.
std::pair<at::Tensor, at::Tensor> left_padded(const std::vector<std::vector<int64_t>>& ids, int64_t pad_id);

}  // namespace ptune
