#include "core/io/tagged_data.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <string_view>

#include "core/io/json_util.h"

namespace ptune {

namespace {

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::vector<std::string_view> fields_of(std::string_view ln) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < ln.size()) {
        while (i < ln.size() && is_space(ln[i])) ++i;
        if (i >= ln.size()) break;
        size_t j = i;
        while (j < ln.size() && !is_space(ln[j])) ++j;
        out.push_back(ln.substr(i, j - i));
        i = j;
    }
    return out;
}

// Splits into lines (LF or CRLF), calling f(line_number, line) for every line, blank ones included.
template <class F>
void each_line(std::string_view s, F&& f) {
    size_t pos = 0;
    int64_t line = 0;
    while (pos < s.size()) {
        size_t nl = s.find('\n', pos);
        size_t end = nl == std::string_view::npos ? s.size() : nl;
        std::string_view ln = s.substr(pos, end - pos);
        ++line;
        pos = nl == std::string_view::npos ? s.size() : nl + 1;
        if (!ln.empty() && ln.back() == '\r') ln.remove_suffix(1);
        if (!f(line, ln)) return;
    }
}

bool blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return is_space(c) || c == '\r'; });
}

std::string_view strip_bom(std::string_view s) {
    if (s.size() >= 3 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
    return s;
}

TaggedFormat resolve(TaggedFormat f, const std::string& path, std::string_view content) {
    if (f != TaggedFormat::Auto) return f;
    const std::string p = lower(path);
    for (const char* ext : {".jsonl", ".json", ".ndjson"})
        if (p.size() >= std::string_view(ext).size() && p.compare(p.size() - std::string_view(ext).size(), std::string::npos, ext) == 0)
            return TaggedFormat::JSONL;
    for (char c : content) {
        if (is_space(c) || c == '\n' || c == '\r') continue;
        return c == '{' ? TaggedFormat::JSONL : TaggedFormat::CoNLL;
    }
    return TaggedFormat::CoNLL;
}

struct Prefixed {
    char prefix = 'O';   // O, B, I, E, S
    std::string type;    // "" for O
};

Prefixed split_tag(const std::string& t) {
    Prefixed p;
    if (t == "O") return p;
    p.prefix = t[0];
    p.type = t.substr(2);
    return p;
}

int prefix_rank(char c) {
    switch (c) {
        case 'B': return 0;
        case 'I': return 1;
        case 'E': return 2;
        case 'S': return 3;
        default: return 4;
    }
}

bool scheme_allows(TagScheme s, char prefix) {
    switch (s) {
        case TagScheme::IOB2:
        case TagScheme::IOB1: return prefix == 'O' || prefix == 'B' || prefix == 'I';
        case TagScheme::IOBES: return true;
        default: return true;
    }
}

// A sentence as read, tags still strings.
struct RawSentence {
    std::vector<std::string> words, tags;
    int64_t line = 0, document = 0;
};

struct Collector {
    const std::string& path;
    const TaggedOptions& opt;
    TaggedDataset& d;
    std::vector<RawSentence> raw;
    void bad(int64_t line, const std::string& reason) {
        if (opt.on_bad_row == OnBadRow::Stop) throw Error(path + ":" + std::to_string(line) + ": " + reason);
        d.bad_rows.push_back({line, reason});
    }
    bool full() const { return opt.max_sentences > 0 && static_cast<int64_t>(raw.size()) >= opt.max_sentences; }
};

void read_conll(std::string_view s, Collector& c) {
    RawSentence cur;
    bool cur_bad = false;
    int64_t document = 0;
    bool seen_docstart = false;
    auto flush = [&]() {
        if (!cur.words.empty() && !cur_bad && !c.full()) {
            cur.document = document;
            c.raw.push_back(std::move(cur));
        }
        cur = RawSentence{};
        cur_bad = false;
    };
    const size_t need = static_cast<size_t>(std::max(c.opt.token_column, c.opt.tag_column) + 1);
    each_line(s, [&](int64_t line, std::string_view ln) {
        if (blank(ln)) {
            flush();
            return !c.full();
        }
        auto f = fields_of(ln);
        if (!f.empty() && f[0] == "-DOCSTART-") {
            flush();
            if (seen_docstart || !c.raw.empty()) ++document;
            seen_docstart = true;
            ++c.d.documents;
            return !c.full();
        }
        const size_t tag_col = c.opt.tag_column < 0 ? f.size() - 1 : static_cast<size_t>(c.opt.tag_column);
        if (f.size() < std::max<size_t>(need, 2) || tag_col == static_cast<size_t>(c.opt.token_column)) {
            c.bad(line, "expected at least " + std::to_string(std::max<size_t>(need, 2)) + " fields, got " +
                            std::to_string(f.size()));
            cur_bad = true;
            return true;
        }
        if (cur.words.empty()) cur.line = line;
        cur.words.emplace_back(f[static_cast<size_t>(c.opt.token_column)]);
        cur.tags.emplace_back(f[tag_col]);
        return true;
    });
    flush();
}

void read_jsonl(std::string_view s, Collector& c) {
    using ojson = nlohmann::ordered_json;
    each_line(s, [&](int64_t line, std::string_view ln) {
        if (blank(ln)) return true;
        if (c.full()) return false;
        ojson j;
        try {
            j = ojson::parse(ln.begin(), ln.end());
        } catch (const ojson::parse_error& e) {
            c.bad(line, "invalid JSON at byte " + std::to_string(e.byte));
            return true;
        } catch (const ojson::exception& e) {
            c.bad(line, std::string("invalid JSON: ") + e.what());
            return true;
        }
        if (!j.is_object()) {
            c.bad(line, "not a JSON object");
            return true;
        }
        auto tokens = j.find(c.opt.tokens_key);
        if (tokens == j.end() || !tokens->is_array()) {
            c.bad(line, "missing list \"" + c.opt.tokens_key + "\"");
            return true;
        }
        std::string tags_key = c.opt.tags_key;
        if (tags_key.empty()) tags_key = j.contains("tags") || !j.contains("ner_tags") ? "tags" : "ner_tags";
        auto tags = j.find(tags_key);
        if (tags == j.end() || !tags->is_array()) {
            c.bad(line, "missing list \"" + tags_key + "\"");
            return true;
        }
        if (tokens->size() != tags->size()) {
            c.bad(line, std::to_string(tokens->size()) + " tokens but " + std::to_string(tags->size()) + " tags");
            return true;
        }
        RawSentence r;
        r.line = line;
        for (size_t i = 0; i < tokens->size(); ++i) {
            const auto& w = (*tokens)[i];
            if (!w.is_string()) {
                c.bad(line, c.opt.tokens_key + "[" + std::to_string(i) + "] is not a string");
                return true;
            }
            const auto& t = (*tags)[i];
            if (t.is_string()) {
                r.tags.push_back(t.get<std::string>());
            } else if (t.is_number_integer() && !c.opt.label_names.empty() && t.get<int64_t>() >= 0 &&
                       t.get<int64_t>() < static_cast<int64_t>(c.opt.label_names.size())) {
                r.tags.push_back(c.opt.label_names[static_cast<size_t>(t.get<int64_t>())]);
            } else if (t.is_number_integer() && c.opt.label_names.empty()) {
                c.bad(line, tags_key + "[" + std::to_string(i) +
                                "] is an integer: give the tag names (label_names) to read integer tags");
                return true;
            } else {
                c.bad(line, tags_key + "[" + std::to_string(i) + "] is not a tag name or an index of the " +
                                std::to_string(c.opt.label_names.size()) + " tag names");
                return true;
            }
            r.words.push_back(w.get<std::string>());
        }
        if (!r.words.empty()) c.raw.push_back(std::move(r));
        return true;
    });
}

std::string join_names(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < 40; ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > 40) s += ", ...";
    return s;
}

}  // namespace

