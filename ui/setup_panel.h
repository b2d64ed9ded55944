#pragma once
// The experiment setup form: base model (with its summary), data set (preview, column mapping, labels and
// counts, validation split), P-Tuning v2 options (prompt length, per-layer depth strip, MLP, dropout, init),
// training options and device. It validates live (checks that read files run in background threads, so typing
// a path never stalls the window) and shows the trainable parameters and their share. The form is the editor of
// an ExperimentSpec: spec() reads it, set_spec() fills it; nothing else is kept in the widgets.
#include <QWidget>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "experiments/runner.h"
#include "experiments/spec.h"

class QCheckBox;
class QFormLayout;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QThread;
class QTimer;

namespace ptune::ui {

class LayerStrip;

class SetupPanel : public QWidget {
    Q_OBJECT
public:
    explicit SetupPanel(QWidget* parent = nullptr);
    ~SetupPanel() override;   // waits for background checks

    ExperimentSpec spec() const;
    void set_spec(const ExperimentSpec& s);

    // Validation as shown: errors block Run, warnings do not. Current once checks_pending() is false.
    QStringList errors() const { return errors_; }
    QStringList warnings() const { return warnings_; }
    bool checks_pending() const;
    std::optional<ModelSummary> model_summary() const;   // of the chosen model, when it can be used
    std::optional<DataSummary> data_summary() const;
    std::optional<ParamCounts> param_counts() const { return counts_; }
    int preview_rows() const;                            // rows in the data preview table

    LayerStrip* layer_strip() const { return strip_; }
    void set_busy(bool queue_running);   // the Run button says "Queue" while runs are going

Q_SIGNALS:
    void run_requested();
    void spec_changed();
    void validated(bool ok);   // after every validation pass

private:
    void build_ui();
    void connect_changes();
    void changed();                 // any field: debounce validation
    void model_changed();
    void data_changed();
    void depth_preset_changed();
    void strip_changed();
    void apply_layers_text();
    void show_method_rows();        // the chosen method's option rows
    void show_task_rows();          // the chosen task's fields (a causal LM's template), its metrics, the label/target name
    void offer_tasks();             // the tasks the chosen model supports (an encoder: classification; a decoder: causal LM)
    void show_tagged_preview();     // sentences with their tags coloured by entity type
    void show_qa_preview();
    void show_choice_preview();         // questions with their contexts, the answer span highlighted
    void validate();
    void show_model_summary();
    void show_model_info();         // the model's table; its last row says what the chosen task puts on top
    void show_data_summary();
    void update_counts();
    void fill_columns(const std::vector<std::string>& cols);
    void browse_model();
    void browse_data(QLineEdit* edit);
    // Runs `work` in a background thread and `done` on the GUI thread afterwards (unless superseded).
    void run_async(std::function<void()> work, std::function<void()> done);

