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

// Oniguruma's \s (what the `tokenizers` library compiles its patterns with): the White_Space characters.
// PCRE2's UCP \s also matches U+180E.
const char* kSpaceItems =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
    "\\x{205F}\\x{3000}";

}  // namespace

// Rewrites the classes whose meaning differs between Oniguruma and PCRE2: \s and \S become the
// White_Space set, \p{L} and \p{N} (also \pL, \pN, \P{..}) gain the characters of the newer Unicode that
// Oniguruma knows. Inside a [...] class the negated forms are left as they are.
std::string Regex::translate(const std::string& p) {
    std::string out;
    out.reserve(p.size() + 64);
    bool in_class = false;
    size_t i = 0;
    auto property = [&](size_t at, size_t& len, char& name, bool& negated) -> bool {
        // at points to 'p' or 'P' after a backslash
        negated = p[at] == 'P';
        if (at + 1 >= p.size()) return false;
        if (p[at + 1] == '{') {
            size_t close = p.find('}', at + 2);
            if (close == std::string::npos) return false;
            std::string body = p.substr(at + 2, close - at - 2);
            if (body.size() == 2 && body[0] == '^') {
                negated = !negated;
                body = body.substr(1);
            }
            if (body != "L" && body != "N") return false;
            name = body[0];
            len = close - at + 1;
            return true;
        }
        if (p[at + 1] == 'L' || p[at + 1] == 'N') {
            name = p[at + 1];
            len = 2;
            return true;
        }
        return false;
    };
    while (i < p.size()) {
        char c = p[i];
        if (c == '\\' && i + 1 < p.size()) {
            char e = p[i + 1];
            if (e == 'Q') {  // \Q...\E: literal
                size_t end = p.find("\\E", i + 2);
                size_t stop = end == std::string::npos ? p.size() : end + 2;
                out.append(p, i, stop - i);
                i = stop;
                continue;
            }
            if (e == 's' || (e == 'S' && !in_class)) {
                if (in_class)
                    out += kSpaceItems;
                else
                    out += std::string(e == 's' ? "[" : "[^") + kSpaceItems + "]";
                i += 2;
                continue;
            }
            size_t len = 0;
            char name = 0;
            bool negated = false;
            if ((e == 'p' || e == 'P') && property(i + 1, len, name, negated) && !(in_class && negated)) {
                std::string items = std::string("\\p{") + name + "}" +
                                    (name == 'L' ? letter_extra_class() : number_extra_class());
                if (in_class)
                    out += items;
                else
                    out += std::string(negated ? "[^" : "[") + items + "]";
                i += 1 + len;
                continue;
            }
            out.append(p, i, 2);
            i += 2;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = true;
            out += c;
            ++i;
            if (i < p.size() && p[i] == '^') out += p[i++];
            if (i < p.size() && p[i] == ']') out += p[i++];  // a leading ] is literal
            continue;
        }
        if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // [:alpha:]
            size_t end = p.find(":]", i + 2);
            size_t stop = end == std::string::npos ? i + 1 : end + 2;
            out.append(p, i, stop - i);
            i = stop;
            continue;
        }
        if (in_class && c == ']') in_class = false;
        out += c;
        ++i;
    }
    return out;
}

Regex::Regex(const std::string& pattern, const std::string& where) : pattern_(pattern) {
    int err = 0;
    PCRE2_SIZE off = 0;
    const std::string source = translate(pattern);
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(),
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
