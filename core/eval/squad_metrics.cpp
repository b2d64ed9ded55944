#include "core/eval/squad_metrics.h"

#include <algorithm>
#include <numeric>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "core/io/error.h"
#include "core/text/unicode.h"

namespace ptune {

namespace {

bool is_ascii_punctuation(char32_t c) {   // Python's string.punctuation
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
}

// The normalized text as its tokens (normalize_answer(s).split()).
std::vector<std::u32string> normalized_tokens(std::string_view s) {
    const std::string lower = text::python_lower(text::sanitize_utf8(s));
    // remove_punc
    std::u32string t;
    t.reserve(lower.size());
    for (size_t i = 0; i < lower.size();) {
        const char32_t c = text::next_cp(lower, i);
        if (!is_ascii_punctuation(c)) t += c;
    }
    // remove_articles: \b(a|an|the)\b matches exactly a maximal run of \w that is one of the three words.
    std::u32string u;
    u.reserve(t.size());
    for (size_t i = 0; i < t.size();) {
        if (!text::python_is_word_char(t[i])) {
            u += t[i++];
            continue;
        }
        size_t j = i;
        while (j < t.size() && text::python_is_word_char(t[j])) ++j;
        const std::u32string_view run(t.data() + i, j - i);
        if (run == U"a" || run == U"an" || run == U"the")
            u += U' ';
        else
            u.append(run);
        i = j;
    }
    // white_space_fix / split
    std::vector<std::u32string> tokens;
    for (size_t i = 0; i < u.size();) {
        if (text::python_isspace(u[i])) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < u.size() && !text::python_isspace(u[j])) ++j;
        tokens.emplace_back(u, i, j - i);
        i = j;
    }
    return tokens;
}

double f1_of_tokens(const std::vector<std::string>& gold, const std::vector<std::string>& pred, SquadVersion v) {
    if (v == SquadVersion::V2 && (gold.empty() || pred.empty())) return gold == pred ? 1.0 : 0.0;
    std::unordered_map<std::string, int64_t> left;
    for (const auto& t : gold) ++left[t];
    int64_t same = 0;
    for (const auto& t : pred) {
        auto it = left.find(t);
        if (it != left.end() && it->second > 0) {
            --it->second;
            ++same;
        }
    }
    if (same == 0) return 0.0;
    const double precision = 1.0 * static_cast<double>(same) / static_cast<double>(pred.size());
    const double recall = 1.0 * static_cast<double>(same) / static_cast<double>(gold.size());
    return (2 * precision * recall) / (precision + recall);
}

struct Scored {
    bool has_ans = false;
    bool pred_nonempty = false;   // the raw prediction is not "" (find_best_thresh's `if preds[qid]`)
    double exact = 0, f1 = 0;     // raw: the maximum over the gold texts
    double na_prob = 0;
};

// find_best_thresh: {100 * best / n, thresh}.
std::pair<double, double> best_thresh(const std::vector<Scored>& q, bool use_f1) {
    double cur = 0;
    for (const auto& s : q) cur += s.has_ans ? 0 : 1;
    double best = cur, thresh = 0.0;
    std::vector<size_t> order(q.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return q[a].na_prob < q[b].na_prob; });
    for (size_t i : order) {
        const Scored& s = q[i];
        const double diff = s.has_ans ? (use_f1 ? s.f1 : s.exact) : (s.pred_nonempty ? -1.0 : 0.0);
        cur += diff;
        if (cur > best) {
            best = cur;
            thresh = s.na_prob;
        }
    }
    return {q.empty() ? 0.0 : 100.0 * best / static_cast<double>(q.size()), thresh};
}

double percent(double sum, int64_t n) { return n > 0 ? 100.0 * sum / static_cast<double>(n) : 0.0; }

SquadEval evaluate_v1(const std::vector<SquadGold>& gold, const std::map<std::string, std::string>& predictions) {
    SquadEval e;
    double exact = 0, f1 = 0;
    for (const auto& q : gold) {
        ++e.total;
        const auto it = predictions.find(q.id);
        if (it == predictions.end()) {
            ++e.missing;
            continue;
        }
        if (q.answers.empty())
            throw Error("SQuAD v1.1 evaluation: question " + q.id +
                        " has no answers (an unanswerable question needs the v2.0 evaluation)");
        const std::vector<std::string> pred = squad_tokens(it->second);
        const std::string pred_norm = squad_normalize_answer(it->second);
        double em = 0, best_f1 = 0;
        for (const auto& a : q.answers) {
            em = std::max(em, squad_normalize_answer(a) == pred_norm ? 1.0 : 0.0);
            best_f1 = std::max(best_f1, f1_of_tokens(squad_tokens(a), pred, SquadVersion::V1));
        }
        exact += em;
        f1 += best_f1;
    }
    e.exact = percent(exact, e.total);
    e.f1 = percent(f1, e.total);
    return e;
}

