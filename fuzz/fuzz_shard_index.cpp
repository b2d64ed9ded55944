// model.safetensors.index.json beside one valid shard: the weight map, its file names (no escaping the folder)
// and the tensors each shard must hold.
#include <cstdint>
#include <filesystem>

#include "core/io/error.h"
#include "core/io/safetensors.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const bool shard = [] {
        ptune::st::write(fuzz::scratch() + "/model-00001-of-00002.safetensors",
                         {{"w", ptune::st::DType::F32, {2}, std::vector<uint8_t>(8, 0)},
                          {"b", ptune::st::DType::F16, {1}, std::vector<uint8_t>(2, 0)}});
        return true;
    }();
    (void)shard;
    fuzz::write_file("model.safetensors.index.json", data, size);
    try {
        auto c = ptune::st::Checkpoint::open(fuzz::scratch());
        for (const auto& n : c.names()) {
            auto [file, info] = c.get(n);
            if (!file || !info) fuzz::fail("Checkpoint::get(" + n + ") returned nothing");
        }
    } catch (const ptune::Error&) {
    }
    return 0;
}
