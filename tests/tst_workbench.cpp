// The workbench as a user drives it, offscreen: fill the setup form (including clicks on the layer strip),
// press Run, watch the run finish, and check what the charts hold against the database; cancel a run mid-way;
// measure latency from the window; refuse bad input with a message naming it; reopen the database and find the
// runs. The window is the real MainWindow with its real worker thread.
#include <QAction>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QLineEdit>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QStandardItemModel>
#include <QtTest>
#include <cmath>
#include <fstream>
#include <set>

#include "experiments/runner.h"
#include "experiments/suite.h"
#include "ui/compare_view.h"
#include "ui/generate_view.h"
#include "ui/inspect_view.h"
#include "ui/latency_view.h"
#include "ui/layer_strip.h"
#include "ui/main_window.h"
#include "ui/methods_view.h"
#include "ui/run_queue.h"
#include "ui/runs_browser.h"
#include "ui/runs_model.h"
#include "ui/setup_panel.h"
#include "ui/training_view.h"

using namespace ptune;
using namespace ptune::ui;

namespace {

template <class W>
W* child(QWidget* parent, const char* name) {
    W* w = parent->findChild<W*>(name);
    if (!w) qFatal("no child widget %s", name);
    return w;
}

void wait_checks(SetupPanel* s) {
    QTRY_VERIFY_WITH_TIMEOUT(!s->checks_pending(), 20000);
}

// Sets a spin box as a user would: select all, type the number, press Enter.
void type_into(QAbstractSpinBox* box, int value) {
    box->setFocus();
    box->selectAll();
    QTest::keyClicks(box, QString::number(value));
    QTest::keyClick(box, Qt::Key_Enter);
}

void click_layer(LayerStrip* strip, int layer) {
    QTest::mouseClick(strip, Qt::LeftButton, Qt::NoModifier, strip->cell_rect(layer).center());
}

// Fills the form for a short run on the built-in model and data: P = 8 in the last two layers, `steps` steps.
void fill_form(MainWindow& w, int steps, const QString& name) {
    SetupPanel* s = w.setup();
    wait_checks(s);
    child<QLineEdit>(s, "model")->setText("builtin");   // the last setup may be another test's
    child<QLineEdit>(s, "train")->setText("builtin");
    wait_checks(s);
    QLineEdit* nm = child<QLineEdit>(s, "name");
    nm->clear();
    QTest::keyClicks(nm, name);
    type_into(child<QSpinBox>(s, "prompt_len"), 8);
    child<QComboBox>(s, "length_mode")->setCurrentIndex(1);   // steps
    type_into(child<QSpinBox>(s, "length"), steps);
    type_into(child<QSpinBox>(s, "max_len"), 32);
    type_into(child<QSpinBox>(s, "batch_size"), 16);
    child<QDoubleSpinBox>(s, "lr")->setValue(0.02);
    // Depth on the strip: the built-in model has 4 layers, all selected by default; clicking 0 and 1 leaves 2 and 3.
    LayerStrip* strip = s->layer_strip();
    QCOMPARE(strip->layer_count(), 4);
    strip->set_selected({0, 1, 2, 3});
    click_layer(strip, 0);
    click_layer(strip, 1);
    QCOMPARE(strip->selected(), std::vector<int>({2, 3}));
    wait_checks(s);
}

// File ▸ New Experiment (the form's defaults, whatever the last session left in it), then the built-in model on a
// training and a validation file of the project's fixtures, under `name`.
SetupPanel* new_experiment_on(MainWindow& w, const QString& name, const QString& train, const QString& valid) {
    SetupPanel* s = w.setup();
    wait_checks(s);
    for (QAction* a : w.findChildren<QAction*>())
        if (a->objectName() == "new_experiment") a->trigger();
    wait_checks(s);
    QLineEdit* nm = child<QLineEdit>(s, "name");
    nm->clear();
    QTest::keyClicks(nm, name);
    child<QLineEdit>(s, "model")->setText("builtin");
    child<QLineEdit>(s, "train")->setText(QString(PTUNE_FIXTURES) + "/" + train);
    child<QComboBox>(s, "valid_mode")->setCurrentIndex(1);
    child<QLineEdit>(s, "valid")->setText(QString(PTUNE_FIXTURES) + "/" + valid);
    return s;
}

}  // namespace

