#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QSplitter>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QTimer>
#include <cmath>

#include "core/engine/builtin.h"
#include "core/engine/devices.h"
#include "core/engine/model_config.h"
#include "experiments/runner.h"
#include "experiments/suite.h"
#include "ui/compare_view.h"
#include "ui/generate_view.h"
#include "ui/inspect_view.h"
#include "ui/latency_view.h"
#include "ui/methods_view.h"
#include "ui/plot_util.h"
#include "ui/run_queue.h"
#include "ui/runs_browser.h"
#include "ui/setup_panel.h"
#include "ui/training_view.h"

#ifndef PTUNE_VERSION
#define PTUNE_VERSION "dev"
#endif

namespace ptune::ui {

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

QString hms(double s) {
    if (!std::isfinite(s) || s < 0) return "–";
    const qint64 t = (qint64)std::llround(s);
    if (t >= 3600) return QString("%1:%2:%3").arg(t / 3600).arg(t / 60 % 60, 2, 10, QChar('0')).arg(t % 60, 2, 10, QChar('0'));
    return QString("%1:%2").arg(t / 60).arg(t % 60, 2, 10, QChar('0'));
}

// What the views need of a stored run's model: its layer count and the layers with prompts.
struct RunShape {
    int layers = 0;
    std::vector<int> prompt_layers;
    int prompt_len = 0;
    int max_positions = 0;
    QString title;
    std::string method = "ptv2";   // as run_latency names it
    bool causal_lm = false;
};

RunShape shape_of(const RunRecord& r) {
    RunShape s;
    s.title = QString("#%1 %2").arg(r.id).arg(q(r.name));
    s.prompt_len = r.prompt_len;
    try {
        ExperimentSpec spec = ExperimentSpec::from_json(json::parse(r.spec_json), "run " + std::to_string(r.id));
        s.method = spec.method.name;
        if (spec.task == "causal-lm") {
            s.causal_lm = true;
            const ModelSummary m = summarize_model(spec.model);
            s.layers = (int)m.layers;
            s.max_positions = (int)m.max_positions;   // 0: rotary positions, no table
        } else {
            ModelConfig c = ModelConfig::from_dir(resolve_model_dir(spec.model));
            s.layers = (int)c.num_layers;
            s.max_positions = (int)(c.max_position_embeddings - c.position_offset());
        }
        s.prompt_layers = spec.method.prefix.layers.resolve(s.layers);
    } catch (const std::exception&) {
        // The model directory moved or the spec is from elsewhere: the views fall back to what the norms show.
    }
    return s;
}

}  // namespace

// Qt does not catch exceptions thrown through its event loop: every handler that reads or writes the store runs
// inside this, and a failure becomes a message in the status bar (with the reason) instead of ending the app.
template <class F>
void MainWindow::guarded(const char* what, F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        const QString msg = QString("%1: %2").arg(what, q(e.what()));
        statusBar()->showMessage(msg, 15000);
        qWarning("%s", qPrintable(msg));
    }
}

