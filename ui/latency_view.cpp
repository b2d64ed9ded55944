#include "ui/latency_view.h"

#include <QComboBox>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QRegularExpression>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <qcustomplot.h>

#include "ui/plot_util.h"

namespace ptune::ui {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// "16, 32 64" -> {16, 32, 64}; an error names the field and the bad item.
std::vector<int> parse_lengths(const QString& text, const QString& field, QString* error) {
    std::vector<int> out;
    const QStringList parts = text.split(QRegularExpression("[,;\\s]+"), Qt::SkipEmptyParts);
    for (const QString& p : parts) {
        bool ok = false;
        const int v = p.toInt(&ok);
        if (!ok || v <= 0) {
            if (error && error->isEmpty())
                *error = LatencyView::tr("%1: \"%2\" is not a positive whole number").arg(field, p);
            return {};
        }
        if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    }
    if (out.empty() && error && error->isEmpty()) *error = LatencyView::tr("%1: give at least one length").arg(field);
    std::sort(out.begin(), out.end());
    return out;
}

QString join_ints(const std::vector<int>& v) {
    QStringList s;
    for (int x : v) s << QString::number(x);
    return s.join(",");
}

QTableWidgetItem* cell(const QString& text, bool number) {
    auto* it = new QTableWidgetItem(text);
    it->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
    if (number) it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return it;
}

}  // namespace

LatencyView::LatencyView(QWidget* parent) : QWidget(parent) {
    build_ui();
    restyle();
    validate();
    rebuild();
}

LatencyView::~LatencyView() = default;