const char* tag_scheme_name(TagScheme s) {
    switch (s) {
        case TagScheme::Auto: return "auto";
        case TagScheme::IOB2: return "iob2";
        case TagScheme::IOB1: return "iob1";
        case TagScheme::IOBES: return "iobes";
        case TagScheme::None: return "none";
    }
    return "auto";
}

std::optional<TagScheme> parse_tag_scheme(const std::string& s) {
    const std::string l = lower(s);
    if (l == "auto" || l.empty()) return TagScheme::Auto;
    if (l == "iob2" || l == "bio") return TagScheme::IOB2;
    if (l == "iob1" || l == "iob") return TagScheme::IOB1;
    if (l == "iobes" || l == "bioes") return TagScheme::IOBES;
    if (l == "none") return TagScheme::None;
    return std::nullopt;
}

bool is_entity_tag(const std::string& t) {
    if (t == "O") return true;
    return t.size() >= 3 && (t[0] == 'B' || t[0] == 'I' || t[0] == 'E' || t[0] == 'S') && t[1] == '-';
}

std::vector<std::string> sort_tag_names(std::vector<std::string> names, TagScheme scheme) {
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    bool entity = scheme != TagScheme::None;
    for (const auto& n : names) entity = entity && is_entity_tag(n);
    if (entity)
        std::stable_sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
            const Prefixed pa = split_tag(a), pb = split_tag(b);
            if ((pa.prefix == 'O') != (pb.prefix == 'O')) return pa.prefix == 'O';
            if (pa.type != pb.type) return pa.type < pb.type;
            return prefix_rank(pa.prefix) < prefix_rank(pb.prefix);
        });
    return names;
}

