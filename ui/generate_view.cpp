#include "ui/generate_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QKeySequence>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>
#include <QShowEvent>
#include <QTextCursor>
#include <algorithm>
#include <cmath>

#include "core/engine/devices.h"
#include "experiments/generation.h"
#include "core/io/error.h"
#include "core/io/json_util.h"
#include "experiments/runner.h"
#include "ui/plot_util.h"

namespace ptune::ui {

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

QString stop_reason_text(const QString& r) {
    if (r == "max_new_tokens") return "reached max new tokens";
    if (r == "stop_token") return "end of sequence";
    if (r == "stop_string") return "stop string";
    if (r == "cancelled") return "stopped";
    if (r == "max_positions") return "the model's position table is full";
    return r;
}

}  // namespace

// ---- worker

GenerateWorker::GenerateWorker() = default;
GenerateWorker::~GenerateWorker() = default;

void GenerateWorker::run(const GenerateRequest& req) {
    try {
        const std::string key = req.model + '\n' + req.adapter + '\n' + req.dtype + '\n' + req.device;
        if (!session_ || key != key_) {
            session_.reset();
            Q_EMIT loading(QString("Loading %1%2…").arg(q(req.model), req.adapter.empty() ? QString() : " and its adapter"));
            session_ = std::make_unique<GenerationSession>(req.model, req.adapter, req.dtype, req.device);
            key_ = key;
        }
        QStringList notes;
        for (const auto& n : session_->notes()) notes << QString::fromStdString(n);
        Q_EMIT loaded(session_->prefix_len(), notes.join("; "));
        const bool adapted = req.adapted && session_->prefix_len() > 0;
        for (int side : {0, 1}) {
            if (side == 0 && !req.base) continue;
            if (side == 1 && !adapted) continue;
            if (cancel_.is_set()) break;
            Generation g = session_->generate(
                req.prompt, req.options, side == 1,
                [&](int64_t, const std::string& text) { Q_EMIT piece(side, QString::fromStdString(text)); }, &cancel_);
            Q_EMIT side_finished(side, g.new_tokens, g.seconds_to_first_token, g.tokens_per_second(), q(g.stop_reason));
        }
    } catch (const std::exception& e) {
        Q_EMIT failed(QString::fromStdString(e.what()));
    }
    Q_EMIT finished();
}

// ---- view

GenerateView::GenerateView(QWidget* parent) : QWidget(parent) {
    build_ui();
    worker_ = new GenerateWorker;
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(worker_, &GenerateWorker::loading, this, [this](const QString& m) { set_message(m, false); });
    connect(worker_, &GenerateWorker::loaded, this, [this](qint64 p, const QString& notes) {
        if (p > 0) box_[Adapted]->setTitle(QString("With prefix (P = %1)").arg(p));
        set_message(notes.isEmpty() ? QString() : "Note: " + notes, false);
    });
    connect(worker_, &GenerateWorker::piece, this, &GenerateView::on_piece);
    connect(worker_, &GenerateWorker::side_finished, this, &GenerateView::on_side_finished);
    connect(worker_, &GenerateWorker::failed, this, &GenerateView::on_failed);
    connect(worker_, &GenerateWorker::finished, this, &GenerateView::on_finished);
    thread_.setObjectName("ptune-generate-worker");
    thread_.start();
    model_changed();
}

GenerateView::~GenerateView() {
    if (worker_) worker_->cancel_flag().cancel();
    thread_.quit();
    thread_.wait();
}

