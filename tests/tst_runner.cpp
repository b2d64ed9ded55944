// The runner: spec -> runner -> events -> store. A run on the built-in default trains and its loss falls; every
// event lands in the store; cancel keeps what was done; a failure is recorded with its reason; specs round-trip.
#include <torch/torch.h>

#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/engine/builtin.h"
#include "core/engine/methods.h"
#include "core/engine/trainer.h"
#include "core/io/data.h"
#include "core/text/tokenizer.h"
#include "core/engine/peft_io.h"
#include "core/engine/tensor_io.h"
#include "experiments/compare.h"
#include "experiments/runner.h"
#include "distilbert_fixture.h"

using namespace ptune;
namespace fs = std::filesystem;

static std::string fixture(const std::string& p) { return std::string(PTUNE_FIXTURES) + "/" + p; }

struct Obs : RunObserver {
    std::vector<StepEvent> steps;
    std::vector<EvalEvent> evals;
    std::vector<PromptNormEvent> norms;
    std::vector<std::string> finished;
    std::vector<std::string> messages;
    void on_message(const std::string& m) override { messages.push_back(m); }
    CancelFlag* flag = nullptr;
    int64_t cancel_at = -1;
    void on_step(const StepEvent& e) override {
        steps.push_back(e);
        if (flag && e.step == cancel_at) flag->cancel();
    }
    void on_eval(const EvalEvent& e) override { evals.push_back(e); }
    void on_prompt_norms(const PromptNormEvent& e) override { norms.push_back(e); }
    void on_run_finished(int64_t, const std::string& s, const std::string&) override { finished.push_back(s); }
};

static ExperimentSpec builtin_spec() {
    ExperimentSpec s;  // defaults: builtin model and data
    s.train.lr = 2e-2;
    s.train.steps = 120;
    s.train.epochs = 0;
    s.train.batch_size = 16;
    s.train.max_len = 40;
    s.train.eval_every = 60;
    s.train.threads = 2;
    s.method.prefix.prompt_len = 8;
    return s;
}

class TstRunner : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;
    std::string db() const { return tmp.path().toStdString() + "/runs.sqlite"; }

