#pragma once
// The options of the PEFT methods beside P-Tuning v2, torch-free so specs, the CLI and the workbench share them.
// Methods: ptv2 (deep prompts; with mlp: prefix tuning), prompt (prompt tuning), ptuning (P-tuning v1),
// lora, ia3, adapter (bottleneck adapters), full (full fine-tuning), head (the linear probe: the head alone).
#include <cstdint>
#include <string>
#include <vector>

#include "core/engine/prompt_options.h"
#include "core/io/json_util.h"

namespace ptune {

const std::vector<std::string>& method_names();   // in the order above
bool is_method_name(const std::string& name);
// The name ptune uses for an encoder layer's linear module (query, key, value, attention.output.dense,
// intermediate.dense, output.dense) given that name, BERT's full path ("attention.self.query") or a family's own
// ("q_lin", "attention.q_lin", "lin1", ...); "" for a name no family has.
std::string canonical_module(const std::string& name);
// The methods with a prompt length P (ptv2, prompt, ptuning), and those that fold into the weights (lora, ia3).
// Inline: the torch-free store (experiments/compare.cpp) uses them without linking the engine.
inline bool has_prompt_len(const std::string& m) { return m == "ptv2" || m == "prompt" || m == "ptuning"; }
inline bool is_mergeable(const std::string& m) { return m == "lora" || m == "ia3"; }

struct DeltaOptions {
    // prompt: how the P virtual tokens start: random (N(0, 1)), vocab (sampled word embeddings), text
    std::string prompt_init = "random";
    std::string prompt_init_text;
    // ptuning: the prompt encoder
    std::string encoder = "mlp";       // mlp | lstm
    int64_t encoder_hidden = 0;        // 0: the model's hidden size
    // lora
    int64_t lora_r = 8;
    double lora_alpha = 16;
    double lora_dropout = 0.0;
    bool rslora = false;
    // lora and ia3: the linear layers ("query", "key", "value", "attention.output.dense", "intermediate.dense",
    // "output.dense" = the feed-forward output); empty: the method's default (lora: query, value;
    // ia3: key, value, attention.output.dense, output.dense)
    std::vector<std::string> target_modules;
    std::vector<std::string> feedforward_modules;   // ia3: input-scaled; empty: attention.output.dense, output.dense
    // adapter: bottleneck adapters (Houlsby et al. 2019), y += up(act(down(y))) on a sublayer's output.
    int64_t adapter_size = 0;                  // the bottleneck m; 0: hidden size / 16 (reduction factor 16), at least 1
    std::string adapter_placement = "houlsby"; // houlsby: after attention and after the feed-forward; pfeiffer: after the feed-forward only
    std::string adapter_act = "relu";          // relu | gelu | tanh | swish

    // Throws ptune::Error naming the field ("method.lora_r: ...") for the options `method` uses.
    void validate(const std::string& method) const;
};

json delta_options_to_json(const std::string& method, const DeltaOptions& d);   // the fields `method` uses
DeltaOptions delta_options_from_json(const json& j, const std::string& where);

// Trainable parameters of a method (the head excluded) for a model of hidden size H, intermediate size I,
// L layers and embedding size E; full: the backbone's `backbone` parameters; head: 0.
// The adapter's bottleneck size for hidden size H (adapter_size, or H / 16).
int64_t adapter_bottleneck(const DeltaOptions& d, int64_t H);

int64_t method_param_count(const std::string& method, const PrefixOptions& prefix, const DeltaOptions& d, int64_t H,
                           int64_t I, int L, int64_t E, int64_t backbone);

}  // namespace ptune
