#include "ui/methods_view.h"

#include <QComboBox>
#include <QDir>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QMessageBox>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <qcustomplot.h>
#include <set>
#include <sstream>

#include "core/engine/method_options.h"
#include "ui/plot_util.h"

namespace ptune::ui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }
const QString kDash = QString::fromUtf8("\u2013");
const QString kPm = QString::fromUtf8(" \u00b1 ");
constexpr double kMiB = 1024.0 * 1024.0;

enum Col { cMethod, cSettings, cRuns, cTrainable, cShare, cBest, cStep, cMemory, cOverhead, cMerged, cModel, cRunNames, cCount };

QString mean_std(const Stat& s, int decimals, const QString& unit = QString(), double scale = 1.0) {
    if (s.n == 0) return kDash;
    QString t = QString::number(s.mean * scale, 'f', decimals);
    if (s.n > 1) t += kPm + QString::number(s.std * scale, 'f', decimals);
    return t + unit;
}

QString signed_percent(const Stat& s) {
    if (s.n == 0) return kDash;
    const double m = s.mean * 100.0;
    QString t = (m >= 0 ? "+" : QString::fromUtf8("\u2212")) + QString::number(std::abs(m), 'f', 1);
    if (s.n > 1) t += kPm + QString::number(s.std * 100.0, 'f', 1);
    return t + " %";
}

QString bytes_text(const Stat& s) {
    if (s.n == 0) return kDash;
    const bool gib = s.mean >= 1024.0 * kMiB;
    const double unit = gib ? 1024.0 * kMiB : kMiB;
    const int dec = gib ? 2 : s.mean / unit < 10 ? 2 : 1;
    return mean_std(s, dec, gib ? " GiB" : " MiB", 1.0 / unit);
}

QCustomPlot* make_plot() {
    auto* p = new QCustomPlot;
    p->setMinimumHeight(200);
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    QObject::connect(p, &QCustomPlot::mouseDoubleClick, p, [p](QMouseEvent*) {
        p->rescaleAxes(true);
        p->replot();
    });
    return p;
}

void set_log_axis(QCPAxis* ax, bool on) {
    if (on) {
        ax->setScaleType(QCPAxis::stLogarithmic);
        ax->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
        ax->setNumberFormat("eb");
        ax->setNumberPrecision(0);
    } else {
        ax->setScaleType(QCPAxis::stLinear);
        ax->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        ax->setNumberFormat("gb");
        ax->setNumberPrecision(6);
    }
}

// A range around [lo, hi] with a margin (multiplicative on a log axis).
QCPRange padded(double lo, double hi, bool log, double margin = 0.08) {
    if (log) {
        lo = std::max(lo, 1e-12);
        hi = std::max(hi, lo);
        const double a = std::log10(lo), b = std::log10(hi), m = std::max(0.15, (b - a) * margin);
        return QCPRange(std::pow(10.0, a - m), std::pow(10.0, b + m));
    }
    if (hi - lo < 1e-12) {
        const double m = std::max(std::abs(hi) * 0.1, 1e-3);
        return QCPRange(lo - m, hi + m);
    }
    const double m = (hi - lo) * margin;
    return QCPRange(lo - m, hi + m);
}

}  // namespace

MethodsView::MethodsView(QWidget* parent) : QWidget(parent) {
    build_ui();
    set_rows({});
}

MethodsView::~MethodsView() = default;

