#include "ui/training_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QSlider>
#include <QHeaderView>
#include <QSplitter>
#include <QTableWidget>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <limits>
#include <qcustomplot.h>

#include "core/io/json_util.h"
#include "experiments/compare.h"
#include "ui/plot_util.h"
#include "ui/series.h"

namespace ptune::ui {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const char* const kNoRun = "No run selected — pick one in Runs or press Run";
const char* const kFollow = "ptune_follow";  // plot property: axes follow the data until the user zooms or drags

QColor with_alpha(QColor c, int a) {
    c.setAlpha(a);
    return c;
}

QString metric_label(const QString& key) {
    const int slash = key.indexOf('/');
    const QString name = QString::fromStdString(ptune::metric_display_name((slash >= 0 ? key.mid(slash + 1) : key).toStdString()));
    if (key.startsWith("eval/")) return name + " (validation)";
    return name;
}

// The shared empty-chart text, a little larger: the Training tab's charts are big.
QCPItemText* large_empty_text(QCustomPlot* p) {
    QCPItemText* t = make_empty_text(p);
    QFont f = p->font();
    f.setPointSizeF(f.pointSizeF() * 1.1);
    t->setFont(f);
    return t;
}

void show_in_legend(QCPGraph* g, bool on) {
    if (on)
        g->addToLegend();
    else
        g->removeFromLegend();
}

bool follows(QCustomPlot* p) { return p->property(kFollow).toBool(); }

}  // namespace

TrainingView::TrainingView(QWidget* parent) : QWidget(parent) {
    timer_.setSingleShot(true);
    timer_.setInterval(40);
    connect(&timer_, &QTimer::timeout, this, [this] { redraw(); });
    build_ui();
    restyle();
    dirty_loss_ = dirty_metric_ = dirty_norms_ = true;
    refit_ = true;
    redraw();
}

TrainingView::~TrainingView() = default;

// ---------------------------------------------------------------------------------------------------- layout

void TrainingView::setup_plot(QCustomPlot* p) {
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    p->setProperty(kFollow, true);
    p->setMinimumHeight(120);
    p->setNoAntialiasingOnDrag(true);
    // The axes follow new data until the user drags or zooms; double click (or Fit) fits again.
    connect(p, &QCustomPlot::mouseMove, p, [p](QMouseEvent* e) {
        if (e->buttons() != Qt::NoButton) p->setProperty(kFollow, false);
    });
    connect(p, &QCustomPlot::mouseWheel, p, [p](QWheelEvent*) { p->setProperty(kFollow, false); });
    connect(p, &QCustomPlot::mouseDoubleClick, this, [this](QMouseEvent*) { rescale(); });
}