MainWindow::MainWindow(const QString& db_path, QWidget* parent) : QMainWindow(parent) {
    setObjectName("ptune_workbench");
    store_ = std::make_unique<Store>(db_path.toStdString());
    tabs_ = new QTabWidget;
    tabs_->setDocumentMode(true);
    setup_ = new SetupPanel;
    training_ = new TrainingView;
    latency_ = new LatencyView;
    runs_ = new RunsBrowser;
    compare_ = new CompareView;
    generate_ = new GenerateView;
    inspect_ = new InspectView;
    tabs_->addTab(setup_, "Setup");
    tabs_->addTab(training_, "Training");
    tabs_->addTab(latency_, "Latency");
    tabs_->addTab(runs_, "Runs");
    tabs_->addTab(compare_, "Compare");
    tabs_->addTab(generate_, "Generate");
    tabs_->addTab(inspect_, "Inspect");
    setCentralWidget(tabs_);
    runs_->set_store(store_.get());
    generate_->set_store(store_.get());
    inspect_->set_store(store_.get());

    build_menus();
    build_status_bar();

    connect(setup_, &SetupPanel::run_requested, this, [this] { start_run(); });
    connect(runs_, &RunsBrowser::current_run_changed, this,
            [this](qint64 id) { guarded("Show run", [&] { on_current_run(id); }); });
    connect(runs_, &RunsBrowser::compare_requested, this, [this](const QList<qint64>& ids) {
        guarded("Compare", [&] {
            compare_->set_runs(*store_, std::vector<int64_t>(ids.begin(), ids.end()));
            tabs_->setCurrentWidget(compare_);
        });
    });
    connect(runs_, &RunsBrowser::generate_requested, this, [this](qint64 id) {
        guarded("Generate", [&] {
            generate_->refresh_runs();
            if (generate_->select_run(id)) tabs_->setCurrentWidget(generate_);
            else QMessageBox::warning(this, "Generate", generate_->message());
        });
    });
    connect(runs_, &RunsBrowser::runs_deleted, this, [this](const QList<qint64>& ids) {
        guarded("Delete runs", [&] {
            for (qint64 id : ids) {
                if (training_->run_id() == id) training_->clear();
                if (latency_->run_id() == id) latency_->clear();
            }
            std::vector<int64_t> keep;
            for (int64_t id : compare_->run_ids())
                if (!ids.contains(id)) keep.push_back(id);
            compare_->set_runs(*store_, keep);
        });
    });
    connect(latency_, &LatencyView::measure_requested, this, [this](qint64 id, const LatencySweep& sweep) {
        try {
            queue_->enqueue_measure(id, sweep);
            statusBar()->showMessage(queue_->current() == id && queue_->measuring()
                                         ? QString("Measuring latency of run #%1…").arg(id)
                                         : QString("Latency of run #%1 queued after the running jobs").arg(id),
                                     5000);
        } catch (const std::exception& e) {
            QMessageBox::warning(this, "Latency", q(e.what()));
        }
        update_actions();
    });

    drain_timer_ = new QTimer(this);
    drain_timer_->setInterval(40);   // the coalescing interval: at most 25 view updates a second
    connect(drain_timer_, &QTimer::timeout, this, [this] { guarded("Live update", [&] { drain(); }); });
    attach_queue(std::make_unique<RunQueue>(db_path));
    restore_settings();
    update_title();
    update_actions();
    if (store_->interrupted_on_open())
        statusBar()->showMessage(QString("%1 run(s) from an earlier session were still running and are marked interrupted")
                                     .arg(store_->interrupted_on_open()),
                                 10000);
}

MainWindow::~MainWindow() {
    drain_timer_->stop();
    queue_.reset();   // cancels the running run and waits for the worker
}

QString MainWindow::db_path() const { return q(store_->path()); }

void MainWindow::attach_queue(std::unique_ptr<RunQueue> queue) {
    queue_ = std::move(queue);
    runs_->set_busy_check([this](int64_t id) {
        return queue_ && queue_->uses_run(id)
                   ? QString("Run #%1 is in use by the run queue (training or a latency measurement): wait for it "
                             "or cancel it first.")
                         .arg(id)
                   : QString();
    });
    connect(queue_.get(), &RunQueue::run_started, this,
            [this](qint64 id) { guarded("Run started", [&] { on_run_started(id); }); });
    connect(queue_.get(), &RunQueue::run_finished, this, [this](qint64 id, const QString& status, const QString& reason) {
        guarded("Run finished", [&] { on_run_finished(id, status, reason); });
    });
    connect(queue_.get(), &RunQueue::measure_started, this, [this](qint64 id) {
        guarded("Latency", [&] {
            drain();
            if (latency_->run_id() != id) show_stored_run(id);
            latency_->set_busy(true);
            progress_label_->setText(QString("Measuring latency of run #%1…").arg(id));
            // A still bar, and no drain timer: the results come all at once at the end (measure_finished reads them
            // from the store), and a window that keeps drawing (a busy bar's animation) takes CPU time from the
            // measurement and shows up in its p90.
            drain_timer_->stop();
            progress_->setRange(0, 1000);
            progress_->setValue(0);
            progress_->setFormat("measuring…");
            update_actions();
        });
    });
    connect(queue_.get(), &RunQueue::measure_finished, this, [this](qint64 id, const QString& status, const QString& reason) {
      guarded("Latency", [&] {
        drain();
        latency_->set_busy(false);
        progress_->setRange(0, 1000);
        progress_->setValue(status == "completed" ? 1000 : 0);
        progress_->setFormat(status == "completed" ? QString("measured") : status);
        progress_label_->setText(QString("Latency of run #%1: %2").arg(id).arg(status));
        statusBar()->showMessage(QString("Latency of run #%1 %2").arg(id).arg(status == "completed" ? "measured" : status), 5000);
        if (latency_->run_id() == id) {
            RunShape s;
            if (auto r = store_->run(id)) s = shape_of(*r);
            latency_->show_run(*store_, id, s.prompt_len, s.max_positions, s.title, s.method, s.causal_lm);
        }
        if (status == "failed") {
            auto* box = new QMessageBox(QMessageBox::Warning, "Latency measurement failed",
                                        QString("Run #%1: %2").arg(id).arg(reason), QMessageBox::Ok, this);
            box->setAttribute(Qt::WA_DeleteOnClose);
            box->open();
        }
        update_actions();
      });
    });
    connect(queue_.get(), &RunQueue::idle, this, [this] {
        drain_timer_->stop();
        setup_->set_busy(false);
        update_actions();
    });
}