TagScheme detect_tag_scheme(const std::vector<std::vector<std::string>>& sequences) {
    bool has_es = false, b_at_start = false, i_at_start = false;
    for (const auto& seq : sequences) {
        for (const auto& t : seq)
            if (!is_entity_tag(t)) return TagScheme::None;
        Prefixed prev;
        for (const auto& t : seq) {
            Prefixed p = split_tag(t);
            if (p.prefix == 'E' || p.prefix == 'S') has_es = true;
            const bool continues = prev.prefix != 'O' && prev.type == p.type;
            if (p.prefix == 'B' && !continues) b_at_start = true;
            if (p.prefix == 'I' && !continues) i_at_start = true;
            prev = p;
        }
    }
    if (has_es) return TagScheme::IOBES;
    if (b_at_start) return TagScheme::IOB2;
    if (i_at_start) return TagScheme::IOB1;
    return TagScheme::IOB2;
}

int64_t TaggedDataset::word_count() const {
    int64_t n = 0;
    for (const auto& s : sentences) n += static_cast<int64_t>(s.words.size());
    return n;
}

std::vector<std::vector<std::string>> TaggedDataset::tag_strings() const {
    std::vector<std::vector<std::string>> out;
    out.reserve(sentences.size());
    for (const auto& s : sentences) {
        std::vector<std::string> t;
        t.reserve(s.tags.size());
        for (int id : s.tags) t.push_back(label_names[static_cast<size_t>(id)]);
        out.push_back(std::move(t));
    }
    return out;
}