class TstWorkbench : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;
    QString db() const { return tmp.path() + "/runs.sqlite"; }

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName("ptune-tests");
        QCoreApplication::setApplicationName("tst_workbench");
        QSettings().clear();
    }

    void validatesBeforeRun() {
        MainWindow w(db());
        w.show();
        SetupPanel* s = w.setup();
        wait_checks(s);
        QVERIFY2(s->errors().isEmpty(), qPrintable(s->errors().join("; ")));
        QVERIFY(s->model_summary().has_value());
        QCOMPARE(s->model_summary()->layers, int64_t(4));
        QCOMPARE(s->model_summary()->hidden, int64_t(64));
        QVERIFY(s->preview_rows() > 0);
        QVERIFY(s->data_summary().has_value());
        QCOMPARE(s->data_summary()->train_rows, int64_t(2000));
        QCOMPARE(s->data_summary()->valid_rows, int64_t(400));

        // Prompt parameters: 2 (key, value) * P * H per prompted layer; the head is H * labels + labels.
        type_into(child<QSpinBox>(s, "prompt_len"), 10);
        s->layer_strip()->set_selected({1, 3});
        wait_checks(s);
        QVERIFY(s->param_counts().has_value());
        QCOMPARE(s->param_counts()->prompt, int64_t(2 * 10 * 64 * 2));
        QCOMPARE(s->param_counts()->head, int64_t(64 * 2 + 2));
        QCOMPARE(QString::fromStdString(s->spec().method.prefix.layers.text), QString("1,3"));

        // max length + P beyond the position table (160 for the built-in model) is an error before Run.
        type_into(child<QSpinBox>(s, "max_len"), 155);
        wait_checks(s);
        QVERIFY(!s->errors().isEmpty());
        QVERIFY2(s->errors().join(" ").contains("165 exceeds the 160 positions"), qPrintable(s->errors().join("; ")));
        QVERIFY(!child<QPushButton>(s, "run_button")->isEnabled());
        QCOMPARE(w.start_run(), qint64(0));

        // A missing data file: the message names it, nothing runs.
        type_into(child<QSpinBox>(s, "max_len"), 32);
        QLineEdit* train = child<QLineEdit>(s, "train");
        train->setText(tmp.path() + "/missing.tsv");
        wait_checks(s);
        QVERIFY2(s->errors().join(" ").contains("missing.tsv"), qPrintable(s->errors().join("; ")));
        QCOMPARE(w.start_run(), qint64(0));

        // A bad row names its file and line.
        const QString bad = tmp.path() + "/bad.tsv";
        {
            std::ofstream f(bad.toStdString());
            f << "sentence\tlabel\ngood one\tpos\nbad one\t\nanother\tneg\n";
        }
        train->setText(bad);
        child<QComboBox>(s, "valid_mode")->setCurrentIndex(0);
        wait_checks(s);
        QVERIFY2(s->errors().join(" ").contains("bad.tsv:3"), qPrintable(s->errors().join("; ")));
        QCOMPARE(Store(db().toStdString()).runs().size(), size_t(0));
        train->setText("builtin");
        wait_checks(s);
        QVERIFY2(s->errors().isEmpty(), qPrintable(s->errors().join("; ")));
    }

    void runFromTheForm() {
        MainWindow w(db());
        w.show();
        fill_form(w, 30, "form run");
        QVERIFY2(w.setup()->errors().isEmpty(), qPrintable(w.setup()->errors().join("; ")));

        // Run hands the run to the worker thread and returns: the run is under way and can be cancelled while the
        // GUI thread goes on (its live charts while it trains, and Cancel from the window: cancelMidway).
        QSignalSpy finished(w.queue(), &RunQueue::run_finished);
        QTest::mouseClick(child<QPushButton>(w.setup(), "run_button"), Qt::LeftButton);
        QVERIFY(w.queue()->busy());
        QCOMPARE(finished.size(), 0);
        QVERIFY(w.action("cancel")->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(finished.size() == 1, 180000);
        QCOMPARE(finished[0][1].toString(), QString("completed"));
        const qint64 id = finished[0][0].toLongLong();

        // The database row is the form's spec.
        Store store(db().toStdString());
        auto r = store.run(id);
        QVERIFY(r.has_value());
        QCOMPARE(QString::fromStdString(r->name), QString("form run"));
        QCOMPARE(r->prompt_len, 8);
        QCOMPARE(QString::fromStdString(r->layers), QString("last:2"));
        QCOMPARE(r->status, std::string("completed"));
        QCOMPARE(r->trainable_params, int64_t(2 * 8 * 64 * 2 + 64 * 2 + 2));

        // The live chart holds exactly the stored training loss.
        auto loss = store.metrics(id, "train/loss");
        QCOMPARE(loss.size(), size_t(30));
        QVector<QPointF> curve = w.training()->curve("train/loss");
        QCOMPARE(curve.size(), 30);
        for (int i = 0; i < 30; ++i) {
            QCOMPARE(curve[i].x(), double(loss[(size_t)i].step));
            QCOMPARE(curve[i].y(), loss[(size_t)i].value);
        }
        QCOMPARE(w.training()->curve("eval/loss").size(), int(store.metrics(id, "eval/loss").size()));
        // The heat map: one column per norm report, one row per model layer; layers 0 and 1 carry no prompts.
        auto norms = store.prompt_norms(id);
        QCOMPARE(norms.size(), size_t(30 * 2));
        QCOMPARE(w.training()->heatmap_size(), QSize(30, 4));
        QVERIFY(std::isnan(w.training()->heatmap_value(0, 0, true)));
        QVERIFY(std::isnan(w.training()->heatmap_value(29, 1, false)));
        QCOMPARE(w.training()->heatmap_value(29, 3, true), norms.back().key_norm);
        QCOMPARE(w.training()->heatmap_value(29, 3, false), norms.back().value_norm);
        QCOMPARE(w.progress_value(), 1000);
        QVERIFY2(w.progress_text().contains("completed"), qPrintable(w.progress_text()));

        // The runs browser shows it; the adapter exports in PEFT's layout... (partial depth is refused for PEFT,
        // so ptune's own format here) and a chart exports as an image.
        QCOMPARE(w.runs()->model()->rowCount(), 1);
        const QString out = tmp.path() + "/export";
        QVERIFY_THROWS_EXCEPTION(ptune::Error, export_run(*w.store(), id, "peft", (out + "-peft").toStdString()));
        export_run(*w.store(), id, "ptune", out.toStdString());
        QVERIFY(QFileInfo(out + "/ptune_adapter.json").size() > 0);
        QVERIFY(QFileInfo(out + "/ptune_adapter.safetensors").size() > 0);
        QCOMPARE(w.training()->save_chart("loss", tmp.path() + "/loss.png"), QString());
        QVERIFY(QFileInfo(tmp.path() + "/loss.png").size() > 1000);

        // Latency from the window: the worker measures, the view and the store get the rows.
        LatencyView* lat = w.latency();
        w.runs()->select_runs({id});
        QTRY_COMPARE(lat->run_id(), int64_t(id));
        LatencySweep sweep;
        sweep.seq_lens = {8, 16};
        sweep.prompt_lens = {4, 8};
        sweep.prompt_sweep_seq_len = 16;
        sweep.repeats = 3;
        sweep.warmup = 1;
        QSignalSpy measured(w.queue(), &RunQueue::measure_finished);
        Q_EMIT lat->measure_requested(id, sweep);
        QTRY_VERIFY_WITH_TIMEOUT(measured.size() == 1, 60000);
        QCOMPARE(measured[0][1].toString(), QString("completed"));
        auto rows = Store(db().toStdString()).latency(id);
        // Sequence sweep: base and P=8 at 8 and 16 tokens; prompt sweep at 16 tokens: base, P=4, P=8.
        QCOMPARE(rows.size(), size_t(7));
        QTRY_COMPARE(lat->table_rows(), 5);   // the latest row per configuration (base@16 and P=8@16 were measured twice)
        QVERIFY(std::isfinite(lat->overhead_percent(1, 16, 8)));
    }

    void cancelMidway() {
        MainWindow w(db());
        w.show();
        fill_form(w, 2000, "cancelled run");
        QSignalSpy started(w.queue(), &RunQueue::run_started), finished(w.queue(), &RunQueue::run_finished);
        const qint64 id = w.start_run();
        QVERIFY(id > 0);
        QTRY_VERIFY_WITH_TIMEOUT(w.training()->curve("train/loss").size() >= 5, 60000);
        QVERIFY(w.action("cancel")->isEnabled());
        w.action("cancel")->trigger();
        QTRY_VERIFY_WITH_TIMEOUT(finished.size() == 1, 60000);
        QCOMPARE(finished[0][1].toString(), QString("cancelled"));
        Store store(db().toStdString());
        auto r = store.run(id);
        QCOMPARE(r->status, std::string("cancelled"));
        const size_t done = store.metrics(id, "train/loss").size();
        QVERIFY(done >= 5 && done < 2000);
        // What was done is kept, and the chart has all of it.
        QCOMPARE(w.training()->curve("train/loss").size(), int(done));
        QVERIFY(!w.action("cancel")->isEnabled());
    }

    void layoutRestored() {
        QList<int> sizes;
        {
            MainWindow w(db());
            w.resize(1200, 860);
            w.show();
            QSplitter* sp = w.findChild<QSplitter*>("training_split");
            QVERIFY(sp);
            w.tabs()->setCurrentWidget(w.training());
            QCoreApplication::processEvents();
            QList<int> want = sp->sizes();
            QVERIFY(want.size() >= 2);
            want[0] += 120;
            want[1] -= 120;
            sp->setSizes(want);
            sizes = sp->sizes();
            QVERIFY(w.close());
        }
        MainWindow w(db());
        w.show();
        QCoreApplication::processEvents();
        QCOMPARE(w.size(), QSize(1200, 860));
        QCOMPARE(w.tabs()->currentWidget(), static_cast<QWidget*>(w.training()));
        QCOMPARE(w.findChild<QSplitter*>("training_split")->sizes(), sizes);
    }

    void reopenFindsTheRuns() {
        std::vector<RunRecord> before = Store(db().toStdString()).runs();
        QCOMPARE(before.size(), size_t(2));
        MainWindow w(db());
        w.show();
        QCOMPARE(w.runs()->model()->rowCount(), 2);
        QVERIFY(w.windowTitle().contains("runs.sqlite"));
        // Selecting the completed run loads its series into the charts.
        int64_t completed = 0;
        for (auto& r : before)
            if (r.status == "completed") completed = r.id;
        w.runs()->select_runs({completed});
        QTRY_COMPARE(w.training()->run_id(), completed);
        QCOMPARE(w.training()->curve("train/loss").size(), 30);
        QCOMPARE(w.training()->heatmap_size(), QSize(30, 4));
        // The last setup is restored on start.
        QCOMPARE(QString::fromStdString(w.setup()->spec().name), QString("cancelled run"));
        QCOMPARE(w.setup()->spec().method.prefix.prompt_len, int64_t(8));

        // Another database: empty, and the title says which.
        QVERIFY(w.open_database(tmp.path() + "/other.sqlite"));
        QCOMPARE(w.runs()->model()->rowCount(), 0);
        QVERIFY(w.windowTitle().contains("other.sqlite"));
        QVERIFY(w.open_database(db()));
        QCOMPARE(w.runs()->model()->rowCount(), 2);
    }

    // Two queued runs: the second run's live curve is complete (its first events can arrive before its start
    // signal); a run the queue still holds cannot be deleted; looking at another run during training and
    // coming back shows the live run's whole curve again.
    void queueBrowseAndComeBack() {
        MainWindow w(db());
        w.show();
        fill_form(w, 2000, "first of two");
        QSignalSpy finished(w.queue(), &RunQueue::run_finished);
        const qint64 a = w.start_run();
        QLineEdit* nm = child<QLineEdit>(w.setup(), "name");
        nm->clear();
        QTest::keyClicks(nm, "second of two");
        type_into(child<QSpinBox>(w.setup(), "length"), 60);
        wait_checks(w.setup());
        const qint64 b = w.start_run();
        QVERIFY(a > 0 && b > a);
        QCOMPARE(w.queue()->queued(), std::vector<int64_t>({b}));
        QVERIFY2(!w.runs()->delete_runs({b}).isEmpty(), "a queued run must not be deletable");
        QVERIFY2(!w.runs()->delete_runs({a}).isEmpty(), "the running run must not be deletable");
        QVERIFY(Store(db().toStdString()).run(b).has_value());

        // Look at an earlier run while run a trains, then come back to a: its whole live curve is there.
        QTRY_VERIFY_WITH_TIMEOUT(w.training()->run_id() == a && w.training()->curve("train/loss").size() >= 3, 60000);
        int64_t old_run = 0;
        for (auto& r : Store(db().toStdString()).runs())
            if (r.status == "completed") old_run = r.id;
        w.runs()->select_runs({old_run});
        QTRY_COMPARE(w.training()->run_id(), old_run);
        const int before = (int)Store(db().toStdString()).metrics(a, "train/loss").size();
        w.runs()->select_runs({a});
        QCOMPARE(w.training()->run_id(), a);
        const QVector<QPointF> back = w.training()->curve("train/loss");
        QVERIFY(back.size() >= before);
        QCOMPARE(back.front().x(), 1.0);
        for (int i = 1; i < back.size(); ++i) QCOMPARE(back[i].x(), back[i - 1].x() + 1);   // no step missing
        w.action("cancel")->trigger();

        QTRY_VERIFY_WITH_TIMEOUT(finished.size() == 2, 120000);
        w.training()->flush();
        Store store(db().toStdString());
        QCOMPARE(store.run(a)->status, std::string("cancelled"));
        QCOMPARE(store.run(b)->status, std::string("completed"));
        QCOMPARE(store.metrics(b, "train/loss").size(), size_t(60));
        // The live view of the second run got every step, from the first.
        QCOMPARE(w.training()->run_id(), b);
        QVector<QPointF> curve = w.training()->curve("train/loss");
        QCOMPARE(curve.size(), 60);
        QCOMPARE(curve.front().x(), 1.0);
        QCOMPARE(curve.front().y(), store.metrics(b, "train/loss").front().value);
    }

    // Another method from the form: LoRA with r 4; its own options show, P-Tuning v2's depth strip hides; the run
    // trains LoRA and records it.
    void loraFromTheForm() {
        MainWindow w(db());
        w.show();
        fill_form(w, 20, "lora from the form");
        SetupPanel* s = w.setup();
        QComboBox* method = child<QComboBox>(s, "method");
        method->setCurrentIndex(method->findData("lora"));
        QVERIFY(!s->layer_strip()->isVisibleTo(s));
        QVERIFY(child<QSpinBox>(s, "lora_r")->isVisibleTo(s));
        type_into(child<QSpinBox>(s, "lora_r"), 4);
        child<QDoubleSpinBox>(s, "lr")->setValue(5e-3);
        wait_checks(s);
        QVERIFY2(s->errors().isEmpty(), qPrintable(s->errors().join("; ")));
        // 4 layers x (query + value) x r (64 + 64)
        QCOMPARE(s->param_counts()->prompt, int64_t(4 * 2 * 4 * 128));
        QSignalSpy finished(w.queue(), &RunQueue::run_finished);
        const qint64 id = w.start_run();
        QVERIFY(id > 0);
        QTRY_VERIFY_WITH_TIMEOUT(finished.size() == 1, 120000);
        QCOMPARE(finished[0][1].toString(), QString("completed"));
        Store store(db().toStdString());
        auto r = store.run(id);
        QCOMPARE(r->method, std::string("lora"));
        QCOMPARE(r->trainable_params, int64_t(4 * 2 * 4 * 128 + 64 * 2 + 2));
        QCOMPARE(ExperimentSpec::from_json(json::parse(r->spec_json), "run").method.delta.lora_r, int64_t(4));
        QCOMPARE(w.training()->curve("train/loss").size(), 20);
        QCOMPARE(w.training()->heatmap_size().width(), 0);   // no prompt norms for LoRA
        method->setCurrentIndex(method->findData("ptv2"));
        QVERIFY(s->layer_strip()->isVisibleTo(s));
    }

    // A causal LM from the form: choosing the built-in decoder offers the causal-LM task only, shows the template,
    // counts the prefix at the key/value heads' width; the run trains to completion with its exact match plotted
    // and stored.
    // Token classification from the form: a CoNLL file turns the task to token-cls, the preview shows sentences with
    // their tags, the summary counts entities; a P-Tuning v2 run trains, its entity F1 is drawn per evaluation and
    // stored, and beats the all-"O" tagger's 0.
    void tokenClassificationFromTheForm() {
        MainWindow w(db());
        w.show();
        SetupPanel* s = new_experiment_on(w, "ner from the form", "ner/train.conll", "ner/valid.conll");
        QComboBox* task = child<QComboBox>(s, "task");
        QTRY_COMPARE(task->currentData().toString(), QString("token-cls"));
        wait_checks(s);
        QTRY_VERIFY(s->data_summary().has_value());
        QVERIFY(child<QLineEdit>(s, "tags_column")->isVisibleTo(s));
        QVERIFY(!child<QComboBox>(s, "label_column")->isVisibleTo(s));
        QCOMPARE(child<QComboBox>(s, "metric")->currentData().toString(), QString("entity_f1"));
        QCOMPARE(s->preview_rows(), 50);
        const DataSummary d = *s->data_summary();
        QVERIFY(d.tagged);
        QCOMPARE(d.train_rows, int64_t(400));
        QCOMPARE(d.valid_rows, int64_t(120));
        QCOMPARE(d.tag_scheme, std::string("iob2"));
        QCOMPARE(d.label_names, (std::vector<std::string>{"O", "B-ASPECT", "B-ITEM", "I-ITEM"}));
        int64_t train_entities = 0, valid_entities = 0;
        for (auto& [type, c] : d.entities) train_entities += c.first, valid_entities += c.second;
        QCOMPARE(train_entities, int64_t(428));
        QCOMPARE(valid_entities, int64_t(132));
        QVERIFY(child<QLabel>(s, "data_info")->text().contains("Entities (train / valid)"));
        // The model's table names the head the task puts on top, not the checkpoint's sequence labels.
        QTRY_VERIFY(child<QLabel>(s, "model_info")->text().contains("a new token head over the data's tags (classifier [tags, 64])"));
        type_into(child<QSpinBox>(s, "prompt_len"), 8);
        type_into(child<QSpinBox>(s, "batch_size"), 16);
        type_into(child<QSpinBox>(s, "length"), 12);   // epochs
        type_into(child<QSpinBox>(s, "max_len"), 64);
        child<QDoubleSpinBox>(s, "lr")->setValue(0.03);
        wait_checks(s);
        QVERIFY2(s->errors().isEmpty(), qPrintable(s->errors().join("; ")));
        // P x (key, value) x 4 layers x 64; the token head: 4 tags x 64 + 4.
        QCOMPARE(s->param_counts()->prompt, int64_t(8 * 2 * 4 * 64));
        QCOMPARE(s->param_counts()->head, int64_t(4 * 64 + 4));
        QSignalSpy finished(w.queue(), &RunQueue::run_finished);
        const qint64 id = w.start_run();
        QVERIFY(id > 0);
        QTRY_VERIFY_WITH_TIMEOUT(finished.size() == 1, 120000);
        QCOMPARE(finished[0][1].toString(), QString("completed"));
        Store store(db().toStdString());
        auto r = store.run(id);
        const ExperimentSpec spec = ExperimentSpec::from_json(json::parse(r->spec_json), "run");
        QCOMPARE(spec.task, std::string("token-cls"));
        QCOMPARE(spec.train.metric, std::string("entity_f1"));
        auto f1 = store.metrics(id, "eval/entity_f1");
        QCOMPARE(f1.size(), size_t(12));   // one evaluation per epoch
        QVERIFY2(f1.back().value > 0.6, qPrintable(QString::number(f1.back().value)));
        QCOMPARE(w.training()->curve("eval/entity_f1").size(), 12);
        QCOMPARE(w.training()->curve("eval/entity_f1").back().y(), f1.back().value);
        QVERIFY(!store.metrics(id, "eval/f1_ITEM").empty());
        const json best = json::parse(r->best_metrics_json);
        QVERIFY(best["entity_f1"].get<double>() >= f1.back().value);

        // Inspect: the saved adapter (the best evaluation's state) tags the validation sentences as that evaluation
        // did; sentences with errors come first; the filters narrow what is shown.
        InspectView* in = w.inspect();
        w.tabs()->setCurrentWidget(in);
        QVERIFY(in->select_run(id));
        QSignalSpy inspected(in, &InspectView::finished);
        QVERIFY(in->inspect());
        QVERIFY(inspected.wait(60000) || inspected.size() == 1);
        QVERIFY2(in->inspection().has_value(), qPrintable(in->message()));
        const TaggingInspection& ti = *in->inspection();
        QCOMPARE(ti.sentences.size(), size_t(120));
        QCOMPARE(ti.metrics.at("entity_f1"), best["entity_f1"].get<double>());
        QVERIFY(ti.sentences_with_errors > 0 && ti.sentences_with_errors < 120);
        QVERIFY(ti.sentences.front().wrong_tags > 0);
        QCOMPARE(ti.sentences.back().wrong_tags, int64_t(0));
        for (size_t i = 1; i < ti.sentences.size(); ++i) QVERIFY(ti.sentences[i - 1].wrong_tags >= ti.sentences[i].wrong_tags);
        QCOMPARE(in->shown_sentences(), 120);
        in->set_filter(1);
        QCOMPARE(in->shown_sentences(), (int)ti.sentences_with_errors);
        in->set_filter(2, "noodle");
        int noodle = 0;
        for (const auto& st : ti.sentences)
            noodle += std::find(st.words.begin(), st.words.end(), "noodle") != st.words.end();
        QCOMPARE(in->shown_sentences(), noodle);
        QVERIFY(in->message().contains("entity F1"));
        // The window keeps the last run's setup for its next start: the tests after this one start from the default.
        QSettings().remove("setup/spec");
    }

    // Extractive QA from the form: a SQuAD file turns the task to qa, shows the QA options instead of the columns,
    // previews questions with their answers in the context and counts questions and contexts; a P-Tuning v2 run
    // trains with the SQuAD F1 drawn per evaluation and stored.
    // Multiple choice from the form: a COPA file chooses the task, the preview shows each question's choices with
    // the right one, the summary counts questions and right answers by position, methods the task cannot train are
    // disabled, and a run trains and records its accuracy per evaluation.
    void multipleChoiceFromTheForm() {
        MainWindow w(db());
        w.show();
        SetupPanel* s = new_experiment_on(w, "choice from the form", "choice/train.jsonl", "choice/valid.jsonl");
        QComboBox* task = child<QComboBox>(s, "task");
        QTRY_COMPARE(task->currentData().toString(), QString("choice"));
        wait_checks(s);
        QTRY_VERIFY(s->data_summary().has_value());
        QVERIFY(!child<QComboBox>(s, "label_column")->isVisibleTo(s));
        QVERIFY(!child<QSpinBox>(s, "doc_stride")->isVisibleTo(s));
        QCOMPARE(child<QComboBox>(s, "metric")->currentData().toString(), QString("accuracy"));
        QCOMPARE(s->preview_rows(), 50);
        const DataSummary d = *s->data_summary();
        QVERIFY(d.choice);
        QCOMPARE(d.train_rows, int64_t(800));
        QCOMPARE(d.valid_rows, int64_t(100));
        QCOMPARE(d.choice_layout, std::string("copa"));
        QCOMPARE(d.max_choices, int64_t(2));
        QCOMPARE(d.train_counts[0] + d.train_counts[1], int64_t(800));
        QVERIFY(child<QLabel>(s, "data_info")->text().contains("800 training questions, 100 validation"));
        QComboBox* method = child<QComboBox>(s, "method");
        auto* items = qobject_cast<QStandardItemModel*>(method->model());
        for (const char* m : {"ptv2", "prompt", "ptuning", "lora", "ia3", "adapter", "full", "head"})   // every method
            QVERIFY2(items->item(method->findData(QString(m)))->isEnabled(), m);
        type_into(child<QSpinBox>(s, "prompt_len"), 8);
        type_into(child<QSpinBox>(s, "batch_size"), 16);
        type_into(child<QSpinBox>(s, "length"), 2);   // epochs
        type_into(child<QSpinBox>(s, "max_len"), 64);
        child<QDoubleSpinBox>(s, "lr")->setValue(0.05);
        wait_checks(s);
        QVERIFY2(s->errors().isEmpty(), qPrintable(s->errors().join("; ")));
        // P x (key, value) x 4 layers x 64; the choice head: 64 + 1.
        QCOMPARE(s->param_counts()->prompt, int64_t(8 * 2 * 4 * 64));
        QCOMPARE(s->param_counts()->head, int64_t(64 + 1));
        QSignalSpy finished(w.queue(), &RunQueue::run_finished);
        const qint64 id = w.start_run();
        QVERIFY(id > 0);
        QTRY_VERIFY_WITH_TIMEOUT(finished.size() == 1, 120000);
        QCOMPARE(finished[0][1].toString(), QString("completed"));
        Store store(db().toStdString());
        auto r = store.run(id);
        const ExperimentSpec spec = ExperimentSpec::from_json(json::parse(r->spec_json), "run");
        QCOMPARE(spec.task, std::string("choice"));
        QCOMPARE(spec.train.metric, std::string("accuracy"));
        auto acc = store.metrics(id, "eval/accuracy");
        QCOMPARE(acc.size(), size_t(2));   // one evaluation per epoch
        QCOMPARE(w.training()->curve("eval/accuracy").size(), 2);
        QCOMPARE(w.training()->curve("eval/accuracy").back().y(), acc.back().value);
        const json best = json::parse(r->best_metrics_json);
        QVERIFY(best["accuracy"].get<double>() >= acc.back().value);
        QVERIFY(best["accuracy"].get<double>() > 0.5);
    }

    // A reproduction preset fills the form with the authors' settings for its task and is kept with the spec; the
    // data stay the user's; "(none)" takes the record and the dropout override away again.
    void presetFillsTheForm() {
        MainWindow w(db());
        w.show();
        SetupPanel* s = new_experiment_on(w, "preset", "choice/train.jsonl", "choice/valid.jsonl");
        QComboBox* preset = child<QComboBox>(s, "preset");
        const int i = preset->findData(QString("copa-roberta"));
        QVERIFY(i > 0);
        QVERIFY(preset->itemData(i, Qt::ToolTipRole).toString().contains("run_script/run_copa_roberta.sh"));
        preset->setCurrentIndex(i);
        Q_EMIT preset->activated(i);
        wait_checks(s);
        QCOMPARE(child<QComboBox>(s, "task")->currentData().toString(), QString("choice"));
        QCOMPARE(child<QSpinBox>(s, "prompt_len")->value(), 8);
        QCOMPARE(child<QDoubleSpinBox>(s, "lr")->value(), 0.009);
        QCOMPARE(child<QSpinBox>(s, "batch_size")->value(), 16);
        QCOMPARE(child<QSpinBox>(s, "length")->value(), 120);
        QCOMPARE(child<QSpinBox>(s, "max_len")->value(), 128);
        QCOMPARE(child<QLineEdit>(s, "train")->text(), QString(PTUNE_FIXTURES) + "/choice/train.jsonl");
        const ExperimentSpec spec = s->spec();
        QCOMPARE(spec.preset, std::string("copa-roberta"));
        QCOMPARE(spec.train.hidden_dropout, 0.1);
        QCOMPARE(spec.train.seed, uint64_t(11));
        QVERIFY(std::find(spec.tags.begin(), spec.tags.end(), "preset:copa-roberta") != spec.tags.end());
        QCOMPARE(preset->currentIndex(), i);
        preset->setCurrentIndex(0);
        Q_EMIT preset->activated(0);
        QCOMPARE(s->spec().preset, std::string());
        QCOMPARE(s->spec().train.hidden_dropout, -1.0);
        QCOMPARE(child<QSpinBox>(s, "prompt_len")->value(), 8);   // the values stay for the user to edit
    }

    void extractiveQaFromTheForm() {
        MainWindow w(db());
        w.show();
        SetupPanel* s = new_experiment_on(w, "qa from the form", "qa/train-v2.json", "qa/valid-v2.json");
        QComboBox* task = child<QComboBox>(s, "task");
        QTRY_COMPARE(task->currentData().toString(), QString("qa"));
        wait_checks(s);
        QTRY_VERIFY(s->data_summary().has_value());
        QVERIFY(child<QSpinBox>(s, "doc_stride")->isVisibleTo(s));
        QVERIFY(!child<QComboBox>(s, "label_column")->isVisibleTo(s));
        QVERIFY(!child<QLineEdit>(s, "tags_column")->isVisibleTo(s));
        QCOMPARE(child<QComboBox>(s, "metric")->currentData().toString(), QString("qa_f1"));
        QCOMPARE(s->preview_rows(), 50);
        const DataSummary d = *s->data_summary();
        QVERIFY(d.qa && d.qa_v2);
        QCOMPARE(d.train_rows, int64_t(400));
        QCOMPARE(d.train_contexts, int64_t(200));
        QCOMPARE(d.valid_rows, int64_t(120));
        QCOMPARE(d.valid_counts, (std::vector<int64_t>{82, 38}));
        QVERIFY(child<QLabel>(s, "data_info")->text().contains("400 training questions on 200 contexts"));
        type_into(child<QSpinBox>(s, "prompt_len"), 16);
        type_into(child<QSpinBox>(s, "batch_size"), 16);
        type_into(child<QSpinBox>(s, "length"), 6);   // epochs
        type_into(child<QSpinBox>(s, "max_len"), 48);
        type_into(child<QSpinBox>(s, "doc_stride"), 16);
        child<QDoubleSpinBox>(s, "lr")->setValue(0.03);
        wait_checks(s);
        QVERIFY2(s->errors().isEmpty(), qPrintable(s->errors().join("; ")));
        // P x (key, value) x 4 layers x 64; the span head: 2 x 64 + 2.
        QCOMPARE(s->param_counts()->prompt, int64_t(16 * 2 * 4 * 64));
        QCOMPARE(s->param_counts()->head, int64_t(2 * 64 + 2));
        QCOMPARE(s->spec().data.doc_stride, int64_t(16));
        QSignalSpy finished(w.queue(), &RunQueue::run_finished);
        const qint64 id = w.start_run();
        QVERIFY(id > 0);
        QTRY_VERIFY_WITH_TIMEOUT(finished.size() == 1, 120000);
        QCOMPARE(finished[0][1].toString(), QString("completed"));
        Store store(db().toStdString());
        auto r = store.run(id);
        const ExperimentSpec spec = ExperimentSpec::from_json(json::parse(r->spec_json), "run");
        QCOMPARE(spec.task, std::string("qa"));
        QCOMPARE(spec.train.metric, std::string("qa_f1"));
        QCOMPARE(spec.data.doc_stride, int64_t(16));
        auto f1 = store.metrics(id, "eval/qa_f1");
        QCOMPARE(f1.size(), size_t(6));   // one evaluation per epoch
        QCOMPARE(w.training()->curve("eval/qa_f1").size(), 6);
        QCOMPARE(w.training()->curve("eval/qa_f1").back().y(), f1.back().value);
        QVERIFY(!store.metrics(id, "eval/no_ans_accuracy").empty());
        const json best = json::parse(r->best_metrics_json);
        QVERIFY(best["qa_f1"].get<double>() >= f1.back().value);

        // Inspect: the saved adapter (the best evaluation's state) answers the validation questions as that
        // evaluation did; wrong answers first, the lowest F1 first; the filters narrow what is shown.
        InspectView* in = w.inspect();
        w.tabs()->setCurrentWidget(in);
        QVERIFY(in->select_run(id));
        QSignalSpy inspected(in, &InspectView::finished);
        QVERIFY(in->inspect());
        QVERIFY(inspected.wait(60000) || inspected.size() == 1);
        QVERIFY2(in->qa_inspection().has_value(), qPrintable(in->message()));
        QVERIFY(!in->inspection().has_value());
        const QaInspection& qi = *in->qa_inspection();
        QCOMPARE(qi.questions.size(), size_t(120));
        QVERIFY(qi.version2);
        QCOMPARE(qi.metrics.at("qa_f1"), best["qa_f1"].get<double>());
        QCOMPARE(qi.metrics.at("exact_match"), best["exact_match"].get<double>());
        QVERIFY(qi.wrong > 0 && qi.wrong < 120);
        double sum_f1 = 0;
        for (const auto& x : qi.questions) sum_f1 += x.f1;
        QVERIFY(std::abs(sum_f1 / 120 - qi.metrics.at("qa_f1")) < 1e-9);   // the per-question F1s average to it
        QCOMPARE(qi.questions.front().exact, 0.0);
        QVERIFY(qi.questions.back().exact > 0);
        for (size_t i = 1; i < (size_t)qi.wrong; ++i) QVERIFY(qi.questions[i - 1].f1 <= qi.questions[i].f1);
        for (const auto& x : qi.questions)
            if (!x.predicted.empty()) QCOMPARE(x.context.substr((size_t)x.pred_start, (size_t)(x.pred_end - x.pred_start)), x.predicted);
        QCOMPARE(in->shown_sentences(), 120);
        in->set_filter(1);
        QCOMPARE(in->shown_sentences(), (int)qi.wrong);
        in->set_filter(2, "valid-3-");
        QCOMPARE(in->shown_sentences(), 2);   // valid-3-item and valid-3-aspect
        QVERIFY(in->html().contains("what part of it was mentioned"));
        QVERIFY(in->message().contains("SQuAD 2.0"));
        QSettings().remove("setup/spec");
    }

    void causalLmFromTheForm() {
        MainWindow w(db());
        w.show();
        SetupPanel* s = w.setup();
        wait_checks(s);
        child<QLineEdit>(s, "train")->setText("builtin");
        QLineEdit* nm = child<QLineEdit>(s, "name");
        nm->clear();
        QTest::keyClicks(nm, "causal lm from the form");
        QLineEdit* tmpl = child<QLineEdit>(s, "template");
        QVERIFY(!tmpl->isVisibleTo(s));   // a classification task has no template
        QTest::mouseClick(child<QPushButton>(s, "builtin_decoder"), Qt::LeftButton);
        wait_checks(s);
        QComboBox* task = child<QComboBox>(s, "task");
        QCOMPARE(task->currentData().toString(), QString("causal-lm"));
        QVERIFY(tmpl->isVisibleTo(s));
        QCOMPARE(tmpl->text(), QString("Review : {text} Sentiment : "));
        QCOMPARE(child<QComboBox>(s, "metric")->currentData().toString(), QString("exact_match"));
        QVERIFY(s->model_summary()->causal_lm);
        type_into(child<QSpinBox>(s, "prompt_len"), 16);
        child<QComboBox>(s, "length_mode")->setCurrentIndex(1);   // steps
        type_into(child<QSpinBox>(s, "length"), 40);
        type_into(child<QSpinBox>(s, "eval_every"), 20);
        type_into(child<QSpinBox>(s, "max_len"), 48);
        child<QDoubleSpinBox>(s, "lr")->setValue(0.1);
        s->layer_strip()->set_selected({0, 1, 2, 3});
        wait_checks(s);
        QVERIFY2(s->errors().isEmpty(), qPrintable(s->errors().join("; ")));
        // P x (key, value) x 4 layers x (2 key/value heads x 16); no head.
        QCOMPARE(s->param_counts()->prompt, int64_t(16 * 2 * 4 * 32));
        QCOMPARE(s->param_counts()->head, int64_t(0));
        QSignalSpy finished(w.queue(), &RunQueue::run_finished);
        const qint64 id = w.start_run();
        QVERIFY(id > 0);
        QTRY_VERIFY_WITH_TIMEOUT(finished.size() == 1, 120000);
        QCOMPARE(finished[0][1].toString(), QString("completed"));
        Store store(db().toStdString());
        auto r = store.run(id);
        const ExperimentSpec spec = ExperimentSpec::from_json(json::parse(r->spec_json), "run");
        QCOMPARE(spec.task, std::string("causal-lm"));
        QCOMPARE(spec.model, std::string("builtin-decoder"));
        QCOMPARE(spec.data.prompt_template, std::string("Review : {text} Sentiment : "));
        QCOMPARE(r->trainable_params, int64_t(16 * 2 * 4 * 32));
        QCOMPARE(w.training()->curve("train/loss").size(), 40);
        auto em = store.metrics(id, "eval/exact_match");
        QCOMPARE(em.size(), size_t(2));
        QCOMPARE(w.training()->curve("eval/exact_match").size(), 2);
        QCOMPARE(w.training()->curve("eval/exact_match").back().y(), em.back().value);
        QCOMPARE(w.training()->heatmap_size(), QSize(40, 4));   // the prefix's per-layer norms
        // Sample generations at each evaluation: stored, and the view shows the latest (step 40), live and stored.
        auto samples = store.samples(id);
        QCOMPARE(samples.size(), size_t(2 * 4));
        QCOMPARE(samples.back().step, int64_t(40));
        QCOMPARE(w.training()->sample_step(), int64_t(40));
        QCOMPARE(w.training()->sample_rows(), 4);
        QCOMPARE(w.training()->sample_cell(0, 0), QString::fromStdString(samples[4].prompt));
        QCOMPARE(w.training()->sample_cell(0, 3), QString::fromStdString(samples[4].adapted));
        QVERIFY(samples[4].prompt.rfind("Review : ", 0) == 0);
        QVERIFY(samples[4].target == "negative" || samples[4].target == "positive");
        QCOMPARE(samples[0].base, samples[4].base);   // the base model's answer does not change
        w.runs()->select_runs({id});
        QTRY_COMPARE(w.training()->run_id(), int64_t(id));
        QCOMPARE(w.training()->sample_rows(), 4);
        QCOMPARE(w.training()->sample_cell(3, 2), QString::fromStdString(samples[7].base));
        // "Generate with it": the Generate tab gets the run's model and prefix, and answers a validation prompt as
        // the run's last evaluation did (greedy, with and without the prefix).
        QAction* gen = nullptr;
        for (QAction* a : w.runs()->findChildren<QAction*>())
            if (a->text() == "Generate with it") gen = a;
        QVERIFY(gen && gen->isEnabled());
        gen->trigger();
        GenerateView* g = w.generate();
        QCOMPARE(w.tabs()->currentWidget(), static_cast<QWidget*>(g));
        QCOMPARE(child<QLineEdit>(g, "generate_model")->text().toStdString(), resolve_model_dir("builtin-decoder"));
        QVERIFY(!child<QLineEdit>(g, "generate_adapter")->text().isEmpty());
        QCOMPARE(g->request().prompt, std::string("Review :  Sentiment : "));   // the template, text left out
        g->set_prompt(QString::fromStdString(samples[7].prompt));
        QSignalSpy generated(g, &GenerateView::finished);
        QVERIFY(g->generate());
        QVERIFY(generated.wait(60000) || generated.size() == 1);
        QVERIFY2(g->message().isEmpty(), qPrintable(g->message()));
        QVERIFY2(g->output(GenerateView::Adapted).startsWith(QString::fromStdString(samples[7].adapted)),
                 qPrintable(g->output(GenerateView::Adapted) + " | " + QString::fromStdString(samples[7].adapted)));
        QVERIFY2(g->output(GenerateView::Base).startsWith(QString::fromStdString(samples[7].base)),
                 qPrintable(g->output(GenerateView::Base) + " | " + QString::fromStdString(samples[7].base)));
        QVERIFY(!samples[7].adapted.empty());
        // Its latency from the window, in generation's two phases: the first token and each new token after it.
        LatencyView* lat = w.latency();
        QTRY_COMPARE(lat->run_id(), int64_t(id));
        QVERIFY(lat->causal_lm());
        LatencySweep sweep;
        sweep.seq_lens = {8, 16};
        sweep.prompt_lens = {4};
        sweep.prompt_sweep_seq_len = 16;
        sweep.repeats = 2;
        sweep.warmup = 1;
        QSignalSpy measured(w.queue(), &RunQueue::measure_finished);
        Q_EMIT lat->measure_requested(id, sweep);
        QTRY_VERIFY_WITH_TIMEOUT(measured.size() == 1, 60000);
        QCOMPARE(measured[0][1].toString(), QString("completed"));
        std::set<std::string> phases;
        for (const auto& row : Store(db().toStdString()).latency(id)) phases.insert(row.phase);
        QCOMPARE(phases, (std::set<std::string>{"first_token", "per_token"}));
        QTRY_VERIFY(std::isfinite(lat->overhead_percent(1, 16, 16)));   // the run's P at 16 tokens, first token
        QVERIFY(lat->set_phase("per_token"));
        QVERIFY(std::isfinite(lat->overhead_percent(1, 16, 16)));
        QVERIFY(std::isfinite(lat->overhead_percent(1, 16, 4)));        // the prompt-length sweep
        // Back to the built-in encoder: classification again, no template.
        child<QLineEdit>(s, "model")->setText("builtin");
        wait_checks(s);
        QCOMPARE(task->currentData().toString(), QString("seq-cls"));
        QVERIFY(!tmpl->isVisibleTo(s));
        QCOMPARE(child<QComboBox>(s, "metric")->currentData().toString(), QString("accuracy"));
    }

    // A ready-made suite from the form's experiment runs to completion, and the Compare view's seed-group
    // table holds the database's numbers.
    void suiteFromTheWindowAndItsComparison() {
        MainWindow w(db());
        w.show();
        fill_form(w, 8, "");
        child<QComboBox>(w.setup(), "method")->setCurrentIndex(0);   // ptv2
        wait_checks(w.setup());
        auto ids = w.start_suite("prompt-len", {1, 2});
        QCOMPARE(ids.size(), size_t(6 * 2));   // P = 4 .. 128 all fit 32 + P <= 160; two seeds
        QTRY_VERIFY_WITH_TIMEOUT(!w.queue()->busy(), 300000);
        Store store(db().toStdString());
        std::vector<RunRecord> runs;
        for (int64_t id : ids) {
            auto r = store.run(id);
            QCOMPARE(r->status, std::string("completed"));
            QCOMPARE(r->suite, std::string("prompt-len"));
            runs.push_back(*r);
        }
        QCOMPARE(runs[0].prompt_len, 4);
        QCOMPARE(runs[11].prompt_len, 128);
        Q_EMIT w.runs()->compare_requested(QList<qint64>(ids.begin(), ids.end()));
        QCOMPARE(w.tabs()->currentWidget(), static_cast<QWidget*>(w.compare()));
        QCOMPARE(w.compare()->group_rows(), 6);
        // Group 1 (P = 4): its mean best accuracy over the two seeds, as the table prints it (3 decimals).
        const double a = json::parse(runs[0].best_metrics_json).at("accuracy").get<double>();
        const double b = json::parse(runs[1].best_metrics_json).at("accuracy").get<double>();
        const QString mean = QString::number((a + b) / 2, 'f', 3);
        bool found = false;
        for (int c = 0; c < 6; ++c) found = found || w.compare()->group_cell(0, c).startsWith(mean + " ± ");
        QVERIFY2(found, qPrintable(w.compare()->group_cell(0, 2)));
    }

    // A spec file opened into the form and saved back holds every setting, those the form has no widget for too
    // (AdamW's betas and epsilon, shuffling, the norm interval, a seed beyond a spin box); a bad spec file is
    // refused with its file and field named, and the form keeps what it had.
    void specFilesRoundTripThroughTheForm() {
        MainWindow w(db());
        ExperimentSpec s = MainWindow::default_spec();
        s.name = "round trip";
        s.train.beta1 = 0.8;
        s.train.beta2 = 0.95;
        s.train.eps = 1e-6;
        s.train.shuffle = false;
        s.train.norms_every = 5;
        s.train.seed = 5000000000ULL;
        s.data.split_seed = 7;
        s.method.name = "adapter";
        s.method.delta.adapter_size = 6;
        s.method.delta.adapter_placement = "pfeiffer";
        s.method.delta.adapter_act = "gelu";
        s.latency.measure = true;
        s.latency.batch_size = 4;
        s.latency.repeats = 7;
        s.tags = {"a", "b"};
        const QString in = tmp.path() + "/in.json";
        s.save(in.toStdString());
        QCOMPARE(w.open_spec(in), QString());
        wait_checks(w.setup());
        QCOMPARE(w.setup()->spec().to_json().dump(), s.to_json().dump());
        QVERIFY(child<QSpinBox>(w.setup(), "adapter_size")->isVisibleTo(w.setup()));
        // Saved without a suffix: NAME.json, equal to what was opened.
        QCOMPARE(w.save_spec(tmp.path() + "/out"), QString());
        QCOMPARE(ExperimentSpec::load((tmp.path() + "/out.json").toStdString()).to_json().dump(), s.to_json().dump());
        // A changed seed replaces the one beyond the spin box's range.
        child<QSpinBox>(w.setup(), "seed")->setValue(3);
        QCOMPARE(w.setup()->spec().train.seed, uint64_t(3));
        write_json_file((tmp.path() + "/bad.json").toStdString(), json{{"ptune_spec", 1}, {"train", {{"lr", "fast"}}}});
        const QString err = w.open_spec(tmp.path() + "/bad.json");
        QVERIFY2(err.contains(tmp.path() + "/bad.json") && err.contains("train.lr"), qPrintable(err));
        QCOMPARE(w.setup()->spec().name, std::string("round trip"));
    }

    // An error during a run reaches the user: a data file removed while its run waits in the queue makes that run
    // fail with the file named, in the store, in the runs table and in a message box; the run before it completes
    // and the window goes on.
    void failedRunIsShownWithItsReason() {
        MainWindow w(db());
        w.show();
        fill_form(w, 200, "before the failure");
        QSignalSpy finished(w.queue(), &RunQueue::run_finished);
        const qint64 first = w.start_run();
        QVERIFY(first > 0);
        const QString data = tmp.path() + "/vanishing.tsv";
        QFile::remove(data);
        QVERIFY(QFile::copy(QString::fromStdString(resolve_model_dir("builtin")) + "/../data/train.tsv", data));
        QLineEdit* train = child<QLineEdit>(w.setup(), "train");
        train->setText(data);
        child<QLineEdit>(w.setup(), "name")->setText("its data goes away");
        wait_checks(w.setup());
        QVERIFY2(w.setup()->errors().isEmpty(), qPrintable(w.setup()->errors().join("; ")));
        const qint64 second = w.start_run();
        QVERIFY(second > 0);
        QVERIFY(QFile::remove(data));
        QTRY_VERIFY_WITH_TIMEOUT(finished.size() == 2, 120000);
        QCOMPARE(finished[0][0].toLongLong(), first);
        QCOMPARE(finished[0][1].toString(), QString("completed"));
        QCOMPARE(finished[1][0].toLongLong(), second);
        QCOMPARE(finished[1][1].toString(), QString("failed"));
        QVERIFY2(finished[1][2].toString().contains(data), qPrintable(finished[1][2].toString()));
        Store store(db().toStdString());
        QCOMPARE(store.run(second)->status, std::string("failed"));
        QVERIFY(store.run(second)->status_reason.find(data.toStdString()) != std::string::npos);
        QCOMPARE(store.run(first)->status, std::string("completed"));
        bool boxed = false;
        for (QMessageBox* b : w.findChildren<QMessageBox*>())
            boxed = boxed || (b->windowTitle() == "Run failed" && b->text().contains(data));
        QVERIFY(boxed);
        RunsModel* m = w.runs()->model();
        bool row = false;
        for (int r = 0; r < m->rowCount(); ++r)
            row = row || (m->index(r, RunsModel::ColId).data().toString() == QString::number(second) &&
                          m->index(r, RunsModel::ColStatus).data().toString().contains("failed", Qt::CaseInsensitive));
        QVERIFY(row);
    }

    // The methods suite from the window: every method trains and measures its latency, and the Compare view's
    // Methods page holds the database's numbers: trainable share, best accuracy over the two seeds, step time,
    // inference overhead (merged for LoRA and IA3); the charts draw those; table and charts export. A LoRA run's
    // Latency tab shows base, LoRA and LoRA merged.
    void methodsSuiteAndItsComparison() {
        MainWindow w(db());
        w.show();
        fill_form(w, 6, "");
        child<QComboBox>(w.setup(), "method")->setCurrentIndex(0);
        wait_checks(w.setup());
        auto ids = w.start_suite("methods", {1, 2});
        QCOMPARE(ids.size(), size_t(9 * 2));
        QTRY_VERIFY_WITH_TIMEOUT(!w.queue()->busy(), 600000);
        Store store(db().toStdString());
        std::vector<RunRecord> runs;
        for (int64_t id : ids) {
            auto r = store.run(id);
            QVERIFY2(r->status == "completed", r->status_reason.c_str());
            QVERIFY(r->step_ms > 0 && r->peak_mem_bytes > 0);
            QVERIFY(!store.latency(id).empty());
            runs.push_back(*r);
        }
        Q_EMIT w.runs()->compare_requested(QList<qint64>(ids.begin(), ids.end()));
        CompareView* c = w.compare();
        QVERIFY(c->methods_page_shown());   // several methods: the Methods page comes up
        MethodsView* m = c->methods_view();
        QCOMPARE(m->table_rows(), 9);
        const QStringList order = {"P-Tuning v2", "Prefix tuning (MLP)", "Prompt tuning", "P-tuning (MLP)", "LoRA",
                                   QString::fromUtf8("IA\u00b3"), "Adapter (Houlsby)", "Full fine-tuning", "Head only"};
        m->set_bars(MethodsView::Bars::Overhead);
        const QVector<double> overhead = m->bar_values();
        m->set_bars(MethodsView::Bars::Metric);
        const QVector<double> metric = m->bar_values();
        for (int row = 0; row < 9; ++row) {
            QCOMPARE(m->cell(row, 0), order[row]);
            const RunRecord& a = runs[size_t(2 * row)];
            const RunRecord& b = runs[size_t(2 * row + 1)];
            QCOMPARE(a.seed, int64_t(1));
            QCOMPARE(b.seed, int64_t(2));
            QCOMPARE(m->cell(row, 2), QString("2"));
            QCOMPARE(m->cell(row, 4), QString::number(100.0 * double(a.trainable_params) / double(a.total_params), 'g', 3) + " %");
            const double acc = (json::parse(a.best_metrics_json).at("accuracy").get<double>() +
                                json::parse(b.best_metrics_json).at("accuracy").get<double>()) / 2;
            QVERIFY2(m->cell(row, 5).startsWith(QString::number(acc, 'f', 3)), qPrintable(m->cell(row, 5)));
            QVERIFY(std::abs(metric[row] - acc) < 1e-12);
            const double step = (a.step_ms + b.step_ms) / 2;
            QVERIFY2(m->cell(row, 6).startsWith(QString::number(step, 'f', step < 10 ? 2 : 1)), qPrintable(m->cell(row, 6)));
            // The overhead from the stored latency rows: the method against base at the same configuration.
            auto over = [&](const RunRecord& r, const std::string& suffix) {
                double base = 0, meth = 0;
                for (const LatencyRow& l : store.latency(r.id)) {
                    if (l.method == "base") base = l.median_ms;
                    const std::string want = (r.method == "prefix-mlp" ? std::string("ptv2") : r.method) + suffix;
                    if (l.method == want) meth = l.median_ms;
                }
                return meth / base - 1;
            };
            const double o = (over(a, "") + over(b, "")) / 2 * 100;
            QVERIFY2(std::abs(overhead[row] - o) < 1e-9, qPrintable(QString("%1 vs %2").arg(overhead[row]).arg(o)));
            const bool mergeable = a.method == "lora" || a.method == "ia3";
            if (mergeable) {
                const double om = (over(a, "-merged") + over(b, "-merged")) / 2 * 100;
                const QString t = m->cell(row, 9);
                QVERIFY2(t.contains(QString::number(std::abs(om), 'f', 1)), qPrintable(t));
            } else {
                QCOMPARE(m->cell(row, 9), QString("n/a"));
            }
        }
        // Trainable parameters on a log axis; full fine-tuning is 100 %.
        m->set_bars(MethodsView::Bars::Trainable);
        QVERIFY(m->bar_log_scale());
        QCOMPARE(m->bar_values()[7], 100.0);
        QCOMPARE(m->scatter_points().size(), 9);
        QCOMPARE(m->scatter_points()[4].x(), double(runs[8].trainable_params));
        m->set_scatter_x(MethodsView::ScatterX::Overhead);
        QCOMPARE(m->scatter_points().size(), 9);
        QVERIFY(std::abs(m->scatter_points()[4].x() - overhead[4]) < 1e-9);
        QVERIFY(!m->bars_empty_shown());
        // Exports.
        const QString csv = tmp.path() + "/methods.csv";
        QCOMPARE(m->export_csv(csv), QString());
        std::ifstream f(csv.toStdString());
        std::string line;
        int lines = 0;
        while (std::getline(f, line)) ++lines;
        QCOMPARE(lines, 10);
        for (const char* which : {"bars", "scatter"}) {
            const QString png = tmp.path() + "/methods-" + which + ".png";
            QCOMPARE(m->save_chart(which, png), QString());
            QVERIFY(QFileInfo(png).size() > 1000);
        }
        // A LoRA run's Latency tab: base, LoRA and LoRA merged against sequence length; no prompt-length sweep.
        w.runs()->select_runs({runs[8].id});
        QTRY_COMPARE(w.latency()->run_id(), runs[8].id);
        QCOMPARE(w.latency()->method(), std::string("lora"));
        QVERIFY(!w.latency()->prompted());
        QCOMPARE(w.latency()->seq_chart_graphs_with_data(), 3);
        QVERIFY(std::isfinite(w.latency()->overhead_percent("lora-merged", 8, 32, 0)));
        QVERIFY(w.latency()->sweep().prompt_lens.empty());
        // A suite file from Run > Run Suite File: queued as `ptune suite FILE` would run it; a bad one is refused
        // with the file and the variant named, and nothing is queued.
        Suite custom;
        custom.name = "custom";
        custom.base = w.setup()->spec();
        custom.base.name.clear();
        custom.variants = {json{{"method", {{"name", "lora"}, {"lora_r", 2}}}}, json{{"method", {{"name", "adapter"}}}}};
        custom.seeds = {5};
        const QString suite_file = tmp.path() + "/custom-suite.json";
        custom.save(suite_file.toStdString());
        QString err;
        auto queued = w.start_suite_file(suite_file, &err);
        QVERIFY2(err.isEmpty(), qPrintable(err));
        QCOMPARE(queued.size(), size_t(2));
        QTRY_VERIFY_WITH_TIMEOUT(!w.queue()->busy(), 120000);
        QCOMPARE(store.run(queued[0])->suite, std::string("custom"));
        QCOMPARE(store.run(queued[1])->method, std::string("adapter"));
        custom.variants = {json{{"method", {{"name", "lora"}, {"lora_r", 0}}}}};
        custom.save(suite_file.toStdString());
        QVERIFY(w.start_suite_file(suite_file, &err).empty());
        QVERIFY2(err.contains(suite_file) && err.contains("variant 1") && err.contains("lora_r"), qPrintable(err));
        // Comparing runs of one method keeps the Curves page.
        Q_EMIT w.runs()->compare_requested(QList<qint64>{qint64(runs[0].id), qint64(runs[1].id)});
        QVERIFY(!c->methods_page_shown());
        QCOMPARE(m->table_rows(), 1);
    }
};

QTEST_MAIN(TstWorkbench)
#include "tst_workbench.moc"
