// Token classification on an encoder: words to labelled tokens (first sub-token, windows), and a P-Tuning v2
// prefix trained on the project's small NER set (tests/fixtures/ner) with entity F1 far above the trivial
// all-"O" tagger's 0.
#include <torch/torch.h>

#include <QTemporaryDir>
#include <QtTest>

#include "core/engine/builtin.h"
#include "core/engine/peft_io.h"
#include "core/engine/token_cls_task.h"
#include "core/io/json_util.h"

using namespace ptune;

namespace {
const std::string kFixtures = PTUNE_FIXTURES;

TaggedDataset one_sentence(const std::vector<std::string>& words, const std::vector<std::string>& tags) {
    TaggedDataset d;
    d.label_names = {"O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG"};
    TaggedSentence s;
    s.words = words;
    for (const auto& t : tags)
        s.tags.push_back((int)(std::find(d.label_names.begin(), d.label_names.end(), t) - d.label_names.begin()));
    d.sentences.push_back(s);
    return d;
}
}  // namespace

class TstTokenCls : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // bert-base-uncased splits "Café naïve Ångström résumé , don't !" into words 0, 1, 2 2, 3, 4, 5 5 5, 6
    // (tokens per word from the tokenizers library, tests/fixtures/tokenizers/real). The tag goes on each word's
    // first token; later sub-tokens get -100, or with label_all_subtokens the same tag, B- turned into I-.
    void labelsOnFirstSubTokens() {
        auto tok = Tokenizer::from_json_file(kFixtures + "/tokenizers/real/bert-base-uncased/tokenizer.json");
        const json exp = read_json_file(kFixtures + "/tokenizers/real/expected.json");
        const auto words = exp["word_lists"][3].get<std::vector<std::string>>();
        const auto word_of = exp["words"]["bert-base-uncased"][3].get<std::vector<int64_t>>();
        QCOMPARE(word_of, (std::vector<int64_t>{-1, 0, 1, 2, 2, 3, 4, 5, 5, 5, 6, -1}));
        TaggedDataset d = one_sentence(words, {"B-ORG", "O", "B-LOC", "B-MISC", "O", "B-ORG", "O"});
        TokenClsData t = tokenize_tagged(d, *tok, 64, false);
        QCOMPARE((int)t.windows.size(), 1);
        //                                          [CLS] café naïve ång ##strom résumé , don ' t ! [SEP]
        QCOMPARE(t.windows[0].labels, (std::vector<int64_t>{-100, 5, 0, 1, -100, 3, 0, 5, -100, -100, 0, -100}));
        QCOMPARE(t.windows[0].word_of, (std::vector<int64_t>{-1, 0, 1, 2, -1, 3, 4, 5, -1, -1, 6, -1}));
        TokenClsData all = tokenize_tagged(d, *tok, 64, true);
        // "ång ##strom" B-LOC -> 1, then I-LOC 2; "don ' t" B-ORG -> 5, 6, 6.
        QCOMPARE(all.windows[0].labels, (std::vector<int64_t>{-100, 5, 0, 1, 2, 3, 0, 5, 6, 6, 0, -100}));
        QCOMPARE(all.windows[0].word_of, t.windows[0].word_of);
    }

    // A sentence longer than max_len is cut into windows of whole words: max_len 6 leaves 4 tokens a window
    // between [CLS] and [SEP]. Words' token counts 1 1 2 1 1 3 1 -> windows {0 1 2} (4 tokens), {3 4} (2: word 5's 3
    // tokens would make 5), {5 6} (4). Every word is predicted from exactly one window.
    void longSentencesBecomeWindows() {
        auto tok = Tokenizer::from_json_file(kFixtures + "/tokenizers/real/bert-base-uncased/tokenizer.json");
        const json exp = read_json_file(kFixtures + "/tokenizers/real/expected.json");
        const auto words = exp["word_lists"][3].get<std::vector<std::string>>();
        TaggedDataset d = one_sentence(words, {"B-ORG", "O", "B-LOC", "B-MISC", "O", "B-ORG", "O"});
        TokenClsData t = tokenize_tagged(d, *tok, 6, false);
        QCOMPARE((int)t.windows.size(), 3);
        QCOMPARE(t.windowed_sentences, (int64_t)1);
        QCOMPARE(t.cut_words, (int64_t)0);
        std::vector<int64_t> seen;
        for (const auto& w : t.windows) {
            QVERIFY(w.ids.size() <= 6);
            QCOMPARE(w.ids.front(), (int64_t)101);   // [CLS]
            QCOMPARE(w.ids.back(), (int64_t)102);    // [SEP]
            for (int64_t x : w.word_of)
                if (x >= 0) seen.push_back(x);
        }
        QCOMPARE(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
        QCOMPARE(t.windows[1].word_of, (std::vector<int64_t>{-1, 3, 4, -1}));
        // A window of 2 tokens between the specials: word 5 ("don ' t") alone is too long and keeps its first token.
        TokenClsData cut = tokenize_tagged(d, *tok, 4, false);
        QCOMPARE(cut.cut_words, (int64_t)1);
        for (const auto& w : cut.windows) QVERIFY(w.ids.size() <= 4);
        seen.clear();
        for (const auto& w : cut.windows)
            for (int64_t x : w.word_of)
                if (x >= 0) seen.push_back(x);
        QCOMPARE(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
        // Predictions map back to every word of the sentence.
        QCOMPARE(t.gold.size(), (size_t)1);
        QCOMPARE(t.gold[0].size(), words.size());
    }

    // Every method trains on the task, and its adapter reads back computing the same: prompt tuning, P-tuning, LoRA,
    // IA3, bottleneck adapters and full fine-tuning on the NER set (one epoch each). The validation loss falls;
    // only the method's tensors and the head train (the backbone too for full). ptune's format gives back the same
    // loss and tags; PEFT's (task_type TOKEN_CLS, for the methods PEFT has) too, P-tuning read as the prompts its
    // encoder made; bottleneck adapters and full fine-tuning have no PEFT form and say why.
    void everyMethodTrainsAndReadsBack() {
        auto tok = Tokenizer::from_dir(builtin_dir() + "/model");
        TaggedDataset train = load_tagged(kFixtures + "/ner/train.conll", {});
        TaggedOptions vo;
        vo.label_names = train.label_names;
        TaggedDataset valid = load_tagged(kFixtures + "/ner/valid.conll", vo);
        TokenClsData ttrain = tokenize_tagged(train, *tok, 64, false), tvalid = tokenize_tagged(valid, *tok, 64, false);
        const int64_t tags = (int64_t)train.label_names.size();
        QTemporaryDir tmp;
        for (const std::string m : {"prompt", "ptuning", "lora", "ia3", "adapter", "full"}) {
            auto model = EncoderClassifier::load(builtin_dir() + "/model", 2, 1);
            std::unique_ptr<DeltaMethod> delta;
            if (m == "full") model->set_backbone_trainable(true);
            else delta = make_method(m, *model, 4, DeltaOptions{}, {}, 5);
            std::map<std::string, at::Tensor> start;
            if (delta)
                for (auto& [n, t] : delta->parameters()) start[n] = t.detach().clone();
            TrainOptions o;
            o.lr = m == "full" ? 1e-3 : 1e-2;
            o.batch_size = 16;
            o.epochs = 1;
            o.eval_every = 0;
            o.metric = "loss";
            o.seed = 3;
            TokenClsTrainer trainer(*model, nullptr, delta.get(), tags, o, tok->pad_id());
            QCOMPARE(trainer.method_name(), m);
            const double before = trainer.evaluate(tvalid).at("loss");
            TrainResult r = trainer.train(ttrain, &tvalid);
            QCOMPARE(r.status, std::string("completed"));
            const auto after = trainer.evaluate(tvalid);
            qInfo("%s: loss %.4f -> %.4f", m.c_str(), before, after.at("loss"));
            QVERIFY2(after.at("loss") < before * 0.8, m.c_str());
            bool changed = false;
            if (delta)
                for (auto& [n, t] : delta->parameters()) changed = changed || !at::equal(t.detach(), start.at(n));
            QVERIFY2(changed || m == "full", m.c_str());
            for (auto& [n, t] : model->backbone_parameters()) QCOMPARE(t.requires_grad(), m == "full");
            QCOMPARE(trainer.trainable_param_count(),
                     (delta ? delta->param_count() : model->backbone_param_count()) + tags * 64 + tags);

            const std::string dir = tmp.path().toStdString() + "/" + m;
            std::string why;
            export_token_cls(dir, trainer, DeltaOptions{}, train.label_names, train.scheme, "builtin", &why);
            const bool peft = m != "adapter" && m != "full";
            QCOMPARE(QFile::exists(QString::fromStdString(dir + "/adapter_config.json")), peft);
            QVERIFY2(peft == why.empty(), why.c_str());
            if (m == "adapter") QCOMPARE(why, std::string("PEFT has no bottleneck adapters (they are AdapterHub's)"));
            const auto want = trainer.predict(tvalid);
            auto score = [&](TokenClsAdapter& a) {
                auto fresh = EncoderClassifier::load(builtin_dir() + "/model", 2, 1);
                a.apply_backbone(*fresh);
                TokenClsTrainer t2(*fresh, a.prompt.get(), a.delta.get(), (int64_t)a.label_names.size(), o, tok->pad_id());
                for (auto& [n, v] : a.head) t2.set_head_tensor(n, v);
                QVERIFY2(t2.predict(tvalid) == want, m.c_str());
                QVERIFY2(std::abs(t2.evaluate(tvalid).at("loss") - after.at("loss")) < 1e-5, m.c_str());
            };
            TokenClsAdapter ours = load_token_cls_adapter(dir, model->config());
            QCOMPARE(ours.method, m);
            QCOMPARE(ours.label_names, train.label_names);
            score(ours);
            if (!peft) continue;
            const json pc = read_json_file(dir + "/adapter_config.json");
            QCOMPARE(pc["task_type"].get<std::string>(), std::string("TOKEN_CLS"));
            QCOMPARE(pc["peft_type"].get<std::string>(), std::string(m == "prompt" ? "PROMPT_TUNING" : m == "ptuning" ? "P_TUNING"
                                                                     : m == "lora" ? "LORA" : "IA3"));
            PeftAdapter pa = PeftAdapter::load(dir);
            const std::string head_key = delta->virtual_tokens() ? "base_model.classifier.weight" : "base_model.model.classifier.weight";
            QVERIFY2(pa.tensors.count(head_key), head_key.c_str());
            QFile::remove(QString::fromStdString(dir + "/ptune_adapter.json"));
            TokenClsAdapter theirs = load_token_cls_adapter(dir, model->config());
            QCOMPARE(theirs.method, std::string(m == "ptuning" ? "prompt" : m));
            QCOMPARE(theirs.label_names, train.label_names);
            score(theirs);
        }
    }

    // P-Tuning v2 (P = 8, every layer) on the built-in encoder learns the NER set: entity F1 (seqeval, default
    // mode) rises from near 0 with the fresh head to well above the all-"O" tagger's 0; loss falls.
    void prefixLearnsNer() {
        auto model = EncoderClassifier::load(builtin_dir() + "/model", 2, 1);
        auto tok = Tokenizer::from_dir(builtin_dir() + "/model");
        TaggedDataset train = load_tagged(kFixtures + "/ner/train.conll", {});
        TaggedOptions vo;
        vo.label_names = train.label_names;
        TaggedDataset valid = load_tagged(kFixtures + "/ner/valid.conll", vo);
        QCOMPARE(train.label_names, (std::vector<std::string>{"O", "B-ASPECT", "B-ITEM", "I-ITEM"}));
        QCOMPARE(train.documents, (int64_t)8);
        TokenClsData ttrain = tokenize_tagged(train, *tok, 64, false), tvalid = tokenize_tagged(valid, *tok, 64, false);
        QCOMPARE(ttrain.size(), (size_t)400);
        PrefixOptions po;
        po.prompt_len = 8;
        DeepPrompt prompt(model->config(), po, 3);
        TrainOptions o;
        o.lr = 3e-2;
        o.batch_size = 16;
        o.epochs = 12;
        o.eval_every = 0;
        o.metric = "entity_f1";
        o.seed = 3;
        TokenClsTrainer trainer(*model, &prompt, nullptr, (int64_t)train.label_names.size(), o, tok->pad_id());
        auto before = trainer.evaluate(tvalid);
        // The all-"O" tagger: no entities predicted, F1 0; its word accuracy is the share of "O" words.
        std::vector<std::vector<int>> all_o;
        for (const auto& g : tvalid.gold) all_o.push_back(std::vector<int>(g.size(), 0));
        auto trivial = tagging_metrics(all_o, tvalid);
        QCOMPARE(trivial.at("entity_f1"), 0.0);
        TrainResult r = trainer.train(ttrain, &tvalid);
        QCOMPARE(r.status, std::string("completed"));
        auto after = trainer.evaluate(tvalid);
        qInfo("loss %.3f -> %.3f, f1 %.3f -> %.3f (all-O: f1 0, accuracy %.3f), accuracy %.3f", before.at("loss"),
              after.at("loss"), before.at("entity_f1"), after.at("entity_f1"), trivial.at("tag_accuracy"), after.at("tag_accuracy"));
        QVERIFY(after.at("loss") < before.at("loss") * 0.5);
        QVERIFY(after.at("entity_f1") > 0.7);   // 0.80 measured (12 epochs, seed 3)
        QVERIFY(after.at("tag_accuracy") > trivial.at("tag_accuracy"));
        QVERIFY(after.count("f1_ITEM") && after.count("f1_ASPECT"));
        QVERIFY(after.at("f1_ITEM") > 0.5);
        // The backbone stayed frozen: only the prompt and the head are trainable.
        for (auto& [n, t] : model->backbone_parameters()) QVERIFY2(!t.requires_grad(), n.c_str());
        QCOMPARE(trainer.head_param_count(), (int64_t)(4 * 64 + 4));

        // Saved and read back in both formats, the adapter predicts the same tags. PEFT's files hold what
        // PeftModelForTokenClassification saves: the prefix and base_model.classifier.*, task_type TOKEN_CLS.
        QTemporaryDir tmp;
        const std::string dir = tmp.path().toStdString() + "/adapter";
        export_token_cls(dir, trainer, DeltaOptions{}, train.label_names, train.scheme, "builtin");
        const json pc = read_json_file(dir + "/adapter_config.json");
        QCOMPARE(pc["task_type"].get<std::string>(), std::string("TOKEN_CLS"));
        QCOMPARE(pc["peft_type"].get<std::string>(), std::string("PREFIX_TUNING"));
        QCOMPARE(pc["num_virtual_tokens"].get<int64_t>(), (int64_t)8);
        PeftAdapter peft = PeftAdapter::load(dir);
        std::vector<std::string> keys;
        for (auto& [k, t] : peft.tensors) keys.push_back(k);
        QCOMPARE(keys, (std::vector<std::string>{"base_model.classifier.bias", "base_model.classifier.weight", "prompt_embeddings"}));
        QCOMPARE(peft.tensors.at("prompt_embeddings").sizes().vec(), (std::vector<int64_t>{8, 2 * 4 * 64}));
        QVERIFY(at::equal(peft.tensors.at("base_model.classifier.weight"), trainer.head_parameters()[0].second.detach().cpu()));
        const auto want = trainer.predict(tvalid);
        auto predict_with = [&](TokenClsAdapter& a) {
            TokenClsTrainer t2(*model, a.prompt.get(), nullptr, (int64_t)a.label_names.size(), o, tok->pad_id());
            for (auto& [n, v] : a.head) t2.set_head_tensor(n, v);
            return t2.predict(tvalid);
        };
        TokenClsAdapter ours = load_token_cls_adapter(dir, model->config());
        QCOMPARE(ours.label_names, train.label_names);
        QCOMPARE(ours.scheme, TagScheme::IOB2);
        QVERIFY(predict_with(ours) == want);
        QFile::remove(QString::fromStdString(dir + "/ptune_adapter.json"));
        TokenClsAdapter theirs = load_token_cls_adapter(dir, model->config());
        QCOMPARE(theirs.label_names, train.label_names);   // from ptune_labels.json
        QVERIFY(predict_with(theirs) == want);
        // A sequence-classification loader refuses it, naming the task.
        try {
            load_prompt_adapter(dir, model->config());
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("task_type TOKEN_CLS") != std::string::npos, e.what());
        }
        // CoNLL predictions: word, gold, predicted; -DOCSTART- where documents begin.
        write_conll_predictions(dir + "/pred.conll", valid, want);
        TaggedOptions po2;
        po2.tag_column = 1;
        TaggedDataset gold_back = load_tagged(dir + "/pred.conll", po2);
        TaggedOptions po3;
        po3.tag_column = 2;
        po3.label_names = train.label_names;
        TaggedDataset pred_back = load_tagged(dir + "/pred.conll", po3);
        QCOMPARE(gold_back.tag_strings(), valid.tag_strings());
        QCOMPARE((int)pred_back.sentences.size(), (int)valid.sentences.size());
        for (size_t i = 0; i < want.size(); ++i) QCOMPARE(pred_back.sentences[i].tags, want[i]);
    }
};

QTEST_GUILESS_MAIN(TstTokenCls)
#include "tst_token_cls.moc"
