// Post-processors of the Hugging Face `tokenizers` library (processors/*.rs).
#include <cctype>
#include <sstream>

#include "core/text/components.h"

namespace ptune::text {

namespace {

Enc special_enc(const std::vector<int64_t>& ids, const std::vector<std::string>& tokens, int64_t type_id) {
    Enc e;
    e.ids = ids;
    e.tokens = tokens;
    e.type_ids.assign(ids.size(), type_id);
    e.special_mask.assign(ids.size(), 1);
    return e;
}

void set_type_ids(Enc& e, int64_t type_id) { e.type_ids.assign(e.ids.size(), type_id); }

class BertProcessing : public PostProcessor {
public:
    BertProcessing(std::pair<std::string, int64_t> sep, std::pair<std::string, int64_t> cls)
        : sep_(std::move(sep)), cls_(std::move(cls)) {}
    size_t added_tokens(bool pair) const override { return pair ? 3 : 2; }
    std::vector<Enc> process(std::vector<Enc> encs, bool add_special) const override {
        if (!add_special) return encs;
        std::vector<Enc> out;
        for (size_t i = 0; i < encs.size(); ++i) {
            if (i == 0) {
                out.push_back(special_enc({cls_.second}, {cls_.first}, 0));
                set_type_ids(encs[0], 0);
                out.push_back(std::move(encs[0]));
                out.push_back(special_enc({sep_.second}, {sep_.first}, 0));
            } else {
                out.push_back(std::move(encs[i]));
                out.push_back(special_enc({sep_.second}, {sep_.first}, 1));
            }
        }
        return out;
    }
    std::string describe() const override { return "BertProcessing"; }

private:
    std::pair<std::string, int64_t> sep_, cls_;
};

class RobertaProcessing : public PostProcessor {
public:
    RobertaProcessing(std::pair<std::string, int64_t> sep, std::pair<std::string, int64_t> cls)
        : sep_(std::move(sep)), cls_(std::move(cls)) {}
    size_t added_tokens(bool pair) const override { return pair ? 4 : 2; }
    std::vector<Enc> process(std::vector<Enc> encs, bool add_special) const override {
        for (auto& e : encs) set_type_ids(e, 0);  // "Roberta is weird, and every encoding is type_id=0"
        if (!add_special) return encs;
        std::vector<Enc> out;
        for (size_t i = 0; i < encs.size(); ++i) {
            if (i == 0)
                out.push_back(special_enc({cls_.second}, {cls_.first}, 0));
            else
                out.push_back(special_enc({sep_.second}, {sep_.first}, 0));
            out.push_back(std::move(encs[i]));
            out.push_back(special_enc({sep_.second}, {sep_.first}, 0));
        }
        return out;
    }
    std::string describe() const override { return "RobertaProcessing"; }

private:
    std::pair<std::string, int64_t> sep_, cls_;
};

class PassThroughProcessing : public PostProcessor {  // ByteLevel: offsets only
public:
    size_t added_tokens(bool) const override { return 0; }
    std::vector<Enc> process(std::vector<Enc> encs, bool) const override { return encs; }
    std::string describe() const override { return "ByteLevel"; }
};

struct SpecialTokenDef {
    std::vector<int64_t> ids;
    std::vector<std::string> tokens;
};

struct TemplatePiece {
    bool is_sequence;
    int seq;              // 0 = A, 1 = B
    std::string special;  // special token name
    int64_t type_id;
};

class TemplateProcessing : public PostProcessor {
public:
    TemplateProcessing(std::vector<TemplatePiece> single, std::vector<TemplatePiece> pair,
                       std::unordered_map<std::string, SpecialTokenDef> specials)
        : single_(std::move(single)), pair_(std::move(pair)), specials_(std::move(specials)) {}

    size_t added_tokens(bool pair) const override {
        size_t n = 0;
        for (const auto& p : pair ? pair_ : single_)
            if (!p.is_sequence) n += specials_.at(p.special).ids.size();
        return n;
    }

