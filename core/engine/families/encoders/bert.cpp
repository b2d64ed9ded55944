// BERT (BertModel + BertForSequenceClassification): learned absolute positions and token types, post-LN layers,
// the pooler (tanh dense on [CLS]) under a linear classifier. The names ptune uses for every encoder are BERT's.
#include "core/engine/encoder_family.h"

namespace ptune {

namespace {
class Bert final : public EncoderFamily {
public:
    std::string name() const override { return "BERT"; }
    std::vector<std::string> model_types() const override { return {"bert"}; }
    std::string weight_prefix() const override { return "bert."; }
    Pooler pooler() const override { return Pooler::Always; }
    EncoderHeadSpec head() const override {
        EncoderHeadSpec h;
        h.on_pooler = true;
        return h;
    }
};
}  // namespace

const EncoderFamily& bert_encoder_family() {
    static const Bert f;
    return f;
}

}  // namespace ptune
