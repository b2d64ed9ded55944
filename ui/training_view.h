#pragma once
// The live and stored view of one run's training: loss (raw, debiased EMA, validation), the chosen eval metric
// with the learning rate, and the prompt norms as a layer x step heat map beside a bar chart of the latest
// norms. Data go in through append() (live, from RunQueue::take_events) or show_run() (stored); redraws are
// coalesced by a 40 ms single-shot timer, curves are smoothed over the full series and min/max-thinned to the
// chart's pixel width for drawing. qcustomplot.h is only included by the .cpp (tests build with QT_NO_KEYWORDS).
#include <QPointF>
#include <QSize>
#include <QString>
#include <QTimer>
#include <QVector>
#include <QWidget>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "experiments/store.h"
#include "ui/run_queue.h"

class QCustomPlot;
class QCPGraph;
class QCPBars;
class QCPColorMap;
class QCPColorScale;
class QCPItemText;
class QCPTextElement;
class QComboBox;
class QSlider;
class QLabel;
class QCheckBox;
class QToolButton;
class QTableWidget;

namespace ptune::ui {

class TrainingView : public QWidget {
    Q_OBJECT
public:
    enum class XAxis { Step, Epoch, Time };

    explicit TrainingView(QWidget* parent = nullptr);
    ~TrainingView() override;

    // Shows a stored run: loads its metrics and norms from the store (replacing what is shown). num_layers: the
    // model's layer count (0: take the highest layer in the norms + 1). title goes above the loss chart.
    void show_run(const ptune::Store& store, int64_t run_id, int num_layers, const QString& title);
    // Starts a live run: clears everything; prompt_layers are the layers carrying prompts (others are shown as
    // such).
    void begin_live(int64_t run_id, const QString& title, int num_layers, const std::vector<int>& prompt_layers);
    // Appends a live run's events; ignored when ev.run_id != run_id(). Schedules the coalesced redraw.
    void append(const LiveEvents& ev);
    void clear();
    int64_t run_id() const { return run_id_; }

    void set_x_axis(XAxis x);
    XAxis x_axis() const { return x_axis_; }
    void set_smoothing(double w);  // clamped to [0, 0.99]
    double smoothing() const { return smoothing_; }
    void set_log_y(bool on);       // the loss chart's y axis
    bool log_y() const { return log_y_; }
    void set_metric(const QString& key);  // "eval/accuracy", "eval/f1", ..., also "train/grad_norm"
    QString metric() const { return metric_; }
    QStringList metric_choices() const;   // what the metric combo offers now
    void set_norm_kind(bool key);         // heat map of key (true) or value (false) norms
    void rescale();                       // fits every chart to its data ("Fit")

    // Inspection (tests, CSV): the series as plotted before thinning, x per the current x-axis mode. Names:
    // "train/loss", "train/loss:ema", "eval/loss", the chosen metric key e.g. "eval/accuracy", "train/lr" (any
    // stored key works).
    QVector<QPointF> curve(const QString& name) const;
    // Points currently in the drawn graph (after thinning) for a name; -1 for a name not drawn.
    int drawn_points(const QString& name) const;
    // Those points themselves (to check that thinning keeps spikes).
    QVector<QPointF> drawn_curve(const QString& name) const;
    // The heat map's cells: columns = number of norm steps, rows = layer count.
    QSize heatmap_size() const;
    // Value of a heat-map cell (NaN for a layer without prompts or out of range). key=true for key norms.
    double heatmap_value(int step_index, int layer, bool key) const;
    // Latest per-layer norms as shown in the bars (NaN for layers without prompts).
    std::vector<double> latest_norms(bool key) const;
    // A causal LM's sample generations: the latest evaluation's (step; -1 when there are none) and its rows'
    // cells (columns: prompt, target, base model, with the prefix).
    int64_t sample_step() const;
    int sample_rows() const;
    QString sample_cell(int row, int column) const;
    // Saves a chart ("loss", "metric", "norms", "norm_bars") by extension .png/.pdf/.svg; returns "" or an error.
    QString save_chart(const QString& which, const QString& path);
    void flush();                  // runs the pending coalesced redraw now
    int redraw_count() const { return redraw_count_; }

Q_SIGNALS:
    // A one-line note for a status bar (e.g. an export's result).
    void status_message(const QString& text);

protected:
    void changeEvent(QEvent* e) override;

private:
    struct Pt {
        int64_t step;
        double epoch, time, value;
    };
    using Series = std::vector<Pt>;

