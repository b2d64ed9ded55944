// Suites: variants x seeds expand to valid specs that carry the suite's name; the ready-made ablations have the
// paper's shape; suite files round-trip and bad ones are refused with the variant or field named; a suite runs
// to completion through `ptune suite` into one database, and its seed groups hold the stored numbers.
#include <torch/torch.h>

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>

#include "core/engine/builtin.h"
#include "experiments/compare.h"
#include "experiments/presets.h"
#include "experiments/suite.h"

using namespace ptune;

class TstSuite : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;

private Q_SLOTS:
    void expandsVariantsTimesSeeds() {
        Suite s;
        s.name = "p";
        s.base.method.prefix.prompt_len = 8;
        s.variants = {json{{"method", {{"prompt_len", 4}}}}, json{{"method", {{"name", "lora"}, {"lora_r", 2}}}}};
        s.seeds = {1, 2, 3};
        auto specs = s.expand();
        QCOMPARE(specs.size(), size_t(6));
        QCOMPARE(specs[0].method.prefix.prompt_len, int64_t(4));
        QCOMPARE(specs[2].train.seed, uint64_t(3));
        QCOMPARE(specs[3].method.name, std::string("lora"));
        QCOMPARE(specs[3].method.delta.lora_r, int64_t(2));
        for (auto& sp : specs) {
            QCOMPARE(sp.suite, std::string("p"));
            QVERIFY(std::find(sp.tags.begin(), sp.tags.end(), "p") != sp.tags.end());
        }
        // File round trip, and errors that name what is wrong.
        const std::string f = tmp.path().toStdString() + "/s.json";
        s.save(f);
        QCOMPARE(Suite::load(f).to_json(), s.to_json());
        json bad = s.to_json();
        bad["variants"][1]["method"]["lora_r"] = 0;
        try {
            Suite::from_json(bad, "s.json").expand();
            QFAIL("lora_r 0 must be refused");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("variant 2") != std::string::npos &&
                         std::string(e.what()).find("lora_r") != std::string::npos,
                     e.what());
        }
        bad = s.to_json();
        bad["variant"] = json::array();
        QVERIFY_THROWS_EXCEPTION(Error, Suite::from_json(bad, "s.json"));
        // Numbers out of their field's range are refused by name, never converted with overflow (fuzz_suite,
        // fuzz_spec): a seed of 1e30, a negative seed, a step count with a fraction.
        auto error_of = [&](const json& j) {
            try {
                Suite::from_json(j, "s.json");
            } catch (const Error& e) {
                return std::string(e.what());
            }
            return std::string();
        };
        bad = s.to_json();
        bad["seeds"] = json::array({1, 1e30});
        QCOMPARE(error_of(bad), std::string("s.json: field \"seeds\" must be a whole number from 0 to 18446744073709551615 (it is 1e+30)"));
        bad["seeds"] = json::array({-1});
        QCOMPARE(error_of(bad), std::string("s.json: field \"seeds\" is out of range (-1; from 0 to 18446744073709551615)"));
        bad = s.to_json();
        bad["base"]["train"]["steps"] = 12.5;
        QVERIFY2(error_of(bad).find("train.steps: must be a whole number") != std::string::npos, error_of(bad).c_str());
        bad["base"]["train"]["steps"] = 12.0;   // whole: read as 12
        QCOMPARE(Suite::from_json(bad, "s.json").base.train.steps, int64_t(12));
    }

    void ablationsHaveThePapersShape() {
        ExperimentSpec base;
        base.train.max_len = 48;
        Suite p = make_ablation("prompt-len", base, 4, 160, {});
        QCOMPARE(p.expand().size(), size_t(5));   // 4 .. 64; 48 + 128 exceeds 160 positions
        Suite d = make_ablation("depth", base, 4, 160, {1, 2});
        auto ds = d.expand();
        QCOMPARE(ds.size(), size_t(2 * 7));        // first:1..4 and last:1..3, two seeds
        QCOMPARE(ds[0].method.prefix.layers.text, std::string("first:1"));
        QCOMPARE(ds[2].method.prefix.layers.text, std::string("last:1"));
        Suite m = make_ablation("methods", base, 4, 160, {});
        auto ms = m.expand();
        QCOMPARE(ms.size(), size_t(9));
        QVERIFY(ms[1].method.prefix.mlp);
        QCOMPARE(ms[1].train.lr, base.train.lr / 20);
        QCOMPARE(ms[4].method.name, std::string("lora"));
        QCOMPARE(ms[4].train.lr, base.train.lr / 4);
        QCOMPARE(ms[6].method.name, std::string("adapter"));
        QCOMPARE(ms[7].method.name, std::string("full"));
        QCOMPARE(ms[8].method.name, std::string("head"));
        for (const ExperimentSpec& x : ms) QVERIFY(x.latency.measure);   // each method's inference cost is measured
        for (const ExperimentSpec& x : ds) QVERIFY(!x.latency.measure);
        QVERIFY_THROWS_EXCEPTION(Error, make_ablation("width", base, 4, 160, {}));
    }

    // The authors' search grid: 3 learning rates x 6 prompt lengths x 6 epoch counts, the prompt lengths that do
    // not fit the positions left out; P-Tuning v2 in every layer.
    void gridIsTheAuthorsSearch() {
        ExperimentSpec base;
        base.train.max_len = 48;
        base.method.prefix.layers = LayerSpec{"first:2"};
        const auto all = make_ablation("grid", base, 4, 0, {}).expand();
        QCOMPARE(all.size(), size_t(3 * 6 * 6));
        QCOMPARE(all[0].train.lr, 5e-3);
        QCOMPARE(all[0].method.prefix.prompt_len, int64_t(4));
        QCOMPARE(all[0].train.epochs, int64_t(20));
        QCOMPARE(all[5].train.epochs, int64_t(120));
        QCOMPARE(all[6].method.prefix.prompt_len, int64_t(8));
        QCOMPARE(all.back().train.lr, 1e-2);
        QCOMPARE(all.back().method.prefix.prompt_len, int64_t(128));
        for (const auto& x : all) {
            QCOMPARE(x.method.prefix.layers.text, std::string("all"));
            QCOMPARE(x.method.name, std::string("ptv2"));
            QCOMPARE(x.suite, std::string("grid"));
        }
        // 160 positions: 48 + 128 does not fit, so P = 128 is left out.
        QCOMPARE(make_ablation("grid", base, 4, 160, {7}).expand().size(), size_t(3 * 5 * 6));
        base.train.max_len = 160;
        QVERIFY_THROWS_EXCEPTION(Error, make_ablation("grid", base, 4, 160, {}));
    }

    // A preset fills the task, method and training settings from the authors' script and records itself; the
    // model, data and device stay; unknown ids are named with the ones there are.
    void presetsFillTheSpec() {
        ExperimentSpec base;
        base.model = "/models/roberta-large";
        base.data.train = "/data/eng.train";
        base.train.device = "cuda";
        const ExperimentSpec s = apply_preset(base, find_preset("conll03-roberta"));
        QCOMPARE(s.task, std::string("token-cls"));
        QCOMPARE(s.preset, std::string("conll03-roberta"));
        QCOMPARE(s.method.name, std::string("ptv2"));
        QCOMPARE(s.method.prefix.prompt_len, int64_t(11));
        QCOMPARE(s.train.lr, 3e-2);
        QCOMPARE(s.train.batch_size, int64_t(16));
        QCOMPARE(s.train.epochs, int64_t(30));
        QCOMPARE(s.train.max_len, int64_t(152));
        QCOMPARE(s.train.hidden_dropout, 0.1);
        QCOMPARE(s.train.seed, uint64_t(11));
        QCOMPARE(s.train.metric, std::string("entity_f1"));
        QCOMPARE(s.model, base.model);
        QCOMPARE(s.data.train, base.data.train);
        QCOMPARE(s.train.device, std::string("cuda"));
        QCOMPARE(s.tags, std::vector<std::string>{"preset:conll03-roberta"});
        QVERIFY(s.notes.find("run_script/run_conll03_roberta.sh") != std::string::npos);
        s.validate();
        // Applying it again adds nothing twice; the spec keeps the preset and the dropout through JSON.
        const ExperimentSpec again = apply_preset(s, find_preset("conll03-roberta"));
        QCOMPARE(again.tags.size(), size_t(1));
        QCOMPARE(again.notes, s.notes);
        const ExperimentSpec back = ExperimentSpec::from_json(s.to_json(), "spec");
        QCOMPARE(back.preset, s.preset);
        QCOMPARE(back.train.hidden_dropout, 0.1);
        QVERIFY(!ExperimentSpec().to_json()["train"].contains("hidden_dropout"));   // unset: written as before
        // Pairs read their SuperGLUE fields; every preset gives a valid spec on a file.
        const ExperimentSpec b = apply_preset(base, find_preset("boolq-roberta"));
        QCOMPARE(b.data.text_column, std::string("question"));
        QCOMPARE(b.data.text_pair_column, std::string("passage"));
        for (const Preset& p : presets()) apply_preset(base, p).validate();
        try {
            find_preset("conll03");
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).rfind("preset \"conll03\": there is none by that name (presets: conll03-roberta, ", 0) == 0);
        }
        ExperimentSpec bad = s;
        bad.train.hidden_dropout = 1.0;
        try {
            bad.validate();
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("hidden_dropout") != std::string::npos, e.what());
        }
    }

    // `ptune suite FILE` runs every run into one database; the seed groups' means are the stored metrics'.
    void suiteRunsThroughTheCli() {
        Suite s;
        s.name = "tiny";
        s.base = ExperimentSpec::load(builtin_dir() + "/experiment.json");
        s.base.name.clear();
        s.base.train.epochs = 0;
        s.base.train.steps = 6;
        s.base.train.threads = 2;
        s.variants = {json{{"method", {{"prompt_len", 4}}}}, json{{"method", {{"name", "lora"}}}, {"train", {{"lr", 5e-3}}}}};
        s.seeds = {1, 2};
        const QString file = tmp.path() + "/tiny.json", db = tmp.path() + "/suite.sqlite";
        s.save(file.toStdString());
        QProcess p;
        p.start(QString(PTUNE_BIN_DIR) + "/ptune", {"suite", file, "--db", db});
        QVERIFY(p.waitForFinished(300000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const QList<QByteArray> lines = p.readAllStandardOutput().trimmed().split('\n');
        QCOMPARE(lines.size(), 4);
        Store store(db.toStdString());
        auto runs = store.runs();
        QCOMPARE(runs.size(), size_t(4));
        for (auto& r : runs) {
            QCOMPARE(r.status, std::string("completed"));
            QCOMPARE(r.suite, std::string("tiny"));
        }
        auto groups = group_by_seed(runs);
        QCOMPARE(groups.size(), size_t(2));
        for (auto& g : groups) {
            QCOMPARE(g.run_ids.size(), size_t(2));
            std::vector<double> acc;
            for (int64_t id : g.run_ids) acc.push_back(json::parse(store.run(id)->best_metrics_json).at("accuracy").get<double>());
            const double mean = (acc[0] + acc[1]) / 2;
            QCOMPARE(g.best.at("accuracy").mean, mean);
            QCOMPARE(g.best.at("accuracy").n, 2);
        }
    }
};

QTEST_APPLESS_MAIN(TstSuite)
#include "tst_suite.moc"