void LatencyView::build_ui() {
    const LatencySweep defaults;
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(4, 4, 4, 4);
    outer->setSpacing(4);

    auto* form = new QHBoxLayout;
    form->setSpacing(6);
    form->addWidget(new QLabel(tr("Sequence lengths:"), this));
    seq_edit_ = new QLineEdit(join_ints(defaults.seq_lens), this);
    seq_edit_->setObjectName("seq_lens");
    seq_edit_->setToolTip(tr("Comma-separated: measured for the base model and at the run's prompt length"));
    form->addWidget(seq_edit_, 2);
    form->addWidget(new QLabel(tr("Prompt lengths:"), this));
    prompt_edit_ = new QLineEdit(join_ints(defaults.prompt_lens), this);
    prompt_edit_->setObjectName("prompt_lens");
    prompt_edit_->setToolTip(tr("Comma-separated prompt lengths P, measured at the sequence length on the right"));
    form->addWidget(prompt_edit_, 2);
    form->addWidget(new QLabel(tr("at seq len"), this));
    sweep_seq_spin_ = new QSpinBox(this);
    sweep_seq_spin_->setObjectName("prompt_sweep_seq_len");
    sweep_seq_spin_->setRange(1, 1 << 20);
    sweep_seq_spin_->setValue(defaults.prompt_sweep_seq_len);
    sweep_seq_spin_->setToolTip(tr("Sequence length of the prompt-length sweep"));
    form->addWidget(sweep_seq_spin_);
    form->addWidget(new QLabel(tr("Batch:"), this));
    batch_spin_ = new QSpinBox(this);
    batch_spin_->setObjectName("batch_size");
    batch_spin_->setRange(1, 4096);
    batch_spin_->setValue(defaults.batch_size);
    form->addWidget(batch_spin_);
    form->addWidget(new QLabel(tr("Repeats:"), this));
    repeats_spin_ = new QSpinBox(this);
    repeats_spin_->setObjectName("repeats");
    repeats_spin_->setRange(1, 100000);
    repeats_spin_->setValue(defaults.repeats);
    repeats_spin_->setToolTip(tr("Timed passes per configuration (after %1 warm-up passes)").arg(defaults.warmup));
    form->addWidget(repeats_spin_);
    phase_label_ = new QLabel(tr("Show:"), this);
    form->addWidget(phase_label_);
    phase_combo_ = new QComboBox(this);
    phase_combo_->setObjectName("phase");
    phase_combo_->addItem(tr("Time to first token"), QString("first_token"));
    phase_combo_->addItem(tr("Per new token"), QString("per_token"));
    phase_combo_->setToolTip(tr("A causal LM generates in two phases: the input (and the prefix's keys and values) "
                                "through the model up to the first new token, then one step per new token"));
    form->addWidget(phase_combo_);
    phase_label_->hide();
    phase_combo_->hide();
    connect(phase_combo_, qOverload<int>(&QComboBox::currentIndexChanged), this,
            [this] { set_phase(phase_combo_->currentData().toString().toStdString()); });
    measure_button_ = new QPushButton(tr("Measure"), this);
    measure_button_->setObjectName("measure");
    form->addWidget(measure_button_);
    auto* export_button = new QToolButton(this);
    export_button->setText(tr("Export chart…"));
    export_button->setPopupMode(QToolButton::InstantPopup);
    auto* menu = new QMenu(export_button);
    menu->addAction(tr("Latency vs sequence length…"), this, [this] { export_chart("seq"); });
    menu->addAction(tr("Latency vs prompt length…"), this, [this] { export_chart("prompt"); });
    export_button->setMenu(menu);
    form->addWidget(export_button);
    outer->addLayout(form);

    auto* status_row = new QHBoxLayout;
    title_label_ = new QLabel(this);
    QFont tf = title_label_->font();
    tf.setBold(true);
    title_label_->setFont(tf);
    status_row->addWidget(title_label_);
    status_row->addStretch(1);
    error_label_ = new QLabel(this);
    error_label_->setObjectName("form_error");
    error_label_->setStyleSheet("color: #d62728;");
    error_label_->setWordWrap(true);
    status_row->addWidget(error_label_, 3);
    status_label_ = new QLabel(this);
    status_row->addWidget(status_label_);
    outer->addLayout(status_row);

    auto* vsplit = new QSplitter(Qt::Vertical, this);
    vsplit->setObjectName("latency_vsplit");
    vsplit->setChildrenCollapsible(false);
    auto* hsplit = new QSplitter(Qt::Horizontal, vsplit);
    hsplit->setObjectName("latency_hsplit");
    hsplit->setChildrenCollapsible(false);

    auto setup = [this](QCustomPlot* p) {
        p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
        p->setMinimumSize(200, 160);
        p->legend->setVisible(true);
        p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
        p->yAxis->setLabel(tr("median latency (ms)"));
        connect(p, &QCustomPlot::mouseDoubleClick, this, [this](QMouseEvent*) { rebuild_charts(); });
    };
    auto make_err = [](QCPGraph* g, const QColor& c) {
        auto* e = new QCPErrorBars(g->keyAxis(), g->valueAxis());
        e->setDataPlottable(g);
        e->setErrorType(QCPErrorBars::etValueError);
        QColor ec = c;
        ec.setAlpha(120);
        e->setPen(QPen(ec, 1));
        e->setWhiskerWidth(6);
        e->removeFromLegend();
        return e;
    };

    seq_plot_ = new QCustomPlot(hsplit);
    setup(seq_plot_);
    seq_plot_->xAxis->setLabel(tr("sequence length (tokens, log scale); whiskers reach the p90"));
    seq_plot_->xAxis->setScaleType(QCPAxis::stLogarithmic);
    seq_plot_->xAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    seq_base_ = seq_plot_->addGraph();
    seq_base_->setPen(QPen(series_color(7), 2));
    seq_base_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, series_color(7), series_color(7), 6));
    seq_ptv2_ = seq_plot_->addGraph();
    seq_ptv2_->setPen(QPen(series_color(0), 2));
    seq_ptv2_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, series_color(0), series_color(0), 6));
    seq_merged_ = seq_plot_->addGraph();
    seq_merged_->setPen(QPen(series_color(0), 2, Qt::DashLine));
    seq_merged_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, series_color(0), series_color(0), 7));
    seq_base_err_ = make_err(seq_base_, series_color(7));
    seq_ptv2_err_ = make_err(seq_ptv2_, series_color(0));
    seq_empty_ = make_empty_text(seq_plot_);

    prompt_plot_ = new QCustomPlot(hsplit);
    setup(prompt_plot_);
    prompt_plot_->xAxis->setLabel(tr("prompt length P"));
    prompt_ptv2_ = prompt_plot_->addGraph();
    prompt_ptv2_->setPen(QPen(series_color(0), 2));
    prompt_ptv2_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, series_color(0), series_color(0), 6));
    prompt_ptv2_err_ = make_err(prompt_ptv2_, series_color(0));
    prompt_base_ = prompt_plot_->addGraph();
    prompt_base_->setPen(QPen(series_color(7), 1.5, Qt::DashLine));
    prompt_empty_ = make_empty_text(prompt_plot_);

    hsplit->addWidget(seq_plot_);
    hsplit->addWidget(prompt_plot_);

    table_ = new QTableWidget(0, 9, vsplit);
    table_->setObjectName("latency_table");
    table_->setHorizontalHeaderLabels({tr("Method"), tr("Batch"), tr("Seq len"), tr("P"), tr("Median (ms)"),
                                       tr("p90 (ms)"), tr("Overhead vs base"), tr("Device"), tr("Tokens/s")});
    table_->setColumnHidden(8, true);
    table_->verticalHeader()->setVisible(false);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setAlternatingRowColors(true);
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->setToolTip(tr("Overhead: (method − base) / base × 100 at the same batch size and sequence length"));

    vsplit->addWidget(hsplit);
    vsplit->addWidget(table_);
    vsplit->setStretchFactor(0, 3);
    vsplit->setStretchFactor(1, 2);
    outer->addWidget(vsplit, 1);

    for (QLineEdit* e : {seq_edit_, prompt_edit_}) connect(e, &QLineEdit::textChanged, this, [this] { validate(); });
    connect(sweep_seq_spin_, qOverload<int>(&QSpinBox::valueChanged), this, [this] {
        validate();
        rebuild_charts();
    });
    connect(batch_spin_, qOverload<int>(&QSpinBox::valueChanged), this, [this] { rebuild_charts(); });
    connect(measure_button_, &QPushButton::clicked, this, [this] {
        validate();
        if (blocked_reason().isEmpty()) Q_EMIT measure_requested(qint64(run_id_), sweep());
    });
}

