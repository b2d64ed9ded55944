// The workbench's charts: TrainingView (loss, metric, prompt norms; smoothing, thinning, coalesced redraws,
// export) and LatencyView (overhead table, sweep form, measure requests). Runs offscreen.
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QComboBox>
#include <QtTest>
#include <cmath>
#include <memory>

#include "experiments/store.h"
#include "ui/latency_view.h"
#include "ui/training_view.h"

using namespace ptune;
using namespace ptune::ui;

namespace {

constexpr int kN = 500;

double loss_at(int i) { return 2.0 * std::exp(-i / 100.0) + 0.1 * std::sin(i * 0.7) + 0.05; }
double key_norm(int step, int layer) { return step / 10.0 + layer * 0.1; }
double value_norm(int step, int layer) { return 2.0 * key_norm(step, layer) + 0.25; }

// TensorBoard's debiased EMA, written out here independently of ui/series.
std::vector<double> ema_by_hand(const std::vector<double>& y, double w) {
    std::vector<double> out;
    double last = 0, wk = 1;
    for (double v : y) {
        last = last * w + (1 - w) * v;
        wk *= w;
        out.push_back(last / (1 - wk));
    }
    return out;
}

bool close(double a, double b) { return std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b)); }

}  // namespace

class TstTrainingView : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<Store> store_;
    int64_t run_ = 0;
    int64_t empty_run_ = 0;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        // PTUNE_KEEP_CHARTS=1 keeps the exported charts for a look (the path is printed)
        if (qEnvironmentVariableIsSet("PTUNE_KEEP_CHARTS")) {
            dir_.setAutoRemove(false);
            qInfo("charts are kept in %s", qPrintable(dir_.path()));
        }
        store_ = std::make_unique<Store>(dir_.filePath("runs.db").toStdString());
        RunRecord r;
        r.name = "known values";
        r.method = "ptv2";
        r.prompt_len = 16;
        r.spec_json = "{\"ptune_spec\": 1, \"train\": {\"metric\": \"f1\"}}";
        run_ = store_->create_run(r);
        std::vector<MetricPoint> pts;
        for (int i = 0; i < kN; ++i) {
            const int64_t step = i + 1;
            const double epoch = step / 100.0, time = step * 0.5;
            pts.push_back({step, epoch, time, "train/loss", loss_at(i)});
            pts.push_back({step, epoch, time, "train/lr", 1e-3 * (1.0 - i / double(kN))});
            if (step % 100 == 0) {
                pts.push_back({step, epoch, time, "eval/loss", 1.0 / step * 100});
                pts.push_back({step, epoch, time, "eval/accuracy", 0.5 + step / 2000.0});
                pts.push_back({step, epoch, time, "eval/f1", 0.4 + step / 2000.0});
            }
        }
        store_->add_metrics(run_, pts);
        std::vector<PromptNormRow> norms;
        for (int step : {10, 20, 30})
            for (int layer : {1, 2}) norms.push_back({step, layer, key_norm(step, layer), value_norm(step, layer)});
        store_->add_prompt_norms(run_, norms);
        RunRecord e;
        e.name = "no series";
        empty_run_ = store_->create_run(e);
    }

    void emptyState() {
        TrainingView v;
        QCOMPARE(v.run_id(), int64_t(0));
        QVERIFY(v.curve("train/loss").isEmpty());
        QCOMPARE(v.heatmap_size(), QSize(0, 0));
        QCOMPARE(v.drawn_points("train/loss"), 0);
        QCOMPARE(v.drawn_points("no/such"), -1);
        QCOMPARE(v.smoothing(), 0.6);
        // a run without series shows empty charts, not an error
        v.show_run(*store_, empty_run_, 0, "empty");
        QCOMPARE(v.run_id(), empty_run_);
        QVERIFY(v.curve("train/loss").isEmpty());
        QVERIFY(v.latest_norms(true).empty());
    }

    void storedRunCurves() {
        TrainingView v;
        v.show_run(*store_, run_, 4, "run 1");
        QCOMPARE(v.run_id(), run_);
        const QVector<QPointF> loss = v.curve("train/loss");
        QCOMPARE(loss.size(), kN);
        std::vector<double> y;
        for (int i = 0; i < kN; ++i) {
            QCOMPARE(loss[i].x(), double(i + 1));
            QCOMPARE(loss[i].y(), loss_at(i));
            y.push_back(loss_at(i));
        }
        const auto ema = ema_by_hand(y, 0.6);
        const QVector<QPointF> sm = v.curve("train/loss:ema");
        QCOMPARE(sm.size(), kN);
        QCOMPARE(sm[0].y(), loss_at(0));  // debiased: the first point is not pulled toward 0
        for (int i = 0; i < kN; ++i) {
            QCOMPARE(sm[i].x(), double(i + 1));
            QVERIFY2(close(sm[i].y(), ema[std::size_t(i)]), qPrintable(QString("ema at %1").arg(i)));
        }
        // the smoothed curve of a prefix does not depend on what follows (no shape change as a run grows)
        QVERIFY(std::abs(sm[1].y() - (0.6 * 0.4 * loss_at(0) + 0.4 * loss_at(1)) / (1 - 0.36)) < 1e-12);

        // another weight, and none
        v.set_smoothing(0.9);
        const auto ema9 = ema_by_hand(y, 0.9);
        const auto sm9 = v.curve("train/loss:ema");
        for (int i = 0; i < kN; ++i) QVERIFY(close(sm9[i].y(), ema9[std::size_t(i)]));
        v.set_smoothing(0);
        QCOMPARE(v.curve("train/loss:ema"), loss);
        v.set_smoothing(5);
        QCOMPARE(v.smoothing(), 0.99);
        v.set_smoothing(0.6);

        // validation loss, learning rate; the run's own metric (spec: f1) is chosen
        const auto vl = v.curve("eval/loss");
        QCOMPARE(vl.size(), 5);
        QCOMPARE(vl[0], QPointF(100, 1.0));
        QCOMPARE(vl[4], QPointF(500, 0.2));
        QCOMPARE(v.metric(), QString("eval/f1"));
        QVERIFY(v.metric_choices().contains("eval/accuracy"));
        QVERIFY(!v.metric_choices().contains("eval/loss"));
        v.set_metric("eval/accuracy");
        const auto acc = v.curve("eval/accuracy");
        QCOMPARE(acc.size(), 5);
        QCOMPARE(acc[2], QPointF(300, 0.5 + 300 / 2000.0));
        v.flush();
        QCOMPARE(v.drawn_points("eval/accuracy"), 5);
        QCOMPARE(v.drawn_points("eval/f1"), -1);  // not the chosen metric any more
        const auto lr = v.curve("train/lr");
        QCOMPARE(lr.size(), kN);
        QCOMPARE(lr[0].y(), 1e-3);
        QCOMPARE(v.drawn_points("train/lr"), kN);
        QCOMPARE(v.drawn_points("train/loss"), kN);      // short curves are drawn whole
        QCOMPARE(v.drawn_points("train/loss:ema"), kN);
        QCOMPARE(v.drawn_points("eval/loss"), 5);

        // x by epoch and by time
        v.set_x_axis(TrainingView::XAxis::Epoch);
        QCOMPARE(v.x_axis(), TrainingView::XAxis::Epoch);
        auto e = v.curve("train/loss");
        QCOMPARE(e[0].x(), 0.01);
        QCOMPARE(e[kN - 1].x(), 5.0);
        QCOMPARE(e[7].y(), loss_at(7));
        QCOMPARE(v.curve("eval/loss")[1].x(), 2.0);
        v.set_x_axis(TrainingView::XAxis::Time);
        auto t = v.curve("train/loss:ema");
        QCOMPARE(t[0].x(), 0.5);
        QCOMPARE(t[kN - 1].x(), 250.0);
        v.flush();
        QCOMPARE(v.drawn_curve("train/loss").back().x(), 250.0);
    }

    void storedRunNorms() {
        TrainingView v;
        v.show_run(*store_, run_, 4, "run 1");
        QCOMPARE(v.heatmap_size(), QSize(3, 4));
        for (int s = 0; s < 3; ++s) {
            const int step = 10 * (s + 1);
            QVERIFY(std::isnan(v.heatmap_value(s, 0, true)));
            QVERIFY(std::isnan(v.heatmap_value(s, 3, false)));
            QCOMPARE(v.heatmap_value(s, 1, true), key_norm(step, 1));
            QCOMPARE(v.heatmap_value(s, 2, true), key_norm(step, 2));
            QCOMPARE(v.heatmap_value(s, 1, false), value_norm(step, 1));
        }
        QVERIFY(std::isnan(v.heatmap_value(3, 1, true)));  // out of range
        auto kn = v.latest_norms(true);
        QCOMPARE(kn.size(), std::size_t(4));
        QVERIFY(std::isnan(kn[0]) && std::isnan(kn[3]));
        QCOMPARE(kn[1], key_norm(30, 1));
        QCOMPARE(kn[2], key_norm(30, 2));
        auto vn = v.latest_norms(false);
        QCOMPARE(vn[2], value_norm(30, 2));
        // num_layers 0: the highest layer in the norms + 1
        v.show_run(*store_, run_, 0, "run 1");
        QCOMPARE(v.heatmap_size(), QSize(3, 3));
    }

    // A 100k-point curve is thinned for drawing by min/max buckets, and a single spike survives.
    void thinningKeepsSpike() {
        TrainingView v;
        v.begin_live(7, "live", 2, {0, 1});
        LiveEvents ev;
        ev.run_id = 7;
        const int n = 100000;
        for (int i = 0; i < n; ++i) {
            StepEvent s;
            s.step = i + 1;
            s.epoch = (i + 1) / 1000.0;
            s.elapsed_s = (i + 1) * 0.01;
            s.loss = 1.0 + 0.001 * (i % 7);
            s.lr = 1e-3;
            ev.steps.push_back(s);
        }
        ev.steps[31337].loss = 1000.0;
        v.append(ev);
        v.flush();
        QCOMPARE(v.curve("train/loss").size(), n);
        const int drawn = v.drawn_points("train/loss");
        QVERIFY2(drawn > 100 && drawn < n / 10, qPrintable(QString::number(drawn)));
        const auto pts = v.drawn_curve("train/loss");
        double top = 0, top_x = 0;
        for (const QPointF& p : pts)
            if (p.y() > top) top = p.y(), top_x = p.x();
        QCOMPARE(top, 1000.0);
        QCOMPARE(top_x, 31338.0);
        QVERIFY(v.drawn_points("train/loss:ema") < n / 10);
        QVERIFY(v.drawn_points("train/lr") < n / 10);
        // the EMA is taken over the full series before thinning: its drawn maximum is the full EMA's
        const auto full = v.curve("train/loss:ema");
        double full_top = 0, drawn_top = 0;
        for (const QPointF& p : full) full_top = std::max(full_top, p.y());
        for (const QPointF& p : v.drawn_curve("train/loss:ema")) drawn_top = std::max(drawn_top, p.y());
        QCOMPARE(drawn_top, full_top);
    }

    void coalescedRedraws() {
        TrainingView v;
        v.begin_live(3, "live", 4, {2, 3});
        const int before = v.redraw_count();
        for (int i = 0; i < 50; ++i) {
            LiveEvents ev;
            ev.run_id = 3;
            StepEvent s;
            s.step = i + 1;
            s.loss = 1.0 / (i + 1);
            ev.steps.push_back(s);
            v.append(ev);
        }
        QCOMPARE(v.redraw_count(), before);   // nothing drawn yet: the data only went in
        QCOMPARE(v.curve("train/loss").size(), 50);
        v.flush();
        QCOMPARE(v.redraw_count(), before + 1);
        QCOMPARE(v.drawn_points("train/loss"), 50);
        v.flush();                            // nothing pending: no redraw
        QCOMPARE(v.redraw_count(), before + 1);

        // events of another run are ignored
        LiveEvents other;
        other.run_id = 4;
        other.steps.push_back(StepEvent{});
        v.append(other);
        QCOMPARE(v.curve("train/loss").size(), 50);

        // without flush, the 40 ms timer draws once
        LiveEvents more;
        more.run_id = 3;
        StepEvent s;
        s.step = 51;
        s.loss = 0.01;
        more.steps.push_back(s);
        v.append(more);
        v.append(more);
        QTRY_COMPARE(v.redraw_count(), before + 2);
        QTest::qWait(100);
        QCOMPARE(v.redraw_count(), before + 2);
        QCOMPARE(v.drawn_points("train/loss"), 52);
    }

    void liveEvents() {
        TrainingView v;
        v.show_run(*store_, run_, 4, "stored first");
        v.begin_live(9, "live run", 4, {2, 3});
        QCOMPARE(v.run_id(), int64_t(9));
        QVERIFY(v.curve("train/loss").isEmpty());  // begin_live clears the stored run
        QCOMPARE(v.heatmap_size(), QSize(0, 0));

        LiveEvents ev;
        ev.run_id = 9;
        for (int i = 1; i <= 4; ++i) {
            StepEvent s;
            s.step = i;
            s.epoch = i * 0.25;
            s.elapsed_s = i * 1.5;
            s.loss = 3.0 - i * 0.5;
            s.lr = 0.01 * i;
            s.grad_norm = 10.0 + i;
            s.samples_per_s = 100.0 * i;
            ev.steps.push_back(s);
        }
        EvalEvent e;
        e.step = 4;
        e.epoch = 1.0;
        e.elapsed_s = 6.5;
        e.metrics = {{"loss", 0.75}, {"accuracy", 0.625}};
        ev.evals.push_back(e);
        PromptNormEvent n1;
        n1.step = 2;
        n1.layers = {2, 3};
        n1.key_norms = {1.5, 2.5};
        n1.value_norms = {3.5, 4.5};
        PromptNormEvent n2 = n1;
        n2.step = 4;
        n2.key_norms = {1.75, 2.75};
        n2.value_norms = {3.75, 4.75};
        ev.norms = {n1, n2};
        v.append(ev);
        v.flush();

        const auto loss = v.curve("train/loss");
        QCOMPARE(loss.size(), 4);
        QCOMPARE(loss[0], QPointF(1, 2.5));
        QCOMPARE(loss[3], QPointF(4, 1.0));
        QCOMPARE(v.curve("train/lr")[2], QPointF(3, 0.03));
        QCOMPARE(v.curve("train/grad_norm")[1], QPointF(2, 12.0));
        QCOMPARE(v.curve("train/samples_per_s")[3], QPointF(4, 400.0));
        QCOMPARE(v.curve("eval/loss"), QVector<QPointF>({QPointF(4, 0.75)}));
        QCOMPARE(v.metric(), QString("eval/accuracy"));
        QCOMPARE(v.curve("eval/accuracy"), QVector<QPointF>({QPointF(4, 0.625)}));
        QCOMPARE(v.drawn_points("eval/accuracy"), 1);
        v.set_x_axis(TrainingView::XAxis::Time);
        QCOMPARE(v.curve("eval/accuracy")[0].x(), 6.5);
        QCOMPARE(v.curve("train/loss")[1].x(), 3.0);
        v.set_x_axis(TrainingView::XAxis::Epoch);
        QCOMPARE(v.curve("train/loss")[1].x(), 0.5);

        QCOMPARE(v.heatmap_size(), QSize(2, 4));
        QVERIFY(std::isnan(v.heatmap_value(0, 0, true)));
        QVERIFY(std::isnan(v.heatmap_value(1, 1, false)));
        QCOMPARE(v.heatmap_value(0, 2, true), 1.5);
        QCOMPARE(v.heatmap_value(1, 3, false), 4.75);
        const auto kn = v.latest_norms(true);
        QCOMPARE(kn.size(), std::size_t(4));
        QVERIFY(std::isnan(kn[0]) && std::isnan(kn[1]));
        QCOMPARE(kn[2], 1.75);
        QCOMPARE(kn[3], 2.75);
        QCOMPARE(v.latest_norms(false)[2], 3.75);

        v.clear();
        QCOMPARE(v.run_id(), int64_t(0));
        QVERIFY(v.curve("train/loss").isEmpty());
        v.append(ev);  // no live run: ignored
        QVERIFY(v.curve("train/loss").isEmpty());
    }

    void saveCharts() {
        TrainingView v;
        v.resize(1000, 800);
        v.show_run(*store_, run_, 4, "run 1");
        for (const char* which : {"loss", "metric", "norms", "norm_bars"})
            for (const char* ext : {"png", "pdf", "svg"}) {
                const QString path = dir_.filePath(QString("%1.%2").arg(which, ext));
                const QString err = v.save_chart(which, path);
                QVERIFY2(err.isEmpty(), qPrintable(err));
                QVERIFY2(QFileInfo(path).size() > 0, qPrintable(path));
            }
        if (qEnvironmentVariableIsSet("PTUNE_KEEP_CHARTS")) v.grab().save(dir_.filePath("training_view.png"));
        const QString bmp = dir_.filePath("loss.bmp");
        QVERIFY(!v.save_chart("loss", bmp).isEmpty());
        QVERIFY(!QFileInfo::exists(bmp));
        QVERIFY(v.save_chart("nope", dir_.filePath("x.png")).contains("nope"));
        // an empty view saves too (the empty-state text is drawn)
        TrainingView empty;
        QVERIFY(empty.save_chart("loss", dir_.filePath("empty.png")).isEmpty());
    }

    // ------------------------------------------------------------------------------------------ LatencyView

    // A causal LM's run: the view shows one phase at a time (first token, per new token), each with its own
    // overheads; per new token the table adds tokens/s (the batch's tokens per second).
    void latencyPhasesOfACausalLm() {
        RunRecord r;
        r.name = "decoder latency";
        r.prompt_len = 16;
        const int64_t id = store_->create_run(r);
        store_->add_latency(id, {
                                    {"base", 2, 64, 0, 10.0, 12.0, "cpu", "first_token"},
                                    {"base", 2, 64, 0, 4.0, 4.5, "cpu", "per_token"},
                                    {"ptv2", 2, 64, 16, 12.0, 13.0, "cpu", "first_token"},
                                    {"ptv2", 2, 64, 16, 5.0, 5.5, "cpu", "per_token"},
                                });
        LatencyView v;
        v.show_run(*store_, id, 16, 0, "decoder run", "ptv2", true);
        QVERIFY(v.causal_lm());
        QCOMPARE(v.phase(), std::string("first_token"));
        auto* phase = v.findChild<QComboBox*>("phase");
        QVERIFY(phase && phase->isVisibleTo(&v));
        QCOMPARE(v.overhead_percent(2, 64, 16), 20.0);   // (12 - 10) / 10
        QCOMPARE(v.table_rows(), 2);
        auto* table = v.findChild<QTableWidget*>("latency_table");
        QVERIFY(table->isColumnHidden(8));
        phase->setCurrentIndex(1);
        QCOMPARE(v.phase(), std::string("per_token"));
        QCOMPARE(v.overhead_percent(2, 64, 16), 25.0);   // (5 - 4) / 4
        QVERIFY(!table->isColumnHidden(8));
        QStringList tps;
        for (int i = 0; i < table->rowCount(); ++i) tps << table->item(i, 8)->text();
        QCOMPARE(tps, (QStringList{"500.0", "400.0"}));   // 2 rows x 1000 / 4 ms; 2 x 1000 / 5 ms
        QVERIFY(!v.set_phase(""));                       // a causal LM has no single-pass rows
        QVERIFY(v.set_phase("first_token"));
        QCOMPARE(phase->currentIndex(), 0);
        QCOMPARE(v.overhead_percent(2, 64, 16), 20.0);
        // A causal LM with a learned position table (GPT-2's kind) also needs room for the generated tokens.
        v.show_run(*store_, id, 16, 100, "decoder run", "ptv2", true);
        auto* seqs = v.findChild<QLineEdit*>("seq_lens");
        auto* prompts = v.findChild<QLineEdit*>("prompt_lens");
        auto* sweep_seq = v.findChild<QSpinBox*>("prompt_sweep_seq_len");
        prompts->setText("8");
        sweep_seq->setValue(16);
        seqs->setText("16,69");   // 69 + 16 = 85 fits 100 positions; with 16 generated tokens it does not
        QCOMPARE(v.form_error(), QString("Sequence lengths: 69 + the run's P 16 + 16 generated tokens = 101 is longer "
                                         "than the model's 100 positions"));
        seqs->setText("16,68");
        QVERIFY2(v.form_error().isEmpty(), qPrintable(v.form_error()));
        // An encoder's run afterwards: no phases.
        RunRecord enc;
        enc.name = "encoder latency";
        const int64_t enc_id = store_->create_run(enc);
        store_->add_latency(enc_id, {{"base", 1, 64, 0, 10.0, 12.0, "cpu", ""}});
        v.show_run(*store_, enc_id, 16, 512, "encoder run");
        QCOMPARE(v.table_rows(), 1);
        QVERIFY(!phase->isVisibleTo(&v));
        QVERIFY(!v.set_phase("per_token"));
    }

    void latencyOverhead() {
        RunRecord r;
        r.name = "latency";
        r.prompt_len = 16;
        const int64_t id = store_->create_run(r);
        store_->add_latency(id, {
                                    {"base", 1, 64, 0, 10.0, 12.0, "cpu", ""},
                                    {"base", 1, 128, 0, 20.0, 25.0, "cpu", ""},
                                    {"ptv2", 1, 64, 16, 11.0, 13.0, "cpu", ""},
                                    {"ptv2", 1, 128, 16, 23.0, 24.0, "cpu", ""},
                                    {"ptv2", 1, 64, 32, 12.5, 14.0, "cpu", ""},
                                    {"base", 1, 64, 0, 8.0, 9.0, "cpu", ""},  // a re-measure: the latest counts
                                });
        LatencyView v;
        v.show_run(*store_, id, 16, 512, "latency run");
        QCOMPARE(v.run_id(), id);
        QCOMPARE(v.overhead_percent(1, 64, 16), 37.5);   // (11 - 8) / 8
        QCOMPARE(v.overhead_percent(1, 128, 16), 15.0);  // (23 - 20) / 20
        QCOMPARE(v.overhead_percent(1, 64, 32), 56.25);  // (12.5 - 8) / 8
        QVERIFY(std::isnan(v.overhead_percent(1, 128, 32)));
        QVERIFY(std::isnan(v.overhead_percent(2, 64, 16)));
        QCOMPARE(v.table_rows(), 5);

        // live results while measuring
        LatencyResult lr;
        lr.method = "ptv2";
        lr.batch_size = 1;
        lr.seq_len = 128;
        lr.prompt_len = 32;
        lr.median_ms = 26.0;
        lr.p90_ms = 27.0;
        lr.device = "cpu";
        v.append({lr});
        QCOMPARE(v.overhead_percent(1, 128, 32), 30.0);
        QCOMPARE(v.table_rows(), 6);
        lr.median_ms = 21.0;  // re-measured: replaces
        v.append({lr});
        QCOMPARE(v.overhead_percent(1, 128, 32), 5.0);
        QCOMPARE(v.table_rows(), 6);
        auto* table = v.findChild<QTableWidget*>("latency_table");
        QVERIFY(table);
        bool found = false;
        for (int i = 0; i < table->rowCount(); ++i)
            if (table->item(i, 0)->text() == "ptv2" && table->item(i, 2)->text() == "64" && table->item(i, 3)->text() == "16") {
                QCOMPARE(table->item(i, 6)->text(), QString("+37.5 %"));
                found = true;
            }
        QVERIFY(found);

        for (const char* ext : {"png", "pdf", "svg"}) {
            const QString path = dir_.filePath(QString("latency.%1").arg(ext));
            QVERIFY(v.save_chart("seq", path).isEmpty());
            QVERIFY(QFileInfo(path).size() > 0);
        }
        QVERIFY(v.save_chart("prompt", dir_.filePath("latency-prompt.png")).isEmpty());
        QVERIFY(!v.save_chart("bogus", dir_.filePath("b.png")).isEmpty());
        if (qEnvironmentVariableIsSet("PTUNE_KEEP_CHARTS")) {
            v.resize(1100, 700);
            v.grab().save(dir_.filePath("latency_view.png"));
        }

        v.clear();
        QCOMPARE(v.table_rows(), 0);
        QCOMPARE(v.run_id(), int64_t(0));
    }

    void latencyForm() {
        RunRecord r;
        r.name = "form";
        r.prompt_len = 16;
        const int64_t id = store_->create_run(r);
        LatencyView v;
        auto* measure = v.findChild<QPushButton*>("measure");
        auto* seqs = v.findChild<QLineEdit*>("seq_lens");
        auto* prompts = v.findChild<QLineEdit*>("prompt_lens");
        auto* sweep_seq = v.findChild<QSpinBox*>("prompt_sweep_seq_len");
        auto* batch = v.findChild<QSpinBox*>("batch_size");
        auto* repeats = v.findChild<QSpinBox*>("repeats");
        auto* error = v.findChild<QLabel*>("form_error");
        QVERIFY(measure && seqs && prompts && sweep_seq && batch && repeats && error);

        // no run: Measure is off and says why
        QVERIFY(!measure->isEnabled());
        QVERIFY(measure->toolTip().contains("No run"));

        v.show_run(*store_, id, 16, 128, "form run");
        // the default sequence lengths reach 128: 128 + P 16 does not fit 128 positions
        QVERIFY(!measure->isEnabled());
        QVERIFY2(error->text().contains("128 + the run's P 16"), qPrintable(error->text()));
        QCOMPARE(v.form_error(), error->text());
        QCOMPARE(measure->toolTip(), error->text());

        seqs->setText("16, 32,64");
        QVERIFY2(v.form_error().isEmpty(), qPrintable(v.form_error()));  // 64 + 64 = 128 fits
        QVERIFY(measure->isEnabled());
        prompts->setText("4,100");
        QVERIFY(!measure->isEnabled());
        QVERIFY(v.form_error().contains("P 100"));
        QVERIFY(v.form_error().contains("Prompt lengths"));
        prompts->setText("8,4");
        seqs->setText("16,abc");
        QVERIFY(!measure->isEnabled());
        QVERIFY(v.form_error().contains("Sequence lengths"));
        QVERIFY(v.form_error().contains("abc"));
        seqs->setText("");
        QVERIFY(v.form_error().contains("Sequence lengths"));
        seqs->setText("32,16");
        QVERIFY(measure->isEnabled());
        sweep_seq->setValue(48);
        batch->setValue(2);
        repeats->setValue(7);

        QSignalSpy spy(&v, &LatencyView::measure_requested);
        measure->click();
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(0).value<qint64>(), qint64(id));
        const auto s = spy.at(0).at(1).value<LatencySweep>();
        QCOMPARE(s.seq_lens, std::vector<int>({16, 32}));
        QCOMPARE(s.prompt_lens, std::vector<int>({4, 8}));
        QCOMPARE(s.prompt_sweep_seq_len, 48);
        QCOMPARE(s.batch_size, 2);
        QCOMPARE(s.repeats, 7);
        QCOMPARE(v.sweep().seq_lens, s.seq_lens);

        // while measuring, Measure is off
        v.set_busy(true);
        QVERIFY(!measure->isEnabled());
        QVERIFY(measure->toolTip().contains("running"));
        measure->click();
        QCOMPARE(spy.count(), 1);
        v.set_busy(false);
        QVERIFY(measure->isEnabled());

        // unknown position table: no length check
        v.show_run(*store_, id, 16, 0, "form run");
        seqs->setText("4096");
        QVERIFY(measure->isEnabled());
    }
};

QTEST_MAIN(TstTrainingView)
#include "tst_training_view.moc"
