// Normalizers of the Hugging Face `tokenizers` library (normalizers/*.rs), on plain strings: ptune
// needs the ids, not the offset alignments.
#include "core/text/components.h"
#include "core/text/unicode.h"

namespace ptune::text {

namespace {

bool is_ascii(const std::string& s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

// Drops every code point of `s` for which `drop` holds (accents after NFD, for instance).
template <class Pred>
void remove_codepoints(std::string& s, Pred drop) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        size_t start = i;
        char32_t c = next_cp(s, i);
        if (!drop(c)) out.append(s, start, i - start);
    }
    s.swap(out);
}

class BertNormalizer : public Normalizer {
public:
    BertNormalizer(bool clean_text, bool chinese, std::optional<bool> strip_accents, bool lowercase)
        : clean_text_(clean_text), chinese_(chinese), strip_accents_(strip_accents.value_or(lowercase)),
          lowercase_(lowercase) {}

    void normalize(std::string& s) const override {
        if (clean_text_ || chinese_) {
            std::string out;
            out.reserve(s.size() + 8);
            size_t i = 0;
            while (i < s.size()) {
                unsigned char b = static_cast<unsigned char>(s[i]);
                // clean_text: remove \0, U+FFFD and controls (Cc, Cf, Co but not \t \n \r), then turn
                // whitespace (char::is_whitespace) into ' '. U+000B, U+000C and U+0085 are controls first.
                if (b < 0x80) {
                    ++i;
                    if (clean_text_) {
                        if (b == '\t' || b == '\n' || b == '\r' || b == ' ') {
                            out += ' ';
                            continue;
                        }
                        if (b < 0x20 || b == 0x7F) continue;
                    }
                    out += static_cast<char>(b);
                    continue;
                }
                char32_t c = next_cp(s, i);
                if (clean_text_) {
                    if (c == 0xFFFD || is_bert_control(c)) continue;
                    if (is_whitespace(c)) c = ' ';
                }
                if (chinese_ && is_chinese_char(c)) {
                    out += ' ';
                    append_utf8(out, c);
                    out += ' ';
                } else {
                    append_utf8(out, c);
                }
            }
            s.swap(out);
        }
        if (strip_accents_ && !is_ascii(s)) {
            s = normalize_form(s, NormForm::NFD);
            remove_codepoints(s, is_mark_nonspacing);
        }
        if (lowercase_) s = lowercase(s);
    }

    std::string describe() const override {
        std::string d = "BertNormalizer";
        if (lowercase_) d += " lowercase";
        if (strip_accents_ != lowercase_) d += strip_accents_ ? " strip_accents" : " keep_accents";
        return d;
    }

private:
    bool clean_text_, chinese_, strip_accents_, lowercase_;
};

class LowercaseNormalizer : public Normalizer {
public:
    void normalize(std::string& s) const override { s = lowercase(s); }
    std::string describe() const override { return "Lowercase"; }
};

class UnicodeNormalizer : public Normalizer {
public:
    UnicodeNormalizer(NormForm form, std::string name) : form_(form), name_(std::move(name)) {}
    void normalize(std::string& s) const override { s = normalize_form(s, form_); }
    std::string describe() const override { return name_; }

private:
    NormForm form_;
    std::string name_;
};

class StripAccentsNormalizer : public Normalizer {
public:
    void normalize(std::string& s) const override {
        remove_codepoints(s, is_mark);
    }
    std::string describe() const override { return "StripAccents"; }
};

class StripNormalizer : public Normalizer {
public:
    StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
    void normalize(std::string& s) const override {
        size_t begin = 0, end = s.size();
        if (left_) {
            size_t i = 0;
            while (i < s.size()) {
                size_t at = i;
                if (!is_whitespace(next_cp(s, i))) {
                    begin = at;
                    break;
                }
                begin = i;
            }
        }
        if (right_) {
            size_t i = begin, last_non_ws_end = begin;
            while (i < s.size()) {
                if (!is_whitespace(next_cp(s, i))) last_non_ws_end = i;
            }
            end = last_non_ws_end;
        }
        s = s.substr(begin, end - begin);
    }
    std::string describe() const override { return "Strip"; }

private:
    bool left_, right_;
};

class ReplaceNormalizer : public Normalizer {
public:
    ReplaceNormalizer(const std::string& pattern, std::string content,
                      const std::string& where)
        : regex_(std::make_unique<Regex>(pattern, where)), content_(std::move(content)) {}
    void normalize(std::string& s) const override {
        if (s.empty()) return;
        auto matches = regex_->find_all(s);
        if (matches.empty()) return;
        std::string out;
        out.reserve(s.size());
        size_t last = 0;
        for (auto [b, e] : matches) {
            out.append(s, last, b - last);
            out += content_;
            last = e;
        }
        out.append(s, last, std::string::npos);
        s.swap(out);
    }
    std::string describe() const override { return "Replace"; }

private:
    std::unique_ptr<Regex> regex_;
    std::string content_;
};

class PrependNormalizer : public Normalizer {
public:
    explicit PrependNormalizer(std::string p) : prepend_(std::move(p)) {}
    void normalize(std::string& s) const override {
        if (!s.empty()) s.insert(0, prepend_);
    }
    std::string describe() const override { return "Prepend"; }

private:
    std::string prepend_;
};

// Maps every byte to the printable character of GPT-2's bytes_to_unicode table.
class ByteLevelNormalizer : public Normalizer {
public:
    void normalize(std::string& s) const override;
    std::string describe() const override { return "ByteLevel"; }
};

class SequenceNormalizer : public Normalizer {
public:
    explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> items) : items_(std::move(items)) {}
    void normalize(std::string& s) const override {
        for (const auto& n : items_) n->normalize(s);
    }
    std::string describe() const override {
        std::string d;
        for (const auto& n : items_) d += (d.empty() ? "" : "+") + n->describe();
        return d.empty() ? "Sequence" : d;
    }

private:
    std::vector<std::unique_ptr<Normalizer>> items_;
};

}  // namespace

