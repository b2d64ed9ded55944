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
// Reads a whole file as bytes; throws ptune::Error naming it.
std::string read_text_file(const std::string& path);
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