void GenerateView::build_ui() {
    auto* outer = new QVBoxLayout(this);

    auto* model_box = new QGroupBox("Model and prefix");
    auto* mf = new QFormLayout(model_box);
    run_ = new QComboBox;
    run_->setObjectName("generate_run");
    run_->setToolTip("A stored causal-LM run: its base model and the prefix it trained");
    connect(run_, qOverload<int>(&QComboBox::activated), this, [this](int i) {
        const qint64 id = run_->itemData(i).toLongLong();
        if (id > 0) select_run(id);
    });
    mf->addRow("Run:", run_);
    model_ = new QLineEdit;
    model_->setObjectName("generate_model");
    model_->setPlaceholderText("builtin-decoder, or a Hugging Face causal LM directory");
    auto* model_builtin = new QPushButton("Built-in decoder");
    connect(model_builtin, &QPushButton::clicked, this, [this] { set_model("builtin-decoder"); });
    auto* model_browse = new QPushButton("Browse…");
    connect(model_browse, &QPushButton::clicked, this, &GenerateView::browse_model);
    connect(model_, &QLineEdit::editingFinished, this, &GenerateView::model_changed);
    mf->addRow("Model:", widget_row({model_, model_builtin, model_browse}));
    adapter_ = new QLineEdit;
    adapter_->setObjectName("generate_adapter");
    adapter_->setPlaceholderText("none: the base model alone (or a PEFT prefix adapter directory)");
    auto* adapter_browse = new QPushButton("Browse…");
    connect(adapter_browse, &QPushButton::clicked, this, &GenerateView::browse_adapter);
    auto* adapter_clear = new QPushButton("Clear");
    connect(adapter_clear, &QPushButton::clicked, this, [this] { set_adapter(""); });
    connect(adapter_, &QLineEdit::textChanged, this, [this] {
        box_[Adapted]->setTitle("With prefix");   // its length is known once the adapter is loaded
        update_state();
    });
    mf->addRow("Adapter:", widget_row({adapter_, adapter_browse, adapter_clear}));
    dtype_ = new QComboBox;
    dtype_->addItem("float32", "float32");
    dtype_->addItem("as stored", "auto");
    dtype_->addItem("bfloat16", "bfloat16");
    dtype_->addItem("float16", "float16");
    dtype_->setToolTip("The weights' dtype: float32, or as the checkpoint stores them, or converted");
    device_ = new QComboBox;
    for (const DeviceInfo& d : list_devices()) device_->addItem(q(d.name), q(d.id));
    mf->addRow("Weights:", widget_row({dtype_, new QLabel("on"), device_}, false));
    model_info_ = new QLabel;
    model_info_->setObjectName("generate_model_info");
    model_info_->setWordWrap(true);
    model_info_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    mf->addRow(model_info_);
    outer->addWidget(model_box);

    auto* prompt_box = new QGroupBox("Prompt");
    auto* pv = new QVBoxLayout(prompt_box);
    prompt_ = new QPlainTextEdit;
    prompt_->setObjectName("generate_prompt");
    prompt_->setPlaceholderText("The text to continue, e.g. Review : a gripping, funny film Sentiment : ");
    prompt_->setMaximumHeight(prompt_->fontMetrics().lineSpacing() * 5 + 12);
    connect(prompt_, &QPlainTextEdit::textChanged, this, [this] { update_state(); });
    pv->addWidget(prompt_);
    max_new_ = new QSpinBox;
    max_new_->setRange(1, 4096);
    max_new_->setToolTip("Max new tokens");
    decoding_ = new QComboBox;
    decoding_->addItem("Greedy");
    decoding_->addItem("Sampling");
    temperature_ = new QDoubleSpinBox;
    temperature_->setRange(0.01, 10);
    temperature_->setDecimals(2);
    temperature_->setSingleStep(0.1);
    top_k_ = new QSpinBox;
    top_k_->setRange(0, 100000);
    top_k_->setSpecialValueText("off");
    top_p_ = new QDoubleSpinBox;
    top_p_->setRange(0.01, 1);
    top_p_->setDecimals(2);
    top_p_->setSingleStep(0.05);
    repetition_ = new QDoubleSpinBox;
    repetition_->setRange(0.01, 10);
    repetition_->setDecimals(2);
    repetition_->setSingleStep(0.05);
    repetition_->setToolTip("Repetition penalty (1: off)");
    seed_ = new QSpinBox;
    seed_->setRange(0, 1 << 30);
    seed_->setToolTip("The sampler's seed: the same seed, prompt and settings give the same text");
    connect(decoding_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { update_state(); });
    pv->addWidget(widget_row({new QLabel("Max new tokens"), max_new_, new QLabel("  Decoding"), decoding_,
                              new QLabel("  Temperature"), temperature_, new QLabel("  Top-k"), top_k_,
                              new QLabel("  Top-p"), top_p_, new QLabel("  Repetition penalty"), repetition_,
                              new QLabel("  Seed"), seed_},
                             false));
    stop_string_ = new QLineEdit;
    stop_string_->setPlaceholderText("none");
    stop_string_->setToolTip("Stop once the generated text contains this string (the model's end-of-sequence token "
                             "stops it too)");
    ignore_eos_ = new QCheckBox("Ignore end of sequence");
    with_base_ = new QCheckBox("Also the base model");
    with_base_->setChecked(true);
    with_base_->setToolTip("Generate with the base model too, beside the adapted one");
    generate_ = new QPushButton("Generate");
    generate_->setObjectName("generate_button");
    generate_->setDefault(true);
    generate_->setToolTip("Generate (Ctrl+Return)");
    connect(generate_, &QPushButton::clicked, this, [this] { generate(); });
    auto* shortcut = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return), this);
    connect(shortcut, &QShortcut::activated, this, [this] {
        if (generate_->isEnabled()) generate();
    });
    stop_ = new QPushButton("Stop");
    stop_->setObjectName("generate_stop");
    connect(stop_, &QPushButton::clicked, this, &GenerateView::stop);
    auto* stop_row = widget_row({new QLabel("Stop string"), stop_string_, ignore_eos_, with_base_, generate_, stop_}, false);
    static_cast<QHBoxLayout*>(stop_row->layout())->insertStretch(4, 1);
    pv->addWidget(stop_row);
    outer->addWidget(prompt_box);

    message_label_ = new QLabel;
    message_label_->setObjectName("generate_message");
    message_label_->setWordWrap(true);
    message_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    outer->addWidget(message_label_);

    auto* split = new QSplitter(Qt::Horizontal);
    const char* titles[2] = {"Base model", "With prefix"};
    for (int s : {0, 1}) {
        box_[s] = new QGroupBox(titles[s]);
        auto* v = new QVBoxLayout(box_[s]);
        out_[s] = new QPlainTextEdit;
        out_[s]->setObjectName(s == 0 ? "generate_base" : "generate_adapted");
        out_[s]->setReadOnly(true);
        v->addWidget(out_[s], 1);
        stats_[s] = new QLabel;
        stats_[s]->setObjectName(s == 0 ? "generate_base_stats" : "generate_adapted_stats");
        stats_[s]->setTextInteractionFlags(Qt::TextSelectableByMouse);
        v->addWidget(stats_[s]);
        split->addWidget(box_[s]);
    }
    outer->addWidget(split, 1);
    set_options(GenerateOptions{});
}

