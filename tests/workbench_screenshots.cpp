// Takes the documentation's screenshots of the real workbench (scripts/screenshots.sh runs it under Xvfb): it
// queues real runs of the built-in experiment from the setup form (three seeds of P-Tuning v2 with P = 16 and
// one with P = 4 in the last two layers), grabs the Training view while a run trains, measures latency from the
// window, runs the methods suite (every method, three seeds) and grabs every view, the method comparison too,
// then trains the built-in decoder's prefix and generates with it. Not a test: it writes PNG files into the
// folder given as its argument.
#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QPalette>
#include <QScreen>
#include <QTabWidget>
#include <QTableView>
#include <QThread>
#include <QTimer>
#include <cstdio>

#include "experiments/runner.h"
#include "ui/compare_view.h"
#include "ui/generate_view.h"
#include "ui/inspect_view.h"
#include "ui/latency_view.h"
#include "ui/main_window.h"
#include "ui/methods_view.h"
#include "ui/run_queue.h"
#include "ui/runs_browser.h"
#include "ui/setup_panel.h"
#include "ui/training_view.h"

using namespace ptune;
using namespace ptune::ui;

namespace {

// Runs the event loop for `ms`, sleeping between events: a loop that spins on processEvents() would take a
// core from the worker thread (and show in the latency the window measures).
void pump(int ms) {
    QEventLoop loop;
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);
    loop.exec();
}

bool wait_until(const std::function<bool()>& cond, int timeout_ms) {
    QElapsedTimer t;
    t.start();
    while (!cond()) {
        if (t.elapsed() > timeout_ms) return false;
        pump(50);
    }
    return true;
}

