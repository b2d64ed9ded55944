// An encoder's config.json: model_type, sizes, positions, labels.
#include <cstdint>

#include "core/engine/model_config.h"
#include "core/io/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = fuzz::write_file("config.json", data, size);
    try {
        auto c = ptune::ModelConfig::from_json_file(path);
        if (c.num_heads <= 0 || c.hidden_size <= 0 || c.num_layers <= 0)
            fuzz::fail("from_json_file accepted a model without heads, width or layers");
        (void)c.head_dim();
        (void)c.arch_name();
        try {
            c.check_fits(16, 4);
        } catch (const ptune::Error&) {
        }
    } catch (const ptune::Error&) {
    }
    return 0;
}
