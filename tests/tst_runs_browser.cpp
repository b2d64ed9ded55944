// The runs browser and the compare view: the table's rows and cells come from the store; P sorts as a number;
// filters match tags and status; edits and deletes reach the store (read back through a second Store object);
// 500 runs load, sort and filter; the detail panel says what it waits for; the compare view's curves, seed-group table and CSV exports equal what is
// stored.
#include <QElapsedTimer>
#include <QFile>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <tuple>

#include "experiments/spec.h"
#include "experiments/compare.h"
#include "ui/compare_view.h"
#include "ui/methods_view.h"
#include "ui/runs_browser.h"
#include "ui/runs_model.h"
#include "ui/series.h"

using namespace ptune;
using namespace ptune::ui;

namespace {

RunRecord make_run(const std::string& name, int64_t seed, int prompt_len, const std::string& status,
                   const std::string& tags = "", const std::string& notes = "") {
    ExperimentSpec s;
    s.name = name;
    s.train.seed = (uint64_t)seed;
    s.method.prefix.prompt_len = prompt_len;
    RunRecord r;
    r.name = name;
    r.status = status;
    r.spec_json = s.to_json().dump();
    r.model = "builtin";
    r.dataset = "builtin";
    r.method = "ptv2";
    r.prompt_len = prompt_len;
    r.layers = "all";
    r.seed = seed;
    r.tags = tags;
    r.notes = notes;
    return r;
}

std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false, any = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == '"') {
            quoted = any = true;
        } else if (c == ',') {
            row.push_back(field);
            field.clear();
            any = true;
        } else if (c == '\n') {
            row.push_back(field);
            rows.push_back(row);
            row.clear();
            field.clear();
            any = false;
        } else {
            field += c;
            any = true;
        }
    }
    if (any) {
        row.push_back(field);
        rows.push_back(row);
    }
    return rows;
}

QStringList column(const QAbstractItemModel* m, int col) {
    QStringList out;
    for (int r = 0; r < m->rowCount(); ++r) out << m->index(r, col).data().toString();
    return out;
}

}  // namespace

class TstRunsBrowser : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;
    int n_db = 0;
    std::string fresh_db() { return (tmp.path() + QString("/runs%1.sqlite").arg(++n_db)).toStdString(); }

    // Four runs of every kind: completed (with all fields), failed, running, queued.
    struct Four {
        int64_t completed, failed, running, queued;
    };
    Four fill_four(Store& store) {
        Four f;
        RunRecord c = make_run("baseline, sst2", 42, 16, "completed", "baseline,sst2", "first line\nsecond line");
        c.model = "/models/bert-base";
        c.dataset = "/data/sst2/train.tsv";
        c.started_at = 1000;
        c.finished_at = 1000 + 3725;
        c.best_metrics_json = json{{"accuracy", 0.8125}, {"loss", 0.4}}.dump();
        c.final_metrics_json = json{{"accuracy", 0.8}}.dump();
        c.best_step = 120;
        c.trainable_params = 250;
        c.total_params = 10000;
        f.completed = store.create_run(c);
        f.failed = store.create_run(make_run("broken", 1, 2, "queued", "sst2"));
        store.start_run(f.failed);
        store.finish_run(f.failed, "failed", "CUDA out of memory", "{}", "{}", -1);
        f.running = store.create_run(make_run("going", 2, 128, "queued", "long"));
        store.start_run(f.running);
        f.queued = store.create_run(make_run("waiting", 3, 8, "queued"));
        return f;
    }