TaggedDataset load_tagged(const std::string& path, const TaggedOptions& opt) {
    if (opt.token_column < 0) throw Error(path + ": token column must be 0 or more, got " + std::to_string(opt.token_column));
    if (opt.tag_column < -1) throw Error(path + ": tag column must be 0 or more (or -1: the last), got " + std::to_string(opt.tag_column));
    const std::string content = read_text_file(path);
    const std::string_view s = strip_bom(content);
    TaggedDataset d;
    d.path = path;
    Collector c{path, opt, d, {}};
    if (resolve(opt.format, path, s) == TaggedFormat::JSONL) read_jsonl(s, c);
    else read_conll(s, c);

    // The scheme: as given (its tags checked), or detected from every sentence.
    std::vector<std::vector<std::string>> seqs;
    seqs.reserve(c.raw.size());
    for (const auto& r : c.raw) seqs.push_back(r.tags);
    TagScheme scheme = opt.scheme;
    if (scheme == TagScheme::Auto) {
        scheme = detect_tag_scheme(seqs);
    }
    // Sentences with tags the scheme or the given names do not allow are bad rows.
    std::vector<RawSentence> good;
    good.reserve(c.raw.size());
    const std::set<std::string> known(opt.label_names.begin(), opt.label_names.end());
    for (auto& r : c.raw) {
        std::string why;
        for (const auto& t : r.tags) {
            if (scheme != TagScheme::None && !is_entity_tag(t)) {
                why = "tag \"" + t + "\" is not O or B-/I-/E-/S-TYPE (scheme " + tag_scheme_name(scheme) + ")";
            } else if (scheme != TagScheme::None && !scheme_allows(scheme, split_tag(t).prefix)) {
                why = "tag \"" + t + "\" is not " + std::string(tag_scheme_name(scheme));
            } else if (!known.empty() && !known.count(t)) {
                why = "unknown tag \"" + t + "\" (tags: " + join_names(opt.label_names) + ")";
            }
            if (!why.empty()) break;
        }
        if (!why.empty()) {
            c.bad(r.line, why);
            continue;
        }
        good.push_back(std::move(r));
    }
    if (good.empty()) throw Error(path + ": no sentences" + (d.bad_rows.empty() ? "" : " (every one had a bad row)"));

    // Label names.
    if (!opt.label_names.empty()) {
        d.label_names = opt.label_names;
    } else {
        std::set<std::string> tags;
        for (const auto& r : good) tags.insert(r.tags.begin(), r.tags.end());
        d.label_names = sort_tag_names({tags.begin(), tags.end()}, scheme);
    }
    std::map<std::string, int> id;
    for (size_t i = 0; i < d.label_names.size(); ++i) id.emplace(d.label_names[i], static_cast<int>(i));
    d.scheme = scheme;
    d.sentences.reserve(good.size());
    for (auto& r : good) {
        TaggedSentence t;
        t.words = std::move(r.words);
        t.line = r.line;
        t.document = r.document;
        t.tags.reserve(r.tags.size());
        for (const auto& tag : r.tags) t.tags.push_back(id.at(tag));
        d.sentences.push_back(std::move(t));
    }
    return d;
}

bool looks_like_tagged_data(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    std::string buf(64 * 1024, '\0');
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    buf.resize(static_cast<size_t>(f.gcount()));
    std::string_view s = strip_bom(buf);
    if (resolve(TaggedFormat::Auto, path, s) == TaggedFormat::JSONL) {
        bool yes = false;
        each_line(s, [&](int64_t, std::string_view ln) {
            if (blank(ln)) return true;
            auto j = nlohmann::json::parse(ln.begin(), ln.end(), nullptr, false);
            yes = j.is_object() && j.contains("tokens") && j["tokens"].is_array();
            return false;
        });
        return yes;
    }
    // CoNLL: every non-blank line has 2..10 short fields, the tag field looks like a tag, and there is a blank line
    // or a -DOCSTART- (a TSV of sentences has long text fields).
    int64_t lines = 0, blank_lines = 0;
    bool ok = true;
    each_line(s, [&](int64_t, std::string_view ln) {
        if (blank(ln)) {
            ++blank_lines;
            return true;
        }
        auto f = fields_of(ln);
        if (!f.empty() && f[0] == "-DOCSTART-") {
            ++blank_lines;
            return true;
        }
        if (f.size() < 2 || f.size() > 10) ok = false;
        for (auto x : f)
            if (x.size() > 64) ok = false;
        ++lines;
        return ok && lines < 2000;
    });
    return ok && lines > 0 && blank_lines > 0;
}

std::pair<TaggedDataset, TaggedDataset> split_tagged(const TaggedDataset& d, double fraction, uint64_t seed) {
    const std::vector<char> in_valid = held_out_rows(d.sentences.size(), fraction, seed);
    std::pair<TaggedDataset, TaggedDataset> out;
    for (TaggedDataset* part : {&out.first, &out.second}) {
        part->path = d.path;
        part->label_names = d.label_names;
        part->scheme = d.scheme;
        part->documents = d.documents;
    }
    for (size_t i = 0; i < d.sentences.size(); ++i)
        (in_valid[i] ? out.second : out.first).sentences.push_back(d.sentences[i]);
    return out;
}

}  // namespace ptune
