#pragma once
// The architecture facts ptune needs from a Hugging Face config.json. Torch-free, so the workbench can show a
// model summary without loading weights.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/engine/encoder_family.h"
#include "core/io/error.h"

namespace ptune {

struct ModelConfig {
    std::string dir;                 // the model directory ("" for in-memory)
    std::string model_type;          // as written in config.json
    const EncoderFamily* family = &bert_encoder_family();   // never null
    int64_t vocab_size = 0;
    int64_t hidden_size = 0;
    int64_t embedding_size = 0;      // ELECTRA may embed smaller and project; = hidden_size otherwise
    int64_t num_layers = 0;
    int64_t num_heads = 0;
    int64_t intermediate_size = 0;
    int64_t max_position_embeddings = 0;
    int64_t type_vocab_size = 2;     // 0: no token type embeddings (DistilBERT)
    int64_t pad_token_id = 0;
    double layer_norm_eps = 1e-12;
    double hidden_dropout = 0.1;
    double attention_dropout = 0.1;
    std::optional<double> classifier_dropout;
    double initializer_range = 0.02;
    std::string hidden_act = "gelu";
    std::vector<std::string> id2label;  // empty when the config names no labels

    int64_t head_dim() const { return hidden_size / num_heads; }
    // First position id of real tokens without a prefix (RoBERTa: padding_idx + 1).
    int64_t position_offset() const { return family->padding_idx_positions() ? pad_token_id + 1 : 0; }
    // The longest input (special tokens included) that fits the position table with a prefix of length P.
    int64_t max_input_len(int64_t prompt_len) const {
        return max_position_embeddings - position_offset() - prompt_len;
    }
    // Throws ptune::Error explaining the limit when max_len + P does not fit the position table.
    void check_fits(int64_t max_len, int64_t prompt_len) const;
    std::string arch_name() const { return family->name(); }          // "BERT", "RoBERTa", ...
    std::string weight_prefix() const { return family->weight_prefix(); }  // "bert.", "roberta.", ...
    bool has_pooler() const { return family->pooler() != EncoderFamily::Pooler::None; }

    // Parameters of the encoder (embeddings + layers + pooler when present), from the shapes alone.
    int64_t encoder_param_count(bool with_pooler) const;

    static ModelConfig from_json_file(const std::string& config_path);  // config.json
    static ModelConfig from_dir(const std::string& dir);                // dir/config.json
};

// Throws naming `path` and the config's own keys when a size is not positive or the hidden size does not split
// into the heads (for EncoderFamily::read_config).
void check_sizes(const ModelConfig& c, const std::string& path, const char* hidden, const char* layers,
                 const char* heads, const char* intermediate);

}  // namespace ptune
