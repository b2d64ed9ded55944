// Experiment specs (JSON): every field's type and range; a spec that reads and validates writes back to JSON
// that reads as the same spec.
#include <cstdint>

#include "core/io/error.h"
#include "experiments/spec.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = fuzz::write_file("spec.json", data, size);
    try {
        ptune::ExperimentSpec s = ptune::ExperimentSpec::load(path);
        s.validate();
        const ptune::json j = s.to_json();
        const ptune::json again = ptune::ExperimentSpec::from_json(j, "written spec").to_json();
        if (again != j) fuzz::fail("spec round trip changed it:\n" + j.dump() + "\n" + again.dump());
        (void)s.display_name();
    } catch (const ptune::Error&) {
    }
    return 0;
}