void MainWindow::build_menus() {
    auto mk = [this](QMenu* m, const QString& name, const QString& text, const QKeySequence& key, auto slot) {
        QAction* a = m->addAction(text);
        a->setObjectName(name);
        if (!key.isEmpty()) a->setShortcut(key);
        connect(a, &QAction::triggered, this, slot);
        return a;
    };
    QMenu* file = menuBar()->addMenu("&File");
    mk(file, "new_experiment", "&New Experiment", QKeySequence::New, [this] {
        setup_->set_spec(default_spec());
        tabs_->setCurrentWidget(setup_);
    });
    mk(file, "open_spec", "&Open Experiment Spec…", QKeySequence::Open, [this] { load_spec_file(); });
    mk(file, "save_spec", "&Save Experiment Spec…", QKeySequence::Save, [this] { save_spec_file(); });
    file->addSeparator();
    mk(file, "open_db", "Open &Database…", QKeySequence("Ctrl+Shift+O"), [this] {
        QString f = QFileDialog::getSaveFileName(this, "Open or create a run database", db_path(),
                                                 "ptune run store (*.sqlite *.db);;All files (*)", nullptr,
                                                 QFileDialog::DontConfirmOverwrite);
        if (!f.isEmpty()) open_database(f);
    });
    file->addSeparator();
    mk(file, "export_adapter", "&Export Adapter…", QKeySequence("Ctrl+E"), [this] { export_adapter(); });
    mk(file, "export_chart", "Export &Chart…", QKeySequence("Ctrl+Shift+E"), [this] { export_chart(); });
    file->addSeparator();
    mk(file, "quit", "&Quit", QKeySequence::Quit, [this] { close(); });

    QMenu* run = menuBar()->addMenu("&Run");
    QAction* r = mk(run, "run", "&Run Experiment", QKeySequence("Ctrl+R"), [this] { start_run(); });
    r->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
    QAction* c = mk(run, "cancel", "&Cancel Current", QKeySequence("Ctrl+."), [this] { cancel_current(); });
    c->setIcon(style()->standardIcon(QStyle::SP_MediaStop));
    mk(run, "withdraw", "&Remove Queued Runs", QKeySequence(), [this] {
        const int n = queue_->clear_pending();
        runs_->refresh();
        statusBar()->showMessage(QString("%1 queued job(s) removed").arg(n), 5000);
        update_actions();
    });
    mk(run, "run_suite", "Run &Suite…", QKeySequence("Ctrl+Shift+R"), [this] {
        bool ok = false;
        const QStringList kinds{"methods — every method on this experiment", "prompt-len — P = 4 … 128",
                                "depth — prompts in the first k vs the last k layers",
                                "grid — the P-Tuning v2 authors' search: lr × P × epochs (108 runs per seed)"};
        const QString kind = QInputDialog::getItem(this, "Run suite", "Ready-made suite on the setup's experiment:", kinds, 0,
                                                   false, &ok);
        if (!ok) return;
        const QString seeds_text = QInputDialog::getText(this, "Run suite", "Seeds (comma separated):", QLineEdit::Normal,
                                                         "1,2,3", &ok);
        if (!ok) return;
        std::vector<uint64_t> seeds;
        for (const QString& x : seeds_text.split(',', Qt::SkipEmptyParts)) {
            bool num = false;
            const qulonglong v = x.trimmed().toULongLong(&num);
            if (!num) {
                QMessageBox::warning(this, "Run suite", QString("Seeds: \"%1\" is not a number").arg(x.trimmed()));
                return;
            }
            seeds.push_back(v);
        }
        start_suite(kind.section(' ', 0, 0), seeds);
    });
    mk(run, "run_suite_file", "Run Suite &File…", QKeySequence(), [this] {
        const QString f = QFileDialog::getOpenFileName(this, "Run suite file", QString(), "Suite (*.json);;All files (*)");
        if (!f.isEmpty()) start_suite_file(f);
    });
    run->addSeparator();
    mk(run, "measure", "Measure &Latency of Selected Run", QKeySequence("Ctrl+L"), [this] {
        auto ids = runs_->selected_ids();
        if (ids.empty() && latency_->run_id() == 0) {
            QMessageBox::information(this, "Latency", "Select a run in Runs first.");
            return;
        }
        if (!ids.empty() && latency_->run_id() != ids.front())
            guarded("Show run", [&] { show_stored_run(ids.front()); });
        tabs_->setCurrentWidget(latency_);
        const QString blocked = latency_->blocked_reason();
        if (!blocked.isEmpty()) {
            statusBar()->showMessage("Cannot measure: " + blocked, 8000);
            return;
        }
        Q_EMIT latency_->measure_requested(latency_->run_id(), latency_->sweep());
    });

    QMenu* view = menuBar()->addMenu("&View");
    const char* names[] = {"Setup", "Training", "Latency", "Runs", "Compare", "Generate", "Inspect"};
    for (int i = 0; i < 7; ++i)
        mk(view, QString("view_%1").arg(QString(names[i]).toLower()), QString("&%1").arg(names[i]),
           QKeySequence(QString("Ctrl+%1").arg(i + 1)), [this, i] { tabs_->setCurrentIndex(i); });
    view->addSeparator();
    mk(view, "refresh", "&Refresh Runs", QKeySequence::Refresh, [this] { runs_->refresh(); });
    mk(view, "compare", "Compare &Selected Runs", QKeySequence("Ctrl+K"), [this] {
        guarded("Compare", [&] {
            compare_->set_runs(*store_, runs_->selected_ids());
            tabs_->setCurrentWidget(compare_);
        });
    });

    QMenu* help = menuBar()->addMenu("&Help");
    mk(help, "about", "&About ptune", QKeySequence(), [this] { about(); });
    mk(help, "about_qt", "About &Qt", QKeySequence(), [] { QApplication::aboutQt(); });
}

