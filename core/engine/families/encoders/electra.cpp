// ELECTRA (the discriminator): BERT's layers, embeddings that may be narrower than the hidden size and are
// projected (embeddings_project, from embedding_size in config.json), no pooler; the head is
// ElectraClassificationHead (dropout, dense, gelu, dropout, out_proj) on [CLS].
#include "core/engine/encoder_family.h"

namespace ptune {

namespace {
class Electra final : public EncoderFamily {
public:
    std::string name() const override { return "ELECTRA"; }
    std::vector<std::string> model_types() const override { return {"electra"}; }
    std::string weight_prefix() const override { return "electra."; }
    Pooler pooler() const override { return Pooler::None; }
    std::string multiple_choice_head() const override {
        return "its multiple-choice head (transformers' SequenceSummary)";
    }
    EncoderHeadSpec head() const override {
        EncoderHeadSpec h;
        h.dense = "classifier.dense";
        h.out = "classifier.out_proj";
        h.activation = "gelu";
        return h;
    }
};
}  // namespace

const EncoderFamily& electra_encoder_family() {
    static const Electra f;
    return f;
}

}  // namespace ptune
