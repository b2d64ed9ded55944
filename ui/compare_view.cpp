#include "ui/compare_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QMessageBox>
#include <QPushButton>
#include <QSlider>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>
#include <cmath>
#include <fstream>
#include <map>
#include <qcustomplot.h>
#include <set>
#include <sstream>

#include "core/io/json_util.h"
#include "ui/methods_view.h"
#include "ui/plot_util.h"
#include "ui/runs_model.h"
#include "ui/series.h"

namespace ptune::ui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

constexpr std::size_t kThinBuckets = 1500;  // min/max buckets per curve for drawing (about the chart's pixels)

const char* const kSummaryHeaders[] = {"ID",          "Name",      "Method",      "P",     "Depth",
                                       "Seed",        "Trainable", "Trainable %", "Best",  "Best step",
                                       "Final loss",  "Duration",  "Model",       "Learning rate"};
constexpr int kSummaryColumns = sizeof(kSummaryHeaders) / sizeof(kSummaryHeaders[0]);

QString fmt(double v) { return QString::number(v, 'g', 4); }

// The model directory's name ("builtin" as is; ".../bert-base/model" as bert-base/model).
QString model_name(const std::string& model) {
    QString m = QString::fromStdString(model);
    while (m.size() > 1 && m.endsWith('/')) m.chop(1);
    const QStringList parts = m.split('/', Qt::SkipEmptyParts);
    if (parts.size() >= 2 && parts.last() == "model") return parts[parts.size() - 2] + "/model";
    return parts.isEmpty() ? m : parts.last();
}

// The run's learning rate from its stored spec ("" when the spec does not say).
QString learning_rate(const RunRecord& r) {
    const json j = json::parse(r.spec_json, nullptr, false);
    if (!j.is_object() || !j.contains("train") || !j["train"].is_object() || !j["train"].contains("lr") ||
        !j["train"]["lr"].is_number())
        return QString();
    return QString::number(j["train"]["lr"].get<double>(), 'g', 3);
}

QString mean_std(const Stat& s) {
    if (s.n == 0) return QString::fromUtf8("\u2013");
    return QString("%1 \u00b1 %2").arg(s.mean, 0, 'f', 3).arg(s.std, 0, 'f', 3);
}

QCustomPlot* make_plot(const QString& ylabel) {
    auto* p = new QCustomPlot;
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    p->setMinimumHeight(160);
    p->xAxis->setLabel("step");
    p->yAxis->setLabel(ylabel);
    p->legend->setVisible(true);
    QFont lf = p->legend->font();
    lf.setPointSizeF(std::max(6.0, lf.pointSizeF() - 1));
    p->legend->setFont(lf);
    p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    // Double-click: back to showing everything.
    QObject::connect(p, &QCustomPlot::mouseDoubleClick, p, [p](QMouseEvent*) {
        p->rescaleAxes(true);
        p->replot();
    });
    return p;
}

}  // namespace

CompareView::CompareView(QWidget* parent) : QWidget(parent) {
    build_ui();
    rebuild_plots();
    fill_tables();
}

CompareView::~CompareView() = default;