void MethodsView::build_ui() {
    bars_combo_ = new QComboBox;
    bars_combo_->setObjectName("methods_bars");
    bars_combo_->addItems({tr("Best validation metric"), tr("Trainable parameters (%)"), tr("Step time"),
                           tr("Peak training memory"), tr("Inference overhead vs base")});
    bars_combo_->setToolTip(tr("What the bar chart shows; whiskers are \u00b1 one standard deviation over seeds"));
    scatter_combo_ = new QComboBox;
    scatter_combo_->setObjectName("methods_scatter");
    scatter_combo_->addItems({tr("Metric vs trainable parameters"), tr("Metric vs inference overhead")});
    export_csv_ = new QPushButton(tr("Export table CSV\u2026"));
    export_csv_->setToolTip(tr("The comparison table, one row per method, as CSV"));
    export_charts_ = new QPushButton(tr("Export charts\u2026"));
    export_charts_->setToolTip(tr("Save the bar chart and the scatter plot as PNG, PDF or SVG"));

    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Bars")));
    controls->addWidget(bars_combo_);
    controls->addSpacing(12);
    controls->addWidget(new QLabel(tr("Scatter")));
    controls->addWidget(scatter_combo_);
    controls->addStretch(1);
    controls->addWidget(export_charts_);
    controls->addWidget(export_csv_);

    table_ = new QTableWidget(0, cCount);
    table_->setObjectName("methods_table");
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setAlternatingRowColors(true);
    table_->verticalHeader()->hide();
    table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 8);
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->setWordWrap(false);
    note_ = new QLabel;
    note_->setWordWrap(true);
    note_->setObjectName("methods_note");
    QPalette np = note_->palette();
    np.setColor(QPalette::WindowText, palette().color(QPalette::PlaceholderText));
    note_->setPalette(np);

    bar_plot_ = make_plot();
    scatter_plot_ = make_plot();
    bars_empty_ = make_empty_text(bar_plot_);
    scatter_empty_ = make_empty_text(scatter_plot_);
    style_plot(bar_plot_, palette());
    style_plot(scatter_plot_, palette());

    auto* table_box = new QWidget;
    auto* tl = new QVBoxLayout(table_box);
    tl->setContentsMargins(0, 0, 0, 0);
    tl->addWidget(table_, 1);
    tl->addWidget(note_);

    auto* charts = new QSplitter(Qt::Horizontal);
    charts->setObjectName("methods_charts_split");
    charts->addWidget(bar_plot_);
    charts->addWidget(scatter_plot_);
    charts->setChildrenCollapsible(false);
    auto* split = new QSplitter(Qt::Vertical);
    split->setObjectName("methods_split");
    split->addWidget(table_box);
    split->addWidget(charts);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 3);
    split->setChildrenCollapsible(false);

    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    outer->addLayout(controls);
    outer->addWidget(split, 1);

    connect(bars_combo_, &QComboBox::currentIndexChanged, this, [this](int i) { set_bars(Bars(i)); });
    connect(scatter_combo_, &QComboBox::currentIndexChanged, this, [this](int i) { set_scatter_x(ScatterX(i)); });
    connect(export_csv_, &QPushButton::clicked, this, [this] { ask_export(0); });
    connect(export_charts_, &QPushButton::clicked, this, [this] { ask_export(1); });
}

QColor MethodsView::method_color(const std::string& method) const {
    // One colour per method, the same in every comparison (prefix tuning next to P-Tuning v2's).
    static const std::vector<std::string> order{"ptv2", "prefix-mlp", "prompt", "ptuning", "lora", "ia3", "adapter", "full", "head"};
    auto it = std::find(order.begin(), order.end(), method);
    return series_color(it == order.end() ? int(order.size()) : int(it - order.begin()));
}

QString MethodsView::short_label(size_t row) const {
    const MethodRow& r = rows_[row];
    int same = 0;
    for (const MethodRow& o : rows_) same += o.method_label == r.method_label;
    return same > 1 && !r.settings.empty() ? qs(r.method_label) + "\n" + qs(r.settings) : qs(r.method_label);
}

void MethodsView::set_rows(std::vector<MethodRow> rows) {
    rows_ = std::move(rows);
    fill_table();
    draw_bars();
    draw_scatter();
    export_csv_->setEnabled(!rows_.empty());
    export_charts_->setEnabled(!rows_.empty());
}

void MethodsView::set_bars(Bars b) {
    if (b == bars_) return;
    bars_ = b;
    const QSignalBlocker block(bars_combo_);
    bars_combo_->setCurrentIndex(int(b));
    draw_bars();
}

void MethodsView::set_scatter_x(ScatterX x) {
    if (x == scatter_x_) return;
    scatter_x_ = x;
    const QSignalBlocker block(scatter_combo_);
    scatter_combo_->setCurrentIndex(int(x));
    draw_scatter();
}