void MainWindow::build_status_bar() {
    progress_label_ = new QLabel("Idle");
    progress_label_->setObjectName("progress_label");
    progress_label_->setMinimumWidth(380);
    progress_ = new QProgressBar;
    progress_->setObjectName("progress");
    progress_->setRange(0, 1000);
    progress_->setValue(0);
    progress_->setMaximumWidth(260);
    progress_->setTextVisible(true);
    queue_label_ = new QLabel;
    cancel_button_ = new QPushButton(style()->standardIcon(QStyle::SP_MediaStop), "Cancel");
    cancel_button_->setObjectName("cancel_button");
    cancel_button_->setToolTip("Stop the running run after the current step; what it learned so far is kept (Ctrl+.)");
    connect(cancel_button_, &QPushButton::clicked, this, &MainWindow::cancel_current);
    statusBar()->addPermanentWidget(progress_label_);
    statusBar()->addPermanentWidget(progress_);
    statusBar()->addPermanentWidget(queue_label_);
    statusBar()->addPermanentWidget(cancel_button_);
}

QAction* MainWindow::action(const QString& name) const { return findChild<QAction*>(name); }
QString MainWindow::progress_text() const { return progress_label_->text(); }
int MainWindow::progress_value() const { return progress_->value(); }

void MainWindow::update_title() {
    setWindowTitle(QString("%1 — ptune workbench").arg(QDir::toNativeSeparators(db_path())));
    setWindowFilePath(db_path());
}

void MainWindow::update_actions() {
    const bool busy = queue_ && queue_->busy();
    cancel_button_->setEnabled(queue_ && queue_->current() != 0);
    action("cancel")->setEnabled(queue_ && queue_->current() != 0);
    action("withdraw")->setEnabled(queue_ && queue_->pending_jobs() > 0);
    action("open_db")->setEnabled(!busy);
    const size_t n = queue_ ? queue_->queued().size() : 0;
    queue_label_->setText(n ? QString("%1 queued").arg(n) : QString());
    setup_->set_busy(busy);
}