void CompareView::build_ui() {
    x_combo_ = new QComboBox;
    x_combo_->addItem(tr("Step"));
    x_combo_->addItem(tr("Epoch"));
    x_combo_->setToolTip(tr("Horizontal axis of both charts"));
    smooth_slider_ = new QSlider(Qt::Horizontal);
    smooth_slider_->setRange(0, 99);
    smooth_slider_->setValue(int(std::lround(smoothing_ * 100)));
    smooth_slider_->setMaximumWidth(180);
    smooth_slider_->setToolTip(tr("Smoothing of the loss: EMA weight with debiasing (0 = raw)"));
    smooth_label_ = new QLabel;
    smooth_label_->setMinimumWidth(smooth_label_->fontMetrics().horizontalAdvance("0.00") + 4);
    log_check_ = new QCheckBox(tr("Log scale"));
    log_check_->setToolTip(tr("Logarithmic y axis for the loss"));
    export_metrics_ = new QPushButton(tr("Export metrics CSV\u2026"));
    export_metrics_->setToolTip(tr("Every metric point of the runs shown, one CSV in long format"));
    export_summary_ = new QPushButton(tr("Export summary CSV\u2026"));
    export_summary_->setToolTip(tr("One row per run: settings, best and final metrics, duration"));
    export_chart_ = new QPushButton(tr("Export chart\u2026"));
    export_chart_->setToolTip(tr("Save the loss or the metric chart as PNG, PDF or SVG"));

    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("X axis")));
    controls->addWidget(x_combo_);
    controls->addSpacing(12);
    controls->addWidget(new QLabel(tr("Smoothing")));
    controls->addWidget(smooth_slider_);
    controls->addWidget(smooth_label_);
    controls->addSpacing(12);
    controls->addWidget(log_check_);
    controls->addStretch(1);
    controls->addWidget(export_chart_);
    controls->addWidget(export_metrics_);
    controls->addWidget(export_summary_);

    loss_plot_ = make_plot(tr("train loss"));
    metric_plot_ = make_plot(tr("validation metric"));
    loss_empty_ = make_empty_text(loss_plot_);
    metric_empty_ = make_empty_text(metric_plot_);
    // Metrics mostly rise toward the right end, where the loss legend sits: this legend goes below.
    metric_plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    style_plot(loss_plot_, palette());
    style_plot(metric_plot_, palette());

    summary_ = new QTableWidget(0, kSummaryColumns);
    QStringList headers;
    for (const char* h : kSummaryHeaders) headers << tr(h);
    summary_->setHorizontalHeaderLabels(headers);
    groups_table_ = new QTableWidget(0, 2);
    for (QTableWidget* t : {summary_, groups_table_}) {
        t->setEditTriggers(QAbstractItemView::NoEditTriggers);
        t->setSelectionBehavior(QAbstractItemView::SelectRows);
        t->setAlternatingRowColors(true);
        t->verticalHeader()->hide();
        t->verticalHeader()->setDefaultSectionSize(t->fontMetrics().height() + 8);
        t->horizontalHeader()->setStretchLastSection(true);
        t->setWordWrap(false);
    }
    auto* group_box = new QWidget;
    auto* gl = new QVBoxLayout(group_box);
    gl->setContentsMargins(0, 0, 0, 0);
    auto* group_title = new QLabel(tr("Mean \u00b1 std over seeds (completed runs only)"));
    QFont bf = group_title->font();
    bf.setBold(true);
    group_title->setFont(bf);
    gl->addWidget(group_title);
    gl->addWidget(groups_table_);

    auto* split = new QSplitter(Qt::Vertical);
    split->setObjectName("compare_split");
    split->addWidget(loss_plot_);
    split->addWidget(metric_plot_);
    split->addWidget(summary_);
    split->addWidget(group_box);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setStretchFactor(2, 1);
    split->setStretchFactor(3, 1);
    split->setChildrenCollapsible(false);

    auto* curves = new QWidget;
    auto* cl = new QVBoxLayout(curves);
    cl->setContentsMargins(0, 4, 0, 0);
    cl->addLayout(controls);
    cl->addWidget(split, 1);
    methods_ = new MethodsView;
    methods_->setObjectName("methods_view");
    pages_ = new QTabWidget;
    pages_->setObjectName("compare_pages");
    pages_->setDocumentMode(true);
    pages_->addTab(curves, tr("Curves && runs"));
    pages_->addTab(methods_, tr("Methods"));
    pages_->setTabToolTip(1, tr("One row per method: parameters, metric over seeds, training cost, inference overhead"));

    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    outer->addWidget(pages_, 1);

    connect(x_combo_, &QComboBox::currentIndexChanged, this,
            [this](int i) { set_x_axis(i == 1 ? XAxis::Epoch : XAxis::Step); });
    connect(smooth_slider_, &QSlider::valueChanged, this, [this](int v) { set_smoothing(v / 100.0); });
    connect(log_check_, &QCheckBox::toggled, this, &CompareView::set_log_y);
    connect(export_metrics_, &QPushButton::clicked, this, [this] { ask_export(0); });
    connect(export_summary_, &QPushButton::clicked, this, [this] { ask_export(1); });
    connect(export_chart_, &QPushButton::clicked, this, [this] { ask_export(2); });
    smooth_label_->setText(QString::number(smoothing_, 'f', 2));
}