void LatencyView::restyle() {
    for (QCustomPlot* p : {seq_plot_, prompt_plot_}) {
        style_plot(p, palette());
        const QColor fg = p->palette().color(QPalette::Text);
        QColor faded = fg;
        faded.setAlpha(150);
        for (QCPItemText* t : {seq_empty_, prompt_empty_})
            if (t->parentPlot() == p) t->setColor(faded);
        p->replot(QCustomPlot::rpQueuedReplot);
    }
}

void LatencyView::changeEvent(QEvent* e) {
    if (e->type() == QEvent::PaletteChange) restyle();
    QWidget::changeEvent(e);
}

// ---------------------------------------------------------------------------------------------------- data

bool LatencyView::prompted() const { return has_prompt_len(method_); }

void LatencyView::clear() {
    run_id_ = 0;
    method_ = "ptv2";
    prompt_edit_->setEnabled(true);
    sweep_seq_spin_->setEnabled(true);
    run_prompt_len_ = 0;
    max_positions_ = 0;
    title_.clear();
    rows_.clear();
    phases_.clear();
    set_causal_lm(false);
    busy_ = false;
    status_label_->clear();
    validate();
    rebuild();
}

void LatencyView::add_row(const LatencyRow& r) {
    const int p = r.method == "base" ? 0 : r.prompt_len;
    LatencyRow row = r;
    row.prompt_len = p;
    if (!r.phase.empty() && !causal_lm_) set_causal_lm(true);
    // Overheads compare rows of one device: a measurement on another device replaces all earlier rows.
    for (auto& [ph, rows] : phases_)
        if (!rows.empty() && rows.begin()->second.device != r.device) rows.clear();
    phases_[r.phase][Key{r.method, r.batch_size, r.seq_len, p}] = row;  // a re-measure replaces the earlier row
    rows_ = phases_[phase_];
}

void LatencyView::set_causal_lm(bool causal_lm) {
    causal_lm_ = causal_lm;
    phase_label_->setVisible(causal_lm);
    phase_combo_->setVisible(causal_lm);
    const QSignalBlocker block(phase_combo_);
    if (causal_lm) phase_combo_->setCurrentIndex(0);
    phase_ = causal_lm ? "first_token" : "";
    rows_ = phases_[phase_];
    seq_plot_->xAxis->setLabel(causal_lm ? tr("input length (tokens, log scale); whiskers reach the p90")
                                         : tr("sequence length (tokens, log scale); whiskers reach the p90"));
    table_->setColumnHidden(8, true);
}

