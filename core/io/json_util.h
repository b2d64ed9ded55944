#pragma once
// Reading JSON files with errors that name the file and the field.
#include <nlohmann/json.hpp>
#include <string>

#include "core/io/error.h"

namespace ptune {

using json = nlohmann::json;

// Parses a JSON file; throws ptune::Error "FILE: ..." (with the parser's byte position) when it cannot.
json read_json_file(const std::string& path);
// Writes `j` pretty-printed (2 spaces), atomically (temporary file + rename).
void write_json_file(const std::string& path, const json& j);
// Reads a whole file as bytes; throws ptune::Error naming it, and saying so when the file is a Git LFS pointer.
std::string read_text_file(const std::string& path);

// Whether these bytes (a file's beginning) are a Git LFS pointer: a small text file that a clone without Git LFS
// (or with GIT_LFS_SKIP_SMUDGE=1) holds in place of a large file ("version https://git-lfs.github.com/spec/v1").
bool is_git_lfs_pointer(const char* data, size_t size);
// "PATH: a Git LFS pointer ..., not the file itself; fetch it with `git lfs pull` in DIR": the error for a
// pointer read in place of `path`. `data` is the pointer's text (its "size" line is quoted when present).
std::string git_lfs_pointer_message(const std::string& path, const char* data, size_t size);
void write_text_file(const std::string& path, const std::string& text);  // atomic

// Typed field access that names the file and key on error: get_field<int>(j, "hidden_size", "config.json").
template <class T>
T get_field(const json& j, const std::string& key, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) throw Error(where + ": missing field \"" + key + "\"");
    try {
        return it->get<T>();
    } catch (const std::exception& e) {
        throw Error(where + ": field \"" + key + "\" has the wrong type (" + std::string(e.what()) + ")");
    }
}
template <class T>
T get_field_or(const json& j, const std::string& key, const T& def, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    try {
        return it->get<T>();
    } catch (const std::exception& e) {
        throw Error(where + ": field \"" + key + "\" has the wrong type (" + std::string(e.what()) + ")");
    }
}

}  // namespace ptune