void MethodsView::fill_table() {
    std::set<std::string> metrics;   // as users read them: "macro-F1", "F1 (positive: spam)"
    for (const MethodRow& r : rows_) metrics.insert(metric_display_name(r.metric, r.positive_label));
    QStringList mnames;
    for (const auto& m : metrics) mnames << qs(m);
    const QString metric = mnames.isEmpty() ? tr("metric") : mnames.join(" / ");
    const QStringList headers = {tr("Method"),       tr("Settings"),   tr("Runs"),        tr("Trainable"),
                                 tr("Trainable %"),  tr("Best %1 (mean \u00b1 std)").arg(metric),
                                 tr("Step time"),    tr("Peak memory"), tr("Inference overhead"), tr("Merged"),
                                 tr("Model"),        tr("Run names")};
    table_->setRowCount(0);
    table_->setHorizontalHeaderLabels(headers);
    table_->horizontalHeaderItem(cStep)->setToolTip(tr("Median wall time of an optimizer step (forward, backward, update)"));
    table_->horizontalHeaderItem(cMemory)->setToolTip(tr("Peak bytes of tensors alive on the training device during the run, the model's weights included"));
    table_->horizontalHeaderItem(cOverhead)->setToolTip(tr("Forward latency of the trained method against the base model, measured side by side"));
    table_->horizontalHeaderItem(cMerged)->setToolTip(tr("LoRA and IA\u00b3 folded into the weights (merge_and_unload): no extra cost expected"));
    table_->setRowCount(int(rows_.size()));
    std::set<std::string> configs;
    for (int row = 0; row < int(rows_.size()); ++row) {
        const MethodRow& r = rows_[row];
        if (!r.latency_config.empty()) configs.insert(r.latency_config);
        const bool mergeable = is_mergeable(r.method);
        QStringList run_names;
        for (const std::string& n : r.run_names) run_names << qs(n);
        QString runs = QString::number(r.group.completed);
        if (size_t(r.group.completed) != r.group.run_ids.size()) runs += QString(" / %1").arg(r.group.run_ids.size());
        const QString cells[cCount] = {
            qs(r.method_label),
            qs(r.settings),
            runs,
            r.trainable_params > 0 ? QLocale().toString(qint64(r.trainable_params)) : kDash,
            r.total_params > 0 ? QString::number(r.trainable_share * 100.0, 'g', 3) + " %" : kDash,
            mean_std(r.best, 3),
            mean_std(r.step_ms, r.step_ms.n && r.step_ms.mean < 10 ? 2 : 1, " ms"),
            bytes_text(r.peak_mem_bytes),
            signed_percent(r.overhead),
            mergeable ? signed_percent(r.overhead_merged) : tr("n/a"),
            r.model.empty() ? kDash : QFileInfo(QDir::cleanPath(qs(r.model))).fileName(),
            run_names.join("; ")};
        QStringList ids;
        for (int64_t id : r.group.run_ids) ids << "#" + QString::number(id);
        for (int c = 0; c < cCount; ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            if (c == cMethod) {
                item->setForeground(method_color(r.method));
                item->setToolTip(qs(r.group.label) + "\n" + tr("Runs %1").arg(ids.join(", ")));
            } else if (c == cStep || c == cMemory) {
                item->setToolTip(r.train_device.empty() ? tr("not recorded") : tr("trained on %1").arg(qs(r.train_device)));
            } else if (c == cOverhead || c == cMerged) {
                item->setToolTip(r.overhead.n ? tr("%1 against %2 ms for the base model, %3")
                                                    .arg(mean_std(r.latency_ms, 2, " ms"))
                                                    .arg(r.base_latency_ms.mean, 0, 'f', 2)
                                                    .arg(qs(r.latency_config))
                                              : tr("not measured: measure latency after training (Setup) or in the Latency tab"));
            } else if (c == cModel) {
                item->setToolTip(qs(r.model));
            } else if (c == cRunNames) {
                item->setToolTip(qs(r.group.label) + "\n" + tr("Runs %1").arg(ids.join(", ")));
            } else if (c == cRuns) {
                item->setToolTip(tr("completed runs counted (of the group's runs)"));
            }
            if (c >= cRuns && c < cModel) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            table_->setItem(row, c, item);
        }
    }
    table_->resizeColumnsToContents();
    QString note;
    if (rows_.empty()) {
        note = tr("Select runs of several methods in the Runs table (a methods suite: Run \u25b8 Run Suite) and choose "
                  "\u201cCompare selected\u201d.");
    } else {
        QStringList cfg;
        for (const auto& c : configs) cfg << qs(c);
        note = tr("Mean \u00b1 std over the completed runs of each group (runs that differ only by seed).");
        if (!cfg.isEmpty()) note += " " + tr("Inference latency at %1.").arg(cfg.join("; "));
    }
    note_->setText(note);
}