void CompareView::set_runs(const Store& store, const std::vector<int64_t>& ids) {
    store_ = &store;
    runs_.clear();
    std::set<int64_t> seen;
    for (int64_t id : ids) {
        if (!seen.insert(id).second) continue;
        std::optional<RunRecord> r = store.run(id);
        if (!r) continue;  // deleted meanwhile
        RunData d;
        d.rec = *r;
        d.metric = primary_metric(d.rec);
        for (const MetricPoint& p : store.metrics(id, "train/loss")) {
            d.loss.step.push_back(double(p.step));
            d.loss.epoch.push_back(p.epoch);
            d.loss.value.push_back(p.value);
        }
        for (const MetricPoint& p : store.metrics(id, "eval/" + d.metric)) {
            d.eval.step.push_back(double(p.step));
            d.eval.epoch.push_back(p.epoch);
            d.eval.value.push_back(p.value);
        }
        d.legend = QString("#%1 %2 (P=%3, %4, seed %5)")
                       .arg(d.rec.id)
                       .arg(qs(d.rec.name))
                       .arg(d.rec.prompt_len)
                       .arg(qs(d.rec.layers))
                       .arg(d.rec.seed);
        runs_.push_back(std::move(d));
    }
    std::vector<RunRecord> records;
    for (const RunData& d : runs_) records.push_back(d.rec);
    groups_ = group_by_seed(records);
    std::vector<int64_t> shown = run_ids();
    std::vector<MethodRow> rows;
    try {
        rows = compare_methods(store, shown);
    } catch (const std::exception&) {
        // a run deleted between reading it above and here: compared without it next time
    }
    std::set<std::string> methods;
    for (const MethodRow& r : rows) methods.insert(r.method);
    methods_->set_rows(std::move(rows));
    // Another set of runs picks its page; the same runs again (a refresh as one finishes) keep the user's.
    if (shown != shown_ids_) show_page(methods.size() > 1);
    shown_ids_ = shown;
    rebuild_plots();
    fill_tables();
}

bool CompareView::methods_page_shown() const { return pages_->currentWidget() == methods_; }

void CompareView::show_page(bool methods) { pages_->setCurrentIndex(methods ? 1 : 0); }

void CompareView::clear() {
    store_ = nullptr;
    shown_ids_.clear();
    runs_.clear();
    groups_.clear();
    methods_->set_rows({});
    rebuild_plots();
    fill_tables();
}

std::vector<int64_t> CompareView::run_ids() const {
    std::vector<int64_t> ids;
    for (const RunData& d : runs_) ids.push_back(d.rec.id);
    return ids;
}

void CompareView::set_smoothing(double w) {
    w = std::clamp(w, 0.0, 0.99);
    if (w == smoothing_) return;
    smoothing_ = w;
    const int v = int(std::lround(w * 100));
    if (smooth_slider_->value() != v) {
        const QSignalBlocker block(smooth_slider_);
        smooth_slider_->setValue(v);
    }
    smooth_label_->setText(QString::number(w, 'f', 2));
    update_curves();
}

void CompareView::set_x_axis(XAxis x) {
    if (x == x_axis_) return;
    x_axis_ = x;
    const QSignalBlocker block(x_combo_);
    x_combo_->setCurrentIndex(x == XAxis::Epoch ? 1 : 0);
    update_curves();
}