void TrainingView::build_ui() {
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(4, 4, 4, 4);
    outer->setSpacing(4);

    // toolbar row
    auto* bar = new QHBoxLayout;
    bar->setSpacing(6);
    bar->addWidget(new QLabel(tr("x axis:"), this));
    x_combo_ = new QComboBox(this);
    x_combo_->setObjectName("x_axis");
    x_combo_->addItems({tr("Step"), tr("Epoch"), tr("Time (s)")});
    x_combo_->setToolTip(tr("What the training charts use as x"));
    bar->addWidget(x_combo_);
    bar->addSpacing(8);
    bar->addWidget(new QLabel(tr("Smoothing:"), this));
    smooth_slider_ = new QSlider(Qt::Horizontal, this);
    smooth_slider_->setObjectName("smoothing");
    smooth_slider_->setRange(0, 99);
    smooth_slider_->setValue(int(std::lround(smoothing_ * 100)));
    smooth_slider_->setMinimumWidth(100);
    smooth_slider_->setMaximumWidth(180);
    smooth_slider_->setToolTip(tr("Exponential moving average with debiasing (as TensorBoard); 0 = off. "
                                  "The raw curve stays drawn, faded."));
    bar->addWidget(smooth_slider_);
    smooth_label_ = new QLabel(QString::number(smoothing_, 'f', 2), this);
    smooth_label_->setMinimumWidth(smooth_label_->fontMetrics().horizontalAdvance("0.00") + 4);
    bar->addWidget(smooth_label_);
    log_check_ = new QCheckBox(tr("Log y"), this);
    log_check_->setObjectName("log_y");
    log_check_->setToolTip(tr("Logarithmic y axis on the loss chart"));
    bar->addWidget(log_check_);
    bar->addSpacing(8);
    bar->addWidget(new QLabel(tr("Metric:"), this));
    metric_combo_ = new QComboBox(this);
    metric_combo_->setObjectName("metric");
    metric_combo_->setMinimumContentsLength(12);
    metric_combo_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    metric_combo_->setToolTip(tr("The metric drawn beside the learning rate"));
    bar->addWidget(metric_combo_);
    bar->addSpacing(8);
    bar->addWidget(new QLabel(tr("Norms:"), this));
    norm_combo_ = new QComboBox(this);
    norm_combo_->setObjectName("norm_kind");
    norm_combo_->addItems({tr("Key"), tr("Value")});
    norm_combo_->setToolTip(tr("Heat map of the L2 norms of the key or of the value prompts"));
    bar->addWidget(norm_combo_);
    bar->addStretch(1);
    auto* fit = new QPushButton(tr("Fit"), this);
    fit->setToolTip(tr("Fit every chart to its data (double click a chart does the same)"));
    bar->addWidget(fit);
    export_button_ = new QToolButton(this);
    export_button_->setObjectName("export_chart");
    export_button_->setText(tr("Export chart…"));
    export_button_->setPopupMode(QToolButton::InstantPopup);
    export_button_->setToolTip(tr("Save a chart as PNG, PDF or SVG"));
    auto* menu = new QMenu(export_button_);
    const std::pair<const char*, const char*> charts[] = {{"loss", "Loss chart…"},
                                                           {"metric", "Metric and learning rate chart…"},
                                                           {"norms", "Prompt-norm heat map…"},
                                                           {"norm_bars", "Latest prompt norms (bars)…"}};
    for (const auto& [which, label] : charts) {
        const QString w = which;
        menu->addAction(tr(label), this, [this, w] { export_chart(w); });
    }
    export_button_->setMenu(menu);
    bar->addWidget(export_button_);
    outer->addLayout(bar);

    // charts
    auto* split = new QSplitter(Qt::Vertical, this);
    split->setObjectName("training_split");
    split->setChildrenCollapsible(false);

    loss_plot_ = new QCustomPlot(split);
    setup_plot(loss_plot_);
    loss_plot_->plotLayout()->insertRow(0);
    loss_title_ = new QCPTextElement(loss_plot_, QString(), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
    loss_plot_->plotLayout()->addElement(0, 0, loss_title_);
    raw_graph_ = loss_plot_->addGraph();
    raw_graph_->setName(tr("training loss (raw)"));
    raw_graph_->setPen(QPen(with_alpha(series_color(0), 70), 1));
    ema_graph_ = loss_plot_->addGraph();
    ema_graph_->setPen(QPen(series_color(0), 2));
    val_graph_ = loss_plot_->addGraph();
    val_graph_->setName(tr("validation loss"));
    val_graph_->setPen(QPen(series_color(1), 1.5));
    val_graph_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, series_color(1), series_color(1), 5));
    loss_plot_->yAxis->setLabel(tr("loss"));
    loss_plot_->legend->setVisible(true);
    loss_plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    empty_loss_ = large_empty_text(loss_plot_);

    metric_plot_ = new QCustomPlot(split);
    setup_plot(metric_plot_);
    metric_graph_ = metric_plot_->addGraph(metric_plot_->xAxis, metric_plot_->yAxis);
    metric_graph_->setPen(QPen(series_color(2), 1.5));
    metric_graph_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, series_color(2), series_color(2), 5));
    lr_graph_ = metric_plot_->addGraph(metric_plot_->xAxis, metric_plot_->yAxis2);
    lr_graph_->setName(tr("learning rate (right axis)"));
    lr_graph_->setPen(QPen(series_color(4), 1.2, Qt::DashLine));
    metric_plot_->yAxis2->setVisible(true);
    metric_plot_->yAxis2->setLabel(tr("learning rate"));
    metric_plot_->axisRect()->setRangeDragAxes({metric_plot_->xAxis}, {metric_plot_->yAxis, metric_plot_->yAxis2});
    metric_plot_->axisRect()->setRangeZoomAxes({metric_plot_->xAxis}, {metric_plot_->yAxis, metric_plot_->yAxis2});
    metric_plot_->legend->setVisible(true);
    metric_plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    empty_metric_ = large_empty_text(metric_plot_);

    for (QCPGraph* g : {raw_graph_, ema_graph_, val_graph_, metric_graph_, lr_graph_}) g->setAdaptiveSampling(true);

    auto* norm_split = new QSplitter(Qt::Horizontal, split);
    norm_split->setObjectName("norms_split");
    norm_split->setChildrenCollapsible(false);
    heat_plot_ = new QCustomPlot(norm_split);
    setup_plot(heat_plot_);
    heat_plot_->axisRect()->setupFullAxesBox(false);
    heat_plot_->xAxis->setLabel(tr("step"));
    heat_plot_->yAxis->setLabel(tr("layer"));
    auto layer_ticker = QSharedPointer<QCPAxisTickerText>::create();
    heat_plot_->yAxis->setTicker(layer_ticker);
    heat_map_ = new QCPColorMap(heat_plot_->xAxis, heat_plot_->yAxis);
    heat_map_->setInterpolate(false);
    heat_map_->setTightBoundary(false);
    heat_scale_ = new QCPColorScale(heat_plot_);
    heat_plot_->plotLayout()->addElement(0, 1, heat_scale_);
    heat_scale_->setType(QCPAxis::atRight);
    heat_scale_->setBarWidth(12);
    heat_map_->setColorScale(heat_scale_);
    QCPColorGradient grad;  // viridis: perceptually uniform, readable for colour-blind users
    grad.clearColorStops();
    grad.setColorStopAt(0.0, QColor(68, 1, 84));
    grad.setColorStopAt(0.25, QColor(59, 82, 139));
    grad.setColorStopAt(0.5, QColor(33, 145, 140));
    grad.setColorStopAt(0.75, QColor(94, 201, 98));
    grad.setColorStopAt(1.0, QColor(253, 231, 37));
    grad.setNanHandling(QCPColorGradient::nhNanColor);
    grad.setNanColor(QColor(225, 225, 225));  // layers without prompts: a faint grey band (see restyle)
    heat_map_->setGradient(grad);
    auto* margins = new QCPMarginGroup(heat_plot_);
    heat_plot_->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    heat_scale_->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    empty_heat_ = large_empty_text(heat_plot_);

    bars_plot_ = new QCustomPlot(norm_split);
    setup_plot(bars_plot_);
    bars_plot_->yAxis->setTicker(layer_ticker);  // the same layer labels as the heat map
    bars_plot_->yAxis->setLabel(tr("layer"));
    auto* group = new QCPBarsGroup(bars_plot_);
    group->setSpacingType(QCPBarsGroup::stAbsolute);
    group->setSpacing(1);
    key_bars_ = new QCPBars(bars_plot_->yAxis, bars_plot_->xAxis);  // horizontal: one row per layer
    key_bars_->setName(tr("key"));
    key_bars_->setWidth(0.38);
    key_bars_->setPen(Qt::NoPen);
    key_bars_->setBrush(series_color(0));
    key_bars_->setBarsGroup(group);
    value_bars_ = new QCPBars(bars_plot_->yAxis, bars_plot_->xAxis);
    value_bars_->setName(tr("value"));
    value_bars_->setWidth(0.38);
    value_bars_->setPen(Qt::NoPen);
    value_bars_->setBrush(series_color(1));
    value_bars_->setBarsGroup(group);
    bars_plot_->xAxis->ticker()->setTickCount(4);
    bars_plot_->setMinimumWidth(220);
    // The legend sits top right, in room the value range leaves free (see redraw_norms), so no bar is covered
    // and the rows stay level with the heat map's.
    bars_plot_->legend->setVisible(true);
    bars_plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    QFont small = bars_plot_->font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    bars_plot_->legend->setFont(small);
    bars_plot_->legend->setIconSize(12, 8);
    bars_plot_->legend->setRowSpacing(0);
    bars_plot_->legend->setMargins(QMargins(4, 2, 4, 2));
    empty_bars_ = large_empty_text(bars_plot_);
    // Rows stay aligned with the heat map's when it is zoomed or dragged.
    connect(heat_plot_->yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this](const QCPRange& r) {
        if (bars_plot_->yAxis->range() != r) {
            bars_plot_->yAxis->setRange(r);
            bars_plot_->replot(QCustomPlot::rpQueuedReplot);
        }
    });
    norm_split->addWidget(heat_plot_);
    norm_split->addWidget(bars_plot_);
    norm_split->setStretchFactor(0, 2);
    norm_split->setStretchFactor(1, 1);
    norm_split->setSizes({650, 350});

    split->addWidget(loss_plot_);
    split->addWidget(metric_plot_);
    split->addWidget(norm_split);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setStretchFactor(2, 2);
    outer->addWidget(split, 1);

    // A causal LM's answers to a few validation prompts at the latest evaluation (hidden for other runs).
    samples_box_ = new QWidget(this);
    samples_box_->setObjectName("samples");
    auto* sl = new QVBoxLayout(samples_box_);
    sl->setContentsMargins(0, 4, 0, 0);
    samples_title_ = new QLabel(samples_box_);
    sl->addWidget(samples_title_);
    samples_table_ = new QTableWidget(0, 4, samples_box_);
    samples_table_->setHorizontalHeaderLabels({tr("Prompt"), tr("Target"), tr("Base model"), tr("With the prefix")});
    samples_table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    samples_table_->setSelectionMode(QAbstractItemView::NoSelection);
    samples_table_->verticalHeader()->setVisible(false);
    samples_table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    for (int c = 1; c < 4; ++c) samples_table_->horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    samples_table_->setMaximumHeight(150);
    samples_table_->setWordWrap(false);
    sl->addWidget(samples_table_);
    samples_box_->setVisible(false);
    outer->addWidget(samples_box_);

    // changes from the widgets
    connect(x_combo_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) {
        if (!updating_widgets_) set_x_axis(static_cast<XAxis>(i));
    });
    connect(smooth_slider_, &QSlider::valueChanged, this, [this](int v) {
        if (!updating_widgets_) set_smoothing(v / 100.0);
    });
    connect(log_check_, &QCheckBox::toggled, this, [this](bool on) {
        if (!updating_widgets_) set_log_y(on);
    });
    connect(metric_combo_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) {
        if (!updating_widgets_ && i >= 0) set_metric(metric_combo_->itemData(i).toString());
    });
    connect(norm_combo_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) {
        if (!updating_widgets_) set_norm_kind(i == 0);
    });
    connect(fit, &QPushButton::clicked, this, [this] { rescale(); });
}

