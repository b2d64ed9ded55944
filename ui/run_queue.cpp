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
void LiveBuffer::add(const SampleEvent& e) {
    std::lock_guard<std::mutex> l(mu_);
    ev_.samples.push_back(e);
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
    std::swap(out.samples, ev_.samples);
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
    void on_samples(const SampleEvent& e) override { b_.add(e); }

private:
    LiveBuffer& b_;
};
}  // namespace

RunWorker::RunWorker(QString db_path, std::shared_ptr<LiveBuffer> buffer)
    : db_path_(std::move(db_path)), buffer_(std::move(buffer)) {}

void RunWorker::execute(qint64 run_id, const QString& spec_json) {
    // The cancel flag was cleared by the queue when it handed this job over (a Cancel pressed since stays).
    buffer_->reset(run_id);
    Q_EMIT started(run_id);
    QString status = "failed", reason;
    std::unique_ptr<Store> store;
    try {
        store = std::make_unique<Store>(db_path_.toStdString());
        ExperimentSpec spec = ExperimentSpec::from_json(json::parse(spec_json.toStdString()), "run " + std::to_string(run_id));
        BufferObserver obs(*buffer_);
        RunOutcome o = Runner().run(spec, *store, &obs, &cancel_, run_id);
        status = QString::fromStdString(o.status);
        reason = QString::fromStdString(o.reason);
    } catch (const std::exception& e) {
        reason = QString::fromStdString(e.what());
        // The spec did not read back, or the store failed under the run: the row says failed with the reason where
        // the store can still be written (if not, the next open marks a running row interrupted).
        try {
            if (store) {
                auto r = store->run(run_id);
                if (r && (r->status == "queued" || r->status == "running"))
                    store->finish_run(run_id, "failed", e.what(), "{}", "{}", -1);
            }
        } catch (const std::exception&) {
        }
    }
    Q_EMIT finished(run_id, status, reason);
}

namespace {
json sweep_to_json(const LatencySweep& s) {
    return {{"seq_lens", s.seq_lens}, {"prompt_lens", s.prompt_lens}, {"prompt_sweep_seq_len", s.prompt_sweep_seq_len},
            {"batch_size", s.batch_size}, {"warmup", s.warmup}, {"repeats", s.repeats}, {"device", s.device}};
}
LatencySweep sweep_from_json(const json& j) {
    LatencySweep s;
    s.seq_lens = j.at("seq_lens").get<std::vector<int>>();
    s.prompt_lens = j.at("prompt_lens").get<std::vector<int>>();
    s.prompt_sweep_seq_len = j.at("prompt_sweep_seq_len").get<int>();
    s.batch_size = j.at("batch_size").get<int>();
    s.warmup = j.at("warmup").get<int>();
    s.repeats = j.at("repeats").get<int>();
    s.device = j.at("device").get<std::string>();
    return s;
}
}  // namespace

void RunWorker::measure(qint64 run_id, const QString& sweep_json) {
    buffer_->reset(run_id);
    Q_EMIT measure_started(run_id);
    QString status = "completed", reason;
    try {
        Store store(db_path_.toStdString());
        auto rec = store.run(run_id);
        if (!rec) throw Error(db_path_.toStdString() + ": no run with id " + std::to_string(run_id));
        ExperimentSpec spec = ExperimentSpec::from_json(json::parse(rec->spec_json), "run " + std::to_string(run_id));
        const LatencySweep sw = sweep_from_json(json::parse(sweep_json.toStdString()));
        BufferObserver obs(*buffer_);
        LatencyOptions opt;
        opt.batch_sizes = {sw.batch_size};
        opt.warmup = sw.warmup;
        opt.repeats = sw.repeats;
        opt.device = sw.device.empty() ? spec.train.device : sw.device;
        opt.threads = spec.train.threads;
        opt.seed = spec.train.seed;
        // Against sequence length at the run's prompt length, then against prompt length at one length;
        // each sweep measured round-robin, base beside prompted.
        if (!sw.seq_lens.empty()) {
            opt.seq_lens = sw.seq_lens;
            opt.prompt_lens = {};
            Runner::bench_run(store, run_id, opt, &obs, &cancel_);
        }
        if (!sw.prompt_lens.empty() && !cancel_.is_set()) {
            opt.seq_lens = {sw.prompt_sweep_seq_len};
            opt.prompt_lens = sw.prompt_lens;
            Runner::bench_run(store, run_id, opt, &obs, &cancel_);
        }
        if (cancel_.is_set()) status = "cancelled";
    } catch (const std::exception& e) {
        status = "failed";
        reason = QString::fromStdString(e.what());
    }
    Q_EMIT measure_finished(run_id, status, reason);
}

