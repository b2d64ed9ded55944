// The decoder families ptune reads. Adding a family: one file in this folder defining `const DecoderFamily&
// <name>_family()`, and one line below.
#include "core/engine/decoder.h"

namespace ptune {

const DecoderFamily& gpt2_family();
const DecoderFamily& llama_family();

const std::vector<const DecoderFamily*>& decoder_families() {
    static const std::vector<const DecoderFamily*> all{
        &gpt2_family(),
        &llama_family(),
    };
    return all;
}

}  // namespace ptune
