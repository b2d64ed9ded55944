#include "ui/runs_browser.h"

#include <QAction>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollBar>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>
#include <set>

#include "core/io/json_util.h"
#include "experiments/compare.h"
#include "experiments/runner.h"

namespace ptune::ui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

QString run_title(const RunRecord& r) { return QString("#%1 \u201c%2\u201d").arg(r.id).arg(qs(r.name)); }

// "ptune 0.1.0, LibTorch 1.13.0, cpu (2 threads of 8), Linux 6.1.0 x86_64, preset conll03-roberta"; "" when the run
// has no record (made by an older ptune).
QString environment_text(const std::string& j) {
    if (j.empty()) return {};
    const json e = json::parse(j, nullptr, false);
    if (!e.is_object()) return {};
    auto str = [&](const char* k) { return e.contains(k) && e[k].is_string() ? qs(e[k].get<std::string>()) : QString(); };
    auto num = [&](const char* k) { return e.contains(k) && e[k].is_number_integer() ? e[k].get<int64_t>() : int64_t(0); };
    QStringList parts;
    if (!str("ptune").isEmpty()) parts << "ptune " + str("ptune");
    if (!str("libtorch").isEmpty()) parts << "LibTorch " + str("libtorch");
    if (!str("device").isEmpty())
        parts << QString("%1 (%2 threads of %3)").arg(str("device")).arg(num("threads")).arg(num("hardware_threads"));
    if (!str("system").isEmpty()) parts << str("system");
    if (!str("preset").isEmpty()) parts << "preset " + str("preset");
    return parts.join(", ");
}

}  // namespace

// Text filter (every word must occur in the row's FilterRole text) and status filter; sorts by SortRole.
class RunsFilterProxy : public QSortFilterProxyModel {
public:
    explicit RunsFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {
        setSortRole(RunsModel::SortRole);
        setDynamicSortFilter(true);
    }
    void set_words(const QString& text) {
        words_ = text.toLower().split(QRegularExpression("\\s+"), Qt::SkipEmptyParts);
        invalidateRowsFilter();
    }
    void set_status(const QString& status) {
        status_ = status;
        invalidateRowsFilter();
    }
    QString status() const { return status_; }

protected:
    bool filterAcceptsRow(int row, const QModelIndex& parent) const override {
        const QModelIndex idx = sourceModel()->index(row, 0, parent);
        if (!status_.isEmpty() && idx.data(RunsModel::StatusRole).toString() != status_) return false;
        if (words_.isEmpty()) return true;
        const QString text = idx.data(RunsModel::FilterRole).toString();
        for (const QString& w : words_)
            if (!text.contains(w)) return false;
        return true;
    }

private:
    QStringList words_;
    QString status_;
};

RunsBrowser::RunsBrowser(QWidget* parent) : QWidget(parent) { build_ui(); }

RunsBrowser::~RunsBrowser() = default;

