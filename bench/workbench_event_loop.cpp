// How responsive the workbench's GUI thread stays while a run trains: the real MainWindow trains the built-in
// default experiment from its setup form (live charts redrawing on the Training tab), while a 10 ms QTimer on
// the GUI thread records the gap between its ticks. A blocked event loop shows as a long gap. Prints the gap
// distribution (median, p99, max) and the run's own time; run it under Xvfb for real painting
// (bench/workbench.sh) or offscreen.
#include <QApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTimer>
#include <algorithm>
#include <cstdio>
#include <vector>

#include "ui/main_window.h"
#include "ui/run_queue.h"
#include "ui/setup_panel.h"
#include "ui/training_view.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName("ptune-bench");
    QApplication::setApplicationName("workbench_event_loop");
    const int epochs = argc > 1 ? std::atoi(argv[1]) : 5;
    QTemporaryDir tmp;
    ptune::ui::MainWindow w(tmp.path() + "/runs.sqlite");
    w.resize(1440, 940);
    w.show();
    ptune::ExperimentSpec spec = ptune::ui::MainWindow::default_spec();
    spec.train.epochs = epochs;
    w.setup()->set_spec(spec);
    QElapsedTimer t;
    t.start();
    while (w.setup()->checks_pending() && t.elapsed() < 20000) QApplication::processEvents(QEventLoop::AllEvents, 20);

    std::vector<double> gaps;
    QElapsedTimer since;
    QTimer probe;
    QObject::connect(&probe, &QTimer::timeout, [&] { gaps.push_back(since.nsecsElapsed() / 1e6), since.restart(); });
    QElapsedTimer run_time;
    QObject::connect(w.queue(), &ptune::ui::RunQueue::run_finished, &app, [&](qint64, const QString& status, const QString&) {
        std::printf("run: %s in %.1f s, %d steps on screen\n", qPrintable(status), run_time.elapsed() / 1000.0,
                    (int)w.training()->curve("train/loss").size());
        probe.stop();
        QTimer::singleShot(0, &app, &QCoreApplication::quit);
    });
    since.start();
    run_time.start();
    probe.start(10);
    if (w.start_run() == 0) {
        std::fprintf(stderr, "the run did not start: %s\n", qPrintable(w.setup()->errors().join("; ")));
        return 1;
    }
    app.exec();
    if (gaps.size() < 3) return 1;
    gaps.erase(gaps.begin());   // the first tick includes the set-up above
    std::vector<double> s = gaps;
    std::sort(s.begin(), s.end());
    auto pct = [&](double q) { return s[std::min(s.size() - 1, (size_t)(q * (double)(s.size() - 1) + 0.5))]; };
    const long over50 = std::count_if(s.begin(), s.end(), [](double g) { return g > 50; });
    std::printf("10 ms timer on the GUI thread: %zu ticks, gap median %.1f ms, p99 %.1f ms, max %.1f ms, %ld gaps > 50 ms\n",
                s.size(), pct(0.5), pct(0.99), s.back(), over50);
    return 0;
}
