#pragma once
// An encoder model family (BERT, RoBERTa, ELECTRA, DistilBERT, ...): what differs between them, as data the one
// encoder forward pass (encoder.cpp) reads. Torch-free, so the workbench and the config fuzzer can use it.
//
// ptune names every encoder tensor as BERT does ("embeddings.word_embeddings.weight",
// "encoder.layer.3.attention.self.query.weight", ...); a family maps those names to its checkpoint's. Adding a
// family: one file in core/engine/families/encoders/ defining `const EncoderFamily& <name>_encoder_family()`, and
// one line in families/encoders/registry.cpp.
#include <cstdint>
#include <string>
#include <vector>

#include "core/io/json_util.h"

namespace ptune {

struct ModelConfig;

// The sequence-classification head on the first token's last hidden state h.
//   on the pooler (BERT):  classifier(dropout(tanh(pooler.dense(h))))
//   otherwise:             out(dropout(act(dense(dropout?(h)))))
struct EncoderHeadSpec {
    bool on_pooler = false;
    std::string dense;                  // tensor stem of the dense layer ("classifier.dense", "pre_classifier")
    std::string out = "classifier";     // tensor stem of the output layer ("classifier", "classifier.out_proj")
    std::string activation = "tanh";    // tanh | gelu | relu
    bool dropout_before_dense = true;   // DistilBERT: none
};

class EncoderFamily {
public:
    virtual ~EncoderFamily() = default;
    virtual std::string name() const = 0;                       // "BERT", shown to users
    virtual std::vector<std::string> model_types() const = 0;   // config.json model_type values it reads
    virtual std::string weight_prefix() const = 0;              // "bert." (a base model's names carry it)
    // Fills the sizes and options of `cfg` from config.json (family and model_type are already set). The default
    // reads BERT's keys (hidden_size, num_hidden_layers, ...).
    virtual void read_config(const json& j, const std::string& path, ModelConfig& cfg) const;
    // The checkpoint's name (without weight_prefix) of a layer module named as in BERT ("attention.self.query",
    // "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense", "output.dense",
    // "output.LayerNorm"), and the path of the layer list ("encoder.layer.").
    virtual std::string layer_module(const std::string& bert_module) const { return bert_module; }
    virtual std::string layers_path() const { return "encoder.layer."; }
    // Positions count from padding_idx + 1 and pads take padding_idx (RoBERTa); otherwise from 0.
    virtual bool padding_idx_positions() const { return false; }
    // Dropout on the attention block's output before its residual connection (not in DistilBERT).
    virtual bool attention_output_dropout() const { return true; }
    // The pooler (tanh dense on the first token): BERT always has one (drawn at random when the checkpoint has
    // none, as transformers does); RoBERTa's is read when stored; the others have none.
    enum class Pooler { Always, IfStored, None };
    virtual Pooler pooler() const = 0;
    virtual EncoderHeadSpec head() const = 0;
    // For a family without a pooler: what its transformers multiple-choice head is, for the refusal
    // ("its multiple-choice head (transformers' SequenceSummary)").
    virtual std::string multiple_choice_head() const { return "its multiple-choice head"; }
    // Why PEFT cannot put a prefix (past_key_values) into this family's transformers model; empty when it can.
    virtual std::string peft_prefix_refusal() const { return ""; }
};

// Every registered encoder family (families/encoders/registry.cpp).
const std::vector<const EncoderFamily*>& encoder_families();
// The family reading `model_type`, or nullptr.
const EncoderFamily* find_encoder_family(const std::string& model_type);
// The model_types every encoder family reads, comma-separated (for messages).
std::string encoder_model_types();
// BERT's family: the default of a ModelConfig made in memory.
const EncoderFamily& bert_encoder_family();

}  // namespace ptune
