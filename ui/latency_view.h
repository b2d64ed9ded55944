#pragma once
// Inference latency of the base model against the run's method for one run: a form that sets the sweep
// (LatencySweep) and asks for a measurement, two charts (median latency against sequence length, with LoRA and
// IA3 also merged into the weights; and, for the prompt methods, against prompt length at one sequence length)
// and a table with each method's overhead over the base model. For a causal LM's run the same charts and table
// show one phase of generation at a time: the time to the first new token (the input and the prefix through the
// model), or the time per new token after it (with tokens/s). The engine measures the base model and the
// method round-robin; this view only displays the stored or live rows.
// qcustomplot.h is only included by the .cpp (tests build with QT_NO_KEYWORDS).
#include <QMetaType>
#include <QString>
#include <QWidget>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "core/engine/latency.h"
#include "experiments/store.h"
#include "ui/latency_sweep.h"

class QCustomPlot;
class QCPGraph;
class QCPErrorBars;
class QCPItemText;
class QCPTextElement;
class QComboBox;
class QLineEdit;
class QSpinBox;
class QPushButton;
class QLabel;
class QTableWidget;

namespace ptune::ui {

class LatencyView : public QWidget {
    Q_OBJECT
public:
    explicit LatencyView(QWidget* parent = nullptr);
    ~LatencyView() override;

    // Loads a run's stored latency rows. run_prompt_len: the run's P (the sequence-length sweep's prompted
    // line); max_positions: the model's position table (0 = unknown, no length check); method: the run's
    // method as run_latency names it (ptv2 for prefix tuning too; prompt, ptuning, lora, ia3, adapter, full, head).
    // causal_lm: the run trained a causal LM's prefix; its rows come in two phases (the time to the first new
    // token, and each new token after it), shown one at a time (set_phase).
    void show_run(const ptune::Store& store, int64_t run_id, int run_prompt_len, int max_positions,
                  const QString& title, const std::string& method = "ptv2", bool causal_lm = false);
    const std::string& method() const { return method_; }
    bool prompted() const;   // the run's method has a prompt length (ptv2, prompt, ptuning)
    void clear();
    // Live results while measuring (same run); a later result for the same configuration replaces the earlier.
    void append(const std::vector<ptune::LatencyResult>& results);
    void set_busy(bool measuring);   // disables Measure, shows "Measuring…"
    // The phase the charts and table show: "" (encoders: one forward pass), or a causal LM's "first_token" /
    // "per_token"; false for a phase the view does not offer.
    bool set_phase(const std::string& phase);
    const std::string& phase() const { return phase_; }
    bool causal_lm() const { return causal_lm_; }
    bool busy() const { return busy_; }
    int64_t run_id() const { return run_id_; }
    ptune::ui::LatencySweep sweep() const;   // from the form (fields that do not parse keep their defaults)
    // Why Measure is disabled ("" when it is enabled).
    QString blocked_reason() const;
    // The form's error ("" when valid): names the field, or the length that does not fit the position table.
    QString form_error() const;

    // Inspection for tests: overhead % of the run's method at (batch, seq, P) vs base at (batch, seq); NaN if
    // missing. With `method`: that method's rows ("lora-merged").
    double overhead_percent(int batch, int seq_len, int prompt_len) const;
    double overhead_percent(const std::string& method, int batch, int seq_len, int prompt_len) const;
    int seq_chart_graphs_with_data() const;   // lines drawn in the sequence-length chart
    int table_rows() const;
    QString save_chart(const QString& which /* "seq" | "prompt" */, const QString& path);

Q_SIGNALS:
    void measure_requested(qint64 run_id, const ptune::ui::LatencySweep& sweep);

protected:
    void changeEvent(QEvent* e) override;

private:
    // (method, batch, seq, P) -> the latest row for that configuration
    using Key = std::tuple<std::string, int, int, int>;

    void build_ui();
    void add_row(const LatencyRow& r);
    void set_causal_lm(bool causal_lm);
    void validate();
    void rebuild();
    void rebuild_charts();
    void rebuild_table();
    void restyle();
    void export_chart(const QString& which);
    const LatencyRow* find(const std::string& method, int batch, int seq, int p) const;
    int chart_batch() const;
    int prompt_sweep_seq(int batch) const;
    QCustomPlot* plot_for(const QString& which) const;

    int64_t run_id_ = 0;
    std::string method_ = "ptv2";
    int run_prompt_len_ = 0;
    int max_positions_ = 0;
    QString title_;
    std::map<Key, LatencyRow> rows_;                          // the shown phase's
    std::map<std::string, std::map<Key, LatencyRow>> phases_;  // phase -> its rows
    std::string phase_;
    bool causal_lm_ = false;
    bool busy_ = false;
    QString form_error_;

    QLineEdit* seq_edit_ = nullptr;
    QLineEdit* prompt_edit_ = nullptr;
    QSpinBox* sweep_seq_spin_ = nullptr;
    QSpinBox* batch_spin_ = nullptr;
    QSpinBox* repeats_spin_ = nullptr;
    QComboBox* phase_combo_ = nullptr;
    QLabel* phase_label_ = nullptr;
    QPushButton* measure_button_ = nullptr;
    QLabel* error_label_ = nullptr;
    QLabel* status_label_ = nullptr;
    QLabel* title_label_ = nullptr;
    QCustomPlot* seq_plot_ = nullptr;
    QCustomPlot* prompt_plot_ = nullptr;
    QCPGraph* seq_base_ = nullptr;
    QCPGraph* seq_ptv2_ = nullptr;
    QCPErrorBars* seq_base_err_ = nullptr;
    QCPErrorBars* seq_ptv2_err_ = nullptr;
    QCPGraph* seq_merged_ = nullptr;   // LoRA / IA3 merged into the weights
    QCPGraph* prompt_ptv2_ = nullptr;
    QCPErrorBars* prompt_ptv2_err_ = nullptr;
    QCPGraph* prompt_base_ = nullptr;
    QCPItemText* seq_empty_ = nullptr;
    QCPItemText* prompt_empty_ = nullptr;
    QTableWidget* table_ = nullptr;
};

}  // namespace ptune::ui

Q_DECLARE_METATYPE(ptune::ui::LatencySweep)
