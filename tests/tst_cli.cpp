// The `ptune` command line contract, driven as scripts use it (QProcess on build/bin/ptune): JSON lines on
// stdout, exit codes, errors naming the file; tokenize and predict equal transformers+PEFT, train reproduces
// the reference trajectory through --log-jsonl, export -> predict round trip, bench and runs.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/io/json_util.h"

using namespace ptune;
namespace fs = std::filesystem;

static std::string fixture(const std::string& p) { return std::string(PTUNE_FIXTURES) + "/" + p; }

struct Result {
    int code = -1;
    std::string out, err;
    std::vector<json> lines() const {
        std::vector<json> v;
        std::stringstream ss(out);
        std::string l;
        while (std::getline(ss, l))
            if (!l.empty()) v.push_back(json::parse(l));
        return v;
    }
};

static Result run_cli(const QStringList& args, int timeout_ms = 300000, const std::string& stdin_text = "") {
    QProcess p;
    p.setProgram(QString(PTUNE_BIN_DIR) + "/ptune");
    p.setArguments(args);
    p.start();
    if (p.waitForStarted()) {
        p.write(stdin_text.data(), (qint64)stdin_text.size());
        p.closeWriteChannel();
    }
    p.waitForFinished(timeout_ms);
    Result r;
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
    r.out = p.readAllStandardOutput().toStdString();
    r.err = p.readAllStandardError().toStdString();
    return r;
}

static QString q(const std::string& s) { return QString::fromStdString(s); }

class TstCli : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;
    std::string dir() const { return tmp.path().toStdString(); }

