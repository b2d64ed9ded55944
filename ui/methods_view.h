#pragma once
// The method comparison (experiments/compare.h, compare_methods): a table with one row per method (a seed group:
// runs that differ only by seed) holding its trainable parameters and share, the best validation metric as
// mean ± std over seeds, the median step time and peak memory of training, and the inference overhead against the
// base model (merged where the method can be); a bar chart of any of those with ± std whiskers; and a scatter of
// the metric against trainable parameters (log x) or against the inference overhead. Table as CSV, charts as PNG,
// PDF or SVG. Fed by CompareView with the rows of the runs shown; it reads nothing itself.
#include <QPointF>
#include <QString>
#include <QStringList>
#include <QVector>
#include <QWidget>
#include <vector>

#include "experiments/compare.h"

class QCustomPlot;
class QCPItemText;
class QComboBox;
class QLabel;
class QPushButton;
class QTableWidget;

namespace ptune::ui {

class MethodsView : public QWidget {
    Q_OBJECT
public:
    enum class Bars { Metric, Trainable, StepTime, PeakMemory, Overhead };
    enum class ScatterX { Trainable, Overhead };

    explicit MethodsView(QWidget* parent = nullptr);
    ~MethodsView() override;

    void set_rows(std::vector<ptune::MethodRow> rows);
    const std::vector<ptune::MethodRow>& rows() const { return rows_; }

    void set_bars(Bars b);
    Bars bars() const { return bars_; }
    void set_scatter_x(ScatterX x);
    ScatterX scatter_x() const { return scatter_x_; }

    // What is shown, for tests and tooltips.
    int table_rows() const;
    int table_columns() const;
    QString header(int col) const;
    QString cell(int row, int col) const;
    QStringList bar_labels() const;             // the bar chart's tick labels, one per row
    QVector<double> bar_values() const;         // each row's bar height in the chart's unit (NaN: not measured)
    QVector<double> bar_errors() const;         // its whisker (the std; 0 for a single run)
    QString bar_axis_label() const;
    bool bar_log_scale() const;
    QVector<QPointF> scatter_points() const;    // rows with both coordinates: (x in the axis' unit, mean metric)
    QString scatter_x_label() const;
    bool bars_empty_shown() const;              // the "nothing measured" / "select runs" text on the bar chart
    QString bars_empty_text() const;

    // Each returns "" or an error message naming the file.
    QString export_csv(const QString& path);                        // write_methods_csv of the rows
    QString save_chart(const QString& which /*"bars" | "scatter"*/, const QString& path);

protected:
    void changeEvent(QEvent* e) override;

private:
    void build_ui();
    void fill_table();
    void draw_bars();
    void draw_scatter();
    void ask_export(int which);
    QColor method_color(const std::string& method) const;
    QString short_label(size_t row) const;     // the method's name, with its settings where two rows share one

    std::vector<ptune::MethodRow> rows_;
    Bars bars_ = Bars::Metric;
    ScatterX scatter_x_ = ScatterX::Trainable;
    QVector<double> bar_values_, bar_errors_;
    QVector<QPointF> scatter_points_;

    QComboBox* bars_combo_ = nullptr;
    QComboBox* scatter_combo_ = nullptr;
    QPushButton* export_csv_ = nullptr;
    QPushButton* export_charts_ = nullptr;
    QTableWidget* table_ = nullptr;
    QLabel* note_ = nullptr;
    QCustomPlot* bar_plot_ = nullptr;
    QCustomPlot* scatter_plot_ = nullptr;
    QCPItemText* bars_empty_ = nullptr;
    QCPItemText* scatter_empty_ = nullptr;
};

}  // namespace ptune::ui