qint64 MainWindow::start_run() {
    if (starting_) return 0;   // a second Run while the first waits for the form's checks
    starting_ = true;
    if (setup_->checks_pending()) {
        // Finish the background checks first so that Run never starts on a half-validated form.
        QElapsedTimer t;
        t.start();
        while (setup_->checks_pending() && t.elapsed() < 10000)
            QApplication::processEvents(QEventLoop::ExcludeUserInputEvents, 20);
    }
    starting_ = false;
    if (setup_->checks_pending()) {
        statusBar()->showMessage("Cannot run yet: the model or data is still being read", 8000);
        return 0;
    }
    if (!setup_->errors().isEmpty()) {
        tabs_->setCurrentWidget(setup_);
        statusBar()->showMessage("Cannot run: " + setup_->errors().front(), 8000);
        return 0;
    }
    ExperimentSpec spec = setup_->spec();
    QSettings().setValue("setup/spec", q(spec.to_json().dump()));
    try {
        const qint64 id = queue_->enqueue(spec);
        runs_->refresh();
        if (queue_->current() != id)
            statusBar()->showMessage(QString("Run #%1 queued; it starts when the runs before it end").arg(id), 5000);
        update_actions();
        return id;
    } catch (const std::exception& e) {
        QMessageBox::warning(this, "Cannot run", q(e.what()));
        return 0;
    }
}

std::vector<int64_t> MainWindow::start_suite(const QString& kind, const std::vector<uint64_t>& seeds) {
    std::vector<int64_t> ids;
    const std::optional<ModelSummary> summary = setup_->model_summary();   // a copy: m below refers into it
    if (setup_->checks_pending() || !setup_->errors().isEmpty() || !summary) {
        statusBar()->showMessage("Cannot run a suite: " + (setup_->errors().isEmpty() ? QString("the form is not checked yet")
                                                                                     : setup_->errors().front()),
                                 8000);
        tabs_->setCurrentWidget(setup_);
        return ids;
    }
    try {
        const ModelSummary& m = *summary;
        Suite suite = make_ablation(kind.toStdString(), setup_->spec(), (int)m.layers,
                                    (int)(m.max_positions - m.position_offset), seeds);
        std::vector<ExperimentSpec> specs = suite.expand();   // validates every run before any is queued
        for (const ExperimentSpec& s : specs) ids.push_back(queue_->enqueue(s));
        runs_->refresh();
        statusBar()->showMessage(QString("Suite %1: %2 runs queued").arg(kind).arg(ids.size()), 8000);
    } catch (const std::exception& e) {
        QMessageBox::warning(this, "Run suite", q(e.what()));
    }
    update_actions();
    return ids;
}

std::vector<int64_t> MainWindow::start_suite_file(const QString& path, QString* error) {
    std::vector<int64_t> ids;
    try {
        const Suite suite = Suite::load(path.toStdString());
        const std::vector<ExperimentSpec> specs = suite.expand();   // every run valid before any is queued
        for (const ExperimentSpec& s : specs) ids.push_back(queue_->enqueue(s));
        runs_->refresh();
        statusBar()->showMessage(QString("Suite %1 (%2): %3 runs queued").arg(q(suite.name), path).arg(ids.size()), 8000);
    } catch (const std::exception& e) {
        QString msg = q(e.what());
        if (!msg.contains(path)) msg = path + ": " + msg;   // expand's errors name the suite and variant
        if (error) *error = msg;
        else QMessageBox::warning(this, "Run suite file", msg);
    }
    update_actions();
    return ids;
}

void MainWindow::on_run_started(qint64 id) {
    if (id == live_run_) return;   // drain() saw its events first and started it already
    live_run_ = id;
    live_all_ = LiveEvents{};
    live_all_.run_id = id;
    total_steps_ = 0;
    RunShape s;
    if (auto r = store_->run(id)) s = shape_of(*r);
    training_->begin_live(id, s.title, s.layers, s.prompt_layers);
    tabs_->setCurrentWidget(training_);
    progress_->setRange(0, 1000);
    progress_->setValue(0);
    progress_->setFormat("starting");
    progress_label_->setText(QString("Run #%1: loading the model and data…").arg(id));
    runs_->refresh_run(id);
    drain_timer_->start();
    update_actions();
}