    std::vector<Enc> process(std::vector<Enc> encs, bool add_special) const override {
        const auto& tmpl = encs.size() >= 2 ? pair_ : single_;
        std::vector<Enc> out;
        for (const auto& p : tmpl) {
            if (p.is_sequence) {
                if (p.seq >= static_cast<int>(encs.size())) continue;
                Enc e = encs[p.seq];
                set_type_ids(e, p.type_id);
                out.push_back(std::move(e));
            } else if (add_special) {
                const auto& s = specials_.at(p.special);
                out.push_back(special_enc(s.ids, s.tokens, p.type_id));
            }
        }
        return out;
    }
    std::string describe() const override { return "TemplateProcessing"; }

private:
    std::vector<TemplatePiece> single_, pair_;
    std::unordered_map<std::string, SpecialTokenDef> specials_;
};

class SequenceProcessing : public PostProcessor {
public:
    explicit SequenceProcessing(std::vector<std::unique_ptr<PostProcessor>> items) : items_(std::move(items)) {}
    size_t added_tokens(bool pair) const override {
        size_t n = 0;
        for (const auto& p : items_) n += p->added_tokens(pair);
        return n;
    }
    std::vector<Enc> process(std::vector<Enc> encs, bool add_special) const override {
        for (const auto& p : items_) encs = p->process(std::move(encs), add_special);
        return encs;
    }
    std::string describe() const override {
        std::string d;
        for (const auto& p : items_) d += (d.empty() ? "" : "+") + p->describe();
        return d.empty() ? "Sequence" : d;
    }

private:
    std::vector<std::unique_ptr<PostProcessor>> items_;
};

std::pair<std::string, int64_t> token_pair(const json& j, const std::string& key, const std::string& where,
                                           const std::string& path) {
    const json& v = need(j, key.c_str(), where, path);
    if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_number_integer())
        throw Error(where + ": " + path + "." + key + " must be [\"token\", id]");
    return {v[0].get<std::string>(), v[1].get<int64_t>()};
}

// A template piece written as a string: "$A", "$B:1", "$1", "[CLS]", "[SEP]:1".
TemplatePiece parse_piece_string(const std::string& s, const std::string& where, const std::string& field) {
    std::string name = s;
    int64_t type_id = 0;
    size_t colon = s.rfind(':');
    if (colon != std::string::npos && colon + 1 < s.size()) {
        std::string num = s.substr(colon + 1);
        bool digits = !num.empty();
        for (char c : num) digits = digits && std::isdigit(static_cast<unsigned char>(c));
        if (digits) {
            name = s.substr(0, colon);
            type_id = std::stoll(num);
        }
    }
    if (!name.empty() && name[0] == '$') {
        std::string seq = name.substr(1);
        if (seq.empty() || seq == "A" || seq == "a") return {true, 0, "", type_id};
        if (seq == "B" || seq == "b") return {true, 1, "", type_id};
        bool digits = true;
        for (char c : seq) digits = digits && std::isdigit(static_cast<unsigned char>(c));
        if (digits) return {true, 0, "", std::stoll(seq)};  // "$1" is sequence A with type id 1
        throw Error(where + ": " + field + " has an unknown sequence \"" + s + "\"");
    }
    return {false, 0, name, type_id};
}

int64_t type_id_of(const json& s, const std::string& where, const std::string& at) {
    auto it = s.find("type_id");
    if (it == s.end() || it->is_null()) return 0;
    if (!it->is_number_integer()) throw Error(where + ": " + at + ".type_id must be an integer");
    return it->get<int64_t>();
}

std::vector<TemplatePiece> parse_template(const json& t, const std::string& where, const std::string& field) {
    std::vector<TemplatePiece> out;
    if (t.is_string()) {
        std::istringstream in(t.get<std::string>());
        std::string word;
        while (in >> word) out.push_back(parse_piece_string(word, where, field));
        return out;
    }
    if (!t.is_array()) throw Error(where + ": " + field + " must be a list of pieces");
    for (size_t i = 0; i < t.size(); ++i) {
        const json& p = t[i];
        std::string at = field + "[" + std::to_string(i) + "]";
        if (p.is_string()) {
            out.push_back(parse_piece_string(p.get<std::string>(), where, at));
            continue;
        }
        if (!p.is_object()) throw Error(where + ": " + at + " must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
        if (p.contains("Sequence")) {
            const json& s = p["Sequence"];
            std::string id = need_string(s, "id", where, at + ".Sequence");
            int64_t type_id = type_id_of(s, where, at + ".Sequence");
            if (id == "A")
                out.push_back({true, 0, "", type_id});
            else if (id == "B")
                out.push_back({true, 1, "", type_id});
            else
                throw Error(where + ": " + at + ".Sequence.id \"" + id + "\" is not A or B");
        } else if (p.contains("SpecialToken")) {
            const json& s = p["SpecialToken"];
            std::string id = need_string(s, "id", where, at + ".SpecialToken");
            out.push_back({false, 0, id, type_id_of(s, where, at + ".SpecialToken")});
        } else {
            throw Error(where + ": " + at + " must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
        }
    }
    return out;
}

}  // namespace

std::unique_ptr<PostProcessor> make_bert_processing(std::pair<std::string, int64_t> sep,
                                                    std::pair<std::string, int64_t> cls) {
    return std::make_unique<BertProcessing>(std::move(sep), std::move(cls));
}

std::unique_ptr<PostProcessor> make_roberta_processing(std::pair<std::string, int64_t> sep,
                                                       std::pair<std::string, int64_t> cls) {
    return std::make_unique<RobertaProcessing>(std::move(sep), std::move(cls));
}

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& where, const std::string& path) {
    if (!j.is_object()) throw Error(where + ": " + path + " must be an object, not " + std::string(j.type_name()));
    std::string type = need_string(j, "type", where, path);
    if (type == "BertProcessing")
        return make_bert_processing(token_pair(j, "sep", where, path), token_pair(j, "cls", where, path));
    if (type == "RobertaProcessing")
        return make_roberta_processing(token_pair(j, "sep", where, path), token_pair(j, "cls", where, path));
    if (type == "ByteLevel") return std::make_unique<PassThroughProcessing>();
    if (type == "TemplateProcessing") {
        std::unordered_map<std::string, SpecialTokenDef> specials;
        auto st = j.find("special_tokens");
        if (st != j.end() && !st->is_null()) {
            if (!st->is_object()) throw Error(where + ": " + path + ".special_tokens must be an object");
            for (auto it = st->begin(); it != st->end(); ++it) {
                std::string at = path + ".special_tokens[\"" + it.key() + "\"]";
                const json& v = it.value();
                SpecialTokenDef d;
                const json& ids = need(v, "ids", where, at);
                const json& toks = need(v, "tokens", where, at);
                if (!ids.is_array() || !toks.is_array() || ids.size() != toks.size())
                    throw Error(where + ": " + at + ".ids and .tokens must be lists of the same length");
                for (const auto& x : ids) {
                    if (!x.is_number_integer()) throw Error(where + ": " + at + ".ids must hold integers");
                    d.ids.push_back(x.get<int64_t>());
                }
                for (const auto& x : toks) {
                    if (!x.is_string()) throw Error(where + ": " + at + ".tokens must hold strings");
                    d.tokens.push_back(x.get<std::string>());
                }
                std::string key = v.contains("id") && v["id"].is_string() ? v["id"].get<std::string>() : it.key();
                specials[key] = d;
                if (key != it.key()) specials[it.key()] = d;
            }
        }
        auto single = parse_template(need(j, "single", where, path), where, path + ".single");
        std::vector<TemplatePiece> pair;
        if (j.contains("pair") && !j["pair"].is_null())
            pair = parse_template(j["pair"], where, path + ".pair");
        for (const auto* list : {&single, &pair})
            for (const auto& p : *list)
                if (!p.is_sequence && !specials.count(p.special))
                    throw Error(where + ": " + path + ": the template uses \"" + p.special +
                                "\", which is not in " + path + ".special_tokens");
        return std::make_unique<TemplateProcessing>(std::move(single), std::move(pair), std::move(specials));
    }
    if (type == "Sequence") {
        const json& list = need(j, "processors", where, path);
        if (!list.is_array()) throw Error(where + ": " + path + ".processors must be a list");
        std::vector<std::unique_ptr<PostProcessor>> items;
        for (size_t i = 0; i < list.size(); ++i)
            items.push_back(make_post_processor(list[i], where, path + ".processors[" + std::to_string(i) + "]"));
        return std::make_unique<SequenceProcessing>(std::move(items));
    }
    unsupported_type(where, path, type,
                     "BertProcessing, RobertaProcessing, TemplateProcessing, ByteLevel and Sequence are");
}

}  // namespace ptune::text
