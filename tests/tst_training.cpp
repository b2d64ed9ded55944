// The 15-step training trajectory of transformers + PEFT (tests/fixtures/*/expected.json, adapters.prefix_p5
// .train): start from adapter_prefix_p5, AdamW(lr 5e-3, betas 0.9/0.999, eps 1e-8, wd 0), batch 4, max length
// 48, rows 0..59 of data.tsv in file order, constant learning rate, head trained, no clipping. Also the
// trainer's schedule, metrics, determinism, cancellation and early stopping.
#include <torch/torch.h>

#include <QtTest>

#include "core/engine/peft_io.h"
#include "core/engine/trainer.h"
#include "core/io/json_util.h"

using namespace ptune;

static std::string fixture(const std::string& p) { return std::string(PTUNE_FIXTURES) + "/" + p; }

struct Recorder : TrainEvents {
    std::vector<StepEvent> steps;
    std::vector<EvalEvent> evals;
    std::vector<PromptNormEvent> norms;
    CancelFlag* cancel_at_step_flag = nullptr;
    int64_t cancel_at = -1;
    void on_step(const StepEvent& e) override {
        steps.push_back(e);
        if (cancel_at_step_flag && e.step == cancel_at) cancel_at_step_flag->cancel();
    }
    void on_eval(const EvalEvent& e) override { evals.push_back(e); }
    void on_prompt_norms(const PromptNormEvent& e) override { norms.push_back(e); }
};

struct Setup {
    std::unique_ptr<EncoderClassifier> model;
    PromptAdapter adapter;
    std::unique_ptr<Tokenizer> tok;
    Dataset data;
};

static Setup setup(const std::string& arch, int64_t rows) {
    Setup s;
    s.model = EncoderClassifier::load(fixture(arch + "/model"));
    s.adapter = load_prompt_adapter(fixture(arch + "/adapter_prefix_p5"), s.model->config());
    apply_head(*s.model, s.adapter.head);
    s.tok = Tokenizer::from_dir(fixture(arch + "/model"));
    DataOptions o;
    o.label_names = {"other", "returns"};
    o.max_rows = rows;
    s.data = load_dataset(fixture("data.tsv"), o);
    return s;
}

