// SQuAD answer normalization, Exact / F1 and the v1.1 / v2.0 evaluations. Each expected value is worked out by hand
// from the official scripts (evaluate-v1.1.py, evaluate-v2.0.py: normalize_answer, compute_exact, compute_f1 /
// f1_score, get_raw_scores, apply_no_ans_threshold, make_eval_dict, find_best_thresh); the arithmetic is written
// beside the assertion, in the order the scripts do it.
#include <QtTest>

#include <cmath>

#include "core/eval/squad_metrics.h"

using namespace ptune;
using Tokens = std::vector<std::string>;

namespace {
bool near(double a, double b) { return std::abs(a - b) < 1e-12; }
std::string norm(std::string_view s) { return squad_normalize_answer(s); }
}  // namespace

class TstSquadMetrics : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // lower, remove string.punctuation, \b(a|an|the)\b -> ' ', ' '.join(split()).
    void normalizesLikeTheScript() {
        QCOMPARE(norm("The  Cat!"), std::string("cat"));               // "the  cat!" -> "the  cat" -> "   cat"
        QCOMPARE(norm("an apple, a day"), std::string("apple day"));   // " apple   day"
        QCOMPARE(norm("theatre"), std::string("theatre"));             // the run is "theatre", not "the"
        QCOMPARE(norm("The theatre"), std::string("theatre"));
        QCOMPARE(norm("a an the"), std::string(""));                   // "     " -> no tokens
        QCOMPARE(norm("THE"), std::string(""));                        // lowercased before the articles
        // Punctuation goes before the articles: "a-b" -> "ab", one run, no article; "a.b" likewise.
        QCOMPARE(norm("A-B"), std::string("ab"));
        QCOMPARE(norm("a.b"), std::string("ab"));
        QCOMPARE(norm("l'état"), std::string("létat"));
        // '_' is in string.punctuation: "_a_" -> "a" -> " " -> "". "a_b" -> "ab".
        QCOMPARE(norm("_a_"), std::string(""));
        QCOMPARE(norm("a_b"), std::string("ab"));
        // Only ASCII punctuation goes: guillemets and U+2019 stay.
        QCOMPARE(norm("«Cat»"), std::string("«cat»"));
        QCOMPARE(norm("cat\u2019s"), std::string("cat\u2019s"));
        QCOMPARE(norm("\tthe\ncat\r\n"), std::string("cat"));
        // Unicode lowercase (precomposed letters stay precomposed); fullwidth "ＡＮ" -> "ａｎ", not the article.
        QCOMPARE(norm("Ünïcode ÀB"), std::string("ünïcode àb"));
        QCOMPARE(norm("ＡＮ"), std::string("ａｎ"));
        // U+0130 lowercases to two characters, "i" + U+0307 (Python's full mapping).
        QCOMPARE(norm("\u0130"), std::string("i\u0307"));
        // Bytes that are not UTF-8 read as U+FFFD (Python's errors="replace").
        QCOMPARE(norm("Caf\xE9"), std::string("caf\uFFFD"));
    }

    // Python's str.lower() turns capital sigma into final sigma (ς, U+03C2) when a cased letter comes before it and
    // none after it, skipping case-ignorable characters (' . : and marks are; '-' is not) both ways; σ otherwise.
    // The context is the original text, before punctuation goes.
    void finalSigma() {
        QCOMPARE(norm("ΟΔΟΣ"), std::string("οδος"));       // Ο before, nothing after: ς
        QCOMPARE(norm("ΣΑ"), std::string("σα"));           // nothing cased before: σ
        QCOMPARE(norm("Σ"), std::string("σ"));
        QCOMPARE(norm("'Σ"), std::string("σ"));            // ' is skipped, then nothing: σ
        QCOMPARE(norm("Α'Σ"), std::string("ας"));          // ' skipped, Α cased: ς; then ' removed
        QCOMPARE(norm("ΟΔΟΣ."), std::string("οδος"));      // '.' ignorable, then the end: ς
        QCOMPARE(norm("ΟΔΟΣ.Α"), std::string("οδοσα"));    // '.' ignorable, then Α cased: σ
        QCOMPARE(norm("ΟΔΟΣ-Α"), std::string("οδοςα"));    // '-' is not ignorable and not cased: ς
        QCOMPARE(norm("ΑΣ\u0301Β"), std::string("ασ\u0301β"));   // the accent (Mn) skipped, Β cased: σ
        QCOMPARE(norm("ΑΣ\u0301"), std::string("ας\u0301"));
        QCOMPARE(norm("\u02B0Σ"), std::string("\u02B0σ"));   // ʰ (Lm) is case-ignorable: skipped, nothing before
        QCOMPARE(norm("ΌΣΟΣ ΣΟΦΌΣ"), std::string("όσος σοφός"));   // mid-word σ, word-final ς, word-initial σ
    }

    // split() splits at str.isspace() characters: NBSP, U+3000, \x1c, U+0085 are; U+200B and U+180E are not.
    void pythonWhitespace() {
        QCOMPARE(norm("a\u00A0cat"), std::string("cat"));          // NBSP is no \w: "a" is a word -> " \u00A0cat"
        QCOMPARE(norm("big\u3000cat"), std::string("big cat"));
        QCOMPARE(norm("big\x1c" "cat"), std::string("big cat"));
        QCOMPARE(norm("big\u0085cat"), std::string("big cat"));
        QCOMPARE(norm("big\u2028cat"), std::string("big cat"));
        QCOMPARE(norm("big\u200Bcat"), std::string("big\u200Bcat"));   // one token
        QCOMPARE(norm("big\u180Ecat"), std::string("big\u180Ecat"));
        QCOMPARE(norm("a\u200Bcat"), std::string("\u200Bcat"));        // U+200B is no \w: "a" goes, U+200B stays
        QCOMPARE(squad_tokens("big\u3000cat"), (Tokens{"big", "cat"}));
        QCOMPARE(squad_tokens("big\u200Bcat").size(), size_t(1));
    }

    // \b is a \w / non-\w boundary, \w being letters, numbers and '_' (Python's str.isalnum), not combining marks.
    void articlesNeedWordBoundaries() {
        QCOMPARE(norm("a\u0301 b"), std::string("\u0301 b"));   // U+0301 (Mn) is no \w: "a" is a whole word
        QCOMPARE(norm("éa"), std::string("éa"));                 // é is \w: the run is "éa"
        QCOMPARE(norm("a1 a\u00B2"), std::string("a1 a\u00B2")); // digits and ² (No) are \w
        QCOMPARE(norm("3 a"), std::string("3"));
        QCOMPARE(norm("\u0660a"), std::string("\u0660a"));       // Arabic-Indic zero (Nd) is \w
        QCOMPARE(norm("an\u0663"), std::string("an\u0663"));
    }

    void exactAndTokens() {
        QCOMPARE(squad_tokens("The big, red dog."), (Tokens{"big", "red", "dog"}));
        QVERIFY(squad_tokens("").empty());
        QVERIFY(squad_tokens("the").empty());
        QCOMPARE(squad_exact("The Cat.", "cat"), 1.0);   // "cat" == "cat"
        QCOMPARE(squad_exact("cat", "cats"), 0.0);
        QCOMPARE(squad_exact("the", ""), 1.0);           // "" == ""
        QCOMPARE(squad_exact("big  cat", "big cat"), 1.0);
    }

    // F1 over the multiset of tokens (collections.Counter &).
    void f1Counts() {
        // gold [big, red, dog], pred [red, dog, barked]: 2 common; P = 2/3, R = 2/3, F1 = 2 * 4/9 / (4/3) = 2/3.
        QVERIFY(near(squad_f1("the big red dog", "red dog barked", SquadVersion::V2), 2.0 / 3.0));
        QVERIFY(near(squad_f1("the big red dog", "red dog barked", SquadVersion::V1), 2.0 / 3.0));
        // gold [cat, cat, dog], pred [cat, cat]: common min(2, 2) = 2 (a set would give 1); P = 2/2 = 1,
        // R = 2/3, F1 = 2 * 2/3 / (5/3) = 4/5.
        QVERIFY(near(squad_f1("cat cat dog", "cat cat", SquadVersion::V2), 0.8));
        // gold [cat, dog], pred [cat, cat]: common min(1, 2) = 1 (not 2); P = 1/2, R = 1/2, F1 = 1/2.
        QVERIFY(near(squad_f1("cat dog", "cat cat", SquadVersion::V2), 0.5));
        // gold [cat, dog, bird], pred [cat]: P = 1, R = 1/3, F1 = 2 * 1/3 / (4/3) = 1/2.
        QVERIFY(near(squad_f1("cat dog bird", "Cat!", SquadVersion::V1), 0.5));
        QCOMPARE(squad_f1("cat", "dog", SquadVersion::V2), 0.0);   // nothing common
        QCOMPARE(squad_f1("The Cat", "cat", SquadVersion::V2), 1.0);
    }

    // V2's compute_f1: either side without tokens -> 1 if both are without, else 0. V1's f1_score has no such case:
    // no tokens on both sides is 0 common -> 0.
    void emptyAnswersV1AndV2() {
        QCOMPARE(squad_f1("the", "a", SquadVersion::V2), 1.0);   // [] == []
        QCOMPARE(squad_f1("the", "a", SquadVersion::V1), 0.0);   // num_same 0
        QCOMPARE(squad_f1("", "", SquadVersion::V2), 1.0);
        QCOMPARE(squad_f1("", "", SquadVersion::V1), 0.0);
        QCOMPARE(squad_f1("", "cat", SquadVersion::V2), 0.0);    // [] != [cat]
        QCOMPARE(squad_f1("cat", "", SquadVersion::V1), 0.0);
        QCOMPARE(squad_f1("cat", " . ", SquadVersion::V2), 0.0);
    }

    // evaluate-v1.1.py: every question counts; a missing prediction scores 0; max over the gold texts.
    void evaluateV1() {
        std::vector<SquadGold> gold{{"q1", {"Denver Broncos", "The Broncos"}},
                                    {"q2", {"Saint Bernadette Soubirous"}},
                                    {"q3", {"a copper statue of Christ", "copper statue"}},
                                    {"q4", {"1858"}},
                                    {"q5", {"the"}}};
        std::map<std::string, std::string> pred{{"q1", "broncos!"}, {"q2", "Bernadette"},
                                                {"q3", "the statue of christ"}, {"q5", "a"}, {"other", "x"}};
        // q1: "broncos" == "broncos" (2nd answer): EM 1, F1 1.
        // q2: gold [saint, bernadette, soubirous], pred [bernadette]: P 1, R 1/3, F1 = 2/3 / (4/3) = 1/2; EM 0.
        // q3: answer 1 [copper, statue, of, christ] vs [statue, of, christ]: P 1, R 3/4, F1 = 1.5 / 1.75 = 6/7;
        //     answer 2 [copper, statue]: P 1/3, R 1/2, F1 = 1/3 / (5/6) = 2/5; max 6/7; EM 0.
        // q4: no prediction: 0, 0. q5: "" == "": EM 1, but f1_score has 0 common: F1 0.
        // exact_match = 100 * 2 / 5 = 40; f1 = 100 * (1 + 1/2 + 6/7 + 0) / 5.
        SquadEval e = evaluate_squad(gold, pred, SquadVersion::V1);
        QCOMPARE(e.total, (int64_t)5);
        QCOMPARE(e.missing, (int64_t)1);
        QVERIFY(near(e.exact, 40.0));
        QVERIFY(near(e.f1, 100.0 * (1.0 + 0.5 + 6.0 / 7.0 + 0.0) / 5));
        // The same predictions scored by v2 (gold texts that normalize to "" dropped; q5 ["the"] -> [""]): q5's F1
        // is 1 ([] == []), and q4 is skipped: total 4, exact = 100 * 2 / 4 = 50, f1 = 100 * (1 + 1/2 + 6/7 + 1) / 4.
        SquadEval v2 = evaluate_squad(gold, pred, SquadVersion::V2);
        QCOMPARE(v2.total, (int64_t)4);
        QCOMPARE(v2.missing, (int64_t)1);
        QVERIFY(near(v2.exact, 50.0));
        QVERIFY(near(v2.f1, 100.0 * (1.0 + 0.5 + 6.0 / 7.0 + 1.0) / 4));
        QCOMPARE(v2.has_ans_total, (int64_t)4);   // q5 has an answer (bool(answers)) though it normalizes to ""
        QCOMPARE(v2.no_ans_total, (int64_t)0);
    }

    // v1.1 counts repeated ids twice; a predicted question without answers fails (max() of nothing); nothing to
    // score gives 0 (the script divides by zero).
    void evaluateV1Edges() {
        SquadEval twice = evaluate_squad({{"d", {"x"}}, {"d", {"y"}}}, {{"d", "x"}}, SquadVersion::V1);
        QCOMPARE(twice.total, (int64_t)2);
        QVERIFY(near(twice.exact, 50.0));   // 100 * (1 + 0) / 2
        try {
            evaluate_squad({{"u", {}}}, {{"u", ""}}, SquadVersion::V1);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("question u has no answers") != std::string::npos, e.what());
        }
        SquadEval missing_only = evaluate_squad({{"u", {}}}, {}, SquadVersion::V1);   // not predicted: no max()
        QCOMPARE(missing_only.missing, (int64_t)1);
        QCOMPARE(missing_only.exact, 0.0);
        SquadEval none = evaluate_squad({}, {}, SquadVersion::V1);
        QCOMPARE(none.total, (int64_t)0);
        QCOMPARE(none.f1, 0.0);
    }

    // A v2 data set. Raw scores (max over the gold texts that normalize to something, else [""]):
    //   q1 has answers ["Normandy", "in Normandy"], pred "normandy": EM 1, F1 1.
    //   q2 ["10th and 11th centuries"], pred "10th century": gold [10th, and, 11th, centuries] vs [10th, century]:
    //      1 common, P 1/2, R 1/4, F1 = 2 * 1/8 / (3/4) = 1/3; EM 0.
    //   q3 unanswerable, pred "": gold [""]: EM 1, F1 1 ([] == []).
    //   q4 unanswerable, pred "Rollo": EM 0, F1 0.
    //   q5 [" ", "France"], pred "": " " is dropped, gold ["France"]: EM 0, F1 0 ([france] != []). (Kept, " "
    //      would have matched "".)
    //   q6 ["Rollo"], no prediction: skipped.
    // Without na_probs: total 5, exact = 100 * (1+0+1+0+0) / 5 = 40, f1 = 100 * (1 + 1/3 + 1 + 0 + 0) / 5;
    // HasAns q1 q2 q5: exact 100 * 1 / 3, f1 100 * (1 + 1/3 + 0) / 3; NoAns q3 q4: 100 * 1 / 2 = 50 both.
    void evaluateV2() {
        const std::vector<SquadGold> gold = v2_gold();
        const std::map<std::string, std::string> pred = v2_pred();
        SquadEval e = evaluate_squad(gold, pred, SquadVersion::V2);
        QCOMPARE(e.total, (int64_t)5);
        QCOMPARE(e.missing, (int64_t)1);
        QVERIFY(near(e.exact, 40.0));
        QVERIFY(near(e.f1, 100.0 * (1.0 + 1.0 / 3.0 + 1.0) / 5));
        QCOMPARE(e.has_ans_total, (int64_t)3);
        QVERIFY(near(e.has_ans_exact, 100.0 / 3));
        QVERIFY(near(e.has_ans_f1, 100.0 * (1.0 + 1.0 / 3.0) / 3));
        QCOMPARE(e.no_ans_total, (int64_t)2);
        QVERIFY(near(e.no_ans_exact, 50.0));
        QVERIFY(near(e.no_ans_f1, 50.0));
        QVERIFY(!e.has_best);
    }

    // na_probs: q6 0.05 (no prediction: never used), q1 0.1, q5 0.2, q2 0.3, q4 0.6, q3 0.9.
    // Threshold 1.0 (default): no na_prob exceeds it, the scores are the raw ones above.
    // Threshold 0.25: q2 (0.3), q4 (0.6), q3 (0.9) are called unanswerable -> float(not has_ans): q2 0, q4 1, q3 1;
    // q1, q5 raw. EM = F1 = [1, 0, 1, 1, 0] -> exact = f1 = 100 * 3 / 5 = 60; HasAns (q1 q2 q5) 100 * 1 / 3;
    // NoAns (q3 q4) 100 * 2 / 2 = 100.
    // Best thresholds (raw scores): start = best = 2 unanswerable questions (q3 q4), thresh 0.0; by na_prob:
    //   exact: q1 +1 -> 3 > 2: best 3 at 0.1; q5 +0 -> 3; q2 +0 -> 3; q4 (pred "Rollo") -1 -> 2; q3 (pred "") +0 -> 2.
    //          best_exact = 100 * 3 / 5 = 60 at 0.1.
    //   f1:    q1 +1 -> 3: best at 0.1; q5 +0 -> 3; q2 +1/3 -> 10/3 > 3: best at 0.3; q4 -1; q3 0.
    //          best_f1 = 100 * (10/3) / 5 = 66.67 at 0.3.
    void evaluateV2WithNoAnswerProbabilities() {
        const std::vector<SquadGold> gold = v2_gold();
        const std::map<std::string, std::string> pred = v2_pred();
        const std::map<std::string, double> na{{"q6", 0.05}, {"q1", 0.1}, {"q5", 0.2},
                                               {"q2", 0.3},  {"q4", 0.6}, {"q3", 0.9}};
        SquadEval e = evaluate_squad(gold, pred, SquadVersion::V2, &na);
        QVERIFY(near(e.exact, 40.0));
        QVERIFY(near(e.f1, 100.0 * (1.0 + 1.0 / 3.0 + 1.0) / 5));
        QVERIFY(e.has_best);
        QVERIFY(near(e.best_exact, 60.0));
        QVERIFY(near(e.best_exact_thresh, 0.1));
        QVERIFY(near(e.best_f1, 100.0 * (2.0 + 1.0 + 0.0 + 1.0 / 3.0) / 5));   // start 2, q1 +1, q5 +0, q2 +1/3
        QVERIFY(near(e.best_f1_thresh, 0.3));

        SquadEval t = evaluate_squad(gold, pred, SquadVersion::V2, &na, 0.25);
        QCOMPARE(t.total, (int64_t)5);
        QVERIFY(near(t.exact, 60.0));
        QVERIFY(near(t.f1, 60.0));
        QVERIFY(near(t.has_ans_exact, 100.0 / 3));
        QVERIFY(near(t.has_ans_f1, 100.0 / 3));
        QVERIFY(near(t.no_ans_exact, 100.0));
        QVERIFY(near(t.no_ans_f1, 100.0));
        // The best thresholds come from the raw scores: the same whatever na_prob_thresh is.
        QVERIFY(near(t.best_exact, 60.0) && near(t.best_f1_thresh, 0.3));

        // A predicted question without a no-answer probability: the script's KeyError.
        std::map<std::string, double> partial = na;
        partial.erase("q4");
        try {
            evaluate_squad(gold, pred, SquadVersion::V2, &partial);
            QFAIL("no error");
        } catch (const Error& err) {
            QVERIFY2(std::string(err.what()).find("question q4") != std::string::npos, err.what());
        }
    }

    // find_best_thresh looks at the raw prediction text: " " is a prediction (diff -1) though it normalizes to ""
    // (raw EM 1). z unanswerable, pred " ", na 0.1; a answerable, right, na 0.2. Start 1 (one unanswerable):
    // z -1 -> 0; a +1 -> 1, not > 1: best 1 -> 100 * 1 / 2 = 50 at 0.0. With pred "" for z: z +0 -> 1; a -> 2:
    // 100 * 2 / 2 = 100 at 0.2.
    // Ties keep the dataset order (stable sort): z (wrong, -1) before a (+1), both 0.5: 1 -> 0 -> 1, best 1 at 0.0:
    // 50; a before z would give 2 at 0.5: 100.
    void bestThresholdDetails() {
        const std::vector<SquadGold> gold{{"z", {}}, {"a", {"x"}}};
        const std::map<std::string, double> na{{"z", 0.1}, {"a", 0.2}};
        SquadEval space = evaluate_squad(gold, {{"z", " "}, {"a", "x"}}, SquadVersion::V2, &na);
        QVERIFY(near(space.exact, 100.0));   // both raw EM 1: "" == "", "x" == "x"
        QVERIFY(near(space.best_exact, 50.0));
        QCOMPARE(space.best_exact_thresh, 0.0);
        QVERIFY(near(space.best_f1, 50.0));
        SquadEval empty = evaluate_squad(gold, {{"z", ""}, {"a", "x"}}, SquadVersion::V2, &na);
        QVERIFY(near(empty.best_exact, 100.0));
        QVERIFY(near(empty.best_exact_thresh, 0.2));

        const std::map<std::string, double> tie{{"z", 0.5}, {"a", 0.5}};
        SquadEval t = evaluate_squad(gold, {{"z", "y"}, {"a", "x"}}, SquadVersion::V2, &tie);
        QVERIFY(near(t.best_exact, 50.0));
        QCOMPARE(t.best_exact_thresh, 0.0);
        SquadEval reversed =
            evaluate_squad({{"a", {"x"}}, {"z", {}}}, {{"z", "y"}, {"a", "x"}}, SquadVersion::V2, &tie);
        QVERIFY(near(reversed.best_exact, 100.0));
        QVERIFY(near(reversed.best_exact_thresh, 0.5));
    }

    // v2 keys its dicts by id: a repeated id is one question, with the last appearance's answers.
    // d: first ["x"], then [] -> unanswerable; pred "x": gold [""], EM 0. Nothing predicted: zeros.
    void evaluateV2Edges() {
        SquadEval d = evaluate_squad({{"d", {"x"}}, {"e", {"y"}}, {"d", {}}}, {{"d", "x"}, {"e", "y"}},
                                     SquadVersion::V2);
        QCOMPARE(d.total, (int64_t)2);
        QCOMPARE(d.no_ans_total, (int64_t)1);
        QCOMPARE(d.has_ans_total, (int64_t)1);
        QVERIFY(near(d.exact, 50.0));          // d 0, e 1
        QVERIFY(near(d.no_ans_exact, 0.0));
        SquadEval none = evaluate_squad({{"d", {"x"}}}, {}, SquadVersion::V2);
        QCOMPARE(none.total, (int64_t)0);
        QCOMPARE(none.missing, (int64_t)1);
        QCOMPARE(none.exact, 0.0);
    }

    // The scripts' output shapes.
    void jsonShapes() {
        const std::map<std::string, double> na{{"q1", 0.1}, {"q2", 0.3}, {"q3", 0.9}, {"q4", 0.6}, {"q5", 0.2}};
        SquadEval e = evaluate_squad(v2_gold(), v2_pred(), SquadVersion::V2, &na);
        json j = squad_eval_json(e, SquadVersion::V2);
        QCOMPARE((int)j.size(), 13);   // exact f1 total, HasAns x3, NoAns x3, best x4
        QVERIFY(near(j.at("exact").get<double>(), 40.0));
        QCOMPARE(j.at("total").get<int64_t>(), (int64_t)5);
        QVERIFY(j.at("total").is_number_integer());
        QCOMPARE(j.at("HasAns_total").get<int64_t>(), (int64_t)3);
        QVERIFY(near(j.at("NoAns_f1").get<double>(), 50.0));
        QVERIFY(near(j.at("best_f1_thresh").get<double>(), 0.3));
        // Only answerable questions, no na_probs: no NoAns_* and no best_*.
        json h = squad_eval_json(evaluate_squad({{"a", {"x"}}}, {{"a", "x y"}}, SquadVersion::V2), SquadVersion::V2);
        QCOMPARE((int)h.size(), 6);
        QVERIFY(h.contains("HasAns_f1") && !h.contains("NoAns_total") && !h.contains("best_exact"));
        QVERIFY(near(h.at("f1").get<double>(), 100.0 * (2 * 0.5 * 1.0 / 1.5)));   // P 1/2, R 1: F1 2/3
        json v1 = squad_eval_json(evaluate_squad({{"a", {"x"}}}, {{"a", "x"}}, SquadVersion::V1), SquadVersion::V1);
        QCOMPARE(v1, (json{{"exact_match", 100.0}, {"f1", 100.0}}));
    }

private:
    static std::vector<SquadGold> v2_gold() {
        return {{"q1", {"Normandy", "in Normandy"}}, {"q2", {"10th and 11th centuries"}}, {"q3", {}}, {"q4", {}},
                {"q5", {" ", "France"}},            {"q6", {"Rollo"}}};
    }
    static std::map<std::string, std::string> v2_pred() {
        return {{"q1", "normandy"}, {"q2", "10th century"}, {"q3", ""}, {"q4", "Rollo"}, {"q5", ""}};
    }
};

QTEST_GUILESS_MAIN(TstSquadMetrics)
#include "tst_squad_metrics.moc"
