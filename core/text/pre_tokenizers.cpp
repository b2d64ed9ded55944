// Pre-tokenizers of the Hugging Face `tokenizers` library (pre_tokenizers/*.rs) with the split
// semantics of NormalizedString::split (SplitDelimiterBehavior) and PreTokenizedString::split
// (empty pieces are dropped).
#include <algorithm>
#include <array>
#include <cctype>
#include <functional>

#include "core/text/components.h"
#include "core/text/unicode.h"

namespace ptune::text {

const std::string& byte_to_unicode(unsigned char b) {
    static const std::array<std::string, 256> table = [] {
        std::array<std::string, 256> t;
        int n = 0;
        for (int i = 0; i < 256; ++i) {
            bool printable = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255);
            t[i] = to_utf8(printable ? static_cast<char32_t>(i) : static_cast<char32_t>(256 + n++));
        }
        return t;
    }();
    return table[b];
}

namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct Piece {
    size_t b, e;
    bool match;
};

Behavior parse_behavior(const json& j, const std::string& key, Behavior def, const std::string& where,
                        const std::string& path) {
    auto s = opt_string(j, key, where, path);
    if (!s) return def;
    std::string v;
    for (char c : *s) v += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (v == "removed") return Behavior::Removed;
    if (v == "isolated") return Behavior::Isolated;
    if (v == "mergedwithprevious" || v == "merged_with_previous") return Behavior::MergedWithPrevious;
    if (v == "mergedwithnext" || v == "merged_with_next") return Behavior::MergedWithNext;
    if (v == "contiguous") return Behavior::Contiguous;
    throw Error(where + ": " + path + "." + key + " \"" + *s +
                "\" is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

// Pattern::find_matches for a char predicate: every matching character is its own match.
template <class Pred>
std::vector<Piece> char_matches(std::string_view s, Pred pred) {
    std::vector<Piece> out;
    size_t last = 0, i = 0;
    while (i < s.size()) {
        size_t at = i;
        char32_t c = next_cp(s, i);
        if (pred(c)) {
            if (last < at) out.push_back({last, at, false});
            out.push_back({at, i, true});
            last = i;
        }
    }
    if (last < s.size()) out.push_back({last, s.size(), false});
    return out;
}

// Pattern::find_matches for a regex (optionally inverted).
std::vector<Piece> regex_matches(std::string_view s, const Regex& re, bool invert) {
    std::vector<Piece> out;
    if (s.empty()) {
        out.push_back({0, 0, invert});
        return out;
    }
    size_t prev = 0;
    for (auto [b, e] : re.find_all(s)) {
        if (prev != b) out.push_back({prev, b, invert});
        out.push_back({b, e, !invert});
        prev = e;
    }
    if (prev != s.size()) out.push_back({prev, s.size(), invert});
    return out;
}

// NormalizedString::split: the kept byte ranges for a behavior.
std::vector<std::pair<size_t, size_t>> apply_behavior(const std::vector<Piece>& matches, Behavior behavior) {
    std::vector<std::pair<size_t, size_t>> out;
    out.reserve(matches.size());
    switch (behavior) {
        case Behavior::Isolated:
            for (const auto& m : matches) out.emplace_back(m.b, m.e);
            break;
        case Behavior::Removed:
            for (const auto& m : matches)
                if (!m.match) out.emplace_back(m.b, m.e);
            break;
        case Behavior::Contiguous: {
            bool prev = false;
            for (const auto& m : matches) {
                if (m.match == prev && !out.empty())
                    out.back().second = m.e;
                else
                    out.emplace_back(m.b, m.e);
                prev = m.match;
            }
            break;
        }
        case Behavior::MergedWithPrevious: {
            bool prev = false;
            for (const auto& m : matches) {
                if (m.match && !prev && !out.empty())
                    out.back().second = m.e;
                else
                    out.emplace_back(m.b, m.e);
                prev = m.match;
            }
            break;
        }
        case Behavior::MergedWithNext: {
            bool prev = false;
            for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
                if (it->match && !prev && !out.empty())
                    out.back().first = it->b;
                else
                    out.emplace_back(it->b, it->e);
                prev = it->match;
            }
            std::reverse(out.begin(), out.end());
            break;
        }
    }
    return out;
}

// PreTokenizedString::split: replaces every split without a token by the pieces `fn` makes of it,
// dropping empty ones.
using SplitFn = std::function<void(std::string& text, bool at_origin, std::vector<Split>& out)>;

void split_all(std::vector<Split>& splits, const SplitFn& fn) {
    std::vector<Split> out;
    out.reserve(splits.size() * 2);
    for (auto& s : splits) {
        if (s.id >= 0) {
            out.push_back(std::move(s));
            continue;
        }
        fn(s.text, s.at_origin, out);
    }
    splits.clear();
    for (auto& s : out)
        if (s.id >= 0 || !s.text.empty()) splits.push_back(std::move(s));
}

void emit(const std::string& text, bool at_origin, const std::vector<std::pair<size_t, size_t>>& ranges,
          std::vector<Split>& out) {
    for (auto [b, e] : ranges) {
        if (e <= b) continue;
        Split s;
        s.text = text.substr(b, e - b);
        s.at_origin = at_origin && b == 0;
        out.push_back(std::move(s));
    }
}

template <class Pred>
void split_on_chars(std::vector<Split>& splits, Pred pred, Behavior behavior) {
    split_all(splits, [&](std::string& text, bool at_origin, std::vector<Split>& out) {
        emit(text, at_origin, apply_behavior(char_matches(text, pred), behavior), out);
    });
}

bool is_bert_punc(char32_t c) { return is_bert_punctuation(c); }

class BertPreTokenizer : public PreTokenizer {
public:
    void pre_tokenize(std::vector<Split>& splits) const override {
        split_on_chars(splits, is_whitespace, Behavior::Removed);
        split_on_chars(splits, is_bert_punc, Behavior::Isolated);
    }
    std::string describe() const override { return "BertPreTokenizer"; }
    bool drops_whitespace() const override { return true; }
};

class WhitespaceSplitPreTokenizer : public PreTokenizer {
public:
    void pre_tokenize(std::vector<Split>& splits) const override {
        split_on_chars(splits, is_whitespace, Behavior::Removed);
    }
    std::string describe() const override { return "WhitespaceSplit"; }
    bool drops_whitespace() const override { return true; }
};

// Regex `\w+|[^\w\s]+` (Rust regex, Unicode), keeping the matches: maximal runs of word characters
// and maximal runs of characters that are neither word nor whitespace.
class WhitespacePreTokenizer : public PreTokenizer {
public:
    void pre_tokenize(std::vector<Split>& splits) const override {
        split_all(splits, [](std::string& text, bool at_origin, std::vector<Split>& out) {
            std::vector<std::pair<size_t, size_t>> ranges;
            int cur = 0;  // 0 none, 1 word run, 2 other run
            size_t start = 0, i = 0;
            while (i < text.size()) {
                size_t at = i;
                char32_t c = next_cp(text, i);
                int kind = is_word_char(c) ? 1 : is_whitespace(c) ? 0 : 2;
                if (kind != cur) {
                    if (cur != 0) ranges.emplace_back(start, at);
                    start = at;
                    cur = kind;
                }
            }
            if (cur != 0) ranges.emplace_back(start, text.size());
            emit(text, at_origin, ranges, out);
        });
    }
    std::string describe() const override { return "Whitespace"; }
    bool drops_whitespace() const override { return true; }
};

class PunctuationPreTokenizer : public PreTokenizer {
public:
    explicit PunctuationPreTokenizer(Behavior b) : behavior_(b) {}
    void pre_tokenize(std::vector<Split>& splits) const override {
        split_on_chars(splits, is_bert_punc, behavior_);
    }
    std::string describe() const override { return "Punctuation"; }

private:
    Behavior behavior_;
};

class DigitsPreTokenizer : public PreTokenizer {
public:
    explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
    void pre_tokenize(std::vector<Split>& splits) const override {
        split_on_chars(splits, is_numeric, individual_ ? Behavior::Isolated : Behavior::Contiguous);
    }
    std::string describe() const override { return "Digits"; }

private:
    bool individual_;
};

class CharDelimiterPreTokenizer : public PreTokenizer {
public:
    explicit CharDelimiterPreTokenizer(char32_t d) : delim_(d) {}
    void pre_tokenize(std::vector<Split>& splits) const override {
        char32_t d = delim_;
        split_on_chars(splits, [d](char32_t c) { return c == d; }, Behavior::Removed);
    }
    std::string describe() const override { return "CharDelimiterSplit"; }

private:
    char32_t delim_;
};

class SplitPreTokenizer : public PreTokenizer {
public:
    SplitPreTokenizer(const std::string& pattern, Behavior b, bool invert, const std::string& where)
        : regex_(pattern, where), behavior_(b), invert_(invert) {}
    void pre_tokenize(std::vector<Split>& splits) const override {
        split_all(splits, [&](std::string& text, bool at_origin, std::vector<Split>& out) {
            emit(text, at_origin, apply_behavior(regex_matches(text, regex_, invert_), behavior_), out);
        });
    }
    std::string describe() const override { return "Split"; }
    bool drops_whitespace() const override { return behavior_ == Behavior::Removed; }

private:
    Regex regex_;
    Behavior behavior_;
    bool invert_;
};

// GPT-2's pattern with `\s` spelled out as the White_Space property that Oniguruma uses.
const char* kWs = "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
                  "\\x{205F}\\x{3000}";

std::string gpt2_pattern() {
    std::string ws = kWs;
    return "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" + ws + "\\p{L}\\p{N}]+|[" + ws + "]+(?![^" + ws +
           "])|[" + ws + "]+";
}

const Regex& gpt2_regex() {
    static const Regex re(gpt2_pattern(), "ByteLevel pre-tokenizer");
    return re;
}

class ByteLevelPreTokenizer : public PreTokenizer {
public:
    ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
        : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}
    void pre_tokenize(std::vector<Split>& splits) const override {
        const Regex& re = gpt2_regex();
        split_all(splits, [&](std::string& text, bool at_origin, std::vector<Split>& out) {
            if (add_prefix_space_ && (text.empty() || text[0] != ' ')) text.insert(0, " ");
            if (use_regex_) {
                emit(text, at_origin, apply_behavior(regex_matches(text, re, false), Behavior::Isolated), out);
            } else {
                Split s;
                s.text = std::move(text);
                s.at_origin = at_origin;
                out.push_back(std::move(s));
            }
        });
        for (auto& s : splits) {
            if (s.id >= 0) continue;
            std::string mapped;
            mapped.reserve(s.text.size() * 2);
            for (char c : s.text) mapped += byte_to_unicode(static_cast<unsigned char>(c));
            s.text.swap(mapped);
        }
    }
    std::string describe() const override { return "ByteLevel"; }
    bool byte_level() const override { return true; }

private:
    bool add_prefix_space_, use_regex_;
};