void TrainingView::restyle() {
    for (QCustomPlot* p : {loss_plot_, metric_plot_, heat_plot_, bars_plot_}) style_plot(p, palette());
    const QPalette pal = palette();
    const QColor fg = pal.color(QPalette::Text);
    QCPAxis* sa = heat_scale_->axis();
    sa->setBasePen(QPen(fg, 1));
    sa->setTickPen(QPen(fg, 1));
    sa->setSubTickPen(QPen(fg, 1));
    sa->setTickLabelColor(fg);
    sa->setLabelColor(fg);
    for (QCPItemText* t : {empty_loss_, empty_metric_, empty_heat_, empty_bars_}) t->setColor(with_alpha(fg, 150));
    // Layers without prompts: an opaque band just off the background (the colour map's image takes no alpha).
    const QColor bg = pal.color(QPalette::Base);
    QCPColorGradient grad = heat_map_->gradient();
    grad.setNanColor(QColor::fromRgbF(0.88f * bg.redF() + 0.12f * fg.redF(), 0.88f * bg.greenF() + 0.12f * fg.greenF(),
                                      0.88f * bg.blueF() + 0.12f * fg.blueF()));
    heat_map_->setGradient(grad);
    for (QCustomPlot* p : {loss_plot_, metric_plot_, heat_plot_, bars_plot_}) p->replot(QCustomPlot::rpQueuedReplot);
}

void TrainingView::changeEvent(QEvent* e) {
    if (e->type() == QEvent::PaletteChange) restyle();
    QWidget::changeEvent(e);
}

