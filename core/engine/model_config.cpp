#include "core/engine/model_config.h"

#include <filesystem>

#include "core/io/json_util.h"

namespace ptune {

void ModelConfig::check_fits(int64_t max_len, int64_t prompt_len) const {
    if (max_len + prompt_len + position_offset() > max_position_embeddings) {
        throw Error("max length " + std::to_string(max_len) + " + prompt length " + std::to_string(prompt_len) +
                    (position_offset() ? " + position offset " + std::to_string(position_offset()) : "") +
                    " exceeds the model's " + std::to_string(max_position_embeddings) +
                    " position embeddings (max_position_embeddings in config.json): the real tokens take positions " +
                    "after the prompt. Use max length <= " + std::to_string(std::max<int64_t>(0, max_input_len(prompt_len))) +
                    " or a shorter prompt.");
    }
}

int64_t ModelConfig::encoder_param_count(bool with_pooler) const {
    int64_t E = embedding_size, H = hidden_size, I = intermediate_size;
    int64_t n = (vocab_size + max_position_embeddings + type_vocab_size) * E + 2 * E;
    if (E != H) n += E * H + H;
    int64_t layer = 4 * (H * H + H) + 2 * H + (H * I + I) + (I * H + H) + 2 * H;
    n += num_layers * layer;
    if (with_pooler) n += H * H + H;
    return n;
}

ModelConfig ModelConfig::from_dir(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (dir.empty()) throw Error("no model directory given");
    if (!fs::exists(dir, ec)) throw Error(dir + ": no such directory");
    if (!fs::is_directory(dir, ec))
        throw Error(dir + ": a file, not a directory: give the model's directory (the one holding config.json)");
    std::string path = (fs::path(dir) / "config.json").string();
    if (!fs::exists(path, ec)) {
        throw Error(dir + ": not a Hugging Face model directory (no config.json)");
    }
    ModelConfig c = from_json_file(path);
    c.dir = dir;
    return c;
}

ModelConfig ModelConfig::from_json_file(const std::string& path) {
    json j = read_json_file(path);
    if (!j.is_object()) throw Error(path + ": expected a JSON object");
    ModelConfig c;
    c.model_type = get_field<std::string>(j, "model_type", path);
    c.family = find_encoder_family(c.model_type);
    if (!c.family)
        throw Error(path + ": model_type \"" + c.model_type + "\" is not supported (ptune trains encoders: " +
                    encoder_model_types() + ")");
    c.family->read_config(j, path, c);
    if (c.hidden_act != "gelu" && c.hidden_act != "gelu_new" && c.hidden_act != "gelu_pytorch_tanh" &&
        c.hidden_act != "relu" && c.hidden_act != "gelu_fast" && c.hidden_act != "tanh") {
        throw Error(path + ": hidden_act \"" + c.hidden_act + "\" is not supported (gelu, gelu_new, relu, tanh)");
    }
    if (j.contains("id2label") && j["id2label"].is_object()) {
        const auto& m = j["id2label"];
        c.id2label.assign(m.size(), "");
        for (auto it = m.begin(); it != m.end(); ++it) {
            size_t k = 0;
            try {
                k = std::stoul(it.key());
            } catch (...) {
                throw Error(path + ": id2label key \"" + it.key() + "\" is not an integer");
            }
            if (k >= c.id2label.size()) throw Error(path + ": id2label ids must be 0..N-1");
            if (!it.value().is_string()) throw Error(path + ": id2label[" + it.key() + "] is not a string");
            c.id2label[k] = it.value().get<std::string>();
        }
    } else if (j.contains("num_labels")) {
        int64_t n = get_field<int64_t>(j, "num_labels", path);
        for (int64_t i = 0; i < n; ++i) c.id2label.push_back("LABEL_" + std::to_string(i));
    }
    return c;
}

void EncoderFamily::read_config(const json& j, const std::string& path, ModelConfig& c) const {
    c.vocab_size = get_field<int64_t>(j, "vocab_size", path);
    c.hidden_size = get_field<int64_t>(j, "hidden_size", path);
    c.embedding_size = get_field_or<int64_t>(j, "embedding_size", c.hidden_size, path);
    c.num_layers = get_field<int64_t>(j, "num_hidden_layers", path);
    c.num_heads = get_field<int64_t>(j, "num_attention_heads", path);
    c.intermediate_size = get_field<int64_t>(j, "intermediate_size", path);
    c.max_position_embeddings = get_field<int64_t>(j, "max_position_embeddings", path);
    c.type_vocab_size = get_field_or<int64_t>(j, "type_vocab_size", 2, path);
    c.pad_token_id = get_field_or<int64_t>(j, "pad_token_id", padding_idx_positions() ? 1 : 0, path);
    c.layer_norm_eps = get_field_or<double>(j, "layer_norm_eps", 1e-12, path);
    c.hidden_dropout = get_field_or<double>(j, "hidden_dropout_prob", 0.1, path);
    c.attention_dropout = get_field_or<double>(j, "attention_probs_dropout_prob", 0.1, path);
    if (j.contains("classifier_dropout") && !j["classifier_dropout"].is_null())
        c.classifier_dropout = get_field<double>(j, "classifier_dropout", path);
    c.initializer_range = get_field_or<double>(j, "initializer_range", 0.02, path);
    c.hidden_act = get_field_or<std::string>(j, "hidden_act", "gelu", path);
    check_sizes(c, path, "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size");
}

void check_sizes(const ModelConfig& c, const std::string& path, const char* hidden, const char* layers,
                 const char* heads, const char* intermediate) {
    if (c.vocab_size <= 0 || c.hidden_size <= 0 || c.num_layers <= 0 || c.num_heads <= 0 ||
        c.intermediate_size <= 0 || c.max_position_embeddings <= 0 || c.embedding_size <= 0 || c.type_vocab_size < 0) {
        throw Error(path + ": sizes must be positive (vocab_size, " + hidden + ", " + layers + ", " + heads + ", " +
                    intermediate + ", max_position_embeddings)");
    }
    if (c.hidden_size % c.num_heads != 0) {
        throw Error(path + ": " + hidden + " " + std::to_string(c.hidden_size) + " is not a multiple of " + heads + " " +
                    std::to_string(c.num_heads));
    }
}

}  // namespace ptune
