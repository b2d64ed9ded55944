#pragma once
// The workbench window: setup → run queue (worker thread) → live charts, and the run store's browser, compare
// and latency views, and the Generate tab (a causal LM with a trained prefix against its base model). Data flows
// one way: the setup form makes a spec, the RunQueue's worker runs it and writes the store, its events reach the
// views through the live buffer drained on a 40 ms timer; stored runs are read back from the store when selected.
// No widget is touched from the worker.
#include <QMainWindow>
#include <QString>
#include <memory>

#include "experiments/spec.h"
#include "experiments/store.h"
#include "ui/run_queue.h"

class QAction;
class QLabel;
class QProgressBar;
class QPushButton;
class QTabWidget;
class QTimer;

namespace ptune::ui {

class SetupPanel;
class TrainingView;
class LatencyView;
class RunsBrowser;
class CompareView;
class GenerateView;
class InspectView;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    // Opens (or creates) the run store at db_path; throws ptune::Error naming the file when it cannot be used.
    explicit MainWindow(const QString& db_path, QWidget* parent = nullptr);
    ~MainWindow() override;

    SetupPanel* setup() const { return setup_; }
    TrainingView* training() const { return training_; }
    LatencyView* latency() const { return latency_; }
    RunsBrowser* runs() const { return runs_; }
    CompareView* compare() const { return compare_; }
    GenerateView* generate() const { return generate_; }
    InspectView* inspect() const { return inspect_; }
    RunQueue* queue() const { return queue_.get(); }
    Store* store() const { return store_.get(); }
    QTabWidget* tabs() const { return tabs_; }
    QString db_path() const;
    QString progress_text() const;     // the status bar's progress line
    int progress_value() const;        // 0..1000 (per mille of the running run's steps)
    // The action behind a menu entry by its object name ("run", "cancel", "open_db", ...), for tests.
    QAction* action(const QString& name) const;

    // Queues the setup form's experiment (what Run does); returns the run id, 0 when refused (message shown).
    qint64 start_run();
    // Queues a ready-made suite (prompt-len, depth or methods; experiments/suite.h) on the setup form's
    // experiment, one run per variant and seed; returns the run ids (empty, with a message, when refused).
    std::vector<int64_t> start_suite(const QString& kind, const std::vector<uint64_t>& seeds);
    // Queues a suite file ({"ptune_suite": 1, ...}, as `ptune suite FILE` runs it); returns the run ids (empty,
    // with the error naming the file and field, when refused: nothing is queued then).
    std::vector<int64_t> start_suite_file(const QString& path, QString* error = nullptr);
    // The built-in default experiment (resources/builtin/experiment.json): the form's content on a first start
    // and after File > New Experiment.
    static ExperimentSpec default_spec();
    // Opens another database (refused while runs are going). Returns false with a message when it cannot.
    bool open_database(const QString& path);
    // File > Open / Save Experiment Spec without the dialogs: "" on success, else the error (naming the file
    // and field), also shown in a message box when `interactive`. Save adds ".json" to a name without a suffix.
    QString open_spec(const QString& path, bool interactive = false);
    QString save_spec(const QString& path, bool interactive = false);

protected:
    void closeEvent(QCloseEvent* e) override;

private:
    void build_menus();
    void build_status_bar();
    void restore_settings();
    void save_settings();
    void attach_queue(std::unique_ptr<RunQueue> queue);
    template <class F>
    void guarded(const char* what, F&& f);
    void drain();                                   // the 40 ms timer: live events to the views
    void on_run_started(qint64 id);
    void on_run_finished(qint64 id, const QString& status, const QString& reason);
    void on_current_run(qint64 id);
    void show_stored_run(qint64 id);
    void update_title();
    void update_actions();
    void export_adapter();
    void export_chart();
    void load_spec_file();
    void save_spec_file();
    void about();
    void cancel_current();

    std::unique_ptr<Store> store_;     // the GUI thread's connection (reads, edits of names/tags/notes)
    std::unique_ptr<RunQueue> queue_;  // its worker thread has its own connection
    QTabWidget* tabs_ = nullptr;
    SetupPanel* setup_ = nullptr;
    TrainingView* training_ = nullptr;
    LatencyView* latency_ = nullptr;
    RunsBrowser* runs_ = nullptr;
    CompareView* compare_ = nullptr;
    GenerateView* generate_ = nullptr;
    InspectView* inspect_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QLabel* progress_label_ = nullptr;
    QLabel* queue_label_ = nullptr;
    QPushButton* cancel_button_ = nullptr;
    QTimer* drain_timer_ = nullptr;
    qint64 live_run_ = 0;
    qint64 total_steps_ = 0;
    double last_browser_refresh_ = 0;
    bool quitting_ = false;
    bool starting_ = false;
    LiveEvents live_all_;             // everything the live run reported, to replay when it is re-selected
};

}  // namespace ptune::ui