// ---------------------------------------------------------------------------------------------------- data in

void TrainingView::clear() {
    timer_.stop();
    run_id_ = 0;
    title_.clear();
    series_.clear();
    norms_.clear();
    norm_steps_.clear();
    prompt_layers_.clear();
    samples_.clear();
    show_samples();
    num_layers_ = 0;
    dirty_loss_ = dirty_metric_ = dirty_norms_ = true;
    refit_ = true;
    update_metric_combo();
    redraw();
}

void TrainingView::add_samples(const std::vector<SampleRow>& rows) {
    if (rows.empty()) return;
    for (const SampleRow& r : rows) {
        auto& at_step = samples_[r.step];
        if ((int)at_step.size() <= r.index) at_step.resize((size_t)r.index + 1);
        at_step[(size_t)r.index] = r;
    }
    show_samples();
}

void TrainingView::show_samples() {
    if (samples_.empty()) {
        samples_table_->setRowCount(0);
        samples_box_->setVisible(false);
        return;
    }
    const auto& [step, rows] = *samples_.rbegin();
    int hits = 0;
    samples_table_->setRowCount((int)rows.size());
    for (int r = 0; r < (int)rows.size(); ++r) {
        const SampleRow& x = rows[(size_t)r];
        const bool hit = x.adapted == x.target;
        hits += hit;
        const QString cells[] = {QString::fromStdString(x.prompt), QString::fromStdString(x.target),
                                 QString::fromStdString(x.base), QString::fromStdString(x.adapted)};
        for (int c = 0; c < 4; ++c) {
            auto* it = new QTableWidgetItem(cells[c]);
            it->setToolTip(cells[c]);
            if (c == 3) it->setForeground(hit ? QColor(44, 160, 44) : QColor(214, 39, 40));
            samples_table_->setItem(r, c, it);
        }
    }
    samples_title_->setText(tr("<b>Sample generations</b> at step %1: the base model and the model with the prefix answer "
                               "validation prompts (greedy); %2 of %3 equal the target")
                                .arg(step)
                                .arg(hits)
                                .arg(rows.size()));
    samples_box_->setVisible(true);
}

int64_t TrainingView::sample_step() const { return samples_.empty() ? -1 : samples_.rbegin()->first; }
int TrainingView::sample_rows() const { return samples_table_->rowCount(); }
QString TrainingView::sample_cell(int row, int column) const {
    const QTableWidgetItem* it = samples_table_->item(row, column);
    return it ? it->text() : QString();
}

void TrainingView::add_norm_rows(const std::vector<PromptNormRow>& rows) {
    for (const auto& r : rows) {
        norms_[r.step][r.layer] = {r.key_norm, r.value_norm};
        prompt_layers_.insert(r.layer);
    }
    norm_steps_.clear();
    norm_steps_.reserve(norms_.size());
    for (const auto& kv : norms_) norm_steps_.push_back(kv.first);
}

void TrainingView::show_run(const ptune::Store& store, int64_t run_id, int num_layers, const QString& title) {
    clear();
    run_id_ = run_id;
    title_ = title;
    num_layers_ = std::max(0, num_layers);
    for (const MetricPoint& m : store.metrics(run_id)) series_[m.key].push_back({m.step, m.epoch, m.time, m.value});
    add_norm_rows(store.prompt_norms(run_id));
    add_samples(store.samples(run_id));
    std::string preferred;
    if (auto rec = store.run(run_id)) {
        json j = json::parse(rec->spec_json, nullptr, /*allow_exceptions=*/false);
        if (j.is_object() && j.contains("train") && j["train"].is_object()) {
            auto it = j["train"].find("metric");
            if (it != j["train"].end() && it->is_string()) preferred = "eval/" + it->get<std::string>();
        }
    }
    choose_default_metric(preferred);
    update_metric_combo();
    dirty_loss_ = dirty_metric_ = dirty_norms_ = true;
    refit_ = true;
    redraw();
}

void TrainingView::begin_live(int64_t run_id, const QString& title, int num_layers,
                              const std::vector<int>& prompt_layers) {
    clear();
    run_id_ = run_id;
    title_ = title;
    num_layers_ = std::max(0, num_layers);
    prompt_layers_.insert(prompt_layers.begin(), prompt_layers.end());
    choose_default_metric("");
    update_metric_combo();
    dirty_loss_ = dirty_metric_ = dirty_norms_ = true;
    refit_ = true;
    redraw();
}