void CompareView::set_log_y(bool on) {
    if (on == log_y_) return;
    log_y_ = on;
    {
        const QSignalBlocker block(log_check_);
        log_check_->setChecked(on);
    }
    QCPAxis* y = loss_plot_->yAxis;
    if (on) {
        y->setScaleType(QCPAxis::stLogarithmic);
        y->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
        y->setNumberFormat("eb");
        y->setNumberPrecision(0);
    } else {
        y->setScaleType(QCPAxis::stLinear);
        y->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        y->setNumberFormat("gb");
        y->setNumberPrecision(6);
    }
    loss_plot_->rescaleAxes(true);
    loss_plot_->replot();
}

void CompareView::rebuild_plots() {
    loss_plot_->clearGraphs();
    metric_plot_->clearGraphs();
    for (size_t i = 0; i < runs_.size(); ++i) {
        const RunData& d = runs_[i];
        const QColor c = series_color(int(i));
        QColor faded = c;
        faded.setAlpha(60);
        QCPGraph* raw = loss_plot_->addGraph();
        raw->setPen(QPen(faded, 1));
        raw->setName(d.legend + tr(" raw"));
        raw->removeFromLegend();
        raw->setAdaptiveSampling(true);
        QCPGraph* ema = loss_plot_->addGraph();
        ema->setPen(QPen(c, 2));
        ema->setName(d.legend);
        ema->setAdaptiveSampling(true);
        QCPGraph* m = metric_plot_->addGraph();
        m->setPen(QPen(c, 2));
        m->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, c, c, 5));
        m->setName(d.legend);
    }
    std::set<std::string> metrics;
    for (const RunData& d : runs_) metrics.insert(metric_display_name(d.metric, positive_label_of(d.rec)));
    QStringList names;
    for (const std::string& m : metrics) names << qs(m);
    metric_plot_->yAxis->setLabel(names.isEmpty() ? tr("validation metric") : tr("validation %1").arg(names.join(" / ")));
    update_curves();
}

void CompareView::update_curves() {
    const bool by_epoch = x_axis_ == XAxis::Epoch;
    for (size_t i = 0; i < runs_.size(); ++i) {
        RunData& d = runs_[i];
        d.ema = ema_debiased(d.loss.value, smoothing_);  // over the full series, then thinned for drawing
        const std::vector<double>& lx = by_epoch ? d.loss.epoch : d.loss.step;
        std::vector<double> tx, ty;
        minmax_thin(lx, d.loss.value, kThinBuckets, tx, ty);
        loss_plot_->graph(int(2 * i))->setData(QVector<double>(tx.begin(), tx.end()), QVector<double>(ty.begin(), ty.end()), true);
        minmax_thin(lx, d.ema, kThinBuckets, tx, ty);
        loss_plot_->graph(int(2 * i + 1))->setData(QVector<double>(tx.begin(), tx.end()), QVector<double>(ty.begin(), ty.end()), true);
        const std::vector<double>& ex = by_epoch ? d.eval.epoch : d.eval.step;
        metric_plot_->graph(int(i))->setData(QVector<double>(ex.begin(), ex.end()),
                                             QVector<double>(d.eval.value.begin(), d.eval.value.end()), true);
    }
    const QString xl = by_epoch ? tr("epoch") : tr("step");
    loss_plot_->xAxis->setLabel(xl);
    metric_plot_->xAxis->setLabel(xl);
    loss_plot_->rescaleAxes(true);
    metric_plot_->rescaleAxes(true);
    update_empty_state();
    loss_plot_->replot(QCustomPlot::rpQueuedReplot);
    metric_plot_->replot(QCustomPlot::rpQueuedReplot);
}

void CompareView::update_empty_state() {
    bool any_loss = false, any_eval = false;
    for (const RunData& d : runs_) {
        any_loss = any_loss || !d.loss.value.empty();
        any_eval = any_eval || !d.eval.value.empty();
    }
    if (runs_.empty()) {
        const QString t = tr("Select one or more runs in the Runs table and choose \u201cCompare selected\u201d.");
        loss_empty_->setText(t);
        metric_empty_->setText(t);
    } else {
        loss_empty_->setText(tr("No training loss recorded for these runs."));
        QStringList names;
        std::set<std::string> seen;
        for (const RunData& d : runs_)
            if (const std::string m = metric_display_name(d.metric, positive_label_of(d.rec)); seen.insert(m).second) names << qs(m);
        metric_empty_->setText(tr("No validation %1 recorded for these runs.").arg(names.join(" / ")));
    }
    loss_empty_->setVisible(!any_loss);
    metric_empty_->setVisible(!any_eval);
    loss_plot_->legend->setVisible(!runs_.empty() && any_loss);
    metric_plot_->legend->setVisible(!runs_.empty() && any_eval);
    export_metrics_->setEnabled(!runs_.empty());
    export_summary_->setEnabled(!runs_.empty());
    export_chart_->setEnabled(!runs_.empty());
}