int MethodsView::table_rows() const { return table_->rowCount(); }
int MethodsView::table_columns() const { return table_->columnCount(); }
QString MethodsView::header(int col) const {
    const QTableWidgetItem* h = table_->horizontalHeaderItem(col);
    return h ? h->text() : QString();
}
QString MethodsView::cell(int row, int col) const {
    const QTableWidgetItem* item = table_->item(row, col);
    return item ? item->text() : QString();
}

void MethodsView::draw_bars() {
    QCustomPlot* p = bar_plot_;
    p->clearPlottables();
    p->legend->setVisible(false);
    bar_values_.clear();
    bar_errors_.clear();
    const bool log = bars_ == Bars::Trainable;
    QString ylabel, empty;
    std::set<std::string> metrics;   // as users read them: "macro-F1", "F1 (positive: spam)"
    for (const MethodRow& r : rows_) metrics.insert(metric_display_name(r.metric, r.positive_label));
    switch (bars_) {
        case Bars::Metric:
            ylabel = tr("best validation %1").arg(metrics.size() == 1 ? qs(*metrics.begin()) : tr("metric"));
            break;
        case Bars::Trainable: ylabel = tr("trainable parameters (% of the model)"); break;
        case Bars::StepTime: ylabel = tr("median step time (ms)"); break;
        case Bars::PeakMemory: ylabel = tr("peak training memory (MiB)"); break;
        case Bars::Overhead: ylabel = tr("inference latency vs base (%)"); break;
    }
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    std::vector<std::pair<double, double>> merged(rows_.size(), {std::nan(""), 0});
    for (size_t i = 0; i < rows_.size(); ++i) {
        const MethodRow& r = rows_[i];
        double v = std::nan(""), e = 0;
        auto from = [&](const Stat& s, double scale) {
            if (s.n == 0) return;
            v = s.mean * scale;
            e = s.n > 1 ? s.std * scale : 0;
        };
        switch (bars_) {
            case Bars::Metric: from(r.best, 1); break;
            case Bars::Trainable:
                if (r.total_params > 0 && r.trainable_params > 0) v = r.trainable_share * 100.0;
                break;
            case Bars::StepTime: from(r.step_ms, 1); break;
            case Bars::PeakMemory: from(r.peak_mem_bytes, 1.0 / kMiB); break;
            case Bars::Overhead:
                from(r.overhead, 100);
                if (r.overhead_merged.n) merged[i] = {r.overhead_merged.mean * 100, r.overhead_merged.n > 1 ? r.overhead_merged.std * 100 : 0};
                break;
        }
        bar_values_.append(v);
        bar_errors_.append(e);
        if (!std::isnan(v)) {
            lo = std::min(lo, v - e);
            hi = std::max(hi, v + e);
        }
        if (std::isnan(v)) merged[i] = {std::nan(""), 0};   // drawn beside its as-trained bar only
        if (!std::isnan(merged[i].first)) {
            lo = std::min(lo, merged[i].first - merged[i].second);
            hi = std::max(hi, merged[i].first + merged[i].second);
        }
    }
    const bool any = std::isfinite(lo);
    if (log && any) lo = std::max(lo, 1e-9);
    const double base = log && any ? std::pow(10.0, std::floor(std::log10(lo))) : 0.0;
    bool any_merged = false;
    for (size_t i = 0; i < rows_.size(); ++i) {
        if (std::isnan(bar_values_[int(i)])) continue;
        const QColor c = method_color(rows_[i].method);
        const bool pair = !std::isnan(merged[i].first);
        auto add_bar = [&](double x, double width, double value, double err, const QColor& fill, const QString& name) {
            auto* b = new QCPBars(p->xAxis, p->yAxis);
            b->setName(name);
            b->setWidth(width);
            b->setBaseValue(base);
            b->setPen(QPen(c.darker(120)));
            b->setBrush(fill);
            b->addData(x, value);
            if (err > 0) {
                auto* eb = new QCPErrorBars(p->xAxis, p->yAxis);
                eb->removeFromLegend();
                eb->setDataPlottable(b);
                eb->setData(QVector<double>{err});
                eb->setPen(QPen(palette().color(QPalette::Text), 1));
            }
            b->removeFromLegend();
            return b;
        };
        QColor fill = c;
        fill.setAlpha(200);
        add_bar(double(i) - (pair ? 0.17 : 0), pair ? 0.34 : 0.6, bar_values_[int(i)], bar_errors_[int(i)], fill, tr("as trained"));
        if (pair) {
            QColor light = c;
            light.setAlpha(80);
            QCPBars* m = add_bar(double(i) + 0.17, 0.34, merged[i].first, merged[i].second, light, tr("merged into the weights"));
            if (!any_merged) m->addToLegend();
            any_merged = true;
        }
    }
    if (any_merged) {
        p->legend->setVisible(true);
        p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    }
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (size_t i = 0; i < rows_.size(); ++i) ticker->addTick(double(i), short_label(i));
    p->xAxis->setTicker(ticker);
    const bool rotate = rows_.size() > 5;
    p->xAxis->setTickLabelRotation(rotate ? 30 : 0);
    // QCustomPlot drops a tick label the widget's border would cut: room on the right for the last one, which
    // runs down to the right when rotated.
    {
        const QFontMetrics fm(p->xAxis->tickLabelFont());
        int w = 0;
        if (!rows_.empty())
            for (const QString& line : short_label(rows_.size() - 1).split('\n')) w = std::max(w, fm.horizontalAdvance(line));
        p->axisRect()->setAutoMargins(QCP::msLeft | QCP::msTop | QCP::msBottom);
        p->axisRect()->setMargins(QMargins(0, 0, std::max(16, rotate ? int(w * 0.9) : w / 2 + 8), 0));
    }
    p->xAxis->setSubTicks(false);
    p->xAxis->setTickLength(0, 4);
    p->xAxis->grid()->setVisible(false);
    p->xAxis->setRange(-0.6, std::max<double>(0.6, double(rows_.size()) - 0.4));
    set_log_axis(p->yAxis, log);
    p->yAxis->setLabel(ylabel);
    if (any) {
        QCPRange r = padded(log ? lo : std::min(lo, 0.0), log ? hi : std::max(hi, 0.0), log);
        if (log) r.lower = std::min(r.lower, base);
        p->yAxis->setRange(r);
    } else {
        p->yAxis->setRange(0, 1);
    }
    if (rows_.empty()) {
        empty = tr("Select runs to compare their methods.");
    } else if (!any) {
        switch (bars_) {
            case Bars::StepTime:
            case Bars::PeakMemory: empty = tr("Not recorded for these runs (they trained before ptune recorded it)."); break;
            case Bars::Overhead:
                empty = tr("Inference latency not measured for these runs: tick \u201cmeasure inference latency after "
                           "training\u201d in Setup, or measure a run in the Latency tab.");
                break;
            default: empty = tr("No completed runs with this value."); break;
        }
    }
    bars_empty_->setText(empty);
    bars_empty_->setVisible(!empty.isEmpty());
    p->replot(QCustomPlot::rpQueuedReplot);
}