    void build_ui();
    void setup_plot(QCustomPlot* p);
    void schedule(bool loss, bool metric, bool norms);
    void redraw();
    void redraw_loss();
    void redraw_metric();
    void redraw_norms();
    void restyle();
    void update_metric_combo();
    void update_empty_texts();
    void choose_default_metric(const std::string& preferred);
    void export_chart(const QString& which);
    double x_of(const Pt& p) const;
    QString x_label() const;
    int buckets_for(QCustomPlot* p) const;
    void set_thinned(QCPGraph* g, const std::vector<double>& x, const std::vector<double>& y) const;
    const Series* series(const std::string& key) const;
    QCPGraph* graph_for(const QString& name) const;
    QCustomPlot* plot_for(const QString& which) const;
    void add_norm_rows(const std::vector<PromptNormRow>& rows);
    void add_samples(const std::vector<SampleRow>& rows);
    void show_samples();

    // data
    int64_t run_id_ = 0;
    QString title_;
    std::map<std::string, Series> series_;
    std::vector<int64_t> norm_steps_;                  // sorted unique steps of the norms
    std::map<int64_t, std::map<int, std::pair<double, double>>> norms_;  // step -> layer -> (key, value)
    int num_layers_ = 0;                               // 0: from the norms
    std::set<int> prompt_layers_;                      // known prompt layers (live); stored: from the norms
    std::map<int64_t, std::vector<SampleRow>> samples_;  // step -> a causal LM's answers to validation prompts
    XAxis x_axis_ = XAxis::Step;
    double smoothing_ = 0.6;
    bool log_y_ = false;
    bool norm_key_ = true;
    QString metric_;
    bool metric_user_set_ = false;

    // redraw scheduling
    QTimer timer_;
    bool dirty_loss_ = false, dirty_metric_ = false, dirty_norms_ = false;
    bool refit_ = false;   // rescale axes at the next redraw (new run, new x axis)
    int redraw_count_ = 0;

    // widgets
    QComboBox* x_combo_ = nullptr;
    QSlider* smooth_slider_ = nullptr;
    QLabel* smooth_label_ = nullptr;
    QCheckBox* log_check_ = nullptr;
    QComboBox* metric_combo_ = nullptr;
    QComboBox* norm_combo_ = nullptr;
    QToolButton* export_button_ = nullptr;
    QCustomPlot* loss_plot_ = nullptr;
    QCustomPlot* metric_plot_ = nullptr;
    QCustomPlot* heat_plot_ = nullptr;
    QCustomPlot* bars_plot_ = nullptr;
    QWidget* samples_box_ = nullptr;     // shown when the run has sample generations (causal LMs)
    QLabel* samples_title_ = nullptr;
    QTableWidget* samples_table_ = nullptr;
    QCPTextElement* loss_title_ = nullptr;
    QCPGraph* raw_graph_ = nullptr;
    QCPGraph* ema_graph_ = nullptr;
    QCPGraph* val_graph_ = nullptr;
    QCPGraph* metric_graph_ = nullptr;
    QCPGraph* lr_graph_ = nullptr;
    QCPColorMap* heat_map_ = nullptr;
    QCPColorScale* heat_scale_ = nullptr;
    QCPBars* key_bars_ = nullptr;
    QCPBars* value_bars_ = nullptr;
    QCPItemText* empty_loss_ = nullptr;
    QCPItemText* empty_metric_ = nullptr;
    QCPItemText* empty_heat_ = nullptr;
    QCPItemText* empty_bars_ = nullptr;
    bool updating_widgets_ = false;
};

}  // namespace ptune::ui