void CompareView::fill_tables() {
    summary_->setRowCount(0);
    summary_->setRowCount(int(runs_.size()));
    for (int row = 0; row < int(runs_.size()); ++row) {
        const RunData& d = runs_[row];
        const RunRecord& r = d.rec;
        const auto best = parse_metrics_json(r.best_metrics_json);
        auto bit = best.find(d.metric);
        double final_loss = std::nan("");
        if (!d.loss.value.empty()) {
            final_loss = d.loss.value.back();
        } else {
            const auto fin = parse_metrics_json(r.final_metrics_json);
            if (fin.count("train_loss")) final_loss = fin.at("train_loss");
        }
        const QString cells[kSummaryColumns] = {
            QString::number(r.id),
            qs(r.name),
            qs(r.method),
            QString::number(r.prompt_len),
            qs(r.layers),
            QString::number(r.seed),
            r.trainable_params > 0 ? QLocale().toString(qint64(r.trainable_params)) : QString(),
            r.total_params > 0 ? QString::number(100.0 * double(r.trainable_params) / double(r.total_params), 'g', 3) + " %" : QString(),
            bit != best.end() ? qs(metric_display_name(d.metric, positive_label_of(r))) + " " + fmt(bit->second) : QString(),
            r.best_step >= 0 ? QString::number(r.best_step) : QString(),
            std::isnan(final_loss) ? QString() : fmt(final_loss),
            RunsModel::format_duration(duration_s(r)),
            model_name(r.model),
            learning_rate(r)};
        for (int c = 0; c < kSummaryColumns; ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            if (c == 0) {
                item->setIcon(RunsModel::status_icon(qs(r.status)));
                item->setToolTip(qs(r.status) + (r.status_reason.empty() ? QString() : ": " + qs(r.status_reason)));
                item->setForeground(series_color(row));
            }
            if (c == 1) item->setToolTip(d.legend);
            if (c == 0 || c == 3 || c == 5 || c == 6 || c == 7 || c == 9 || c == 10)
                item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            summary_->setItem(row, c, item);
        }
    }
    summary_->resizeColumnsToContents();

    // One metric column per selection metric in use (usually one), plus the final loss where recorded.
    std::vector<std::string> keys;
    for (const RunData& d : runs_)
        if (std::find(keys.begin(), keys.end(), d.metric) == keys.end()) keys.push_back(d.metric);
    QStringList headers = {tr("Group"), tr("n")};
    for (const std::string& k : keys) {
        std::string pos;
        for (const RunData& d : runs_)
            if (d.metric == k && pos.empty()) pos = positive_label_of(d.rec);
        headers << tr("best %1 (mean \u00b1 std)").arg(qs(metric_display_name(k, pos)));
    }
    groups_table_->setRowCount(0);
    groups_table_->setColumnCount(headers.size());
    groups_table_->setHorizontalHeaderLabels(headers);
    groups_table_->setRowCount(int(groups_.size()));
    for (int row = 0; row < int(groups_.size()); ++row) {
        const SeedGroup& g = groups_[row];
        QStringList cells = {qs(g.label), QString::number(g.completed)};
        for (const std::string& k : keys) {
            auto it = g.best.find(k);
            cells << (it == g.best.end() ? mean_std(Stat{}) : mean_std(it->second));
        }
        QStringList ids;
        for (int64_t id : g.run_ids) ids << "#" + QString::number(id);
        for (int c = 0; c < cells.size(); ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            item->setToolTip(tr("Runs %1; %2 completed runs counted").arg(ids.join(", ")).arg(g.completed));
            if (c >= 1) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            groups_table_->setItem(row, c, item);
        }
    }
    groups_table_->resizeColumnsToContents();
}

