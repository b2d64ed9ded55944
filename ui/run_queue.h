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
    bool empty() const { return steps.empty() && evals.empty() && norms.empty() && latency.empty() && messages.empty(); }
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

Q_SIGNALS:
    void started(qint64 run_id);
    void finished(qint64 run_id, const QString& status, const QString& reason);

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
    // Stops the running run within one step (it is kept, status cancelled).
    void cancel_current();
    // Removes a queued run that has not started; it is marked cancelled in the store. False if not queued.
    bool cancel_queued(int64_t run_id);

    int64_t current() const { return current_; }   // 0 when idle
    std::vector<int64_t> queued() const { return {pending_ids_.begin(), pending_ids_.end()}; }
    bool busy() const { return current_ != 0 || !pending_ids_.empty(); }
    LiveEvents take_events() { return buffer_->take(); }
    const QString& db_path() const { return db_path_; }

Q_SIGNALS:
    void run_started(qint64 run_id);
    void run_finished(qint64 run_id, const QString& status, const QString& reason);
    void idle();
    void request_execute(qint64 run_id, const QString& spec_json);  // to the worker (queued connection)

private:
    void start_next();
    void on_finished(qint64 run_id, const QString& status, const QString& reason);

    QString db_path_;
    std::unique_ptr<Store> store_;   // GUI-thread connection (the worker opens its own)
    std::shared_ptr<LiveBuffer> buffer_;
    QThread thread_;
    RunWorker* worker_ = nullptr;    // lives in thread_, deleted when it finishes
    std::deque<int64_t> pending_ids_;
    std::deque<QString> pending_specs_;
    int64_t current_ = 0;
};

}  // namespace ptune::ui