void GenerateView::showEvent(QShowEvent* e) {
    refresh_runs();   // runs finished since the tab was last shown
    QWidget::showEvent(e);
}

void GenerateView::set_store(const Store* store) {
    store_ = store;
    refresh_runs();
}

void GenerateView::refresh_runs() {
    const qint64 current = run_->currentData().toLongLong();
    run_->clear();
    run_->addItem("(none: the model and adapter below)", qint64(0));
    if (!store_) return;
    std::vector<RunRecord> runs;
    try {
        runs = generation_runs(*store_);
    } catch (const std::exception& e) {
        set_message(QString("Runs: %1").arg(e.what()), true);
    }
    for (const RunRecord& r : runs) {
        QString label = QString("#%1 %2 · P=%3 · %4").arg(r.id).arg(q(r.name)).arg(r.prompt_len).arg(q(r.status));
        run_->addItem(label, qint64(r.id));
    }
    const int i = run_->findData(current);
    run_->setCurrentIndex(i >= 0 ? i : 0);
}

int GenerateView::run_count() const { return run_->count() - 1; }

bool GenerateView::select_run(qint64 run_id) {
    if (!store_) return false;
    RunGenerationSource src;
    try {
        src = generation_source_of_run(*store_, run_id);
    } catch (const std::exception& e) {
        set_message(e.what(), true);
        return false;
    }
    int i = run_->findData(run_id);
    if (i < 0) {
        refresh_runs();
        i = run_->findData(run_id);
    }
    if (i >= 0) run_->setCurrentIndex(i);
    adapter_->setText(q(src.adapter_dir));
    set_model(q(src.model_dir));
    // A causal-LM run's template is the natural prompt: its text part left for the user.
    if (prompt_->toPlainText().isEmpty()) {
        if (auto r = store_->run(run_id)) {
            try {
                const json spec = json::parse(r->spec_json);
                const std::string tmpl = spec.value("data", json::object()).value("template", std::string());
                const auto at = tmpl.find("{text}");
                if (at != std::string::npos) {
                    prompt_->setPlainText(q(tmpl.substr(0, at) + tmpl.substr(at + 6)));
                    QTextCursor c = prompt_->textCursor();
                    c.setPosition((int)QString::fromStdString(tmpl.substr(0, at)).size());
                    prompt_->setTextCursor(c);
                }
            } catch (const std::exception&) {
            }
        }
    }
    return true;
}