int CompareView::graph_count() const { return loss_plot_->graphCount(); }

QVector<QPointF> CompareView::ema_curve(int64_t run_id) const {
    QVector<QPointF> out;
    for (const RunData& d : runs_) {
        if (d.rec.id != run_id) continue;
        out.reserve(int(d.ema.size()));
        for (size_t i = 0; i < d.ema.size(); ++i) out.append(QPointF(d.loss.step[i], d.ema[i]));
    }
    return out;
}

QString CompareView::legend_name(int64_t run_id) const {
    for (const RunData& d : runs_)
        if (d.rec.id == run_id) return d.legend;
    return QString();
}

int CompareView::group_rows() const { return groups_table_->rowCount(); }
int CompareView::group_columns() const { return groups_table_->columnCount(); }

QString CompareView::group_cell(int row, int col) const {
    const QTableWidgetItem* item = groups_table_->item(row, col);
    return item ? item->text() : QString();
}

int CompareView::summary_rows() const { return summary_->rowCount(); }
int CompareView::summary_columns() const { return summary_->columnCount(); }

QString CompareView::summary_cell(int row, int col) const {
    const QTableWidgetItem* item = summary_->item(row, col);
    return item ? item->text() : QString();
}

bool CompareView::empty_state_shown() const { return loss_empty_->visible(); }


QString CompareView::export_metrics_csv(const QString& path) {
    if (!store_ || runs_.empty()) return QString("%1: no runs to export").arg(path);
    const std::vector<int64_t> ids = run_ids();
    return write_text_file(path, [&](std::ostream& o) { write_metrics_csv(*store_, ids, o); });
}

QString CompareView::export_summary_csv(const QString& path) {
    if (!store_ || runs_.empty()) return QString("%1: no runs to export").arg(path);
    const std::vector<int64_t> ids = run_ids();
    return write_text_file(path, [&](std::ostream& o) { write_summary_csv(*store_, ids, o); });
}

QString CompareView::save_chart(const QString& which, const QString& path) {
    QCustomPlot* plot = which == "loss" ? loss_plot_ : which == "metric" ? metric_plot_ : nullptr;
    if (!plot) return QString("%1: unknown chart \"%2\" (loss or metric)").arg(path, which);
    // A chart never shown has no useful size: drawn at a print-friendly one.
    return save_plot_readable(plot, path, 200, 150, 900, 500);
}

void CompareView::ask_export(int which) {
    if (which == 2) {
        // The metric chart goes beside the loss chart: NAME-loss.EXT and NAME-metric.EXT.
        export_chart_pair(this, "compare", "loss", "metric",
                          [this](const QString& w, const QString& path) { return save_chart(w, path); });
        return;
    }
    const QString path = QFileDialog::getSaveFileName(this, which == 0 ? tr("Export metrics CSV") : tr("Export summary CSV"),
                                                      which == 0 ? "metrics.csv" : "summary.csv", tr("CSV files (*.csv)"));
    if (path.isEmpty()) return;
    const QString error = which == 0 ? export_metrics_csv(path) : export_summary_csv(path);
    if (!error.isEmpty()) QMessageBox::warning(this, tr("Export"), error);
}

void CompareView::changeEvent(QEvent* e) {
    if (e->type() == QEvent::PaletteChange) {
        style_plot(loss_plot_, palette());
        style_plot(metric_plot_, palette());
        loss_empty_->setColor(palette().color(QPalette::PlaceholderText));
        metric_empty_->setColor(palette().color(QPalette::PlaceholderText));
        loss_plot_->replot(QCustomPlot::rpQueuedReplot);
        metric_plot_->replot(QCustomPlot::rpQueuedReplot);
    }
    QWidget::changeEvent(e);
}

}  // namespace ptune::ui
