#pragma once
// Runs experiment specs one after another in a worker thread, for the workbench. Qt (Core) only, no torch.
//
// The GUI thread owns a RunQueue. Enqueued specs get their run row at once (status "queued"), then a
// RunWorker living in its own QThread executes them in order through experiments' Runner. The worker never
// touches a widget: every trainer event goes into a LiveBuffer under a mutex, and the GUI drains the buffer
// on its own timer (the PlotJuggler pattern), so redraws are coalesced however fast steps arrive. Run life
// cycle changes (started, finished) come as queued signals.
#include <QObject>
#include <QString>
#include <QThread>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "core/engine/events.h"
#include "experiments/runner.h"
#include "ui/latency_sweep.h"

namespace ptune::ui {

// Events of the running run, appended by the worker, taken by the GUI.
struct LiveEvents {
    int64_t run_id = 0;
    int64_t total_steps = 0;
    std::vector<StepEvent> steps;
    std::vector<EvalEvent> evals;
    std::vector<PromptNormEvent> norms;
    std::vector<LatencyResult> latency;
    std::vector<std::string> messages;
    std::vector<SampleEvent> samples;
    bool empty() const {
        return steps.empty() && evals.empty() && norms.empty() && latency.empty() && messages.empty() && samples.empty();
    }
};

class LiveBuffer {
public:
    void reset(int64_t run_id);
    void set_total(int64_t total);
    void add(const StepEvent& e);
    void add(const EvalEvent& e);
    void add(const PromptNormEvent& e);
    void add(const LatencyResult& e);
    void add_message(const std::string& m);
    void add(const SampleEvent& e);
    LiveEvents take();  // everything since the last take (run_id and total_steps are kept)

private:
    std::mutex mu_;
    LiveEvents ev_;
};

class RunWorker : public QObject {
    Q_OBJECT
public:
    RunWorker(QString db_path, std::shared_ptr<LiveBuffer> buffer);
    CancelFlag& cancel_flag() { return cancel_; }

public Q_SLOTS:
    void execute(qint64 run_id, const QString& spec_json);
    // Measures latency for a stored run (both sweeps of a LatencySweep, given as JSON); rows go to the store
    // and, as they come, into the live buffer.
    void measure(qint64 run_id, const QString& sweep_json);

Q_SIGNALS:
    void started(qint64 run_id);
    void finished(qint64 run_id, const QString& status, const QString& reason);
    void measure_started(qint64 run_id);
    void measure_finished(qint64 run_id, const QString& status, const QString& reason);

private:
    QString db_path_;
    std::shared_ptr<LiveBuffer> buffer_;
    CancelFlag cancel_;
};

class RunQueue : public QObject {
    Q_OBJECT
public:
    explicit RunQueue(QString db_path, QObject* parent = nullptr);
    ~RunQueue() override;  // cancels the running run and waits for the worker thread

    // Records the run (status queued) and queues it; returns its id. Throws ptune::Error for a spec or store
    // that cannot be used (nothing is queued then).
    int64_t enqueue(const ExperimentSpec& spec);
    // Queues a latency measurement of a stored run (after the runs queued before it). Throws ptune::Error for
    // an empty sweep.
    void enqueue_measure(int64_t run_id, const LatencySweep& sweep);
    // Stops the running run within one step (it is kept, status cancelled), or the running measurement.
    void cancel_current();
    // Removes a queued run that has not started; it is marked cancelled in the store. False if not queued.
    bool cancel_queued(int64_t run_id);
    // Withdraws every job that has not started (runs are marked cancelled); returns how many.
    int clear_pending();
    // Whether the running or a waiting job (a run or a latency measurement) is about this run.
    bool uses_run(int64_t run_id) const;
    size_t pending_jobs() const { return pending_.size(); }

    int64_t current() const { return current_; }   // 0 when idle
    bool measuring() const { return current_measure_; }  // the current job is a latency measurement
    std::vector<int64_t> queued() const;               // training runs waiting, in order
    bool busy() const { return current_ != 0 || !pending_.empty(); }
    LiveEvents take_events() { return buffer_->take(); }
    const QString& db_path() const { return db_path_; }

Q_SIGNALS:
    void run_started(qint64 run_id);
    void run_finished(qint64 run_id, const QString& status, const QString& reason);
    void measure_started(qint64 run_id);
    void measure_finished(qint64 run_id, const QString& status, const QString& reason);
    void idle();
    void request_execute(qint64 run_id, const QString& spec_json);  // to the worker (queued connection)
    void request_measure(qint64 run_id, const QString& sweep_json);

private:
    void start_next();
    void on_finished(qint64 run_id, const QString& status, const QString& reason);
    void on_measure_finished(qint64 run_id, const QString& status, const QString& reason);

    struct Job {
        int64_t run_id = 0;
        bool measure = false;
        QString payload;   // the spec (training) or the sweep (measurement), as JSON
    };

    QString db_path_;
    std::unique_ptr<Store> store_;   // GUI-thread connection (the worker opens its own)
    std::shared_ptr<LiveBuffer> buffer_;
    QThread thread_;
    RunWorker* worker_ = nullptr;    // lives in thread_, deleted when it finishes
    std::deque<Job> pending_;
    int64_t current_ = 0;
    bool current_measure_ = false;
};

}  // namespace ptune::ui
