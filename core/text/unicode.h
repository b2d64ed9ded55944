#pragma once
// Unicode helpers for the tokenizers: UTF-8 decoding/encoding and the character classes the
// Hugging Face `tokenizers` library uses (Rust's char::is_whitespace, unicode_categories, ...).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ptune::text {

// Replaces every byte that is not part of valid UTF-8 with U+FFFD.
std::string sanitize_utf8(std::string_view s);

// Decodes one code point at s[i] (s must be valid UTF-8); advances i.
char32_t next_cp(std::string_view s, size_t& i);
// Byte length of the UTF-8 sequence starting with lead byte c.
inline size_t utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c >> 5) == 0x6) return 2;
    if ((c >> 4) == 0xE) return 3;
    return 4;
}
void append_utf8(std::string& out, char32_t cp);
std::string to_utf8(char32_t cp);
std::u32string decode(std::string_view s);
std::string encode(const std::u32string& s);
size_t count_chars(std::string_view s);

// Character classes as the `tokenizers` library sees them. Where it uses the old, fixed tables of the
// unicode_categories crate (BertNormalizer, BertPreTokenizer, Punctuation, StripAccents) ptune uses the same
// tables (unicode_tables.inc, made from the library); elsewhere utf8proc plus what the library's newer
// Unicode adds.
bool is_whitespace(char32_t c);      // Rust char::is_whitespace (White_Space property)
bool is_bert_punctuation(char32_t c);  // ASCII punctuation or P* (BertPreTokenizer, Punctuation)
bool is_bert_control(char32_t c);    // Cc, Cf, Co (BertNormalizer clean_text removes them; not Cn)
bool is_mark(char32_t c);            // M* (StripAccents)
bool is_mark_nonspacing(char32_t c); // Mn (BertNormalizer strip_accents)
bool is_numeric(char32_t c);         // Nd, Nl, No (Rust char::is_numeric)
bool is_word_char(char32_t c);       // regex \w (Unicode): Alphabetic, M, Nd, Pc, Join_Control
// PCRE2 class items (e.g. "\\x{1C89}-\\x{1C8A}") for the letters / numbers that Oniguruma's \p{L} / \p{N}
// have beyond PCRE2's.
const std::string& letter_extra_class();
const std::string& number_extra_class();
bool is_chinese_char(char32_t c);    // BERT's CJK ideograph ranges

// Rust char::to_lowercase for every character of s.
std::string lowercase(std::string_view s);

// Python's str semantics (CPython's str.lower, str.isspace, re's \w), for the reference scripts ptune reproduces
// (the SQuAD evaluation). Character properties come from utf8proc's Unicode, which may be newer than Python's.
// Word_Break MidLetter/MidNumLet/Single_Quote are ' . : and U+00B7 U+0387 U+055F U+05F4 U+2018 U+2019 U+2024
// U+2027 U+FE13 U+FE52 U+FE55 U+FF07 U+FF0E U+FF1A.
bool python_isspace(char32_t c);       // str.isspace(): \t..\r, \x1c..\x1f, space, and bidi WS/B/S or Zs above ASCII
bool python_is_word_char(char32_t c);  // re's \w on str: str.isalnum() (L*, Nd, Nl, No) or '_'; not marks (M*)
bool is_cased(char32_t c);             // Cased: Lu, Ll, Lt, Other_Lowercase, Other_Uppercase
bool is_case_ignorable(char32_t c);    // Case_Ignorable: Mn, Me, Cf, Lm, Sk, and the Word_Break characters above
// Python's str.lower(): lowercase() (full lowercase mappings: U+0130 -> "i\u0307"), except that U+03A3 (capital
// sigma) becomes U+03C2 (final sigma) when a cased letter comes before it and none after it (case-ignorable
// characters skipped both ways; Unicode's Final_Sigma, looked up in s itself), U+03C3 otherwise.
std::string python_lower(std::string_view s);

enum class NormForm { NFC, NFD, NFKC, NFKD };
std::string normalize_form(std::string_view s, NormForm form);

}  // namespace ptune::text
