#pragma once
// A compiled PCRE2 pattern (UTF + UCP, JIT when available) that is shared between threads. Patterns are
// read as Oniguruma reads them (see translate()).
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ptune::text {

class Regex {
public:
    // Throws ptune::Error("<where>: ...") when the pattern does not compile.
    Regex(const std::string& pattern, const std::string& where);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // Every non-overlapping match (byte offsets) of the pattern in valid UTF-8 `s`, left to right.
    // After an empty match the search resumes one character further.
    std::vector<std::pair<size_t, size_t>> find_all(std::string_view s) const;
    const std::string& pattern() const { return pattern_; }

    // The PCRE2 pattern for a pattern written for Oniguruma (the `tokenizers` library's engine).
    static std::string translate(const std::string& pattern);

    // Escapes `s` so that it matches literally.
    static std::string escape(std::string_view s);

private:
    std::string pattern_;
    void* code_ = nullptr;  // pcre2_code_8*
    bool jit_ = false;
};

}  // namespace ptune::text
