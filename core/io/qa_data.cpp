#include "core/io/qa_data.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "core/io/error.h"
#include "core/io/json_util.h"

namespace ptune {

namespace {

std::string show(const std::string& s, size_t max = 40) {
    std::string t = s.size() > max ? s.substr(0, max) + "..." : s;
    return "\"" + t + "\"";
}

// One question's fields, from either format; `where` prefixes its messages.
struct RawQuestion {
    const json* id = nullptr;
    const json* question = nullptr;
    const json* title = nullptr;
    std::vector<std::pair<const json*, const json*>> answers;   // (text, answer_start)
    std::vector<std::string> answer_where;                      // "answers[0]" / "answers.text[0]"
    bool impossible = false;
};

class Reader {
public:
    Reader(const std::string& path, const QaOptions& opt) : opt_(opt) { d_.path = path; }

    bool full() const {
        return opt_.max_examples > 0 && static_cast<int64_t>(d_.examples.size()) >= opt_.max_examples;
    }

    // Adds the question or records why it cannot be used. `line` > 0 for JSONL.
    void add(const RawQuestion& q, int64_t context, const std::string& where, int64_t line) {
        try {
            d_.examples.push_back(build(q, context, where));
        } catch (const Error& e) {
            bad(line, where, e.what());
        }
    }

    // A row that is not a question at all (JSONL: not an object, no context, malformed answers).
    void bad(int64_t line, const std::string& where, const std::string& reason) {
        if (opt_.on_bad_row == OnBadRow::Stop) {
            if (line > 0) throw Error(d_.path + ":" + std::to_string(line) + ": " + reason);
            throw Error(d_.path + ": " + where + ": " + reason);
        }
        d_.bad_rows.push_back({line, line > 0 ? reason : where + ": " + reason});
    }

    int64_t add_context(const std::string& c) {
        if (!d_.contexts.empty() && d_.contexts.back() == c) return static_cast<int64_t>(d_.contexts.size()) - 1;
        d_.contexts.push_back(c);
        return static_cast<int64_t>(d_.contexts.size()) - 1;
    }

    QaDataset finish() {
        if (d_.examples.empty()) {
            std::string msg = d_.path + ": no questions";
            if (!d_.bad_rows.empty()) msg += " (" + std::to_string(d_.bad_rows.size()) + " bad, the first: " +
                                             d_.bad_rows.front().reason + ")";
            throw Error(msg);
        }
        // Contexts no kept question refers to (all of theirs were bad) are dropped, indices renumbered.
        std::vector<int64_t> remap(d_.contexts.size(), -1);
        std::vector<std::string> kept;
        for (QaExample& e : d_.examples) {
            int64_t& r = remap[static_cast<size_t>(e.context)];
            if (r < 0) {
                r = static_cast<int64_t>(kept.size());
                kept.push_back(std::move(d_.contexts[static_cast<size_t>(e.context)]));
            }
            e.context = r;
        }
        d_.contexts = std::move(kept);
        for (const QaExample& e : d_.examples)
            if (e.answers.empty()) d_.version2 = true;
        return std::move(d_);
    }

    QaDataset& data() { return d_; }

private:
    QaExample build(const RawQuestion& q, int64_t context, const std::string& where) {
        QaExample e;
        e.where = where;
        e.context = context;
        if (!q.id) throw Error("no \"id\"");
        if (q.id->is_string()) e.id = q.id->get<std::string>();
        else if (q.id->is_number_integer()) e.id = std::to_string(q.id->get<int64_t>());
        else throw Error("\"id\" is not a string");
        if (e.id.empty()) throw Error("\"id\" is empty");
        if (!ids_.insert(e.id).second) throw Error("question id " + show(e.id) + " appears twice");
        if (!q.question || !q.question->is_string()) throw Error("\"question\" is missing or not a string");
        e.question = q.question->get<std::string>();
        if (q.title && q.title->is_string()) e.title = q.title->get<std::string>();
        const std::string& ctx = d_.contexts[static_cast<size_t>(context)];
        for (size_t i = 0; i < q.answers.size(); ++i) {
            const std::string& aw = q.answer_where[i];
            const json* text = q.answers[i].first;
            const json* start = q.answers[i].second;
            if (!text || !text->is_string()) throw Error(aw + ": \"text\" is missing or not a string");
            if (!start || !start->is_number_integer())
                throw Error(aw + ": \"answer_start\" is missing or not an integer");
            QaAnswer a;
            a.text = text->get<std::string>();
            a.char_start = start->get<int64_t>();
            if (a.text.empty()) throw Error(aw + ": the answer text is empty");
            a.start = utf8_offset_of_code_point(ctx, a.char_start);
            if (a.char_start < 0 || a.start < 0)
                throw Error(aw + ": answer_start " + std::to_string(a.char_start) + " is outside the context (" +
                            std::to_string(count_code_points(ctx)) + " characters)");
            if (ctx.compare(static_cast<size_t>(a.start), a.text.size(), a.text) != 0) {
                // Quote as many characters of the context as the answer has.
                const int64_t n = count_code_points(a.text);
                const int64_t end = utf8_offset_of_code_point(ctx, a.char_start + n);
                const std::string at = ctx.substr(static_cast<size_t>(a.start),
                                                  static_cast<size_t>((end < 0 ? static_cast<int64_t>(ctx.size())
                                                                               : end) - a.start));
                throw Error(aw + ": answer_start " + std::to_string(a.char_start) + " points at " + show(at) +
                            ", not the answer " + show(a.text));
            }
            e.answers.push_back(std::move(a));
        }
        if (q.impossible && !e.answers.empty())
            throw Error("\"is_impossible\" is true but the question has answers");
        if (e.answers.empty() && !allow_unanswerable_)
            throw Error("no answers (a SQuAD 1.1 file: every question has one; SQuAD 2.0 files say \"version\": "
                        "\"v2.0\" or mark unanswerable questions \"is_impossible\": true)");
        return e;
    }

