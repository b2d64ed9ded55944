#pragma once
// P-Tuning v2's deep prompts: P trainable key and value vectors in each chosen layer.
// Layout of the flat prompt tensor (PEFT's `prompt_embeddings`): [P, 2 * n_layers * token_dim]; viewed as
// [P, 2 * n_layers, heads, head_dim] (token_dim = heads * head_dim: H for encoders, kv_heads * head_dim for decoders), chosen layer i's key is index 2i and its value 2i + 1. With all layers
// chosen this is exactly PEFT's PREFIX_TUNING layout. With the MLP option the flat tensor is computed as
// Linear2(tanh(Linear1(Embedding(P, H)))) (PEFT's prefix_projection).
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "core/engine/encoder.h"
#include "core/engine/prompt_options.h"

namespace ptune {

// The shape of a model's key/value prefixes: layers, the heads keys and values have (key/value heads for a
// grouped-query decoder) and their width. token_dim = heads * head_dim is PEFT's token_dim.
struct PrefixGeometry {
    int64_t num_layers = 0, heads = 0, head_dim = 0;
    int64_t token_dim() const { return heads * head_dim; }
    static PrefixGeometry of(const ModelConfig& cfg) { return {cfg.num_layers, cfg.num_heads, cfg.head_dim()}; }
};

class DeepPrompt {
public:
    DeepPrompt(const ModelConfig& cfg, const PrefixOptions& opt, uint64_t seed)
        : DeepPrompt(PrefixGeometry::of(cfg), opt, seed) {}
    DeepPrompt(const PrefixGeometry& geometry, const PrefixOptions& opt, uint64_t seed);
    const PrefixGeometry& geometry() const { return geo_; }

    const PrefixOptions& options() const { return opt_; }
    const std::vector<int>& layers() const { return layers_; }   // chosen layers, sorted
    int64_t prompt_len() const { return opt_.prompt_len; }

    // The flat prompts [P, 2 * n_chosen * H] (the MLP's output when it is on).
    at::Tensor flat() const;
    // Per-layer prefixes for a batch (dropout applied in training). Layers not chosen stay undefined.
    PrefixKV prefix(const at::Tensor& flat, bool training) const;
    PrefixKV prefix(bool training) const { return prefix(flat(), training); }

    // Trainable tensors under ptune's names: "prompt_embeddings" (no MLP), or "embedding.weight",
    // "transform.0.weight", "transform.0.bias", "transform.2.weight", "transform.2.bias" (PEFT's module names).
    std::vector<std::pair<std::string, at::Tensor>> parameters() const;
    void set_parameter(const std::string& name, const at::Tensor& value);
    int64_t param_count() const;

    // L2 norm of each chosen layer's key prefix and value prefix (all P vectors together).
    std::vector<std::pair<double, double>> layer_norms(const at::Tensor& flat) const;
    // The same norms as a [2 * layers] float tensor on the prompts' device (key, value per layer), no host read.
    at::Tensor layer_norms_tensor(const at::Tensor& flat) const;

    void to(const at::Device& device);

private:
    PrefixGeometry geo_;
    PrefixOptions opt_;
    std::vector<int> layers_;
    at::Tensor prompts_;          // [P, 2 n H] without MLP
    at::Tensor embedding_;        // [P, H] with MLP
    Linear fc1_, fc2_;
};

}  // namespace ptune
