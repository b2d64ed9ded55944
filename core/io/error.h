#pragma once
// One exception type for every user-facing failure in ptune. Messages name the file, line or field at
// fault so the CLI and the workbench can show them as they are.
#include <stdexcept>
#include <string>

namespace ptune {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace ptune
