#include "core/io/json_util.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptune {

std::string read_text_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot open for reading");
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) throw Error(path + ": read error");
    return ss.str();
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
    }
}

void write_json_file(const std::string& path, const json& j) { write_text_file(path, j.dump(2) + "\n"); }

}  // namespace ptune