void MethodsView::draw_scatter() {
    QCustomPlot* p = scatter_plot_;
    p->clearPlottables();
    p->clearItems();   // the point labels; the empty-state text is made again below
    scatter_empty_ = make_empty_text(p);
    scatter_points_.clear();
    const bool by_params = scatter_x_ == ScatterX::Trainable;
    std::set<std::string> metrics;   // as users read them: "macro-F1", "F1 (positive: spam)"
    for (const MethodRow& r : rows_) metrics.insert(metric_display_name(r.metric, r.positive_label));
    const QString ylabel = tr("best validation %1").arg(metrics.size() == 1 ? qs(*metrics.begin()) : tr("metric"));
    double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
    for (size_t i = 0; i < rows_.size(); ++i) {
        const MethodRow& r = rows_[i];
        if (r.best.n == 0) continue;
        double x = std::nan("");
        if (by_params && r.trainable_params > 0) x = double(r.trainable_params);
        if (!by_params && r.overhead.n) x = r.overhead.mean * 100.0;
        if (std::isnan(x)) continue;
        const double y = r.best.mean, e = r.best.n > 1 ? r.best.std : 0;
        scatter_points_.append(QPointF(x, y));
        xlo = std::min(xlo, x), xhi = std::max(xhi, x);
        ylo = std::min(ylo, y - e), yhi = std::max(yhi, y + e);
        const QColor c = method_color(r.method);
        QCPGraph* g = p->addGraph();
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c, c, 10));
        g->setName(qs(r.label()));
        g->addData(x, y);
        if (e > 0) {
            auto* eb = new QCPErrorBars(p->xAxis, p->yAxis);
            eb->setDataPlottable(g);
            eb->setData(QVector<double>{e});
            eb->setPen(QPen(c, 1.5));
        }
        auto* t = new QCPItemText(p);
        t->position->setCoords(x, y);
        t->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
        t->setPadding(QMargins(7, 0, 0, 3));
        t->setText(short_label(i).replace('\n', ' '));
        t->setColor(palette().color(QPalette::Text));
        QFont f = t->font();
        f.setPointSizeF(std::max(6.0, f.pointSizeF() - 1));
        t->setFont(f);
    }
    set_log_axis(p->xAxis, by_params);
    p->xAxis->setLabel(by_params ? tr("trainable parameters (log)") : tr("inference latency vs base (%)"));
    p->yAxis->setLabel(ylabel);
    const bool any = !scatter_points_.isEmpty();
    if (any) {
        QCPRange xr = padded(xlo, xhi, by_params, 0.12);
        // Room on the right for the last point's label.
        if (by_params) xr.upper *= 4;
        else xr.upper += (xr.upper - xr.lower) * 0.25;
        p->xAxis->setRange(xr);
        p->yAxis->setRange(padded(ylo, yhi, false, 0.15));
    }
    QString empty;
    if (rows_.empty()) empty = tr("Select runs to compare their methods.");
    else if (!any && by_params) empty = tr("No completed runs with a metric and a parameter count.");
    else if (!any) empty = tr("Inference latency not measured for these runs.");
    scatter_empty_->setText(empty);
    scatter_empty_->setVisible(!empty.isEmpty());
    p->replot(QCustomPlot::rpQueuedReplot);
}