class MetaspacePreTokenizer : public PreTokenizer {
public:
    enum class Prepend { Always, Never, First };
    MetaspacePreTokenizer(char32_t replacement, Prepend scheme, bool split)
        : replacement_(replacement), rep_(to_utf8(replacement)), scheme_(scheme), split_(split) {}
    void pre_tokenize(std::vector<Split>& splits) const override {
        split_all(splits, [&](std::string& text, bool at_origin, std::vector<Split>& out) {
            std::string s;
            s.reserve(text.size() + rep_.size() * 4);
            for (char c : text) {
                if (c == ' ')
                    s += rep_;
                else
                    s += c;
            }
            bool starts = s.compare(0, rep_.size(), rep_) == 0;
            if ((scheme_ == Prepend::Always && !starts) || (scheme_ == Prepend::First && !starts && at_origin))
                s.insert(0, rep_);
            if (split_) {
                char32_t r = replacement_;
                emit(s, at_origin,
                     apply_behavior(char_matches(s, [r](char32_t c) { return c == r; }), Behavior::MergedWithNext),
                     out);
            } else {
                Split sp;
                sp.text = std::move(s);
                sp.at_origin = at_origin;
                out.push_back(std::move(sp));
            }
        });
    }
    std::string describe() const override { return "Metaspace"; }

private:
    char32_t replacement_;
    std::string rep_;
    Prepend scheme_;
    bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
public:
    explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> items) : items_(std::move(items)) {}
    void pre_tokenize(std::vector<Split>& splits) const override {
        for (const auto& p : items_) p->pre_tokenize(splits);
    }
    std::string describe() const override {
        std::string d;
        for (const auto& p : items_) d += (d.empty() ? "" : "+") + p->describe();
        return d.empty() ? "Sequence" : d;
    }
    bool byte_level() const override {
        for (const auto& p : items_)
            if (p->byte_level()) return true;
        return false;
    }
    bool drops_whitespace() const override {
        for (const auto& p : items_)
            if (p->drops_whitespace()) return true;
        return false;
    }