    // Model
    QLineEdit* model_edit_ = nullptr;
    QLabel* model_info_ = nullptr;
    // Data
    QFormLayout* data_form_ = nullptr;
    QComboBox* task_ = nullptr;
    QLineEdit* template_ = nullptr;
    QLabel* label_col_name_ = nullptr;
    QLineEdit* train_edit_ = nullptr;
    QComboBox* valid_mode_ = nullptr;
    QLineEdit* valid_edit_ = nullptr;
    QPushButton* valid_browse_ = nullptr;
    QDoubleSpinBox* valid_fraction_ = nullptr;
    QSpinBox* split_seed_ = nullptr;
    QComboBox* format_ = nullptr;
    QComboBox* text_col_ = nullptr;
    QComboBox* pair_col_ = nullptr;
    QComboBox* label_col_ = nullptr;
    QWidget* columns_row_ = nullptr;       // text / pair / label (sequence classification, causal LM)
    QWidget* tag_row_ = nullptr;           // words / tags / scheme / all sub-tokens (token classification)
    QWidget* qa_row_ = nullptr;            // doc stride / question / n-best / answer / null threshold (QA)
    QSpinBox* doc_stride_ = nullptr;
    QSpinBox* max_question_ = nullptr;
    QSpinBox* n_best_ = nullptr;
    QSpinBox* max_answer_ = nullptr;
    QDoubleSpinBox* null_threshold_ = nullptr;
    QLineEdit* tokens_col_ = nullptr;
    QLineEdit* tags_col_ = nullptr;
    QComboBox* tag_scheme_ = nullptr;
    QCheckBox* label_all_ = nullptr;
    QComboBox* bad_rows_ = nullptr;
    QSpinBox* max_rows_ = nullptr;
    QTableWidget* preview_ = nullptr;
    QLabel* data_info_ = nullptr;
    // Method
    QFormLayout* method_form_ = nullptr;
    QComboBox* method_ = nullptr;
    QComboBox* prompt_init_ = nullptr;
    QLineEdit* prompt_text_ = nullptr;
    QComboBox* encoder_ = nullptr;
    QSpinBox* encoder_hidden_ = nullptr;
    QSpinBox* lora_r_ = nullptr;
    QDoubleSpinBox* lora_alpha_ = nullptr;
    QDoubleSpinBox* lora_dropout_ = nullptr;
    QLineEdit* targets_ = nullptr;
    QSpinBox* adapter_size_ = nullptr;
    QComboBox* adapter_place_ = nullptr;
    QComboBox* adapter_act_ = nullptr;
    bool rslora_ = false;
    std::vector<std::string> feedforward_;
    QSpinBox* prompt_len_ = nullptr;
    QComboBox* depth_preset_ = nullptr;
    QSpinBox* depth_k_ = nullptr;
    LayerStrip* strip_ = nullptr;
    QLabel* depth_info_ = nullptr;
    QCheckBox* mlp_ = nullptr;
    QSpinBox* mlp_hidden_ = nullptr;
    QDoubleSpinBox* dropout_ = nullptr;
    QComboBox* init_ = nullptr;
    QDoubleSpinBox* init_std_ = nullptr;
    QLineEdit* init_adapter_ = nullptr;
    // Training
    QCheckBox* latency_ = nullptr;
    QSpinBox* latency_batch_ = nullptr;
    QSpinBox* latency_len_ = nullptr;
    int latency_repeats_ = 20, latency_warmup_ = 3;   // kept from a spec file (no widgets)
    QDoubleSpinBox* lr_ = nullptr;
    QComboBox* schedule_ = nullptr;
    QSpinBox* warmup_ = nullptr;
    QSpinBox* batch_ = nullptr;
    QComboBox* length_mode_ = nullptr;   // epochs | steps
    QSpinBox* length_ = nullptr;
    QSpinBox* max_len_ = nullptr;
    QSpinBox* seed_ = nullptr;
    QDoubleSpinBox* clip_ = nullptr;
    QDoubleSpinBox* weight_decay_ = nullptr;
    QSpinBox* eval_every_ = nullptr;
    QComboBox* metric_ = nullptr;
    QSpinBox* patience_ = nullptr;
    QCheckBox* keep_best_ = nullptr;
    QComboBox* device_ = nullptr;
    QSpinBox* threads_ = nullptr;
    // Run
    QLineEdit* name_ = nullptr;
    QLineEdit* tags_ = nullptr;
    QPlainTextEdit* notes_ = nullptr;
    QLineEdit* out_dir_ = nullptr;
    QLabel* counts_info_ = nullptr;
    QLabel* messages_ = nullptr;
    QPushButton* run_button_ = nullptr;

    QTimer* debounce_ = nullptr;
    bool filling_ = false;
    // The spec last given to set_spec: the fields the form has no widget for (AdamW's betas and epsilon,
    // shuffling, the norm interval, seeds beyond a spin box's range) come back from it unchanged.
    ptune::ExperimentSpec base_;
    int pending_checks_ = 0;
    std::vector<QThread*> checks_;
    int model_gen_ = 0, data_gen_ = 0;
    std::string model_key_, data_key_;    // what the current summaries describe
    std::optional<ModelSummary> model_;
    std::string model_error_;
    std::optional<DataSummary> data_;
    std::string data_error_;
    std::vector<std::vector<std::string>> preview_data_;
    std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> preview_tagged_;   // words, tags
    bool data_is_tagged_ = false;          // the training file holds tagged words (CoNLL, JSONL tokens)
    std::vector<QaPreview> preview_qa_;    // questions, contexts and their first answers
    bool data_is_qa_ = false;              // the training file holds SQuAD questions
    std::vector<ChoiceExample> preview_choice_;   // questions with their choices
    bool data_is_choice_ = false;
    QComboBox* preset_ = nullptr;          // reproduction presets (experiments/presets.h)          // the training file holds multiple-choice questions (COPA, SWAG, ...)
    std::vector<std::string> preview_cols_;
    std::optional<ParamCounts> counts_;
    QStringList errors_, warnings_;
    std::string layers_text_ = "all";   // the depth as a LayerSpec text (kept while no model is read)
    std::vector<std::string> device_ids_;
};

}  // namespace ptune::ui
