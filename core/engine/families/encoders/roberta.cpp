// RoBERTa and XLM-RoBERTa: BERT's layers; positions count from padding_idx + 1 (pads take padding_idx); the
// head is RobertaClassificationHead (dropout, dense, tanh, dropout, out_proj) on <s>; the pooler is read when
// the checkpoint has one (multiple choice uses it).
#include "core/engine/encoder_family.h"

namespace ptune {

namespace {
class Roberta final : public EncoderFamily {
public:
    std::string name() const override { return "RoBERTa"; }
    std::vector<std::string> model_types() const override { return {"roberta", "xlm-roberta"}; }
    std::string weight_prefix() const override { return "roberta."; }
    bool padding_idx_positions() const override { return true; }
    Pooler pooler() const override { return Pooler::IfStored; }
    EncoderHeadSpec head() const override {
        EncoderHeadSpec h;
        h.dense = "classifier.dense";
        h.out = "classifier.out_proj";
        h.activation = "tanh";
        return h;
    }
};
}  // namespace

const EncoderFamily& roberta_encoder_family() {
    static const Roberta f;
    return f;
}

}  // namespace ptune
