#include "ui/run_queue.h"

namespace ptune::ui {

void LiveBuffer::reset(int64_t run_id) {
    std::lock_guard<std::mutex> l(mu_);
    ev_ = LiveEvents{};
    ev_.run_id = run_id;
}
void LiveBuffer::set_total(int64_t total) {
    std::lock_guard<std::mutex> l(mu_);
    ev_.total_steps = total;
}
void LiveBuffer::add(const StepEvent& e) {
    std::lock_guard<std::mutex> l(mu_);
    ev_.steps.push_back(e);
}
void LiveBuffer::add(const EvalEvent& e) {
    std::lock_guard<std::mutex> l(mu_);
    ev_.evals.push_back(e);
}
void LiveBuffer::add(const PromptNormEvent& e) {
    std::lock_guard<std::mutex> l(mu_);
    ev_.norms.push_back(e);
}
void LiveBuffer::add(const LatencyResult& e) {
    std::lock_guard<std::mutex> l(mu_);
    ev_.latency.push_back(e);
}
void LiveBuffer::add_message(const std::string& m) {
    std::lock_guard<std::mutex> l(mu_);
    ev_.messages.push_back(m);
}
LiveEvents LiveBuffer::take() {
    std::lock_guard<std::mutex> l(mu_);
    LiveEvents out;
    out.run_id = ev_.run_id;
    out.total_steps = ev_.total_steps;
    std::swap(out.steps, ev_.steps);
    std::swap(out.evals, ev_.evals);
    std::swap(out.norms, ev_.norms);
    std::swap(out.latency, ev_.latency);
    std::swap(out.messages, ev_.messages);
    return out;
}

namespace {
class BufferObserver : public RunObserver {
public:
    explicit BufferObserver(LiveBuffer& b) : b_(b) {}
    void on_start(int64_t total, int64_t) override { b_.set_total(total); }
    void on_step(const StepEvent& e) override { b_.add(e); }
    void on_eval(const EvalEvent& e) override { b_.add(e); }
    void on_prompt_norms(const PromptNormEvent& e) override { b_.add(e); }
    void on_latency(const LatencyResult& e) override { b_.add(e); }
    void on_message(const std::string& m) override { b_.add_message(m); }

private:
    LiveBuffer& b_;
};
}  // namespace

RunWorker::RunWorker(QString db_path, std::shared_ptr<LiveBuffer> buffer)
    : db_path_(std::move(db_path)), buffer_(std::move(buffer)) {}

void RunWorker::execute(qint64 run_id, const QString& spec_json) {
    cancel_.requested.store(false);
    buffer_->reset(run_id);
    Q_EMIT started(run_id);
    QString status = "failed", reason;
    try {
        Store store(db_path_.toStdString());
        ExperimentSpec spec = ExperimentSpec::from_json(json::parse(spec_json.toStdString()), "run " + std::to_string(run_id));
        BufferObserver obs(*buffer_);
        RunOutcome o = Runner().run(spec, store, &obs, &cancel_, run_id);
        status = QString::fromStdString(o.status);
        reason = QString::fromStdString(o.reason);
    } catch (const std::exception& e) {
        // The store could not be opened or written: the run row may still say queued/running; the next open of
        // the store marks a running one interrupted.
        reason = QString::fromStdString(e.what());
    }
    Q_EMIT finished(run_id, status, reason);
}

RunQueue::RunQueue(QString db_path, QObject* parent)
    : QObject(parent), db_path_(std::move(db_path)), buffer_(std::make_shared<LiveBuffer>()) {
    store_ = std::make_unique<Store>(db_path_.toStdString());
    worker_ = new RunWorker(db_path_, buffer_);
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(this, &RunQueue::request_execute, worker_, &RunWorker::execute, Qt::QueuedConnection);
    connect(worker_, &RunWorker::started, this, [this](qint64 id) { Q_EMIT run_started(id); }, Qt::QueuedConnection);
    connect(worker_, &RunWorker::finished, this, &RunQueue::on_finished, Qt::QueuedConnection);
    thread_.setObjectName("ptune-run-worker");
    thread_.start();
}

RunQueue::~RunQueue() {
    if (worker_) worker_->cancel_flag().cancel();
    // Queued runs that never started stay in the store as cancelled, not as queued forever.
    for (int64_t id : pending_ids_) {
        try {
            store_->finish_run(id, "cancelled", "the workbench closed before it started", "{}", "{}", -1);
        } catch (...) {
        }
    }
    thread_.quit();
    thread_.wait();
}

int64_t RunQueue::enqueue(const ExperimentSpec& spec) {
    spec.validate();
    int64_t id = Runner::enqueue(spec, *store_);
    pending_ids_.push_back(id);
    pending_specs_.push_back(QString::fromStdString(spec.to_json().dump()));
    if (current_ == 0) start_next();
    return id;
}

void RunQueue::cancel_current() {
    if (current_ != 0 && worker_) worker_->cancel_flag().cancel();
}

bool RunQueue::cancel_queued(int64_t run_id) {
    for (size_t i = 0; i < pending_ids_.size(); ++i) {
        if (pending_ids_[i] != run_id) continue;
        pending_ids_.erase(pending_ids_.begin() + (long)i);
        pending_specs_.erase(pending_specs_.begin() + (long)i);
        store_->finish_run(run_id, "cancelled", "removed from the queue before it started", "{}", "{}", -1);
        return true;
    }
    return false;
}

void RunQueue::start_next() {
    if (pending_ids_.empty()) {
        current_ = 0;
        Q_EMIT idle();
        return;
    }
    current_ = pending_ids_.front();
    QString spec = pending_specs_.front();
    pending_ids_.pop_front();
    pending_specs_.pop_front();
    Q_EMIT request_execute(current_, spec);
}

void RunQueue::on_finished(qint64 run_id, const QString& status, const QString& reason) {
    Q_EMIT run_finished(run_id, status, reason);
    start_next();
}

}  // namespace ptune::ui
