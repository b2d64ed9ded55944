// safetensors files: the header (length, JSON, dtypes, shapes, offsets) and every tensor's bytes read back.
#include <cstdint>

#include "core/io/error.h"
#include "core/io/safetensors.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = fuzz::write_file("model.safetensors", data, size);
    try {
        auto f = ptune::st::File::open(path);
        for (const auto& t : f.tensors()) {
            if (t.end < t.begin || 8 + f.header_size() + t.end > f.file_size())
                fuzz::fail("File::open accepted tensor " + t.name + " outside the file");
            if (t.numel() <= (1 << 16)) (void)ptune::st::to_float32(f, t);
            if (f.find(t.name) != &t) fuzz::fail("find(" + t.name + ") is not the listed tensor");
        }
        auto c = ptune::st::Checkpoint::open(path);
        for (const auto& n : c.names()) (void)c.get(n);
    } catch (const ptune::Error&) {
    }
    return 0;
}
