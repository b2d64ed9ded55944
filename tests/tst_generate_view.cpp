// The Generate tab: a causal LM with a PEFT prefix adapter against its base model, streamed from the worker
// thread. The adapted continuation of the reference Llama model equals the one transformers + PEFT computed
// (tests/fixtures/llama/expected.json); the base one equals the engine's own (whose logits tst_decoder checks);
// stored causal-LM runs fill the form; bad models and adapters are refused with the reason and nothing crashes.
#include <QCheckBox>
#include <QComboBox>
#include <QGroupBox>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>

#include "core/io/json_util.h"
#include "core/text/tokenizer.h"
#include "experiments/generation.h"
#include "experiments/spec.h"
#include "experiments/store.h"
#include "ui/generate_view.h"

using namespace ptune;
using namespace ptune::ui;

namespace {

std::string fixture(const std::string& rel) { return std::string(PTUNE_FIXTURES) + "/" + rel; }

// Runs one press of Generate to its end.
bool generate_and_wait(GenerateView& v) {
    QSignalSpy done(&v, &GenerateView::finished);
    if (!v.generate()) return false;
    return done.wait(120000) || done.size() == 1;
}

}  // namespace

class TestGenerateView : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void adaptedAndBaseContinuations() {
        const json exp = read_json_file(fixture("llama/expected.json"))["greedy10_prefix_p4"];
        const std::string prompt = exp["prompt"].get<std::string>();
        const auto ids = exp["ids"].get<std::vector<int64_t>>();
        auto tok = Tokenizer::from_dir(fixture("llama/model"));
        const size_t prompt_len = tok->encode(prompt).ids.size();
        const std::string expected_adapted =
            tok->decode(std::vector<int64_t>(ids.begin() + (long)prompt_len, ids.end()), true);
        GenerateOptions o;
        o.max_new_tokens = 10;
        const std::string expected_base =
            GenerationSession(fixture("llama/model"), "").generate(prompt, o, false).generated_text;
        QVERIFY(!expected_base.empty());

        GenerateView v;
        v.show();
        v.set_model(QString::fromStdString(fixture("llama/model")));
        QVERIFY2(v.blocked_reason() == "Type a prompt", qPrintable(v.blocked_reason()));
        v.set_adapter(QString::fromStdString(fixture("llama/adapter_prefix_p4")));
        v.set_prompt(QString::fromStdString(prompt));
        GenerateOptions form = v.options();
        QCOMPARE(form.do_sample, false);   // the fixture's generation_config.json samples nothing
        form.max_new_tokens = 10;
        v.set_options(form);
        QVERIFY(v.blocked_reason().isEmpty());
        QVERIFY(generate_and_wait(v));
        QVERIFY2(v.message().isEmpty(), qPrintable(v.message()));
        QCOMPARE(v.output(GenerateView::Adapted).toStdString(), expected_adapted);
        QCOMPARE(v.output(GenerateView::Base).toStdString(), expected_base);
        QVERIFY(v.stats(GenerateView::Adapted).startsWith("10 new tokens"));
        QVERIFY(v.stats(GenerateView::Adapted).endsWith("reached max new tokens"));
        QVERIFY(v.stats(GenerateView::Base).contains("tokens/s"));
        QCOMPARE(v.findChild<QLineEdit*>("generate_adapter")->text().isEmpty(), false);
        bool titled = false;
        for (auto* b : v.findChildren<QGroupBox*>()) titled = titled || b->title() == "With prefix (P = 4)";
        QVERIFY(titled);
        QVERIFY(!v.busy());

        // Again, the model kept loaded, without the base model: the base pane says why it is empty.
        for (auto* c : v.findChildren<QCheckBox*>())
            if (c->text() == "Also the base model") c->setChecked(false);
        QVERIFY(generate_and_wait(v));
        QCOMPARE(v.output(GenerateView::Adapted).toStdString(), expected_adapted);
        QVERIFY(v.output(GenerateView::Base).isEmpty());
        QVERIFY(v.stats(GenerateView::Base).startsWith("not generated"));