private Q_SLOTS:
    void tokenizeEqualsTokenizers_data() {
        QTest::addColumn<QString>("arch");
        QTest::newRow("bert") << "bert";
        QTest::newRow("roberta") << "roberta";
    }
    void tokenizeEqualsTokenizers() {
        QFETCH(QString, arch);
        json exp = read_json_file(fixture(arch.toStdString() + "/expected.json"));
        QStringList args{"tokenize", "--model", q(fixture(arch.toStdString() + "/model")), "--max-len", "128"};
        for (auto& t : exp["texts"]) args << "--text" << q(t.get<std::string>());
        Result r = run_cli(args);
        QCOMPARE(r.code, 0);
        auto lines = r.lines();
        QCOMPARE(lines.size(), exp["texts"].size());
        for (size_t i = 0; i < lines.size(); ++i) {
            QCOMPARE(lines[i]["text"], exp["texts"][i]);
            QCOMPARE(lines[i]["input_ids"], exp["input_ids"][i]);
        }
    }

    void predictEqualsPeft() {
        json exp = read_json_file(fixture("roberta/expected.json"));
        QStringList args{"predict", "--model", q(fixture("roberta/model")), "--adapter", q(fixture("roberta/adapter_prefix_p5")),
                         "--max-len", "96", "--batch-size", "3"};
        for (auto& t : exp["texts"]) args << "--text" << q(t.get<std::string>());
        Result r = run_cli(args);
        QVERIFY2(r.code == 0, r.err.c_str());
        auto lines = r.lines();
        QCOMPARE(lines.size(), size_t(10));
        for (size_t i = 0; i < lines.size(); ++i) {
            QCOMPARE(lines[i]["input_ids"], exp["input_ids_96"][i]);
            auto got = lines[i]["logits"].get<std::vector<double>>();
            auto want = exp["adapters"]["prefix_p5"]["logits"][i].get<std::vector<double>>();
            QCOMPARE(got.size(), want.size());
            for (size_t k = 0; k < got.size(); ++k) QVERIFY(std::abs(got[k] - want[k]) < 1e-4);
            QVERIFY(lines[i]["label"].is_number() || lines[i]["label"].is_string());
        }
    }

    // Causal LMs: generate with a PEFT prefix continues as transformers+PEFT's greedy generate does, token for
    // token; predict prints the last position's logits over the vocabulary, batched with left padding.
    void causalLmGenerateAndPredict_data() {
        QTest::addColumn<QString>("arch");
        QTest::newRow("gpt2") << "gpt2";
        QTest::newRow("llama") << "llama";
    }
    void causalLmGenerateAndPredict() {
        QFETCH(QString, arch);
        const std::string a = arch.toStdString();
        json exp = read_json_file(fixture(a + "/expected.json"));
        const json& greedy = exp["greedy10_prefix_p4"];
        Result g = run_cli({"generate", "--model", q(fixture(a + "/model")), "--adapter", q(fixture(a + "/adapter_prefix_p4")),
                            "--text", q(greedy["prompt"].get<std::string>()), "--max-new-tokens", "10"});
        QVERIFY2(g.code == 0, g.err.c_str());
        auto gl = g.lines();
        QCOMPARE(gl.size(), size_t(1));
        QCOMPARE(gl[0]["text"], greedy["prompt"]);
        QCOMPARE(gl[0]["output_ids"], greedy["ids"]);
        auto in = gl[0]["input_ids"].get<std::vector<int64_t>>();
        auto out = gl[0]["output_ids"].get<std::vector<int64_t>>();
        QVERIFY(std::equal(in.begin(), in.end(), out.begin()) && out.size() == in.size() + 10);
        QCOMPARE(gl[0]["stop_reason"], json("max_new_tokens"));
        QVERIFY2(g.err.find("[10 new tokens") != std::string::npos, g.err.c_str());   // streamed, then the summary
        QVERIFY(g.err.find(gl[0]["generated_text"].get<std::string>()) != std::string::npos);

        QStringList args{"predict", "--model", q(fixture(a + "/model")), "--adapter", q(fixture(a + "/adapter_prefix_p4")),
                         "--batch-size", "3"};
        for (int i = 0; i < 8; ++i) args << "--text" << q(exp["texts"][i].get<std::string>());
        Result p = run_cli(args);
        QVERIFY2(p.code == 0, p.err.c_str());
        auto pl = p.lines();
        QCOMPARE(pl.size(), size_t(8));
        for (size_t i = 0; i < pl.size(); ++i) {
            QCOMPARE(pl[i]["input_ids"], exp["input_ids"][i]);
            auto got = pl[i]["logits"].get<std::vector<double>>();
            QCOMPARE(got.size(), size_t(2000));   // the vocabulary
            auto want = exp["last_logits16_prefix_p4"][i].get<std::vector<double>>();
            for (size_t k = 0; k < want.size(); ++k) QVERIFY2(std::abs(got[k] - want[k]) < 1e-4, std::to_string(i).c_str());
        }
    }

    void generateOptionsAndErrors() {
        const QString llama = q(fixture("llama/model"));
        // Seeded sampling repeats itself; --stop-token-id stops there.
        QStringList sample{"generate", "--model", llama, "--text", "The quick brown fox", "--temperature", "1.3",
                           "--top-k", "0", "--seed", "5", "--max-new-tokens", "8", "--ignore-eos", "--no-stream"};
        Result s1 = run_cli(sample), s2 = run_cli(sample);
        QVERIFY2(s1.code == 0, s1.err.c_str());
        QCOMPARE(s1.out, s2.out);
        QVERIFY(s1.err.empty());   // --no-stream: nothing on stderr
        auto ids = s1.lines()[0]["output_ids"].get<std::vector<int64_t>>();
        const int64_t third = ids[ids.size() - 6];
        Result st = run_cli(sample + QStringList{"--stop-token-id", QString::number(third)});
        QCOMPARE(st.lines()[0]["stop_reason"], json("stop_token"));
        QCOMPARE(st.lines()[0]["output_ids"].back().get<int64_t>(), third);
        // Bad input: clear messages, exit code 1.
        auto fails = [&](const QStringList& args, const std::vector<std::string>& parts) {
            Result r = run_cli(args);
            QCOMPARE(r.code, 1);
            for (const auto& part : parts) QVERIFY2(r.err.find(part) != std::string::npos, r.err.c_str());
        };
        fails({"generate", "--model", q(fixture("bert/model")), "--text", "x"}, {"not a causal LM", "gpt2, llama"});
        fails({"generate", "--model", llama, "--adapter", q(fixture("gpt2/adapter_prefix_p4")), "--text", "x"},
              {"adapter_config.json", "made for a model with 3 layers, hidden size 48, 3 heads"});
        fails({"generate", "--model", llama, "--text", "x", "--temperature", "0"}, {"temperature must be > 0"});
        fails({"generate", "--model", llama, "--text", "x", "--dtype", "int8"}, {"--dtype", "int8"});
        fails({"generate", "--model", q(dir() + "/nowhere"), "--text", "x"}, {"nowhere", "no such directory"});
    }

    // predict with the other PEFT methods' adapters (LoRA, IA3, prompt tuning, P-tuning) equals PEFT too.
    void predictOtherPeftMethods_data() {
        QTest::addColumn<QString>("adapter");
        for (const char* a : {"lora_r4", "ia3", "prompt_p6", "ptuning_mlp_p4"}) QTest::newRow(a) << QString(a);
    }
    void predictOtherPeftMethods() {
        QFETCH(QString, adapter);
        json exp = read_json_file(fixture("bert/expected.json"));
        QStringList args{"predict", "--model", q(fixture("bert/model")), "--adapter", q(fixture("bert/adapter_" + adapter.toStdString())),
                         "--max-len", "96", "--batch-size", "3"};
        for (auto& t : exp["texts"]) args << "--text" << q(t.get<std::string>());
        Result r = run_cli(args);
        QVERIFY2(r.code == 0, r.err.c_str());
        auto lines = r.lines();
        QCOMPARE(lines.size(), size_t(10));
        for (size_t i = 0; i < lines.size(); ++i) {
            auto got = lines[i]["logits"].get<std::vector<double>>();
            auto want = exp["adapters"][adapter.toStdString()]["logits"][i].get<std::vector<double>>();
            QCOMPARE(got.size(), want.size());
            for (size_t k = 0; k < got.size(); ++k) QVERIFY2(std::abs(got[k] - want[k]) < 1e-4, qPrintable(QString("text %1").arg(i)));
        }
    }

    // train with the reference's settings reproduces its 15 losses; the adapter it writes predicts as trained.
    void trainReproducesReferenceAndExports() {
        json exp = read_json_file(fixture("bert/expected.json"))["adapters"]["prefix_p5"]["train"];
        // rows 0..59 of data.tsv
        std::ifstream in(fixture("data.tsv"));
        std::ofstream out(dir() + "/rows60.tsv");
        std::string line;
        for (int i = 0; i < 61 && std::getline(in, line); ++i) out << line << "\n";
        out.close();
        const std::string db = dir() + "/runs.sqlite", log = dir() + "/log.jsonl", adapter = dir() + "/trained";
        Result r = run_cli({"train", "--model", q(fixture("bert/model")), "--train", q(dir() + "/rows60.tsv"), "--valid-fraction",
                          "0", "--init-adapter", q(fixture("bert/adapter_prefix_p5")), "--lr", "5e-3", "--weight-decay", "0",
                          "--max-grad-norm", "0", "--batch-size", "4", "--max-len", "48", "--steps", "15", "--no-shuffle",
                          "--schedule", "constant", "--db", q(db), "--out", q(adapter), "--log-jsonl", q(log), "--threads", "2"});
        QVERIFY2(r.code == 0, r.err.c_str());
        json summary = json::parse(r.out);
        QCOMPARE(summary["status"].get<std::string>(), std::string("completed"));
        QCOMPARE(summary["steps"].get<int>(), 15);
        std::ifstream lf(log);
        std::vector<json> steps;
        while (std::getline(lf, line)) steps.push_back(json::parse(line));
        QCOMPARE(steps.size(), size_t(15));
        auto losses = exp["losses"].get<std::vector<double>>();
        for (size_t i = 0; i < 15; ++i) {
            QCOMPARE(steps[i]["step"].get<int>(), int(i + 1));
            double rel = std::abs(steps[i]["loss"].get<double>() - losses[i]) / losses[i];
            QVERIFY2(rel < 1e-3, qPrintable(QString("step %1: %2 vs %3").arg(i + 1).arg(steps[i]["loss"].get<double>()).arg(losses[i])));
        }
        // --out holds a PEFT adapter (full depth) and ptune's own files.
        QVERIFY(fs::exists(adapter + "/adapter_config.json"));
        QVERIFY(fs::exists(adapter + "/ptune_adapter.json"));

        // runs list / show
        Result list = run_cli({"runs", "--db", q(db), "--json"});
        QCOMPARE(list.code, 0);
        auto runs = list.lines();
        QCOMPARE(runs.size(), size_t(1));
        QCOMPARE(runs[0]["status"].get<std::string>(), std::string("completed"));
        // Where it ran, as `ptune --version` names the versions.
        const json env = runs[0]["environment"];
        const std::string version = run_cli({"--version"}).out;
        QVERIFY2(version.find("ptune " + env["ptune"].get<std::string>() + ", LibTorch " + env["libtorch"].get<std::string>()) !=
                     std::string::npos, (version + env.dump()).c_str());
        QCOMPARE(env["device"].get<std::string>(), std::string("cpu"));
        QVERIFY(env["threads"].get<int>() >= 1 && env["hardware_threads"].get<int>() >= env["threads"].get<int>());
        QVERIFY(env["system"].get<std::string>().rfind("Linux ", 0) == 0);
        const int id = runs[0]["id"].get<int>();
        Result show = run_cli({"runs", "show", QString::number(id), "--db", q(db)});
        QCOMPARE(show.code, 0);
        json shown = json::parse(show.out);
        QCOMPARE(shown["spec"]["train"]["batch_size"].get<int>(), 4);
        QVERIFY(!shown["metric_keys"].empty());

        // export as PEFT, predict with it, and compare with predicting from the run's own adapter directory
        const std::string peft = dir() + "/exported";
        Result ex = run_cli({"export", "--db", q(db), "--run", QString::number(id), "--format", "peft", "--out", q(peft)});
        QVERIFY2(ex.code == 0, ex.err.c_str());
        json cfg = read_json_file(peft + "/adapter_config.json");
        QCOMPARE(cfg["peft_type"].get<std::string>(), std::string("PREFIX_TUNING"));
        QStringList texts{"--text", "Return the absolute value of a number.", "--text", "Make a new directory."};
        Result a = run_cli(QStringList{"predict", "--model", q(fixture("bert/model")), "--adapter", q(peft)} + texts);
        Result b = run_cli(QStringList{"predict", "--model", q(fixture("bert/model")), "--adapter", q(adapter)} + texts);
        Result base = run_cli(QStringList{"predict", "--model", q(fixture("bert/model"))} + texts);
        QCOMPARE(a.code, 0);
        QCOMPARE(a.lines()[0]["logits"], b.lines()[0]["logits"]);
        QCOMPARE(a.lines()[1]["logits"], b.lines()[1]["logits"]);
        QVERIFY(a.lines()[0]["logits"] != base.lines()[0]["logits"]);
        QCOMPARE(a.lines()[0]["label"].get<std::string>().empty(), false);
    }

    void partialDepthExportRefused() {
        const std::string db = dir() + "/partial.sqlite";
        Result r = run_cli({"train", "--model", q(fixture("roberta/model")), "--train", q(fixture("data.tsv")), "--layers", "last:1",
                          "--prompt-len", "2", "--steps", "2", "--batch-size", "4", "--max-len", "16", "--db", q(db)});
        QVERIFY2(r.code == 0, r.err.c_str());
        json s = json::parse(r.out);
        QCOMPARE(s["peft"].get<bool>(), false);
        const QString id = QString::number(s["run_id"].get<int>());
        Result ex = run_cli({"export", "--db", q(db), "--run", id, "--format", "peft", "--out", q(dir() + "/p")});
        QCOMPARE(ex.code, 1);
        QVERIFY2(ex.err.find("--format ptune") != std::string::npos, ex.err.c_str());
        QVERIFY(!fs::exists(dir() + "/p/adapter_model.safetensors"));
        Result own = run_cli({"export", "--db", q(db), "--run", id, "--format", "ptune", "--out", q(dir() + "/own")});
        QCOMPARE(own.code, 0);
        QVERIFY(fs::exists(dir() + "/own/ptune_adapter.safetensors"));
    }

    void bench() {
        Result r = run_cli({"bench", "--model", q(fixture("bert/model")), "--method", "base,ptv2", "--prompt-len", "4,8", "--seq-len",
                          "16,32", "--batch-size", "2", "--repeats", "3", "--threads", "1"});
        QVERIFY2(r.code == 0, r.err.c_str());
        auto lines = r.lines();
        QCOMPARE(lines.size(), size_t(2 + 4));  // base: 2 seq lens; ptv2: 2 prompt lens x 2 seq lens
        for (auto& l : lines) {
            for (const char* k : {"method", "batch_size", "seq_len", "prompt_len", "median_ms", "p90_ms"}) QVERIFY2(l.contains(k), k);
            QVERIFY(l["median_ms"].get<double>() > 0);
            QVERIFY(l["p90_ms"].get<double>() >= l["median_ms"].get<double>());
        }
        QCOMPARE(lines[0]["method"].get<std::string>(), std::string("base"));
        QCOMPARE(lines[0]["prompt_len"].get<int>(), 0);
        QCOMPARE(lines[5]["prompt_len"].get<int>(), 8);
        QCOMPARE(lines[5]["seq_len"].get<int>(), 32);
    }

    // A causal LM: two lines per configuration, the time to the first token and per new token (with the batch's
    // tokens/s); generate takes builtin-decoder as predict and train do.
    void benchAndGenerateOnTheBuiltinDecoder() {
        Result r = run_cli({"bench", "--model", "builtin-decoder", "--prompt-len", "8", "--seq-len", "16", "--batch-size",
                            "2", "--repeats", "2", "--new-tokens", "4", "--threads", "1"});
        QVERIFY2(r.code == 0, r.err.c_str());
        auto lines = r.lines();
        QCOMPARE(lines.size(), size_t(4));   // base and ptv2 (P = 8), two phases each
        QCOMPARE(lines[0]["phase"].get<std::string>(), std::string("first_token"));
        QCOMPARE(lines[1]["phase"].get<std::string>(), std::string("per_token"));
        QCOMPARE(lines[3]["method"].get<std::string>(), std::string("ptv2"));
        QCOMPARE(lines[3]["prompt_len"].get<int>(), 8);
        QVERIFY(!lines[0].contains("tokens_per_s"));
        QCOMPARE(lines[1]["tokens_per_s"].get<double>(), 2 * 1000.0 / lines[1]["median_ms"].get<double>());
        Result bad = run_cli({"bench", "--model", "builtin-decoder", "--method", "base,lora", "--repeats", "1"});
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.find("\"lora\" is not available for causal LMs yet: use base, ptv2") != std::string::npos, bad.err.c_str());
        Result g = run_cli({"generate", "--model", "builtin-decoder", "--text", "Review : the cast seemed lovely . Sentiment : ",
                            "--max-new-tokens", "3", "--ignore-eos", "--no-stream"});
        QVERIFY2(g.code == 0, g.err.c_str());
        QCOMPARE(g.lines().size(), size_t(1));
        QCOMPARE(g.lines()[0]["output_ids"].size(), g.lines()[0]["input_ids"].size() + 3);
    }

    // Token classification from the command line: a CoNLL file means task token-cls; the run selects by entity F1;
    // `predict --data` with the saved adapter scores the validation file exactly as the run's best evaluation did,
    // writes CoNLL predictions, and tags raw text.
    void tokenClassification() {
        const std::string db = dir() + "/ner.sqlite", out = dir() + "/ner-adapter";
        Result r = run_cli({"train", "--train", q(fixture("ner/train.conll")), "--valid", q(fixture("ner/valid.conll")),
                            "--prompt-len", "8", "--lr", "3e-2", "--batch-size", "16", "--epochs", "12", "--max-len", "64",
                            "--threads", "1", "--db", q(db), "--out", q(out)});
        QVERIFY2(r.code == 0, r.err.c_str());
        QVERIFY2(r.err.find("holds tagged words: task token-cls") != std::string::npos, r.err.c_str());
        QVERIFY2(r.err.find("entity F1") != std::string::npos, r.err.c_str());
        const json s = json::parse(r.out);
        QCOMPARE(s["status"].get<std::string>(), std::string("completed"));
        QVERIFY(s["peft"].get<bool>());
        const double best = s["best_metrics"]["entity_f1"].get<double>();
        QVERIFY2(best > 0.6, r.out.c_str());   // the all-"O" tagger scores 0
        QVERIFY(s["best_metrics"].contains("f1_ITEM") && s["best_metrics"].contains("tag_accuracy"));
        const json pc = read_json_file(out + "/adapter_config.json");
        QCOMPARE(pc["task_type"].get<std::string>(), std::string("TOKEN_CLS"));

        const std::string pred = dir() + "/pred.conll";
        Result p = run_cli({"predict", "--adapter", q(out), "--data", q(fixture("ner/valid.conll")), "--out", q(pred),
                            "--max-len", "64", "--threads", "1"});
        QVERIFY2(p.code == 0, p.err.c_str());
        const json pm = json::parse(p.out);
        QCOMPARE(pm["sentences"].get<int>(), 120);
        QCOMPARE(pm["entity_f1"].get<double>(), best);
        QCOMPARE(pm["out"].get<std::string>(), pred);
        const std::string text = read_text_file(pred);
        QVERIFY(text.rfind("-DOCSTART- -X- O\n\ni O O\nwill O ", 0) == 0);
        Result t = run_cli({"predict", "--adapter", q(out), "--text", "i regretted the blender .", "--threads", "1"});
        QVERIFY2(t.code == 0, t.err.c_str());
        const json tl = json::parse(t.out);
        QCOMPARE(tl["words"].size(), size_t(5));
        QCOMPARE(tl["tags"].size(), size_t(5));

        // Another method on the task: LoRA writes PEFT's LORA adapter with task_type TOKEN_CLS (the head in
        // modules_to_save), and predict with it scores what the run reported.
        const std::string lout = dir() + "/ner-lora";
        Result lr = run_cli({"train", "--train", q(fixture("ner/train.conll")), "--valid", q(fixture("ner/valid.conll")),
                             "--method", "lora", "--lr", "1e-2", "--batch-size", "16", "--epochs", "2", "--max-len", "64",
                             "--threads", "1", "--db", q(db), "--out", q(lout)});
        QVERIFY2(lr.code == 0, lr.err.c_str());
        const json ls = json::parse(lr.out);
        QVERIFY(ls["peft"].get<bool>());
        const json lc = read_json_file(lout + "/adapter_config.json");
        QCOMPARE(lc["peft_type"].get<std::string>(), std::string("LORA"));
        QCOMPARE(lc["task_type"].get<std::string>(), std::string("TOKEN_CLS"));
        QCOMPARE(lc["modules_to_save"], json::array({"classifier", "score"}));
        QCOMPARE(read_json_file(lout + "/ptune_adapter.json")["method"].get<std::string>(), std::string("lora"));
        Result lp = run_cli({"predict", "--adapter", q(lout), "--data", q(fixture("ner/valid.conll")), "--out",
                             q(dir() + "/pred-lora.conll"), "--max-len", "64", "--threads", "1"});
        QVERIFY2(lp.code == 0, lp.err.c_str());
        QCOMPARE(json::parse(lp.out)["entity_f1"].get<double>(), ls["best_metrics"]["entity_f1"].get<double>());

        // A sequence-classification option is refused.
        Result col = run_cli({"train", "--task", "token-cls", "--train", q(fixture("ner/train.conll")), "--label-column", "1",
                              "--steps", "1", "--db", q(db)});
        QCOMPARE(col.code, 1);
        QVERIFY2(col.err.find("data.label_column: not for token classification") != std::string::npos, col.err.c_str());
        Result noad = run_cli({"predict", "--task", "token-cls", "--data", q(fixture("ner/valid.conll"))});
        QCOMPARE(noad.code, 1);
        QVERIFY2(noad.err.find("give --adapter") != std::string::npos, noad.err.c_str());
    }

    // Extractive QA from the command line: a SQuAD file means task qa; the run selects by the SQuAD F1; `predict
    // --data` with the saved adapter prints the official script's scores (percentages) equal to the run's best
    // evaluation (fractions), writes predictions.json (and null_odds.json for a 2.0 file) that score the same.
    // Multiple choice from the command line: a COPA file means task choice; accuracy rises above chance; predict
    // writes each question's choice and probabilities and prints the same accuracy; bad rows are named.
    void multipleChoice() {
        const std::string db = dir() + "/choice.sqlite", out = dir() + "/choice-adapter";
        Result r = run_cli({"train", "--train", q(fixture("choice/train.jsonl")), "--valid",
                            q(fixture("choice/valid.jsonl")), "--prompt-len", "8", "--lr", "5e-2", "--batch-size", "16",
                            "--epochs", "4", "--max-len", "64", "--threads", "2", "--db", q(db), "--out", q(out)});
        QVERIFY2(r.code == 0, r.err.c_str());
        QVERIFY2(r.err.find("holds multiple-choice questions: task choice") != std::string::npos, r.err.c_str());
        QVERIFY2(r.err.find("800 training questions (copa, 2 choices), 100 validation") != std::string::npos, r.err.c_str());
        QVERIFY2(r.err.find("no PEFT files: PEFT has no task type for multiple choice") != std::string::npos, r.err.c_str());
        const json s = json::parse(r.out);
        QCOMPARE(s["status"].get<std::string>(), std::string("completed"));
        QVERIFY(!s["peft"].get<bool>());
        const double best = s["best_metrics"]["accuracy"].get<double>();
        QVERIFY2(best >= 0.65, r.out.c_str());
        QVERIFY(!fs::exists(out + "/adapter_config.json"));

        const std::string pred = dir() + "/choice-pred.jsonl";
        Result p = run_cli({"predict", "--adapter", q(out), "--data", q(fixture("choice/valid.jsonl")), "--out",
                            q(pred), "--threads", "1"});
        QVERIFY2(p.code == 0, p.err.c_str());
        const json pm = json::parse(p.out);
        QCOMPARE(pm["questions"].get<int>(), 100);
        QCOMPARE(pm["labelled"].get<int>(), 100);
        // The adapter keeps the best evaluation's state: predict scores what training reported.
        QVERIFY2(std::abs(pm["accuracy"].get<double>() - best) < 1e-9, p.out.c_str());
        std::ifstream in(pred);
        std::string line;
        int lines = 0, right = 0;
        while (std::getline(in, line)) {
            const json j = json::parse(line);
            ++lines;
            right += j["prediction"].get<int>() == j["label"].get<int>();
        }
        QCOMPARE(lines, 100);
        QCOMPARE(right / 100.0, pm["accuracy"].get<double>());

        // The run exports in ptune's format; PEFT's has no multiple-choice task type, and says so.
        const json runrec = json::parse(r.out);
        const std::string run_id = std::to_string(runrec["run_id"].get<int64_t>());
        Result ex = run_cli({"export", "--db", q(db), "--run", q(run_id), "--format", "ptune", "--out", q(dir() + "/choice-export")});
        QVERIFY2(ex.code == 0, ex.err.c_str());
        QCOMPARE(read_json_file(dir() + "/choice-export/ptune_adapter.json")["task"].get<std::string>(), std::string("choice"));
        Result exp = run_cli({"export", "--db", q(db), "--run", q(run_id), "--format", "peft", "--out", q(dir() + "/choice-peft")});
        QCOMPARE(exp.code, 1);
        QVERIFY2(exp.err.find("PEFT has no multiple-choice task type; export in ptune's format (--format ptune)") !=
                     std::string::npos, exp.err.c_str());

        // Full fine-tuning on the task: the adapter keeps every encoder weight, and predict scores what the run did.
        const std::string fout = dir() + "/choice-full";
        Result fr = run_cli({"train", "--train", q(fixture("choice/train.jsonl")), "--valid", q(fixture("choice/valid.jsonl")),
                             "--method", "full", "--lr", "1e-3", "--epochs", "1", "--max-len", "64", "--threads", "1",
                             "--db", q(db), "--out", q(fout)});
        QVERIFY2(fr.code == 0, fr.err.c_str());
        QVERIFY2(fr.err.find("no PEFT files: PEFT has no task type for multiple choice") != std::string::npos, fr.err.c_str());
        const json fsum = json::parse(fr.out);
        QCOMPARE(read_json_file(fout + "/ptune_adapter.json")["method"].get<std::string>(), std::string("full"));
        Result fp = run_cli({"predict", "--adapter", q(fout), "--data", q(fixture("choice/valid.jsonl")), "--out",
                             q(dir() + "/choice-full.jsonl"), "--threads", "1"});
        QVERIFY2(fp.code == 0, fp.err.c_str());
        QVERIFY2(std::abs(json::parse(fp.out)["accuracy"].get<double>() - fsum["best_metrics"]["accuracy"].get<double>()) < 1e-9,
                 fp.out.c_str());

        const std::string broken = dir() + "/broken-choice.jsonl";
        std::ofstream(broken) << "{\"premise\": \"p\", \"choice1\": \"a\", \"choice2\": \"b\", \"question\": \"effect\", \"label\": 0}\n"
                                 "{\"premise\": \"p\", \"choice1\": \"a\", \"choice2\": \"b\", \"question\": \"effect\", \"label\": 5}\n";
        Result bs = run_cli({"train", "--train", q(broken), "--steps", "1", "--db", q(db)});
        QCOMPARE(bs.code, 1);
        QVERIFY2(bs.err.find(broken + ":2: field \"label\" is 5; the question has 2 choices (0..1)") != std::string::npos,
                 bs.err.c_str());
    }

    // Reproduction presets: listed with their values; --preset fills the spec (recorded with the run) and the
    // options given win over it.
    void presets() {
        Result l = run_cli({"presets"});
        QVERIFY2(l.code == 0, l.err.c_str());
        QVERIFY2(l.out.find("conll03-roberta    token-cls   11     0.03    16     30     0.1     152   11  roberta-large, "
                            "CoNLL-2003") != std::string::npos, l.out.c_str());
        Result lj = run_cli({"presets", "--json"});
        std::istringstream in(lj.out);
        std::string line;
        int n = 0;
        while (std::getline(in, line)) {
            const json j = json::parse(line);
            if (j["id"] == "squad-roberta") {
                QCOMPARE(j["batch_size"].get<int>(), 8);
                QCOMPARE(j["hidden_dropout"].get<double>(), 0.2);
            }
            ++n;
        }
        QCOMPARE(n, 13);
        const std::string db = dir() + "/preset.sqlite", saved = dir() + "/preset-spec.json";
        Result r = run_cli({"train", "--preset", "copa-roberta", "--train", q(fixture("choice/train.jsonl")), "--valid",
                            q(fixture("choice/valid.jsonl")), "--epochs", "1", "--max-len", "64", "--threads", "2",
                            "--db", q(db), "--save-spec", q(saved)});
        QVERIFY2(r.code == 0, r.err.c_str());
        QVERIFY2(r.err.find("note: preset copa-roberta (COPA, RoBERTa-large): the authors trained roberta-large on "
                            "SuperGLUE COPA") != std::string::npos, r.err.c_str());
        const json s = read_json_file(saved);
        QCOMPARE(s["preset"].get<std::string>(), std::string("copa-roberta"));
        QCOMPARE(s["task"].get<std::string>(), std::string("choice"));
        QCOMPARE(s["method"]["prompt_len"].get<int>(), 8);
        QCOMPARE(s["train"]["lr"].get<double>(), 9e-3);
        QCOMPARE(s["train"]["batch_size"].get<int>(), 16);
        QCOMPARE(s["train"]["epochs"].get<int>(), 1);      // given
        QCOMPARE(s["train"]["max_len"].get<int>(), 64);    // given
        QCOMPARE(s["train"]["hidden_dropout"].get<double>(), 0.1);
        QCOMPARE(s["train"]["seed"].get<int>(), 11);
        QCOMPARE(s["tags"], json::array({"preset:copa-roberta"}));
        Result bad = run_cli({"train", "--preset", "copa", "--train", q(fixture("choice/train.jsonl")), "--db", q(db)});
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.find("preset \"copa\": there is none by that name") != std::string::npos, bad.err.c_str());
    }

    void extractiveQa() {
        const std::string db = dir() + "/qa.sqlite", out = dir() + "/qa-adapter";
        Result r = run_cli({"train", "--train", q(fixture("qa/train.json")), "--valid", q(fixture("qa/valid.json")),
                            "--prompt-len", "16", "--lr", "3e-2", "--batch-size", "16", "--epochs", "8", "--max-len",
                            "48", "--threads", "1", "--db", q(db), "--out", q(out)});
        QVERIFY2(r.code == 0, r.err.c_str());
        QVERIFY2(r.err.find("holds SQuAD questions: task qa") != std::string::npos, r.err.c_str());
        QVERIFY2(r.err.find("171 training questions on 171 contexts, 46 validation; SQuAD 1.1") != std::string::npos,
                 r.err.c_str());
        const json s = json::parse(r.out);
        QCOMPARE(s["status"].get<std::string>(), std::string("completed"));
        QVERIFY(s["peft"].get<bool>());
        const double best_f1 = s["best_metrics"]["qa_f1"].get<double>();
        const double best_em = s["best_metrics"]["exact_match"].get<double>();
        QVERIFY2(best_f1 > 0.3, r.out.c_str());
        const json pc = read_json_file(out + "/adapter_config.json");
        QCOMPARE(pc["task_type"].get<std::string>(), std::string("QUESTION_ANS"));
        // Exported from the store: the PEFT files as training wrote them.
        Result ex = run_cli({"export", "--db", q(db), "--run", q(std::to_string(s["run_id"].get<int64_t>())), "--format",
                             "peft", "--out", q(dir() + "/qa-export")});
        QVERIFY2(ex.code == 0, ex.err.c_str());
        QCOMPARE(read_json_file(dir() + "/qa-export/adapter_config.json"), pc);

        const std::string pred = dir() + "/qa-pred/predictions.json";
        Result p = run_cli({"predict", "--adapter", q(out), "--data", q(fixture("qa/valid.json")), "--out", q(pred),
                            "--threads", "1"});
        QVERIFY2(p.code == 0, p.err.c_str());
        const json pm = json::parse(p.out);
        QCOMPARE(pm["questions"].get<int>(), 46);
        QCOMPARE(pm["version"].get<std::string>(), std::string("1.1"));
        QVERIFY(std::abs(pm["scores"]["f1"].get<double>() - 100 * best_f1) < 1e-9);
        QVERIFY(std::abs(pm["scores"]["exact_match"].get<double>() - 100 * best_em) < 1e-9);
        const json answers = read_json_file(pred);
        QCOMPARE(answers.size(), size_t(46));
        QVERIFY(answers.contains("valid-1-item"));
        // A 2.0 file: the null answer competes; null odds are written beside the predictions.
        const std::string pred2 = dir() + "/qa-pred2/predictions.json";
        Result p2 = run_cli({"predict", "--adapter", q(out), "--data", q(fixture("qa/valid-v2.json")), "--out",
                             q(pred2), "--null-threshold", "1.5", "--threads", "1"});
        QVERIFY2(p2.code == 0, p2.err.c_str());
        const json pm2 = json::parse(p2.out);
        QCOMPARE(pm2["version"].get<std::string>(), std::string("2.0"));
        QCOMPARE(pm2["scores"]["NoAns_total"].get<int>(), 38);
        QCOMPARE(pm2["null_threshold"].get<double>(), 1.5);
        const json odds = read_json_file(dir() + "/qa-pred2/null_odds.json");
        QCOMPARE(odds.size(), size_t(120));
        const json a2 = read_json_file(pred2);
        for (auto it = odds.begin(); it != odds.end(); ++it)   // "" exactly where the odds exceed the threshold
            QCOMPARE(a2[it.key()].get<std::string>().empty(), it.value().get<double>() > 1.5);

        // Prompt tuning on the task: PEFT's PROMPT_TUNING adapter with task_type QUESTION_ANS (PEFT's logits have
        // the virtual tokens first; the real tokens' are these), and predict scores what the run reported.
        const std::string pout = dir() + "/qa-prompt";
        Result pr = run_cli({"train", "--train", q(fixture("qa/train.json")), "--valid", q(fixture("qa/valid.json")),
                             "--method", "prompt", "--prompt-len", "4", "--lr", "3e-2", "--batch-size", "16", "--epochs",
                             "2", "--max-len", "48", "--threads", "1", "--db", q(db), "--out", q(pout)});
        QVERIFY2(pr.code == 0, pr.err.c_str());
        const json ps = json::parse(pr.out);
        const json ppc = read_json_file(pout + "/adapter_config.json");
        QCOMPARE(ppc["peft_type"].get<std::string>(), std::string("PROMPT_TUNING"));
        QCOMPARE(ppc["task_type"].get<std::string>(), std::string("QUESTION_ANS"));
        QCOMPARE(ppc["num_virtual_tokens"].get<int>(), 4);
        QCOMPARE(ppc["modules_to_save"], json::array({"qa_outputs"}));
        Result pp = run_cli({"predict", "--adapter", q(pout), "--data", q(fixture("qa/valid.json")), "--out",
                             q(dir() + "/qa-prompt-pred/predictions.json"), "--threads", "1"});
        QVERIFY2(pp.code == 0, pp.err.c_str());
        QVERIFY(std::abs(json::parse(pp.out)["scores"]["f1"].get<double>() - 100 * ps["best_metrics"]["qa_f1"].get<double>()) < 1e-9);

        // A wrong answer start is named.
        const std::string broken = dir() + "/broken.json";
        {
            json b = read_json_file(fixture("qa/valid.json"));
            b["data"][0]["paragraphs"][2]["qas"][0]["answers"][0]["answer_start"] = 1;
            write_json_file(broken, b);
        }
        Result bs = run_cli({"train", "--train", q(broken), "--steps", "1", "--db", q(db)});
        QCOMPARE(bs.code, 1);
        QVERIFY2(bs.err.find(broken + ": data[0].paragraphs[2].qas[0]: answers[0]: answer_start 1 points at") !=
                     std::string::npos, bs.err.c_str());
    }

    // The comparison headless: runs of three methods measure their latency after training, `ptune compare` prints
    // one JSON line per method with the stored costs and writes the CSV; `bench --run` measures a stored run again
    // (stored with it); a LoRA run's PEFT export predicts what its ptune adapter predicts.
    void compareMethodsHeadless() {
        const std::string db = dir() + "/compare.sqlite";
        std::vector<int> ids;
        for (const char* m : {"ptv2", "lora", "adapter"}) {
            Result r = run_cli({"train", "--model", q(fixture("bert/model")), "--train", q(fixture("data.tsv")), "--method", m,
                                "--prompt-len", "4", "--steps", "3", "--batch-size", "4", "--max-len", "24", "--latency",
                                "--latency-batch-size", "2", "--latency-repeats", "2", "--threads", "1", "--db", q(db)});
            QVERIFY2(r.code == 0, r.err.c_str());
            ids.push_back(json::parse(r.out)["run_id"].get<int>());
        }
        Result c = run_cli({"compare", "--db", q(db), "--csv", q(dir() + "/methods.csv")});
        QVERIFY2(c.code == 0, c.err.c_str());
        auto rows = c.lines();
        QCOMPARE(rows.size(), size_t(3));
        QCOMPARE(rows[0]["method"].get<std::string>(), std::string("ptv2"));
        QCOMPARE(rows[1]["method"].get<std::string>(), std::string("lora"));
        QCOMPARE(rows[2]["method"].get<std::string>(), std::string("adapter"));
        for (auto& r : rows) {
            QCOMPARE(r["completed"].get<int>(), 1);
            QVERIFY(r["step_ms"]["mean"].get<double>() > 0);
            QVERIFY(r["peak_mem_bytes"]["mean"].get<double>() > 0);
            QVERIFY(r["overhead"].is_object());
            QCOMPARE(r["latency_config"].get<std::string>(), std::string("batch 2 \u00d7 24 tokens, cpu"));
            QCOMPARE(r["train_device"].get<std::string>(), std::string("cpu"));
        }
        QVERIFY(rows[1]["overhead_merged"].is_object());
        QVERIFY(rows[0]["overhead_merged"].is_null());
        // The stored run agrees with what compare printed.
        Result show = run_cli({"runs", "show", QString::number(ids[1]), "--db", q(db)});
        QVERIFY2(show.code == 0, show.err.c_str());
        json run = json::parse(show.out);
        QCOMPARE(run["step_ms"].get<double>(), rows[1]["step_ms"]["mean"].get<double>());
        QCOMPARE(run["latency"].size(), size_t(3));   // base, lora, lora-merged
        std::ifstream csv(dir() + "/methods.csv");
        std::string line;
        int n = 0;
        while (std::getline(csv, line)) ++n;
        QCOMPARE(n, 4);
        // A second measurement of the stored run, at another length: stored beside the first.
        Result b = run_cli({"bench", "--run", QString::number(ids[1]), "--db", q(db), "--seq-len", "16", "--batch-size", "1",
                            "--repeats", "2", "--threads", "1"});
        QVERIFY2(b.code == 0, b.err.c_str());
        QCOMPARE(b.lines().size(), size_t(3));
        QCOMPARE(b.lines()[2]["method"].get<std::string>(), std::string("lora-merged"));
        QCOMPARE(json::parse(run_cli({"runs", "show", QString::number(ids[1]), "--db", q(db)}).out)["latency"].size(), size_t(6));
        // PEFT export of the LoRA run predicts what the run's own adapter predicts.
        Result ex = run_cli({"export", "--db", q(db), "--run", QString::number(ids[1]), "--format", "peft", "--out", q(dir() + "/lora-peft")});
        QVERIFY2(ex.code == 0, ex.err.c_str());
        QCOMPARE(read_json_file(dir() + "/lora-peft/adapter_config.json")["peft_type"].get<std::string>(), std::string("LORA"));
        const std::string own = json::parse(show.out)["artifacts"][0]["path"].get<std::string>();
        auto predict = [&](const std::string& adapter) {
            Result p = run_cli({"predict", "--model", q(fixture("bert/model")), "--adapter", q(adapter), "--text", "returns the value",
                                "--text", "a list of names"});
            if (p.code != 0) qWarning("%s", p.err.c_str());
            return p.lines();
        };
        auto a = predict(own), e = predict(dir() + "/lora-peft");
        QCOMPARE(a.size(), size_t(2));
        QCOMPARE(e.size(), size_t(2));
        for (size_t i = 0; i < 2; ++i) {
            for (size_t k = 0; k < 2; ++k)
                QVERIFY(std::abs(a[i]["logits"][k].get<double>() - e[i]["logits"][k].get<double>()) < 1e-5);
            QCOMPARE(e[i]["label"], a[i]["label"]);   // the data's label names travel in ptune_labels.json
            QVERIFY(e[i]["label"].is_string());
        }
        // The bottleneck adapters have no PEFT form: refused, naming the way out.
        Result ad = run_cli({"export", "--db", q(db), "--run", QString::number(ids[2]), "--format", "peft", "--out", q(dir() + "/ad")});
        QCOMPARE(ad.code, 1);
        QVERIFY2(ad.err.find("--format ptune") != std::string::npos, ad.err.c_str());
    }

    // Each --text is one text as it is: not unwrapped from [...] nor split at commas (CLI11's list syntax), and
    // `--text=` is the empty text rather than taking the next argument.
    void textsAreTakenVerbatim() {
        const QString model = q(fixture("bert/model"));
        Result r = run_cli({"tokenize", "--model", model, "--text", "[SEP]", "--text", "[a, b]", "--text=", "--text", "x, y",
                            "--text", "-1 stars"});
        QVERIFY2(r.code == 0, r.err.c_str());
        std::vector<std::string> texts;
        for (auto& l : r.lines()) texts.push_back(l["text"].get<std::string>());
        QCOMPARE(texts, (std::vector<std::string>{"[SEP]", "[a, b]", "", "x, y", "-1 stars"}));
        Result p = run_cli({"predict", "--model", model, "--text", "[CLS] a, b [SEP]", "--text=[x]"});
        QVERIFY2(p.code == 0, p.err.c_str());
        QCOMPARE(p.lines().size(), size_t(2));
        QCOMPARE(p.lines()[0]["text"].get<std::string>(), std::string("[CLS] a, b [SEP]"));
        QCOMPARE(p.lines()[1]["text"].get<std::string>(), std::string("[x]"));
    }

    // --text-file: one text per line, or JSON lines (decided by the first line); "-" reads standard input; errors
    // name the file and the line. predict gives the same logits as with --text.
    void textFileAndStdin() {
        const QString model = q(fixture("bert/model"));
        const std::string plain = dir() + "/texts.txt", jsonl = dir() + "/texts.jsonl", bad = dir() + "/bad.jsonl";
        std::ofstream(plain) << "\xEF\xBB\xBF[SEP] first, text\r\n\n{not json} second\nthird\n";
        std::ofstream(jsonl) << "{\"text\": \"[a, b]\", \"label\": 1}\n\n{\"text\": \"\"}\n";
        std::ofstream(bad) << "{\"text\": \"ok\"}\n{\"text\": \"fine\"}\n{\"body\": \"no text\"}\n";
        auto texts_of = [](const Result& r) {
            std::vector<std::string> t;
            for (auto& l : r.lines()) t.push_back(l["text"].get<std::string>());
            return t;
        };
        Result a = run_cli({"tokenize", "--model", model, "--text-file", q(plain)});
        QVERIFY2(a.code == 0, a.err.c_str());
        QCOMPARE(texts_of(a), (std::vector<std::string>{"[SEP] first, text", "{not json} second", "third"}));
        Result b = run_cli({"tokenize", "--model", model, "--text-file", q(jsonl)});
        QVERIFY2(b.code == 0, b.err.c_str());
        QCOMPARE(texts_of(b), (std::vector<std::string>{"[a, b]", ""}));
        Result c = run_cli({"tokenize", "--model", model, "--text-file", "-"}, 300000, "from stdin\nsecond\n");
        QVERIFY2(c.code == 0, c.err.c_str());
        QCOMPARE(texts_of(c), (std::vector<std::string>{"from stdin", "second"}));
        Result e = run_cli({"predict", "--model", model, "--text-file", q(bad)});
        QCOMPARE(e.code, 1);
        QVERIFY2(e.err.find(bad + ":3: no string field \"text\"") != std::string::npos, e.err.c_str());
        Result s = run_cli({"predict", "--model", model, "--text-file", "-"}, 300000, "{\"text\": \"ok\"}\nnot json\n");
        QCOMPARE(s.code, 1);
        QVERIFY2(s.err.find("(stdin):2: invalid JSON") != std::string::npos, s.err.c_str());
        // predict from a file equals predict from --text
        Result f = run_cli({"predict", "--model", model, "--text-file", q(plain)});
        Result t = run_cli({"predict", "--model", model, "--text", "[SEP] first, text", "--text", "{not json} second", "--text", "third"});
        QVERIFY2(f.code == 0 && t.code == 0, (f.err + t.err).c_str());
        QCOMPARE(f.lines().size(), size_t(3));
        for (size_t i = 0; i < 3; ++i) QCOMPARE(f.lines()[i]["logits"], t.lines()[i]["logits"]);
    }

    void errorsNameTheirCause() {
        Result a = run_cli({"tokenize", "--model", q(dir() + "/nope"), "--text", "x"});
        QCOMPARE(a.code, 1);
        QVERIFY2(a.err.find(dir() + "/nope: no such directory") != std::string::npos, a.err.c_str());
        // a malformed row names file and line
        std::ofstream f(dir() + "/bad.tsv");
        f << "sentence\tlabel\nfine text\tother\nbroken row without label\nmore\treturns\n";
        f.close();
        Result b = run_cli({"train", "--model", q(fixture("bert/model")), "--train", q(dir() + "/bad.tsv"), "--steps", "1", "--max-len", "32",
                          "--db", q(dir() + "/bad.sqlite")});
        QCOMPARE(b.code, 1);
        QVERIFY2(b.err.find("bad.tsv:3") != std::string::npos, b.err.c_str());
        // the failed run is in the store with its reason
        Result list = run_cli({"runs", "--db", q(dir() + "/bad.sqlite"), "--json"});
        QCOMPARE(list.lines()[0]["status"].get<std::string>(), std::string("failed"));
        QVERIFY(list.lines()[0]["status_reason"].get<std::string>().find("bad.tsv:3") != std::string::npos);
        // max length + prompt beyond the position table
        Result c = run_cli({"train", "--model", q(fixture("bert/model")), "--train", q(fixture("data.tsv")), "--max-len", "128",
                          "--prompt-len", "8", "--steps", "1", "--db", q(dir() + "/c.sqlite")});
        QCOMPARE(c.code, 1);
        QVERIFY2(c.err.find("position") != std::string::npos, c.err.c_str());
        // unknown spec field
        write_json_file(dir() + "/spec.json", json{{"ptune_spec", 1}, {"train", {{"learning_rate", 0.1}}}});
        Result d = run_cli({"train", "--spec", q(dir() + "/spec.json"), "--db", q(dir() + "/d.sqlite")});
        QCOMPARE(d.code, 1);
        QVERIFY2(d.err.find("train.learning_rate") != std::string::npos, d.err.c_str());
    }
};

QTEST_GUILESS_MAIN(TstCli)
#include "tst_cli.moc"
