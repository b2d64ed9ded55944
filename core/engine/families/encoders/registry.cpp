// The encoder families ptune reads. Adding a family: one file in this folder defining `const EncoderFamily&
// <name>_encoder_family()`, and one line below.
#include "core/engine/encoder_family.h"

namespace ptune {

const EncoderFamily& roberta_encoder_family();
const EncoderFamily& electra_encoder_family();
const EncoderFamily& distilbert_encoder_family();

const std::vector<const EncoderFamily*>& encoder_families() {
    static const std::vector<const EncoderFamily*> all{
        &bert_encoder_family(),
        &roberta_encoder_family(),
        &electra_encoder_family(),
        &distilbert_encoder_family(),
    };
    return all;
}

const EncoderFamily* find_encoder_family(const std::string& model_type) {
    for (const EncoderFamily* f : encoder_families())
        for (const auto& t : f->model_types())
            if (t == model_type) return f;
    return nullptr;
}

std::string encoder_model_types() {
    std::string s;
    for (const EncoderFamily* f : encoder_families())
        for (const auto& t : f->model_types()) s += (s.empty() ? "" : ", ") + t;
    return s;
}

}  // namespace ptune
