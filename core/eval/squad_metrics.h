#pragma once
// Extractive QA scores exactly as the official SQuAD evaluation scripts compute them (evaluate-v1.1.py and
// evaluate-v2.0.py, rajpurkar.github.io/SQuAD-explorer).
//
// normalize_answer(s): Python's s.lower() (full lowercase mappings, U+0130 -> "i\u0307", capital sigma -> final
// sigma in the Final_Sigma context: text::python_lower); then every ASCII punctuation character (Python's
// string.punctuation, !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~) is removed; then re.sub(r'\b(a|an|the)\b', ' ', ...) on a
// str: a maximal run of \w characters (letters L*, numbers Nd/Nl/No, '_'; not combining marks) that is "a", "an"
// or "the" becomes one space; then ' '.join(text.split()): split at Python's str.isspace() characters (\t..\r,
// \x1c..\x1f, space, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000; not U+200B),
// runs of them dropped. Bytes that are not UTF-8 are read as U+FFFD first.
// Tokens: the normalized text split at the spaces.
//
// Exact: the normalized texts are equal (1 or 0).
// F1: common = the multiset intersection of the gold and predicted tokens (collections.Counter &);
// V2 (compute_f1): when either side has no tokens, 1 if both have none, else 0. Both versions: 0 when nothing is
// common; else precision = common / predicted tokens, recall = common / gold tokens, F1 = 2PR / (P + R).
// V1 (f1_score) has no empty case: no tokens on both sides is 0 common, F1 0 (while Exact is 1).
//
// evaluate_squad, V1 (evaluate-v1.1.py evaluate): every question of `gold` counts, in order, repeated ids included;
// a question without a prediction scores 0 (`missing` counts them; the script prints "Unanswered question"). A
// predicted question scores the maximum Exact and F1 over its answers' texts; one without answers throws
// ptune::Error (the script's max() of nothing fails). exact = 100 * sum / total, f1 likewise; na_probs unused.
//
// evaluate_squad, V2 (evaluate-v2.0.py main): the questions are the script's dicts keyed by id: one per distinct
// id, in the order of its first appearance, with the fields of its last. has_ans: the question has answers
// (make_qid_to_has_ans: bool(qa['answers'])). Gold texts: those of its answers whose normalized text is not empty;
// none -> [""], so an unanswerable question is right only with an answer that normalizes to "". A question
// without a prediction is skipped and counted in `missing` (the script prints "Missing prediction" and then fails
// with a KeyError when it sums HasAns / NoAns; ptune gives the script's numbers for the data set cut down to the
// predicted questions). Raw Exact / F1: the maximum over the gold texts (V2 F1).
// no-answer probabilities: na_probs (nullptr: 0.0 for every question); a predicted question missing from a given
// map throws ptune::Error (the script's KeyError). apply_no_ans_threshold: when na_prob > na_prob_thresh the score
// is 1 if the question is unanswerable else 0; otherwise the raw score. exact = 100 * sum of the thresholded Exact
// / total, f1 likewise, total = predicted questions; HasAns_* and NoAns_* the same over the predicted questions
// with / without answers (present when there are such questions).
// Only with na_probs: best_exact / best_f1 and their thresholds (find_best_thresh, not the XLNet variant), from
// the raw scores: score = best = the number of unanswerable questions, thresh = 0.0; the questions in the order
// of na_prob, ties in dataset order (Python's stable sorted; the script keeps the na_prob file's order); each adds
// its raw score if answerable, else -1 if its prediction is not "" (the raw text: " " counts) and 0 if it is;
// whenever the score exceeds best, best = score and thresh = that question's na_prob; best_x = 100 * best / total.
// Sums run in dataset order, one term at a time, each term computed as the scripts compute it: the numbers are the
// scripts' to the last bit under Python up to 3.11 (3.12's sum() adds floats with compensation, which can move the
// last bits of V2's sums). Where the scripts divide by zero (no question scored) the scores here are 0.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/io/json_util.h"

namespace ptune {

enum class SquadVersion { V1, V2 };

std::string squad_normalize_answer(std::string_view s);
std::vector<std::string> squad_tokens(std::string_view s);          // the normalized text's tokens
double squad_exact(std::string_view gold, std::string_view pred);   // 1 or 0
double squad_f1(std::string_view gold, std::string_view pred, SquadVersion v);

struct SquadGold {
    std::string id;
    std::vector<std::string> answers;   // the answers' texts; empty: unanswerable (SQuAD 2.0)
};

struct SquadEval {
    double exact = 0, f1 = 0;            // percentages
    int64_t total = 0;                   // V1: all questions; V2: the predicted ones
    int64_t missing = 0;                 // questions without a prediction (V2: distinct ids)
    // V2 only:
    int64_t has_ans_total = 0, no_ans_total = 0;
    double has_ans_exact = 0, has_ans_f1 = 0, no_ans_exact = 0, no_ans_f1 = 0;
    bool has_best = false;               // na_probs were given
    double best_exact = 0, best_exact_thresh = 0, best_f1 = 0, best_f1_thresh = 0;
};

SquadEval evaluate_squad(const std::vector<SquadGold>& gold, const std::map<std::string, std::string>& predictions,
                         SquadVersion v, const std::map<std::string, double>* na_probs = nullptr,
                         double na_prob_thresh = 1.0);

// What the script prints: V1 {"exact_match", "f1"}; V2 {"exact", "f1", "total", then "HasAns_exact", "HasAns_f1",
// "HasAns_total" and "NoAns_..." when there are such questions, then "best_exact", "best_exact_thresh", "best_f1",
// "best_f1_thresh" with na_probs}. (nlohmann::json keeps the keys sorted.)
json squad_eval_json(const SquadEval& e, SquadVersion v);

}  // namespace ptune