void MainWindow::drain() {
    if (!queue_) return;
    LiveEvents ev = queue_->take_events();
    if (ev.run_id == 0) return;
    if (!ev.latency.empty() && latency_->run_id() == ev.run_id) latency_->append(ev.latency);
    // The next queued run's first events can arrive before its run_started signal.
    if (ev.run_id != live_run_ && queue_->current() == ev.run_id && !queue_->measuring() &&
        (!ev.steps.empty() || !ev.evals.empty() || !ev.norms.empty() || !ev.messages.empty() || !ev.samples.empty()))
        on_run_started(ev.run_id);
    if (ev.run_id != live_run_) return;
    if (ev.total_steps > 0) total_steps_ = ev.total_steps;
    live_all_.total_steps = total_steps_;
    live_all_.steps.insert(live_all_.steps.end(), ev.steps.begin(), ev.steps.end());
    live_all_.evals.insert(live_all_.evals.end(), ev.evals.begin(), ev.evals.end());
    live_all_.norms.insert(live_all_.norms.end(), ev.norms.begin(), ev.norms.end());
    training_->append(ev);
    for (auto& m : ev.messages) statusBar()->showMessage(QString("Run #%1: %2").arg(ev.run_id).arg(q(m)), 8000);
    if (!ev.steps.empty()) {
        const StepEvent& s = ev.steps.back();
        const int64_t total = s.total_steps ? s.total_steps : total_steps_;
        progress_->setValue(total ? (int)std::min<int64_t>(1000, s.step * 1000 / total) : 0);
        progress_->setFormat(QString("%1 / %2").arg(s.step).arg(total));
        progress_label_->setText(QString("Run #%1 · step %2/%3 · epoch %4 · %5 samples/s · ETA %6")
                                     .arg(ev.run_id)
                                     .arg(s.step)
                                     .arg(total)
                                     .arg(s.epoch, 0, 'f', 2)
                                     .arg(s.samples_per_s, 0, 'f', s.samples_per_s < 100 ? 1 : 0)
                                     .arg(hms(s.eta_s)));
        // The browser's row (latest loss, status) every 2 s, not on every drain.
        if (s.elapsed_s - last_browser_refresh_ > 2.0 || s.elapsed_s < last_browser_refresh_) {
            last_browser_refresh_ = s.elapsed_s;
            runs_->refresh_run(ev.run_id);
        }
    }
}

void MainWindow::on_run_finished(qint64 id, const QString& status, const QString& reason) {
    drain();
    training_->flush();
    live_run_ = 0;
    runs_->refresh_run(id);
    live_all_ = LiveEvents{};
    const QString text = QString("Run #%1 %2").arg(id).arg(status);
    progress_label_->setText(text);
    progress_->setRange(0, 1000);
    if (status == "completed") progress_->setValue(1000);
    if (status != "completed") progress_->setFormat(status);
    statusBar()->showMessage(text + (reason.isEmpty() ? QString() : ": " + reason), 15000);
    if (status == "failed" && !quitting_) {
        auto* box = new QMessageBox(QMessageBox::Warning, "Run failed",
                                    QString("Run #%1 failed.\n\n%2\n\nThe run is kept in the database with this reason; "
                                            "what it logged before is still there.")
                                        .arg(id)
                                        .arg(reason),
                                    QMessageBox::Ok, this);
        box->setAttribute(Qt::WA_DeleteOnClose);
        box->open();
    }
    update_actions();
}

void MainWindow::on_current_run(qint64 id) {
    if (id == 0) return;
    if (id == live_run_) {
        // Back to the live run after looking at another: replay what it reported so far, then keep appending.
        if (training_->run_id() != id) {
            RunShape s;
            if (auto r = store_->run(id)) s = shape_of(*r);
            training_->begin_live(id, s.title, s.layers, s.prompt_layers);
            training_->append(live_all_);
        }
        if (latency_->run_id() != id) show_stored_run(id);
        return;
    }
    show_stored_run(id);
}

void MainWindow::show_stored_run(qint64 id) {
    auto r = store_->run(id);
    if (!r) return;
    RunShape s = shape_of(*r);
    if (id != live_run_) training_->show_run(*store_, id, s.layers, s.title);
    latency_->show_run(*store_, id, s.prompt_len, s.max_positions, s.title, s.method, s.causal_lm);
    latency_->set_busy(queue_ && queue_->measuring());   // show_run resets it
}

void MainWindow::cancel_current() {
    if (!queue_ || queue_->current() == 0) return;
    queue_->cancel_current();
    progress_label_->setText(QString("Run #%1: cancelling after the current step…").arg(queue_->current()));
}

