#pragma once
// Text generation with a causal LM and an optional prefix, over a key/value cache: the prompt runs once, then
// one token per step. Logits are processed in transformers' order: repetition penalty, then (when sampling)
// temperature, top-k, top-p; greedy takes the arg-max. Generation stops at max_new_tokens, at a stop token (the
// model's eos_token_id by default) or when the generated text contains a stop string (the token that completes
// it is kept, as transformers' StopStringCriteria keeps it).
#include <torch/torch.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/engine/decoder.h"
#include "core/engine/deep_prompt.h"
#include "core/engine/events.h"
#include "core/engine/generate_options.h"
#include "core/text/tokenizer.h"

namespace ptune {

// Generates from `input_ids` (special tokens as the caller added them). `tokenizer` decodes the new tokens (for
// stop strings, the callback and generated_text); without one (null: benchmarks) there is no text and stop
// strings are refused. `prefix` may be null. A set `cancel` ends it after the token in progress (stop_reason
// "cancelled").
Generation generate(const CausalLM& model, const Tokenizer* tokenizer, const std::vector<int64_t>& input_ids,
                    const PrefixKV* prefix, const GenerateOptions& opt, const TokenCallback& on_token = {},
                    const CancelFlag* cancel = nullptr);

// A causal LM and its optional PEFT prefix adapter (PREFIX_TUNING, CAUSAL_LM) on a device, the prefix computed
// once: what `ptune generate`, `ptune predict` and the workbench's Generate panel use.
struct DecoderWithPrefix {
    std::unique_ptr<CausalLM> model;
    std::unique_ptr<DeepPrompt> prompt;   // null without an adapter
    PrefixKV prefix;
    std::vector<std::string> notes;       // what the adapter import could not keep
    const PrefixKV* prefix_ptr() const { return prompt ? &prefix : nullptr; }
};
// `adapter` empty: the base model. Throws ptune::Error naming the directory, file or field.
DecoderWithPrefix load_decoder_with_prefix(const std::string& model_dir, const std::string& adapter, WeightDtype dtype,
                                           const std::string& device);

// Greedy continuations of several prompts at once (left-padded into one batch, one cache): each row's new
// tokens, ending before its first stop token (or after max_new_tokens). Evaluation's exact match uses it.
std::vector<std::vector<int64_t>> greedy_batch(const CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                                               const PrefixKV* prefix, int64_t max_new_tokens,
                                               const std::vector<int64_t>& stop_ids);

// The next-token choice applied to logits [B, V] given the ids so far [B, T] (exposed for tests): the processed
// scores (repetition penalty, temperature, top-k, top-p masking to -inf).
at::Tensor process_logits(const at::Tensor& logits, const at::Tensor& ids_so_far, const GenerateOptions& opt);

}  // namespace ptune