void TrainingView::append(const LiveEvents& ev) {
    if (run_id_ == 0 || ev.run_id != run_id_) return;
    bool loss = false, metric = false, norms = false;
    if (!ev.steps.empty()) {
        auto& tl = series_["train/loss"];
        auto& lr = series_["train/lr"];
        auto& gn = series_["train/grad_norm"];
        auto& sp = series_["train/samples_per_s"];
        for (const StepEvent& s : ev.steps) {
            tl.push_back({s.step, s.epoch, s.elapsed_s, s.loss});
            lr.push_back({s.step, s.epoch, s.elapsed_s, s.lr});
            gn.push_back({s.step, s.epoch, s.elapsed_s, s.grad_norm});
            sp.push_back({s.step, s.epoch, s.elapsed_s, s.samples_per_s});
        }
        loss = metric = true;
    }
    if (!ev.evals.empty()) {
        for (const EvalEvent& e : ev.evals)
            for (const auto& [k, v] : e.metrics) series_["eval/" + k].push_back({e.step, e.epoch, e.elapsed_s, v});
        loss = metric = true;
    }
    if (!ev.samples.empty()) {
        std::vector<SampleRow> rows;
        for (const SampleEvent& e : ev.samples)
            for (size_t i = 0; i < e.samples.size(); ++i) {
                const GenerationSample& g = e.samples[i];
                rows.push_back({e.step, (int)i, g.prompt, g.target, g.base, g.adapted});
            }
        add_samples(rows);
    }
    if (!ev.norms.empty()) {
        std::vector<PromptNormRow> rows;
        for (const PromptNormEvent& n : ev.norms) {
            const std::size_t cnt = std::min({n.layers.size(), n.key_norms.size(), n.value_norms.size()});
            for (std::size_t i = 0; i < cnt; ++i) rows.push_back({n.step, n.layers[i], n.key_norms[i], n.value_norms[i]});
        }
        add_norm_rows(rows);
        norms = true;
    }
    if (metric) {
        if (!metric_user_set_ && !series(metric_.toStdString())) choose_default_metric("");
        update_metric_combo();
    }
    schedule(loss, metric, norms);
}

void TrainingView::choose_default_metric(const std::string& preferred) {
    if (metric_user_set_ && series(metric_.toStdString())) return;
    std::vector<std::string> order;
    if (!preferred.empty() && preferred != "eval/loss") order.push_back(preferred);
    for (const char* k : {"eval/accuracy", "eval/f1", "eval/mcc", "eval/entity_f1", "eval/exact_match"}) order.push_back(k);
    for (const auto& k : order)
        if (series(k)) {
            metric_ = QString::fromStdString(k);
            return;
        }
    for (const auto& kv : series_)
        if (kv.first.rfind("eval/", 0) == 0 && kv.first != "eval/loss") {
            metric_ = QString::fromStdString(kv.first);
            return;
        }
    if (!metric_user_set_) metric_ = preferred.empty() || preferred == "eval/loss" ? "eval/accuracy"
                                                                                   : QString::fromStdString(preferred);
}

QStringList TrainingView::metric_choices() const {
    QStringList out;
    for (const auto& kv : series_)
        if (kv.first.rfind("eval/", 0) == 0 && kv.first != "eval/loss") out << QString::fromStdString(kv.first);
    for (const char* k : {"train/grad_norm", "train/samples_per_s"})
        if (series(k)) out << k;
    return out;
}

void TrainingView::update_metric_combo() {
    QStringList want = metric_choices();
    if (!metric_.isEmpty() && !want.contains(metric_)) want.prepend(metric_);
    QStringList have;
    for (int i = 0; i < metric_combo_->count(); ++i) have << metric_combo_->itemData(i).toString();
    updating_widgets_ = true;
    if (have != want) {
        metric_combo_->clear();
        for (const QString& k : want) metric_combo_->addItem(metric_label(k), k);
    }
    metric_combo_->setCurrentIndex(metric_combo_->findData(metric_));
    metric_combo_->setEnabled(metric_combo_->count() > 1);
    updating_widgets_ = false;
}

// ---------------------------------------------------------------------------------------------------- settings

void TrainingView::set_x_axis(XAxis x) {
    if (x == x_axis_) return;
    x_axis_ = x;
    updating_widgets_ = true;
    x_combo_->setCurrentIndex(static_cast<int>(x));
    updating_widgets_ = false;
    refit_ = true;
    schedule(true, true, false);
}

void TrainingView::set_smoothing(double w) {
    w = std::clamp(std::isfinite(w) ? w : 0.0, 0.0, 0.99);
    const bool changed = w != smoothing_;
    smoothing_ = w;
    updating_widgets_ = true;
    smooth_slider_->setValue(int(std::lround(w * 100)));
    updating_widgets_ = false;
    smooth_label_->setText(QString::number(w, 'f', 2));
    if (changed) schedule(true, false, false);
}

void TrainingView::set_log_y(bool on) {
    updating_widgets_ = true;
    log_check_->setChecked(on);
    updating_widgets_ = false;
    if (on == log_y_) return;
    log_y_ = on;
    QCPAxis* y = loss_plot_->yAxis;
    if (on) {
        y->setScaleType(QCPAxis::stLogarithmic);
        y->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    } else {
        y->setScaleType(QCPAxis::stLinear);
        y->setTicker(QSharedPointer<QCPAxisTicker>::create());
    }
    refit_ = true;
    schedule(true, false, false);
}

void TrainingView::set_metric(const QString& key) {
    if (key.isEmpty()) return;
    metric_user_set_ = true;
    if (key == metric_) return;
    metric_ = key;
    update_metric_combo();
    metric_plot_->setProperty(kFollow, true);
    schedule(false, true, false);
}

void TrainingView::set_norm_kind(bool key) {
    updating_widgets_ = true;
    norm_combo_->setCurrentIndex(key ? 0 : 1);
    updating_widgets_ = false;
    if (key == norm_key_) return;
    norm_key_ = key;
    schedule(false, false, true);
}

void TrainingView::rescale() {
    refit_ = true;
    dirty_loss_ = dirty_metric_ = dirty_norms_ = true;
    timer_.stop();
    redraw();
}

// ---------------------------------------------------------------------------------------------------- redraw

void TrainingView::schedule(bool loss, bool metric, bool norms) {
    dirty_loss_ |= loss;
    dirty_metric_ |= metric;
    dirty_norms_ |= norms;
    if (!timer_.isActive()) timer_.start();
}

void TrainingView::flush() {
    if (timer_.isActive()) {
        timer_.stop();
        redraw();
    }
}