bool MainWindow::open_database(const QString& path) {
    if (queue_ && queue_->busy()) {
        QMessageBox::information(this, "Open database", "Runs are going. Wait for them or cancel them first.");
        return false;
    }
    std::unique_ptr<Store> next;
    std::unique_ptr<RunQueue> next_queue;
    try {
        next = std::make_unique<Store>(path.toStdString());
        next_queue = std::make_unique<RunQueue>(path);
    } catch (const std::exception& e) {
        QMessageBox::warning(this, "Open database", q(e.what()));
        return false;   // the open database stays as it was
    }
    queue_.reset();
    runs_->set_store(nullptr);
    generate_->set_store(nullptr);
    inspect_->set_store(nullptr);
    training_->clear();
    latency_->clear();
    compare_->set_runs(*next, {});
    store_ = std::move(next);
    runs_->set_store(store_.get());
    generate_->set_store(store_.get());
    inspect_->set_store(store_.get());
    attach_queue(std::move(next_queue));
    QSettings().setValue("db/path", db_path());
    update_title();
    update_actions();
    statusBar()->showMessage(QString("Opened %1: %2 runs").arg(db_path()).arg(store_->runs().size()), 5000);
    return true;
}

void MainWindow::export_adapter() {
    auto ids = runs_->selected_ids();
    qint64 id = ids.empty() ? training_->run_id() : ids.front();
    if (id == 0) {
        QMessageBox::information(this, "Export adapter", "Select a run in Runs first.");
        return;
    }
    auto r = store_->run(id);
    if (!r) return;
    // PEFT first where the run has PEFT files; else ptune's format is proposed (PEFT's export would be refused).
    bool peft = false;
    for (const ArtifactRow& a : store_->artifacts(id)) peft = peft || a.kind == "peft_adapter";
    QStringList formats{peft ? "PEFT (Hugging Face peft loads it unchanged)"
                             : "PEFT (this run has none: PEFT cannot express it, the export says why)",
                        "ptune (every option, resumable)"};
    bool ok = false;
    QString f = QInputDialog::getItem(this, "Export adapter", QString("Format for run #%1 %2:").arg(id).arg(q(r->name)),
                                      formats, peft ? 0 : 1, false, &ok);
    if (!ok) return;
    QString dir = QFileDialog::getExistingDirectory(this, "Export into folder");
    if (dir.isEmpty()) return;
    try {
        export_run(*store_, id, f.startsWith("PEFT") ? "peft" : "ptune", dir.toStdString());
        statusBar()->showMessage(QString("Run #%1 exported to %2").arg(id).arg(dir), 8000);
    } catch (const std::exception& e) {
        QMessageBox::warning(this, "Export adapter", q(e.what()));
    }
}

void MainWindow::export_chart() {
    QWidget* cur = tabs_->currentWidget();
    const bool methods = cur == compare_ && compare_->methods_page_shown();
    QStringList charts;
    if (cur == training_) charts = {"loss", "metric", "norms", "norm_bars"};
    else if (cur == latency_) charts = {"seq", "prompt"};
    else if (methods) charts = {"bars", "scatter"};
    else if (cur == compare_) charts = {"loss", "metric"};
    if (charts.isEmpty()) {
        QMessageBox::information(this, "Export chart",
                                 "File > Export Chart saves a chart of the tab shown: open the Training, Latency or "
                                 "Compare tab first.");
        return;
    }
    bool ok = false;
    QString which = QInputDialog::getItem(this, "Export chart", "Chart:", charts, 0, false, &ok);
    if (!ok) return;
    const QString path = ask_chart_path(this, which);
    if (path.isEmpty()) return;
    QString err = cur == latency_   ? latency_->save_chart(which, path)
                  : methods         ? compare_->methods_view()->save_chart(which, path)
                  : cur == compare_ ? compare_->save_chart(which, path)
                                    : training_->save_chart(which, path);
    if (!err.isEmpty()) QMessageBox::warning(this, "Export chart", err);
    else statusBar()->showMessage("Saved " + path, 5000);
}

QString MainWindow::open_spec(const QString& path, bool interactive) {
    try {
        setup_->set_spec(ExperimentSpec::load(path.toStdString()));
        tabs_->setCurrentWidget(setup_);
        statusBar()->showMessage("Opened " + path, 5000);
        return QString();
    } catch (const std::exception& e) {
        const QString err = q(e.what());
        if (interactive) QMessageBox::warning(this, "Open experiment spec", err);
        return err;
    }
}

QString MainWindow::save_spec(const QString& path0, bool interactive) {
    QString path = path0;
    if (QFileInfo(path).suffix().isEmpty()) path += ".json";
    try {
        setup_->spec().save(path.toStdString());
        statusBar()->showMessage("Saved " + path, 5000);
        return QString();
    } catch (const std::exception& e) {
        const QString err = q(e.what());
        if (interactive) QMessageBox::warning(this, "Save experiment spec", err);
        return err;
    }
}

