// Multiple choice: COPA, SWAG and generic JSONL rows read (bad rows named by line and field), each choice read as the
// pair (context, choice), the pooled score equal to what transformers computes (BertForSequenceClassification's
// logits on the reference BERT with its PEFT prefix are the same pooler -> linear path, so a one-output head made
// of one classifier row must give that row's logits), the loss over questions with different numbers of choices,
// a P-Tuning v2 prefix trained on the project's set (tests/fixtures/choice) well above chance, and the adapter saved
// and read back with the same scores (ptune's format only: PEFT has no multiple-choice task type).
#include <torch/torch.h>

#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include "core/engine/builtin.h"
#include "core/engine/choice_task.h"
#include "core/engine/peft_io.h"
#include "core/engine/tensor_io.h"
#include "core/engine/token_cls_task.h"
#include "core/io/json_util.h"

using namespace ptune;
namespace fs = std::filesystem;

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

#define EXPECT_ERROR(call, want)                                                                  \
    do {                                                                                          \
        const std::string got_ = error_of([&] { call; });                                         \
        const std::string want_ = (want);                                                         \
        QVERIFY2(got_ == want_, qPrintable(QString::fromStdString("got: " + got_ + "\nwant: " + want_))); \
    } while (0)

TrainOptions small_options() {
    TrainOptions o;
    o.batch_size = 4;
    o.max_len = 64;
    o.threads = 2;
    o.seed = 5;
    return o;
}
}  // namespace

class TstChoice : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void readsCopaSwagAndGeneric() {
        QTemporaryDir tmp;
        const std::string copa = write(tmp, "copa.jsonl",
            "{\"premise\": \"The man turned on the faucet.\", \"choice1\": \"The toilet filled with water.\", "
            "\"choice2\": \"Water flowed from the spout.\", \"question\": \"effect\", \"label\": 1, \"idx\": 0}\n"
            "\n"
            "{\"premise\": \"My body cast a shadow.\", \"choice1\": \"The sun was rising.\", \"choice2\": \"The grass "
            "was cut.\", \"question\": \"cause\", \"label\": \"0\", \"idx\": 7}\n");
        ChoiceDataset c = load_choice(copa);
        QCOMPARE(c.layout, std::string("copa"));
        QCOMPARE(c.examples.size(), size_t(2));
        QCOMPARE(c.examples[0].context, std::string("The man turned on the faucet. so"));
        QCOMPARE(c.examples[1].context, std::string("My body cast a shadow. because"));
        QCOMPARE(c.examples[0].choices, (std::vector<std::string>{"The toilet filled with water.", "Water flowed from the spout."}));
        QCOMPARE(c.examples[0].label, int64_t(1));
        QCOMPARE(c.examples[1].label, int64_t(0));
        QCOMPARE(c.examples[1].id, std::string("7"));
        QCOMPARE(c.examples[1].line, int64_t(3));

        const std::string swag = write(tmp, "swag.jsonl",
            "{\"video-id\": \"v\", \"sent1\": \"Members of the group are playing.\", \"sent2\": \"A man\", "
            "\"ending0\": \"sings.\", \"ending1\": \"dances.\", \"ending2\": \"sleeps.\", \"ending3\": \"reads.\", "
            "\"label\": 2}\n");
        ChoiceDataset s = load_choice(swag);
        QCOMPARE(s.layout, std::string("swag"));
        QCOMPARE(s.examples[0].context, std::string("Members of the group are playing."));
        QCOMPARE(s.examples[0].choices, (std::vector<std::string>{"A man sings.", "A man dances.", "A man sleeps.", "A man reads."}));
        QCOMPARE(s.examples[0].id, std::string("line 1"));

        const std::string gen = write(tmp, "gen.jsonl",
            "{\"id\": \"a\", \"context\": \"It rained.\", \"question\": \"What then?\", \"choices\": [\"wet\", \"dry\", "
            "\"hot\"], \"label\": 0}\n"
            "{\"id\": \"b\", \"question\": \"Pick one\", \"choices\": [\"x\", \"y\"], \"label\": 1}\n");
        ChoiceDataset g = load_choice(gen);
        QCOMPARE(g.layout, std::string("generic"));
        QCOMPARE(g.examples[0].context, std::string("It rained. What then?"));
        QCOMPARE(g.examples[1].context, std::string("Pick one"));
        QCOMPARE(g.min_choices(), size_t(2));
        QCOMPARE(g.max_choices(), size_t(3));

