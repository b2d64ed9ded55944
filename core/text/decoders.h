#pragma once
// Decoders of the Hugging Face `tokenizers` library (decoders/*.rs): tokens -> text.
#include <memory>
#include <string>
#include <vector>

#include "core/io/json_util.h"

namespace ptune::text {

class Decoder {
public:
    virtual ~Decoder() = default;
    // decode_chain: tokens -> tokens (each decoder of a Sequence feeds the next).
    virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens) const = 0;
    std::string decode(std::vector<std::string> tokens) const;
};

// An unsupported decoder type does not stop the tokenizer from loading: decode() then throws
// ptune::Error naming the field.
std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where, const std::string& path);
std::unique_ptr<Decoder> make_wordpiece_decoder(const std::string& prefix, bool cleanup);
std::unique_ptr<Decoder> make_byte_level_decoder();

}  // namespace ptune::text