void shot(MainWindow& w, const QString& dir, const QString& name) {
    pump(300);   // let the coalesced redraws land
    const QString path = QDir(dir).filePath(name + ".png");
    // The whole window as the X server shows it (frame excluded), else the widget's own rendering.
    QPixmap pm;
    if (QScreen* s = w.screen()) pm = s->grabWindow(w.winId());
    if (pm.isNull() || pm.width() < 100) pm = w.grab();
    if (!pm.save(path)) std::fprintf(stderr, "cannot write %s\n", qPrintable(path));
    std::printf("%s (%dx%d)\n", qPrintable(path), pm.width(), pm.height());
}

}  // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName("ptune-screenshots");
    QApplication::setApplicationName("ptune-workbench");
    if (argc < 3) {
        std::fprintf(stderr, "usage: workbench_screenshots OUT_DIR DB_FILE [ner|qa|choice]   (only the token-classification, "
                             "QA or multiple-choice shots)\n");
        return 2;
    }
    const QString out = argv[1], db = argv[2];
    const QString only = argc > 3 ? QString(argv[3]) : QString();   // ner, qa or choice: that task's shots alone
    QDir().mkpath(out);
    MainWindow w(db);
    w.resize(1440, 940);
    w.show();
    pump(500);

    // One task's shots from the form: the setup with its preview (setup-<tag>), a real run's Training view with the
    // task's metric (training-<tag>) and, where the task has one, the inspection of the saved adapter (inspect-<tag>).
    auto task_shots = [&](const ExperimentSpec& n, const char* tag, const char* metric, bool inspect) {
        w.setup()->set_spec(n);
        w.tabs()->setCurrentWidget(w.setup());
        if (!wait_until([&] { return !w.setup()->checks_pending(); }, 20000)) return false;
        pump(300);
        shot(w, out, QString("setup-") + tag);
        const int64_t id = w.start_run();
        if (id == 0) {
            std::fprintf(stderr, "could not start the %s run: %s\n", tag, qPrintable(w.setup()->errors().join("; ")));
            return false;
        }
        if (!wait_until([&] { return !w.queue()->busy(); }, 600000)) return false;
        pump(500);
        w.runs()->select_runs({id});
        pump(300);
        w.training()->set_metric(metric);
        w.tabs()->setCurrentWidget(w.training());
        pump(300);
        shot(w, out, QString("training-") + tag);
        if (!inspect) return true;
        // What it gets wrong: the validation rows, gold against predicted, errors first.
        InspectView* in = w.inspect();
        w.tabs()->setCurrentWidget(in);
        bool inspected = false;
        QObject::connect(in, &InspectView::finished, [&] { inspected = true; });
        if (!in->select_run(id) || !in->inspect() || !wait_until([&] { return inspected; }, 120000)) return false;
        pump(300);
        shot(w, out, QString("inspect-") + tag);
        return true;
    };

    // The ready-made methods suite from the form's experiment (every run measures its inference latency after
    // training), then Compare's Methods page over it (shot <tag>); the suite's runs, none when it failed.
    auto methods_suite_shot = [&](const std::vector<uint64_t>& seeds, const char* tag) {
        const std::vector<int64_t> suite = w.start_suite("methods", seeds);
        if (suite.empty()) std::fprintf(stderr, "could not start the methods suite (%s)\n", tag);
        if (suite.empty() || !wait_until([&] { return !w.queue()->busy(); }, 1800000)) return std::vector<int64_t>{};
        w.tabs()->setCurrentWidget(w.runs());
        w.runs()->select_runs(suite);
        Q_EMIT w.runs()->compare_requested(QList<qint64>(suite.begin(), suite.end()));
        w.compare()->show_page(true);
        shot(w, out, tag);
        return suite;
    };

    // Token classification: the project's small NER set (tests/fixtures/ner); the preview shows the sentences with
    // their tags, the Training view the entity F1 per evaluation.
    if (only.isEmpty() || only == "ner") {
        ExperimentSpec n;
        n.name = "NER: items and aspects (P-Tuning v2, P = 8)";
        n.task = "token-cls";
        n.data.train = PTUNE_FIXTURES "/ner/train.conll";
        n.data.valid = PTUNE_FIXTURES "/ner/valid.conll";
        n.method.prefix.prompt_len = 8;
        n.train.lr = 0.03;
        n.train.epochs = 12;
        n.train.batch_size = 16;
        n.train.max_len = 64;
        n.train.metric = "entity_f1";
        n.tags = {"screenshots"};
        if (!task_shots(n, "ner", "eval/entity_f1", true)) return 1;
        // Every method on the same NER set: the ready-made methods suite from the form, one seed; Compare's Methods
        // page over it.
        if (methods_suite_shot({1}, "compare-methods-ner").empty()) return 1;
    }
    // Extractive QA: the project's SQuAD 2.0 set (tests/fixtures/qa); the preview shows questions with their answers
    // in the context, the Training view the SQuAD F1 per evaluation.
    if (only.isEmpty() || only == "qa") {
        ExperimentSpec n;
        n.name = "QA: items and aspects, SQuAD 2.0 (P-Tuning v2, P = 16)";
        n.task = "qa";
        n.data.train = PTUNE_FIXTURES "/qa/train-v2.json";
        n.data.valid = PTUNE_FIXTURES "/qa/valid-v2.json";
        n.method.prefix.prompt_len = 16;
        n.train.lr = 0.03;
        n.train.epochs = 20;
        n.train.batch_size = 16;
        n.train.max_len = 48;
        n.train.metric = "qa_f1";
        n.tags = {"screenshots"};
        if (!task_shots(n, "qa", "eval/qa_f1", true)) return 1;
    }
    // Multiple choice: the project's COPA-style set (tests/fixtures/choice); the preview shows each question's
    // choices with the right one, the Training view the accuracy per evaluation.
    if (only.isEmpty() || only == "choice") {
        ExperimentSpec n;
        n.name = "Choice: the positive review (P-Tuning v2, P = 8)";
        n.task = "choice";
        n.data.train = PTUNE_FIXTURES "/choice/train.jsonl";
        n.data.valid = PTUNE_FIXTURES "/choice/valid.jsonl";
        n.method.prefix.prompt_len = 8;
        n.train.lr = 0.05;
        n.train.epochs = 6;
        n.train.batch_size = 16;
        n.train.max_len = 64;
        n.train.metric = "accuracy";
        n.tags = {"screenshots"};
        if (!task_shots(n, "choice", "eval/accuracy", false)) return 1;
    }
    if (!only.isEmpty()) return 0;

    ExperimentSpec base = ExperimentSpec::load(QDir(QString::fromStdString(resolve_model_dir("builtin")))
                                                   .filePath("../experiment.json")
                                                   .toStdString());
    base.name.clear();
    base.tags = {"screenshots"};
    std::vector<ExperimentSpec> specs;
    for (uint64_t seed : {1, 2, 3}) {
        ExperimentSpec s = base;
        s.train.seed = seed;
        specs.push_back(s);
    }
    ExperimentSpec shallow = base;
    shallow.method.prefix.prompt_len = 4;
    shallow.method.prefix.layers = LayerSpec::parse("last:2");
    shallow.train.seed = 1;
    specs.push_back(shallow);

    // Each spec goes through the setup form, as a user's Run would.
    for (const ExperimentSpec& s : specs) {
        w.setup()->set_spec(s);
        if (!wait_until([&] { return !w.setup()->checks_pending(); }, 20000) || w.start_run() == 0) {
            std::fprintf(stderr, "could not start a run: %s\n", qPrintable(w.setup()->errors().join("; ")));
            return 1;
        }
    }
    w.tabs()->setCurrentWidget(w.setup());
    shot(w, out, "setup");

    // The Training view mid-run: the third run, halfway.
    const auto ids = Store(db.toStdString()).runs();
    wait_until([&] { return w.queue()->current() == ids[1].id && w.training()->curve("train/loss").size() > 100; }, 300000);
    w.tabs()->setCurrentWidget(w.training());
    shot(w, out, "training-live");
    if (!wait_until([&] { return !w.queue()->busy(); }, 600000)) return 1;
    pump(500);

    // A finished run, latency measured from the window.
    const int64_t first = Store(db.toStdString()).runs().back().id;
    w.runs()->select_runs({first});
    pump(300);
    w.tabs()->setCurrentWidget(w.training());
    shot(w, out, "training");
    // The run with prompts in the last two layers only: the heat map's grey bands are the layers without.
    const int64_t shallow_id = Store(db.toStdString()).runs().front().id;
    w.runs()->select_runs({shallow_id});
    pump(300);
    shot(w, out, "training-shallow");
    w.runs()->select_runs({first});
    pump(300);
    w.tabs()->setCurrentWidget(w.latency());
    LatencySweep sweep = w.latency()->sweep();
    sweep.seq_lens = {16, 32, 64, 128};
    sweep.prompt_lens = {4, 8, 16, 32};
    sweep.prompt_sweep_seq_len = 64;
    sweep.repeats = 30;
    Q_EMIT w.latency()->measure_requested(first, sweep);
    pump(200);
    if (!wait_until([&] { return !w.queue()->busy(); }, 300000)) return 1;
    shot(w, out, "latency");

    // The runs browser with everything, and the comparison of all four.
    w.tabs()->setCurrentWidget(w.runs());
    std::vector<int64_t> all;
    for (auto& r : Store(db.toStdString()).runs()) all.push_back(r.id);
    w.runs()->select_runs(all);
    shot(w, out, "runs");
    Q_EMIT w.runs()->compare_requested(QList<qint64>(all.begin(), all.end()));
    w.compare()->show_page(false);
    shot(w, out, "compare");

    // The method comparison: the methods suite on the built-in experiment, three seeds each.
    w.setup()->set_spec(base);
    if (!wait_until([&] { return !w.setup()->checks_pending(); }, 20000)) return 1;
    const std::vector<int64_t> suite = methods_suite_shot({1, 2, 3}, "compare-methods");
    if (suite.empty()) return 1;
    w.compare()->methods_view()->set_bars(MethodsView::Bars::Overhead);
    w.compare()->methods_view()->set_scatter_x(MethodsView::ScatterX::Overhead);
    shot(w, out, "compare-methods-overhead");
    w.compare()->methods_view()->set_bars(MethodsView::Bars::Metric);
    w.compare()->methods_view()->set_scatter_x(MethodsView::ScatterX::Trainable);
    // A LoRA run of the suite in the Latency tab: base, unmerged and merged.
    for (int64_t id : suite) {
        auto r = Store(db.toStdString()).run(id);
        if (r && r->method == "lora") {
            w.runs()->select_runs({id});
            pump(300);
            w.tabs()->setCurrentWidget(w.latency());
            LatencySweep lora = w.latency()->sweep();
            lora.seq_lens = {16, 32, 64, 128};
            lora.batch_size = 8;
            lora.repeats = 30;
            Q_EMIT w.latency()->measure_requested(id, lora);
            pump(200);
            if (!wait_until([&] { return !w.queue()->busy(); }, 300000)) return 1;
            break;
        }
    }
    w.tabs()->setCurrentWidget(w.latency());
    shot(w, out, "latency-lora");

    // A causal LM: the built-in decoder learns to answer each review with its label word (the built-in causal-LM
    // experiment of `ptune train --task causal-lm`).
    {
        ExperimentSpec c;
        c.name = "built-in decoder: review -> sentiment word";
        c.task = "causal-lm";
        c.model = "builtin-decoder";
        c.data.prompt_template = "Review : {text} Sentiment : ";
        c.method.prefix.prompt_len = 64;
        c.train.lr = 0.1;
        c.train.epochs = 10;
        c.train.batch_size = 16;
        c.train.max_len = 48;
        c.train.metric = "exact_match";
        c.tags = {"screenshots"};
        w.setup()->set_spec(c);
        w.tabs()->setCurrentWidget(w.setup());
        if (!wait_until([&] { return !w.setup()->checks_pending(); }, 20000)) return 1;
        pump(300);
        shot(w, out, "setup-causal-lm");
        const int64_t id = w.start_run();
        if (id == 0) {
            std::fprintf(stderr, "could not start the causal-LM run: %s\n", qPrintable(w.setup()->errors().join("; ")));
            return 1;
        }
        if (!wait_until([&] { return !w.queue()->busy(); }, 600000)) return 1;
        pump(500);
        w.runs()->select_runs({id});
        pump(300);
        w.tabs()->setCurrentWidget(w.training());
        shot(w, out, "training-causal-lm");
        // The Generate tab on that run: a review of the validation kind, the base model against the prefix.
        GenerateView* g = w.generate();
        if (!g->select_run(id)) {
            std::fprintf(stderr, "Generate refused run %lld: %s\n", (long long)id, qPrintable(g->message()));
            return 1;
        }
        g->set_prompt("Review : the cast seemed lovely and i will go back . Sentiment : ");
        w.tabs()->setCurrentWidget(g);
        bool done = false;
        QObject::connect(g, &GenerateView::finished, [&] { done = true; });
        if (!g->generate() || !wait_until([&] { return done; }, 120000)) return 1;
        pump(300);
        shot(w, out, "generate");
        // Its latency in generation's two phases, measured from the window; shown per new token.
        w.runs()->select_runs({id});
        pump(300);
        w.tabs()->setCurrentWidget(w.latency());
        LatencySweep gen_sweep = w.latency()->sweep();
        gen_sweep.seq_lens = {16, 32, 64, 128};
        gen_sweep.prompt_lens = {16, 32, 64, 128};
        gen_sweep.prompt_sweep_seq_len = 64;
        gen_sweep.repeats = 20;
        Q_EMIT w.latency()->measure_requested(id, gen_sweep);
        pump(200);
        if (!wait_until([&] { return !w.queue()->busy(); }, 300000)) return 1;
        pump(300);
        shot(w, out, "latency-causal-lm");
        w.latency()->set_phase("per_token");
        pump(300);
        shot(w, out, "latency-causal-lm-per-token");
    }

    // A dark desktop palette: every view follows it (charts restyle on QEvent::PaletteChange).
    QPalette dark;
    dark.setColor(QPalette::Window, QColor(45, 45, 48));
    dark.setColor(QPalette::WindowText, QColor(230, 230, 230));
    dark.setColor(QPalette::Base, QColor(30, 30, 32));
    dark.setColor(QPalette::AlternateBase, QColor(45, 45, 48));
    dark.setColor(QPalette::Text, QColor(230, 230, 230));
    dark.setColor(QPalette::Button, QColor(55, 55, 58));
    dark.setColor(QPalette::ButtonText, QColor(230, 230, 230));
    dark.setColor(QPalette::Highlight, QColor(42, 130, 218));
    dark.setColor(QPalette::HighlightedText, Qt::white);
    dark.setColor(QPalette::ToolTipBase, QColor(30, 30, 32));
    dark.setColor(QPalette::ToolTipText, QColor(230, 230, 230));
    dark.setColor(QPalette::PlaceholderText, QColor(150, 150, 150));
    QApplication::setStyle("Fusion");
    QApplication::setPalette(dark);
    w.runs()->select_runs({first});
    w.tabs()->setCurrentWidget(w.training());
    shot(w, out, "training-dark");
    return 0;
}
