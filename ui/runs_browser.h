#pragma once
// The runs browser: every stored run in a sortable, filterable table (RunsModel through a proxy), a detail panel
// to rename a run and edit its tags and notes, and actions on the selection: rename, edit tags, delete, export
// the adapter, compare. Edits are written to the store at once (Store::update_run). Only Store::runs() is read
// to fill the table; a run's series are never loaded here.
#include <QList>
#include <QString>
#include <QWidget>
#include <cstdint>
#include <functional>
#include <vector>

#include "experiments/store.h"
#include "ui/runs_model.h"

class QAction;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QTableView;
class QGroupBox;
class QModelIndex;

namespace ptune::ui {

class RunsFilterProxy;

class RunsBrowser : public QWidget {
    Q_OBJECT
public:
    explicit RunsBrowser(QWidget* parent = nullptr);
    ~RunsBrowser() override;

    void set_store(ptune::Store* store);  // not owned; nullptr clears. Reloads.
    ptune::Store* store() const { return store_; }
    void refresh();                       // reload from the store, keeping the selection and scroll position
    void refresh_run(int64_t id);         // one run changed (status, metrics) or appeared or went; cheap
    std::vector<int64_t> selected_ids() const;  // in view order
    void select_runs(const std::vector<int64_t>& ids);
    int64_t current_id() const;           // the run in the detail panel, 0 when none
    // The detail panel's heading: the current run's title, or what the panel is waiting for (no store open, no
    // runs in the store, no run passing the filters, none selected).
    QString details_title() const;
    QString details_text() const;   // the current run's details as shown (rich text)
    RunsModel* model();
    QTableView* view() const { return table_; }

    QString filter_text() const;
    void set_filter_text(const QString& text);  // whitespace-separated words, each must match (case-insensitive)
    QString status_filter() const;              // "" for all
    void set_status_filter(const QString& status);
    int visible_rows() const;                   // rows passing the filters
    QString load_error() const { return load_error_; }  // "" or why the store could not be read

    // The operations behind the buttons, usable without dialogs. Each returns "" or the error message (also
    // shown in a message box when `interactive`).
    // Writes name, tags ("a, b") and notes of a run to the store and updates its row.
    QString edit_run(int64_t id, const QString& name, const QString& tags, const QString& notes, bool interactive = false);
    // Deletes runs from the store (their adapter files on disk stay). Refused, deleting nothing, when one of them
    // is running. interactive: asks for confirmation first (a "" result then also means the user declined).
    QString delete_runs(const std::vector<int64_t>& ids, bool interactive = false);
    // Asked before deleting a run: a non-empty answer refuses (the workbench: a latency measurement is using it).
    void set_busy_check(std::function<QString(int64_t)> check) { busy_check_ = std::move(check); }
    // Exports a run's adapter in format "peft" or "ptune" into dir (experiments' export_run).
    QString export_adapter(int64_t id, const QString& format, const QString& dir, bool interactive = false);

Q_SIGNALS:
    void current_run_changed(qint64 id);  // 0 when none
    void compare_requested(const QList<qint64>& ids);
    void runs_deleted(const QList<qint64>& ids);
    void generate_requested(qint64 id);   // "Generate with it" on one causal-LM run

private:
    void build_ui();
    void reload_model();
    void update_actions();
    void show_details(int64_t id);
    QString no_details_text() const;      // the heading without a current run, for the state the browser is in
    void on_current_changed();
    void on_model_edit(qint64 id);
    void apply_details();
    void revert_details();
    void details_edited();
    void rename_current();
    void edit_tags_dialog();
    void delete_dialog();
    void export_dialog();
    void request_compare();
    void context_menu(const QPoint& pos);
    int64_t id_at(const QModelIndex& proxy_index) const;

    ptune::Store* store_ = nullptr;
    RunsModel* model_ = nullptr;
    RunsFilterProxy* proxy_ = nullptr;
    QLineEdit* filter_ = nullptr;
    QComboBox* status_ = nullptr;
    QLabel* count_ = nullptr;
    QTableView* table_ = nullptr;
    // Detail panel
    QGroupBox* details_ = nullptr;
    QLabel* detail_title_ = nullptr;
    QLabel* detail_status_ = nullptr;
    QLabel* detail_reason_ = nullptr;
    QLabel* detail_info_ = nullptr;
    QLineEdit* name_edit_ = nullptr;
    QLineEdit* tags_edit_ = nullptr;
    QPlainTextEdit* notes_edit_ = nullptr;
    QPushButton* apply_ = nullptr;
    QPushButton* revert_ = nullptr;
    int64_t detail_id_ = 0;
    bool filling_details_ = false;
    int64_t last_current_ = 0;
    QString load_error_;  // why the last reload failed, shown beside the run count
    // Actions (buttons and context menu)
    QAction* act_rename_ = nullptr;
    QAction* act_tags_ = nullptr;
    QAction* act_delete_ = nullptr;
    QAction* act_export_ = nullptr;
    QAction* act_compare_ = nullptr;
    QAction* act_generate_ = nullptr;
    std::function<QString(int64_t)> busy_check_;
};

}  // namespace ptune::ui
