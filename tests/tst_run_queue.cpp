// The workbench's run queue: runs execute in a worker thread, in order, while the GUI thread's event loop keeps
// running; events reach the GUI through the live buffer and equal what the store holds; cancel stops within a
// step and keeps the run; a queued run can be withdrawn.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include "ui/run_queue.h"

using namespace ptune;
using namespace ptune::ui;

static ExperimentSpec small_spec(int64_t steps) {
    ExperimentSpec s;  // built-in model and data
    s.train.steps = steps;
    s.train.epochs = 0;
    s.train.batch_size = 16;
    s.train.max_len = 32;
    s.train.lr = 2e-2;
    s.train.threads = 1;
    s.method.prefix.prompt_len = 4;
    return s;
}

class TstRunQueue : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;
    QString db() const { return tmp.path() + "/runs.sqlite"; }

private Q_SLOTS:
    void runsInOrderWithoutBlockingTheEventLoop() {
        RunQueue q(db());
        QSignalSpy started(&q, &RunQueue::run_started), finished(&q, &RunQueue::run_finished), idle(&q, &RunQueue::idle);
        // The GUI thread's loop: a 10 ms timer that also drains the live buffer, as the workbench's redraw timer does.
        std::vector<StepEvent> steps_seen;
        int ticks = 0;
        qint64 longest_gap_ms = 0;
        QElapsedTimer since_tick;
        since_tick.start();
        QTimer timer;
        QObject::connect(&timer, &QTimer::timeout, [&] {
            ++ticks;
            longest_gap_ms = std::max(longest_gap_ms, since_tick.restart());
            LiveEvents ev = q.take_events();
            for (auto& s : ev.steps) steps_seen.push_back(s);
        });
        timer.start(10);
        const int64_t a = q.enqueue(small_spec(40));
        const int64_t b = q.enqueue(small_spec(20));
        QCOMPARE(q.current(), a);
        QCOMPARE(q.queued(), std::vector<int64_t>({b}));
        QVERIFY(idle.wait(120000));
        timer.stop();
        LiveEvents rest = q.take_events();
        for (auto& s : rest.steps) steps_seen.push_back(s);
        qInfo("event loop: %d ticks of a 10 ms timer during the runs, longest gap %lld ms", ticks, (long long)longest_gap_ms);
        QVERIFY(ticks > 10);  // the loop kept running while the worker trained
        QCOMPARE(started.size(), 2);
        QCOMPARE(finished.size(), 2);
        QCOMPARE(started[0][0].toLongLong(), a);
        QCOMPARE(started[1][0].toLongLong(), b);
        QCOMPARE(finished[0][1].toString(), QString("completed"));
        QCOMPARE(finished[1][1].toString(), QString("completed"));
        QVERIFY(!q.busy());
        // The GUI saw run b's 20 steps after run a's 40 (the buffer is reset per run); they equal the store's.
        QVERIFY(steps_seen.size() >= 20);
        Store store(db().toStdString());
        auto loss_b = store.metrics(b, "train/loss");
        QCOMPARE(loss_b.size(), size_t(20));
        std::vector<StepEvent> last20(steps_seen.end() - 20, steps_seen.end());
        for (size_t i = 0; i < 20; ++i) {
            QCOMPARE(last20[i].step, int64_t(i + 1));
            QCOMPARE(last20[i].loss, loss_b[i].value);
        }
    }

    void cancelAndWithdraw() {
        RunQueue q(db());
        QSignalSpy finished(&q, &RunQueue::run_finished), idle(&q, &RunQueue::idle);
        const int64_t a = q.enqueue(small_spec(100000));
        const int64_t b = q.enqueue(small_spec(5));
        QVERIFY(q.cancel_queued(b));
        QVERIFY(!q.cancel_queued(b));
        // wait for some steps, then cancel
        QTRY_VERIFY_WITH_TIMEOUT(Store(db().toStdString()).metrics(a, "train/loss").size() >= 3, 60000);
        q.cancel_current();
        QVERIFY(idle.wait(60000));
        QCOMPARE(finished.size(), 1);
        QCOMPARE(finished[0][1].toString(), QString("cancelled"));
        Store store(db().toStdString());
        QCOMPARE(store.run(a)->status, std::string("cancelled"));
        QVERIFY(store.metrics(a, "train/loss").size() >= 3);
        QCOMPARE(store.run(b)->status, std::string("cancelled"));
        QVERIFY(store.metrics(b, "train/loss").empty());
    }

    void badSpecIsRefusedBeforeQueueing() {
        RunQueue q(db());
        ExperimentSpec s = small_spec(1);
        s.train.batch_size = 0;
        QVERIFY_THROWS_EXCEPTION(Error, q.enqueue(s));
        QVERIFY(!q.busy());
    }
};

QTEST_GUILESS_MAIN(TstRunQueue)
#include "tst_run_queue.moc"
