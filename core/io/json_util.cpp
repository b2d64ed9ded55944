#include "core/io/json_util.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptune {

namespace {
constexpr const char kLfsPointer[] = "version https://git-lfs.github.com/spec/v1";
}

bool is_git_lfs_pointer(const char* data, size_t size) {
    const size_t n = sizeof(kLfsPointer) - 1;
    // Pointer files are at most 1024 bytes (the Git LFS specification).
    return size >= n && size <= 1024 && std::memcmp(data, kLfsPointer, n) == 0;
}

std::string git_lfs_pointer_message(const std::string& path, const char* data, size_t size) {
    const std::string text(data, size);
    std::string real;
    if (auto at = text.find("\nsize "); at != std::string::npos) {
        const size_t b = at + 6, e = text.find_first_of("\r\n", b);
        const std::string digits = text.substr(b, e == std::string::npos ? std::string::npos : e - b);
        if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos) real = digits;
    }
    std::filesystem::path p(path);
    std::string dir = p.has_parent_path() ? p.parent_path().string() : std::string(".");
    return path + ": a Git LFS pointer (" + std::to_string(size) + " bytes), not the file itself" +
           (real.empty() ? std::string() : " (" + real + " bytes)") +
           ": the repository was cloned without fetching its large files. Fetch them with `git lfs pull` in " + dir +
           " (install Git LFS first: `git lfs install`)";
}

std::string read_text_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot open for reading");
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) throw Error(path + ": read error");
    std::string s = ss.str();
    if (is_git_lfs_pointer(s.data(), s.size())) throw Error(git_lfs_pointer_message(path, s.data(), s.size()));
    return s;
}

void write_text_file(const std::string& path, const std::string& text) {
    std::filesystem::path p(path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
    std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw Error(path + ": cannot open for writing");
        f << text;
        f.flush();
        if (!f) throw Error(path + ": write error");
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw Error(path + ": cannot rename temporary file: " + ec.message());
}

json read_json_file(const std::string& path) {
    std::string text = read_text_file(path);
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        throw Error(path + ": invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
    } catch (const json::exception& e) {
        // A number too large for a double (1e400), and the parser's other refusals.
        throw Error(path + ": invalid JSON: " + e.what());
    }
}

void write_json_file(const std::string& path, const json& j) { write_text_file(path, j.dump(2) + "\n"); }

}  // namespace ptune
