// How long the workbench takes to open a database of many runs, and to show one of them: writes a run store of N
// completed runs (each with `points` training-loss, learning-rate and throughput points and 20 evaluations, as a
// 5-epoch run stores them), then times, in one process:
//   open    MainWindow on the store until the window is shown and its runs table painted (records only);
//   select  selecting one run in the Runs table until its Training charts hold its series (loaded lazily);
//   compare comparing 10 runs (the Compare view reads their loss and metric series and the method table).
// Usage: workbench_open [N=500] [points=625]; run it offscreen or under Xvfb (bench/workbench.sh).
#include <QApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QWindow>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "experiments/store.h"
#include "ui/compare_view.h"
#include "ui/main_window.h"
#include "ui/runs_browser.h"
#include "ui/training_view.h"

using namespace ptune;

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName("ptune-bench");
    QApplication::setApplicationName("workbench_open");
    const int n = argc > 1 ? std::atoi(argv[1]) : 500;
    const int points = argc > 2 ? std::atoi(argv[2]) : 625;
    QTemporaryDir tmp;
    const std::string db = (tmp.path() + "/runs.sqlite").toStdString();
    std::vector<int64_t> ids;
    {
        Store store(db);
        for (int i = 0; i < n; ++i) {
            RunRecord r;
            r.name = "run " + std::to_string(i);
            r.model = "builtin";
            r.dataset = "builtin";
            r.method = i % 3 ? "ptv2" : "lora";
            r.prompt_len = r.method == "ptv2" ? 4 << (i % 4) : 0;
            r.layers = "all";
            r.seed = i % 3;
            r.spec_json = "{}";
            r.best_metrics_json = "{\"accuracy\": " + std::to_string(0.5 + (i % 100) / 250.0) + "}";
            r.trainable_params = 8000 + i;
            r.total_params = 234000;
            const int64_t id = store.create_run(r);
            store.start_run(id);
            std::vector<MetricPoint> pts;
            for (int s = 1; s <= points; ++s)
                for (const char* k : {"train/loss", "train/lr", "train/samples_per_s"})
                    pts.push_back({s, s / 125.0, s * 0.01, k, 0.7 - 0.3 * s / points});
            for (int e = 1; e <= 20; ++e) pts.push_back({e * points / 20, e / 4.0, e * 0.3, "eval/accuracy", 0.5 + e / 100.0});
            store.add_metrics(id, pts);
            store.finish_run(id, "completed", "", r.best_metrics_json, r.best_metrics_json, points);
            ids.push_back(id);
        }
    }
    QElapsedTimer t;
    t.start();
    ui::MainWindow w(QString::fromStdString(db));
    w.resize(1440, 940);
    w.show();
    w.tabs()->setCurrentWidget(w.runs());
    // Until the window system shows the window, then one more pass of the event loop for its first paint.
    while (!(w.windowHandle() && w.windowHandle()->isExposed()) && t.elapsed() < 10000) QApplication::processEvents();
    QApplication::processEvents();
    const double open_ms = t.nsecsElapsed() / 1e6;
    const int rows = w.runs()->visible_rows();

    t.restart();
    w.runs()->select_runs({ids[n / 2]});
    while (w.training()->curve("train/loss").size() < points && t.elapsed() < 10000) QApplication::processEvents();
    const double select_ms = t.nsecsElapsed() / 1e6;

    t.restart();
    std::vector<int64_t> ten(ids.begin(), ids.begin() + std::min(n, 10));
    Q_EMIT w.runs()->compare_requested(QList<qint64>(ten.begin(), ten.end()));
    QApplication::processEvents();
    const double compare_ms = t.nsecsElapsed() / 1e6;

    std::printf("%d runs (%d loss points each): open and paint %.0f ms (%d rows); select one run %.0f ms "
                "(%d points on the chart); compare 10 runs %.0f ms\n",
                n, points, open_ms, rows, select_ms, (int)w.training()->curve("train/loss").size(), compare_ms);
    return rows == n ? 0 : 1;
}
