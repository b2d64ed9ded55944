// Writes a randomly initialised BERT of any size as a Hugging Face model directory, for benchmarks
// (BERT-base: --layers 12 --hidden 768 --heads 12 --intermediate 3072 --vocab 30522). The tokenizer files of
// the built-in model are copied beside it, so `ptune train` can run on the built-in data (its ids are < 310).
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <filesystem>

#include "core/engine/builtin.h"
#include "core/engine/tensor_io.h"
#include "core/io/json_util.h"

using namespace ptune;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
    CLI::App app{"make a random BERT model directory for benchmarks"};
    std::string out;
    int64_t L = 12, H = 768, A = 12, I = 3072, V = 30522, maxpos = 512;
    app.add_option("--out", out)->required();
    app.add_option("--layers", L);
    app.add_option("--hidden", H);
    app.add_option("--heads", A);
    app.add_option("--intermediate", I);
    app.add_option("--vocab", V);
    CLI11_PARSE(app, argc, argv);
    fs::create_directories(out);
    at::manual_seed(0);
    std::vector<std::pair<std::string, at::Tensor>> t;
    auto w = [&](const std::string& n, std::vector<int64_t> shape) { t.push_back({n, at::randn(shape) * 0.02}); };
    auto z = [&](const std::string& n, int64_t d) { t.push_back({n, at::zeros({d})}); };
    auto o = [&](const std::string& n, int64_t d) { t.push_back({n, at::ones({d})}); };
    w("bert.embeddings.word_embeddings.weight", {V, H});
    w("bert.embeddings.position_embeddings.weight", {maxpos, H});
    w("bert.embeddings.token_type_embeddings.weight", {2, H});
    o("bert.embeddings.LayerNorm.weight", H);
    z("bert.embeddings.LayerNorm.bias", H);
    for (int64_t l = 0; l < L; ++l) {
        std::string p = "bert.encoder.layer." + std::to_string(l) + ".";
        for (const char* n : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
            w(p + n + ".weight", {H, H});
            z(p + n + ".bias", H);
        }
        o(p + "attention.output.LayerNorm.weight", H);
        z(p + "attention.output.LayerNorm.bias", H);
        w(p + "intermediate.dense.weight", {I, H});
        z(p + "intermediate.dense.bias", I);
        w(p + "output.dense.weight", {H, I});
        z(p + "output.dense.bias", H);
        o(p + "output.LayerNorm.weight", H);
        z(p + "output.LayerNorm.bias", H);
    }
    w("bert.pooler.dense.weight", {H, H});
    z("bert.pooler.dense.bias", H);
    save_tensors(out + "/model.safetensors", t);
    json cfg = {{"model_type", "bert"},         {"architectures", {"BertForSequenceClassification"}},
                {"vocab_size", V},              {"hidden_size", H},
                {"num_hidden_layers", L},       {"num_attention_heads", A},
                {"intermediate_size", I},       {"max_position_embeddings", maxpos},
                {"type_vocab_size", 2},         {"hidden_act", "gelu"},
                {"hidden_dropout_prob", 0.1},   {"attention_probs_dropout_prob", 0.1},
                {"layer_norm_eps", 1e-12},      {"initializer_range", 0.02},
                {"pad_token_id", 0},            {"id2label", {{"0", "negative"}, {"1", "positive"}}},
                {"label2id", {{"negative", 0}, {"positive", 1}}}};
    write_json_file(out + "/config.json", cfg);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "vocab.txt"})
        fs::copy_file(builtin_dir() + "/model/" + f, out + "/" + f, fs::copy_options::overwrite_existing);
    std::cerr << "wrote " << out << "\n";
}