bool LatencyView::set_phase(const std::string& phase) {
    const bool offered = causal_lm_ ? (phase == "first_token" || phase == "per_token") : phase.empty();
    if (!offered) return false;
    phase_ = phase;
    const int i = phase_combo_->findData(QString::fromStdString(phase));
    if (i >= 0 && phase_combo_->currentIndex() != i) {
        const QSignalBlocker block(phase_combo_);
        phase_combo_->setCurrentIndex(i);
    }
    rows_ = phases_[phase_];
    table_->setColumnHidden(8, phase_ != "per_token");
    rebuild();
    return true;
}

void LatencyView::show_run(const ptune::Store& store, int64_t run_id, int run_prompt_len, int max_positions,
                           const QString& title, const std::string& method, bool causal_lm) {
    clear();
    set_causal_lm(causal_lm);
    run_id_ = run_id;
    method_ = method == "prefix-mlp" ? "ptv2" : method;
    // A prompt-length sweep only means something for the prompt methods.
    prompt_edit_->setEnabled(prompted());
    sweep_seq_spin_->setEnabled(prompted());
    run_prompt_len_ = std::max(0, run_prompt_len);
    max_positions_ = std::max(0, max_positions);
    title_ = title;
    for (const LatencyRow& r : store.latency(run_id)) add_row(r);
    validate();
    rebuild();
}

void LatencyView::append(const std::vector<ptune::LatencyResult>& results) {
    if (results.empty()) return;
    for (const LatencyResult& r : results)
        add_row(LatencyRow{r.method, r.batch_size, r.seq_len, r.prompt_len, r.median_ms, r.p90_ms, r.device, r.phase});
    rebuild();
}

void LatencyView::set_busy(bool measuring) {
    busy_ = measuring;
    status_label_->setText(measuring ? tr("Measuring…") : QString());
    validate();
}

// ---------------------------------------------------------------------------------------------------- form

LatencySweep LatencyView::sweep() const {
    LatencySweep s;
    QString err;
    auto seqs = parse_lengths(seq_edit_->text(), tr("Sequence lengths"), &err);
    if (!seqs.empty()) s.seq_lens = seqs;
    err.clear();
    auto ps = parse_lengths(prompt_edit_->text(), tr("Prompt lengths"), &err);
    if (!ps.empty()) s.prompt_lens = ps;
    if (!prompted()) s.prompt_lens.clear();   // LoRA, IA3, adapters, full, head: no prompt length to sweep
    s.prompt_sweep_seq_len = sweep_seq_spin_->value();
    s.batch_size = batch_spin_->value();
    s.repeats = repeats_spin_->value();
    return s;
}

QString LatencyView::form_error() const { return form_error_; }

void LatencyView::validate() {
    QString err;
    const auto seqs = parse_lengths(seq_edit_->text(), tr("Sequence lengths"), &err);
    const auto ps = prompted() ? parse_lengths(prompt_edit_->text(), tr("Prompt lengths"), &err) : std::vector<int>{};
    const int sweep_seq = sweep_seq_spin_->value();
    if (err.isEmpty() && max_positions_ > 0) {
        // With P prompt positions in front, the real tokens take positions P..P+n-1: n + P must fit the table. A
        // causal LM also generates its new tokens there.
        const int gen = causal_lm_ ? LatencyOptions{}.new_tokens : 0;
        const QString plus_gen = gen > 0 ? tr(" + %1 generated tokens").arg(gen) : QString();
        for (int s : seqs) {
            if (s + run_prompt_len_ + gen > max_positions_) {
                err = run_prompt_len_ > 0 || gen > 0
                          ? tr("Sequence lengths: %1 + the run's P %2%3 = %4 is longer than the model's %5 positions")
                                .arg(s).arg(run_prompt_len_).arg(plus_gen).arg(s + run_prompt_len_ + gen).arg(max_positions_)
                          : tr("Sequence lengths: %1 is longer than the model's %2 positions").arg(s).arg(max_positions_);
                break;
            }
        }
        if (err.isEmpty())
            for (int p : ps)
                if (sweep_seq + p + gen > max_positions_) {
                    err = tr("Prompt lengths: seq len %1 + P %2%3 = %4 is longer than the model's %5 positions")
                              .arg(sweep_seq).arg(p).arg(plus_gen).arg(sweep_seq + p + gen).arg(max_positions_);
                    break;
                }
    }
    form_error_ = err;
    error_label_->setText(err);
    error_label_->setVisible(!err.isEmpty());
    const QString why = blocked_reason();
    measure_button_->setEnabled(why.isEmpty());
    measure_button_->setToolTip(why.isEmpty() ? tr("Measure the base model and the run's method, round-robin") : why);
}