RunQueue::RunQueue(QString db_path, QObject* parent)
    : QObject(parent), db_path_(std::move(db_path)), buffer_(std::make_shared<LiveBuffer>()) {
    store_ = std::make_unique<Store>(db_path_.toStdString());
    worker_ = new RunWorker(db_path_, buffer_);
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(this, &RunQueue::request_execute, worker_, &RunWorker::execute, Qt::QueuedConnection);
    connect(this, &RunQueue::request_measure, worker_, &RunWorker::measure, Qt::QueuedConnection);
    connect(worker_, &RunWorker::started, this, [this](qint64 id) { Q_EMIT run_started(id); }, Qt::QueuedConnection);
    connect(worker_, &RunWorker::finished, this, &RunQueue::on_finished, Qt::QueuedConnection);
    connect(worker_, &RunWorker::measure_started, this, [this](qint64 id) { Q_EMIT measure_started(id); },
            Qt::QueuedConnection);
    connect(worker_, &RunWorker::measure_finished, this, &RunQueue::on_measure_finished, Qt::QueuedConnection);
    thread_.setObjectName("ptune-run-worker");
    thread_.start();
}

RunQueue::~RunQueue() {
    if (worker_) worker_->cancel_flag().cancel();
    // Queued runs that never started stay in the store as cancelled, not as queued forever.
    for (const Job& j : pending_) {
        if (j.measure) continue;
        try {
            store_->finish_run(j.run_id, "cancelled", "the workbench closed before it started", "{}", "{}", -1);
        } catch (...) {
        }
    }
    thread_.quit();
    thread_.wait();
}

int64_t RunQueue::enqueue(const ExperimentSpec& spec) {
    spec.validate();
    int64_t id = Runner::enqueue(spec, *store_);
    pending_.push_back({id, false, QString::fromStdString(spec.to_json().dump())});
    if (current_ == 0) start_next();
    return id;
}

void RunQueue::enqueue_measure(int64_t run_id, const LatencySweep& sweep) {
    if (sweep.seq_lens.empty() && sweep.prompt_lens.empty())
        throw Error("latency: give at least one sequence length or prompt length");
    if (sweep.batch_size < 1 || sweep.repeats < 1 || sweep.warmup < 0)
        throw Error("latency: batch size and repeats must be at least 1");
    pending_.push_back({run_id, true, QString::fromStdString(sweep_to_json(sweep).dump())});
    if (current_ == 0) start_next();
}

std::vector<int64_t> RunQueue::queued() const {
    std::vector<int64_t> out;
    for (const Job& j : pending_)
        if (!j.measure) out.push_back(j.run_id);
    return out;
}

void RunQueue::cancel_current() {
    if (current_ != 0 && worker_) worker_->cancel_flag().cancel();
}

bool RunQueue::cancel_queued(int64_t run_id) {
    for (size_t i = 0; i < pending_.size(); ++i) {
        if (pending_[i].run_id != run_id || pending_[i].measure) continue;
        pending_.erase(pending_.begin() + (long)i);
        try {
            store_->finish_run(run_id, "cancelled", "removed from the queue before it started", "{}", "{}", -1);
        } catch (const std::exception&) {
            // The row is gone (deleted elsewhere) or the store cannot be written: the job is withdrawn anyway.
        }
        return true;
    }
    return false;
}

int RunQueue::clear_pending() {
    int n = 0;
    while (!pending_.empty()) {
        const Job j = pending_.back();
        if (j.measure) {
            pending_.pop_back();
            ++n;
        } else {
            n += cancel_queued(j.run_id) ? 1 : 0;
        }
    }
    return n;
}

bool RunQueue::uses_run(int64_t run_id) const {
    if (current_ == run_id) return true;
    for (const Job& j : pending_)
        if (j.run_id == run_id) return true;
    return false;
}

void RunQueue::start_next() {
    if (pending_.empty()) {
        current_ = 0;
        current_measure_ = false;
        Q_EMIT idle();
        return;
    }
    Job j = pending_.front();
    pending_.pop_front();
    // Cleared here, on the GUI thread, before the worker gets the job: a Cancel from now on reaches it.
    if (worker_) worker_->cancel_flag().requested.store(false);
    current_ = j.run_id;
    current_measure_ = j.measure;
    if (j.measure)
        Q_EMIT request_measure(j.run_id, j.payload);
    else
        Q_EMIT request_execute(j.run_id, j.payload);
}

// The queue is not busy with a finished job while its finished signal is handled (a handler may quit the
// application or enqueue more); a handler's enqueue starts the next job itself.
void RunQueue::on_finished(qint64 run_id, const QString& status, const QString& reason) {
    current_ = 0;
    current_measure_ = false;
    Q_EMIT run_finished(run_id, status, reason);
    if (current_ == 0) start_next();
}

void RunQueue::on_measure_finished(qint64 run_id, const QString& status, const QString& reason) {
    current_ = 0;
    current_measure_ = false;
    Q_EMIT measure_finished(run_id, status, reason);
    if (current_ == 0) start_next();
}

}  // namespace ptune::ui