void RunsBrowser::build_ui() {
    model_ = new RunsModel(this);
    proxy_ = new RunsFilterProxy(this);
    proxy_->setSourceModel(model_);

    filter_ = new QLineEdit;
    filter_->setPlaceholderText(tr("Filter runs (name, tag, model, status\u2026)"));
    filter_->setClearButtonEnabled(true);
    status_ = new QComboBox;
    status_->addItem(tr("All"), QString());
    for (const char* s : {"completed", "failed", "running", "queued", "cancelled", "interrupted"})
        status_->addItem(RunsModel::status_icon(s), s, QString(s));
    status_->setToolTip(tr("Show only runs with this status"));
    count_ = new QLabel;
    count_->setTextInteractionFlags(Qt::NoTextInteraction);

    table_ = new QTableView;
    table_->setModel(proxy_);
    table_->setSortingEnabled(true);
    table_->sortByColumn(RunsModel::ColId, Qt::DescendingOrder);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    table_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
    table_->setAlternatingRowColors(true);
    table_->setWordWrap(false);
    table_->setContextMenuPolicy(Qt::CustomContextMenu);
    table_->verticalHeader()->hide();
    table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 8);
    QHeaderView* h = table_->horizontalHeader();
    h->setSectionsMovable(true);
    h->setHighlightSections(false);
    h->setStretchLastSection(true);
    const int em = table_->fontMetrics().horizontalAdvance('M');
    const int widths[RunsModel::ColumnCount] = {4, 16, 9, 9, 9, 5, 3, 5, 4, 9, 7, 6, 13, 9, 12};
    for (int c = 0; c < RunsModel::ColumnCount; ++c) h->resizeSection(c, widths[c] * em + 12);

    // Actions: buttons below the table and the table's context menu.
    act_rename_ = new QAction(tr("Rename"), this);
    act_rename_->setShortcut(Qt::Key_F2);
    act_tags_ = new QAction(tr("Edit tags\u2026"), this);
    act_delete_ = new QAction(tr("Delete\u2026"), this);
    act_delete_->setShortcut(QKeySequence::Delete);
    act_export_ = new QAction(tr("Export adapter\u2026"), this);
    act_compare_ = new QAction(tr("Compare selected"), this);
    act_generate_ = new QAction(tr("Generate with it"), this);
    act_generate_->setToolTip(tr("Open the run's base model and trained prefix in the Generate tab (causal-LM runs)"));
    act_rename_->setToolTip(tr("Rename the current run (F2)"));
    act_tags_->setToolTip(tr("Edit the tags of the selected runs"));
    act_delete_->setToolTip(tr("Delete the selected runs from the run store"));
    act_export_->setToolTip(tr("Write the run's adapter in PEFT or ptune format to a directory"));
    act_compare_->setToolTip(tr("Overlay the selected runs' curves and compare their results"));
    for (QAction* a : {act_rename_, act_delete_}) {
        a->setShortcutContext(Qt::WidgetShortcut);
        table_->addAction(a);
    }
    connect(act_rename_, &QAction::triggered, this, &RunsBrowser::rename_current);
    connect(act_tags_, &QAction::triggered, this, &RunsBrowser::edit_tags_dialog);
    connect(act_delete_, &QAction::triggered, this, &RunsBrowser::delete_dialog);
    connect(act_export_, &QAction::triggered, this, &RunsBrowser::export_dialog);
    connect(act_compare_, &QAction::triggered, this, &RunsBrowser::request_compare);
    connect(act_generate_, &QAction::triggered, this, [this] {
        const std::vector<int64_t> sel = selected_ids();
        if (sel.size() == 1) Q_EMIT generate_requested(sel.front());
    });

    auto* top = new QHBoxLayout;
    top->addWidget(filter_, 1);
    top->addWidget(status_);
    top->addWidget(count_);

    auto* buttons = new QHBoxLayout;
    for (QAction* a : {act_rename_, act_tags_, act_delete_, act_export_, act_generate_}) {
        auto* b = new QToolButton;
        b->setDefaultAction(a);
        b->setToolButtonStyle(Qt::ToolButtonTextOnly);
        buttons->addWidget(b);
    }
    buttons->addStretch(1);
    auto* compare = new QToolButton;
    compare->setDefaultAction(act_compare_);
    compare->setToolButtonStyle(Qt::ToolButtonTextOnly);
    buttons->addWidget(compare);

    auto* left = new QWidget;
    auto* lv = new QVBoxLayout(left);
    lv->setContentsMargins(0, 0, 0, 0);
    lv->addLayout(top);
    lv->addWidget(table_, 1);
    lv->addLayout(buttons);

    // Detail panel for the current run.
    details_ = new QGroupBox(tr("Run"));
    detail_title_ = new QLabel;
    detail_title_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QFont tf = detail_title_->font();
    tf.setBold(true);
    detail_title_->setFont(tf);
    detail_title_->setWordWrap(true);
    detail_status_ = new QLabel;
    detail_reason_ = new QLabel;
    detail_reason_->setWordWrap(true);
    detail_reason_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QPalette rp = detail_reason_->palette();
    rp.setColor(QPalette::WindowText, RunsModel::status_color("failed"));
    detail_reason_->setPalette(rp);
    detail_info_ = new QLabel;
    detail_info_->setWordWrap(true);
    detail_info_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    detail_info_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    name_edit_ = new QLineEdit;
    tags_edit_ = new QLineEdit;
    tags_edit_->setPlaceholderText(tr("comma separated, e.g. baseline, sst2"));
    notes_edit_ = new QPlainTextEdit;
    notes_edit_->setPlaceholderText(tr("Notes on this run"));
    notes_edit_->setTabChangesFocus(true);
    apply_ = new QPushButton(tr("Apply"));
    revert_ = new QPushButton(tr("Revert"));
    apply_->setToolTip(tr("Save the name, tags and notes to the run store"));
    connect(apply_, &QPushButton::clicked, this, &RunsBrowser::apply_details);
    connect(revert_, &QPushButton::clicked, this, &RunsBrowser::revert_details);
    connect(name_edit_, &QLineEdit::textEdited, this, &RunsBrowser::details_edited);
    connect(tags_edit_, &QLineEdit::textEdited, this, &RunsBrowser::details_edited);
    connect(notes_edit_, &QPlainTextEdit::textChanged, this, &RunsBrowser::details_edited);
    connect(name_edit_, &QLineEdit::returnPressed, this, &RunsBrowser::apply_details);
    connect(tags_edit_, &QLineEdit::returnPressed, this, &RunsBrowser::apply_details);

    auto* form = new QFormLayout;
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    form->addRow(tr("Name"), name_edit_);
    form->addRow(tr("Tags"), tags_edit_);
    form->addRow(tr("Notes"), notes_edit_);
    auto* apply_row = new QHBoxLayout;
    apply_row->addStretch(1);
    apply_row->addWidget(revert_);
    apply_row->addWidget(apply_);
    auto* dv = new QVBoxLayout(details_);
    dv->addWidget(detail_title_);
    dv->addWidget(detail_status_);
    dv->addWidget(detail_reason_);
    dv->addWidget(detail_info_);
    dv->addLayout(form, 1);
    dv->addLayout(apply_row);

    auto* split = new QSplitter(Qt::Horizontal);
    split->setObjectName("runs_split");
    split->addWidget(left);
    split->addWidget(details_);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);
    split->setChildrenCollapsible(false);
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    outer->addWidget(split);

    connect(filter_, &QLineEdit::textChanged, this, [this](const QString& t) {
        proxy_->set_words(t);
        update_actions();
    });
    connect(status_, &QComboBox::currentIndexChanged, this, [this](int i) {
        proxy_->set_status(status_->itemData(i).toString());
        update_actions();
    });
    connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] { update_actions(); });
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this] { on_current_changed(); });
    connect(table_, &QTableView::customContextMenuRequested, this, &RunsBrowser::context_menu);
    connect(model_, &RunsModel::run_edited, this, &RunsBrowser::on_model_edit);
    connect(proxy_, &QAbstractItemModel::rowsInserted, this, [this] { update_actions(); });
    connect(proxy_, &QAbstractItemModel::rowsRemoved, this, [this] { update_actions(); });
    connect(proxy_, &QAbstractItemModel::modelReset, this, [this] { update_actions(); });

    show_details(0);
    update_actions();
}