void MainWindow::load_spec_file() {
    QString f = QFileDialog::getOpenFileName(this, "Open experiment spec", QString(), "Experiment spec (*.json);;All files (*)");
    if (!f.isEmpty()) open_spec(f, true);
}

void MainWindow::save_spec_file() {
    QString f = QFileDialog::getSaveFileName(this, "Save experiment spec", QDir::home().filePath("experiment.json"),
                                             "Experiment spec (*.json)");
    if (!f.isEmpty()) save_spec(f, true);
}

void MainWindow::about() {
    const RuntimeInfo rt = runtime_info();
    QStringList devices;
    for (const DeviceInfo& d : list_devices()) devices << q(d.id) + ": " + q(d.name);
    QMessageBox::about(this, "About ptune",
                       QString("<h3>ptune workbench %1</h3>"
                               "<p>Deep prompt tuning (P-Tuning v2) and its comparison with other PEFT methods.</p>"
                               "<table><tr><td>LibTorch</td><td>%2%3</td></tr>"
                               "<tr><td>Qt</td><td>%4 (built with %5)</td></tr>"
                               "<tr><td>Devices</td><td>%6</td></tr>"
                               "<tr><td>Database</td><td>%7</td></tr></table>")
                           .arg(PTUNE_VERSION, q(rt.libtorch_version), rt.cuda_available ? " with CUDA" : " (CPU)",
                                qVersion(), QT_VERSION_STR, devices.join("<br>"), db_path().toHtmlEscaped()));
}

ExperimentSpec MainWindow::default_spec() {
    try {
        return ExperimentSpec::load(builtin_dir() + "/experiment.json");
    } catch (const std::exception&) {
        return ExperimentSpec{};   // resources missing: the form still opens, and says what it cannot find
    }
}

void MainWindow::restore_settings() {
    QSettings s;
    if (!restoreGeometry(s.value("window/geometry").toByteArray())) resize(1360, 900);
    restoreState(s.value("window/state").toByteArray());
    const QString spec = s.value("setup/spec").toString();
    if (spec.isEmpty()) setup_->set_spec(default_spec());
    if (!spec.isEmpty()) {
        try {
            setup_->set_spec(ExperimentSpec::from_json(json::parse(spec.toStdString()), "the last setup"));
        } catch (const std::exception& e) {
            statusBar()->showMessage("The last setup could not be restored: " + q(e.what()), 10000);
        }
    }
    tabs_->setCurrentIndex(std::clamp(s.value("window/tab", 0).toInt(), 0, tabs_->count() - 1));
    for (QWidget* w : std::initializer_list<QWidget*>{training_, latency_, runs_, compare_})
        for (QSplitter* sp : w->findChildren<QSplitter*>())
            if (!sp->objectName().isEmpty()) sp->restoreState(s.value("splitters/" + sp->objectName()).toByteArray());
}

void MainWindow::save_settings() {
    QSettings s;
    s.setValue("window/geometry", saveGeometry());
    s.setValue("window/state", saveState());
    s.setValue("window/tab", tabs_->currentIndex());
    s.setValue("setup/spec", q(setup_->spec().to_json().dump()));
    s.setValue("db/path", db_path());
    for (QWidget* w : std::initializer_list<QWidget*>{training_, latency_, runs_, compare_})
        for (QSplitter* sp : w->findChildren<QSplitter*>())
            if (!sp->objectName().isEmpty()) s.setValue("splitters/" + sp->objectName(), sp->saveState());
}

void MainWindow::closeEvent(QCloseEvent* e) {
    if (queue_ && queue_->busy() && !quitting_) {
        const auto answer = QMessageBox::question(
            this, "Quit ptune",
            QString("A run is going%1. Quit anyway? The running run stops after its current step and is kept as "
                    "cancelled; queued runs are marked cancelled.")
                .arg(queue_->queued().empty() ? QString() : QString(" and %1 more are queued").arg(queue_->queued().size())),
            QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
        if (answer != QMessageBox::Yes) {
            e->ignore();
            return;
        }
    }
    quitting_ = true;
    save_settings();
    drain_timer_->stop();
    // The run stops after its current step; the queue itself goes with the window (its destructor waits for
    // the worker and marks queued runs cancelled). Not deleted here: a close can come from inside one of the
    // queue's own signals.
    if (queue_) queue_->cancel_current();
    e->accept();
}

}  // namespace ptune::ui
