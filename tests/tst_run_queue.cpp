// The workbench's run queue: runs execute in a worker thread, in order, while the GUI thread's event loop keeps
// running; events reach the GUI through the live buffer and equal what the store holds; cancel stops within a
// step and keeps the run; a queued run can be withdrawn.
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
    // The GUI thread's event loop keeps turning while the worker trains, however fast or slow the machine: run a
    // has more steps than it could finish, and only the GUI thread ends it, from a timer that drains the live
    // buffer (as the workbench's redraw timer does) and cancels a once it has received three of a's steps. Then
    // b runs, in order, and the steps the GUI received equal the store's.
    void runsInOrderWithoutBlockingTheEventLoop() {
        RunQueue q(db());
        QSignalSpy started(&q, &RunQueue::run_started), finished(&q, &RunQueue::run_finished), idle(&q, &RunQueue::idle);
        std::vector<StepEvent> steps_a, steps_b;
        int64_t a = 0, b = 0;
        bool cancelled_live = false;
        QTimer timer;
        QObject::connect(&timer, &QTimer::timeout, [&] {
            LiveEvents ev = q.take_events();
            std::vector<StepEvent>& into = ev.run_id == a ? steps_a : steps_b;
            into.insert(into.end(), ev.steps.begin(), ev.steps.end());
            if (!cancelled_live && steps_a.size() >= 3 && q.current() == a) {
                cancelled_live = true;   // a is still running: its steps reached the GUI while it trained
                q.cancel_current();
            }
        });
        timer.start(10);
        a = q.enqueue(small_spec(100000));
        b = q.enqueue(small_spec(20));
        QCOMPARE(q.current(), a);
        QCOMPARE(q.queued(), std::vector<int64_t>({b}));
        QVERIFY(idle.wait(120000));
        timer.stop();
        LiveEvents rest = q.take_events();
        QCOMPARE(rest.run_id, b);
        steps_b.insert(steps_b.end(), rest.steps.begin(), rest.steps.end());
        QVERIFY(cancelled_live);
        QCOMPARE(started.size(), 2);
        QCOMPARE(finished.size(), 2);
        QCOMPARE(started[0][0].toLongLong(), a);
        QCOMPARE(started[1][0].toLongLong(), b);
        QCOMPARE(finished[0][0].toLongLong(), a);
        QCOMPARE(finished[0][1].toString(), QString("cancelled"));
        QCOMPARE(finished[1][0].toLongLong(), b);
        QCOMPARE(finished[1][1].toString(), QString("completed"));
        QVERIFY(!q.busy());
        // What the GUI received equals the store: a's first steps (what a did after the cancel may have gone with
        // the buffer's reset for b), then b's 20 steps.
        Store store(db().toStdString());
        auto loss_a = store.metrics(a, "train/loss"), loss_b = store.metrics(b, "train/loss");
        QVERIFY(steps_a.size() >= 3 && steps_a.size() <= loss_a.size());
        for (size_t i = 0; i < steps_a.size(); ++i) {
            QCOMPARE(steps_a[i].step, int64_t(i + 1));
            QCOMPARE(steps_a[i].loss, loss_a[i].value);
        }
        QCOMPARE(loss_b.size(), size_t(20));
        QCOMPARE(steps_b.size(), size_t(20));
        for (size_t i = 0; i < 20; ++i) {
            QCOMPARE(steps_b[i].step, int64_t(i + 1));
            QCOMPARE(steps_b[i].loss, loss_b[i].value);
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
