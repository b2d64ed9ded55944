// DistilBERT (DistilBertModel + DistilBertForSequenceClassification): BERT's post-LN layers under other names
// (transformer.layer.N.attention.q_lin, sa_layer_norm, ffn.lin1, ...) and config keys (dim, n_layers, n_heads,
// hidden_dim, activation, dropout, seq_classif_dropout); no token types; no dropout on the attention output
// (TransformerBlock adds it to the input and normalises at once); LayerNorm eps 1e-12 throughout; the head is
// pre_classifier, ReLU, dropout, classifier on [CLS], with no pooler.
//
// transformers' DistilBERT takes no past_key_values, so PEFT cannot put a prefix into it: ptune injects the
// prefix itself, exactly as into BERT (the real tokens' positions follow the prefix).
#include "core/engine/encoder_family.h"

#include <map>

#include "core/engine/model_config.h"

namespace ptune {

namespace {
class DistilBert final : public EncoderFamily {
public:
    std::string name() const override { return "DistilBERT"; }
    std::vector<std::string> model_types() const override { return {"distilbert"}; }
    std::string weight_prefix() const override { return "distilbert."; }

    void read_config(const json& j, const std::string& path, ModelConfig& c) const override {
        c.vocab_size = get_field<int64_t>(j, "vocab_size", path);
        c.hidden_size = get_field<int64_t>(j, "dim", path);
        c.embedding_size = c.hidden_size;
        c.num_layers = get_field<int64_t>(j, "n_layers", path);
        c.num_heads = get_field<int64_t>(j, "n_heads", path);
        c.intermediate_size = get_field<int64_t>(j, "hidden_dim", path);
        c.max_position_embeddings = get_field<int64_t>(j, "max_position_embeddings", path);
        c.type_vocab_size = 0;
        c.pad_token_id = get_field_or<int64_t>(j, "pad_token_id", 0, path);
        c.layer_norm_eps = 1e-12;
        c.hidden_dropout = get_field_or<double>(j, "dropout", 0.1, path);
        c.attention_dropout = get_field_or<double>(j, "attention_dropout", 0.1, path);
        c.classifier_dropout = get_field_or<double>(j, "seq_classif_dropout", 0.2, path);
        c.initializer_range = get_field_or<double>(j, "initializer_range", 0.02, path);
        c.hidden_act = get_field_or<std::string>(j, "activation", "gelu", path);
        check_sizes(c, path, "dim", "n_layers", "n_heads", "hidden_dim");
    }

    std::string layers_path() const override { return "transformer.layer."; }
    std::string layer_module(const std::string& bert_module) const override {
        static const std::map<std::string, std::string> names{
            {"attention.self.query", "attention.q_lin"},
            {"attention.self.key", "attention.k_lin"},
            {"attention.self.value", "attention.v_lin"},
            {"attention.output.dense", "attention.out_lin"},
            {"attention.output.LayerNorm", "sa_layer_norm"},
            {"intermediate.dense", "ffn.lin1"},
            {"output.dense", "ffn.lin2"},
            {"output.LayerNorm", "output_layer_norm"},
        };
        auto it = names.find(bert_module);
        return it == names.end() ? bert_module : it->second;
    }
    bool attention_output_dropout() const override { return false; }
    Pooler pooler() const override { return Pooler::None; }
    std::string multiple_choice_head() const override {
        return "its multiple-choice head (transformers' pre_classifier, ReLU and classifier on [CLS], all trained)";
    }
    EncoderHeadSpec head() const override {
        EncoderHeadSpec h;
        h.dense = "pre_classifier";
        h.out = "classifier";
        h.activation = "relu";
        h.dropout_before_dense = false;
        return h;
    }
    std::string peft_prefix_refusal() const override {
        return "transformers' DistilBERT takes no past_key_values, so PEFT's PREFIX_TUNING cannot load a prefix into "
               "it (ptune injects the prefix itself; its own adapter format keeps it)";
    }
};
}  // namespace

const EncoderFamily& distilbert_encoder_family() {
    static const DistilBert f;
    return f;
}

}  // namespace ptune
