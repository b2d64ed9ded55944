#include "core/text/unicode.h"

#include <utf8proc.h>

#include <cstdio>
#include <cstdlib>

#include "core/io/error.h"

namespace ptune::text {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are not valid UTF-8.
size_t valid_seq_len(std::string_view s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    size_t n = s.size() - i;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return (n >= 2 && (b(i + 1) & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (b(i + 1) & 0xC0) != 0x80 || (b(i + 2) & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
        if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogates
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (b(i + 1) & 0xC0) != 0x80 || (b(i + 2) & 0xC0) != 0x80 || (b(i + 3) & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && b(i + 1) < 0x90) return 0;  // overlong
        if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // > U+10FFFF
        return 4;
    }
    return 0;
}

// Bytes taken by one U+FFFD at an invalid position (the "maximal subpart" rule of Unicode, also
// used by Rust's String::from_utf8_lossy and Python's errors="replace").
size_t invalid_len(std::string_view s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 1;
    }
    size_t n = 1;
    for (size_t k = 0; k < need && i + n < s.size(); ++k) {
        unsigned char x = b(i + n);
        bool ok = k == 0 ? (x >= lo && x <= hi) : (x & 0xC0) == 0x80;
        if (!ok) break;
        ++n;
    }
    return n;
}

int category(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }

struct CharRange {
    char32_t lo, hi;
};

#include "core/text/unicode_tables.inc"

template <size_t N>
bool in_table(const CharRange (&table)[N], char32_t c) {
    size_t lo = 0, hi = N;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (table[mid].hi < c)
            lo = mid + 1;
        else if (table[mid].lo > c)
            hi = mid;
        else
            return true;
    }
    return false;
}

template <size_t N>
std::string class_items(const CharRange (&table)[N]) {
    std::string out;
    char buf[40];
    for (const auto& r : table) {
        if (r.lo == r.hi)
            std::snprintf(buf, sizeof(buf), "\\x{%X}", static_cast<unsigned>(r.lo));
        else
            std::snprintf(buf, sizeof(buf), "\\x{%X}-\\x{%X}", static_cast<unsigned>(r.lo), static_cast<unsigned>(r.hi));
        out += buf;
    }
    return out;
}

}  // namespace

std::string sanitize_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        size_t n = valid_seq_len(s, i);
        if (n == 0) break;
        i += n;
    }
    if (i == s.size()) return std::string(s);
    std::string out(s.substr(0, i));
    while (i < s.size()) {
        size_t n = valid_seq_len(s, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            i += invalid_len(s, i);
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

char32_t next_cp(std::string_view s, size_t& i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
        ++i;
        return c;
    }
    size_t n = utf8_len(c);
    char32_t cp = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    return cp;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::string to_utf8(char32_t cp) {
    std::string s;
    append_utf8(s, cp);
    return s;
}

std::u32string decode(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) out += next_cp(s, i);
    return out;
}

std::string encode(const std::u32string& s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : s) append_utf8(out, c);
    return out;
}