    static int64_t count_code_points(const std::string& s) {
        int64_t n = 0;
        for (unsigned char c : s) n += (c & 0xC0) != 0x80;
        return n;
    }

public:
    bool allow_unanswerable_ = true;

private:
    QaOptions opt_;
    QaDataset d_;
    std::unordered_set<std::string> ids_;
};

const json* member(const json& j, const char* key) {
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
}

bool is_jsonl(const std::string& path, const std::string& head) {
    const auto dot = path.rfind('.');
    std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == "jsonl" || ext == "ndjson") return true;
    // A .json file holding one object per line: its first line parses on its own as an object.
    const auto nl = head.find('\n');
    if (nl == std::string::npos) return false;
    const json first = json::parse(head.substr(0, nl), nullptr, false);
    return first.is_object() && first.contains("question");
}

void read_squad_json(const std::string& path, Reader& r) {
    const json doc = read_json_file(path);
    if (!doc.is_object() || !doc.contains("data") || !doc["data"].is_array())
        throw Error(path + ": not a SQuAD file (no \"data\" list of articles)");
    QaDataset& d = r.data();
    if (const json* v = member(doc, "version"); v && v->is_string()) d.version = v->get<std::string>();
    bool any_impossible = d.version.rfind("v2", 0) == 0 || d.version.rfind("2", 0) == 0;
    const bool says_v1 = d.version.rfind("v1", 0) == 0 || d.version.rfind("1", 0) == 0;
    // SQuAD 2.0 without a version string: any question marked impossible or (unless the file says it is 1.x)
    // without answers.
    for (const json& art : doc["data"]) {
        if (!art.is_object() || !art.contains("paragraphs") || !art["paragraphs"].is_array()) continue;
        for (const json& p : art["paragraphs"]) {
            if (!p.is_object() || !p.contains("qas") || !p["qas"].is_array()) continue;
            for (const json& q : p["qas"]) {
                if (!q.is_object()) continue;
                const json* imp = member(q, "is_impossible");
                const json* ans = member(q, "answers");
                if ((imp && imp->is_boolean() && imp->get<bool>()) || (!says_v1 && ans && ans->is_array() && ans->empty()))
                    any_impossible = true;
            }
        }
    }
    r.allow_unanswerable_ = any_impossible;
    d.version2 = any_impossible;
    const json& data = doc["data"];
    for (size_t ai = 0; ai < data.size() && !r.full(); ++ai) {
        const std::string aw = "data[" + std::to_string(ai) + "]";
        const json& art = data[ai];
        if (!art.is_object() || !art.contains("paragraphs") || !art["paragraphs"].is_array())
            throw Error(path + ": " + aw + ": not an article (an object with a \"paragraphs\" list)");
        const json* title = member(art, "title");
        const json& paras = art["paragraphs"];
        for (size_t pi = 0; pi < paras.size() && !r.full(); ++pi) {
            const std::string pw = aw + ".paragraphs[" + std::to_string(pi) + "]";
            const json& p = paras[pi];
            if (!p.is_object() || !p.contains("context") || !p["context"].is_string() || !p.contains("qas") ||
                !p["qas"].is_array())
                throw Error(path + ": " + pw + ": not a paragraph (an object with a \"context\" string and a "
                            "\"qas\" list)");
            const int64_t ctx = r.add_context(p["context"].get<std::string>());
            const json& qas = p["qas"];
            for (size_t qi = 0; qi < qas.size() && !r.full(); ++qi) {
                const std::string qw = pw + ".qas[" + std::to_string(qi) + "]";
                const json& q = qas[qi];
                RawQuestion raw;
                if (q.is_object()) {
                    raw.id = member(q, "id");
                    raw.question = member(q, "question");
                    raw.title = title;
                    const json* imp = member(q, "is_impossible");
                    raw.impossible = imp && imp->is_boolean() && imp->get<bool>();
                    if (const json* ans = member(q, "answers"); ans && ans->is_array()) {
                        for (size_t k = 0; k < ans->size(); ++k) {
                            const json& a = (*ans)[k];
                            raw.answers.emplace_back(a.is_object() ? member(a, "text") : nullptr,
                                                     a.is_object() ? member(a, "answer_start") : nullptr);
                            raw.answer_where.push_back("answers[" + std::to_string(k) + "]");
                        }
                    } else if (ans) {
                        raw.answers.emplace_back(nullptr, nullptr);
                        raw.answer_where.push_back("answers (not a list)");
                    }
                }
                r.add(raw, ctx, qw, 0);
            }
        }
    }
}

void read_qa_jsonl(const std::string& path, Reader& r) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    std::string line;
    int64_t lineno = 0;
    bool bom_checked = false;
    while (!r.full() && std::getline(in, line)) {
        ++lineno;
        if (!bom_checked) {
            bom_checked = true;
            if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
        }
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        const json row = json::parse(line, nullptr, false);
        RawQuestion raw;
        int64_t ctx = -1;
        std::string bad;
        if (row.is_discarded()) bad = "not valid JSON";
        else if (!row.is_object()) bad = "not a JSON object";
        else if (!row.contains("context") || !row["context"].is_string()) bad = "\"context\" is missing or not a string";
        if (bad.empty()) {
            ctx = r.add_context(row["context"].get<std::string>());
            raw.id = member(row, "id");
            raw.question = member(row, "question");
            raw.title = member(row, "title");
            const json* ans = member(row, "answers");
            if (!ans || !ans->is_object() || !ans->contains("text") || !(*ans)["text"].is_array() ||
                !ans->contains("answer_start") || !(*ans)["answer_start"].is_array())
                bad = "\"answers\" is missing or not {\"text\": [...], \"answer_start\": [...]}";
            else if ((*ans)["text"].size() != (*ans)["answer_start"].size())
                bad = "\"answers\" has " + std::to_string((*ans)["text"].size()) + " texts but " +
                      std::to_string((*ans)["answer_start"].size()) + " starts";
            else
                for (size_t k = 0; k < (*ans)["text"].size(); ++k) {
                    raw.answers.emplace_back(&(*ans)["text"][k], &(*ans)["answer_start"][k]);
                    raw.answer_where.push_back("answers[" + std::to_string(k) + "]");
                }
        }
        if (!bad.empty()) {
            r.bad(lineno, "line " + std::to_string(lineno), bad);
            continue;
        }
        r.add(raw, ctx, "line " + std::to_string(lineno), lineno);
    }
}

}  // namespace