RunsModel* RunsBrowser::model() { return model_; }

void RunsBrowser::set_store(Store* store) {
    store_ = store;
    last_current_ = -1;  // so the next current change is reported
    if (store_) {
        reload_model();
    } else {
        model_->clear();
    }
    on_current_changed();
    update_actions();
}

void RunsBrowser::reload_model() {
    try {
        model_->reload(*store_);
        load_error_.clear();
    } catch (const std::exception& e) {
        // A store that cannot be read (locked, corrupt): an empty table and the reason, never a crash.
        model_->clear();
        load_error_ = tr("Could not read the runs: %1").arg(QString::fromUtf8(e.what()));
    }
}

void RunsBrowser::refresh() {
    if (!store_) {
        model_->clear();
        on_current_changed();
        return;
    }
    const std::vector<int64_t> sel = selected_ids();
    const int64_t current = current_id();
    const int scroll = table_->verticalScrollBar()->value();
    const int hscroll = table_->horizontalScrollBar()->value();
    reload_model();
    select_runs(sel);
    if (current) {
        const int row = model_->row_of(current);
        if (row >= 0) {
            const QModelIndex pi = proxy_->mapFromSource(model_->index(row, RunsModel::ColName));
            if (pi.isValid()) table_->selectionModel()->setCurrentIndex(pi, QItemSelectionModel::NoUpdate);
        }
    }
    table_->verticalScrollBar()->setValue(scroll);
    table_->horizontalScrollBar()->setValue(hscroll);
    on_current_changed();
    update_actions();
}

