#pragma once
// Reading JSON files with errors that name the file and the field.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

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

// Why the JSON number `v` cannot be read as the integer type T ("" when it can, and for non-integer T or a
// value that is not a number): integers must be in T's range, and numbers written with a fraction or an exponent
// (30522.0, 1e3) must be whole and in range. nlohmann's get<T>() would convert them with overflow (undefined).
template <class T>
std::string integer_range_error(const json& v) {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        using lim = std::numeric_limits<T>;
        const std::string range = "from " + std::to_string(lim::min()) + " to " + std::to_string(lim::max());
        if (v.is_number_float()) {
            const double d = v.get<double>();
            // (double)lim::max() + 1 is a power of two, exact: d below it fits.
            if (!(d == std::floor(d) && d >= (double)lim::min() && d < (double)lim::max() + 1.0))
                return "must be a whole number " + range + " (it is " + v.dump() + ")";
        } else if (v.is_number_unsigned()) {
            if (v.get<uint64_t>() > (uint64_t)lim::max())
                return "is too large (" + v.dump() + "; at most " + std::to_string(lim::max()) + ")";
        } else if (v.is_number_integer()) {
            const int64_t x = v.get<int64_t>();
            if ((lim::is_signed && x < (int64_t)lim::min()) || (!lim::is_signed && x < 0) ||
                (x > 0 && (uint64_t)x > (uint64_t)lim::max()))
                return "is out of range (" + v.dump() + "; " + range + ")";
        }
    }
    return "";
}

// A JSON value as T, naming `where` and `key` when it cannot be one (integer_range_error, or the wrong type).
template <class T>
T json_as(const json& v, const std::string& key, const std::string& where) {
    const std::string why = integer_range_error<T>(v);
    if (!why.empty()) throw Error(where + ": field \"" + key + "\" " + why);
    try {
        return v.get<T>();
    } catch (const std::exception& e) {
        throw Error(where + ": field \"" + key + "\" has the wrong type (" + std::string(e.what()) + ")");
    }
}

// Typed field access that names the file and key on error: get_field<int>(j, "hidden_size", "config.json").
template <class T>
T get_field(const json& j, const std::string& key, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) throw Error(where + ": missing field \"" + key + "\"");
    return json_as<T>(*it, key, where);
}
template <class T>
T get_field_or(const json& j, const std::string& key, const T& def, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    return json_as<T>(*it, key, where);
}

}  // namespace ptune