QaDataset load_qa(const std::string& path, const QaOptions& opt) {
    std::string head;
    {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw Error(path + ": cannot open (" + std::string(std::strerror(errno)) + ")");
        head.resize(1 << 16);
        in.read(head.data(), static_cast<std::streamsize>(head.size()));
        head.resize(static_cast<size_t>(in.gcount()));
    }
    Reader r(path, opt);
    if (is_jsonl(path, head)) read_qa_jsonl(path, r);
    else read_squad_json(path, r);
    return r.finish();
}

bool looks_like_qa_data(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::string head(1 << 16, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    const auto first = head.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
    if (first == std::string::npos || head[first] != '{') return false;
    const auto nl = head.find('\n', first);
    if (nl != std::string::npos) {
        const json row = json::parse(head.substr(first, nl - first), nullptr, false);
        if (row.is_object())
            return row.contains("context") && row.contains("question") && row.contains("answers");
    }
    return head.find("\"data\"") != std::string::npos && head.find("\"paragraphs\"") != std::string::npos &&
           head.find("\"context\"") != std::string::npos;
}

std::pair<QaDataset, QaDataset> split_qa(const QaDataset& d, double fraction, uint64_t seed) {
    const std::vector<char> in_valid = held_out_rows(d.contexts.size(), fraction, seed);
    std::pair<QaDataset, QaDataset> out;
    std::vector<int64_t> index(d.contexts.size(), -1);
    for (QaDataset* part : {&out.first, &out.second}) {
        part->path = d.path;
        part->version = d.version;
        part->version2 = d.version2;
    }
    for (size_t c = 0; c < d.contexts.size(); ++c) {
        QaDataset& part = in_valid[c] ? out.second : out.first;
        index[c] = static_cast<int64_t>(part.contexts.size());
        part.contexts.push_back(d.contexts[c]);
    }
    for (const QaExample& e : d.examples) {
        QaExample copy = e;
        copy.context = index[static_cast<size_t>(e.context)];
        (in_valid[static_cast<size_t>(e.context)] ? out.second : out.first).examples.push_back(std::move(copy));
    }
    return out;
}

int64_t QaDataset::answerable() const {
    int64_t n = 0;
    for (const QaExample& e : examples) n += !e.answers.empty();
    return n;
}

int64_t utf8_offset_of_code_point(const std::string& s, int64_t cp) {
    if (cp < 0) return -1;
    int64_t seen = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
        if (seen == cp) return static_cast<int64_t>(i);
        ++seen;
    }
    return seen == cp ? static_cast<int64_t>(s.size()) : -1;
}

}  // namespace ptune
