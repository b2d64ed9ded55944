#pragma once
// Shared by the fuzz targets: every parser ptune has reads files, so each input is written to a file in a
// per-process scratch folder (on /dev/shm when there is one) before the parser opens it. A target lets only
// ptune::Error through its catch: any other exception escaping a parser is a finding (users would get an
// unclear message), as are crashes, sanitizer reports, leaks and hangs.
#include <cstddef>
#include <cstdint>
#include <string>

namespace fuzz {

// The scratch folder (made once; removed at exit).
const std::string& scratch();
// Writes `size` bytes to scratch()/name (replacing it) and returns its path.
std::string write_file(const std::string& name, const uint8_t* data, size_t size);
// Stops the process with a message when an invariant the parser promises does not hold.
[[noreturn]] void fail(const std::string& what);

}  // namespace fuzz