QStringList MethodsView::bar_labels() const {
    QStringList out;
    for (size_t i = 0; i < rows_.size(); ++i) out << short_label(i);
    return out;
}
QVector<double> MethodsView::bar_values() const { return bar_values_; }
QVector<double> MethodsView::bar_errors() const { return bar_errors_; }
QString MethodsView::bar_axis_label() const { return bar_plot_->yAxis->label(); }
bool MethodsView::bar_log_scale() const { return bar_plot_->yAxis->scaleType() == QCPAxis::stLogarithmic; }
QVector<QPointF> MethodsView::scatter_points() const { return scatter_points_; }
QString MethodsView::scatter_x_label() const { return scatter_plot_->xAxis->label(); }
bool MethodsView::bars_empty_shown() const { return bars_empty_->visible(); }
QString MethodsView::bars_empty_text() const { return bars_empty_->text(); }

QString MethodsView::export_csv(const QString& path) {
    if (rows_.empty()) return QString("%1: no methods to export").arg(path);
    return write_text_file(path, [this](std::ostream& o) { write_methods_csv(rows_, o); });
}

QString MethodsView::save_chart(const QString& which, const QString& path) {
    QCustomPlot* plot = which == "bars" ? bar_plot_ : which == "scatter" ? scatter_plot_ : nullptr;
    if (!plot) return QString("%1: unknown chart \"%2\" (bars or scatter)").arg(path, which);
    return save_plot_readable(plot, path, 200, 150, 800, 500);
}

void MethodsView::ask_export(int which) {
    if (which == 1) {
        // The scatter plot goes beside the bar chart: NAME-bars.EXT and NAME-scatter.EXT.
        export_chart_pair(this, "methods", "bars", "scatter",
                          [this](const QString& w, const QString& path) { return save_chart(w, path); });
        return;
    }
    const QString path = QFileDialog::getSaveFileName(this, tr("Export comparison table"), "methods.csv", tr("CSV files (*.csv)"));
    if (path.isEmpty()) return;
    const QString error = export_csv(path);
    if (!error.isEmpty()) QMessageBox::warning(this, tr("Export"), error);
}

void MethodsView::changeEvent(QEvent* e) {
    if (e->type() == QEvent::PaletteChange) {
        style_plot(bar_plot_, palette());
        style_plot(scatter_plot_, palette());
        draw_bars();
        draw_scatter();
        bars_empty_->setColor(palette().color(QPalette::PlaceholderText));
    }
    QWidget::changeEvent(e);
}

}  // namespace ptune::ui