void TrainingView::redraw() {
    if (refit_)
        for (QCustomPlot* p : {loss_plot_, metric_plot_, heat_plot_, bars_plot_}) p->setProperty(kFollow, true);
    if (dirty_loss_) redraw_loss();
    if (dirty_metric_) redraw_metric();
    if (dirty_norms_) redraw_norms();
    update_empty_texts();
    for (QCustomPlot* p : {loss_plot_, metric_plot_, heat_plot_, bars_plot_}) p->replot(QCustomPlot::rpQueuedReplot);
    dirty_loss_ = dirty_metric_ = dirty_norms_ = false;
    refit_ = false;
    ++redraw_count_;
}

double TrainingView::x_of(const Pt& p) const {
    switch (x_axis_) {
        case XAxis::Epoch: return p.epoch;
        case XAxis::Time: return p.time;
        case XAxis::Step: break;
    }
    return double(p.step);
}

QString TrainingView::x_label() const {
    switch (x_axis_) {
        case XAxis::Epoch: return tr("epoch");
        case XAxis::Time: return tr("time since start (s)");
        case XAxis::Step: break;
    }
    return tr("step");
}

const TrainingView::Series* TrainingView::series(const std::string& key) const {
    auto it = series_.find(key);
    return it == series_.end() || it->second.empty() ? nullptr : &it->second;
}

int TrainingView::buckets_for(QCustomPlot* p) const {
    const int w = p->axisRect()->width();
    // Before the chart is laid out (hidden, offscreen) assume a wide screen.
    if (!p->isVisible() || w < 50) return 1000;
    return std::min(w, 8000);
}

void TrainingView::set_thinned(QCPGraph* g, const std::vector<double>& x, const std::vector<double>& y) const {
    std::vector<double> tx, ty;
    minmax_thin(x, y, std::size_t(buckets_for(g->parentPlot())), tx, ty);
    QVector<double> kx(tx.begin(), tx.end()), vy(ty.begin(), ty.end());
    const bool sorted = std::is_sorted(tx.begin(), tx.end());
    g->setData(kx, vy, sorted);
}

void TrainingView::redraw_loss() {
    std::vector<double> x, y;
    if (const Series* s = series("train/loss")) {
        x.reserve(s->size());
        y.reserve(s->size());
        for (const Pt& p : *s) {
            x.push_back(x_of(p));
            y.push_back(p.value);
        }
    }
    set_thinned(raw_graph_, x, y);
    set_thinned(ema_graph_, x, ema_debiased(y, smoothing_));  // over the full series, then thinned
    ema_graph_->setName(smoothing_ > 0 ? tr("training loss (smoothed %1)").arg(smoothing_, 0, 'f', 2)
                                       : tr("training loss"));
    raw_graph_->setVisible(smoothing_ > 0);  // with no smoothing both curves are the same
    std::vector<double> vx, vy;
    if (const Series* s = series("eval/loss"))
        for (const Pt& p : *s) {
            vx.push_back(x_of(p));
            vy.push_back(p.value);
        }
    set_thinned(val_graph_, vx, vy);
    show_in_legend(raw_graph_, !x.empty() && smoothing_ > 0);
    show_in_legend(ema_graph_, !x.empty());
    show_in_legend(val_graph_, !vx.empty());
    loss_plot_->legend->setVisible(!x.empty() || !vx.empty());
    loss_plot_->xAxis->setLabel(x_label());
    loss_title_->setText(title_);
    loss_title_->setVisible(!title_.isEmpty());
    if (follows(loss_plot_) && (!x.empty() || !vx.empty())) {
        bool any = false;
        for (QCPGraph* g : {raw_graph_, ema_graph_, val_graph_})
            if (g->dataCount() > 0) {
                g->rescaleAxes(any);
                any = true;
            }
        const QCPRange r = loss_plot_->yAxis->range();
        if (!log_y_) loss_plot_->yAxis->setRange(r.lower - r.size() * 0.03, r.upper + r.size() * 0.03);
        if (loss_plot_->xAxis->range().size() <= 0) loss_plot_->xAxis->setRange(loss_plot_->xAxis->range().lower - 1,
                                                                                 loss_plot_->xAxis->range().upper + 1);
    }
}

void TrainingView::redraw_metric() {
    auto fill = [this](const std::string& key, std::vector<double>& x, std::vector<double>& y) {
        if (const Series* s = series(key))
            for (const Pt& p : *s) {
                x.push_back(x_of(p));
                y.push_back(p.value);
            }
    };
    std::vector<double> mx, my, lx, ly;
    fill(metric_.toStdString(), mx, my);
    fill("train/lr", lx, ly);
    set_thinned(metric_graph_, mx, my);
    set_thinned(lr_graph_, lx, ly);
    metric_graph_->setName(metric_label(metric_));
    // Dense per-step series (grad norm, throughput) read better without markers.
    metric_graph_->setScatterStyle(metric_.startsWith("eval/")
                                       ? QCPScatterStyle(QCPScatterStyle::ssCircle, series_color(2), series_color(2), 5)
                                       : QCPScatterStyle(QCPScatterStyle::ssNone));
    show_in_legend(metric_graph_, !mx.empty());
    show_in_legend(lr_graph_, !lx.empty());
    metric_plot_->legend->setVisible(!mx.empty() || !lx.empty());
    metric_plot_->xAxis->setLabel(x_label());
    metric_plot_->yAxis->setLabel(metric_label(metric_));
    if (follows(metric_plot_)) {
        if (!mx.empty() || !lx.empty()) {
            bool any = false;
            for (QCPGraph* g : {metric_graph_, lr_graph_})
                if (g->dataCount() > 0) {
                    g->rescaleKeyAxis(any);
                    any = true;
                }
        }
        auto pad = [](QCPAxis* a) {
            QCPRange r = a->range();
            const double m = r.size() > 0 ? r.size() * 0.05 : std::max(std::abs(r.lower) * 0.05, 1e-9);
            a->setRange(r.lower - m, r.upper + m);
        };
        if (!my.empty()) {
            metric_graph_->rescaleValueAxis(false);
            pad(metric_plot_->yAxis);
        }
        if (!ly.empty()) {
            lr_graph_->rescaleValueAxis(false);
            pad(metric_plot_->yAxis2);
        }
    }
}