void GenerateView::set_model(const QString& model) {
    model_->setText(model);
    model_changed();
}

void GenerateView::set_adapter(const QString& adapter) {
    adapter_->setText(adapter);
    update_state();
}

void GenerateView::set_prompt(const QString& prompt) { prompt_->setPlainText(prompt); }

void GenerateView::browse_model() {
    const QString t = model_->text().trimmed();
    const QString d = QFileDialog::getExistingDirectory(this, "Causal LM directory (config.json, model.safetensors, tokenizer)",
                                                        t.isEmpty() || t == "builtin-decoder" ? QDir::homePath() : t);
    if (!d.isEmpty()) set_model(d);
}

void GenerateView::browse_adapter() {
    const QString t = adapter_->text().trimmed();
    const QString d = QFileDialog::getExistingDirectory(this, "PEFT prefix adapter (adapter_config.json, adapter_model.safetensors)",
                                                        t.isEmpty() ? QDir::homePath() : t);
    if (!d.isEmpty()) set_adapter(d);
}

void GenerateView::model_changed() {
    model_error_.clear();
    const std::string m = model_->text().trimmed().toStdString();
    if (m.empty()) {
        model_info_->setText("");
        update_state();
        return;
    }
    try {
        ModelSummary s = summarize_model(m);
        if (!s.causal_lm) throw Error(s.dir + ": a " + s.model_type + " encoder; generation needs a causal LM");
        set_options(generation_defaults(s.dir));
        const QString heads = s.kv_heads && s.kv_heads != s.heads ? QString("%1 heads, %2 key/value").arg(s.heads).arg(s.kv_heads)
                                                                  : QString("%1 heads").arg(s.heads);
        model_info_->setText(QString("%1 (%2) · %3 parameters · %4 layers · hidden %5 · %6 · %7")
                                 .arg(q(s.arch), q(s.model_type), human_count(s.params))
                                 .arg(s.layers)
                                 .arg(s.hidden)
                                 .arg(heads)
                                 .arg(s.max_positions ? QString("%1 positions").arg(s.max_positions) : QString("rotary positions")));
    } catch (const std::exception& e) {
        model_error_ = QString::fromStdString(e.what());
        model_info_->setText("<span style='color:#d62728'>✖ " + model_error_.toHtmlEscaped() + "</span>");
    }
    update_state();
}

void GenerateView::set_options(const GenerateOptions& o) {
    max_new_->setValue((int)std::clamp<int64_t>(o.max_new_tokens, 1, 4096));
    decoding_->setCurrentIndex(o.do_sample ? 1 : 0);
    temperature_->setValue(o.temperature);
    top_k_->setValue((int)std::min<int64_t>(o.top_k, 100000));
    top_p_->setValue(o.top_p);
    repetition_->setValue(o.repetition_penalty);
    seed_->setValue((int)std::min<uint64_t>(o.seed, 1u << 30));
    ignore_eos_->setChecked(o.ignore_eos);
    stop_string_->setText(o.stop_strings.empty() ? QString() : q(o.stop_strings.front()));
}

GenerateOptions GenerateView::options() const {
    GenerateOptions o;
    o.max_new_tokens = max_new_->value();
    o.do_sample = decoding_->currentIndex() == 1;
    o.temperature = temperature_->value();
    o.top_k = top_k_->value();
    o.top_p = top_p_->value();
    o.repetition_penalty = repetition_->value();
    o.seed = (uint64_t)seed_->value();
    o.ignore_eos = ignore_eos_->isChecked();
    if (!stop_string_->text().isEmpty()) o.stop_strings = {stop_string_->text().toStdString()};
    return o;
}