private Q_SLOTS:
    // The built-in default experiment, as `ptune train` and the workbench start it: the loss falls.
    void builtinRunLearnsAndIsStored() {
        Store store(db());
        Obs obs;
        ExperimentSpec spec = ExperimentSpec::load(builtin_dir() + "/experiment.json");
        spec.train.threads = 2;
        RunOutcome o = Runner().run(spec, store, &obs);
        QVERIFY2(o.status == "completed", o.reason.c_str());
        const size_t N = 625;  // 2000 rows / 16 per batch x 5 epochs
        QCOMPARE(o.steps, int64_t(N));
        QCOMPARE(obs.steps.size(), N);
        double first = 0, last = 0;
        for (int i = 0; i < 50; ++i) first += obs.steps[i].loss / 50, last += obs.steps[N - 50 + i].loss / 50;
        qInfo("builtin: mean loss of the first 50 steps %.4f, of the last 50 %.4f; accuracy %.3f", first, last,
              o.final_metrics["accuracy"]);
        QVERIFY2(last < first - 0.1, qPrintable(QString("%1 -> %2").arg(first).arg(last)));
        QVERIFY(o.final_metrics["accuracy"] > 0.65);
        QCOMPARE(obs.evals.size(), size_t(5));  // one per epoch

        auto rec = store.run(o.run_id);
        QVERIFY(rec.has_value());
        QCOMPARE(rec->status, std::string("completed"));
        QCOMPARE(rec->method, std::string("ptv2"));
        QCOMPARE(rec->prompt_len, 16);
        QVERIFY(rec->finished_at >= rec->started_at && rec->started_at > 0);
        // prompts: 16 x 2 x 4 layers x 64; head: classifier 2 x 64 + 2
        QCOMPARE(rec->trainable_params, int64_t(16 * 2 * 4 * 64 + 2 * 64 + 2));
        QVERIFY(rec->total_params > rec->trainable_params * 10);
        auto loss = store.metrics(o.run_id, "train/loss");
        QCOMPARE(loss.size(), N);
        for (size_t i = 0; i < loss.size(); ++i) {
            QCOMPARE(loss[i].step, int64_t(i + 1));
            QCOMPARE(loss[i].value, obs.steps[i].loss);
        }
        auto acc = store.metrics(o.run_id, "eval/accuracy");
        QCOMPARE(acc.size(), size_t(5));
        QCOMPARE(acc[4].value, o.final_metrics["accuracy"]);
        auto norms = store.prompt_norms(o.run_id);
        QCOMPARE(norms.size(), N * 4);
        QCOMPARE(norms.back().step, int64_t(N));
        QCOMPARE(norms.back().key_norm, obs.norms.back().key_norms[3]);
        // the adapter: ptune's and PEFT's files, and it holds the trained (best) prompts
        QVERIFY(o.peft_exported);
        QVERIFY(fs::exists(o.adapter_dir + "/adapter_model.safetensors"));
        QVERIFY(fs::exists(o.adapter_dir + "/ptune_adapter.safetensors"));
        auto arts = store.artifacts(o.run_id);
        QCOMPARE(arts.size(), size_t(2));
        // export_run writes the same tensors as the run's adapter
        const std::string out = tmp.path().toStdString() + "/export";
        export_run(store, o.run_id, "peft", out);
        auto a = load_all(out + "/adapter_model.safetensors"), b = load_all(o.adapter_dir + "/adapter_model.safetensors");
        QCOMPARE(a.size(), b.size());
        for (auto& [n, t] : a) QVERIFY2(at::equal(t, b[n]), n.c_str());
    }

    // Task causal-lm: the built-in decoder learns to answer each review with its label word; the run is stored
    // with its metrics, its prefix written as PEFT's CAUSAL_LM adapter (key for key as PEFT 0.21 writes one) and
    // exported; a second run starts from it.
    void causalLmRunIsStoredAndExported() {
        Store store(db());
        Obs obs;
        ExperimentSpec spec;
        spec.task = "causal-lm";
        spec.model = "builtin-decoder";
        spec.data.prompt_template = "Review : {text} Sentiment : ";
        spec.method.prefix.prompt_len = 16;
        spec.train.metric = "exact_match";
        spec.train.lr = 0.1;
        spec.train.steps = 60;
        spec.train.epochs = 0;
        spec.train.eval_every = 30;
        spec.train.max_len = 48;
        spec.train.threads = 2;
        // The spec round-trips, and a causal-LM spec without a metric selects by exact match.
        json j = spec.to_json();
        QCOMPARE(j["task"], json("causal-lm"));
        QCOMPARE(ExperimentSpec::from_json(j, "spec").data.prompt_template, spec.data.prompt_template);
        j["train"].erase("metric");
        QCOMPARE(ExperimentSpec::from_json(j, "spec").train.metric, std::string("exact_match"));
        QVERIFY(!ExperimentSpec().to_json().contains("task"));   // classification specs read as before

        RunOutcome o = Runner().run(spec, store, &obs);
        QVERIFY2(o.status == "completed", o.reason.c_str());
        QCOMPARE(o.steps, int64_t(60));
        QVERIFY(obs.steps.back().loss < 0.5 * obs.steps.front().loss);
        QCOMPARE(obs.evals.size(), size_t(2));
        for (const auto& e : obs.evals) {
            QVERIFY(e.metrics.count("exact_match") && e.metrics.count("perplexity") && e.metrics.count("loss"));
            QVERIFY(std::abs(e.metrics.at("perplexity") - std::exp(e.metrics.at("loss"))) < 1e-9);
        }
        QCOMPARE(store.metrics(o.run_id, "eval/exact_match").size(), size_t(2));
        auto rec = store.run(o.run_id);
        QCOMPARE(rec->prompt_len, 16);
        QCOMPARE(rec->layers, std::string("all"));
        QCOMPARE(rec->trainable_params, int64_t(16 * 2 * 4 * 2 * 16));   // P x (key, value) x 4 layers x 2 kv heads x 16
        QCOMPARE(rec->total_params, rec->trainable_params + builtin_decoder_param_count(314));
        bool sample = false;
        for (const auto& m : obs.messages) sample = sample || m.rfind("sample 1: \"Review : ", 0) == 0;
        QVERIFY(sample);
        // PEFT's files, keyed as PEFT writes a decoder's PREFIX_TUNING config.
        QVERIFY(o.peft_exported);
        json ours = read_json_file(o.adapter_dir + "/adapter_config.json");
        json peft = read_json_file(fixture("llama/adapter_prefix_p4/adapter_config.json"));
        peft.erase("peft_version");   // the PEFT release that wrote it; ptune does not claim one
        for (auto it = peft.begin(); it != peft.end(); ++it) QVERIFY2(ours.contains(it.key()), it.key().c_str());
        QCOMPARE(ours.size(), peft.size());
        QCOMPARE(ours["task_type"], json("CAUSAL_LM"));
        QCOMPARE(ours["token_dim"], json(32));
        QCOMPARE(ours["num_attention_heads"], json(2));
        QCOMPARE(ours["num_layers"], json(4));
        QCOMPARE(ours["num_virtual_tokens"], json(16));
        auto tensors = load_all(o.adapter_dir + "/adapter_model.safetensors");
        QCOMPARE(tensors.size(), size_t(1));
        QCOMPARE(tensors["prompt_embeddings"].sizes().vec(), (std::vector<int64_t>{16, 2 * 4 * 32}));
        // export: PEFT copies the files; ptune's format says why not.
        const std::string out = tmp.path().toStdString() + "/clm-export";
        export_run(store, o.run_id, "peft", out);
        QVERIFY(at::equal(load_all(out + "/adapter_model.safetensors")["prompt_embeddings"], tensors["prompt_embeddings"]));
        QVERIFY_THROWS_EXCEPTION(Error, export_run(store, o.run_id, "ptune", out + "2"));
        // Resume from the adapter: the prefix it holds is where the next run starts.
        ExperimentSpec again = spec;
        again.method.init_adapter = o.adapter_dir;
        again.out_dir = tmp.path().toStdString() + "/clm-again";
        again.train.steps = 1;
        // ... and measures its latency after training: the time to the first token and per new token, base and
        // with the prefix, which the method comparison reads per new token.
        again.latency.measure = true;
        again.latency.seq_len = 16;
        again.latency.batch_size = 2;
        again.latency.repeats = 2;
        again.latency.warmup = 1;
        Obs obs2;
        RunOutcome o2 = Runner().run(again, store, &obs2);
        QVERIFY2(o2.status == "completed", o2.reason.c_str());
        const auto lat = store.latency(o2.run_id);
        QCOMPARE(lat.size(), size_t(4));
        std::set<std::pair<std::string, std::string>> measured;
        for (const auto& r : lat) {
            measured.insert({r.method, r.phase});
            QCOMPARE(r.seq_len, 16);
            QCOMPARE(r.batch_size, 2);
            QCOMPARE(r.prompt_len, r.method == "ptv2" ? 16 : 0);
        }
        QCOMPARE(measured, (std::set<std::pair<std::string, std::string>>{
                               {"base", "first_token"}, {"base", "per_token"}, {"ptv2", "first_token"}, {"ptv2", "per_token"}}));
        const auto cmp = compare_methods(store, {o2.run_id});
        QCOMPARE(cmp.size(), size_t(1));
        QCOMPARE(cmp[0].latency_config, std::string("batch 2 \u00d7 16 tokens, cpu, per new token"));
        double per_token_ptv2 = 0;
        for (const auto& r : lat)
            if (r.method == "ptv2" && r.phase == "per_token") per_token_ptv2 = r.median_ms;
        QCOMPARE(cmp[0].latency_ms.mean, per_token_ptv2);
        bool started = false;
        for (const auto& m : obs2.messages) started = started || m.find("started from " + o.adapter_dir) != std::string::npos;
        QVERIFY(started);
        QVERIFY(std::abs(obs2.steps[0].loss - obs.steps.back().loss) < 0.5);   // not a fresh prefix's loss (about 8)
    }

    void causalLmBadSpecsSayWhy() {
        auto fails = [](const std::function<void(ExperimentSpec&)>& change, const std::string& part) {
            ExperimentSpec s;
            s.task = "causal-lm";
            s.model = "builtin-decoder";
            s.train.metric = "exact_match";
            change(s);
            try {
                s.validate();
            } catch (const Error& e) {
                QVERIFY2(std::string(e.what()).find(part) != std::string::npos, e.what());
                return;
            }
            QFAIL(part.c_str());
        };
        fails([](ExperimentSpec& s) { s.method.name = "lora"; }, "method.name");
        fails([](ExperimentSpec& s) { s.train.metric = "accuracy"; }, "classification metric");
        fails([](ExperimentSpec& s) { s.data.prompt_template = "no text here"; }, "{text}");
        fails([](ExperimentSpec& s) { s.method.prefix.layers = LayerSpec::parse("first:2"); }, "every layer");
        fails([](ExperimentSpec& s) { s.task = "generation"; }, "task");
        fails([](ExperimentSpec& s) { s.task = "seq-cls", s.train.metric = "exact_match"; }, "causal-LM metric");
        // An encoder given to a causal-LM run: the run fails saying what the model is.
        Store store(db());
        ExperimentSpec s;
        s.task = "causal-lm";
        s.model = "builtin";
        s.train.metric = "exact_match";
        s.train.steps = 1;
        s.train.epochs = 0;
        RunOutcome o = Runner().run(s, store);
        QCOMPARE(o.status, std::string("failed"));
        QVERIFY2(o.reason.find("\"bert\" is not a decoder") != std::string::npos, o.reason.c_str());
    }

    void cancelKeepsWhatWasDone() {
        Store store(db());
        Obs obs;
        CancelFlag flag;
        obs.flag = &flag;
        obs.cancel_at = 7;
        RunOutcome o = Runner().run(builtin_spec(), store, &obs, &flag);
        QCOMPARE(o.status, std::string("cancelled"));
        QCOMPARE(o.steps, int64_t(7));
        QCOMPARE(store.run(o.run_id)->status, std::string("cancelled"));
        QCOMPARE(store.metrics(o.run_id, "train/loss").size(), size_t(7));
        QVERIFY(fs::exists(o.adapter_dir + "/ptune_adapter.json"));
        QCOMPARE(obs.finished, std::vector<std::string>({"cancelled"}));
    }

    void failureIsRecorded() {
        Store store(db());
        ExperimentSpec spec = builtin_spec();
        spec.data.train = tmp.path().toStdString() + "/missing.tsv";
        Obs obs;
        RunOutcome o = Runner().run(spec, store, &obs);
        QCOMPARE(o.status, std::string("failed"));
        QVERIFY2(o.reason.find("missing.tsv") != std::string::npos, o.reason.c_str());
        auto rec = store.run(o.run_id);
        QCOMPARE(rec->status, std::string("failed"));
        QCOMPARE(rec->status_reason, o.reason);
        QCOMPARE(obs.finished, std::vector<std::string>({"failed"}));
    }

    // The reference BERT's head is for other/returns; data labelled 0/1 does not say which is which, so the run
    // starts a fresh head and says so.
    void checkpointHeadOnlyUnderItsLabels() {
        Store store(db());
        const std::string f = tmp.path().toStdString() + "/digits.tsv";
        {
            std::ofstream o(f);
            o << "sentence\tlabel\n";
            for (int i = 0; i < 20; ++i) o << "text number " << i << "\t" << (i % 2) << "\n";
        }
        ExperimentSpec spec;
        spec.model = fixture("bert/model");
        spec.data.train = f;
        spec.train.steps = 1;
        spec.train.max_len = 16;
        spec.method.prefix.prompt_len = 2;
        Obs obs;
        RunOutcome o = Runner().run(spec, store, &obs);
        QVERIFY2(o.status == "completed", o.reason.c_str());
        bool said = false;
        for (auto& m : obs.messages) said = said || m.find("head was not used") != std::string::npos;
        QVERIFY(said);
        // the stored spec holds absolute paths
        json stored = json::parse(store.run(o.run_id)->spec_json);
        QVERIFY(fs::path(stored["data"]["train"].get<std::string>()).is_absolute());
    }

    void queuedRunsKeepTheirId() {
        Store store(db());
        ExperimentSpec spec = builtin_spec();
        spec.train.steps = 2;
        int64_t id = Runner::enqueue(spec, store);
        QCOMPARE(store.run(id)->status, std::string("queued"));
        RunOutcome o = Runner().run(spec, store, nullptr, nullptr, id);
        QCOMPARE(o.run_id, id);
        QCOMPARE(store.run(id)->status, std::string("completed"));
    }

    // train.hidden_dropout overrides the model config's dropout while training (the built-in model has none): the
    // same run with it set follows another loss path; evaluation is unaffected by dropout.
    void hiddenDropoutOverridesTheConfig() {
        Store store(db());
        ExperimentSpec spec = builtin_spec();
        spec.train.steps = 3;
        spec.train.eval_every = 0;
        auto losses = [&](double p) {
            ExperimentSpec s = spec;
            s.train.hidden_dropout = p;
            RunOutcome o = Runner().run(s, store);
            std::vector<double> v;
            for (const auto& m : store.metrics(o.run_id, "train/loss")) v.push_back(m.value);
            return v;
        };
        const auto none = losses(-1), zero = losses(0.0), half = losses(0.5);
        QCOMPARE(none.size(), size_t(3));
        QCOMPARE(zero, none);            // the built-in config's dropout is 0
        QCOMPARE(half[0] == none[0], false);
    }

    void latencyIsStoredWithTheRun() {
        Store store(db());
        ExperimentSpec spec = builtin_spec();
        spec.train.steps = 1;
        RunOutcome o = Runner().run(spec, store);
        LatencyOptions lo;
        lo.seq_lens = {16, 32};
        lo.prompt_lens = {};
        lo.repeats = 3;
        lo.threads = 1;
        auto res = Runner::bench_run(store, o.run_id, lo);
        QCOMPARE(res.size(), size_t(4));  // base and ptv2 (the run's P = 8) x 2 lengths
        auto rows = store.latency(o.run_id);
        QCOMPARE(rows.size(), size_t(4));
        QCOMPARE(rows[3].prompt_len, 8);
        QCOMPARE(rows[3].median_ms, res[3].median_ms);
    }

    void specRoundTripAndErrors() {
        ExperimentSpec s = builtin_spec();
        s.name = "x";
        s.method.prefix.layers = LayerSpec::parse("last:2");
        s.method.prefix.mlp = true;
        s.train.beta2 = 0.98;
        s.tags = {"a", "b"};
        json j = s.to_json();
        ExperimentSpec t = ExperimentSpec::from_json(j, "s.json");
        QCOMPARE(t.to_json(), j);
        json bad = j;
        bad["method"]["prompt_length"] = 3;
        try {
            ExperimentSpec::from_json(bad, "s.json");
            QFAIL("unknown field must fail");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("s.json: method.prompt_length: unknown field") != std::string::npos, e.what());
        }
        bad = j;
        bad["train"]["lr"] = "fast";
        QVERIFY_THROWS_EXCEPTION(Error, ExperimentSpec::from_json(bad, "s.json"));
        bad = j;
        bad["ptune_spec"] = 7;
        QVERIFY_THROWS_EXCEPTION(Error, ExperimentSpec::from_json(bad, "s.json"));
        bad = j;
        bad["train"]["batch_size"] = 0;
        try {
            ExperimentSpec::from_json(bad, "s.json");
            QFAIL("batch size 0 must fail");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("batch_size") != std::string::npos, e.what());
        }
    }

    // Every method runs through the runner as `ptune train --method` and the workbench start it: the run row
    // names the method, counts its parameters as count_params does, records what training cost, and the adapter
    // it saves evaluates to the run's stored metrics (nothing trained is lost). Where PEFT can express the method
    // its PEFT export computes the same logits; where it cannot, the export refuses and says why. Latency is
    // measured for the run's own method against the base model.
    void everyMethodRunsAndItsAdapterReproducesTheRun_data() {
        QTest::addColumn<QString>("method");
        for (const char* m : {"prompt", "ptuning", "lora", "ia3", "adapter", "full", "head"}) QTest::newRow(m) << QString(m);
    }
    void everyMethodRunsAndItsAdapterReproducesTheRun() {
        QFETCH(QString, method);
        const std::string m = method.toStdString();
        ExperimentSpec s = builtin_spec();
        s.method.name = m;
        s.train.steps = 24;
        s.train.eval_every = 0;   // one evaluation, after the last step: the saved state is the evaluated one
        s.train.lr = m == "full" ? 1e-3 : m == "lora" ? 5e-3 : 2e-2;
        if (m == "prompt") {
            s.method.delta.prompt_init = "text";
            s.method.delta.prompt_init_text = "the review is";
        }
        if (m == "ptuning") s.method.delta.encoder = "lstm";
        if (m == "lora") s.method.delta.target_modules = {"query", "output.dense"};   // FFN output only: a regex for PEFT
        if (m == "adapter") s.method.delta.adapter_size = 6;
        Store store(db());
        RunOutcome o = Runner().run(s, store);
        QVERIFY2(o.status == "completed", o.reason.c_str());
        auto rec = store.run(o.run_id);
        QCOMPARE(rec->method, m);
        const ParamCounts pc = count_params(s, 2);
        QCOMPARE(rec->trainable_params, pc.trainable());
        QCOMPARE(rec->prompt_len, (m == "prompt" || m == "ptuning") ? 8 : 0);
        QCOMPARE(int(store.metrics(o.run_id, "train/loss").size()), 24);
        // What training cost: the device, a step time, and a peak at least the size of the model's weights.
        QCOMPARE(rec->train_device, std::string("cpu"));
        QVERIFY(rec->step_ms > 0);
        const int64_t weights = 4 * (rec->total_params - rec->trainable_params + pc.trainable());
        QVERIFY2(rec->peak_mem_bytes > weights, std::to_string(rec->peak_mem_bytes).c_str());

        // The adapter evaluates to the stored metrics.
        const std::string dir = builtin_dir();
        auto model = EncoderClassifier::load(dir + "/model", 2, 0);
        MethodAdapter a = load_method_adapter(o.adapter_dir, *model);
        QCOMPARE(a.method, m);
        apply_method_adapter(*model, a);
        auto tok = Tokenizer::from_dir(dir + "/model");
        DataOptions dopt;
        dopt.label_names = a.label_names;
        TokenizedData valid = tokenize(load_dataset(dir + "/data/valid.tsv", dopt), *tok, s.train.max_len);
        TrainOptions t = s.train;
        std::unique_ptr<PromptTrainer> tr = a.delta ? std::make_unique<PromptTrainer>(*model, a.delta.get(), t, tok->pad_id())
                                                    : std::make_unique<PromptTrainer>(*model, static_cast<DeepPrompt*>(nullptr), t, tok->pad_id());
        auto metrics = tr->evaluate(valid);
        QCOMPARE(metrics.at("accuracy"), o.best_metrics.at("accuracy"));
        QVERIFY(std::abs(metrics.at("loss") - o.best_metrics.at("loss")) < 1e-6);

        const std::string out = tmp.path().toStdString() + "/export-" + m;
        const bool peft = m == "prompt" || m == "ptuning" || m == "lora" || m == "ia3";
        QCOMPARE(o.peft_exported, peft);
        QCOMPARE(fs::exists(fs::path(o.adapter_dir) / "adapter_config.json"), peft);
        if (peft) {
            export_run(store, o.run_id, "peft", out);
            PeftAdapter pa = PeftAdapter::load(out);
            QCOMPARE(pa.config.value("task_type", std::string()), std::string("SEQ_CLS"));
            QVERIFY(pa.config.value("inference_mode", false));
            const std::map<std::string, std::string> types{{"prompt", "PROMPT_TUNING"}, {"ptuning", "P_TUNING"}, {"lora", "LORA"}, {"ia3", "IA3"}};
            QCOMPARE(pa.peft_type, types.at(m));
            if (m == "lora") {
                // query matches by PEFT's suffix rule; output.dense alone would also match attention.output.dense
                QVERIFY(pa.config["target_modules"].is_string());
                QCOMPARE(pa.config["target_modules"].get<std::string>(),
                         std::string(".*encoder\\.layer\\.[0-9]+\\.(attention\\.self\\.query|output\\.dense)"));
            }
            if (m == "prompt") QCOMPARE(pa.config.value("prompt_tuning_init", std::string()), std::string("TEXT"));
            if (m == "ptuning") QCOMPARE(pa.config.value("encoder_reparameterization_type", std::string()), std::string("LSTM"));
            // The PEFT files compute what the trained run computes, on every validation text.
            PeftDelta d = peft_delta_from(pa, model->config());
            auto fresh = EncoderClassifier::load(dir + "/model", 2, 0);
            apply_head(*fresh, d.head);
            std::vector<std::vector<int64_t>> ids(valid.ids.begin(), valid.ids.begin() + 32);
            std::vector<std::vector<int64_t>> types_ids(valid.type_ids.begin(), valid.type_ids.begin() + 32);
            at::NoGradGuard g;
            Batch b = make_batch(ids, tok->pad_id(), types_ids);
            at::Tensor want = model->forward(b, a.delta->adaptation(false), false);
            at::Tensor got = fresh->forward(b, d.adaptation(), false);
            const double diff = (want - got).abs().max().item<double>();
            QVERIFY2(diff < 1e-5, std::to_string(diff).c_str());
        } else {
            try {
                export_run(store, o.run_id, "peft", out);
                QFAIL("PEFT export of a method PEFT cannot express must refuse");
            } catch (const Error& e) {
                QVERIFY2(std::string(e.what()).find("--format ptune") != std::string::npos, e.what());
            }
        }
        export_run(store, o.run_id, "ptune", out + "-ptune");
        QVERIFY(is_method_adapter_dir(out + "-ptune"));

        // Latency of the run's method against the base model; LoRA and IA3 merged too.
        LatencyOptions lo;
        lo.seq_lens = {16};
        lo.repeats = 2;
        lo.warmup = 1;
        lo.threads = 1;
        auto res = Runner::bench_run(store, o.run_id, lo);
        std::vector<std::string> methods;
        for (auto& r : res) methods.push_back(r.method);
        std::vector<std::string> want = {"base", m};
        if (m == "lora" || m == "ia3") want.push_back(m + "-merged");
        QCOMPARE(methods, want);
        QCOMPARE(store.latency(o.run_id).size(), want.size());
        for (auto& r : res) QVERIFY(r.median_ms > 0);
        if (m == "prompt" || m == "ptuning") QCOMPARE(res[1].prompt_len, 8);
    }

    // Training resumes from a run's adapter for every method: ptune's format carries every tensor (P-tuning's
    // encoder too, which PEFT's P_TUNING file lacks), PEFT's LORA files the low-rank matrices. A resumed run starts
    // where the adapter ended: one step at a negligible rate evaluates to the adapter's metrics. A starting adapter
    // of another method or other options is refused, naming the file and field.
    void resumeFromEveryMethodsAdapter_data() {
        QTest::addColumn<QString>("method");
        QTest::addColumn<bool>("from_peft");
        QTest::newRow("ptuning-lstm") << "ptuning" << false;
        QTest::newRow("lora") << "lora" << false;
        QTest::newRow("lora-peft") << "lora" << true;
        QTest::newRow("ia3-peft") << "ia3" << true;
        QTest::newRow("adapter") << "adapter" << false;
        QTest::newRow("full") << "full" << false;
    }
    void resumeFromEveryMethodsAdapter() {
        QFETCH(QString, method);
        QFETCH(bool, from_peft);
        const std::string m = method.toStdString();
        ExperimentSpec a = builtin_spec();
        a.method.name = m;
        if (m == "ptuning") a.method.delta.encoder = "lstm";
        a.train.steps = 30;
        a.train.eval_every = 0;
        a.train.lr = m == "full" ? 1e-3 : 1e-2;
        Store store(db());
        RunOutcome first = Runner().run(a, store);
        QVERIFY2(first.status == "completed", first.reason.c_str());
        std::string from = first.adapter_dir;
        if (from_peft) {
            from = tmp.path().toStdString() + "/resume-peft-" + m;
            export_run(store, first.run_id, "peft", from);
        }
        ExperimentSpec b = a;
        b.method.init_adapter = from;
        b.train.steps = 1;
        b.train.lr = 1e-12;
        RunOutcome second = Runner().run(b, store);
        QVERIFY2(second.status == "completed", second.reason.c_str());
        QVERIFY2(std::abs(second.best_metrics.at("loss") - first.best_metrics.at("loss")) < 1e-5,
                 qPrintable(QString("%1 vs %2").arg(second.best_metrics.at("loss")).arg(first.best_metrics.at("loss"))));
        QCOMPARE(second.best_metrics.at("accuracy"), first.best_metrics.at("accuracy"));
        // Without the adapter the same short run is elsewhere.
        ExperimentSpec c = b;
        c.method.init_adapter.clear();
        RunOutcome fresh = Runner().run(c, store);
        QVERIFY(std::abs(fresh.best_metrics.at("loss") - first.best_metrics.at("loss")) > 1e-4);
        if (m == "lora" && !from_peft) {
            ExperimentSpec other = b;
            other.method.delta.lora_r = 4;
            RunOutcome o = Runner().run(other, store);
            QCOMPARE(o.status, std::string("failed"));
            QVERIFY2(o.reason.find(from + "/ptune_adapter.json: options.lora_r") != std::string::npos, o.reason.c_str());
            other = b;
            other.method.name = "ia3";
            o = Runner().run(other, store);
            QVERIFY2(o.reason.find("a lora adapter cannot start a ia3 run") != std::string::npos, o.reason.c_str());
        }
        if (m == "ptuning") {
            // PEFT's P_TUNING file holds the encoder's output only: no resuming from it, and the reason says where to.
            const std::string peft = tmp.path().toStdString() + "/ptuning-peft";
            export_run(store, first.run_id, "peft", peft);
            ExperimentSpec other = b;
            other.method.init_adapter = peft;
            RunOutcome o = Runner().run(other, store);
            QCOMPARE(o.status, std::string("failed"));
            QVERIFY2(o.reason.find("ptune_adapter.json") != std::string::npos && o.reason.find("P_TUNING") != std::string::npos,
                     o.reason.c_str());
        }
    }

    // Running out of memory ends the run failed with a reason that says so and what to change; the store and the
    // other runs are untouched. (An MLP of 2^40 hidden units asks the CPU allocator for 256 TiB.)
    void outOfMemoryIsAFailedRunWithItsReason() {
        ExperimentSpec s = builtin_spec();
        s.method.prefix.mlp = true;
        s.method.prefix.mlp_hidden = int64_t(1) << 40;   // 2^48 bytes: beyond any address space, whatever the overcommit policy
        s.train.steps = 2;
        Store store(db());
        const size_t before = store.runs().size();
        RunOutcome o = Runner().run(s, store);
        QCOMPARE(o.status, std::string("failed"));
        QVERIFY2(o.reason.rfind("out of memory on cpu: lower the batch size", 0) == 0, o.reason.c_str());
        auto r = store.run(o.run_id);
        QCOMPARE(r->status, std::string("failed"));
        QCOMPARE(r->status_reason, o.reason);
        QCOMPARE(store.runs().size(), before + 1);
        // The next run in the same store trains as usual.
        ExperimentSpec ok = builtin_spec();
        ok.train.steps = 2;
        QCOMPARE(Runner().run(ok, store).status, std::string("completed"));
    }

    // With latency.measure the run measures its inference cost itself, before it is marked completed.
    void latencyMeasuredAfterTraining() {
        ExperimentSpec s = builtin_spec();
        s.method.name = "lora";
        s.train.steps = 4;
        s.latency.measure = true;
        s.latency.batch_size = 2;
        s.latency.repeats = 2;
        s.latency.warmup = 1;
        Store store(db());
        RunOutcome o = Runner().run(s, store);
        QVERIFY2(o.status == "completed", o.reason.c_str());
        auto rows = store.latency(o.run_id);
        QCOMPARE(rows.size(), size_t(3));
        for (auto& r : rows) {
            QCOMPARE(r.batch_size, 2);
            QCOMPARE(r.seq_len, 40);   // the run's max length
        }
        QCOMPARE(rows[0].method, std::string("base"));
        QCOMPARE(rows[2].method, std::string("lora-merged"));
    }

    void methodSpecsRoundTripAndValidate() {
        ExperimentSpec s = builtin_spec();
        s.method.name = "lora";
        s.method.delta.lora_r = 4;
        s.method.delta.target_modules = {"query", "output.dense"};
        json j = s.to_json();
        QVERIFY(!j["method"].contains("layers"));   // only the fields LoRA uses
        QCOMPARE(ExperimentSpec::from_json(j, "s.json").to_json(), j);
        s.method.delta.target_modules = {"attention"};
        try {
            s.validate();
            QFAIL("an unknown module must fail");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("method.target_modules") != std::string::npos, e.what());
        }
        s = builtin_spec();
        s.method.name = "adapterz";
        QVERIFY_THROWS_EXCEPTION(Error, s.validate());
        // count_params follows each method's formula (built-in: H 64, I 256, 4 layers).
        s = builtin_spec();
        s.method.name = "ia3";
        QCOMPARE(count_params(s, 2).prompt, int64_t(4 * (64 + 64 + 64 + 256)));
        s.method.name = "lora";
        QCOMPARE(count_params(s, 2).prompt, int64_t(4 * 2 * 8 * (64 + 64)));
        s.method.name = "head";
        QCOMPARE(count_params(s, 2).prompt, int64_t(0));
    }

    void modelSummaryAndParamCounts() {
        ModelSummary m = summarize_model(fixture("roberta/model"));
        QCOMPARE(m.arch, std::string("RoBERTa"));
        QCOMPARE(m.layers, int64_t(3));
        QCOMPARE(m.hidden, int64_t(48));
        QCOMPARE(m.position_offset, int64_t(2));
        ExperimentSpec s;
        s.model = fixture("roberta/model");
        s.method.prefix.prompt_len = 5;
        ParamCounts p = count_params(s, 2);
        QCOMPARE(p.prompt, int64_t(5 * 2 * 3 * 48));
        QCOMPARE(p.head, int64_t(48 * 48 + 48 + 2 * 48 + 2));
        // the backbone count from config.json equals the loaded model's tensor count
        auto model = EncoderClassifier::load(fixture("roberta/model"));
        QCOMPARE(p.backbone, model->backbone_param_count());
        try {
            summarize_model(tmp.path().toStdString());
            QFAIL("an empty directory is no model");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("config.json") != std::string::npos, e.what());
        }
    }

    // A BERT checkpoint without a pooler: ptune draws one, so PEFT's files would compute something else; a run
    // that PEFT could otherwise express says once why it wrote none (P-Tuning v2 and LoRA alike).
    void randomPoolerRunSaysWhyNoPeftFiles() {
        const std::string d = tmp.path().toStdString() + "/nopooler";
        fs::create_directories(d);
        for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"})
            fs::copy_file(fixture(std::string("bert/model/") + f), d + "/" + f, fs::copy_options::overwrite_existing);
        std::vector<std::pair<std::string, at::Tensor>> kept;
        for (auto& [n, t] : load_all(fixture("bert/model/model.safetensors")))
            if (n.find("pooler") == std::string::npos) kept.push_back({n, t});
        save_tensors(d + "/model.safetensors", kept);
        Store store(db());
        for (const char* method : {"ptv2", "lora"}) {
            ExperimentSpec spec;
            spec.model = d;
            spec.data.train = fixture("data.tsv");
            spec.method.name = method;
            spec.method.prefix.prompt_len = 2;
            spec.train.steps = 1;
            spec.train.epochs = 0;
            spec.train.batch_size = 4;
            spec.train.max_len = 16;
            spec.out_dir = tmp.path().toStdString() + "/nopooler-" + method;
            Obs obs;
            RunOutcome o = Runner().run(spec, store, &obs);
            QVERIFY2(o.status == "completed", o.reason.c_str());
            QVERIFY(!o.peft_exported);
            QVERIFY(!fs::exists(o.adapter_dir + "/adapter_config.json"));
            int said = 0;
            for (auto& m : obs.messages)
                if (m.find("no PEFT files written to " + o.adapter_dir) != std::string::npos) {
                    ++said;
                    QVERIFY2(m.find("no pooler") != std::string::npos, m.c_str());
                }
            QCOMPARE(said, 1);
        }
    }

    // A DistilBERT model trains with P-Tuning v2, LoRA and full fine-tuning. Its adapters use its own names: PEFT's
    // LORA lists q_lin/lin2 (given by those names) and keeps pre_classifier, and reads back to the trained logits; the full fine-tuning
    // adapter stores the checkpoint's names; a prefix gets no PEFT files (transformers' DistilBERT takes no
    // past_key_values), and the run and the export say so.
    void distilbertRunsAndExports() {
        const std::string d = tmp.path().toStdString() + "/distilbert";
        make_distilbert_from_bert(fixture("bert/model"), d);
        Store store(db());
        for (const char* method : {"ptv2", "lora", "full"}) {
            const std::string m = method;
            ExperimentSpec spec;
            spec.model = d;
            spec.data.train = fixture("data.tsv");
            spec.method.name = m;
            spec.method.prefix.prompt_len = 4;
            spec.train.steps = 8;
            spec.train.epochs = 0;
            spec.train.batch_size = 8;
            spec.train.max_len = 24;
            spec.train.lr = m == "full" ? 1e-3 : 1e-2;
            if (m == "lora") spec.method.delta.target_modules = {"q_lin", "ffn.lin2"};   // DistilBERT's own names
            spec.out_dir = tmp.path().toStdString() + "/distilbert-" + m;
            Obs obs;
            RunOutcome o = Runner().run(spec, store, &obs);
            QVERIFY2(o.status == "completed", o.reason.c_str());
            QCOMPARE(int(store.metrics(o.run_id, "train/loss").size()), 8);
            QCOMPARE(store.run(o.run_id)->trainable_params, count_params(spec, 2).trainable());
            if (m == "ptv2") {
                QVERIFY(!o.peft_exported);
                QVERIFY(!fs::exists(o.adapter_dir + "/adapter_config.json"));
                bool said = false;
                for (auto& msg : obs.messages)
                    said |= msg.find("no PEFT files written to " + o.adapter_dir) != std::string::npos &&
                            msg.find("past_key_values") != std::string::npos;
                QVERIFY(said);
                try {
                    export_run(store, o.run_id, "peft", tmp.path().toStdString() + "/distilbert-peft");
                    QFAIL("a DistilBERT prefix has no PEFT form");
                } catch (const Error& e) {
                    QVERIFY2(std::string(e.what()).find("DistilBERT") != std::string::npos, e.what());
                }
                continue;
            }
            auto model = EncoderClassifier::load(d, 2, 0);
            MethodAdapter a = load_method_adapter(o.adapter_dir, *model);
            apply_method_adapter(*model, a);
            auto tok = Tokenizer::from_dir(d);
            std::vector<std::vector<int64_t>> ids;
            for (const char* t : {"return the value of x", "an ordinary sentence about nothing", "returns a list"})
                ids.push_back(tok->encode(t, std::nullopt, true, 24).ids);
            at::NoGradGuard g;
            Batch b = make_batch(ids, tok->pad_id());
            at::Tensor want = model->forward(b, a.delta ? a.delta->adaptation(false) : Adaptation{}, false);
            if (m == "full") {
                auto stored = load_all(o.adapter_dir + "/ptune_adapter.safetensors");
                QVERIFY(stored.count("backbone.distilbert.transformer.layer.0.attention.q_lin.weight"));
                QVERIFY(stored.count("backbone.distilbert.transformer.layer.1.ffn.lin2.weight"));
                auto base = EncoderClassifier::load(d, 2, 0);
                QVERIFY(!at::allclose(base->forward(b, Adaptation{}, false), want));
                continue;
            }
            QVERIFY(o.peft_exported);
            PeftAdapter pa = PeftAdapter::load(o.adapter_dir);
            QCOMPARE(pa.config["target_modules"], json({"q_lin", "lin2"}));
            QCOMPARE(pa.config["modules_to_save"], json({"pre_classifier", "classifier", "score"}));
            QVERIFY(pa.tensors.count("base_model.model.distilbert.transformer.layer.1.ffn.lin2.lora_B.weight"));
            QVERIFY(pa.tensors.count("base_model.model.pre_classifier.weight"));
            PeftDelta pd = peft_delta_from(pa, model->config());
            auto fresh = EncoderClassifier::load(d, 2, 0);
            apply_head(*fresh, pd.head);
            const double diff = (fresh->forward(b, pd.adaptation(), false) - want).abs().max().item<double>();
            QVERIFY2(diff < 1e-6, std::to_string(diff).c_str());
        }
    }

    // Two labels: the runner names the positive one (label 1) for the "f1_pos" metric, in the events and the store;
    // f1_pos as the selection metric needs two labels.
    void binaryRunNamesItsPositiveLabel() {
        Store store(db());
        ExperimentSpec spec;
        spec.model = fixture("bert/model");
        spec.data.train = fixture("data.tsv");
        spec.method.prefix.prompt_len = 2;
        spec.train.steps = 2;
        spec.train.epochs = 0;
        spec.train.eval_every = 2;
        spec.train.batch_size = 4;
        spec.train.max_len = 16;
        spec.train.metric = "f1_pos";
        Obs obs;
        RunOutcome o = Runner().run(spec, store, &obs);
        QVERIFY2(o.status == "completed", o.reason.c_str());
        QCOMPARE(o.positive_label, std::string("returns"));
        QVERIFY(!obs.evals.empty());
        QCOMPARE(obs.evals.back().positive_label, std::string("returns"));
        QVERIFY(obs.evals.back().metrics.count("f1_pos"));
        QVERIFY(o.best_metrics.count("f1_pos"));
        json best = json::parse(store.run(o.run_id)->best_metrics_json);
        QCOMPARE(best["positive_label"].get<std::string>(), std::string("returns"));
        QVERIFY(best["f1"].is_number());   // the stored keys stay as they were
        // three labels: refused before training, naming the metric
        const std::string three = tmp.path().toStdString() + "/three.tsv";
        {
            std::ofstream f(three);
            f << "sentence\tlabel\n";
            for (int i = 0; i < 12; ++i) f << "text " << i << "\t" << (i % 3) << "\n";
        }
        spec.data.train = three;
        RunOutcome t = Runner().run(spec, store, &obs);
        QCOMPARE(t.status, std::string("failed"));
        QVERIFY2(t.reason.find("f1_pos") != std::string::npos, t.reason.c_str());
    }
};

QTEST_APPLESS_MAIN(TstRunner)
#include "tst_runner.moc"