void TrainingView::redraw_norms() {
    int L = num_layers_;
    for (const auto& kv : norms_)
        if (!kv.second.empty()) L = std::max(L, kv.second.rbegin()->first + 1);
    if (!prompt_layers_.empty()) L = std::max(L, *prompt_layers_.rbegin() + 1);
    const int C = int(norm_steps_.size());

    // layer labels, shared by the heat map and the bars; every layer while they fit, else every k-th
    auto ticker = qSharedPointerCast<QCPAxisTickerText>(heat_plot_->yAxis->ticker());
    ticker->clear();
    const int stride = std::max(1, (L + 23) / 24);
    for (int l = 0; l < L; ++l) {
        const bool prompted = prompt_layers_.count(l) > 0;
        if (l % stride == 0 || (!prompted && stride == 1))
            ticker->addTick(l, prompted ? QString::number(l) : tr("%1 (no prompt)").arg(l));
    }

    QCPColorMapData* d = heat_map_->data();
    if (C > 0 && L > 0) {
        // QCPColorMapData needs two cells per dimension to span a range; a single step or layer is doubled.
        // Columns sit on a regular step grid (the gcd of the gaps between reported steps, coarsened to at most
        // 4096 columns), each showing the latest report at or before its step, so a column is drawn at its
        // step even when reports are irregular (norms every N steps plus the last step, early stopping).
        const int64_t first = norm_steps_.front(), last = norm_steps_.back();
        int64_t g = 0;
        for (int i = 1; i < C; ++i) g = std::gcd(g, norm_steps_[(size_t)i] - norm_steps_[(size_t)i - 1]);
        if (g <= 0) g = 1;
        g = std::max(g, (last - first) / 4096 + 1);
        const int grid = C > 1 ? (int)((last - first) / g) + 1 : 1;
        const int kc = std::max(grid, 2), vc = std::max(L, 2);
        const double k0 = double(first), k1 = grid > 1 ? double(first + (grid - 1) * g) : k0 + 1;
        const double v0 = 0, v1 = L > 1 ? double(L - 1) : 1;
        d->setSize(kc, vc);
        d->setRange(QCPRange(grid > 1 ? k0 : k0 - 0.5, grid > 1 ? k1 : k0 + 0.5),
                    QCPRange(L > 1 ? v0 : -0.5, L > 1 ? v1 : 0.5));
        d->fill(kNaN);
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        std::vector<int> report(kc);
        for (int c = 0; c < kc; ++c) {
            const int64_t step = first + std::min(c, grid - 1) * g;
            auto it = std::upper_bound(norm_steps_.begin(), norm_steps_.end(), step);
            report[(size_t)c] = std::max(0, (int)(it - norm_steps_.begin()) - 1);
        }
        for (int c = 0; c < kc; ++c)
            for (int l = 0; l < vc; ++l) {
                const double v = heatmap_value(report[(size_t)c], std::min(l, L - 1), norm_key_);
                d->setCell(c, l, v);
                if (std::isfinite(v)) {
                    lo = std::min(lo, v);
                    hi = std::max(hi, v);
                }
            }
        if (!std::isfinite(lo)) lo = 0, hi = 1;
        if (hi <= lo) hi = lo + (lo == 0 ? 1 : std::abs(lo) * 0.01);
        heat_map_->setDataRange(QCPRange(lo, hi));
        heat_map_->setVisible(true);
        heat_scale_->setVisible(true);
    } else {
        d->clear();
        heat_map_->setVisible(false);
        heat_scale_->setVisible(false);
    }
    heat_scale_->axis()->setLabel(norm_key_ ? tr("key prompt L2 norm") : tr("value prompt L2 norm"));

    // bars of the latest norms
    const auto kn = latest_norms(true), vn = latest_norms(false);
    QVector<double> keys, kv, vv;
    double vmax = 0;
    for (int l = 0; l < int(kn.size()); ++l) {
        if (!std::isfinite(kn[l]) && !std::isfinite(vn[l])) continue;
        keys << l;
        kv << (std::isfinite(kn[l]) ? kn[l] : 0);
        vv << (std::isfinite(vn[l]) ? vn[l] : 0);
        vmax = std::max({vmax, kv.back(), vv.back()});
    }
    key_bars_->setData(keys, kv, true);
    value_bars_->setData(keys, vv, true);
    bars_plot_->xAxis->setLabel(C > 0 ? tr("L2 norm at step %1").arg(norm_steps_.back()) : tr("L2 norm"));
    bars_plot_->legend->setVisible(!keys.isEmpty());

    if (follows(heat_plot_) && L > 0) {
        if (C > 0)
            heat_plot_->xAxis->setRange(C > 1 ? QCPRange(norm_steps_.front(), norm_steps_.back())
                                              : QCPRange(norm_steps_.front() - 0.5, norm_steps_.front() + 0.5));
        // Cells are centred on their coordinates: extend by half a cell on each side.
        if (C > 1) {
            const double half = 0.5 * double(norm_steps_.back() - norm_steps_.front()) / (C - 1);
            heat_plot_->xAxis->setRange(norm_steps_.front() - half, norm_steps_.back() + half);
        }
        heat_plot_->yAxis->setRange(-0.5, L - 0.5);
    }
    if (follows(bars_plot_) && L > 0) {
        bars_plot_->yAxis->setRange(heat_plot_->yAxis->range());
        bars_plot_->xAxis->setRange(0, vmax > 0 ? vmax * 1.6 : 1);
    }
}

