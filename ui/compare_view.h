#pragma once
// Comparing stored runs side by side, on two pages. "Curves": every run's training loss (debiased EMA over the
// full series, the raw curve faded behind in the same colour) and its selection metric on the validation set,
// overlaid in two charts; a summary table with one row per run; and a table of mean ± std over the seed groups
// (experiments/compare.h). "Methods": the method comparison (MethodsView: parameters, metric, step time, peak
// memory, inference overhead; bars and scatter plots). The Methods page comes up when the runs span several
// methods. Series are loaded from the store only for the runs shown, when set_runs is called. qcustomplot.h is included
// only by the .cpp (tests build with QT_NO_KEYWORDS).
#include <QPointF>
#include <QString>
#include <QVector>
#include <QWidget>
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/compare.h"
#include "experiments/store.h"

class QCustomPlot;
class QCPItemText;
class QCheckBox;
class QComboBox;
class QLabel;
class QPushButton;
class QSlider;
class QTableWidget;
class QTabWidget;

namespace ptune::ui {

class MethodsView;

class CompareView : public QWidget {
    Q_OBJECT
public:
    enum class XAxis { Step, Epoch };

    explicit CompareView(QWidget* parent = nullptr);
    ~CompareView() override;

    // Shows these runs (in this order): loads their train/loss and eval/<metric> series. The store must outlive
    // the view, or clear() first: the CSV exports read it again.
    void set_runs(const ptune::Store& store, const std::vector<int64_t>& ids);
    void clear();
    std::vector<int64_t> run_ids() const;

    void set_smoothing(double w);  // EMA weight, clamped to [0, 0.99]; default 0.6
    double smoothing() const { return smoothing_; }
    void set_x_axis(XAxis x);
    XAxis x_axis() const { return x_axis_; }
    void set_log_y(bool on);       // the loss chart's y axis
    bool log_y() const { return log_y_; }

    int graph_count() const;                             // graphs in the loss chart (raw + EMA per run)
    QVector<QPointF> ema_curve(int64_t run_id) const;    // the smoothed train/loss, x = step, full length
    QString legend_name(int64_t run_id) const;           // "#7 name (P=16, all, seed 42)"
    int group_rows() const;                              // the seed-group table
    int group_columns() const;
    QString group_cell(int row, int col) const;          // col 0 label, 1 n, 2.. "mean ± std" per metric
    int summary_rows() const;
    int summary_columns() const;
    QString summary_cell(int row, int col) const;
    bool empty_state_shown() const;                      // the "select runs" text in the charts
    MethodsView* methods_view() const { return methods_; }
    bool methods_page_shown() const;                     // the Methods page is the current one
    void show_page(bool methods);

    // Each returns "" or an error message naming the file.
    QString export_metrics_csv(const QString& path);     // write_metrics_csv of the runs shown
    QString export_summary_csv(const QString& path);     // write_summary_csv of the runs shown
    QString save_chart(const QString& which /*"loss" | "metric"*/, const QString& path);

protected:
    void changeEvent(QEvent* e) override;

private:
    struct Series {
        std::vector<double> step, epoch, value;
    };
    struct RunData {
        ptune::RunRecord rec;
        std::string metric;   // primary metric ("accuracy")
        Series loss, eval;    // train/loss, eval/<metric>
        std::vector<double> ema;
        QString legend;
    };

    void build_ui();
    void rebuild_plots();
    void update_curves();    // x axis, smoothing: new data for the existing graphs
    void fill_tables();
    void update_empty_state();
    void ask_export(int which);

    const ptune::Store* store_ = nullptr;
    std::vector<RunData> runs_;
    std::vector<ptune::SeedGroup> groups_;
    double smoothing_ = 0.6;
    XAxis x_axis_ = XAxis::Step;
    bool log_y_ = false;

    QCustomPlot* loss_plot_ = nullptr;
    QCustomPlot* metric_plot_ = nullptr;
    QCPItemText* loss_empty_ = nullptr;
    QCPItemText* metric_empty_ = nullptr;
    QComboBox* x_combo_ = nullptr;
    QSlider* smooth_slider_ = nullptr;
    QLabel* smooth_label_ = nullptr;
    QCheckBox* log_check_ = nullptr;
    QTableWidget* summary_ = nullptr;
    QTableWidget* groups_table_ = nullptr;
    QPushButton* export_metrics_ = nullptr;
    QPushButton* export_summary_ = nullptr;
    QPushButton* export_chart_ = nullptr;
    QTabWidget* pages_ = nullptr;
    MethodsView* methods_ = nullptr;
    std::vector<int64_t> shown_ids_;   // the runs of the last set_runs
};

}  // namespace ptune::ui
