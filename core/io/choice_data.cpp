#include "core/io/choice_data.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "core/io/json_util.h"

namespace ptune {

size_t ChoiceDataset::max_choices() const {
    size_t m = 0;
    for (const auto& e : examples) m = std::max(m, e.choices.size());
    return m;
}

size_t ChoiceDataset::min_choices() const {
    if (examples.empty()) return 0;
    size_t m = examples[0].choices.size();
    for (const auto& e : examples) m = std::min(m, e.choices.size());
    return m;
}

namespace {

const char* layout_of(const json& row) {
    if (!row.is_object()) return nullptr;
    if (row.contains("premise") && row.contains("choice1")) return "copa";
    if (row.contains("sent1") && row.contains("ending0")) return "swag";
    if (row.contains("choices")) return "generic";
    return nullptr;
}

// The text of field `key`, or throws a reason naming it.
std::string text_field(const json& row, const std::string& key) {
    auto it = row.find(key);
    if (it == row.end()) throw Error("field \"" + key + "\" is missing");
    if (!it->is_string()) throw Error("field \"" + key + "\" is not a string");
    return it->get<std::string>();
}

// The label: an integer index, or digits in a string; -1 when absent (the caller decides).
int64_t label_field(const json& row, size_t choices) {
    auto it = row.find("label");
    if (it == row.end() || it->is_null()) return -1;
    int64_t v = -2;
    if (it->is_number_integer()) {
        v = it->get<int64_t>();
    } else if (it->is_string()) {
        const std::string s = it->get<std::string>();
        if (!s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
            v = std::stoll(s);
    }
    if (v == -2) throw Error("field \"label\" is " + it->dump() + ", not the index of a choice");
    if (v < 0 || v >= (int64_t)choices)
        throw Error("field \"label\" is " + std::to_string(v) + "; the question has " + std::to_string(choices) +
                    " choices (0.." + std::to_string(choices - 1) + ")");
    return v;
}

ChoiceExample parse_row(const json& row, const char* layout, bool allow_unlabelled) {
    ChoiceExample e;
    const std::string L = layout;
    if (L == "copa") {
        const std::string premise = text_field(row, "premise");
        const std::string q = text_field(row, "question");
        if (q != "cause" && q != "effect")
            throw Error("field \"question\" is \"" + q + "\"; COPA asks for a \"cause\" or an \"effect\"");
        e.context = premise + (q == "cause" ? " because" : " so");
        e.choices = {text_field(row, "choice1"), text_field(row, "choice2")};
    } else if (L == "swag") {
        const std::string sent1 = text_field(row, "sent1");
        const std::string sent2 = row.contains("sent2") ? text_field(row, "sent2") : std::string();
        e.context = sent1;
        for (int i = 0;; ++i) {
            const std::string key = "ending" + std::to_string(i);
            if (!row.contains(key)) break;
            const std::string ending = text_field(row, key);
            e.choices.push_back(sent2.empty() ? ending : sent2 + " " + ending);
        }
    } else {
        const std::string ctx = row.contains("context") ? text_field(row, "context") : std::string();
        const std::string q = row.contains("question") ? text_field(row, "question") : std::string();
        if (ctx.empty() && q.empty()) throw Error("field \"context\" (or \"question\") is missing or empty");
        e.context = ctx.empty() ? q : q.empty() ? ctx : ctx + " " + q;
        const json& cs = row["choices"];
        if (!cs.is_array()) throw Error("field \"choices\" is not a list");
        for (size_t i = 0; i < cs.size(); ++i) {
            if (!cs[i].is_string()) throw Error("choices[" + std::to_string(i) + "] is not a string");
            e.choices.push_back(cs[i].get<std::string>());
        }
    }
    if (e.choices.size() < 2)
        throw Error("the question has " + std::to_string(e.choices.size()) + " choice" +
                    (e.choices.size() == 1 ? "" : "s") + "; it needs at least two");
    for (size_t i = 0; i < e.choices.size(); ++i)
        if (e.choices[i].find_first_not_of(" \t\r\n") == std::string::npos)
            throw Error("choice " + std::to_string(i) + " is empty");
    e.label = label_field(row, e.choices.size());
    if (e.label < 0 && !allow_unlabelled) throw Error("field \"label\" is missing (the index of the right choice)");
    for (const char* k : {"id", "idx"}) {
        auto it = row.find(k);
        if (it == row.end()) continue;
        if (it->is_string()) e.id = it->get<std::string>();
        else if (it->is_number_integer()) e.id = std::to_string(it->get<int64_t>());
        if (!e.id.empty()) break;
    }
    return e;
}

}  // namespace

ChoiceDataset load_choice(const std::string& path, const ChoiceOptions& opt) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open (" + std::string(std::strerror(errno)) + ")");
    ChoiceDataset d;
    d.path = path;
    std::set<std::string> layouts, ids;
    std::string line;
    int64_t lineno = 0;
    auto bad = [&](const std::string& reason) {
        if (opt.on_bad_row == OnBadRow::Stop) throw Error(path + ":" + std::to_string(lineno) + ": " + reason);
        d.bad_rows.push_back({lineno, reason});
    };
    while (std::getline(in, line)) {
        if (opt.max_examples > 0 && (int64_t)d.examples.size() >= opt.max_examples) break;
        ++lineno;
        if (lineno == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        const json row = json::parse(line, nullptr, false);
        if (row.is_discarded()) {
            bad("not valid JSON");
            continue;
        }
        const char* layout = layout_of(row);
        if (!layout) {
            bad(row.is_object() ? "not a multiple-choice row: it needs premise/choice1/choice2 (COPA), "
                                  "sent1/ending0.. (SWAG) or context/choices (generic)"
                                : "not a JSON object");
            continue;
        }
        ChoiceExample e;
        try {
            e = parse_row(row, layout, opt.allow_unlabelled);
        } catch (const Error& err) {
            bad(err.what());
            continue;
        }
        e.line = lineno;
        if (e.id.empty()) e.id = "line " + std::to_string(lineno);
        if (!ids.insert(e.id).second) {
            bad("question id \"" + e.id + "\" was used before in this file");
            continue;
        }
        layouts.insert(layout);
        d.examples.push_back(std::move(e));
    }
    if (in.bad()) throw Error(path + ": read error");
    if (d.examples.empty())
        throw Error(path + ": no multiple-choice questions" +
                    (d.bad_rows.empty() ? std::string()
                                        : " (" + std::to_string(d.bad_rows.size()) + " bad rows; line " +
                                              std::to_string(d.bad_rows[0].line) + ": " + d.bad_rows[0].reason + ")"));
    d.layout = layouts.size() == 1 ? *layouts.begin() : "mixed";
    return d;
}

bool looks_like_choice_data(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::string line;
    for (int i = 0; i < 50 && std::getline(in, line); ++i) {
        if (i == 0 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const json row = json::parse(line, nullptr, false);
        return !row.is_discarded() && layout_of(row) != nullptr;
    }
    return false;
}

std::pair<ChoiceDataset, ChoiceDataset> split_choice(const ChoiceDataset& d, double fraction, uint64_t seed) {
    const std::vector<char> held = held_out_rows(d.examples.size(), fraction, seed);
    std::pair<ChoiceDataset, ChoiceDataset> out;
    for (ChoiceDataset* p : {&out.first, &out.second}) {
        p->path = d.path;
        p->layout = d.layout;
    }
    for (size_t i = 0; i < d.examples.size(); ++i) (held[i] ? out.second : out.first).examples.push_back(d.examples[i]);
    return out;
}

}  // namespace ptune