class TstTraining : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { set_threads(2); }

    void referenceTrajectory_data() {
        QTest::addColumn<QString>("arch");
        QTest::newRow("bert") << "bert";
        QTest::newRow("roberta") << "roberta";
    }
    void referenceTrajectory() {
        QFETCH(QString, arch);
        const std::string a = arch.toStdString();
        json exp = read_json_file(fixture(a + "/expected.json"))["adapters"]["prefix_p5"]["train"];
        auto losses = exp["losses"].get<std::vector<double>>();
        QCOMPARE(losses.size(), size_t(15));
        Setup s = setup(a, 60);
        QCOMPARE(s.data.rows.size(), size_t(60));
        TrainOptions o;
        o.lr = 5e-3;
        o.weight_decay = 0;
        o.batch_size = 4;
        o.max_len = 48;
        o.steps = 15;
        o.shuffle = false;
        o.schedule = "constant";
        o.max_grad_norm = 0;
        o.keep_best = false;
        Recorder rec;
        PromptTrainer tr(*s.model, s.adapter.prompt.get(), o, s.tok->pad_id(), &rec);
        TokenizedData td = tokenize(s.data, *s.tok, o.max_len);
        TrainResult r = tr.train(td, nullptr);
        QCOMPARE(r.steps_done, int64_t(15));
        QCOMPARE(rec.steps.size(), size_t(15));
        double worst = 0;
        for (size_t i = 0; i < 15; ++i) worst = std::max(worst, std::abs(rec.steps[i].loss - losses[i]) / std::abs(losses[i]));
        qInfo("%s: worst relative loss difference over 15 steps = %.3g (first %.6f, last %.6f)", a.c_str(), worst,
              rec.steps[0].loss, rec.steps[14].loss);
        QVERIFY2(worst < 1e-3, qPrintable(QString::number(worst)));
        // The trajectory moves: a wrong update rule would not reproduce it.
        QVERIFY(std::abs(losses[14] - losses[0]) > 1e-2);
        QCOMPARE(rec.norms.size(), size_t(15));
        QCOMPARE(rec.norms[0].key_norms.size(), size_t(s.model->config().num_layers));
    }

    // The backbone is frozen: training changes only the prompts and the head.
    void backboneFrozen() {
        Setup s = setup("bert", 16);
        std::vector<at::Tensor> before;
        for (auto& [n, t] : s.model->backbone_parameters()) {
            QVERIFY2(!t.requires_grad(), n.c_str());
            before.push_back(t.clone());
        }
        at::Tensor p0 = s.adapter.prompt->flat().detach().clone();
        TrainOptions o;
        o.batch_size = 4;
        o.steps = 3;
        o.max_len = 32;
        PromptTrainer tr(*s.model, s.adapter.prompt.get(), o, s.tok->pad_id());
        tr.train(tokenize(s.data, *s.tok, 32), nullptr);
        size_t i = 0;
        for (auto& [n, t] : s.model->backbone_parameters()) {
            QVERIFY2(!t.grad().defined(), n.c_str());
            QVERIFY2(at::equal(t, before[i++]), n.c_str());
        }
        QVERIFY(!at::equal(s.adapter.prompt->flat(), p0));
    }

    void schedules() {
        QCOMPARE(schedule_factor("constant", 0, 0, 10), 1.0);
        QCOMPARE(schedule_factor("constant", 1, 4, 10), 0.25);
        QCOMPARE(schedule_factor("linear", 0, 0, 10), 1.0);
        QCOMPARE(schedule_factor("linear", 5, 0, 10), 0.5);
        QCOMPARE(schedule_factor("linear", 2, 4, 10), 0.5);
        QCOMPARE(schedule_factor("linear", 4, 4, 10), 1.0);
        QCOMPARE(schedule_factor("linear", 7, 4, 10), 0.5);
        QCOMPARE(schedule_factor("linear", 10, 4, 10), 0.0);
    }

    void metrics() {
        // gold 0 0 1 1 1, pred 0 1 1 1 0: accuracy 3/5; F1(0) = 0.5, F1(1) = 2/3; MCC = 1/6 (sklearn).
        auto m = classification_metrics({0, 1, 1, 1, 0}, {0, 0, 1, 1, 1}, 2);
        QCOMPARE(m["accuracy"], 0.6);
        QVERIFY(std::abs(m["f1"] - (0.5 + 2.0 / 3.0) / 2) < 1e-12);
        QVERIFY(std::abs(m["mcc"] - 1.0 / 6.0) < 1e-12);
        // binary: the positive label's (label 1's) F1 beside macro-F1
        QVERIFY(m.count("f1_pos"));
        QVERIFY(std::abs(m["f1_pos"] - 2.0 / 3.0) < 1e-12);
        // a spam set: 1 of 2 spam found, no false alarm among 8 ham: macro-F1 high, spam F1 lower
        auto spam = classification_metrics({0, 0, 0, 0, 0, 0, 0, 0, 1, 0}, {0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, 2);
        QVERIFY(std::abs(spam["f1_pos"] - 2.0 / 3.0) < 1e-12);
        QVERIFY(std::abs(spam["f1"] - (16.0 / 17.0 + 2.0 / 3.0) / 2) < 1e-12);
        // three classes, all right; no positive label
        auto p = classification_metrics({0, 1, 2, 2}, {0, 1, 2, 2}, 3);
        QCOMPARE(p["mcc"], 1.0);
        QCOMPARE(p["f1"], 1.0);
        QVERIFY(!p.count("f1_pos"));
        // constant prediction: MCC 0 by convention
        QCOMPARE(classification_metrics({1, 1, 1}, {0, 1, 1}, 2)["mcc"], 0.0);
    }

    // Same seed, same run (shuffling and dropout); another seed, another run.
    void deterministic() {
        auto run = [](uint64_t seed) {
            Setup s = setup("roberta", 40);
            PrefixOptions po;
            po.prompt_len = 3;
            po.dropout = 0.1;
            DeepPrompt p(s.model->config(), po, seed);
            TrainOptions o;
            o.batch_size = 8;
            o.epochs = 2;
            o.seed = seed;
            o.max_len = 32;
            Recorder rec;
            PromptTrainer tr(*s.model, &p, o, s.tok->pad_id(), &rec);
            tr.train(tokenize(s.data, *s.tok, 32), nullptr);
            std::vector<double> l;
            for (auto& e : rec.steps) l.push_back(e.loss);
            return l;
        };
        auto a = run(5), b = run(5), c = run(6);
        QCOMPARE(a.size(), size_t(10));
        QCOMPARE(a, b);
        QVERIFY(a != c);
    }

    void cancelWithinOneStep() {
        Setup s = setup("bert", 60);
        TrainOptions o;
        o.batch_size = 4;
        o.steps = 15;
        o.max_len = 32;
        CancelFlag flag;
        Recorder rec;
        rec.cancel_at_step_flag = &flag;
        rec.cancel_at = 4;
        PromptTrainer tr(*s.model, s.adapter.prompt.get(), o, s.tok->pad_id(), &rec, &flag);
        TrainResult r = tr.train(tokenize(s.data, *s.tok, 32), nullptr);
        QCOMPARE(r.status, std::string("cancelled"));
        QCOMPARE(r.steps_done, int64_t(4));
        QCOMPARE(rec.steps.size(), size_t(4));
    }

    void evaluationAndEarlyStopping() {
        Setup s = setup("bert", 200);
        auto [train, valid] = split_dataset(s.data, 0.25, 1);
        TrainOptions o;
        o.batch_size = 10;
        o.epochs = 50;
        o.eval_every = 3;
        o.lr = 1e-6;  // barely moves: no improvement, so early stopping must trigger
        o.metric = "accuracy";
        o.early_stopping_patience = 2;
        o.max_len = 32;
        Recorder rec;
        PromptTrainer tr(*s.model, s.adapter.prompt.get(), o, s.tok->pad_id(), &rec);
        TokenizedData vt = tokenize(valid, *s.tok, 32);
        TrainResult r = tr.train(tokenize(train, *s.tok, 32), &vt);
        QCOMPARE(r.status, std::string("early_stopped"));
        QVERIFY(rec.evals.size() >= 3);
        QCOMPARE(rec.evals[0].step, int64_t(3));
        QVERIFY(rec.evals[0].is_best);
        QCOMPARE(r.best_step, int64_t(3));
        // evaluation metrics equal an independent computation from predict()
        auto m = tr.evaluate(vt);
        at::Tensor logits = tr.predict(vt.ids, vt.type_ids);
        int64_t correct = 0;
        for (size_t i = 0; i < vt.size(); ++i) correct += logits[i].argmax().item<int64_t>() == vt.labels[i];
        QCOMPARE(m["accuracy"], double(correct) / double(vt.size()));
    }

    void nanLossFails() {
        Setup s = setup("bert", 8);
        TrainOptions o;
        o.batch_size = 4;
        o.steps = 2;
        o.max_len = 16;
        {
            at::NoGradGuard g;
            s.model->head_parameters()[0].second.fill_(std::nan(""));
        }
        PromptTrainer tr(*s.model, s.adapter.prompt.get(), o, s.tok->pad_id());
        TrainResult r = tr.train(tokenize(s.data, *s.tok, 16), nullptr);
        QCOMPARE(r.status, std::string("failed"));
        QVERIFY2(r.error.find("NaN") != std::string::npos, r.error.c_str());
        QCOMPARE(r.steps_done, int64_t(0));
        QVERIFY(!r.usable);  // nothing evaluated before it diverged
    }

    // Reading losses, gradient norms and prompt norms back every few steps (a GPU's default: no host wait per
    // step) reports exactly the run that reading back every step reports: same steps, numbers, norms, evaluations.
    void deferredReadBackIsTheSameRun() {
        auto run = [](int64_t sync_every, Recorder& rec) {
            Setup s = setup("bert", 60);
            auto [train, valid] = split_dataset(s.data, 0.25, 1);
            TrainOptions o;
            o.batch_size = 4;
            o.steps = 15;
            o.max_len = 32;
            o.eval_every = 5;
            o.norms_every = 2;
            o.max_grad_norm = 0.05;  // clipping on: it must act on the device as before
            o.sync_every = sync_every;
            PromptTrainer tr(*s.model, s.adapter.prompt.get(), o, s.tok->pad_id(), &rec);
            TokenizedData vt = tokenize(valid, *s.tok, 32);
            return tr.train(tokenize(train, *s.tok, 32), &vt);
        };
        Recorder a, b;
        TrainResult ra = run(1, a), rb = run(4, b);
        QCOMPARE(ra.status, std::string("completed"));
        QCOMPARE(rb.status, ra.status);
        QCOMPARE(rb.steps_done, int64_t(15));
        QCOMPARE(b.steps.size(), size_t(15));
        QCOMPARE(a.steps.size(), b.steps.size());
        bool clipped = false;
        for (size_t i = 0; i < a.steps.size(); ++i) {
            QCOMPARE(b.steps[i].step, int64_t(i + 1));
            QCOMPARE(b.steps[i].loss, a.steps[i].loss);
            QCOMPARE(b.steps[i].grad_norm, a.steps[i].grad_norm);
            QCOMPARE(b.steps[i].lr, a.steps[i].lr);
            QCOMPARE(b.steps[i].epoch, a.steps[i].epoch);
            clipped = clipped || a.steps[i].grad_norm > 0.05;
        }
        QVERIFY(clipped);
        QCOMPARE(b.norms.size(), size_t(8));  // steps 2, 4, ..., 14 and the last
        QCOMPARE(a.norms.size(), b.norms.size());
        for (size_t i = 0; i < a.norms.size(); ++i) {
            QCOMPARE(b.norms[i].step, a.norms[i].step);
            QCOMPARE(b.norms[i].key_norms, a.norms[i].key_norms);
            QCOMPARE(b.norms[i].value_norms, a.norms[i].value_norms);
        }
        QCOMPARE(b.evals.size(), size_t(4));  // steps 5, 10, 12 (the end of the first epoch) and 15
        for (size_t i = 0; i < a.evals.size(); ++i) QCOMPARE(b.evals[i].metrics, a.evals[i].metrics);
        QCOMPARE(rb.last_loss, ra.last_loss);
    }

    // With deferred read-back a non-finite loss still fails the run, naming the first bad step, and no step after
    // it is reported.
    void nanLossFailsWithDeferredReadBack() {
        Setup s = setup("bert", 40);
        TrainOptions o;
        o.batch_size = 4;
        o.steps = 6;
        o.max_len = 16;
        o.sync_every = 4;
        o.lr = 1e-3;
        Recorder rec;
        // The loss is NaN from step 1; the first read-back comes after step 4, so steps 1-4 ran before anyone looked.
        PromptTrainer tr(*s.model, s.adapter.prompt.get(), o, s.tok->pad_id(), &rec);
        {
            at::NoGradGuard g;
            s.model->head_parameters()[0].second.fill_(std::nan(""));
        }
        TrainResult r = tr.train(tokenize(s.data, *s.tok, 16), nullptr);
        QCOMPARE(r.status, std::string("failed"));
        QVERIFY2(r.error.find("NaN at step 1 ") != std::string::npos, r.error.c_str());
        QCOMPARE(r.steps_done, int64_t(0));
        QCOMPARE(rec.steps.size(), size_t(0));
        QVERIFY(!r.usable);
    }

    // The shared loop with hooks: a metric that stays flat (exact match 0) breaks ties on the validation loss, so the
    // state kept is the last (lowest-loss) evaluation's, not the first's.
    void exactMatchTiesGoToTheLowerLoss() {
        at::Tensor w = at::zeros({1}).set_requires_grad(true);
        LoopHooks h;
        h.params = {w};
        h.rows = 4;
        h.batch_loss = [&](const std::vector<size_t>&, size_t, size_t) { return (w - 1).pow(2).sum(); };
        std::vector<double> seen;
        h.evaluate = [&](int64_t step) {
            seen.push_back(w.item<double>());
            return std::map<std::string, double>{{"exact_match", 0.0}, {"loss", 1.0 / double(step)}};
        };
        h.snapshot = [&] { return std::vector<std::pair<std::string, at::Tensor>>{{"w", w.detach().clone()}}; };
        at::Tensor restored;
        h.restore = [&](const std::vector<std::pair<std::string, at::Tensor>>& st) { restored = st[0].second; };
        TrainOptions o;
        o.batch_size = 2;
        o.steps = 6;
        o.epochs = 0;
        o.eval_every = 2;
        o.metric = "exact_match";
        o.schedule = "constant";
        o.lr = 0.1;
        std::vector<std::pair<std::string, at::Tensor>> best;
        TrainResult r = run_training_loop(h, o, at::kCPU, nullptr, nullptr, best);
        QCOMPARE(seen.size(), size_t(3));   // steps 2, 4, 6
        QCOMPARE(r.best_step, int64_t(6));
        QVERIFY(restored.defined());
        QCOMPARE(restored.item<double>(), seen.back());
    }
};

QTEST_APPLESS_MAIN(TstTraining)
#include "tst_training.moc"
