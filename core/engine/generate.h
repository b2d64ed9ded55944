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
#include "core/text/tokenizer.h"

namespace ptune {

struct GenerateOptions {
    int64_t max_new_tokens = 32;
    bool do_sample = false;          // false: greedy
    double temperature = 1.0;        // sampling only; > 0
    int64_t top_k = 50;              // sampling only; 0: off (transformers' default is 50)
    double top_p = 1.0;              // sampling only; 1: off
    double repetition_penalty = 1.0; // 1: off; > 1 discourages every token already in the sequence
    // Stop tokens; when empty, the model's eos_token_id (generation_config.json, else config.json).
    std::vector<int64_t> stop_token_ids;
    bool ignore_eos = false;         // true: stop only at max_new_tokens or a stop string
    std::vector<std::string> stop_strings;
    uint64_t seed = 0;               // sampling's random generator
    void validate() const;           // throws ptune::Error naming the option
};

struct Generation {
    std::vector<int64_t> input_ids;    // the prompt's ids
    std::vector<int64_t> output_ids;   // the prompt's ids followed by the new ones
    std::string generated_text;        // the new tokens decoded (special tokens skipped)
    std::string stop_reason;           // "max_new_tokens" | "stop_token" | "stop_string"
    int64_t new_tokens = 0;
    double seconds_to_first_token = 0; // prompt (prefill) and the first new token
    double seconds_total = 0;
    double tokens_per_second() const;  // new tokens after the first, per second of decoding
};

// The defaults a model ships in generation_config.json (do_sample, temperature, top_k, top_p,
// repetition_penalty, max_new_tokens), as transformers' generate() applies them; the struct's defaults where the
// file or a field is missing. Throws naming the file for a field of the wrong type.
GenerateOptions generation_defaults(const std::string& model_dir);

// Called with each new token id and the text it adds (held back while it ends in an incomplete UTF-8 sequence).
using TokenCallback = std::function<void(int64_t id, const std::string& text)>;

// Generates from `input_ids` (special tokens as the caller added them). `tokenizer` decodes the new tokens (for
// stop strings, the callback and generated_text); without one (null: benchmarks) there is no text and stop
// strings are refused. `prefix` may be null.
Generation generate(const CausalLM& model, const Tokenizer* tokenizer, const std::vector<int64_t>& input_ids,
                    const PrefixKV* prefix, const GenerateOptions& opt, const TokenCallback& on_token = {});

// Greedy continuations of several prompts at once (left-padded into one batch, one cache): each row's new
// tokens, ending before its first stop token (or after max_new_tokens). Evaluation's exact match uses it.
std::vector<std::vector<int64_t>> greedy_batch(const CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                                               const PrefixKV* prefix, int64_t max_new_tokens,
                                               const std::vector<int64_t>& stop_ids);

// The next-token choice applied to logits [B, V] given the ids so far [B, T] (exposed for tests): the processed
// scores (repetition penalty, temperature, top-k, top-p masking to -inf).
at::Tensor process_logits(const at::Tensor& logits, const at::Tensor& ids_so_far, const GenerateOptions& opt);

}  // namespace ptune
