#include "core/text/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/io/error.h"
#include "core/text/unicode.h"

namespace ptune::text {

namespace {

std::string pcre2_message(int code) {
    PCRE2_UCHAR buf[256];
    int n = pcre2_get_error_message(code, buf, sizeof(buf));
    if (n < 0) return "PCRE2 error " + std::to_string(code);
    return std::string(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

struct MatchData {
    pcre2_match_data* md;
    explicit MatchData(const pcre2_code* code) : md(pcre2_match_data_create_from_pattern(code, nullptr)) {}
    ~MatchData() { pcre2_match_data_free(md); }
    MatchData(const MatchData&) = delete;
    MatchData& operator=(const MatchData&) = delete;
};

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& where) : pattern_(pattern) {
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
    if (!code)
        throw Error(where + ": regex \"" + pattern + "\" does not compile at offset " + std::to_string(off) + " (" +
                    pcre2_message(err) + ")");
    code_ = code;
    jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view s) const {
    std::vector<std::pair<size_t, size_t>> out;
    auto* code = static_cast<pcre2_code*>(code_);
    MatchData data(code);
    if (!data.md) throw Error("out of memory creating regex match data");
    auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
    // Same iteration as the `onig` crate's find_iter: an empty match right where the previous match
    // ended is skipped by moving one character on.
    size_t pos = 0;
    bool have_last = false;
    size_t last_match_end = 0;
    while (pos <= s.size()) {
        uint32_t options = PCRE2_NO_UTF_CHECK;
        int rc = pcre2_match(code, subject, s.size(), pos, options, data.md, nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && jit_)
            rc = pcre2_match(code, subject, s.size(), pos, options | PCRE2_NO_JIT, data.md, nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) throw Error("regex \"" + pattern_ + "\": matching failed (" + pcre2_message(rc) + ")");
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
        size_t start = ov[0], end = ov[1];
        if (start == end && have_last && last_match_end == end) {
            if (pos >= s.size()) break;
            pos += utf8_len(static_cast<unsigned char>(s[pos]));
            continue;
        }
        out.emplace_back(start, end);
        pos = end;
        have_last = true;
        last_match_end = end;
    }
    return out;
}

std::string Regex::escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() * 2);
    for (char c : s) {
        unsigned char u = static_cast<unsigned char>(c);
        bool plain = u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_';
        if (!plain) {
            if (u < 0x20 || u == 0x7F) {
                static const char* hex = "0123456789ABCDEF";
                out += "\\x{";
                out += hex[u >> 4];
                out += hex[u & 15];
                out += '}';
            } else {
                out += '\\';
                out += c;
            }
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace ptune::text
