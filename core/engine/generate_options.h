#pragma once
// What a generation is asked to do and what it returns, without torch: the workbench's Generate panel and the
// CLI fill these; core/engine/generate.h runs them.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

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
    // "max_new_tokens" | "stop_token" | "stop_string" | "cancelled" | "max_positions" (a learned position table
    // is full)
    std::string stop_reason;
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

}  // namespace ptune