QString LatencyView::blocked_reason() const {
    if (run_id_ == 0) return tr("No run selected: pick a run to measure its latency against the base model");
    if (busy_) return tr("A measurement is running");
    if (!form_error_.isEmpty()) return form_error_;
    return {};
}

// ---------------------------------------------------------------------------------------------------- views

const LatencyRow* LatencyView::find(const std::string& method, int batch, int seq, int p) const {
    auto it = rows_.find(Key{method, batch, seq, method == "base" ? 0 : p});
    return it == rows_.end() ? nullptr : &it->second;
}

double LatencyView::overhead_percent(int batch, int seq_len, int prompt_len) const {
    return overhead_percent(method_, batch, seq_len, prompt_len);
}

double LatencyView::overhead_percent(const std::string& method, int batch, int seq_len, int prompt_len) const {
    const LatencyRow* pt = find(method, batch, seq_len, prompt_len);
    const LatencyRow* base = find("base", batch, seq_len, 0);
    if (!pt || !base || !(base->median_ms > 0)) return kNaN;
    return (pt->median_ms - base->median_ms) / base->median_ms * 100.0;
}

int LatencyView::table_rows() const { return table_->rowCount(); }

int LatencyView::chart_batch() const {
    const int want = batch_spin_->value();
    int smallest = 0;
    for (const auto& kv : rows_) {
        const int b = std::get<1>(kv.first);
        if (b == want) return want;
        if (smallest == 0 || b < smallest) smallest = b;
    }
    return smallest;
}

int LatencyView::prompt_sweep_seq(int batch) const {
    const int want = sweep_seq_spin_->value();
    std::map<int, int> count;  // seq -> number of the method's prompt lengths measured there
    for (const auto& kv : rows_)
        if (std::get<0>(kv.first) == method_ && std::get<1>(kv.first) == batch) ++count[std::get<2>(kv.first)];
    if (count.count(want)) return want;
    int best = 0, n = 0;
    for (const auto& [s, c] : count)
        if (c > n) best = s, n = c;
    return best;
}

void LatencyView::rebuild() {
    QString t = title_;
    std::set<std::string> devices;
    for (const auto& kv : rows_)
        if (!kv.second.device.empty()) devices.insert(kv.second.device);
    if (!devices.empty()) {
        QStringList d;
        for (const auto& s : devices) d << QString::fromStdString(s);
        t += (t.isEmpty() ? "" : "  ·  ") + tr("device: %1").arg(d.join(", "));
    }
    title_label_->setText(t);
    rebuild_table();
    rebuild_charts();
}

void LatencyView::rebuild_table() {
    std::vector<const LatencyRow*> rows;
    for (const auto& kv : rows_) rows.push_back(&kv.second);
    std::sort(rows.begin(), rows.end(), [](const LatencyRow* a, const LatencyRow* b) {
        auto ka = std::make_tuple(a->batch_size, a->seq_len, a->method != "base", a->method, a->prompt_len);
        auto kb = std::make_tuple(b->batch_size, b->seq_len, b->method != "base", b->method, b->prompt_len);
        return ka < kb;
    });
    table_->setRowCount(int(rows.size()));
    for (int i = 0; i < int(rows.size()); ++i) {
        const LatencyRow& r = *rows[std::size_t(i)];
        table_->setItem(i, 0, cell(QString::fromStdString(r.method), false));
        table_->setItem(i, 1, cell(QString::number(r.batch_size), true));
        table_->setItem(i, 2, cell(QString::number(r.seq_len), true));
        table_->setItem(i, 3, cell(has_prompt_len(r.method) ? QString::number(r.prompt_len) : QString("—"), true));
        table_->setItem(i, 4, cell(QString::number(r.median_ms, 'f', 3), true));
        table_->setItem(i, 5, cell(QString::number(r.p90_ms, 'f', 3), true));
        QString over;
        if (r.method != "base") {
            const double o = overhead_percent(r.method, r.batch_size, r.seq_len, r.prompt_len);
            over = std::isfinite(o) ? QString("%1%2 %").arg(o >= 0 ? "+" : "").arg(o, 0, 'f', 1) : tr("no base row");
        }
        table_->setItem(i, 6, cell(over, true));
        table_->setItem(i, 7, cell(QString::fromStdString(r.device), false));
        // Per new token: every row of the batch gets one token per step.
        table_->setItem(i, 8, cell(phase_ == "per_token" && r.median_ms > 0
                                       ? QString::number(1000.0 / r.median_ms * r.batch_size, 'f', 1)
                                       : QString(), true));
    }
    table_->resizeColumnsToContents();
}