void TrainingView::update_empty_texts() {
    const bool no_run = run_id_ == 0;
    auto set = [no_run](QCPItemText* t, bool has_data, const QString& why) {
        t->setVisible(!has_data);
        t->setText(no_run ? TrainingView::tr(kNoRun) : why);
    };
    set(empty_loss_, raw_graph_->dataCount() > 0 || val_graph_->dataCount() > 0, tr("No training steps yet"));
    set(empty_metric_, metric_graph_->dataCount() > 0 || lr_graph_->dataCount() > 0,
        tr("No %1 or learning rate yet").arg(metric_label(metric_)));
    set(empty_heat_, !norm_steps_.empty(), tr("No prompt norms recorded yet"));
    set(empty_bars_, key_bars_->dataCount() > 0, tr("No prompt norms yet"));
}

// ---------------------------------------------------------------------------------------------------- inspection

QVector<QPointF> TrainingView::curve(const QString& name) const {
    QVector<QPointF> out;
    const bool ema = name.endsWith(":ema");
    const std::string key = (ema ? name.left(name.size() - 4) : name).toStdString();
    const Series* s = series(key);
    if (!s) return out;
    out.reserve(int(s->size()));
    if (ema) {
        std::vector<double> y;
        y.reserve(s->size());
        for (const Pt& p : *s) y.push_back(p.value);
        const auto e = ema_debiased(y, smoothing_);
        for (std::size_t i = 0; i < s->size(); ++i) out.push_back(QPointF(x_of((*s)[i]), e[i]));
    } else {
        for (const Pt& p : *s) out.push_back(QPointF(x_of(p), p.value));
    }
    return out;
}

QCPGraph* TrainingView::graph_for(const QString& name) const {
    if (name == "train/loss") return raw_graph_;
    if (name == "train/loss:ema") return ema_graph_;
    if (name == "eval/loss") return val_graph_;
    if (name == "train/lr") return lr_graph_;
    if (name == metric_) return metric_graph_;
    return nullptr;
}

int TrainingView::drawn_points(const QString& name) const {
    QCPGraph* g = graph_for(name);
    return g ? g->dataCount() : -1;
}

QVector<QPointF> TrainingView::drawn_curve(const QString& name) const {
    QVector<QPointF> out;
    if (QCPGraph* g = graph_for(name))
        for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) out.push_back({it->key, it->value});
    return out;
}

QSize TrainingView::heatmap_size() const {
    int L = num_layers_;
    for (const auto& kv : norms_)
        if (!kv.second.empty()) L = std::max(L, kv.second.rbegin()->first + 1);
    if (!prompt_layers_.empty()) L = std::max(L, *prompt_layers_.rbegin() + 1);
    return QSize(int(norm_steps_.size()), norm_steps_.empty() ? 0 : L);
}

double TrainingView::heatmap_value(int step_index, int layer, bool key) const {
    if (step_index < 0 || step_index >= int(norm_steps_.size())) return kNaN;
    const auto& row = norms_.at(norm_steps_[std::size_t(step_index)]);
    auto it = row.find(layer);
    if (it == row.end()) return kNaN;
    return key ? it->second.first : it->second.second;
}

std::vector<double> TrainingView::latest_norms(bool key) const {
    const QSize sz = heatmap_size();
    std::vector<double> out(std::size_t(std::max(0, sz.height())), kNaN);
    if (norm_steps_.empty()) return out;
    for (int l = 0; l < int(out.size()); ++l) out[std::size_t(l)] = heatmap_value(int(norm_steps_.size()) - 1, l, key);
    return out;
}

// ---------------------------------------------------------------------------------------------------- export

QCustomPlot* TrainingView::plot_for(const QString& which) const {
    if (which == "loss") return loss_plot_;
    if (which == "metric") return metric_plot_;
    if (which == "norms") return heat_plot_;
    if (which == "norm_bars") return bars_plot_;
    return nullptr;
}

QString TrainingView::save_chart(const QString& which, const QString& path) {
    QCustomPlot* p = plot_for(which);
    if (!p) return tr("unknown chart \"%1\" (use loss, metric, norms or norm_bars)").arg(which);
    flush();
    p->replot(QCustomPlot::rpImmediateRefresh);
    // A chart never shown (or squeezed) is saved at a readable size.
    return save_plot_readable(p, path, 300, 200, which == "norm_bars" ? 500 : 900, 500);
}

void TrainingView::export_chart(const QString& which) {
    const QString base = run_id_ ? QString("run-%1-%2").arg(run_id_).arg(which) : which;
    const QString path = ask_chart_path(this, base);
    if (path.isEmpty()) return;
    const QString err = save_chart(which, path);
    if (!err.isEmpty())
        QMessageBox::warning(this, tr("Export chart"), err);
    else
        Q_EMIT status_message(tr("Chart saved to %1").arg(path));
}

}  // namespace ptune::ui