        // Without an adapter: the base model alone.
        v.set_adapter("");
        QVERIFY(generate_and_wait(v));
        QCOMPARE(v.output(GenerateView::Base).toStdString(), expected_base);
        QVERIFY(v.output(GenerateView::Adapted).isEmpty());
    }

    // Cancelling ends a generation after the token in progress; Stop in the view does the same.
    void stopEndsGeneration() {
        GenerationSession s("builtin-decoder", "");
        GenerateOptions o;
        o.max_new_tokens = 50;
        o.ignore_eos = true;
        CancelFlag cancel;
        int tokens = 0;
        Generation g = s.generate("Review : a fine film Sentiment : ", o, false,
                                  [&](int64_t id, const std::string&) {
                                      if (id >= 0 && ++tokens == 3) cancel.cancel();
                                  },
                                  &cancel);
        QCOMPARE(g.new_tokens, int64_t(3));
        QCOMPARE(g.stop_reason, std::string("cancelled"));

        GenerateView v;
        v.set_model("builtin-decoder");
        v.set_prompt("Review : a fine film Sentiment : ");
        o.max_new_tokens = 4096;
        v.set_options(o);
        QSignalSpy done(&v, &GenerateView::finished);
        QVERIFY(v.generate());
        QVERIFY(v.busy());
        QVERIFY(!v.findChild<QPushButton*>("generate_button")->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(!v.output(GenerateView::Base).isEmpty(), 60000);
        v.findChild<QPushButton*>("generate_stop")->click();
        QVERIFY(done.wait(60000) || done.size() == 1);
        QVERIFY2(v.stats(GenerateView::Base).endsWith("stopped"), qPrintable(v.stats(GenerateView::Base)));
        QVERIFY(v.findChild<QPushButton*>("generate_button")->isEnabled());
    }

    // The Run list offers the stored causal-LM runs with a saved prefix; picking one fills the model, the adapter
    // and the prompt from the run's template. Other runs are refused with the reason.
    void storedRunsFillTheForm() {
        QTemporaryDir tmp;
        Store store(tmp.filePath("runs.sqlite").toStdString());
        ExperimentSpec spec;
        spec.task = "causal-lm";
        spec.model = fixture("llama/model");
        spec.data.prompt_template = "Tweet text : {text} Label : ";
        spec.train.metric = "exact_match";
        RunRecord r;
        r.name = "llama prefix";
        r.spec_json = spec.to_json().dump();
        r.method = "ptv2";
        r.prompt_len = 4;
        const int64_t id = store.create_run(r);
        store.finish_run(id, "completed", "", "{}", "{}", -1);
        store.add_artifact(id, {"peft_adapter", fixture("llama/adapter_prefix_p4"), 0});
        RunRecord cls;
        cls.name = "a classifier";
        cls.spec_json = ExperimentSpec{}.to_json().dump();
        const int64_t cls_id = store.create_run(cls);
        store.finish_run(cls_id, "completed", "", "{}", "{}", -1);
        RunRecord failed = r;
        failed.name = "failed causal lm";
        const int64_t failed_id = store.create_run(failed);
        store.finish_run(failed_id, "failed", "out of memory", "{}", "{}", -1);

        GenerateView v;
        v.set_store(&store);
        QCOMPARE(v.run_count(), 1);
        auto* runs = v.findChild<QComboBox*>("generate_run");
        QVERIFY(runs->itemText(1).startsWith(QString("#%1 llama prefix").arg(id)));
        QVERIFY(v.select_run(id));
        QCOMPARE(v.findChild<QLineEdit*>("generate_model")->text().toStdString(), fixture("llama/model"));
        QCOMPARE(v.findChild<QLineEdit*>("generate_adapter")->text().toStdString(), fixture("llama/adapter_prefix_p4"));
        QCOMPARE(v.request().prompt, std::string("Tweet text :  Label : "));
        QCOMPARE(runs->currentData().toLongLong(), id);

        QVERIFY(!v.select_run(cls_id));
        QVERIFY2(v.message().contains("not a causal LM's prefix"), qPrintable(v.message()));
        QVERIFY(!v.select_run(failed_id));
        QVERIFY2(v.message().contains("failed (out of memory)"), qPrintable(v.message()));
        QCOMPARE(v.findChild<QLineEdit*>("generate_adapter")->text().toStdString(), fixture("llama/adapter_prefix_p4"));
        store.delete_run(id);
        v.refresh_runs();
        QCOMPARE(v.run_count(), 0);
    }

    // An encoder, a missing directory, an adapter of another model: refused with the reason; the view stays usable.
    void badModelsAndAdaptersSayWhy() {
        GenerateView v;
        v.set_prompt("hello");
        v.set_model("/nonexistent/model");
        QVERIFY2(v.blocked_reason().contains("/nonexistent/model"), qPrintable(v.blocked_reason()));
        QVERIFY(!v.findChild<QPushButton*>("generate_button")->isEnabled());
        QVERIFY(!v.generate());
        v.set_model(QString::fromStdString(fixture("bert/model")));
        QVERIFY2(v.blocked_reason().contains("generation needs a causal LM"), qPrintable(v.blocked_reason()));
        // GPT-2's prefix on the Llama model: the geometry does not fit.
        v.set_model(QString::fromStdString(fixture("llama/model")));
        v.set_adapter(QString::fromStdString(fixture("gpt2/adapter_prefix_p4")));
        QVERIFY(v.blocked_reason().isEmpty());
        QVERIFY(generate_and_wait(v));
        QVERIFY2(v.message().contains("adapter_config.json") || v.message().contains("adapter_model.safetensors"),
                 qPrintable(v.message()));
        QVERIFY(v.output(GenerateView::Base).isEmpty());
        // Fixed, it generates.
        v.set_adapter(QString::fromStdString(fixture("llama/adapter_prefix_p4")));
        GenerateOptions o = v.options();
        o.max_new_tokens = 3;
        o.ignore_eos = true;
        v.set_options(o);
        QVERIFY(generate_and_wait(v));
        QVERIFY2(v.message().isEmpty(), qPrintable(v.message()));
        QVERIFY(v.stats(GenerateView::Adapted).startsWith("3 new tokens"));
    }
};

QTEST_MAIN(TestGenerateView)
#include "tst_generate_view.moc"