SquadEval evaluate_v2(const std::vector<SquadGold>& gold, const std::map<std::string, std::string>& predictions,
                      const std::map<std::string, double>* na_probs, double na_prob_thresh) {
    // The script's dicts keyed by question id: first appearance's place, last appearance's fields.
    std::vector<const SquadGold*> questions;
    std::unordered_map<std::string, size_t> slot;
    for (const auto& q : gold) {
        auto [it, fresh] = slot.emplace(q.id, questions.size());
        if (fresh)
            questions.push_back(&q);
        else
            questions[it->second] = &q;
    }
    SquadEval e;
    std::vector<Scored> scored;
    for (const SquadGold* q : questions) {
        const auto it = predictions.find(q->id);
        if (it == predictions.end()) {
            ++e.missing;
            continue;
        }
        Scored s;
        s.has_ans = !q->answers.empty();
        s.pred_nonempty = !it->second.empty();
        if (na_probs) {
            const auto na = na_probs->find(q->id);
            if (na == na_probs->end())
                throw Error("SQuAD v2.0 evaluation: no no-answer probability for question " + q->id);
            s.na_prob = na->second;
        }
        const std::vector<std::string> pred = squad_tokens(it->second);
        const std::string pred_norm = squad_normalize_answer(it->second);
        bool any_gold = false;
        for (const auto& a : q->answers) {
            const std::string norm = squad_normalize_answer(a);
            if (norm.empty()) continue;
            any_gold = true;
            s.exact = std::max(s.exact, norm == pred_norm ? 1.0 : 0.0);
            s.f1 = std::max(s.f1, f1_of_tokens(squad_tokens(a), pred, SquadVersion::V2));
        }
        if (!any_gold) {   // gold_answers = ['']
            s.exact = pred_norm.empty() ? 1.0 : 0.0;
            s.f1 = pred.empty() ? 1.0 : 0.0;
        }
        scored.push_back(s);
    }
    double exact = 0, f1 = 0, has_exact = 0, has_f1 = 0, no_exact = 0, no_f1 = 0;
    for (const auto& s : scored) {
        const bool no_answer = s.na_prob > na_prob_thresh;
        const double x = no_answer ? (s.has_ans ? 0.0 : 1.0) : s.exact;
        const double f = no_answer ? (s.has_ans ? 0.0 : 1.0) : s.f1;
        exact += x;
        f1 += f;
        if (s.has_ans) {
            ++e.has_ans_total;
            has_exact += x;
            has_f1 += f;
        } else {
            ++e.no_ans_total;
            no_exact += x;
            no_f1 += f;
        }
    }
    e.total = static_cast<int64_t>(scored.size());
    e.exact = percent(exact, e.total);
    e.f1 = percent(f1, e.total);
    e.has_ans_exact = percent(has_exact, e.has_ans_total);
    e.has_ans_f1 = percent(has_f1, e.has_ans_total);
    e.no_ans_exact = percent(no_exact, e.no_ans_total);
    e.no_ans_f1 = percent(no_f1, e.no_ans_total);
    if (na_probs) {
        e.has_best = true;
        std::tie(e.best_exact, e.best_exact_thresh) = best_thresh(scored, false);
        std::tie(e.best_f1, e.best_f1_thresh) = best_thresh(scored, true);
    }
    return e;
}

}  // namespace

std::vector<std::string> squad_tokens(std::string_view s) {
    std::vector<std::string> out;
    for (const auto& t : normalized_tokens(s)) out.push_back(text::encode(t));
    return out;
}

std::string squad_normalize_answer(std::string_view s) {
    std::string out;
    for (const auto& t : normalized_tokens(s)) {
        if (!out.empty()) out += ' ';
        out += text::encode(t);
    }
    return out;
}

double squad_exact(std::string_view gold, std::string_view pred) {
    return squad_normalize_answer(gold) == squad_normalize_answer(pred) ? 1.0 : 0.0;
}

double squad_f1(std::string_view gold, std::string_view pred, SquadVersion v) {
    return f1_of_tokens(squad_tokens(gold), squad_tokens(pred), v);
}

SquadEval evaluate_squad(const std::vector<SquadGold>& gold, const std::map<std::string, std::string>& predictions,
                         SquadVersion v, const std::map<std::string, double>* na_probs, double na_prob_thresh) {
    return v == SquadVersion::V1 ? evaluate_v1(gold, predictions)
                                 : evaluate_v2(gold, predictions, na_probs, na_prob_thresh);
}

json squad_eval_json(const SquadEval& e, SquadVersion v) {
    if (v == SquadVersion::V1) return json{{"exact_match", e.exact}, {"f1", e.f1}};
    json j{{"exact", e.exact}, {"f1", e.f1}, {"total", e.total}};
    if (e.has_ans_total > 0) {
        j["HasAns_exact"] = e.has_ans_exact;
        j["HasAns_f1"] = e.has_ans_f1;
        j["HasAns_total"] = e.has_ans_total;
    }
    if (e.no_ans_total > 0) {
        j["NoAns_exact"] = e.no_ans_exact;
        j["NoAns_f1"] = e.no_ans_f1;
        j["NoAns_total"] = e.no_ans_total;
    }
    if (e.has_best) {
        j["best_exact"] = e.best_exact;
        j["best_exact_thresh"] = e.best_exact_thresh;
        j["best_f1"] = e.best_f1;
        j["best_f1_thresh"] = e.best_f1_thresh;
    }
    return j;
}

}  // namespace ptune