void ByteLevelNormalizer::normalize(std::string& s) const {
    std::string out;
    out.reserve(s.size() * 2);
    for (char c : s) out += byte_to_unicode(static_cast<unsigned char>(c));
    s.swap(out);
}

std::unique_ptr<Normalizer> make_bert_normalizer(bool clean_text, bool handle_chinese_chars,
                                                 std::optional<bool> strip_accents, bool lowercase) {
    return std::make_unique<BertNormalizer>(clean_text, handle_chinese_chars, strip_accents, lowercase);
}

std::string read_pattern(const json& j, const std::string& where, const std::string& path) {
    const json& p = need(j, "pattern", where, path);
    if (p.is_object()) {
        if (auto s = opt_string(p, "String", where, path + ".pattern")) return Regex::escape(*s);
        if (auto r = opt_string(p, "Regex", where, path + ".pattern")) return *r;
    } else if (p.is_string()) {
        return Regex::escape(p.get<std::string>());
    }
    throw Error(where + ": " + path + ".pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where, const std::string& path) {
    if (!j.is_object()) throw Error(where + ": " + path + " must be an object, not " + std::string(j.type_name()));
    std::string type = need_string(j, "type", where, path);
    if (type == "BertNormalizer") {
        std::optional<bool> strip;
        auto it = j.find("strip_accents");
        if (it != j.end() && !it->is_null()) strip = opt_bool(j, "strip_accents", false, where, path);
        return make_bert_normalizer(opt_bool(j, "clean_text", true, where, path),
                                    opt_bool(j, "handle_chinese_chars", true, where, path), strip,
                                    opt_bool(j, "lowercase", true, where, path));
    }
    if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
    if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormForm::NFC, type);
    if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormForm::NFD, type);
    if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormForm::NFKC, type);
    if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormForm::NFKD, type);
    if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
    if (type == "Strip")
        return std::make_unique<StripNormalizer>(opt_bool(j, "strip_left", true, where, path),
                                                 opt_bool(j, "strip_right", true, where, path));
    if (type == "Replace") {
        return std::make_unique<ReplaceNormalizer>(read_pattern(j, where, path), need_string(j, "content", where, path),
                                                   where + ": " + path + ".pattern");
    }
    if (type == "Prepend") return std::make_unique<PrependNormalizer>(need_string(j, "prepend", where, path));
    if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
    if (type == "Precompiled") return make_precompiled(j, where, path);
    if (type == "Sequence") {
        const json& list = need(j, "normalizers", where, path);
        if (!list.is_array()) throw Error(where + ": " + path + ".normalizers must be a list");
        std::vector<std::unique_ptr<Normalizer>> items;
        for (size_t i = 0; i < list.size(); ++i)
            items.push_back(make_normalizer(list[i], where, path + ".normalizers[" + std::to_string(i) + "]"));
        return std::make_unique<SequenceNormalizer>(std::move(items));
    }
    unsupported_type(where, path, type,
                     "BertNormalizer, Lowercase, NFC, NFD, NFKC, NFKD, StripAccents, Strip, Replace, Prepend, "
                     "ByteLevel, Precompiled and Sequence are");
}

}  // namespace ptune::text
