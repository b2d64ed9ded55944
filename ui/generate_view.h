#pragma once
// The Generate tab: a causal LM and a trained prefix (a stored run's, or any PEFT prefix adapter directory), a
// prompt, and the base model's and the adapted model's continuations side by side, streamed token by token,
// each with its token count, time to first token and tokens/s. Generation runs on a worker thread
// (experiments/generation.h); the model is loaded there once and kept while the model, adapter, dtype and
// device stay the same. Stop ends both continuations after the token in progress.
#include <QObject>
#include <QString>
#include <QThread>
#include <QWidget>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/events.h"
#include "core/engine/generate_options.h"
#include "experiments/store.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QShowEvent;
class QSpinBox;

namespace ptune {
class GenerationSession;
}

namespace ptune::ui {

// What one press of Generate asks for.
struct GenerateRequest {
    std::string model, adapter, dtype = "float32", device = "cpu", prompt;
    GenerateOptions options;
    bool base = true, adapted = true;   // which continuations (adapted only with an adapter)
};

// Lives on the view's worker thread; owns the loaded model.
class GenerateWorker : public QObject {
    Q_OBJECT
public:
    GenerateWorker();
    ~GenerateWorker() override;
    CancelFlag& cancel_flag() { return cancel_; }
    void run(const ptune::ui::GenerateRequest& req);   // called on the worker thread

Q_SIGNALS:
    void loading(const QString& what);
    void loaded(qint64 prefix_len, const QString& notes);   // the model is ready (prefix_len 0: no adapter)
    // side: 0 base, 1 adapted
    void piece(int side, const QString& text);
    void side_finished(int side, qint64 new_tokens, double seconds_to_first_token, double tokens_per_second,
                       const QString& stop_reason);
    void failed(const QString& message);
    void finished();

private:
    std::unique_ptr<GenerationSession> session_;
    std::string key_;   // model, adapter, dtype, device of session_
    CancelFlag cancel_;
};

class GenerateView : public QWidget {
    Q_OBJECT
public:
    enum Side { Base = 0, Adapted = 1 };
    explicit GenerateView(QWidget* parent = nullptr);
    ~GenerateView() override;

    // The store whose causal-LM runs the Run list offers (null: none); refresh_runs() rereads it.
    void set_store(const Store* store);
    void refresh_runs();
    // Fills the model and adapter from a stored causal-LM run; false (and the form unchanged) when the run has
    // no trained prefix to generate with.
    bool select_run(qint64 run_id);
    int run_count() const;   // runs in the Run list

    void set_model(const QString& model);       // a directory, or builtin-decoder
    void set_adapter(const QString& adapter);   // "" for none
    void set_prompt(const QString& prompt);
    void set_options(const GenerateOptions& o);   // the form's decoding fields (stop tokens are the model's)
    GenerateOptions options() const;              // from the form
    GenerateRequest request() const;

    // What Generate does: false (with the reason shown) when the form cannot run.
    bool generate();
    void stop();
    bool busy() const { return busy_; }
    QString output(Side side) const;
    QString stats(Side side) const;   // "12 new tokens · 48.3 tokens/s · first token 21 ms · …"
    QString message() const;          // the last error or note ("" when none)
    QString blocked_reason() const;   // why Generate is disabled ("" when it is enabled)

Q_SIGNALS:
    void finished();   // a press of Generate has ended (done, stopped or failed)

protected:
    void showEvent(QShowEvent* e) override;

private:
    void build_ui();
    void model_changed();
    void update_state();
    void browse_model();
    void browse_adapter();
    void on_piece(int side, const QString& text);
    void on_side_finished(int side, qint64 n, double ttft, double tps, const QString& reason);
    void on_failed(const QString& message);
    void on_finished();
    void set_message(const QString& text, bool error);

    const Store* store_ = nullptr;
    QThread thread_;
    GenerateWorker* worker_ = nullptr;
    bool busy_ = false;
    QString message_;
    QString model_error_;

    QComboBox* run_ = nullptr;
    QLineEdit* model_ = nullptr;
    QLineEdit* adapter_ = nullptr;
    QComboBox* dtype_ = nullptr;
    QComboBox* device_ = nullptr;
    QLabel* model_info_ = nullptr;
    QPlainTextEdit* prompt_ = nullptr;
    QSpinBox* max_new_ = nullptr;
    QComboBox* decoding_ = nullptr;
    QDoubleSpinBox* temperature_ = nullptr;
    QSpinBox* top_k_ = nullptr;
    QDoubleSpinBox* top_p_ = nullptr;
    QDoubleSpinBox* repetition_ = nullptr;
    QSpinBox* seed_ = nullptr;
    QLineEdit* stop_string_ = nullptr;
    QCheckBox* ignore_eos_ = nullptr;
    QCheckBox* with_base_ = nullptr;
    QPushButton* generate_ = nullptr;
    QPushButton* stop_ = nullptr;
    QLabel* message_label_ = nullptr;
    QGroupBox* box_[2] = {nullptr, nullptr};
    QPlainTextEdit* out_[2] = {nullptr, nullptr};
    QLabel* stats_[2] = {nullptr, nullptr};
};

}  // namespace ptune::ui
