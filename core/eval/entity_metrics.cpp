#include "core/eval/entity_metrics.h"

#include <array>
#include <set>

#include "core/io/error.h"

namespace ptune {

namespace {

// ---- default mode: seqeval's get_entities, start_of_chunk and end_of_chunk ----

void prefix_and_type(const std::string& chunk, char& tag, std::string& type) {
    if (chunk.empty()) {   // cannot happen with ptune's readers; seqeval would fail on chunk[0]
        tag = 'O';
        type = "_";
        return;
    }
    tag = chunk[0];
    // chunk[1:].split('-', maxsplit=1)[-1] or '_'
    const std::string rest = chunk.substr(1);
    const size_t dash = rest.find('-');
    type = dash == std::string::npos ? rest : rest.substr(dash + 1);
    if (type.empty()) type = "_";
}

bool end_of_chunk(char prev_tag, char tag, const std::string& prev_type, const std::string& type) {
    bool end = false;
    if (prev_tag == 'E' || prev_tag == 'S') end = true;
    if ((prev_tag == 'B' || prev_tag == 'I') && (tag == 'B' || tag == 'S' || tag == 'O')) end = true;
    if (prev_tag != 'O' && prev_tag != '.' && prev_type != type) end = true;
    return end;
}

bool start_of_chunk(char prev_tag, char tag, const std::string& prev_type, const std::string& type) {
    bool start = false;
    if (tag == 'B' || tag == 'S') start = true;
    if ((prev_tag == 'E' || prev_tag == 'S' || prev_tag == 'O') && (tag == 'E' || tag == 'I')) start = true;
    if (tag != 'O' && tag != '.' && prev_type != type) start = true;
    return start;
}

// ---- strict mode: seqeval's scheme.py Tokens with prefix patterns ----

enum P : unsigned { PI = 1, PO = 2, PB = 4, PE = 8, PS = 16, PANY = 31 };
enum class TagCond { Same, Diff, Any };
struct Pattern {
    unsigned prev, cur;
    TagCond cond;
};
struct SchemeRules {
    unsigned allowed;
    std::vector<Pattern> start, inside, end;
};

const SchemeRules& rules_of(TagScheme s) {
    static const SchemeRules iob2{PI | PO | PB,
                                  {{PANY, PB, TagCond::Any}},
                                  {{PB, PI, TagCond::Same}, {PI, PI, TagCond::Same}},
                                  {{PI, PO, TagCond::Any},
                                   {PI, PI, TagCond::Diff},
                                   {PI, PB, TagCond::Any},
                                   {PB, PO, TagCond::Any},
                                   {PB, PI, TagCond::Diff},
                                   {PB, PB, TagCond::Any}}};
    static const SchemeRules iob1{PI | PO | PB,
                                  {{PO, PI, TagCond::Any},
                                   {PI, PI, TagCond::Diff},
                                   {PB, PI, TagCond::Any},
                                   {PI, PB, TagCond::Same},
                                   {PB, PB, TagCond::Same}},
                                  {{PB, PI, TagCond::Same}, {PI, PI, TagCond::Same}},
                                  {{PI, PI, TagCond::Diff},
                                   {PI, PO, TagCond::Any},
                                   {PI, PB, TagCond::Any},
                                   {PB, PO, TagCond::Any},
                                   {PB, PI, TagCond::Diff},
                                   {PB, PB, TagCond::Same}}};
    static const SchemeRules iobes{PANY,
                                   {{PANY, PB, TagCond::Any}, {PANY, PS, TagCond::Any}},
                                   {{PB, PI, TagCond::Same},
                                    {PB, PE, TagCond::Same},
                                    {PI, PI, TagCond::Same},
                                    {PI, PE, TagCond::Same}},
                                   {{PS, PANY, TagCond::Any}, {PE, PANY, TagCond::Any}}};
    switch (s) {
        case TagScheme::IOB1: return iob1;
        case TagScheme::IOBES: return iobes;
        case TagScheme::IOB2: return iob2;
        default: throw Error(std::string("strict entity scoring needs the scheme iob2, iob1 or iobes, not ") + tag_scheme_name(s));
    }
}

struct StrictToken {
    unsigned prefix = PO;
    std::string tag;   // token[1:].strip('-') or '_'
};

StrictToken strict_token(const std::string& t, const SchemeRules& r, int64_t sentence, size_t pos) {
    StrictToken k;
    const char c = t.empty() ? '?' : t[0];
    switch (c) {
        case 'I': k.prefix = PI; break;
        case 'O': k.prefix = PO; break;
        case 'B': k.prefix = PB; break;
        case 'E': k.prefix = PE; break;
        case 'S': k.prefix = PS; break;
        default:
            throw Error("sentence " + std::to_string(sentence + 1) + ", tag " + std::to_string(pos + 1) + ": \"" + t +
                        "\" has no prefix O, B, I, E or S");
    }
    if (!(k.prefix & r.allowed))
        throw Error("sentence " + std::to_string(sentence + 1) + ", tag " + std::to_string(pos + 1) + ": \"" + t +
                    "\" is not allowed by the tag scheme");
    std::string tag = t.substr(1);
    size_t a = 0, b = tag.size();
    while (a < b && tag[a] == '-') ++a;
    while (b > a && tag[b - 1] == '-') --b;
    k.tag = tag.substr(a, b - a);
    if (k.tag.empty()) k.tag = "_";
    return k;
}

bool matches(const std::vector<Pattern>& ps, const StrictToken& prev, const StrictToken& cur) {
    for (const auto& p : ps) {
        if (!(prev.prefix & p.prev) || !(cur.prefix & p.cur)) continue;
        if (p.cond == TagCond::Any || (p.cond == TagCond::Same && prev.tag == cur.tag) ||
            (p.cond == TagCond::Diff && prev.tag != cur.tag))
            return true;
    }
    return false;
}

EntityScore score(int64_t tp, int64_t pred, int64_t gold) {
    EntityScore s;
    s.true_positives = tp;
    s.predicted = pred;
    s.gold = gold;
    s.precision = pred > 0 ? static_cast<double>(tp) / static_cast<double>(pred) : 0.0;
    s.recall = gold > 0 ? static_cast<double>(tp) / static_cast<double>(gold) : 0.0;
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
    return s;
}

}  // namespace

std::vector<EntitySpan> entities_default(const std::vector<std::vector<std::string>>& sentences) {
    std::vector<std::string> seq;
    for (const auto& s : sentences) {
        seq.insert(seq.end(), s.begin(), s.end());
        seq.push_back("O");
    }
    seq.push_back("O");
    std::vector<EntitySpan> chunks;
    char prev_tag = 'O';
    std::string prev_type;
    int64_t begin = 0;
    for (size_t i = 0; i < seq.size(); ++i) {
        char tag;
        std::string type;
        prefix_and_type(seq[i], tag, type);
        if (end_of_chunk(prev_tag, tag, prev_type, type))
            chunks.push_back({prev_type, 0, begin, static_cast<int64_t>(i) - 1});
        if (start_of_chunk(prev_tag, tag, prev_type, type)) begin = static_cast<int64_t>(i);
        prev_tag = tag;
        prev_type = type;
    }
    return chunks;
}

std::vector<EntitySpan> entities_strict(const std::vector<std::vector<std::string>>& sentences, TagScheme scheme) {
    const SchemeRules& r = rules_of(scheme);
    std::vector<EntitySpan> out;
    for (size_t si = 0; si < sentences.size(); ++si) {
        const int64_t sid = static_cast<int64_t>(si);
        std::vector<StrictToken> toks;
        toks.reserve(sentences[si].size() + 1);
        for (size_t k = 0; k < sentences[si].size(); ++k) toks.push_back(strict_token(sentences[si][k], r, sid, k));
        const StrictToken outside = strict_token("O", r, sid, 0);
        toks.push_back(outside);   // the sentinel
        const size_t n = toks.size();
        size_t i = 0;
        StrictToken prev = outside;
        while (i < n) {
            const StrictToken& tok = toks[i];
            if (matches(r.start, prev, tok)) {
                // _forward: the first position from i + 1 that is not inside
                size_t end = n - 1;
                StrictToken p = tok;
                for (size_t k = i + 1; k < n; ++k) {
                    if (matches(r.inside, p, toks[k])) {
                        p = toks[k];
                    } else {
                        end = k;
                        break;
                    }
                }
                if (matches(r.end, toks[end - 1], toks[end]))
                    out.push_back({tok.tag, sid, static_cast<int64_t>(i), static_cast<int64_t>(end) - 1});
                i = end;
            } else {
                ++i;
            }
            prev = toks[i - 1];
        }
    }
    return out;
}

TaggingScores score_tagging(const std::vector<std::vector<std::string>>& gold,
                            const std::vector<std::vector<std::string>>& predicted, EntityMode mode, TagScheme scheme) {
    if (gold.size() != predicted.size())
        throw Error("scoring tags: " + std::to_string(gold.size()) + " gold sentences but " +
                    std::to_string(predicted.size()) + " predicted");
    TaggingScores out;
    int64_t equal = 0;
    for (size_t i = 0; i < gold.size(); ++i) {
        if (gold[i].size() != predicted[i].size())
            throw Error("scoring tags: sentence " + std::to_string(i + 1) + " has " + std::to_string(gold[i].size()) +
                        " gold tags but " + std::to_string(predicted[i].size()) + " predicted");
        for (size_t k = 0; k < gold[i].size(); ++k) equal += gold[i][k] == predicted[i][k];
        out.tokens += static_cast<int64_t>(gold[i].size());
    }
    out.token_accuracy = out.tokens > 0 ? static_cast<double>(equal) / static_cast<double>(out.tokens) : 0.0;

    const bool strict = mode == EntityMode::Strict && scheme != TagScheme::None;
    const std::vector<EntitySpan> g = strict ? entities_strict(gold, scheme) : entities_default(gold);
    const std::vector<EntitySpan> p = strict ? entities_strict(predicted, scheme) : entities_default(predicted);
    const std::set<EntitySpan> gs(g.begin(), g.end()), ps(p.begin(), p.end());
    std::map<std::string, std::array<int64_t, 3>> counts;   // tp, predicted, gold
    for (const auto& e : gs) {
        counts[e.type][2] += 1;
        if (ps.count(e)) counts[e.type][0] += 1;
    }
    for (const auto& e : ps) counts[e.type][1] += 1;
    int64_t tp = 0, np = 0, ng = 0;
    double f1_sum = 0;
    for (const auto& [type, c] : counts) {
        out.per_type[type] = score(c[0], c[1], c[2]);
        f1_sum += out.per_type[type].f1;
        tp += c[0];
        np += c[1];
        ng += c[2];
    }
    out.micro = score(tp, np, ng);
    out.macro_f1 = counts.empty() ? 0.0 : f1_sum / static_cast<double>(counts.size());
    return out;
}

}  // namespace ptune