private:
    std::vector<std::unique_ptr<PreTokenizer>> items_;
};

char32_t single_char(const std::string& s, const std::string& where, const std::string& field) {
    std::u32string u = decode(sanitize_utf8(s));
    if (u.size() != 1) throw Error(where + ": " + field + " must be a single character, not \"" + s + "\"");
    return u[0];
}

}  // namespace

std::unique_ptr<PreTokenizer> make_bert_pre_tokenizer() { return std::make_unique<BertPreTokenizer>(); }

std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex) {
    return std::make_unique<ByteLevelPreTokenizer>(add_prefix_space, use_regex);
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where, const std::string& path) {
    if (!j.is_object()) throw Error(where + ": " + path + " must be an object, not " + std::string(j.type_name()));
    std::string type = need_string(j, "type", where, path);
    if (type == "BertPreTokenizer") return make_bert_pre_tokenizer();
    if (type == "ByteLevel")
        return make_byte_level_pre_tokenizer(opt_bool(j, "add_prefix_space", true, where, path),
                                             opt_bool(j, "use_regex", true, where, path));
    if (type == "Whitespace") return std::make_unique<WhitespacePreTokenizer>();
    if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPreTokenizer>();
    if (type == "Punctuation")
        return std::make_unique<PunctuationPreTokenizer>(
            parse_behavior(j, "behavior", Behavior::Isolated, where, path));
    if (type == "Digits")
        return std::make_unique<DigitsPreTokenizer>(opt_bool(j, "individual_digits", false, where, path));
    if (type == "CharDelimiterSplit")
        return std::make_unique<CharDelimiterPreTokenizer>(
            single_char(need_string(j, "delimiter", where, path), where, path + ".delimiter"));
    if (type == "Split") {
        if (!j.contains("behavior")) throw Error(where + ": missing field " + path + ".behavior");
        return std::make_unique<SplitPreTokenizer>(read_pattern(j, where, path),
                                                   parse_behavior(j, "behavior", Behavior::Isolated, where, path),
                                                   opt_bool(j, "invert", false, where, path),
                                                   where + ": " + path + ".pattern");
    }
    if (type == "Metaspace") {
        std::string rep = opt_string(j, "replacement", where, path).value_or("\xE2\x96\x81");
        auto scheme = MetaspacePreTokenizer::Prepend::Always;
        if (auto ps = opt_string(j, "prepend_scheme", where, path)) {
            if (*ps == "always")
                scheme = MetaspacePreTokenizer::Prepend::Always;
            else if (*ps == "never")
                scheme = MetaspacePreTokenizer::Prepend::Never;
            else if (*ps == "first")
                scheme = MetaspacePreTokenizer::Prepend::First;
            else
                throw Error(where + ": " + path + ".prepend_scheme \"" + *ps +
                            "\" is not one of always, never, first");
        } else if (!opt_bool(j, "add_prefix_space", true, where, path)) {
            scheme = MetaspacePreTokenizer::Prepend::Never;
        }
        return std::make_unique<MetaspacePreTokenizer>(single_char(rep, where, path + ".replacement"), scheme,
                                                       opt_bool(j, "split", true, where, path));
    }
    if (type == "Sequence") {
        const json& list = need(j, "pretokenizers", where, path);
        if (!list.is_array()) throw Error(where + ": " + path + ".pretokenizers must be a list");
        std::vector<std::unique_ptr<PreTokenizer>> items;
        for (size_t i = 0; i < list.size(); ++i)
            items.push_back(make_pre_tokenizer(list[i], where, path + ".pretokenizers[" + std::to_string(i) + "]"));
        return std::make_unique<SequencePreTokenizer>(std::move(items));
    }
    unsupported_type(where, path, type,
                     "BertPreTokenizer, ByteLevel, Whitespace, WhitespaceSplit, Punctuation, Digits, "
                     "CharDelimiterSplit, Split, Metaspace and Sequence are");
}

}  // namespace ptune::text