private Q_SLOTS:
    void modelRowsAndCells() {
        Store store(fresh_db());
        const Four f = fill_four(store);
        RunsModel m;
        m.reload(store);
        QCOMPARE(m.rowCount(), 4);
        QCOMPARE(m.columnCount(), int(RunsModel::ColumnCount));
        // Newest first, as the store lists them.
        QCOMPARE(m.record(0)->id, f.queued);
        QCOMPARE(m.row_of(f.completed), 3);
        QCOMPARE(m.row_of(99999), -1);
        QVERIFY(m.record(4) == nullptr);

        const int c = m.row_of(f.completed);
        auto cell = [&](int row, int col, int role = Qt::DisplayRole) { return m.index(row, col).data(role); };
        QCOMPARE(cell(c, RunsModel::ColId).toLongLong(), f.completed);
        QCOMPARE(cell(c, RunsModel::ColName).toString(), QString("baseline, sst2"));
        QCOMPARE(cell(c, RunsModel::ColStatus).toString(), QString("completed"));
        QCOMPARE(cell(c, RunsModel::ColModel).toString(), QString("bert-base"));
        QCOMPARE(cell(c, RunsModel::ColDataset).toString(), QString("train.tsv"));
        QCOMPARE(cell(c, RunsModel::ColMethod).toString(), QString("ptv2"));
        QCOMPARE(cell(c, RunsModel::ColPromptLen).toInt(), 16);
        QCOMPARE(cell(c, RunsModel::ColDepth).toString(), QString("all"));
        QCOMPARE(cell(c, RunsModel::ColSeed).toLongLong(), 42);
        QCOMPARE(cell(c, RunsModel::ColBest).toString(), QString("accuracy 0.8125"));
        QCOMPARE(cell(c, RunsModel::ColBest, RunsModel::SortRole).toDouble(), 0.8125);
        QCOMPARE(cell(c, RunsModel::ColTrainable).toString(), QString("2.5 %"));
        QCOMPARE(cell(c, RunsModel::ColDuration).toString(), QString("1:02:05"));
        QCOMPARE(cell(c, RunsModel::ColDuration, RunsModel::SortRole).toDouble(), 3725.0);
        QVERIFY(!cell(c, RunsModel::ColCreated).toString().isEmpty());
        QCOMPARE(cell(c, RunsModel::ColTags).toString(), QString("baseline, sst2"));
        QCOMPARE(cell(c, RunsModel::ColNotes).toString(), QString("first line"));
        QCOMPARE(cell(c, RunsModel::ColNotes, Qt::EditRole).toString(), QString("first line\nsecond line"));
        QVERIFY(!cell(c, RunsModel::ColStatus, Qt::DecorationRole).value<QIcon>().isNull());

        const int fr = m.row_of(f.failed);
        QCOMPARE(cell(fr, RunsModel::ColStatus).toString(), QString("failed"));
        QCOMPARE(cell(fr, RunsModel::ColStatus, Qt::ToolTipRole).toString(), QString("CUDA out of memory"));
        QCOMPARE(cell(fr, RunsModel::ColStatus, Qt::ForegroundRole).value<QColor>(), RunsModel::status_color("failed"));
        QCOMPARE(cell(fr, RunsModel::ColBest).toString(), QString());
        QCOMPARE(cell(fr, RunsModel::ColTrainable).toString(), QString());
        QCOMPARE(cell(m.row_of(f.running), RunsModel::ColStatus).toString(), QString("running"));
        QCOMPARE(cell(m.row_of(f.queued), RunsModel::ColStatus).toString(), QString("queued"));
        QVERIFY(RunsModel::status_color("running") != RunsModel::status_color("completed"));

        // Multi-line notes are edited in the detail panel, single-line ones in the cell.
        QVERIFY(!(m.flags(m.index(c, RunsModel::ColNotes)) & Qt::ItemIsEditable));
        QVERIFY(m.flags(m.index(fr, RunsModel::ColNotes)) & Qt::ItemIsEditable);
        QVERIFY(m.flags(m.index(c, RunsModel::ColName)) & Qt::ItemIsEditable);
        QVERIFY(!(m.flags(m.index(c, RunsModel::ColStatus)) & Qt::ItemIsEditable));

        // One updated row.
        store.finish_run(f.running, "cancelled", "", "{}", json{{"accuracy", 0.5}}.dump(), 3);
        m.refresh_run(*store.run(f.running));
        QCOMPARE(cell(m.row_of(f.running), RunsModel::ColStatus).toString(), QString("cancelled"));
        QCOMPARE(cell(m.row_of(f.running), RunsModel::ColBest).toString(), QString("accuracy 0.5"));
        QCOMPARE(m.rowCount(), 4);
    }

    void sortsPromptLengthAsNumbers() {
        Store store(fresh_db());
        fill_four(store);  // P = 16, 2, 128, 8
        RunsBrowser b;
        b.set_store(&store);
        auto* proxy = qobject_cast<QSortFilterProxyModel*>(b.view()->model());
        QVERIFY(proxy);
        QCOMPARE(proxy->sortRole(), int(RunsModel::SortRole));
        b.view()->sortByColumn(RunsModel::ColPromptLen, Qt::AscendingOrder);
        QCOMPARE(column(proxy, RunsModel::ColPromptLen), (QStringList{"2", "8", "16", "128"}));
        b.view()->sortByColumn(RunsModel::ColPromptLen, Qt::DescendingOrder);
        QCOMPARE(column(proxy, RunsModel::ColPromptLen), (QStringList{"128", "16", "8", "2"}));
        b.view()->sortByColumn(RunsModel::ColName, Qt::AscendingOrder);
        QCOMPARE(column(proxy, RunsModel::ColName), (QStringList{"baseline, sst2", "broken", "going", "waiting"}));
    }

    void filtersByTagTextAndStatus() {
        Store store(fresh_db());
        const Four f = fill_four(store);
        RunsBrowser b;
        b.set_store(&store);
        QCOMPARE(b.visible_rows(), 4);
        b.set_filter_text("SST2");
        QCOMPARE(b.filter_text(), QString("SST2"));
        QCOMPARE(b.visible_rows(), 2);  // tags "baseline,sst2" and "sst2"
        b.set_filter_text("sst2 baseline");
        QCOMPARE(b.visible_rows(), 1);
        b.select_runs({f.completed, f.failed});
        QCOMPARE(b.selected_ids(), (std::vector<int64_t>{f.completed}));  // the other is filtered out
        b.set_filter_text("long");
        QCOMPARE(b.visible_rows(), 1);
        QCOMPARE(b.view()->model()->index(0, RunsModel::ColId).data().toLongLong(), f.running);
        b.set_filter_text("");
        b.set_status_filter("failed");
        QCOMPARE(b.visible_rows(), 1);
        QCOMPARE(b.view()->model()->index(0, RunsModel::ColId).data().toLongLong(), f.failed);
        b.set_filter_text("sst2");
        QCOMPARE(b.visible_rows(), 1);
        b.set_status_filter("queued");
        QCOMPARE(b.visible_rows(), 0);
        b.set_status_filter("");
        QCOMPARE(b.visible_rows(), 2);
        b.set_filter_text("queued");  // status words match too
        QCOMPARE(b.visible_rows(), 1);
    }

    void editsReachTheStore() {
        const std::string db = fresh_db();
        Store store(db);
        const Four f = fill_four(store);
        RunsBrowser b;
        b.set_store(&store);
        QSignalSpy current(&b, &RunsBrowser::current_run_changed);
        b.select_runs({f.failed});
        QCOMPARE(b.current_id(), f.failed);
        QCOMPARE(current.count(), 1);
        QCOMPARE(current.at(0).at(0).toLongLong(), f.failed);
        QAction* rename = nullptr;
        for (QAction* a : b.findChildren<QAction*>())
            if (a->text() == "Rename") rename = a;
        QVERIFY(rename && rename->isEnabled());  // the current run can be renamed

        RunsModel* m = b.model();
        const int row = m->row_of(f.failed);
        QVERIFY(m->setData(m->index(row, RunsModel::ColName), "  renamed run "));
        QVERIFY(m->setData(m->index(row, RunsModel::ColTags), " a , b,,a "));
        QVERIFY(m->setData(m->index(row, RunsModel::ColNotes), "tried lr 1e-2"));
        QVERIFY(!m->setData(m->index(row, RunsModel::ColName), "   "));  // a run keeps a name
        QVERIFY(!m->setData(m->index(row, RunsModel::ColStatus), "completed"));
        {
            Store reread(db);
            const RunRecord r = *reread.run(f.failed);
            QCOMPARE(r.name, std::string("renamed run"));
            QCOMPARE(r.tags, std::string("a,b"));
            QCOMPARE(r.notes, std::string("tried lr 1e-2"));
            QCOMPARE(r.status, std::string("failed"));
            QCOMPARE(r.status_reason, std::string("CUDA out of memory"));
        }
        QCOMPARE(m->index(m->row_of(f.failed), RunsModel::ColTags).data().toString(), QString("a, b"));

        QCOMPARE(b.edit_run(f.completed, "best run", "x, y", "line one\nline two"), QString());
        QVERIFY(!b.edit_run(f.completed, "", "x", "").isEmpty());
        {
            Store reread(db);
            const RunRecord r = *reread.run(f.completed);
            QCOMPARE(r.name, std::string("best run"));
            QCOMPARE(r.tags, std::string("x,y"));
            QCOMPARE(r.notes, std::string("line one\nline two"));
            QCOMPARE(r.best_metrics_json, json({{"accuracy", 0.8125}, {"loss", 0.4}}).dump());
        }
        QCOMPARE(m->index(m->row_of(f.completed), RunsModel::ColName).data().toString(), QString("best run"));
    }

    void selectionSurvivesRefresh() {
        Store store(fresh_db());
        const Four f = fill_four(store);
        RunsBrowser b;
        b.set_store(&store);
        b.view()->sortByColumn(RunsModel::ColId, Qt::AscendingOrder);
        b.select_runs({f.queued, f.completed});
        QCOMPARE(b.selected_ids(), (std::vector<int64_t>{f.completed, f.queued}));  // view order
        const int64_t extra = store.create_run(make_run("new", 9, 4, "queued"));
        b.refresh();
        QCOMPARE(b.model()->rowCount(), 5);
        QCOMPARE(b.selected_ids(), (std::vector<int64_t>{f.completed, f.queued}));
        store.start_run(extra);
        b.refresh_run(extra);
        QCOMPARE(b.model()->record(b.model()->row_of(extra))->status, std::string("running"));

        QSignalSpy compare(&b, &RunsBrowser::compare_requested);
        QList<QAction*> acts = b.findChildren<QAction*>();
        QAction* cmp = nullptr;
        for (QAction* a : acts)
            if (a->text().startsWith("Compare")) cmp = a;
        QVERIFY(cmp && cmp->isEnabled());
        cmp->trigger();
        QCOMPARE(compare.count(), 1);
        QCOMPARE(compare.at(0).at(0).value<QList<qint64>>(), (QList<qint64>{f.completed, f.queued}));
    }

    // Without a current run the detail panel says why: no store, a store without runs, no run passing the
    // filters, or runs listed and none selected (it said "No run store open." with runs listed).
    void detailsSayWhatTheyWaitFor() {
        RunsBrowser b;
        QCOMPARE(b.details_title(), QString("No run store open."));
        Store store(fresh_db());
        b.set_store(&store);
        QCOMPARE(b.details_title(), QString("No runs in this store yet: a run appears here when it is queued."));
        const Four f = fill_four(store);
        b.refresh();
        QCOMPARE(b.model()->rowCount(), 4);
        QCOMPARE(b.current_id(), int64_t(0));
        QCOMPARE(b.details_title(), QString("Select a run to see its details."));
        b.select_runs({f.failed});
        QCOMPARE(b.current_id(), f.failed);
        QCOMPARE(b.details_title().contains("broken"), true);
        b.set_filter_text("no such run");
        QCOMPARE(b.visible_rows(), 0);
        QCOMPARE(b.details_title(), QString("No run matches the filter."));
        b.set_filter_text("");
        b.view()->selectionModel()->clear();
        QCOMPARE(b.current_id(), int64_t(0));
        QCOMPARE(b.details_title(), QString("Select a run to see its details."));
        // A store opened with runs in it, then closed.
        RunsBrowser c;
        c.set_store(&store);
        QCOMPARE(c.details_title(), QString("Select a run to see its details."));
        c.set_store(nullptr);
        QCOMPARE(c.details_title(), QString("No run store open."));
    }

    // The details name metrics as the rest of ptune does: macro-F1, and the positive label's F1 by its label.
    void detailsNameTheMetrics() {
        Store store(fresh_db());
        const int64_t id = store.create_run(make_run("spam", 1, 16, "queued", "sms"));
        store.start_run(id);
        store.finish_run(id, "completed", "", json{{"accuracy", 0.9}}.dump(),
                         json{{"accuracy", 0.9}, {"f1", 0.75}, {"f1_pos", 0.5}, {"positive_label", "spam"}}.dump(), 10);
        RunsBrowser b;
        b.set_store(&store);
        b.select_runs({id});
        const QString t = b.details_text();
        QVERIFY2(t.contains("macro-F1 0.75"), qPrintable(t));
        QVERIFY2(t.contains("F1 (positive: spam) 0.5"), qPrintable(t));
        QVERIFY2(!t.contains("f1 0.75"), qPrintable(t));
        QVERIFY2(!t.contains("Environment"), qPrintable(t));   // none recorded
        // Where the run ran, in a line.
        store.set_environment(id, json{{"ptune", "0.1.0"}, {"libtorch", "2.6.0"}, {"device", "cuda:0"}, {"threads", 4},
                                       {"hardware_threads", 16}, {"system", "Linux 6.1.0 x86_64"},
                                       {"preset", "conll03-roberta"}}.dump());
        b.refresh_run(id);
        const QString e = b.details_text();
        QVERIFY2(e.contains("<b>Environment</b> ptune 0.1.0, LibTorch 2.6.0, cuda:0 (4 threads of 16), Linux 6.1.0 "
                            "x86_64, preset conll03-roberta"), qPrintable(e));
    }

    void deleteRemovesRunsButNotARunningOne() {
        const std::string db = fresh_db();
        Store store(db);
        const Four f = fill_four(store);
        RunsBrowser b;
        b.set_store(&store);
        QSignalSpy deleted(&b, &RunsBrowser::runs_deleted);
        const QString refused = b.delete_runs({f.failed, f.running});
        QVERIFY2(refused.contains("stop it first"), qPrintable(refused));
        QVERIFY(store.run(f.failed).has_value());  // nothing deleted
        QCOMPARE(deleted.count(), 0);

        QCOMPARE(b.delete_runs({f.failed, f.queued}), QString());
        QCOMPARE(deleted.count(), 1);
        QCOMPARE(deleted.at(0).at(0).value<QList<qint64>>(), (QList<qint64>{f.failed, f.queued}));
        QCOMPARE(b.model()->rowCount(), 2);
        QCOMPARE(b.model()->row_of(f.failed), -1);
        Store reread(db);
        QVERIFY(!reread.run(f.failed));
        QVERIFY(!reread.run(f.queued));
        QVERIFY(reread.run(f.completed));
        QCOMPARE(reread.runs().size(), size_t(2));
    }

    void exportErrorsAreReportedNotThrown() {
        Store store(fresh_db());
        const Four f = fill_four(store);
        RunsBrowser b;
        b.set_store(&store);
        // The queued run has no adapter yet: a message, no exception.
        const QString err = b.export_adapter(f.queued, "ptune", tmp.path() + "/export-q");
        QVERIFY(!err.isEmpty());
        qInfo("export of a queued run: %s", qPrintable(err));
        QVERIFY(!b.export_adapter(424242, "peft", tmp.path() + "/export-x").isEmpty());
    }

    // Five hundred runs load into the table (records only: no series is read) and sort and filter; how fast is
    // bench/workbench_open's to measure (docs/PERFORMANCE.md), not a timed test's.
    void fiveHundredRunsOpen() {
        Store store(fresh_db());
        for (int i = 0; i < 500; ++i) {
            RunRecord r = make_run("run " + std::to_string(i), i, 2 << (i % 7), i % 5 ? "completed" : "failed",
                                   i % 3 ? "sweep" : "sweep,best", "note " + std::to_string(i));
            r.best_metrics_json = json{{"accuracy", 0.5 + i / 1000.0}}.dump();
            r.final_metrics_json = json{{"accuracy", 0.5}, {"loss", 0.7}}.dump();
            r.trainable_params = 1000 + i;
            r.total_params = 100000;
            store.create_run(r);
        }
        QElapsedTimer t;
        t.start();
        RunsBrowser b;
        b.resize(1400, 900);
        b.set_store(&store);
        b.show();
        QVERIFY(QTest::qWaitForWindowExposed(&b));
        QCoreApplication::processEvents();
        const qint64 ms = t.elapsed();
        qInfo("500 runs: reload and first paint in %lld ms", (long long)ms);
        QCOMPARE(b.model()->rowCount(), 500);
        t.restart();
        b.view()->sortByColumn(RunsModel::ColBest, Qt::DescendingOrder);
        QCOMPARE(b.view()->model()->index(0, RunsModel::ColBest).data().toString(), QString("accuracy 0.999"));
        b.set_filter_text("best");
        QCOMPARE(b.visible_rows(), 167);
        qInfo("sort + filter of 500 runs: %lld ms", (long long)t.elapsed());
    }

    void compareViewOverlaysSeeds() {
        const std::string db = fresh_db();
        Store store(db);
        std::vector<int64_t> ids;
        const double best[] = {0.5, 0.75, 1.0, 0.25};
        for (int i = 0; i < 4; ++i) {
            const bool other = i == 3;
            const int64_t id = store.create_run(make_run(other ? "long" : "seed " + std::to_string(i), other ? 1 : 10 + i,
                                                         other ? 128 : 16, "queued"));
            store.start_run(id);
            std::vector<MetricPoint> pts;
            for (int s = 1; s <= 30; ++s) {
                pts.push_back({s, s / 10.0, s * 0.5, "train/loss", 2.0 / s + 0.01 * ((s * (i + 3)) % 7)});
                if (s % 10 == 0) pts.push_back({s, s / 10.0, s * 0.5, "eval/accuracy", best[i] * s / 30.0});
            }
            pts.push_back({5, 0.5, 2.5, "train/lr", 0.005});
            store.add_metrics(id, pts);
            store.finish_run(id, "completed", "", json{{"accuracy", best[i]}}.dump(), json{{"accuracy", best[i]}}.dump(), 30);
            ids.push_back(id);
        }

        CompareView v;
        QVERIFY(v.empty_state_shown());
        QCOMPARE(v.graph_count(), 0);
        v.set_runs(store, ids);
        QVERIFY(!v.empty_state_shown());
        QCOMPARE(v.run_ids(), ids);
        QCOMPARE(v.graph_count(), 8);
        QCOMPARE(v.smoothing(), 0.6);
        QCOMPARE(v.legend_name(ids[0]), QString("#%1 seed 0 (P=16, all, seed 10)").arg(ids[0]));

        for (double w : {0.6, 0.9, 0.0}) {
            v.set_smoothing(w);
            for (int64_t id : ids) {
                std::vector<double> y;
                std::vector<int64_t> steps;
                for (const MetricPoint& p : store.metrics(id, "train/loss")) {
                    y.push_back(p.value);
                    steps.push_back(p.step);
                }
                const std::vector<double> expect = ema_debiased(y, w);
                const QVector<QPointF> got = v.ema_curve(id);
                QCOMPARE(got.size(), qsizetype(30));
                for (int i = 0; i < got.size(); ++i) {
                    QCOMPARE(got[i].x(), double(steps[i]));
                    QCOMPARE(got[i].y(), expect[i]);
                }
            }
        }
        v.set_x_axis(CompareView::XAxis::Epoch);
        v.set_log_y(true);
        QCOMPARE(v.graph_count(), 8);

        QCOMPARE(v.group_rows(), 2);
        QCOMPARE(v.group_columns(), 3);
        QCOMPARE(v.group_cell(0, 0), QString("ptv2 P=16 all on builtin (3 seeds)"));
        QCOMPARE(v.group_cell(0, 1), QString("3"));
        QCOMPARE(v.group_cell(0, 2), QString("0.750 \u00b1 0.250"));
        QCOMPARE(v.group_cell(1, 0), QString("ptv2 P=128 all on builtin (1 seed)"));
        QCOMPARE(v.group_cell(1, 2), QString("0.250 \u00b1 0.000"));

        QCOMPARE(v.summary_rows(), 4);
        QCOMPARE(v.summary_cell(0, 0), QString::number(ids[0]));
        QCOMPARE(v.summary_cell(1, 8), QString("accuracy 0.75"));
        QCOMPARE(v.summary_cell(3, 3), QString("128"));
        QCOMPARE(v.summary_cell(3, 9), QString("30"));
        const double last_loss = store.metrics(ids[3], "train/loss").back().value;
        QCOMPARE(v.summary_cell(3, 10), QString::number(last_loss, 'g', 4));
        QCOMPARE(v.summary_cell(0, 12), QString("builtin"));   // the model, then the learning rate from the spec
        QCOMPARE(v.summary_cell(0, 13), QString("0.005"));

        // The metrics CSV reads back to the stored points.
        const QString csv = tmp.path() + "/metrics.csv";
        QCOMPARE(v.export_metrics_csv(csv), QString());
        QFile file(csv);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const auto rows = parse_csv(file.readAll().toStdString());
        QCOMPARE(rows[0].front(), std::string("run_id"));
        size_t r = 1;
        for (int64_t id : ids) {
            for (const MetricPoint& p : store.metrics(id)) {
                QVERIFY(r < rows.size());
                QCOMPARE(rows[r][0], std::to_string(id));
                QCOMPARE(rows[r][6], p.key);
                QCOMPARE(rows[r][7], std::to_string(p.step));
                QCOMPARE(std::strtod(rows[r][8].c_str(), nullptr), p.epoch);
                QCOMPARE(std::strtod(rows[r][9].c_str(), nullptr), p.time);
                QCOMPARE(std::strtod(rows[r][10].c_str(), nullptr), p.value);
                ++r;
            }
        }
        QCOMPARE(r, rows.size());
        QCOMPARE(r, size_t(1 + 4 * (30 + 3 + 1)));

        const QString summary = tmp.path() + "/summary.csv";
        QCOMPARE(v.export_summary_csv(summary), QString());
        QFile sf(summary);
        QVERIFY(sf.open(QIODevice::ReadOnly));
        const auto srows = parse_csv(sf.readAll().toStdString());
        QCOMPARE(srows.size(), size_t(5));
        QCOMPARE(srows[2][0], std::to_string(ids[1]));
        QCOMPARE(srows[2][13], std::string("0.75"));  // best/accuracy

        const QString bad = v.export_metrics_csv(tmp.path() + "/no/such/dir/m.csv");
        QVERIFY(bad.contains("no/such/dir/m.csv"));

        const QString png = tmp.path() + "/loss.png";
        QCOMPARE(v.save_chart("loss", png), QString());
        QVERIFY(QFileInfo(png).size() > 0);
        QCOMPARE(v.save_chart("metric", tmp.path() + "/metric.svg"), QString());
        QVERIFY(!v.save_chart("loss", tmp.path() + "/loss.bmp").isEmpty());

        v.clear();
        QCOMPARE(v.graph_count(), 0);
        QCOMPARE(v.group_rows(), 0);
        QVERIFY(v.empty_state_shown());
    }

    // The Methods page names each row's model and runs: two groups of one method on two models look different.
    void methodsViewNamesModelAndRuns() {
        Store store(fresh_db());
        std::vector<int64_t> ids;
        for (auto [name, model, seed] : {std::tuple<const char*, const char*, int>{"sst2 base", "/models/bert-base", 1},
                                         {"sst2 base s2", "/models/bert-base", 2},
                                         {"sst2 large", "/models/bert-large/", 1}}) {
            RunRecord r = make_run(name, seed, 16, "completed");
            json spec = json::parse(r.spec_json);
            spec["model"] = model;
            r.spec_json = spec.dump();
            r.model = model;
            r.best_metrics_json = json{{"accuracy", 0.5}}.dump();
            ids.push_back(store.create_run(r));
        }
        MethodsView v;
        v.set_rows(compare_methods(store, ids));
        QCOMPARE(v.table_rows(), 2);
        QCOMPARE(v.cell(0, 0), v.cell(1, 0));   // the same method
        QCOMPARE(v.header(10), QString("Model"));
        QCOMPARE(v.header(11), QString("Run names"));
        QCOMPARE(v.cell(0, 10), QString("bert-base"));
        QCOMPARE(v.cell(1, 10), QString("bert-large"));
        QCOMPARE(v.cell(0, 11), QString("sst2 base; sst2 base s2"));
        QCOMPARE(v.cell(1, 11), QString("sst2 large"));
    }
};

QTEST_MAIN(TstRunsBrowser)
#include "tst_runs_browser.moc"