GenerateRequest GenerateView::request() const {
    GenerateRequest r;
    r.model = model_->text().trimmed().toStdString();
    r.adapter = adapter_->text().trimmed().toStdString();
    r.dtype = dtype_->currentData().toString().toStdString();
    r.device = device_->currentData().toString().toStdString();
    r.prompt = prompt_->toPlainText().toStdString();
    r.options = options();
    r.base = with_base_->isChecked() || r.adapter.empty();
    r.adapted = !r.adapter.empty();
    return r;
}

QString GenerateView::blocked_reason() const {
    if (busy_) return "Generating…";
    if (model_->text().trimmed().isEmpty()) return "Choose a model (or a run)";
    if (!model_error_.isEmpty()) return model_error_;
    if (prompt_->toPlainText().isEmpty()) return "Type a prompt";
    return "";
}

void GenerateView::update_state() {
    const QString why = blocked_reason();
    generate_->setEnabled(why.isEmpty());
    generate_->setToolTip(why.isEmpty() ? "Generate (Ctrl+Return)" : why);
    stop_->setEnabled(busy_);
    const bool sampling = decoding_->currentIndex() == 1;
    for (QWidget* w : std::initializer_list<QWidget*>{temperature_, top_k_, top_p_, seed_}) w->setEnabled(sampling);
    const bool has_adapter = !adapter_->text().trimmed().isEmpty();
    with_base_->setEnabled(has_adapter);
    if (!busy_) {
        out_[Adapted]->setPlaceholderText(has_adapter ? "" : "No adapter: choose a run or a prefix adapter directory to "
                                                             "compare the adapted model with the base model.");
    }
}

bool GenerateView::generate() {
    const QString why = blocked_reason();
    if (!why.isEmpty()) {
        set_message(why, true);
        return false;
    }
    GenerateRequest req = request();
    try {
        req.options.validate();
    } catch (const std::exception& e) {
        set_message(e.what(), true);
        return false;
    }
    for (int s : {0, 1}) {
        out_[s]->clear();
        stats_[s]->clear();
    }
    if (!req.base) stats_[Base]->setText("not generated (\"Also the base model\" is off)");
    set_message("", false);
    busy_ = true;
    update_state();
    worker_->cancel_flag().requested.store(false);   // cleared before the job is queued: a Stop from now on reaches it
    GenerateWorker* w = worker_;
    QMetaObject::invokeMethod(w, [w, req] { w->run(req); }, Qt::QueuedConnection);
    return true;
}

void GenerateView::stop() {
    if (busy_ && worker_) worker_->cancel_flag().cancel();
}

void GenerateView::on_piece(int side, const QString& text) {
    if (side < 0 || side > 1) return;
    if (out_[side]->toPlainText().isEmpty() && message_.startsWith("Loading")) set_message("", false);
    out_[side]->moveCursor(QTextCursor::End);
    out_[side]->insertPlainText(text);
    out_[side]->moveCursor(QTextCursor::End);
}

void GenerateView::on_side_finished(int side, qint64 n, double ttft, double tps, const QString& reason) {
    if (side < 0 || side > 1) return;
    if (message_.startsWith("Loading")) set_message("", false);
    QString s = QString("%1 new token%2").arg(n).arg(n == 1 ? "" : "s");
    if (n > 1 && tps > 0) s += QString(" · %1 tokens/s").arg(tps, 0, 'f', 1);
    if (n > 0) s += QString(" · first token %1 ms").arg(ttft * 1e3, 0, 'f', 0);
    s += " · " + stop_reason_text(reason);
    stats_[side]->setText(s);
}

void GenerateView::on_failed(const QString& message) { set_message(message, true); }

void GenerateView::on_finished() {
    busy_ = false;
    update_state();
    Q_EMIT finished();
}

void GenerateView::set_message(const QString& text, bool error) {
    message_ = text;
    message_label_->setText(text.isEmpty() ? QString()
                            : error      ? "<span style='color:#d62728'>✖ " + text.toHtmlEscaped() + "</span>"
                                         : text.toHtmlEscaped());
}

QString GenerateView::output(Side side) const { return out_[side]->toPlainText(); }
QString GenerateView::stats(Side side) const { return stats_[side]->text(); }
QString GenerateView::message() const { return message_; }

}  // namespace ptune::ui
