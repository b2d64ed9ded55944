#include "fuzz_util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fuzz {

namespace fs = std::filesystem;

const std::string& scratch() {
    // Never destroyed: the exit handler that removes the folder runs after static destructors may have.
    static const std::string* dir = [] {
        const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
        const fs::path d = base / ("ptune-fuzz-" + std::to_string(::getpid()));
        fs::create_directories(d);
        auto* s = new std::string(d.string());
        std::atexit([] {
            std::error_code ec;
            fs::remove_all(*dir, ec);
        });
        return s;
    }();
    return *dir;
}

std::string write_file(const std::string& name, const uint8_t* data, size_t size) {
    const std::string path = (fs::path(scratch()) / name).string();
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!f) fail("cannot write " + path);
    return path;
}

void fail(const std::string& what) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

}  // namespace fuzz