void RunsBrowser::refresh_run(int64_t id) {
    if (!store_) return;
    std::optional<RunRecord> r;
    try {
        r = store_->run(id);
    } catch (const std::exception&) {
        return;  // the store is busy or unreadable: the row keeps what it showed; the next refresh retries
    }
    if (r) {
        model_->refresh_run(*r);
    } else {
        model_->remove_run(id);
    }
    if (id == detail_id_) show_details(r ? id : 0);
    update_actions();
}

std::vector<int64_t> RunsBrowser::selected_ids() const {
    QModelIndexList rows = table_->selectionModel()->selectedRows(RunsModel::ColId);
    std::sort(rows.begin(), rows.end(), [](const QModelIndex& a, const QModelIndex& b) { return a.row() < b.row(); });
    std::vector<int64_t> ids;
    ids.reserve(rows.size());
    for (const QModelIndex& i : rows) ids.push_back(id_at(i));
    return ids;
}

void RunsBrowser::select_runs(const std::vector<int64_t>& ids) {
    QItemSelection sel;
    QModelIndex first;
    for (int64_t id : ids) {
        const int row = model_->row_of(id);
        if (row < 0) continue;
        const QModelIndex pi = proxy_->mapFromSource(model_->index(row, 0));
        if (!pi.isValid()) continue;  // filtered out
        sel.select(pi, pi);
        if (!first.isValid() || pi.row() < first.row()) first = pi;
    }
    QItemSelectionModel* sm = table_->selectionModel();
    if (sel.isEmpty()) {
        sm->clearSelection();
        return;
    }
    sm->select(sel, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    const QModelIndex cur = sm->currentIndex();
    if (!cur.isValid() || !sm->isRowSelected(cur.row(), QModelIndex())) {
        sm->setCurrentIndex(first, QItemSelectionModel::NoUpdate);
        table_->scrollTo(first);
    }
}

int64_t RunsBrowser::id_at(const QModelIndex& proxy_index) const {
    if (!proxy_index.isValid()) return 0;
    return proxy_index.data(RunsModel::IdRole).toLongLong();
}

int64_t RunsBrowser::current_id() const {
    const QModelIndex cur = table_->selectionModel()->currentIndex();
    return cur.isValid() ? id_at(cur) : 0;
}

QString RunsBrowser::filter_text() const { return filter_->text(); }

void RunsBrowser::set_filter_text(const QString& text) { filter_->setText(text); }

QString RunsBrowser::status_filter() const { return proxy_->status(); }

void RunsBrowser::set_status_filter(const QString& status) {
    const int i = status_->findData(status);
    status_->setCurrentIndex(i < 0 ? 0 : i);
}

int RunsBrowser::visible_rows() const { return proxy_->rowCount(); }

void RunsBrowser::on_current_changed() {
    const int64_t id = current_id();
    if (id != detail_id_) show_details(id);
    update_actions();
    if (id != last_current_) {
        last_current_ = id;
        Q_EMIT current_run_changed(id);
    }
}

void RunsBrowser::show_details(int64_t id) {
    filling_details_ = true;
    const int row = id ? model_->row_of(id) : -1;
    const RunRecord* r = model_->record(row);
    const bool same_run = r && detail_id_ == id;
    detail_id_ = r ? id : 0;
    for (QWidget* w : {(QWidget*)name_edit_, (QWidget*)tags_edit_, (QWidget*)notes_edit_}) w->setEnabled(r != nullptr);
    if (!r) {
        detail_title_->setText(no_details_text());
        detail_status_->clear();
        detail_reason_->hide();
        detail_info_->clear();
        name_edit_->clear();
        tags_edit_->clear();
        notes_edit_->clear();
        apply_->setEnabled(false);
        revert_->setEnabled(false);
        filling_details_ = false;
        return;
    }
    detail_title_->setText(run_title(*r));
    const QString status = qs(r->status);
    detail_status_->setText(QString("<span style=\"color:%1\">\u25cf</span> %2")
                                .arg(RunsModel::status_color(status).name(), status.toHtmlEscaped()));
    if (r->status == "failed") {
        detail_reason_->setText(r->status_reason.empty() ? tr("Failed (no reason recorded)") : qs(r->status_reason));
        detail_reason_->show();
    } else {
        detail_reason_->hide();
    }
    QStringList info;
    auto add = [&](const QString& k, const QString& v) {
        if (!v.isEmpty()) info << QString("<b>%1</b> %2").arg(k, v.toHtmlEscaped());
    };
    add(tr("Model"), qs(r->model));
    add(tr("Data"), qs(r->dataset));
    add(tr("Method"), QString("%1, P=%2, layers %3, seed %4").arg(qs(r->method)).arg(r->prompt_len).arg(qs(r->layers)).arg(r->seed));
    // Metrics under the names users read elsewhere (macro-F1, "F1 (positive: label)").
    const std::string pos = positive_label_of(*r);
    auto metric = [&](const std::string& k, double v) { return QString("%1 %2").arg(qs(metric_display_name(k, pos))).arg(v, 0, 'g', 4); };
    QStringList best;
    for (auto& [k, v] : parse_metrics_json(r->best_metrics_json)) best << metric(k, v);
    if (!best.isEmpty()) add(tr("Best"), best.join(", ") + (r->best_step >= 0 ? tr(" (step %1)").arg(r->best_step) : QString()));
    QStringList fin;
    for (auto& [k, v] : parse_metrics_json(r->final_metrics_json)) fin << metric(k, v);
    if (!fin.isEmpty()) add(tr("Final"), fin.join(", "));
    if (r->total_params > 0)
        add(tr("Trainable"), QString("%1 of %2 (%3 %)")
                                 .arg(QLocale().toString(qint64(r->trainable_params)), QLocale().toString(qint64(r->total_params)))
                                 .arg(100.0 * double(r->trainable_params) / double(r->total_params), 0, 'g', 3));
    add(tr("Duration"), RunsModel::format_duration(duration_s(*r)));
    if (!r->suite.empty()) add(tr("Suite"), qs(r->suite));
    add(tr("Environment"), environment_text(r->environment));
    detail_info_->setText(info.join("<br>"));
    // A refresh of the same run (a live run's row every few seconds) keeps edits the user has not applied.
    const bool unapplied = same_run && revert_->isEnabled();
    if (!unapplied) {
        name_edit_->setText(qs(r->name));
        tags_edit_->setText(RunsModel::display_tags(r->tags));
        notes_edit_->setPlainText(qs(r->notes));
        apply_->setEnabled(false);
        revert_->setEnabled(false);
    }
    filling_details_ = false;
}

QString RunsBrowser::no_details_text() const {
    if (!store_) return tr("No run store open.");
    if (!load_error_.isEmpty()) return load_error_;
    if (model_->rowCount() == 0) return tr("No runs in this store yet: a run appears here when it is queued.");
    if (proxy_->rowCount() == 0) return tr("No run matches the filter.");
    return tr("Select a run to see its details.");
}

QString RunsBrowser::details_text() const { return detail_info_->text(); }

QString RunsBrowser::details_title() const { return detail_title_->text(); }

void RunsBrowser::details_edited() {
    if (filling_details_ || !detail_id_) return;
    apply_->setEnabled(!name_edit_->text().trimmed().isEmpty());
    revert_->setEnabled(true);
}

void RunsBrowser::revert_details() { show_details(detail_id_); }

void RunsBrowser::apply_details() {
    if (!detail_id_ || !apply_->isEnabled()) return;
    edit_run(detail_id_, name_edit_->text(), tags_edit_->text(), notes_edit_->toPlainText(), /*interactive=*/true);
}

QString RunsBrowser::edit_run(int64_t id, const QString& name, const QString& tags, const QString& notes, bool interactive) {
    QString error;
    if (!store_) {
        error = tr("No run store is open.");
    } else if (name.trimmed().isEmpty()) {
        error = tr("A run needs a name.");
    } else {
        try {
            std::optional<RunRecord> r = store_->run(id);
            if (!r) throw Error(store_->path() + ": no run with id " + std::to_string(id));
            r->name = name.trimmed().toStdString();
            r->tags = RunsModel::normalize_tags(tags).toStdString();
            r->notes = notes.toStdString();
            store_->update_run(*r);
            model_->refresh_run(*r);
            if (id == detail_id_) show_details(id);
        } catch (const std::exception& e) {
            error = tr("Could not save run #%1: %2").arg(id).arg(QString::fromUtf8(e.what()));
        }
    }
    if (!error.isEmpty() && interactive) QMessageBox::warning(this, tr("Edit run"), error);
    return error;
}

void RunsBrowser::on_model_edit(qint64 id) {
    // An edit in the table: the row already shows it; write it to the store, or put the stored values back.
    const RunRecord* r = model_->record(model_->row_of(id));
    if (!r || !store_) return;
    const RunRecord edited = *r;
    try {
        std::optional<RunRecord> stored = store_->run(id);
        if (!stored) throw Error(store_->path() + ": no run with id " + std::to_string(id));
        stored->name = edited.name;
        stored->tags = edited.tags;
        stored->notes = edited.notes;
        store_->update_run(*stored);
        model_->refresh_run(*stored);
        if (id == detail_id_) show_details(id);
    } catch (const std::exception& e) {
        refresh_run(id);
        if (isVisible()) QMessageBox::warning(this, tr("Edit run"), tr("Could not save run #%1: %2").arg(id).arg(e.what()));
    }
}

QString RunsBrowser::delete_runs(const std::vector<int64_t>& ids, bool interactive) {
    if (ids.empty()) return QString();
    auto fail = [&](const QString& msg) {
        if (interactive) QMessageBox::warning(this, tr("Delete runs"), msg);
        return msg;
    };
    if (!store_) return fail(tr("No run store is open."));
    std::vector<RunRecord> runs;
    for (int64_t id : ids) {
        std::optional<RunRecord> r;
        try {
            r = store_->run(id);
        } catch (const std::exception& e) {
            return fail(tr("Could not read run #%1: %2").arg(id).arg(QString::fromUtf8(e.what())));
        }
        if (!r) continue;  // already gone
        if (r->status == "running")
            return fail(tr("Run %1 is running: stop it first, then delete it.").arg(run_title(*r)));
        if (busy_check_) {
            const QString why = busy_check_(id);
            if (!why.isEmpty()) return fail(why);
        }
        runs.push_back(*r);
    }
    if (runs.empty()) return QString();
    if (interactive) {
        QStringList names;
        for (size_t i = 0; i < runs.size() && i < 10; ++i) names << run_title(runs[i]);
        if (runs.size() > 10) names << tr("and %1 more").arg(runs.size() - 10);
        QMessageBox box(QMessageBox::Warning, tr("Delete runs"),
                        runs.size() == 1 ? tr("Delete run %1 from the run store?").arg(run_title(runs[0]))
                                         : tr("Delete these %1 runs from the run store?\n\n%2")
                                               .arg(runs.size())
                                               .arg(names.join("\n")),
                        QMessageBox::NoButton, this);
        box.setInformativeText(tr("Their metrics, notes and tags are removed. The adapter files on disk are not "
                                  "deleted; remove those yourself if you no longer need them."));
        QPushButton* del = box.addButton(tr("Delete"), QMessageBox::DestructiveRole);
        box.addButton(QMessageBox::Cancel);
        box.setDefaultButton(QMessageBox::Cancel);
        box.exec();
        if (box.clickedButton() != del) return QString();
    }
    QList<qint64> deleted;
    QString error;
    for (const RunRecord& r : runs) {
        try {
            store_->delete_run(r.id);
            deleted << r.id;
        } catch (const std::exception& e) {
            error = tr("Could not delete run %1: %2").arg(run_title(r)).arg(QString::fromUtf8(e.what()));
            break;
        }
    }
    for (qint64 id : deleted) model_->remove_run(id);
    on_current_changed();
    update_actions();
    if (!deleted.isEmpty()) Q_EMIT runs_deleted(deleted);
    return error.isEmpty() ? QString() : fail(error);
}

QString RunsBrowser::export_adapter(int64_t id, const QString& format, const QString& dir, bool interactive) {
    QString error;
    if (!store_) {
        error = tr("No run store is open.");
    } else {
        try {
            export_run(*store_, id, format.toLower().toStdString(), dir.toStdString());
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        }
    }
    if (interactive) {
        if (error.isEmpty())
            QMessageBox::information(this, tr("Export adapter"), tr("Run #%1's adapter was written to %2.").arg(id).arg(dir));
        else
            QMessageBox::warning(this, tr("Export adapter"), tr("Could not export run #%1's adapter:\n%2").arg(id).arg(error));
    }
    return error;
}

void RunsBrowser::update_actions() {
    const std::vector<int64_t> sel = selected_ids();
    const bool one = sel.size() == 1, any = !sel.empty();
    act_rename_->setEnabled(store_ && current_id() != 0);
    act_tags_->setEnabled(store_ && any);
    act_delete_->setEnabled(store_ && any);
    act_export_->setEnabled(store_ && one);
    bool causal_lm = false;
    if (store_ && one) {
        if (auto r = store_->run(sel.front())) {
            try {
                causal_lm = json::parse(r->spec_json).value("task", std::string()) == "causal-lm";
            } catch (const std::exception&) {
            }
        }
    }
    act_generate_->setEnabled(causal_lm);
    act_compare_->setEnabled(store_ && any);
    act_compare_->setText(sel.size() > 1 ? tr("Compare %1 runs").arg(sel.size()) : tr("Compare selected"));
    const int shown = proxy_->rowCount(), total = model_->rowCount();
    count_->setText(shown == total ? tr("%n run(s)", nullptr, total) : tr("%1 of %2 runs").arg(shown).arg(total));
    count_->setToolTip(load_error_);
    if (!load_error_.isEmpty()) count_->setText(tr("<span style=\"color:%1\">error</span>").arg(RunsModel::status_color("failed").name()));
    // Without a run in the detail panel, its heading follows the store, the runs and the filters.
    if (!detail_id_) detail_title_->setText(no_details_text());
}

void RunsBrowser::rename_current() {
    const QModelIndex cur = table_->selectionModel()->currentIndex();
    if (!cur.isValid()) return;
    const QModelIndex name = proxy_->index(cur.row(), RunsModel::ColName);
    table_->setCurrentIndex(name);
    table_->edit(name);
}

void RunsBrowser::edit_tags_dialog() {
    const std::vector<int64_t> ids = selected_ids();
    if (ids.empty() || !store_) return;
    bool ok = false;
    if (ids.size() == 1) {
        const RunRecord* r = model_->record(model_->row_of(ids[0]));
        if (!r) return;
        const QString tags = QInputDialog::getText(this, tr("Edit tags"), tr("Tags of run %1 (comma separated):").arg(run_title(*r)),
                                                   QLineEdit::Normal, RunsModel::display_tags(r->tags), &ok);
        if (ok) edit_run(r->id, qs(r->name), tags, qs(r->notes), true);
        return;
    }
    const QString add = QInputDialog::getText(this, tr("Add tags"),
                                              tr("Tags to add to the %1 selected runs (comma separated):").arg(ids.size()),
                                              QLineEdit::Normal, QString(), &ok);
    if (!ok || RunsModel::normalize_tags(add).isEmpty()) return;
    for (int64_t id : ids) {
        const RunRecord* r = model_->record(model_->row_of(id));
        if (!r) continue;
        const QString merged = RunsModel::normalize_tags(qs(r->tags) + "," + add);
        if (!edit_run(id, qs(r->name), merged, qs(r->notes), true).isEmpty()) break;
    }
}

void RunsBrowser::delete_dialog() { delete_runs(selected_ids(), /*interactive=*/true); }

void RunsBrowser::export_dialog() {
    const std::vector<int64_t> ids = selected_ids();
    if (ids.size() != 1 || !store_) return;
    const QStringList formats = {tr("PEFT (adapter_config.json + adapter_model.safetensors)"), tr("ptune")};
    bool ok = false;
    const QString choice = QInputDialog::getItem(this, tr("Export adapter"), tr("Format:"), formats, 0, false, &ok);
    if (!ok) return;
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Export run #%1's adapter to").arg(ids[0]));
    if (dir.isEmpty()) return;
    export_adapter(ids[0], choice == formats[0] ? "peft" : "ptune", dir, /*interactive=*/true);
}

void RunsBrowser::request_compare() {
    const std::vector<int64_t> ids = selected_ids();
    if (ids.empty()) return;
    QList<qint64> list;
    for (int64_t id : ids) list << id;
    Q_EMIT compare_requested(list);
}

void RunsBrowser::context_menu(const QPoint& pos) {
    const QModelIndex at = table_->indexAt(pos);
    if (at.isValid() && !table_->selectionModel()->isRowSelected(at.row(), QModelIndex()))
        table_->selectionModel()->setCurrentIndex(at, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    update_actions();
    QMenu menu(this);
    menu.addAction(act_compare_);
    menu.addSeparator();
    menu.addAction(act_rename_);
    menu.addAction(act_tags_);
    menu.addAction(act_export_);
    menu.addAction(act_generate_);
    menu.addSeparator();
    menu.addAction(act_delete_);
    menu.exec(table_->viewport()->mapToGlobal(pos));
}

}  // namespace ptune::ui
