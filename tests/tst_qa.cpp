// Extractive QA: SQuAD files read (code-point answer starts checked against the text, bad questions named), the
// features run_qa.py makes (windows, type ids, offsets, labels) equal to what the tokenizers library gives for the
// same question and context (tests/fixtures/qa/expected_features.json, made by
// scripts/tokenizer_reference/gen_qa_features.js), answers decoded as postprocess_qa_predictions does on
// hand-made logits, and a P-Tuning v2 prefix trained on the project's QA set (tests/fixtures/qa) whose EM and F1
// rise far above a fresh head's, saved and read back in ptune's and PEFT's formats with the same answers.
#include <torch/torch.h>

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <set>

#include "core/engine/builtin.h"
#include "core/engine/qa_task.h"
#include "core/engine/token_cls_task.h"
#include "core/io/json_util.h"

using namespace ptune;

namespace {
const std::string kFixtures = PTUNE_FIXTURES;

std::string write(const QTemporaryDir& d, const std::string& name, const std::string& content) {
    const std::string p = d.path().toStdString() + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

// Whether `f` throws exactly `want`; the message shows what it threw.
#define EXPECT_ERROR(call, want)                                                                  \
    do {                                                                                          \
        const std::string got_ = error_of([&] { call; });                                         \
        const std::string want_ = (want);                                                         \
        QVERIFY2(got_ == want_, qPrintable(QString::fromStdString("got: " + got_ + "\nwant: " + want_))); \
    } while (0)

std::unique_ptr<Tokenizer> builtin_tokenizer() { return Tokenizer::from_dir(builtin_dir() + "/model"); }

// One SQuAD 2.0 example on `context`; features with the built-in tokenizer.
QaDataset one_question(const std::string& question, const std::string& context) {
    QaDataset d;
    d.version2 = true;
    d.contexts = {context};
    QaExample e;
    e.id = "q";
    e.question = question;
    d.examples = {e};
    return d;
}
}  // namespace

class TstQa : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // The project's set: counts as its README states; every answer is the context's bytes at its start.
    void readsSquadFixtures() {
        QaDataset v1 = load_qa(kFixtures + "/qa/train.json");
        QCOMPARE(v1.version, std::string("1.1"));
        QVERIFY(!v1.version2);
        QCOMPARE(v1.examples.size(), (size_t)171);
        QCOMPARE(v1.contexts.size(), (size_t)171);
        QCOMPARE(v1.answerable(), (int64_t)171);
        QaDataset v2 = load_qa(kFixtures + "/qa/valid-v2.json");
        QVERIFY(v2.version2);
        QCOMPARE(v2.examples.size(), (size_t)120);
        QCOMPARE(v2.contexts.size(), (size_t)60);
        QCOMPARE(v2.answerable(), (int64_t)(120 - 38));
        for (const QaDataset* d : {&v1, &v2})
            for (const QaExample& e : d->examples)
                for (const QaAnswer& a : e.answers)
                    QCOMPARE(d->context_of(e).substr((size_t)a.start, a.text.size()), a.text);
        QCOMPARE(v2.examples[1].id, std::string("valid-0-aspect"));
        QCOMPARE(v2.examples[1].answers[0].text, std::string("cast"));
        QCOMPARE(v2.examples[1].answers[0].start, (int64_t)27);
        QVERIFY(v2.examples[0].answers.empty());   // valid-0-item: no item in the context
        QVERIFY(looks_like_qa_data(kFixtures + "/qa/train.json"));
        QVERIFY(!looks_like_qa_data(kFixtures + "/ner/train.conll"));
        QVERIFY(!looks_like_qa_data(kFixtures + "/data/pairs.jsonl"));
    }

