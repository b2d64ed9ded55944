// Runs a fuzz target on every file of the folders given (its corpus and the regression inputs of its findings),
// without libFuzzer: the main build compiles each target with this main, and CTest runs it, so a fixed finding
// stays fixed under the project's own compiler on both LibTorch lines.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    size_t files = 0;
    for (int i = 1; i < argc; ++i) {
        if (!fs::is_directory(argv[i])) {
            std::fprintf(stderr, "replay: %s is not a folder\n", argv[i]);
            return 2;
        }
        std::vector<fs::path> paths;
        for (const auto& e : fs::recursive_directory_iterator(argv[i]))
            if (e.is_regular_file()) paths.push_back(e.path());
        for (const auto& p : paths) {
            std::ifstream f(p, std::ios::binary);
            std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
            LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
            ++files;
        }
    }
    std::printf("replay: %zu inputs, no failure\n", files);
    return files > 0 ? 0 : 1;
}