        QVERIFY(looks_like_choice_data(copa) && looks_like_choice_data(swag) && looks_like_choice_data(gen));
        QVERIFY(looks_like_choice_data(kFixtures + "/choice/train.jsonl"));
        QVERIFY(!looks_like_choice_data(kFixtures + "/qa/train.json"));
        QVERIFY(!looks_like_choice_data(kFixtures + "/ner/train.conll"));
        QVERIFY(!looks_like_choice_data(kFixtures + "/data/pairs.jsonl"));

        ChoiceDataset sv = load_choice(kFixtures + "/choice/swag-valid.jsonl");
        QCOMPARE(sv.layout, std::string("swag"));
        QCOMPARE(sv.examples.size(), size_t(100));
        QCOMPARE(sv.min_choices(), size_t(4));
        QCOMPARE(sv.max_choices(), size_t(4));
        QVERIFY(sv.examples[0].choices[0].rfind("so ", 0) == 0);   // "<sent2> <ending>"
        // The fixture: every question has its label.
        ChoiceDataset f = load_choice(kFixtures + "/choice/train.jsonl");
        QCOMPARE(f.examples.size(), size_t(800));
        auto split = split_choice(f, 0.25, 3);
        QCOMPARE(split.second.examples.size(), size_t(200));
        QCOMPARE(split.first.examples.size(), size_t(600));
    }

    void badRowsNameTheLineAndField() {
        QTemporaryDir tmp;
        const std::string ok = "{\"premise\": \"p\", \"choice1\": \"a\", \"choice2\": \"b\", \"question\": \"effect\", \"label\": 0}\n";
        auto with = [&](const std::string& second) { return write(tmp, "f.jsonl", ok + second + "\n"); };
        std::string p = with("{\"premise\": \"p\", \"choice1\": \"a\", \"choice2\": \"b\", \"question\": \"effect\", \"label\": 2}");
        EXPECT_ERROR(load_choice(p), p + ":2: field \"label\" is 2; the question has 2 choices (0..1)");
        p = with("{\"premise\": \"p\", \"choice1\": \"a\", \"choice2\": \"b\", \"question\": \"why\", \"label\": 0}");
        EXPECT_ERROR(load_choice(p), p + ":2: field \"question\" is \"why\"; COPA asks for a \"cause\" or an \"effect\"");
        p = with("{\"premise\": \"p\", \"choice1\": \"a\", \"choice2\": 3, \"question\": \"effect\", \"label\": 0}");
        EXPECT_ERROR(load_choice(p), p + ":2: field \"choice2\" is not a string");
        p = with("{\"context\": \"c\", \"choices\": [\"only\"], \"label\": 0}");
        EXPECT_ERROR(load_choice(p), p + ":2: the question has 1 choice; it needs at least two");
        p = with("{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"label\": \"first\"}");
        EXPECT_ERROR(load_choice(p), p + ":2: field \"label\" is \"first\", not the index of a choice");
        p = with("{\"context\": \"c\", \"choices\": [\"a\", \"  \"], \"label\": 0}");
        EXPECT_ERROR(load_choice(p), p + ":2: choice 1 is empty");
        p = with("{\"context\": \"c\", \"choices\": [\"a\", \"b\"]}");
        EXPECT_ERROR(load_choice(p), p + ":2: field \"label\" is missing (the index of the right choice)");
        p = with("{\"text\": \"a sentence\", \"label\": 1}");
        EXPECT_ERROR(load_choice(p), p + ":2: not a multiple-choice row: it needs premise/choice1/choice2 (COPA), "
                                         "sent1/ending0.. (SWAG) or context/choices (generic)");
        p = with("{\"premise\": ");
        EXPECT_ERROR(load_choice(p), p + ":2: not valid JSON");
        p = write(tmp, "dup.jsonl", "{\"id\": \"q\", \"context\": \"c\", \"choices\": [\"a\", \"b\"], \"label\": 0}\n"
                                    "{\"id\": \"q\", \"context\": \"d\", \"choices\": [\"a\", \"b\"], \"label\": 1}\n");
        EXPECT_ERROR(load_choice(p), p + ":2: question id \"q\" was used before in this file");

        // Skipped and collected; unlabelled rows allowed for prediction.
        p = with("{\"context\": \"c\", \"choices\": [\"a\", \"b\"]}");
        ChoiceOptions skip;
        skip.on_bad_row = OnBadRow::Skip;
        ChoiceDataset d = load_choice(p, skip);
        QCOMPARE(d.examples.size(), size_t(1));
        QCOMPARE(d.bad_rows.size(), size_t(1));
        QCOMPARE(d.bad_rows[0].line, int64_t(2));
        ChoiceOptions unl;
        unl.allow_unlabelled = true;
        d = load_choice(p, unl);
        QCOMPARE(d.examples.size(), size_t(2));
        QCOMPARE(d.examples[1].label, int64_t(-1));
        p = write(tmp, "none.jsonl", "{\"text\": \"x\"}\n");
        EXPECT_ERROR(load_choice(p, skip),
                     p + ": no multiple-choice questions (1 bad rows; line 1: not a multiple-choice row: it needs "
                         "premise/choice1/choice2 (COPA), sent1/ending0.. (SWAG) or context/choices (generic))");
        EXPECT_ERROR(load_choice(tmp.path().toStdString() + "/missing.jsonl"),
                     tmp.path().toStdString() + "/missing.jsonl: cannot open (No such file or directory)");
    }

    // Every choice is the pair (context, choice) as the tokenizer encodes it, cut longest-first to max_len.
    void choicesAreEncodedAsPairs() {
        auto tok = Tokenizer::from_dir(builtin_dir() + "/model");
        ChoiceDataset d = load_choice(kFixtures + "/choice/valid.jsonl");
        const ChoiceExample e = d.examples[0];
        ChoiceData cd = prepare_choice(d, *tok, 128);
        QCOMPARE(cd.size(), d.examples.size());
        QCOMPARE(cd.truncated_pairs, int64_t(0));
        for (size_t c = 0; c < 2; ++c) {
            const Encoding enc = tok->encode(e.context, e.choices[c]);
            QCOMPARE(cd.ids[0][c], enc.ids);
            QCOMPARE(cd.type_ids[0][c], enc.type_ids);
            QCOMPARE(enc.type_ids.back(), int64_t(1));   // the choice is the second segment
        }
        ChoiceData cut = prepare_choice(d, *tok, 12);
        QVERIFY(cut.truncated_pairs > 0);
        for (const auto& q : cut.ids)
            for (const auto& ids : q) QVERIFY(ids.size() <= 12);
        QCOMPARE(cut.ids[0][0], tok->encode(e.context, e.choices[0], true, 12).ids);
    }

    // transformers' multiple-choice score is classifier(dropout(pooler(h))) with a one-output classifier: with the
    // reference BERT's PEFT prefix and classifier row j as that head, every text's score is its logit j as
    // transformers + PEFT computed it (BertForSequenceClassification: the same pooler and prefix).
    void scoresEqualTransformers() {
        const json exp = read_json_file(kFixtures + "/bert/expected.json");
        auto model = EncoderClassifier::load(kFixtures + "/bert/model");
        QVERIFY(model->pooler_from_checkpoint());
        PromptAdapter a = load_prompt_adapter(kFixtures + "/bert/adapter_prefix_p5", model->config());
        const json& ids = exp["input_ids_96"];
        const json& logits = exp["adapters"]["prefix_p5"]["logits"];
        QCOMPARE(ids.size(), size_t(10));
        ChoiceData d;
        for (size_t q = 0; q < ids.size(); q += 2) {
            ChoiceExample e;
            e.id = std::to_string(q);
            e.choices = {"a", "b"};
            e.label = 0;
            d.examples.examples.push_back(e);
            d.ids.push_back({ids[q].get<std::vector<int64_t>>(), ids[q + 1].get<std::vector<int64_t>>()});
            d.type_ids.push_back({std::vector<int64_t>(ids[q].size(), 0), std::vector<int64_t>(ids[q + 1].size(), 0)});
        }
        TrainOptions o = small_options();
        o.batch_size = 2;   // padded batches of 4 rows
        ChoiceTrainer t(*model, a.prompt.get(), nullptr, o, model->config().pad_token_id);
        const at::Tensor w = a.head.at("classifier.weight"), b = a.head.at("classifier.bias");
        for (int64_t j = 0; j < 2; ++j) {
            t.set_head_tensor("classifier.weight", w.narrow(0, j, 1));
            t.set_head_tensor("classifier.bias", b.narrow(0, j, 1));
            const auto s = t.scores(d);
            double worst = 0;
            for (size_t q = 0; q < s.size(); ++q)
                for (size_t c = 0; c < 2; ++c)
                    worst = std::max(worst, std::abs((double)s[q][c] - logits[2 * q + c][(size_t)j].get<double>()));
            qInfo("classifier row %d: max |diff| = %.3g", (int)j, worst);
            QVERIFY2(worst < 1e-4, qPrintable(QString::number(worst)));
        }
        // The prefix matters: without it the scores differ.
        ChoiceTrainer bare(*model, nullptr, nullptr, o, model->config().pad_token_id);
        bare.set_head_tensor("classifier.weight", w.narrow(0, 0, 1));
        bare.set_head_tensor("classifier.bias", b.narrow(0, 0, 1));
        QVERIFY(std::abs(bare.scores(d)[0][0] - logits[0][0].get<double>()) > 1e-3);
    }

    // The loss is the mean over questions of -log softmax(scores)[right], whatever each question's choice count;
    // probabilities sum to one; accuracy counts the questions whose best choice is right.
    void lossAndAccuracyOverMixedChoiceCounts() {
        QTemporaryDir tmp;
        const std::string p = write(tmp, "mixed.jsonl",
            "{\"context\": \"the food was great .\", \"choices\": [\"i loved it .\", \"i hated it .\", \"it was ok .\"], \"label\": 0}\n"
            "{\"context\": \"the film was awful .\", \"choices\": [\"i loved it .\", \"i hated it .\"], \"label\": 1}\n"
            "{\"context\": \"the book\", \"choices\": [\"is great .\", \"is awful .\", \"is boring .\", \"is long .\"], \"label\": 3}\n");
        auto tok = Tokenizer::from_dir(builtin_dir() + "/model");
        auto model = EncoderClassifier::load(builtin_dir() + "/model", 2, 1);
        ChoiceData d = prepare_choice(load_choice(p), *tok, 64);
        TrainOptions o = small_options();
        o.batch_size = 2;   // a batch of 3 + 2 choices, then 4
        DeepPrompt prompt(model->config(), PrefixOptions{}, 9);
        ChoiceTrainer t(*model, &prompt, nullptr, o, tok->pad_id());
        const auto s = t.scores(d);
        QCOMPARE(s[0].size(), size_t(3));
        QCOMPARE(s[1].size(), size_t(2));
        QCOMPARE(s[2].size(), size_t(4));
        double want = 0;
        int right = 0;
        for (size_t q = 0; q < 3; ++q) {
            double mx = *std::max_element(s[q].begin(), s[q].end()), z = 0;
            for (float v : s[q]) z += std::exp(v - mx);
            const int64_t label = d.examples.examples[q].label;
            want += -(s[q][(size_t)label] - mx - std::log(z)) / 3;
            right += std::max_element(s[q].begin(), s[q].end()) - s[q].begin() == label;
        }
        const auto m = t.evaluate(d);
        QVERIFY2(std::abs(m.at("loss") - want) < 1e-5, qPrintable(QString("%1 vs %2").arg(m.at("loss")).arg(want)));
        QCOMPARE(m.at("accuracy"), right / 3.0);
        const auto preds = t.predict(d);
        for (const auto& pr : preds) {
            double sum = 0;
            for (double v : pr.probabilities) sum += v;
            QVERIFY(std::abs(sum - 1) < 1e-9);
            QCOMPARE(pr.probabilities[(size_t)pr.predicted],
                     *std::max_element(pr.probabilities.begin(), pr.probabilities.end()));
        }
        // Each question's scores are its own: the same question alone scores the same.
        ChoiceData one = d;
        one.examples.examples.resize(1);
        one.ids.resize(1);
        one.type_ids.resize(1);
        const auto s1 = t.scores(one);
        for (size_t c = 0; c < 3; ++c) QVERIFY(std::abs(s1[0][c] - s[0][c]) < 1e-5);
    }

    // A P-Tuning v2 prefix and head on the built-in model learn the project's COPA-style set (the positive review
    // is the right choice): validation accuracy far above chance (0.5) and above the untrained head's; the
    // adapter holds what was trained, reads back with the same scores, and has no PEFT files.
    void trainsAboveChanceAndRoundTrips() {
        auto tok = Tokenizer::from_dir(builtin_dir() + "/model");
        auto model = EncoderClassifier::load(builtin_dir() + "/model", 2, 1);
        ChoiceData train = prepare_choice(load_choice(kFixtures + "/choice/train.jsonl"), *tok, 64);
        ChoiceData valid = prepare_choice(load_choice(kFixtures + "/choice/valid.jsonl"), *tok, 64);
        PrefixOptions po;
        po.prompt_len = 8;
        DeepPrompt prompt(model->config(), po, 3);
        TrainOptions o = small_options();
        o.batch_size = 16;
        o.lr = 0.05;
        o.epochs = 4;
        o.eval_every = 0;
        ChoiceTrainer t(*model, &prompt, nullptr, o, tok->pad_id());
        const double before = t.evaluate(valid).at("accuracy");
        TrainResult r = t.train(train, &valid);
        QCOMPARE(r.status, std::string("completed"));
        const double after = t.evaluate(valid).at("accuracy");
        qInfo("validation accuracy: untrained %.2f, trained %.2f", before, after);
        QVERIFY2(after >= 0.65, qPrintable(QString::number(after)));
        QVERIFY(after > before);
        for (auto& [n, x] : model->backbone_parameters()) QVERIFY2(!x.requires_grad(), n.c_str());

        QTemporaryDir tmp;
        const std::string dir = tmp.path().toStdString() + "/adapter";
        fs::create_directories(dir);
        std::ofstream(dir + "/adapter_config.json") << "{}";   // a former run's PEFT files are removed
        export_choice(dir, t, DeltaOptions{}, 64, "builtin");
        QVERIFY(!fs::exists(dir + "/adapter_config.json"));
        QVERIFY(!fs::exists(dir + "/adapter_model.safetensors"));
        const json c = read_json_file(dir + "/ptune_adapter.json");
        QCOMPARE(c["task"].get<std::string>(), std::string("choice"));
        QCOMPARE(c["method"].get<std::string>(), std::string("ptv2"));
        QCOMPARE(c["max_len"].get<int64_t>(), int64_t(64));
        QVERIFY(is_choice_adapter_dir(dir));
        ChoiceAdapter back = load_choice_adapter(dir, model->config());
        QCOMPARE(back.max_len, int64_t(64));
        QCOMPARE(back.head.at("classifier.weight").sizes().vec(), (std::vector<int64_t>{1, 64}));
        ChoiceTrainer t2(*model, back.prompt.get(), nullptr, o, tok->pad_id());
        for (auto& [n, v] : back.head) t2.set_head_tensor(n, v);
        const auto s1 = t.scores(valid), s2 = t2.scores(valid);
        for (size_t q = 0; q < s1.size(); ++q)
            for (size_t k = 0; k < s1[q].size(); ++k) QCOMPARE(s2[q][k], s1[q][k]);
        // Another task's loader names the task.
        QVERIFY(error_of([&] { load_token_cls_adapter(dir, model->config()); }).find("trained for task choice") !=
                std::string::npos);
        const std::string written = tmp.path().toStdString() + "/pred.jsonl";
        write_choice_predictions(written, t.predict(valid));
        std::ifstream in(written);
        std::string first;
        std::getline(in, first);
        const json j = json::parse(first);
        QCOMPARE(j["id"].get<std::string>(), std::string("0"));
        QCOMPARE(j["label"].get<int64_t>(), load_choice(kFixtures + "/choice/valid.jsonl").examples[0].label);
        QCOMPARE(j["probabilities"].size(), size_t(2));
    }

    // RoBERTa reads its checkpoint's pooler, or draws one from a fixed seed (said in a note) when the checkpoint
    // has none, as RobertaForMultipleChoice would; ELECTRA has no pooler and is refused by name.
    void poolerPerFamily() {
        auto r1 = EncoderClassifier::load(kFixtures + "/roberta/model");
        QVERIFY(r1->pooler_parameters().empty());
        TrainOptions o = small_options();
        ChoiceTrainer t1(*r1, nullptr, nullptr, o, 1);
        QVERIFY(!r1->pooler_from_checkpoint());
        QVERIFY(r1->load_notes().back().find("RobertaForMultipleChoice") != std::string::npos);
        auto r2 = EncoderClassifier::load(kFixtures + "/roberta/model");
        r2->ensure_pooler();
        QVERIFY(at::equal(r1->pooler_parameters()[0].second, r2->pooler_parameters()[0].second));

        QTemporaryDir tmp;
        const std::string d = tmp.path().toStdString();
        json c = read_json_file(kFixtures + "/bert/model/config.json");
        c["model_type"] = "electra";
        write_json_file(d + "/config.json", c);
        std::vector<std::pair<std::string, at::Tensor>> renamed;
        for (auto& [n, t] : load_all(kFixtures + "/bert/model/model.safetensors"))
            if (n.rfind("bert.pooler", 0) != 0 && n.rfind("classifier", 0) != 0)
                renamed.push_back({"electra." + n.substr(5), t});
        save_tensors(d + "/model.safetensors", renamed);
        auto e = EncoderClassifier::load(d);
        EXPECT_ERROR(ChoiceTrainer(*e, nullptr, nullptr, o, 0),
                     "ELECTRA has no pooler: its multiple-choice head (transformers' SequenceSummary) is not supported "
                     "yet; use a BERT or RoBERTa model");
    }
};

QTEST_GUILESS_MAIN(TstChoice)
#include "tst_choice.moc"
