#pragma once
// P-Tuning v2 options, torch-free so the CLI, specs and the workbench share them.
#include <cstdint>
#include <string>
#include <vector>

#include "core/io/error.h"

namespace ptune {

// Which layers get prompts: "all", "first:K", "last:K", or an explicit list "0,2,5" (0-based).
struct LayerSpec {
    std::string text = "all";
    // The chosen layers, sorted and unique; throws ptune::Error for a malformed spec or a layer out of range.
    std::vector<int> resolve(int num_layers) const;
    static LayerSpec parse(const std::string& text);  // validates the syntax
    // The spec that names exactly `layers` (all / first:K / last:K when it is one of those).
    static LayerSpec from_layers(const std::vector<int>& layers, int num_layers);
};

// Zeros makes all P prompt vectors of a layer equal; they get equal gradients and stay equal unless prefix
// dropout (or an MLP) breaks the symmetry, so P then acts as 1. Normal is the default, as in PEFT.
enum class PromptInit { Normal, Zeros };

struct PrefixOptions {
    int64_t prompt_len = 16;
    LayerSpec layers;
    bool mlp = false;            // prefix tuning's reparameterization: Embedding(P, H) -> Linear -> tanh -> Linear
    int64_t mlp_hidden = 512;
    double dropout = 0.0;        // on the prefix keys/values, in training
    PromptInit init = PromptInit::Normal;
    double init_std = 1.0;       // nn.Embedding's default N(0, 1), as PEFT and THUDM's code initialise

    // Trainable parameters for a model of hidden size H and L layers (head excluded).
    int64_t param_count(int64_t hidden, int num_layers) const;
    void validate() const;       // throws ptune::Error naming the field
};

const char* init_name(PromptInit i);
PromptInit init_from_name(const std::string& s);

}  // namespace ptune
