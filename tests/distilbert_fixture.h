#pragma once
// A DistilBERT checkpoint made from the reference BERT (tests/fixtures/bert/model): the same layers under
// DistilBERT's names and config keys, BERT's token type 0 embedding folded into the position table (DistilBERT
// has no token types), and a fresh pre_classifier/classifier head. Its last hidden states therefore equal BERT's
// for single-segment input, which is what the tests check against.
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "core/engine/tensor_io.h"
#include "core/io/json_util.h"

inline void make_distilbert_from_bert(const std::string& bert_dir, const std::string& out_dir) {
    namespace fs = std::filesystem;
    using namespace ptune;
    fs::create_directories(out_dir);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "vocab.txt"})
        fs::copy_file(fs::path(bert_dir) / f, fs::path(out_dir) / f, fs::copy_options::overwrite_existing);
    const json b = read_json_file(bert_dir + "/config.json");
    json c = {{"model_type", "distilbert"},
              {"architectures", {"DistilBertForSequenceClassification"}},
              {"vocab_size", b["vocab_size"]},
              {"dim", b["hidden_size"]},
              {"n_layers", b["num_hidden_layers"]},
              {"n_heads", b["num_attention_heads"]},
              {"hidden_dim", b["intermediate_size"]},
              {"max_position_embeddings", b["max_position_embeddings"]},
              {"activation", "gelu"},
              {"dropout", 0.0},
              {"attention_dropout", 0.0},
              {"seq_classif_dropout", 0.2},
              {"sinusoidal_pos_embds", false},
              {"pad_token_id", 0},
              {"initializer_range", 0.02},
              {"id2label", b["id2label"]},
              {"label2id", b["label2id"]}};
    write_json_file(out_dir + "/config.json", c);
    const std::map<std::string, std::string> layer_names{
        {"attention.self.query", "attention.q_lin"},       {"attention.self.key", "attention.k_lin"},
        {"attention.self.value", "attention.v_lin"},       {"attention.output.dense", "attention.out_lin"},
        {"attention.output.LayerNorm", "sa_layer_norm"},   {"intermediate.dense", "ffn.lin1"},
        {"output.dense", "ffn.lin2"},                      {"output.LayerNorm", "output_layer_norm"}};
    auto bert = load_all(bert_dir + "/model.safetensors");
    std::vector<std::pair<std::string, at::Tensor>> out;
    const at::Tensor type0 = bert.at("bert.embeddings.token_type_embeddings.weight")[0];
    for (auto& [n, t] : bert) {
        if (n.rfind("bert.embeddings.", 0) == 0) {
            if (n.find("token_type") != std::string::npos) continue;
            at::Tensor v = n.find("position_embeddings") != std::string::npos ? t + type0 : t;
            out.push_back({"distilbert." + n.substr(5), v.contiguous()});
        } else if (n.rfind("bert.encoder.layer.", 0) == 0) {
            const std::string rest = n.substr(std::string("bert.encoder.layer.").size());   // "0.attention.self.query.weight"
            const std::string layer = rest.substr(0, rest.find('.'));
            const std::string module = rest.substr(rest.find('.') + 1, rest.rfind('.') - rest.find('.') - 1);
            const std::string param = rest.substr(rest.rfind('.') + 1);
            out.push_back({"distilbert.transformer.layer." + layer + "." + layer_names.at(module) + "." + param, t});
        }
    }
    const int64_t H = b["hidden_size"].get<int64_t>();
    at::manual_seed(11);
    out.push_back({"pre_classifier.weight", at::randn({H, H}) * 0.1});
    out.push_back({"pre_classifier.bias", at::randn({H}) * 0.1});
    out.push_back({"classifier.weight", at::randn({2, H}) * 0.1});
    out.push_back({"classifier.bias", at::zeros({2})});
    save_tensors(out_dir + "/model.safetensors", out);
}