size_t count_chars(std::string_view s) {
    size_t n = 0;
    for (char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    return n;
}

bool is_whitespace(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

bool is_bert_punctuation(char32_t c) { return in_table(kBertPunctuation, c); }

bool is_bert_control(char32_t c) { return in_table(kBertControl, c); }

bool is_mark(char32_t c) { return in_table(kMark, c); }

bool is_mark_nonspacing(char32_t c) { return in_table(kMarkNonspacing, c); }

bool is_numeric(char32_t c) {
    int cat = category(c);
    return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO ||
           in_table(kNumericExtra, c);
}

const std::string& letter_extra_class() {
    static const std::string s = class_items(kLetterExtra);
    return s;
}

const std::string& number_extra_class() {
    static const std::string s = class_items(kNumberExtra);
    return s;
}

bool is_word_char(char32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    int cat = category(c);
    switch (cat) {
        case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
        case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
            return true;
        default:
            break;
    }
    // Join_Control and the Other_Alphabetic symbols (circled / squared / negative letters).
    return c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
           (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189) || in_table(kWordExtra, c);
}

bool is_chinese_char(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::string lowercase(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        unsigned char b = static_cast<unsigned char>(s[i]);
        if (b < 0x80) {
            out += (b >= 'A' && b <= 'Z') ? static_cast<char>(b + 32) : static_cast<char>(b);
            ++i;
            continue;
        }
        char32_t c = next_cp(s, i);
        if (c == 0x130) {  // the one unconditional multi-character lowercase mapping
            out += 'i';
            append_utf8(out, 0x307);
        } else {
            char32_t lower = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
            if (lower == c && c >= kLowerExtra[0].first) {
                for (const auto& [from, to] : kLowerExtra)
                    if (from == c) lower = to;
            }
            append_utf8(out, lower);
        }
    }
    return out;
}

namespace {

// PropList.txt's Other_Lowercase and Other_Uppercase (Unicode 15): the Cased characters outside Lu, Ll and Lt.
const CharRange kOtherCased[] = {
    {0xAA, 0xAA}, {0xBA, 0xBA}, {0x2B0, 0x2B8}, {0x2C0, 0x2C1}, {0x2E0, 0x2E4}, {0x345, 0x345},
    {0x37A, 0x37A}, {0x10FC, 0x10FC}, {0x1D2C, 0x1D6A}, {0x1D78, 0x1D78}, {0x1D9B, 0x1DBF}, {0x2071, 0x2071},
    {0x207F, 0x207F}, {0x2090, 0x209C}, {0x2160, 0x217F}, {0x24B6, 0x24E9}, {0x2C7C, 0x2C7D}, {0xA69C, 0xA69D},
    {0xA770, 0xA770}, {0xA7F8, 0xA7F9}, {0xAB5C, 0xAB5F}, {0xAB69, 0xAB69}, {0x10780, 0x10780}, {0x10783, 0x10785},
    {0x10787, 0x107B0}, {0x107B2, 0x107BA}, {0x1E030, 0x1E06D}, {0x1F130, 0x1F149}, {0x1F150, 0x1F169},
    {0x1F170, 0x1F189},
};

// Word_Break MidLetter, MidNumLet and Single_Quote: the Case_Ignorable characters outside Mn, Me, Cf, Lm and Sk.
const CharRange kCaseIgnorablePunct[] = {
    {0x27, 0x27}, {0x2E, 0x2E}, {0x3A, 0x3A}, {0xB7, 0xB7}, {0x387, 0x387}, {0x55F, 0x55F},
    {0x5F4, 0x5F4}, {0x2018, 0x2019}, {0x2024, 0x2024}, {0x2027, 0x2027}, {0xFE13, 0xFE13}, {0xFE52, 0xFE52},
    {0xFE55, 0xFE55}, {0xFF07, 0xFF07}, {0xFF0E, 0xFF0E}, {0xFF1A, 0xFF1A},
};

// Whether the capital sigma at s[at] (2 bytes) is in Unicode's Final_Sigma context, as CPython's
// handle_capital_sigma decides it: the first character before it that is not case-ignorable is cased, and the
// first one after it that is not case-ignorable (if any) is not.
bool final_sigma(std::string_view s, size_t at) {
    size_t j = at;
    bool cased_before = false;
    while (j > 0) {
        size_t k = j - 1;
        while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t t = k;
        const char32_t c = next_cp(s, t);
        j = k;
        if (!is_case_ignorable(c)) {
            cased_before = is_cased(c);
            break;
        }
    }
    if (!cased_before) return false;
    size_t i = at + 2;
    while (i < s.size()) {
        const char32_t c = next_cp(s, i);
        if (!is_case_ignorable(c)) return !is_cased(c);
    }
    return true;
}

}  // namespace

bool python_isspace(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

bool python_is_word_char(char32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    switch (category(c)) {
        case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
            return true;
        default:
            return false;
    }
}

bool is_cased(char32_t c) {
    const int cat = category(c);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT ||
           in_table(kOtherCased, c);
}

bool is_case_ignorable(char32_t c) {
    const int cat = category(c);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME || cat == UTF8PROC_CATEGORY_CF ||
           cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_SK || in_table(kCaseIgnorablePunct, c);
}

std::string python_lower(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t seg = 0, i = 0;
    while (i < s.size()) {
        // U+03A3 is CE A3; 0xCE is only ever a lead byte.
        if (static_cast<unsigned char>(s[i]) == 0xCE && i + 1 < s.size() &&
            static_cast<unsigned char>(s[i + 1]) == 0xA3) {
            out += lowercase(s.substr(seg, i - seg));
            append_utf8(out, final_sigma(s, i) ? 0x3C2 : 0x3C3);
            i += 2;
            seg = i;
        } else {
            ++i;
        }
    }
    out += lowercase(s.substr(seg));
    return out;
}

namespace {

std::string utf8proc_form(std::string_view s, NormForm form) {
    if (s.empty()) return std::string();
    int options = UTF8PROC_STABLE;
    switch (form) {
        case NormForm::NFC: options |= UTF8PROC_COMPOSE; break;
        case NormForm::NFD: options |= UTF8PROC_DECOMPOSE; break;
        case NormForm::NFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
        case NormForm::NFKD: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    utf8proc_uint8_t* dst = nullptr;
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                      static_cast<utf8proc_ssize_t>(s.size()), &dst,
                                      static_cast<utf8proc_option_t>(options));
    if (n < 0) {
        std::free(dst);
        throw Error(std::string("unicode normalization failed: ") + utf8proc_errmsg(n));
    }
    std::string out(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
    std::free(dst);
    return out;
}

}  // namespace

// The library normalizes with an older Unicode than utf8proc's: the characters whose decomposition or
// combining class came later stay as they are (as starters), the text between them is normalized on its
// own, and they are not composed from their parts.
std::string normalize_form(std::string_view s, NormForm form) {
    const bool compose = form == NormForm::NFC || form == NormForm::NFKC;
    std::string out;
    size_t i = 0, seg = 0;
    bool split = false;
    while (i < s.size()) {
        size_t at = i;
        unsigned char b = static_cast<unsigned char>(s[i]);
        if (b < 0xE0) {  // below U+0800: no such character
            i += utf8_len(b);
            continue;
        }
        char32_t c = next_cp(s, i);
        if (compose && in_table(kNoComposeBefore, c)) {  // a starter: the text before it is done
            split = true;
            out += utf8proc_form(s.substr(seg, at - seg), form);
            seg = at;
            continue;
        }
        if (!in_table(kNormalizeAsIs, c)) continue;
        split = true;
        out += utf8proc_form(s.substr(seg, at - seg), form);
        out.append(s.substr(at, i - at));
        seg = i;
    }
    if (!split) return utf8proc_form(s, form);
    out += utf8proc_form(s.substr(seg), form);
    return out;
}

}  // namespace ptune::text
