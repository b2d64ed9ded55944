// Suite files: the base spec, variants as JSON merge patches, seeds; every expanded run's spec.
#include <cstdint>

#include "core/io/error.h"
#include "experiments/suite.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = fuzz::write_file("suite.json", data, size);
    try {
        ptune::Suite s = ptune::Suite::load(path);
        auto runs = s.expand();
        if (runs.size() > 100000) fuzz::fail("a suite expanded to " + std::to_string(runs.size()) + " runs");
        for (const auto& r : runs) (void)r.to_json();
        (void)ptune::Suite::from_json(s.to_json(), "written suite");
    } catch (const ptune::Error&) {
    }
    return 0;
}