void LatencyView::rebuild_charts() {
    const int batch = chart_batch();
    // (a) against sequence length: base, and the method at the run's P (or the P measured at most lengths);
    // LoRA and IA3 also merged
    const std::string merged = method_ + "-merged";
    int p_run = prompted() ? run_prompt_len_ : 0;
    if (prompted()) {
        std::map<int, int> per_p;
        bool has_run_p = false;
        for (const auto& kv : rows_)
            if (std::get<0>(kv.first) == method_ && std::get<1>(kv.first) == batch) {
                ++per_p[std::get<3>(kv.first)];
                has_run_p |= std::get<3>(kv.first) == run_prompt_len_;
            }
        if (!has_run_p) {
            int n = 0;
            for (const auto& [p, c] : per_p)
                if (c > n) p_run = p, n = c;
        }
    }
    QVector<double> bx, by, bp, px, py, pp, zeros_b, zeros_p, mx, my;
    std::set<int> seqs;
    for (const auto& kv : rows_) {
        const auto& [m, b, s, p] = kv.first;
        if (b != batch) continue;
        const LatencyRow& r = kv.second;
        if (m == "base") {
            bx << s, by << r.median_ms, bp << std::max(0.0, r.p90_ms - r.median_ms), zeros_b << 0;
            seqs.insert(s);
        } else if (m == method_ && p == p_run) {
            px << s, py << r.median_ms, pp << std::max(0.0, r.p90_ms - r.median_ms), zeros_p << 0;
            seqs.insert(s);
        } else if (m == merged) {
            mx << s, my << r.median_ms;
            seqs.insert(s);
        }
    }
    seq_merged_->setData(mx, my, true);
    seq_merged_->setName(tr("%1 merged into the weights").arg(QString::fromStdString(method_)));
    seq_merged_->removeFromLegend();
    if (!mx.isEmpty()) seq_merged_->addToLegend();
    seq_base_->setData(bx, by, true);
    seq_ptv2_->setData(px, py, true);
    seq_base_err_->setData(zeros_b, bp);
    seq_ptv2_err_->setData(zeros_p, pp);
    seq_base_->setName(tr("base"));
    seq_ptv2_->setName(prompted() ? tr("%1 (P=%2)").arg(QString::fromStdString(method_)).arg(p_run)
                                  : QString::fromStdString(method_));
    seq_base_->removeFromLegend();
    seq_ptv2_->removeFromLegend();
    if (!bx.isEmpty()) seq_base_->addToLegend();
    if (!px.isEmpty()) seq_ptv2_->addToLegend();
    auto seq_ticker = qSharedPointerCast<QCPAxisTickerText>(seq_plot_->xAxis->ticker());
    seq_ticker->clear();
    for (int s : seqs) seq_ticker->addTick(s, QString::number(s));
    const bool seq_data = !seqs.empty();
    seq_plot_->legend->setVisible(seq_data);
    const QString ylabel = phase_ == "first_token" ? tr("median time to first token (ms), batch %1").arg(batch)
                           : phase_ == "per_token" ? tr("median ms per new token, batch %1").arg(batch)
                                                   : tr("median latency (ms), batch %1").arg(batch);
    seq_plot_->yAxis->setLabel(ylabel);
    prompt_plot_->yAxis->setLabel(ylabel);
    if (seq_data) {
        seq_plot_->xAxis->setRange(*seqs.begin() / 1.25, *seqs.rbegin() * 1.25);
        double hi = 0;
        // The range follows the medians: a whisker longer than its median (a p90 spike: the machine was busy)
        // is cut at the top instead of flattening every line.
        for (int i = 0; i < by.size(); ++i) hi = std::max(hi, by[i] + std::min(bp[i], by[i]));
        for (int i = 0; i < py.size(); ++i) hi = std::max(hi, py[i] + std::min(pp[i], py[i]));
        for (int i = 0; i < my.size(); ++i) hi = std::max(hi, my[i]);
        seq_plot_->yAxis->setRange(0, hi > 0 ? hi * 1.1 : 1);
    }

    // (b) against prompt length at one sequence length: ptv2, with base as a flat line
    const int sseq = prompt_sweep_seq(batch);
    QVector<double> qx, qy, qp, qz;
    for (const auto& kv : rows_) {
        const auto& [m, b, s, p] = kv.first;
        if (prompted() && m == method_ && b == batch && s == sseq) {
            qx << p, qy << kv.second.median_ms, qp << std::max(0.0, kv.second.p90_ms - kv.second.median_ms), qz << 0;
        }
    }
    prompt_ptv2_->setData(qx, qy, true);
    prompt_ptv2_err_->setData(qz, qp);
    prompt_ptv2_->setName(QString::fromStdString(method_));
    const LatencyRow* base = sseq > 0 && prompted() ? find("base", batch, sseq, 0) : nullptr;
    const double pmax = qx.isEmpty() ? 1 : qx.back();
    if (base)
        prompt_base_->setData(QVector<double>{0, pmax}, QVector<double>{base->median_ms, base->median_ms}, true);
    else
        prompt_base_->data()->clear();
    prompt_base_->setName(tr("base"));
    prompt_ptv2_->removeFromLegend();
    prompt_base_->removeFromLegend();
    if (!qx.isEmpty()) prompt_ptv2_->addToLegend();
    if (base) prompt_base_->addToLegend();
    const bool prompt_data = !qx.isEmpty() || base;
    prompt_plot_->legend->setVisible(prompt_data);
    prompt_plot_->xAxis->setLabel(sseq > 0 ? tr("prompt length P at seq len %1, batch %2").arg(sseq).arg(batch)
                                           : tr("prompt length P"));
    if (prompt_data) {
        prompt_plot_->xAxis->setRange(-pmax * 0.05, pmax * 1.05);
        double hi = base ? base->median_ms : 0;
        for (int i = 0; i < qy.size(); ++i) hi = std::max(hi, qy[i] + std::min(qp[i], qy[i]));
        prompt_plot_->yAxis->setRange(0, hi > 0 ? hi * 1.1 : 1);
    }

    const QString none = run_id_ == 0 ? tr("No run selected — pick one in Runs or press Run")
                                      : tr("No measurements yet — set the sweep and press Measure");
    seq_empty_->setText(none);
    prompt_empty_->setText(run_id_ != 0 && !prompted()
                               ? tr("%1 has no prompt length: only the sequence-length sweep applies").arg(QString::fromStdString(method_))
                           : run_id_ != 0 && !rows_.empty() ? tr("No prompt-length sweep measured")
                                                            : none);
    seq_empty_->setVisible(!seq_data);
    prompt_empty_->setVisible(!prompt_data);
    seq_plot_->replot(QCustomPlot::rpQueuedReplot);
    prompt_plot_->replot(QCustomPlot::rpQueuedReplot);
}

int LatencyView::seq_chart_graphs_with_data() const {
    int n = 0;
    for (QCPGraph* g : {seq_base_, seq_ptv2_, seq_merged_}) n += g->dataCount() > 0;
    return n;
}

// ---------------------------------------------------------------------------------------------------- export

QCustomPlot* LatencyView::plot_for(const QString& which) const {
    if (which == "seq") return seq_plot_;
    if (which == "prompt") return prompt_plot_;
    return nullptr;
}

QString LatencyView::save_chart(const QString& which, const QString& path) {
    QCustomPlot* p = plot_for(which);
    if (!p) return tr("unknown chart \"%1\" (use seq or prompt)").arg(which);
    p->replot(QCustomPlot::rpImmediateRefresh);
    return save_plot_readable(p, path, 300, 200, 700, 450);
}

void LatencyView::export_chart(const QString& which) {
    const QString base = run_id_ ? QString("run-%1-latency-%2").arg(run_id_).arg(which) : "latency-" + which;
    const QString path = ask_chart_path(this, base);
    if (path.isEmpty()) return;
    const QString err = save_chart(which, path);
    if (!err.isEmpty()) QMessageBox::warning(this, tr("Export chart"), err);
}

}  // namespace ptune::ui