    // answer_start counts code points, as Python's str indices: in "Zoë saw 日本 😀 and Ōsaka." the text before
    // "Ōsaka", "Zoë saw 日本 😀 and ", is 3 + 1 + 3 + 1 + 2 + 1 + 1 + 1 + 3 + 1 = 17 code points, so answer_start
    // is 17. In UTF-8 ë takes 2 bytes, 日 and 本 3 each, 😀 4: 17 + 1 + 2 + 2 + 3 = byte 25.
    void answerStartCountsCodePoints() {
        QTemporaryDir tmp;
        const std::string ctx = "Zo\u00eb saw \u65e5\u672c \U0001F600 and \u014csaka.";
        json j = {{"version", "1.1"},
                  {"data", {{{"title", "t"},
                             {"paragraphs", {{{"context", ctx},
                                              {"qas", {{{"id", "a"}, {"question", "where?"},
                                                        {"answers", {{{"text", "\u014csaka"}, {"answer_start", 17}}}}}}}}}}}}}};
        const std::string p = write(tmp, "u.json", j.dump());
        QaDataset d = load_qa(p);
        QCOMPARE(d.examples[0].answers[0].start, (int64_t)25);
        QCOMPARE(d.examples[0].answers[0].char_start, (int64_t)17);
        QCOMPARE(utf8_offset_of_code_point(ctx, 17), (int64_t)25);
        QCOMPARE(utf8_offset_of_code_point(ctx, 23), (int64_t)ctx.size());   // one past the last code point
        QCOMPARE(utf8_offset_of_code_point(ctx, 24), (int64_t)-1);
        // The same start counted in bytes (a common mistake) points elsewhere, and the error quotes both.
        j["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 19;
        const std::string p2 = write(tmp, "bad.json", j.dump());
        EXPECT_ERROR(load_qa(p2), p2 + ": data[0].paragraphs[0].qas[0]: answers[0]: answer_start 19 points at \"aka.\", not the "
                      "answer \"\u014csaka\"");
    }

    // Bad questions: named by their place in the file; Stop throws at the first, Skip collects them all.
    void badQuestionsNamed() {
        QTemporaryDir tmp;
        auto squad = [](const json& qas) {
            return json{{"version", "1.1"},
                        {"data", {{{"title", "t"}, {"paragraphs", {{{"context", "the plot was bad ."}, {"qas", qas}}}}}}}}
                .dump();
        };
        const json ok = {{"id", "ok"}, {"question", "q"}, {"answers", {{{"text", "plot"}, {"answer_start", 4}}}}};
        const json noans = {{"id", "n"}, {"question", "q"}, {"answers", json::array()}};
        const json dup = ok;
        const json past = {{"id", "p"}, {"question", "q"}, {"answers", {{{"text", "x"}, {"answer_start", 40}}}}};
        const std::string p = write(tmp, "b.json", squad({ok, noans, dup, past}));
        // A 1.1 file (version 1.1, no is_impossible): a question without answers is bad.
        const std::string first = error_of([&] { load_qa(p); });
        QVERIFY2(first.rfind(p + ": data[0].paragraphs[0].qas[1]: no answers (a SQuAD 1.1 file", 0) == 0, first.c_str());
        QaOptions skip;
        skip.on_bad_row = OnBadRow::Skip;
        QaDataset d = load_qa(p, skip);
        QCOMPARE(d.examples.size(), (size_t)1);
        QCOMPARE(d.bad_rows.size(), (size_t)3);
        QCOMPARE(d.bad_rows[1].reason, std::string("data[0].paragraphs[0].qas[2]: question id \"ok\" appears twice"));
        QCOMPARE(d.bad_rows[2].reason,
                 std::string("data[0].paragraphs[0].qas[3]: answers[0]: answer_start 40 is outside the context (18 "
                             "characters)"));
        // is_impossible with an answer contradicts itself.
        json imp = ok;
        imp["id"] = "i";
        imp["is_impossible"] = true;
        const std::string p2 = write(tmp, "i.json", squad(json::array({imp})));
        EXPECT_ERROR(load_qa(p2), p2 + ": data[0].paragraphs[0].qas[0]: \"is_impossible\" is true but the question has answers");
        // Not a SQuAD file at all.
        const std::string p3 = write(tmp, "n.json", R"({"rows": []})");
        EXPECT_ERROR(load_qa(p3), p3 + ": not a SQuAD file (no \"data\" list of articles)");
    }

    // JSONL rows (Hugging Face's squad export): line numbers in errors; rows share a context; an empty answers
    // list is an unanswerable question (SQuAD 2.0).
    void readsJsonlRows() {
        QTemporaryDir tmp;
        const std::string p = write(
            tmp, "q.jsonl",
            R"({"id": "1", "title": "t", "context": "the plot was bad .", "question": "what?", "answers": {"text": ["plot"], "answer_start": [4]}})"
            "\n"
            R"({"id": "2", "title": "t", "context": "the plot was bad .", "question": "how?", "answers": {"text": ["bad"], "answer_start": [13]}})"
            "\n\n"
            R"({"id": "3", "title": "t", "context": "i liked it .", "question": "who?", "answers": {"text": [], "answer_start": []}})"
            "\n");
        QVERIFY(looks_like_qa_data(p));
        QaDataset d = load_qa(p);
        QCOMPARE(d.examples.size(), (size_t)3);
        QCOMPARE(d.contexts.size(), (size_t)2);
        QVERIFY(d.version2);
        QCOMPARE(d.answerable(), (int64_t)2);
        QCOMPARE(d.examples[1].answers[0].start, (int64_t)13);
        const std::string bad = write(
            tmp, "bad.jsonl",
            R"({"id": "1", "context": "the plot was bad .", "question": "what?", "answers": {"text": ["plot"], "answer_start": [4]}})"
            "\n"
            R"({"id": "2", "context": "the plot was bad .", "question": "how?", "answers": {"text": ["bad"], "answer_start": [12]}})"
            "\n");
        EXPECT_ERROR(load_qa(bad), bad + ":2: answers[0]: answer_start 12 points at \" ba\", not the answer \"bad\"");
    }

    // A held-out split keeps each context's questions on one side.
    void splitKeepsContextsTogether() {
        QaDataset d = load_qa(kFixtures + "/qa/train-v2.json");
        auto [train, valid] = split_qa(d, 0.25, 7);
        QCOMPARE(train.examples.size() + valid.examples.size(), d.examples.size());
        QVERIFY(valid.examples.size() > 50 && valid.examples.size() < 150);
        std::set<std::string> seen;
        for (const QaExample& e : train.examples) seen.insert(train.context_of(e));
        for (const QaExample& e : valid.examples) QVERIFY(!seen.count(valid.context_of(e)));
        QCOMPARE(valid.version2, true);
    }

    // Windows, type ids, offsets and labels equal the tokenizers library's overflowing encodings of (question,
    // context) with max_len 24 and stride 6, labelled as run_qa.py labels them.
    void featuresMatchLibrary() {
        const json exp = read_json_file(kFixtures + "/qa/expected_features.json");
        QaOptions o;
        o.max_examples = (int64_t)exp["questions"].size();
        QaDataset d = load_qa(kFixtures + "/qa/" + exp["data"].get<std::string>(), o);
        QCOMPARE(d.examples.size(), exp["questions"].size());
        QaFeatureOptions fo;
        fo.max_len = exp["max_len"].get<int64_t>();
        fo.doc_stride = exp["doc_stride"].get<int64_t>();
        auto tok = builtin_tokenizer();
        QaFeatures f = make_qa_features(d, *tok, fo);
        size_t k = 0;
        int64_t windowed = 0, labelled = 0;
        for (size_t i = 0; i < d.examples.size(); ++i) {
            const json& q = exp["questions"][i];
            QCOMPARE(d.examples[i].id, q["id"].get<std::string>());
            if (q["windows"].size() > 1) ++windowed;
            for (const json& w : q["windows"]) {
                QVERIFY(k < f.size());
                const QaFeature& x = f.features[k++];
                QCOMPARE(x.example, i);
                QCOMPARE(x.ids, w["ids"].get<std::vector<int64_t>>());
                QCOMPARE(x.type_ids, w["type_ids"].get<std::vector<int64_t>>());
                QCOMPARE((int)x.offsets.size(), (int)w["offsets"].size());
                for (size_t t = 0; t < x.offsets.size(); ++t) {
                    QCOMPARE(x.offsets[t].first, w["offsets"][t][0].get<int64_t>());
                    QCOMPARE(x.offsets[t].second, w["offsets"][t][1].get<int64_t>());
                }
                QCOMPARE(x.cls_index, (int64_t)0);
                QCOMPARE(x.start_label, w["start"].get<int64_t>());
                QCOMPARE(x.end_label, w["end"].get<int64_t>());
                if (x.start_label != x.cls_index) ++labelled;
            }
        }
        QCOMPARE(k, f.size());
        QCOMPARE(f.windowed_examples, windowed);
        QVERIFY(windowed >= 10);   // the reference exercises windows
        QVERIFY(labelled >= 20);
    }

    // Every context token is in some window; neighbouring windows share doc_stride tokens; a labelled span is the
    // answer's text (the fixture's answers are whole words).
    void windowsCoverTheContext() {
        QaDataset d = load_qa(kFixtures + "/qa/train.json");
        auto tok = builtin_tokenizer();
        QaFeatureOptions fo;
        fo.max_len = 20;
        fo.doc_stride = 4;
        QaFeatures f = make_qa_features(d, *tok, fo);
        QVERIFY(f.windowed_examples > 20);
        std::vector<int> found(d.examples.size(), 0);
        for (size_t i = 0; i < f.size(); ++i) {
            const QaFeature& x = f.features[i];
            QVERIFY((int64_t)x.ids.size() <= fo.max_len);
            if (x.start_label == x.cls_index) continue;
            const QaExample& e = d.examples[x.example];
            const std::string& ctx = d.context_of(e);
            const int64_t b = x.offsets[(size_t)x.start_label].first, en = x.offsets[(size_t)x.end_label].second;
            QCOMPARE(ctx.substr((size_t)b, (size_t)(en - b)), e.answers[0].text);
            found[x.example] = 1;
            // Consecutive windows of one example: the next starts doc_stride context tokens before this one ends.
            if (i + 1 < f.size() && f.features[i + 1].example == x.example) {
                std::vector<std::pair<int64_t, int64_t>> a, c;
                for (auto& o : x.offsets)
                    if (o.first >= 0) a.push_back(o);
                for (auto& o : f.features[i + 1].offsets)
                    if (o.first >= 0) c.push_back(o);
                QVERIFY(a.size() >= 4 && c.size() >= 4);
                QVERIFY(std::equal(a.end() - 4, a.end(), c.begin()));
            }
        }
        for (size_t i = 0; i < found.size(); ++i) QVERIFY2(found[i], d.examples[i].id.c_str());
        // Questions longer than max_question_len keep their first tokens (every question here has 5).
        QaFeatureOptions cut = fo;
        cut.max_question_len = 3;
        QaFeatures fc = make_qa_features(d, *tok, cut);
        QCOMPARE(fc.cut_questions, (int64_t)d.examples.size());
        QCOMPARE(fc.features[0].ids[4], tok->token_to_id("[SEP]").value_or(-1));   // [CLS] q1 q2 q3 [SEP]
        // Too long a question for max_len: named.
        QaFeatureOptions tiny;
        tiny.max_len = 8;
        QVERIFY(error_of([&] { make_qa_features(d, *tok, tiny); }).find("leaves no room for the context") !=
                std::string::npos);
        // A stride as long as a window (max_len 20 less the question's 5 and 3 special tokens: 12) would never move
        // on: refused with what to change, not cut into one-token steps.
        QaFeatureOptions wide = fo;
        wide.doc_stride = 12;
        const std::string e = error_of([&] { make_qa_features(d, *tok, wide); });
        QVERIFY2(e.find("the context needs windows of 12 tokens (max_len 20 less the question's 5 and 3 special "
                        "tokens), which cannot overlap by doc_stride 12; lower doc_stride (--doc-stride) below 12 or "
                        "raise max_len") != std::string::npos, e.c_str());
        wide.doc_stride = 11;   // one token further each window
        QVERIFY(make_qa_features(d, *tok, wide).size() > f.size());
    }

    // postprocess_qa_predictions on hand-made logits. The feature is [CLS] q1..q7 [SEP] the plot was bad . [SEP]
    // (question "what part of it was mentioned ?": 7 tokens), context tokens at 9..13 ("plot" 10, "bad" 12).
    void decodesSpans() {
        auto tok = builtin_tokenizer();
        QaDataset d = one_question("what part of it was mentioned ?", "the plot was bad .");
        QaFeatures f = make_qa_features(d, *tok, {});
        QCOMPARE(f.size(), (size_t)1);
        QCOMPARE(f.features[0].ids.size(), (size_t)15);
        QCOMPARE(f.features[0].offsets[10], std::make_pair((int64_t)4, (int64_t)8));
        std::vector<std::vector<float>> s(1, std::vector<float>(15, 0.f)), e(1, std::vector<float>(15, 0.f));
        s[0][10] = 5, s[0][9] = 3, s[0][2] = 9, s[0][0] = 1;   // start 2 is a question token: never an answer
        e[0][10] = 4, e[0][12] = 2, e[0][5] = 8, e[0][0] = 1;
        QaDecodeOptions o;
        // SQuAD 1.1: the best span (10, 10) "plot", 5 + 4 = 9; then (9, 10) "the plot" 3 + 4 = 7 ties (10, 12)
        // "plot was bad" 5 + 2 = 7 (start order: the higher start logit first).
        auto p = decode_qa(d, f, s, e, o);
        QCOMPARE(p[0].text, std::string("plot"));
        QCOMPARE(p[0].n_best[0].score, 9.0);
        QCOMPARE(p[0].n_best[1].text, std::string("plot was bad"));
        QCOMPARE(p[0].n_best[2].text, std::string("the plot"));
        double sum = 0;
        for (auto& c : p[0].n_best) sum += c.probability;
        QVERIFY(std::abs(sum - 1.0) < 1e-9);
        // max_answer_len 1 keeps one-token spans only.
        o.max_answer_len = 1;
        p = decode_qa(d, f, s, e, o);
        for (auto& c : p[0].n_best) QVERIFY2(c.end - c.start <= 5, c.text.c_str());   // "plot", "was", ... single words
        o.max_answer_len = 30;
        // SQuAD 2.0: null score = start[0] + end[0] = 2; null odds = 2 - 9 = -7 <= 0: the span. With the
        // threshold at -8 the null answer wins ("").
        o.version2 = true;
        p = decode_qa(d, f, s, e, o);
        QCOMPARE(p[0].text, std::string("plot"));
        QCOMPARE(p[0].null_odds, -7.0);
        o.null_threshold = -8;
        p = decode_qa(d, f, s, e, o);
        QCOMPARE(p[0].text, std::string(""));
        // n_best 1: the top start (2) and end (5) are question tokens: no candidate. 1.1 answers run_qa.py's
        // placeholder "empty"; 2.0 has the null candidate, and "empty" (scores 0) becomes the best non-null one:
        // odds 2 - 0 = 2 > threshold 0: "".
        o = QaDecodeOptions{};
        o.n_best = 1;
        p = decode_qa(d, f, s, e, o);
        QCOMPARE(p[0].text, std::string("empty"));
        o.version2 = true;
        p = decode_qa(d, f, s, e, o);
        QCOMPARE(p[0].text, std::string(""));
        QCOMPARE(p[0].null_odds, 2.0);
        // Logit rows that do not match the features are refused.
        QVERIFY(error_of([&] { decode_qa(d, f, {}, {}, o); }).find("for 1 features") != std::string::npos);
    }

    // Over several windows: candidates from all of them, the null score the lowest classifier score of any.
    void decodesAcrossWindows() {
        auto tok = builtin_tokenizer();
        QaDataset d = one_question("what ?", "the plot was bad . the cast was great . the music was fine .");
        QaFeatureOptions fo;
        fo.max_len = 12;   // [CLS] what ? [SEP] + 7 context tokens + [SEP]: of 15, windows at 0, 5 and 10
        fo.doc_stride = 2;
        QaFeatures f = make_qa_features(d, *tok, fo);
        QCOMPARE(f.size(), (size_t)3);
        std::vector<std::vector<float>> s, e;
        for (size_t i = 0; i < f.size(); ++i) {
            s.emplace_back(f.features[i].ids.size(), 0.f);
            e.emplace_back(f.features[i].ids.size(), 0.f);
            s[i][0] = e[i][0] = 3.f - (float)i;   // null scores 6, 4, 2, ...: the last window's is the lowest
        }
        // "music" (context token 11, in the second and third windows) scores high in the last one only.
        const size_t last = f.size() - 1;
        const std::string& ctx = d.contexts[0];
        const int64_t music = (int64_t)ctx.find("music");
        for (size_t t = 0; t < f.features[last].offsets.size(); ++t)
            if (f.features[last].offsets[t].first == music) s[last][t] = e[last][t] = 2.5f;
        QaDecodeOptions o;
        o.version2 = true;
        auto p = decode_qa(d, f, s, e, o);
        QCOMPARE(p[0].text, std::string("music"));
        const double null_score = 2.0 * (3.0 - (double)last);
        QCOMPARE(p[0].null_odds, null_score - 5.0);
    }

    // The official scripts' scores from decoded answers: all right -> 1; SQuAD 2.0 splits HasAns / NoAns.
    void scoresAnswers() {
        QaDataset d = load_qa(kFixtures + "/qa/valid-v2.json");
        std::vector<QaAnswerPrediction> right, wrong;
        for (const QaExample& e : d.examples) {
            QaAnswerPrediction p;
            p.id = e.id;
            p.text = e.answers.empty() ? "" : e.answers.back().text;   // any gold answer counts
            right.push_back(p);
            p.text = "the";   // normalizes to "": right for unanswerable questions only
            wrong.push_back(p);
        }
        auto m = qa_metrics(score_qa(d, right), true);
        QCOMPARE(m.at("exact_match"), 1.0);
        QCOMPARE(m.at("qa_f1"), 1.0);
        QCOMPARE(m.at("has_ans_f1"), 1.0);
        QCOMPARE(m.at("no_ans_accuracy"), 1.0);
        m = qa_metrics(score_qa(d, wrong), true);
        // 38 of 120 unanswerable: EM = F1 = 38 / 120.
        QVERIFY(std::abs(m.at("exact_match") - 38.0 / 120.0) < 1e-12);
        QVERIFY(std::abs(m.at("qa_f1") - 38.0 / 120.0) < 1e-12);
        QCOMPARE(m.at("has_ans_exact_match"), 0.0);
        QCOMPARE(m.at("no_ans_accuracy"), 1.0);
    }

    // P-Tuning v2 (P = 16, every layer) on the built-in encoder learns the project's QA set: F1 from a fresh
    // head's near 0 to well above; saved and read back (ptune's format, then PEFT's alone) it gives the same
    // answers; PEFT's files are PeftModelForQuestionAnswering's.
    void prefixLearnsQa() {
        auto model = EncoderClassifier::load(builtin_dir() + "/model", 2, 1);
        auto tok = builtin_tokenizer();
        QaFeatureOptions fo;
        fo.max_len = 48;
        QaData train = prepare_qa(load_qa(kFixtures + "/qa/train.json"), *tok, fo);
        QaData valid = prepare_qa(load_qa(kFixtures + "/qa/valid.json"), *tok, fo);
        QCOMPARE(train.size(), (size_t)171);   // every context fits one window
        PrefixOptions po;
        po.prompt_len = 16;
        DeepPrompt prompt(model->config(), po, 3);
        TrainOptions o;
        o.lr = 3e-2;
        o.batch_size = 16;
        o.epochs = 20;
        o.metric = "qa_f1";
        o.seed = 3;
        QaTrainer trainer(*model, &prompt, nullptr, o, QaDecodeOptions{}, tok->pad_id());
        QCOMPARE(trainer.head_param_count(), (int64_t)(2 * 64 + 2));
        auto before = trainer.evaluate(valid);
        TrainResult r = trainer.train(train, &valid);
        QCOMPARE(r.status, std::string("completed"));
        auto after = trainer.evaluate(valid);
        qInfo("loss %.3f -> %.3f, EM %.3f -> %.3f, F1 %.3f -> %.3f", before.at("loss"), after.at("loss"),
              before.at("exact_match"), after.at("exact_match"), before.at("qa_f1"), after.at("qa_f1"));
        QVERIFY(after.at("loss") < before.at("loss") * 0.5);
        QVERIFY(before.at("qa_f1") < 0.3);
        QVERIFY(after.at("qa_f1") > 0.7);   // 0.84 measured (20 epochs, seed 3)
        for (auto& [n, t] : model->backbone_parameters()) QVERIFY2(!t.requires_grad(), n.c_str());

        QTemporaryDir tmp;
        const std::string dir = tmp.path().toStdString() + "/adapter";
        export_qa(dir, trainer, DeltaOptions{}, fo, "builtin");
        QVERIFY(is_qa_adapter_dir(dir));
        const json pc = read_json_file(dir + "/adapter_config.json");
        QCOMPARE(pc["task_type"].get<std::string>(), std::string("QUESTION_ANS"));
        QCOMPARE(pc["peft_type"].get<std::string>(), std::string("PREFIX_TUNING"));
        QCOMPARE(pc["modules_to_save"], json({"qa_outputs"}));
        PeftAdapter peft = PeftAdapter::load(dir);
        std::vector<std::string> keys;
        for (auto& [k, t] : peft.tensors) keys.push_back(k);
        QCOMPARE(keys, (std::vector<std::string>{"base_model.qa_outputs.bias", "base_model.qa_outputs.weight",
                                                 "prompt_embeddings"}));
        QCOMPARE(peft.tensors.at("base_model.qa_outputs.weight").sizes().vec(), (std::vector<int64_t>{2, 64}));
        QCOMPARE(peft.tensors.at("prompt_embeddings").sizes().vec(), (std::vector<int64_t>{16, 2 * 4 * 64}));
        QVERIFY(!QFile::exists(QString::fromStdString(dir + "/ptune_labels.json")));
        const auto want = trainer.predict(valid);
        auto predict_with = [&](QaAdapter& a) {
            QaTrainer t2(*model, a.prompt.get(), nullptr, o, a.decode, tok->pad_id());
            for (auto& [n, v] : a.head) t2.set_head_tensor(n, v);
            return t2.predict(valid);
        };
        auto same = [&](const std::vector<QaAnswerPrediction>& got) {
            if (got.size() != want.size()) return false;
            for (size_t i = 0; i < got.size(); ++i)
                if (got[i].text != want[i].text || got[i].id != want[i].id) return false;
            return true;
        };
        QaAdapter ours = load_qa_adapter(dir, model->config());
        QCOMPARE(ours.features.max_len, (int64_t)48);
        QVERIFY(same(predict_with(ours)));
        QFile::remove(QString::fromStdString(dir + "/ptune_adapter.json"));
        QVERIFY(is_qa_adapter_dir(dir));
        QaAdapter theirs = load_qa_adapter(dir, model->config());
        QVERIFY(same(predict_with(theirs)));
        // Loaders of other tasks refuse it, naming the task.
        QVERIFY(error_of([&] { load_prompt_adapter(dir, model->config()); }).find("task_type QUESTION_ANS") !=
                std::string::npos);
        QVERIFY(error_of([&] { load_token_cls_adapter(dir, model->config()); }).find("QUESTION_ANS") !=
                std::string::npos);
        // predictions.json: {"id": "answer"} in the data's order.
        write_qa_predictions(dir + "/predictions.json", want);
        const json pj = read_json_file(dir + "/predictions.json");
        QCOMPARE(pj.size(), want.size());
        for (const auto& p : want) QCOMPARE(pj.at(p.id).get<std::string>(), p.text);
    }

    // The head reads the last hidden state of every token with the pair's type ids (question 0, context 1), no
    // dropout: start = h . w0 + b0, end = h . w1 + b1.
    void headOnEncoderStates() {
        auto model = EncoderClassifier::load(builtin_dir() + "/model", 2, 1);
        auto tok = builtin_tokenizer();
        QaData d = prepare_qa(one_question("what part of it was mentioned ?", "the plot was bad ."), *tok, {});
        TrainOptions o;
        QaTrainer t(*model, nullptr, nullptr, o, QaDecodeOptions{}, tok->pad_id());
        std::vector<std::vector<float>> s, e;
        t.logits(d, s, e);
        at::NoGradGuard g;
        Batch b = make_batch({d.features.features[0].ids}, tok->pad_id(), {d.features.features[0].type_ids});
        QCOMPARE(b.token_type_ids[0][10].item<int64_t>(), (int64_t)1);
        at::Tensor h = model->encode(b, Adaptation{}, false)[0];
        const at::Tensor w = t.head_parameters()[0].second, bias = t.head_parameters()[1].second;
        const at::Tensor want = at::linear(h, w, bias);
        for (size_t k = 0; k < s[0].size(); ++k) {
            QVERIFY(std::abs(s[0][k] - want[(int64_t)k][0].item<float>()) < 1e-5);
            QVERIFY(std::abs(e[0][k] - want[(int64_t)k][1].item<float>()) < 1e-5);
        }
        // Without the type ids the states differ (BERT's token type embeddings): the pair's are used.
        Batch nb = make_batch({d.features.features[0].ids}, tok->pad_id());
        QVERIFY(!at::allclose(model->encode(nb, Adaptation{}, false)[0], h));
    }
};

QTEST_GUILESS_MAIN(TstQa)
#include "tst_qa.moc"
