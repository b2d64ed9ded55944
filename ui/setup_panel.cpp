#include "ui/setup_panel.h"

#include <functional>
#include <limits>

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QStandardItemModel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QStyle>
#include <QTableWidget>
#include <QThread>
#include <QTimer>
#include <QVBoxLayout>
#include <cmath>

#include "core/engine/devices.h"
#include "core/io/qa_data.h"
#include "experiments/presets.h"
#include "experiments/compare.h"
#include "ui/layer_strip.h"
#include "ui/plot_util.h"

namespace ptune::ui {

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }
std::string s_(const QString& s) { return s.trimmed().toStdString(); }

QString html_escape(const QString& s) { return s.toHtmlEscaped(); }

// Column combos hold "(auto)"/"(none)" first, then the file's columns; the spec stores "" for the first entry.
constexpr const char* kAuto = "(auto)";
constexpr const char* kNone = "(none)";

void set_combo_text(QComboBox* c, const QString& text, const QString& empty_label) {
    const QString t = text.isEmpty() ? empty_label : text;
    int i = c->findText(t);
    if (i < 0) {
        c->addItem(t);
        i = c->count() - 1;
    }
    c->setCurrentIndex(i);
}

QString combo_value(const QComboBox* c) {
    const QString t = c->currentText().trimmed();
    return (t == kAuto || t == kNone) ? QString() : t;
}

// A learning rate box that shows "0.005" or "2e-05" rather than a fixed number of decimals.
class RateSpinBox : public QDoubleSpinBox {
public:
    RateSpinBox() {
        setDecimals(12);   // the value keeps its precision; only the text is short
        setRange(1e-9, 10);
        setSingleStep(1e-3);
    }
    QString textFromValue(double v) const override { return QString::number(v, 'g', 6); }
    double valueFromText(const QString& t) const override { return t.trimmed().toDouble(); }
    QValidator::State validate(QString& input, int&) const override {
        const QString t = input.trimmed();
        if (t.isEmpty() || t.endsWith('e') || t.endsWith('-') || t.endsWith('.')) return QValidator::Intermediate;
        bool ok = false;
        const double v = t.toDouble(&ok);
        if (!ok) return QValidator::Invalid;
        return v >= minimum() && v <= maximum() ? QValidator::Acceptable : QValidator::Intermediate;
    }
    // Up/down multiply or divide by 2 (a rate is tuned on a log scale).
    void stepBy(int steps) override { setValue(value() * std::pow(2.0, steps)); }
};

QDoubleSpinBox* dspin(double lo, double hi, int decimals, double step) {
    auto* s = new QDoubleSpinBox;
    s->setRange(lo, hi);
    s->setDecimals(decimals);
    s->setSingleStep(step);
    return s;
}
QSpinBox* ispin(int lo, int hi) {
    auto* s = new QSpinBox;
    s->setRange(lo, hi);
    return s;
}

}  // namespace

SetupPanel::SetupPanel(QWidget* parent) : QWidget(parent) {
    for (const DeviceInfo& d : list_devices()) device_ids_.push_back(d.id);
    build_ui();
    debounce_ = new QTimer(this);
    debounce_->setSingleShot(true);
    debounce_->setInterval(120);
    connect(debounce_, &QTimer::timeout, this, &SetupPanel::validate);
    set_spec(ExperimentSpec{});
    connect_changes();
}

SetupPanel::~SetupPanel() {
    for (QThread* t : checks_) {
        t->wait();
        delete t;
    }
}

void SetupPanel::build_ui() {
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    auto* scroll = new QScrollArea;
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    auto* content = new QWidget;
    auto* grid = new QGridLayout(content);
    grid->setColumnStretch(0, 1);
    grid->setColumnStretch(1, 1);

    // ---- Base model
    auto* model_box = new QGroupBox("Base model");
    auto* mf = new QFormLayout(model_box);
    model_edit_ = new QLineEdit;
    model_edit_->setObjectName("model");
    model_edit_->setPlaceholderText("builtin, or a Hugging Face model directory");
    auto* model_builtin = new QPushButton("Built-in");
    model_builtin->setToolTip("The shipped tiny BERT (4 layers, hidden 64), trained in seconds on the CPU");
    auto* model_browse = new QPushButton("Browse…");
    auto* decoder_builtin = new QPushButton("Built-in decoder");
    decoder_builtin->setObjectName("builtin_decoder");
    decoder_builtin->setToolTip("The shipped tiny causal LM (Llama-shaped, 4 layers, hidden 64): prefix training on causal "
                                "language modelling in seconds on the CPU");
    connect(model_builtin, &QPushButton::clicked, this, [this] { model_edit_->setText("builtin"); });
    connect(decoder_builtin, &QPushButton::clicked, this, [this] {
        model_edit_->setText("builtin-decoder");
        if (template_->text().isEmpty()) template_->setText("Review : {text} Sentiment : ");
    });
    connect(model_browse, &QPushButton::clicked, this, &SetupPanel::browse_model);
    mf->addRow("Model:", widget_row({model_edit_, model_builtin, decoder_builtin, model_browse}));
    model_info_ = new QLabel;
    model_info_->setObjectName("model_info");
    model_info_->setWordWrap(true);
    model_info_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    mf->addRow(model_info_);
    grid->addWidget(model_box, 0, 0);

    // ---- Data
    auto* data_box = new QGroupBox("Dataset");
    auto* df = new QFormLayout(data_box);
    data_form_ = df;
    task_ = new QComboBox;
    task_->setObjectName("task");
    task_->addItem("Sequence classification", QString("seq-cls"));
    task_->addItem("Token classification (NER, chunking, POS)", QString("token-cls"));
    task_->addItem("Causal LM: generate each row's target after its prompt", QString("causal-lm"));
    task_->addItem("Extractive question answering (SQuAD 1.1 / 2.0)", QString("qa"));
    task_->addItem("Multiple choice (COPA, SWAG)", QString("choice"));
    task_->setItemData(0, "An encoder and a classification head: one label per text", Qt::ToolTipRole);
    task_->setItemData(1, "An encoder tags every word (CoNLL or JSONL tokens/tags): the tag on each word's first "
                          "sub-token; entity F1 as seqeval computes it",
                       Qt::ToolTipRole);
    task_->setItemData(2, "A decoder learns to continue the prompt (the template with the row's text) with the row's "
                          "target (the label column); loss on the target tokens, exact match of the greedy answer",
                       Qt::ToolTipRole);
    task_->setItemData(3, "An encoder marks the answer's span in the context (SQuAD JSON or JSONL); long contexts in "
                          "overlapping windows; EM and F1 as the official SQuAD scripts compute them",
                       Qt::ToolTipRole);
    task_->setItemData(4, "An encoder scores each (context, choice) pair through its pooler and one shared head; a "
                          "softmax over the question's choices; accuracy (JSONL: COPA, SWAG or context/choices/label)",
                       Qt::ToolTipRole);
    df->addRow("Task:", task_);
    train_edit_ = new QLineEdit;
    train_edit_->setObjectName("train");
    train_edit_->setPlaceholderText("builtin, or a TSV / CSV / JSONL file (CoNLL for token classification)");
    auto* train_builtin = new QPushButton("Built-in");
    auto* train_browse = new QPushButton("Browse…");
    connect(train_builtin, &QPushButton::clicked, this, [this] { train_edit_->setText("builtin"); });
    connect(train_browse, &QPushButton::clicked, this, [this] { browse_data(train_edit_); });
    df->addRow("Training data:", widget_row({train_edit_, train_builtin, train_browse}));
    valid_mode_ = new QComboBox;
    valid_mode_->setObjectName("valid_mode");
    valid_mode_->addItems({"Split off the training data", "Separate file"});
    valid_fraction_ = dspin(0, 90, 1, 5);
    valid_fraction_->setSuffix(" %");
    valid_fraction_->setObjectName("valid_fraction");
    split_seed_ = ispin(0, std::numeric_limits<int>::max());
    split_seed_->setPrefix("seed ");
    valid_edit_ = new QLineEdit;
    valid_edit_->setObjectName("valid");
    valid_edit_->setPlaceholderText("validation file");
    valid_browse_ = new QPushButton("Browse…");
    connect(valid_browse_, &QPushButton::clicked, this, [this] { browse_data(valid_edit_); });
    df->addRow("Validation:", widget_row({valid_mode_, valid_fraction_, split_seed_}, false));
    df->addRow("", widget_row({valid_edit_, valid_browse_}));
    format_ = new QComboBox;
    format_->setObjectName("format");
    format_->addItems({"auto", "tsv", "csv", "jsonl", "conll"});
    bad_rows_ = new QComboBox;
    bad_rows_->addItems({"stop", "skip"});
    bad_rows_->setToolTip("stop: the first bad row is an error naming its line; skip: bad rows are left out and counted");
    max_rows_ = ispin(0, 1 << 30);
    max_rows_->setSpecialValueText("all rows");
    max_rows_->setPrefix("max ");
    df->addRow("Format:", widget_row({format_, new QLabel("bad rows:"), bad_rows_, max_rows_}, false));
    text_col_ = new QComboBox;
    text_col_->setObjectName("text_column");
    pair_col_ = new QComboBox;
    pair_col_->setObjectName("text_pair_column");
    label_col_ = new QComboBox;
    label_col_->setObjectName("label_column");
    for (QComboBox* c : {text_col_, pair_col_, label_col_}) {
        c->setEditable(true);
        c->setInsertPolicy(QComboBox::NoInsert);
        c->setMinimumContentsLength(10);
    }
    label_col_name_ = new QLabel("label");
    columns_row_ = widget_row({new QLabel("text"), text_col_, new QLabel("pair"), pair_col_, label_col_name_, label_col_}, false);
    df->addRow("Columns:", columns_row_);
    tokens_col_ = new QLineEdit;
    tokens_col_->setObjectName("tokens_column");
    tokens_col_->setPlaceholderText("auto");
    tokens_col_->setToolTip("The words: a CoNLL field number (0-based; default 0) or a JSONL key (default tokens)");
    tags_col_ = new QLineEdit;
    tags_col_->setObjectName("tags_column");
    tags_col_->setPlaceholderText("auto");
    tags_col_->setToolTip("The tags: a CoNLL field number (0-based; default the last) or a JSONL key (default tags, "
                          "else ner_tags)");
    for (QLineEdit* e : {tokens_col_, tags_col_}) e->setMaximumWidth(90);
    tag_scheme_ = new QComboBox;
    tag_scheme_->setObjectName("tag_scheme");
    for (const char* k : {"auto", "iob2", "iob1", "iobes", "none"}) tag_scheme_->addItem(k, QString(k));
    tag_scheme_->setToolTip("How B-/I-/E-/S- tags mark entities (auto: read from the data); none: plain tags such as "
                            "part-of-speech, judged by tag accuracy");
    label_all_ = new QCheckBox("all sub-tokens");
    label_all_->setObjectName("label_all_subtokens");
    label_all_->setToolTip("Label every sub-token of a word (B- becomes I- after the first); off: the first sub-token "
                           "only, the others left out of the loss");
    tag_row_ = widget_row({new QLabel("words"), tokens_col_, new QLabel("tags"), tags_col_, new QLabel("scheme"), tag_scheme_,
                           label_all_}, false);
    df->addRow("Columns:", tag_row_);
    auto spin = [](const char* name, int lo, int hi, int value, const QString& tip) {
        auto* b = new QSpinBox;
        b->setObjectName(name);
        b->setRange(lo, hi);
        b->setValue(value);
        b->setToolTip(tip);
        return b;
    };
    const DataSpec qa_defaults;
    doc_stride_ = spin("doc_stride", 0, 4096, (int)qa_defaults.doc_stride,
                       "Tokens neighbouring windows of a long context share (run_qa.py's doc_stride)");
    max_question_ = spin("max_question_len", 1, 4096, (int)qa_defaults.max_question_len, "Question tokens kept");
    n_best_ = spin("n_best", 1, 1000, (int)qa_defaults.n_best, "Start and end candidates per window when decoding");
    max_answer_ = spin("max_answer_len", 1, 4096, (int)qa_defaults.max_answer_len, "The longest answer, in tokens");
    null_threshold_ = new QDoubleSpinBox;
    null_threshold_->setObjectName("null_threshold");
    null_threshold_->setRange(-100, 100);
    null_threshold_->setDecimals(2);
    null_threshold_->setValue(qa_defaults.null_threshold);
    null_threshold_->setToolTip("SQuAD 2.0: no answer when the null score exceeds the best span's by more than this");
    qa_row_ = widget_row({new QLabel("stride"), doc_stride_, new QLabel("question"), max_question_, new QLabel("n-best"),
                          n_best_, new QLabel("answer"), max_answer_, new QLabel("null"), null_threshold_},
                         false);
    df->addRow("QA:", qa_row_);
    template_ = new QLineEdit;
    template_->setObjectName("template");
    template_->setPlaceholderText("{text} (the row's text alone), or e.g. Tweet text : {text} Label : ");
    template_->setToolTip("The prompt the model continues: {text} is replaced by each row's text; the target follows it");
    df->addRow("Prompt template:", template_);
    preview_ = new QTableWidget;
    preview_->setObjectName("preview");
    preview_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    preview_->setSelectionMode(QAbstractItemView::NoSelection);
    preview_->verticalHeader()->setVisible(false);
    preview_->horizontalHeader()->setStretchLastSection(true);
    preview_->setMinimumHeight(150);
    preview_->setMaximumHeight(220);
    preview_->setWordWrap(false);
    df->addRow(preview_);
    data_info_ = new QLabel;
    data_info_->setObjectName("data_info");
    data_info_->setWordWrap(true);
    data_info_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    df->addRow(data_info_);
    grid->addWidget(data_box, 1, 0, 2, 1);

    // ---- Method
    auto* method_box = new QGroupBox("Method");
    auto* pf = new QFormLayout(method_box);
    method_form_ = pf;
    method_ = new QComboBox;
    method_->setObjectName("method");
    for (auto [label, name] : std::initializer_list<std::pair<const char*, const char*>>{
             {"P-Tuning v2 (deep prompts)", "ptv2"}, {"Prompt tuning", "prompt"}, {"P-tuning (v1, prompt encoder)", "ptuning"},
             {"LoRA", "lora"}, {"IA³", "ia3"}, {"Bottleneck adapters", "adapter"}, {"Full fine-tuning", "full"},
             {"Head only (linear probe)", "head"}})
        method_->addItem(label, QString(name));
    pf->addRow("Method:", method_);
    prompt_len_ = ispin(1, 4096);
    prompt_len_->setObjectName("prompt_len");
    prompt_len_->setToolTip("P: prompt vectors per layer for keys and for values. The paper: about 8-20 for "
                            "simple classification, 100+ for hard sequence labelling.");
    pf->addRow("Prompt length P:", prompt_len_);
    depth_preset_ = new QComboBox;
    depth_preset_->setObjectName("depth_preset");
    depth_preset_->addItems({"All layers", "First k layers", "Last k layers", "Custom"});
    depth_k_ = ispin(1, 1);
    depth_k_->setPrefix("k = ");
    depth_k_->setObjectName("depth_k");
    pf->addRow("Depth:", widget_row({depth_preset_, depth_k_}, false));
    strip_ = new LayerStrip;
    strip_->setObjectName("layer_strip");
    pf->addRow(strip_);
    depth_info_ = new QLabel;
    depth_info_->setWordWrap(true);
    pf->addRow(depth_info_);
    mlp_ = new QCheckBox("MLP reparameterization (prefix tuning)");
    mlp_->setObjectName("mlp");
    mlp_hidden_ = ispin(1, 1 << 16);
    mlp_hidden_->setPrefix("hidden ");
    pf->addRow(widget_row({mlp_, mlp_hidden_}, false));
    dropout_ = dspin(0, 0.9, 2, 0.05);
    dropout_->setObjectName("dropout");
    pf->addRow("Prefix dropout:", dropout_);
    init_ = new QComboBox;
    init_->addItems({"normal", "zeros"});
    init_std_ = dspin(0.0001, 100, 4, 0.1);
    init_std_->setPrefix("std ");
    pf->addRow("Initialisation:", widget_row({init_, init_std_}, false));
    init_adapter_ = new QLineEdit;
    init_adapter_->setPlaceholderText("optional: a PEFT or ptune adapter directory to start from");
    auto* init_browse = new QPushButton("Browse…");
    connect(init_browse, &QPushButton::clicked, this, [this] {
        QString d = QFileDialog::getExistingDirectory(this, "Start from adapter", init_adapter_->text());
        if (!d.isEmpty()) init_adapter_->setText(d);
    });
    pf->addRow("Start from:", widget_row({init_adapter_, init_browse}));
    // The other methods' options (rows shown for the chosen method only).
    prompt_init_ = new QComboBox;
    prompt_init_->setObjectName("prompt_init");
    prompt_init_->addItems({"random", "vocab", "text"});
    prompt_init_->setToolTip("random: N(0, 1); vocab: embeddings of sampled vocabulary tokens; text: the embeddings "
                             "of a text's tokens, repeated to P");
    prompt_text_ = new QLineEdit;
    prompt_text_->setPlaceholderText("text the prompts start from");
    pf->addRow("Prompt init:", widget_row({prompt_init_, prompt_text_}, false));
    encoder_ = new QComboBox;
    encoder_->setObjectName("encoder");
    encoder_->addItems({"mlp", "lstm"});
    encoder_hidden_ = ispin(0, 1 << 16);
    encoder_hidden_->setSpecialValueText("hidden = model's");
    encoder_hidden_->setPrefix("hidden ");
    pf->addRow("Prompt encoder:", widget_row({encoder_, encoder_hidden_}, false));
    lora_r_ = ispin(1, 4096);
    lora_r_->setObjectName("lora_r");
    lora_r_->setPrefix("r ");
    lora_alpha_ = dspin(0.01, 100000, 2, 1);
    lora_alpha_->setPrefix("alpha ");
    lora_dropout_ = dspin(0, 0.9, 2, 0.05);
    lora_dropout_->setPrefix("dropout ");
    pf->addRow("LoRA:", widget_row({lora_r_, lora_alpha_, lora_dropout_}, false));
    targets_ = new QLineEdit;
    targets_->setObjectName("target_modules");
    targets_->setPlaceholderText("default (LoRA: query, value; IA³: key, value, attention.output.dense, output.dense)");
    targets_->setToolTip("Comma separated: query, key, value, attention.output.dense, intermediate.dense, output.dense (or the family's own names, e.g. DistilBERT's q_lin, v_lin)");
    pf->addRow("Modules:", targets_);
    adapter_size_ = ispin(0, 1 << 16);
    adapter_size_->setObjectName("adapter_size");
    adapter_size_->setPrefix("size ");
    adapter_size_->setSpecialValueText("size = hidden / 16");
    adapter_size_->setToolTip("The bottleneck m of each adapter: Linear(H, m), activation, Linear(m, H), added to the "
                              "sublayer's output");
    adapter_place_ = new QComboBox;
    adapter_place_->setObjectName("adapter_placement");
    adapter_place_->addItem("Houlsby: after attention and feed-forward", "houlsby");
    adapter_place_->addItem("Pfeiffer: after feed-forward", "pfeiffer");
    adapter_act_ = new QComboBox;
    adapter_act_->addItems({"relu", "gelu", "tanh", "swish"});
    adapter_act_->setToolTip("The adapters' activation");
    pf->addRow("Adapters:", widget_row({adapter_size_, adapter_place_, adapter_act_}, false));
    grid->addWidget(method_box, 0, 1);

    // ---- Training
    auto* train_box = new QGroupBox("Training");
    auto* tg = new QGridLayout(train_box);
    lr_ = new RateSpinBox;
    lr_->setToolTip("Adam's learning rate. THUDM's P-Tuning v2 scripts use 5e-3 to 1e-2 (up to 6e-2 for NER); "
                    "the arrows halve or double it.");
    lr_->setObjectName("lr");
    schedule_ = new QComboBox;
    schedule_->addItems({"linear", "constant"});
    warmup_ = ispin(0, 1 << 30);
    warmup_->setSuffix(" warm-up steps");
    batch_ = ispin(1, 65536);
    batch_->setObjectName("batch_size");
    length_mode_ = new QComboBox;
    length_mode_->setObjectName("length_mode");
    length_mode_->addItems({"epochs", "steps"});
    length_ = ispin(1, 1 << 30);
    length_->setObjectName("length");
    max_len_ = ispin(4, 1 << 20);
    max_len_->setObjectName("max_len");
    max_len_->setToolTip("Tokens per input, special tokens included. max length + P must fit the model's position table.");
    seed_ = ispin(0, std::numeric_limits<int>::max());
    seed_->setObjectName("seed");
    clip_ = dspin(0, 1000, 2, 0.5);
    clip_->setSpecialValueText("off");
    weight_decay_ = dspin(0, 10, 4, 0.01);
    eval_every_ = ispin(0, 1 << 30);
    eval_every_->setObjectName("eval_every");
    eval_every_->setSpecialValueText("each epoch");
    eval_every_->setSuffix(" steps");
    metric_ = new QComboBox;
    metric_->setObjectName("metric");
    for (const char* k : {"accuracy", "f1", "f1_pos", "mcc", "loss", "exact_match", "perplexity", "entity_f1", "tag_accuracy",
                          "qa_f1"})
        metric_->addItem(q(metric_display_name(k)), QString(k));
    metric_->setItemData(9, "Extractive QA: the official SQuAD script's F1 (words shared with the best gold answer)",
                         Qt::ToolTipRole);
    metric_->setItemData(7, "Token classification: entity F1 (micro) as seqeval computes it", Qt::ToolTipRole);
    metric_->setItemData(8, "Token classification: the share of words whose tag is right", Qt::ToolTipRole);
    metric_->setItemData(5, "Causal LM: the greedy answer (up to the end of sequence) equals the target; QA: the SQuAD "
                            "script's exact match", Qt::ToolTipRole);
    metric_->setItemData(6, "Causal LM: exp of the loss on the target tokens (lower is better)", Qt::ToolTipRole);
    metric_->setItemData(1, "The mean of every label's F1 (unweighted)", Qt::ToolTipRole);
    metric_->setItemData(2, "Two labels only: the F1 of label 1, the positive one (spam, positive, ...)", Qt::ToolTipRole);
    patience_ = ispin(0, 100000);
    patience_->setSpecialValueText("off");
    patience_->setSuffix(" evaluations");
    keep_best_ = new QCheckBox("keep the best evaluation's state");
    device_ = new QComboBox;
    device_->setObjectName("device");
    for (const DeviceInfo& d : list_devices()) {
        QString label = q(d.name);
        if (d.memory_bytes > 0) label += QString(" — %1 GiB").arg(double(d.memory_bytes) / (1 << 30), 0, 'f', 0);
        device_->addItem(d.id == "cpu" ? label : q(d.id) + ": " + label, q(d.id));
    }
    threads_ = ispin(0, 1024);
    threads_->setSpecialValueText("all cores");
    latency_ = new QCheckBox("measure inference latency after training");
    latency_->setObjectName("measure_latency");
    latency_->setToolTip("The base model against the trained method (and LoRA / IA³ merged), measured side by side "
                         "and stored with the run: the Compare view's inference overhead");
    latency_batch_ = ispin(1, 4096);
    latency_batch_->setPrefix("batch ");
    latency_len_ = ispin(0, 1 << 20);
    latency_len_->setPrefix("length ");
    latency_len_->setSpecialValueText("length = max length");
    int r = 0;
    auto add = [&](const QString& label, QWidget* w, int col) {
        tg->addWidget(new QLabel(label), r, col * 2);
        tg->addWidget(w, r, col * 2 + 1);
    };
    add("Learning rate:", lr_, 0);
    add("Schedule:", widget_row({schedule_, warmup_}, false), 1);
    ++r;
    add("Batch size:", batch_, 0);
    add("Train for:", widget_row({length_, length_mode_}), 1);
    ++r;
    add("Max length:", max_len_, 0);
    add("Seed:", seed_, 1);
    ++r;
    add("Gradient clip:", clip_, 0);
    add("Weight decay:", weight_decay_, 1);
    ++r;
    add("Evaluate every:", eval_every_, 0);
    add("Metric:", metric_, 1);
    ++r;
    add("Early stopping:", patience_, 0);
    tg->addWidget(keep_best_, r, 2, 1, 2);
    ++r;
    add("Device:", device_, 0);
    add("Threads:", threads_, 1);
    ++r;
    tg->addWidget(new QLabel("Latency:"), r, 0);
    tg->addWidget(widget_row({latency_, latency_batch_, latency_len_}, false), r, 1, 1, 3);
    tg->setColumnStretch(1, 1);
    tg->setColumnStretch(3, 1);
    grid->addWidget(train_box, 1, 1);

    // ---- Run
    auto* run_box = new QGroupBox("Run");
    auto* rf = new QFormLayout(run_box);
    name_ = new QLineEdit;
    name_->setObjectName("name");
    name_->setPlaceholderText("(automatic: method, P, depth and data)");
    tags_ = new QLineEdit;
    tags_->setPlaceholderText("comma separated, e.g. baseline, sweep-1");
    notes_ = new QPlainTextEdit;
    notes_->setMaximumHeight(54);
    notes_->setPlaceholderText("notes kept with the run");
    out_dir_ = new QLineEdit;
    out_dir_->setPlaceholderText("(default: <database>-runs/run-<id>/adapter)");
    // Reproduction presets: the P-Tuning v2 authors' hyperparameters for a task fill the form (the model and data
    // stay the user's); the spec records the preset.
    preset_ = new QComboBox;
    preset_->setObjectName("preset");
    preset_->addItem("(none)", QString());
    for (const Preset& p : presets()) {
        preset_->addItem(q(p.title), q(p.id));
        preset_->setItemData(preset_->count() - 1,
                             QString("%1: %2 on %3. P = %4, lr %5, batch %6, %7 epochs, dropout %8, max length %9, seed %10")
                                 .arg(q(p.script), q(p.dataset), q(p.backbone))
                                 .arg(p.prompt_len)
                                 .arg(p.lr)
                                 .arg(p.batch_size)
                                 .arg(p.epochs)
                                 .arg(p.hidden_dropout)
                                 .arg(p.max_len)
                                 .arg(p.seed),
                             Qt::ToolTipRole);
    }
    preset_->setToolTip("Fill the form with the hyperparameters of the P-Tuning v2 authors' run script for a task "
                        "(THUDM/P-tuning-v2); choose your model and data files");
    connect(preset_, &QComboBox::activated, this, [this](int i) {
        if (filling_) return;
        const QString id = preset_->itemData(i).toString();
        ExperimentSpec s = spec();
        if (id.isEmpty()) {
            s.preset.clear();
            s.train.hidden_dropout = -1;
        } else {
            s = apply_preset(s, find_preset(id.toStdString()));
        }
        set_spec(s);
    });
    rf->addRow("Preset:", preset_);
    rf->addRow("Name:", name_);
    rf->addRow("Tags:", tags_);
    rf->addRow("Notes:", notes_);
    rf->addRow("Adapter folder:", out_dir_);
    grid->addWidget(run_box, 2, 1);
    grid->setRowStretch(3, 1);

    scroll->setWidget(content);
    outer->addWidget(scroll, 1);

    // ---- The bottom bar: what Run would train, what is wrong, and the buttons.
    auto* bar = new QFrame;
    bar->setFrameShape(QFrame::StyledPanel);
    auto* bl = new QHBoxLayout(bar);
    auto* texts = new QVBoxLayout;
    counts_info_ = new QLabel;
    counts_info_->setObjectName("counts_info");
    counts_info_->setWordWrap(true);
    messages_ = new QLabel;
    messages_->setObjectName("messages");
    messages_->setWordWrap(true);
    messages_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    texts->addWidget(counts_info_);
    texts->addWidget(messages_);
    bl->addLayout(texts, 1);
    run_button_ = new QPushButton("Run");
    run_button_->setObjectName("run_button");
    run_button_->setDefault(true);
    run_button_->setMinimumWidth(110);
    run_button_->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
    connect(run_button_, &QPushButton::clicked, this, [this] {
        validate();
        if (errors_.isEmpty() && !checks_pending()) Q_EMIT run_requested();
    });
    bl->addWidget(run_button_, 0, Qt::AlignBottom);
    outer->addWidget(bar);
}

void SetupPanel::connect_changes() {
    auto any = [this] { changed(); };
    for (QLineEdit* e : {name_, tags_, out_dir_, init_adapter_}) connect(e, &QLineEdit::textChanged, this, any);
    connect(notes_, &QPlainTextEdit::textChanged, this, any);
    connect(model_edit_, &QLineEdit::textChanged, this, &SetupPanel::model_changed);
    for (QLineEdit* e : {train_edit_, valid_edit_}) connect(e, &QLineEdit::textChanged, this, &SetupPanel::data_changed);
    for (QComboBox* c : {format_, bad_rows_, valid_mode_, tag_scheme_})
        connect(c, &QComboBox::currentIndexChanged, this, &SetupPanel::data_changed);
    for (QLineEdit* e : {tokens_col_, tags_col_}) connect(e, &QLineEdit::textChanged, this, &SetupPanel::data_changed);
    connect(label_all_, &QCheckBox::toggled, this, [this] { changed(); });
    for (QSpinBox* b : {doc_stride_, max_question_, n_best_, max_answer_})
        connect(b, qOverload<int>(&QSpinBox::valueChanged), this, [this] { changed(); });
    connect(null_threshold_, qOverload<double>(&QDoubleSpinBox::valueChanged), this, [this] { changed(); });
    for (QComboBox* c : {text_col_, pair_col_, label_col_})
        connect(c, &QComboBox::currentTextChanged, this, &SetupPanel::data_changed);
    connect(valid_fraction_, &QDoubleSpinBox::valueChanged, this, &SetupPanel::data_changed);
    for (QSpinBox* s : {split_seed_, max_rows_}) connect(s, &QSpinBox::valueChanged, this, &SetupPanel::data_changed);
    connect(depth_preset_, &QComboBox::currentIndexChanged, this, &SetupPanel::depth_preset_changed);
    connect(depth_k_, &QSpinBox::valueChanged, this, &SetupPanel::depth_preset_changed);
    connect(strip_, &LayerStrip::selection_changed, this, &SetupPanel::strip_changed);
    for (QSpinBox* s : {prompt_len_, mlp_hidden_, warmup_, batch_, length_, max_len_, seed_, eval_every_, patience_, threads_})
        connect(s, &QSpinBox::valueChanged, this, any);
    for (QDoubleSpinBox* s : {dropout_, init_std_, lr_, clip_, weight_decay_})
        connect(s, &QDoubleSpinBox::valueChanged, this, any);
    for (QComboBox* c : {init_, schedule_, length_mode_, metric_, device_, prompt_init_, encoder_, adapter_place_, adapter_act_})
        connect(c, &QComboBox::currentIndexChanged, this, any);
    connect(method_, &QComboBox::currentIndexChanged, this, [this] {
        show_method_rows();
        changed();
    });
    connect(task_, &QComboBox::currentIndexChanged, this, [this] {
        show_task_rows();
        if (data_) show_data_summary();   // labels or targets
        data_changed();
    });
    connect(template_, &QLineEdit::textChanged, this, any);
    for (QLineEdit* e : {prompt_text_, targets_}) connect(e, &QLineEdit::textChanged, this, any);
    for (QSpinBox* sp : {encoder_hidden_, lora_r_, adapter_size_, latency_batch_, latency_len_})
        connect(sp, &QSpinBox::valueChanged, this, any);
    for (QDoubleSpinBox* sp : {lora_alpha_, lora_dropout_}) connect(sp, &QDoubleSpinBox::valueChanged, this, any);
    for (QCheckBox* c : {mlp_, keep_best_, latency_}) connect(c, &QCheckBox::toggled, this, any);
    connect(latency_, &QCheckBox::toggled, this, [this](bool on) {
        latency_batch_->setEnabled(on);
        latency_len_->setEnabled(on);
    });
}

ExperimentSpec SetupPanel::spec() const {
    // What has no widget stays as the loaded spec had it; every field with a widget is set below.
    ExperimentSpec s = base_;
    s.method.delta = DeltaOptions{};   // lists below are appended to
    s.tags.clear();
    s.suite.clear();                   // a run started from the form is not part of the suite it came from
    s.name = s_(name_->text());
    s.model = s_(model_edit_->text());
    if (s.model.empty()) s.model = "builtin";
    s.data.train = s_(train_edit_->text());
    if (s.data.train.empty()) s.data.train = "builtin";
    const bool separate = valid_mode_->currentIndex() == 1;
    s.data.valid = separate ? s_(valid_edit_->text()) : std::string();
    s.data.valid_fraction = separate ? 0.0 : valid_fraction_->value() / 100.0;
    // A seed beyond the spin box's range is kept as it was unless the box was changed.
    auto seed_of = [](const QSpinBox* box, uint64_t was) {
        const uint64_t shown = was > (uint64_t)box->maximum() ? (uint64_t)box->maximum() : was;
        return (uint64_t)box->value() == shown ? was : (uint64_t)box->value();
    };
    s.data.split_seed = seed_of(split_seed_, base_.data.split_seed);
    s.data.format = s_(format_->currentText());
    s.data.text_column = s_(combo_value(text_col_));
    s.data.text_pair_column = s_(combo_value(pair_col_));
    s.data.label_column = s_(combo_value(label_col_));
    s.task = s_(task_->currentData().toString());
    s.data.prompt_template = s.task == "causal-lm" ? template_->text().toStdString() : std::string();
    if (s.task != "causal-lm") s.data.target_column.clear();
    const bool tagging = s.task == "token-cls";
    s.data.tokens_column = tagging ? s_(tokens_col_->text()) : std::string();
    s.data.tags_column = tagging ? s_(tags_col_->text()) : std::string();
    s.data.tag_scheme = tagging ? s_(tag_scheme_->currentData().toString()) : std::string("auto");
    s.data.label_all_subtokens = tagging && label_all_->isChecked();
    if (tagging) s.data.text_column.clear(), s.data.text_pair_column.clear(), s.data.label_column.clear();
    if (s.task == "choice") s.data.text_column.clear(), s.data.text_pair_column.clear(), s.data.label_column.clear();
    if (s.task == "qa") {
        s.data.text_column.clear(), s.data.text_pair_column.clear(), s.data.label_column.clear();
        s.data.doc_stride = doc_stride_->value();
        s.data.max_question_len = max_question_->value();
        s.data.n_best = n_best_->value();
        s.data.max_answer_len = max_answer_->value();
        s.data.null_threshold = null_threshold_->value();
    } else {
        const DataSpec plain;
        s.data.doc_stride = plain.doc_stride, s.data.max_question_len = plain.max_question_len;
        s.data.n_best = plain.n_best, s.data.max_answer_len = plain.max_answer_len;
        s.data.null_threshold = plain.null_threshold;
    }
    s.data.on_bad_row = s_(bad_rows_->currentText());
    s.data.max_rows = max_rows_->value();

    s.method.name = method_->currentData().toString().toStdString();
    DeltaOptions& dl = s.method.delta;
    dl.prompt_init = s_(prompt_init_->currentText());
    dl.prompt_init_text = prompt_text_->text().toStdString();
    dl.encoder = s_(encoder_->currentText());
    dl.encoder_hidden = encoder_hidden_->value();
    dl.lora_r = lora_r_->value();
    dl.lora_alpha = lora_alpha_->value();
    dl.lora_dropout = lora_dropout_->value();
    dl.rslora = rslora_;
    for (const QString& t : targets_->text().split(',', Qt::SkipEmptyParts))
        if (!t.trimmed().isEmpty()) dl.target_modules.push_back(s_(t));
    dl.feedforward_modules = feedforward_;
    dl.adapter_size = adapter_size_->value();
    dl.adapter_placement = s_(adapter_place_->currentData().toString());
    dl.adapter_act = s_(adapter_act_->currentText());
    PrefixOptions& p = s.method.prefix;
    p.prompt_len = prompt_len_->value();
    if (strip_->layer_count() > 0)
        p.layers = LayerSpec::from_layers(strip_->selected(), strip_->layer_count());
    else
        p.layers = layers_text_.empty() ? LayerSpec{} : LayerSpec::parse(layers_text_);
    p.mlp = mlp_->isChecked();
    p.mlp_hidden = mlp_hidden_->value();
    p.dropout = dropout_->value();
    p.init = init_from_name(s_(init_->currentText()));
    p.init_std = init_std_->value();
    s.method.init_adapter = s_(init_adapter_->text());

    TrainOptions& t = s.train;
    t.lr = lr_->value();
    t.schedule = s_(schedule_->currentText());
    t.warmup_steps = warmup_->value();
    t.batch_size = batch_->value();
    if (length_mode_->currentIndex() == 0) {
        t.epochs = length_->value();
        t.steps = 0;
    } else {
        t.steps = length_->value();
        t.epochs = 0;
    }
    t.max_len = max_len_->value();
    t.seed = seed_of(seed_, base_.train.seed);
    t.max_grad_norm = clip_->value();
    t.weight_decay = weight_decay_->value();
    t.eval_every = eval_every_->value();
    t.metric = s_(metric_->currentData().toString());
    t.early_stopping_patience = patience_->value();
    t.keep_best = keep_best_->isChecked();
    t.device = device_->currentData().toString().toStdString();
    if (t.device.empty()) t.device = s_(device_->currentText());
    t.threads = threads_->value();
    s.latency.measure = latency_->isChecked();
    s.latency.batch_size = latency_batch_->value();
    s.latency.seq_len = latency_len_->value();
    s.latency.repeats = latency_repeats_;
    s.latency.warmup = latency_warmup_;

    for (const QString& tag : tags_->text().split(',', Qt::SkipEmptyParts))
        if (!tag.trimmed().isEmpty()) s.tags.push_back(s_(tag));
    s.notes = notes_->toPlainText().toStdString();
    s.out_dir = s_(out_dir_->text());
    return s;
}

void SetupPanel::set_spec(const ExperimentSpec& s) {
    filling_ = true;
    base_ = s;
    name_->setText(q(s.name));
    model_edit_->setText(q(s.model));
    train_edit_->setText(q(s.data.train));
    valid_mode_->setCurrentIndex(s.data.valid.empty() ? 0 : 1);
    valid_edit_->setText(q(s.data.valid));
    valid_fraction_->setValue(s.data.valid.empty() ? s.data.valid_fraction * 100.0 : 10.0);
    split_seed_->setValue((int)std::min<uint64_t>(s.data.split_seed, (uint64_t)split_seed_->maximum()));
    format_->setCurrentIndex(std::max(0, format_->findText(q(s.data.format))));
    set_combo_text(text_col_, q(s.data.text_column), kAuto);
    set_combo_text(pair_col_, q(s.data.text_pair_column), kNone);
    set_combo_text(label_col_, q(s.data.label_column), kAuto);
    task_->setCurrentIndex(std::max(0, task_->findData(q(s.task))));
    template_->setText(q(s.data.prompt_template));
    tokens_col_->setText(q(s.data.tokens_column));
    tags_col_->setText(q(s.data.tags_column));
    tag_scheme_->setCurrentIndex(std::max(0, tag_scheme_->findData(q(s.data.tag_scheme))));
    label_all_->setChecked(s.data.label_all_subtokens);
    doc_stride_->setValue((int)s.data.doc_stride);
    max_question_->setValue((int)s.data.max_question_len);
    n_best_->setValue((int)s.data.n_best);
    max_answer_->setValue((int)s.data.max_answer_len);
    null_threshold_->setValue(s.data.null_threshold);
    bad_rows_->setCurrentIndex(s.data.on_bad_row == "skip" ? 1 : 0);
    max_rows_->setValue((int)s.data.max_rows);

    method_->setCurrentIndex(std::max(0, method_->findData(q(s.method.name))));
    const DeltaOptions& dl = s.method.delta;
    prompt_init_->setCurrentIndex(std::max(0, prompt_init_->findText(q(dl.prompt_init))));
    prompt_text_->setText(q(dl.prompt_init_text));
    encoder_->setCurrentIndex(std::max(0, encoder_->findText(q(dl.encoder))));
    encoder_hidden_->setValue((int)dl.encoder_hidden);
    lora_r_->setValue((int)dl.lora_r);
    lora_alpha_->setValue(dl.lora_alpha);
    lora_dropout_->setValue(dl.lora_dropout);
    rslora_ = dl.rslora;                     // kept from a spec file (no widget yet)
    feedforward_ = dl.feedforward_modules;   // idem
    QStringList targets;
    for (auto& t : dl.target_modules) targets << q(t);
    targets_->setText(targets.join(", "));
    adapter_size_->setValue((int)dl.adapter_size);
    adapter_place_->setCurrentIndex(std::max(0, adapter_place_->findData(q(dl.adapter_placement))));
    adapter_act_->setCurrentIndex(std::max(0, adapter_act_->findText(q(dl.adapter_act))));
    const PrefixOptions& p = s.method.prefix;
    prompt_len_->setValue((int)p.prompt_len);
    layers_text_ = p.layers.text;
    mlp_->setChecked(p.mlp);
    mlp_hidden_->setValue((int)p.mlp_hidden);
    dropout_->setValue(p.dropout);
    init_->setCurrentIndex(p.init == PromptInit::Zeros ? 1 : 0);
    init_std_->setValue(p.init_std);
    init_adapter_->setText(q(s.method.init_adapter));

    const TrainOptions& t = s.train;
    lr_->setValue(t.lr);
    schedule_->setCurrentIndex(t.schedule == "constant" ? 1 : 0);
    warmup_->setValue((int)t.warmup_steps);
    batch_->setValue((int)t.batch_size);
    length_mode_->setCurrentIndex(t.steps > 0 ? 1 : 0);
    length_->setValue((int)(t.steps > 0 ? t.steps : t.epochs));
    max_len_->setValue((int)t.max_len);
    seed_->setValue((int)std::min<uint64_t>(t.seed, (uint64_t)seed_->maximum()));
    clip_->setValue(t.max_grad_norm);
    weight_decay_->setValue(t.weight_decay);
    eval_every_->setValue((int)t.eval_every);
    metric_->setCurrentIndex(std::max(0, metric_->findData(q(t.metric))));
    patience_->setValue((int)t.early_stopping_patience);
    keep_best_->setChecked(t.keep_best);
    int dev = device_->findData(q(t.device));
    if (dev < 0 && t.device == "cuda") dev = device_->findData("cuda:0");
    if (dev < 0) {
        // A spec for a device this machine lacks: keep it visible (validation says it is missing).
        device_->addItem(q(t.device) + " (not available here)", q(t.device));
        dev = device_->count() - 1;
    }
    device_->setCurrentIndex(dev);
    threads_->setValue(t.threads);
    latency_->setChecked(s.latency.measure);
    latency_batch_->setValue(s.latency.batch_size);
    latency_len_->setValue(s.latency.seq_len);
    latency_batch_->setEnabled(s.latency.measure);
    latency_len_->setEnabled(s.latency.measure);
    latency_repeats_ = s.latency.repeats;
    latency_warmup_ = s.latency.warmup;

    QStringList tags;
    for (auto& tag : s.tags) tags << q(tag);
    tags_->setText(tags.join(", "));
    notes_->setPlainText(q(s.notes));
    out_dir_->setText(q(s.out_dir));
    preset_->setCurrentIndex(std::max(0, preset_->findData(q(s.preset))));
    filling_ = false;
    show_method_rows();
    show_task_rows();
    // The strip is drawn once the model's layer count is known; until then the layer spec text is kept.
    apply_layers_text();
    model_changed();
    data_changed();
}

void SetupPanel::apply_layers_text() {
    const int n = strip_->layer_count();
    if (n <= 0) return;
    const bool was = filling_;
    filling_ = true;
    std::vector<int> layers;
    try {
        layers = LayerSpec::parse(layers_text_).resolve(n);
    } catch (const Error&) {
        layers.clear();   // out of range for this model: validation reports the empty selection
    }
    strip_->set_selected(layers);
    // The preset follows the text: all / first:K / last:K / a list.
    const std::string& t = layers_text_;
    int preset = 3, k = (int)std::max<size_t>(1, layers.size());
    if (t == "all") preset = 0;
    else if (t.rfind("first:", 0) == 0) preset = 1;
    else if (t.rfind("last:", 0) == 0) preset = 2;
    depth_k_->setMaximum(std::max(1, n));
    depth_preset_->setCurrentIndex(preset);
    depth_k_->setValue(std::min(k, n));
    depth_k_->setEnabled(preset == 1 || preset == 2);
    filling_ = was;
}

void SetupPanel::depth_preset_changed() {
    if (filling_) return;
    const int n = strip_->layer_count();
    const int preset = depth_preset_->currentIndex();
    depth_k_->setEnabled(preset == 1 || preset == 2);
    if (n <= 0) return;
    const int k = std::min(depth_k_->value(), n);
    std::vector<int> layers;
    if (preset == 0) {
        for (int i = 0; i < n; ++i) layers.push_back(i);
    } else if (preset == 1) {
        for (int i = 0; i < k; ++i) layers.push_back(i);
    } else if (preset == 2) {
        for (int i = n - k; i < n; ++i) layers.push_back(i);
    } else {
        return;   // custom: the strip is edited by hand
    }
    filling_ = true;
    strip_->set_selected(layers);
    filling_ = false;
    layers_text_ = LayerSpec::from_layers(layers, n).text;
    changed();
}

void SetupPanel::strip_changed() {
    if (filling_) return;
    const int n = strip_->layer_count();
    const std::vector<int> sel = strip_->selected();
    layers_text_ = sel.empty() ? std::string() : LayerSpec::from_layers(sel, n).text;
    // Reflect the shape in the preset, without moving the strip.
    filling_ = true;
    const std::string& t = layers_text_;
    if (t == "all") depth_preset_->setCurrentIndex(0);
    else if (t.rfind("first:", 0) == 0) depth_preset_->setCurrentIndex(1), depth_k_->setValue((int)sel.size());
    else if (t.rfind("last:", 0) == 0) depth_preset_->setCurrentIndex(2), depth_k_->setValue((int)sel.size());
    else depth_preset_->setCurrentIndex(3);
    depth_k_->setEnabled(depth_preset_->currentIndex() == 1 || depth_preset_->currentIndex() == 2);
    filling_ = false;
    changed();
}

void SetupPanel::changed() {
    if (filling_) return;
    update_counts();
    debounce_->start();
    Q_EMIT spec_changed();
}

bool SetupPanel::checks_pending() const { return pending_checks_ > 0 || debounce_->isActive(); }

std::optional<ModelSummary> SetupPanel::model_summary() const { return model_; }
std::optional<DataSummary> SetupPanel::data_summary() const { return data_; }
int SetupPanel::preview_rows() const { return preview_->rowCount(); }

void SetupPanel::set_busy(bool queue_running) {
    run_button_->setText(queue_running ? "Queue" : "Run");
    run_button_->setToolTip(queue_running ? "Add this experiment to the queue; it starts when the runs before it end"
                                          : "Train this experiment now (Ctrl+R)");
}

void SetupPanel::run_async(std::function<void()> work, std::function<void()> done) {
    ++pending_checks_;
    QThread* t = QThread::create(std::move(work));
    checks_.push_back(t);
    connect(t, &QThread::finished, this, [this, t, done = std::move(done)] {
        --pending_checks_;
        checks_.erase(std::remove(checks_.begin(), checks_.end(), t), checks_.end());
        t->deleteLater();
        done();
    });
    t->start();
}

void SetupPanel::model_changed() {
    if (filling_) return;
    const std::string key = s_(model_edit_->text()).empty() ? "builtin" : s_(model_edit_->text());
    if (key == model_key_ && (model_ || !model_error_.empty())) {
        changed();
        return;
    }
    const int gen = ++model_gen_;
    model_info_->setText("<i>Reading the model…</i>");
    auto result = std::make_shared<std::pair<std::optional<ModelSummary>, std::string>>();
    run_async(
        [key, result] {
            try {
                result->first = summarize_model(key);
            } catch (const std::exception& e) {
                result->second = e.what();
            }
        },
        [this, gen, key, result] {
            if (gen != model_gen_) return;   // superseded by a later edit
            model_key_ = key;
            model_ = result->first;
            model_error_ = result->second;
            show_model_summary();
            changed();
        });
    changed();
}

void SetupPanel::show_model_summary() {
    if (!model_) {
        model_info_->setText("<span style='color:#d62728'>✖ " + html_escape(q(model_error_)) + "</span>");
        strip_->set_layer_count(0);
        return;
    }
    show_model_info();
    const ModelSummary& m = *model_;
    const bool was = filling_;
    filling_ = true;
    strip_->set_layer_count((int)m.layers);
    const QString task_before = task_->currentData().toString();
    offer_tasks();
    const bool task_moved = task_->currentData().toString() != task_before;
    filling_ = was;
    apply_layers_text();
    // The task the model allows reads the data its own way (tagged words or rows).
    if (task_moved) {
        show_task_rows();
        data_changed();
    }
}

void SetupPanel::show_model_info() {
    if (!model_) return;
    const ModelSummary& m = *model_;
    const QString task = task_->currentData().toString();
    QString labels = m.labels.empty() ? "none named" : QString::number(m.labels.size());
    if (!m.labels.empty() && m.labels.size() <= 6) {
        QStringList l;
        for (auto& x : m.labels) l << q(x);
        labels += " (" + l.join(", ") + ")";
    }
    const int64_t usable = m.max_positions - m.position_offset;
    const QString heads = m.kv_heads && m.kv_heads != m.heads ? QString("%1 heads, %2 key/value").arg(m.heads).arg(m.kv_heads)
                                                              : QString("%1 heads").arg(m.heads);
    const QString positions = m.causal_lm && m.max_positions == 0 ? QString("rotary (no table)") : QString::number(m.max_positions);
    model_info_->setText(
        QString("<table cellspacing=2>"
                "<tr><td><b>Architecture</b></td><td>%1 (%2)</td><td>&nbsp;&nbsp;<b>Parameters</b></td><td>%3</td></tr>"
                "<tr><td><b>Layers</b></td><td>%4</td><td>&nbsp;&nbsp;<b>Hidden</b></td><td>%5 (%6, FFN %7)</td></tr>"
                "<tr><td><b>Max positions</b></td><td>%8%9</td><td>&nbsp;&nbsp;<b>Vocabulary</b></td><td>%10</td></tr>"
                "<tr><td><b>Tokenizer</b></td><td colspan=3>%11</td></tr>"
                "<tr><td><b>%13</b></td><td colspan=3>%12</td></tr></table>")
            .arg(q(m.arch), html_escape(q(m.model_type)), human_count(m.params))
            .arg(m.layers)
            .arg(m.hidden)
            .arg(heads)
            .arg(m.intermediate)
            .arg(positions)
            .arg(m.position_offset ? QString(" (%1 usable)").arg(usable) : QString())
            .arg(QLocale().toString((qlonglong)m.vocab), html_escape(q(m.tokenizer)),
                 m.causal_lm            ? QString("next-token prediction over the vocabulary: it generates each row's target")
                : task == "token-cls" ? QString("a new token head over the data's tags (classifier [tags, %1])").arg(m.hidden)
                : task == "qa"        ? QString("a new span head for answer starts and ends (qa_outputs [2, %1])").arg(m.hidden)
                : task == "choice"    ? QString("a new head scoring each (context, choice) pair on the pooler (classifier [1, %1])").arg(m.hidden)
                                      : html_escape(labels))
            .arg(m.causal_lm ? QString("Output") : task == "seq-cls" ? QString("Labels") : QString("Head")));
}

void SetupPanel::data_changed() {
    if (filling_) return;
    const bool separate = valid_mode_->currentIndex() == 1;
    valid_edit_->setEnabled(separate);
    valid_browse_->setEnabled(separate);
    // The built-in data brings its own validation file; a split setting would not be used.
    const bool builtin_valid = !separate && (train_edit_->text().trimmed() == "builtin" || train_edit_->text().trimmed().isEmpty());
    valid_fraction_->setEnabled(!separate && !builtin_valid);
    split_seed_->setEnabled(!separate && !builtin_valid);
    valid_fraction_->setToolTip(builtin_valid ? "The built-in data set has its own validation file" : QString());
    const DataSpec d = spec().data;
    const bool tagging = task_->currentData().toString() == "token-cls";
    const bool qa = task_->currentData().toString() == "qa";
    const bool choice = task_->currentData().toString() == "choice";
    json key = {d.train, d.valid, d.valid_fraction, d.split_seed, d.format, d.text_column, d.text_pair_column,
                d.label_column, d.on_bad_row, d.max_rows, tagging, d.tokens_column, d.tags_column, d.tag_scheme, qa,
                choice};
    const std::string k = key.dump();
    if (k == data_key_) {
        changed();
        return;
    }
    const int gen = ++data_gen_;
    data_info_->setText("<i>Reading the data…</i>");
    struct Result {
        std::optional<DataSummary> summary;
        std::string error;
        std::vector<std::vector<std::string>> rows;
        std::vector<std::string> cols;
        std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> tagged_rows;
        std::vector<QaPreview> qa_rows;
        std::vector<ChoiceExample> choice_rows;
        bool tagged_file = false, qa_file = false, choice_file = false;
    };
    auto result = std::make_shared<Result>();
    run_async(
        [d, result, tagging, qa, choice] {
            if (d.train != "builtin") result->tagged_file = looks_like_tagged_data(d.train);
            if (d.train != "builtin") result->qa_file = looks_like_qa_data(d.train);
            if (d.train != "builtin") result->choice_file = looks_like_choice_data(d.train);
            // The preview and the summary, each failing on its own (the first error is shown).
            auto read = [&](const std::function<void()>& preview, const std::function<DataSummary()>& summarize) {
                try {
                    preview();
                } catch (const std::exception& e) {
                    result->error = e.what();
                }
                try {
                    result->summary = summarize();
                } catch (const std::exception& e) {
                    if (result->error.empty()) result->error = e.what();
                }
            };
            if (choice)
                return read([&] { result->choice_rows = preview_choice(d, 50); }, [&] { return summarize_choice(d); });
            if (qa) return read([&] { result->qa_rows = preview_qa(d, 50); }, [&] { return summarize_qa(d); });
            if (tagging)
                return read([&] { result->tagged_rows = preview_tagged(d, 50); }, [&] { return summarize_tagged(d); });
            // The preview reads only the first rows and tolerates bad ones, so it shows even when the mapping is
            // wrong; the summary reads the files as a run would.
            read(
                [&] {
                    std::string file = d.train;
                    if (file == "builtin") file = summarize_data(DataSpec{}).train_file;
                    auto fmt = parse_data_format(d.format).value_or(DataFormat::Auto);
                    result->rows = ptune::preview_rows(file, fmt, 50, &result->cols);
                },
                [&] { return summarize_data(d); });
        },
        [this, gen, k, result, tagging, qa, choice] {
            if (gen != data_gen_) return;
            data_is_tagged_ = result->tagged_file;
            data_is_qa_ = result->qa_file;
            data_is_choice_ = result->choice_file;
            // A file of tagged words means token classification, one of SQuAD questions extractive QA, one of
            // multiple-choice questions multiple choice (as `ptune train` decides), when the model can.
            if (!tagging && !qa && !choice && (result->tagged_file || result->qa_file || result->choice_file) &&
                task_->currentData().toString() == "seq-cls" && !(model_ && model_->causal_lm)) {
                task_->setCurrentIndex(task_->findData(QString(result->qa_file       ? "qa"
                                                               : result->choice_file ? "choice"
                                                                                     : "token-cls")));   // reads again
                return;
            }
            data_key_ = k;
            data_ = result->summary;
            data_error_ = data_ ? std::string() : result->error;
            preview_data_ = result->rows;
            preview_cols_ = result->cols;
            preview_tagged_ = result->tagged_rows;
            preview_qa_ = result->qa_rows;
            preview_choice_ = result->choice_rows;
            show_data_summary();
            changed();
        });
    changed();
}

void SetupPanel::fill_columns(const std::vector<std::string>& cols) {
    const bool was = filling_;
    filling_ = true;
    for (auto [combo, empty] : {std::pair{text_col_, kAuto}, std::pair{pair_col_, kNone}, std::pair{label_col_, kAuto}}) {
        const QString cur = combo_value(combo);
        combo->clear();
        combo->addItem(empty);
        for (auto& c : cols) combo->addItem(q(c));
        set_combo_text(combo, cur, empty);
    }
    filling_ = was;
}

namespace {
// A pale tint of series colour i (#rrggbb), so black text stays readable on it.
QString pale_series_color(int i) {
    const QColor c = series_color(i);
    auto pale = [](int v) { return 255 - (255 - v) * 35 / 100; };
    return QColor(pale(c.red()), pale(c.green()), pale(c.blue())).name();
}
}  // namespace

void SetupPanel::show_tagged_preview() {
    preview_->clear();
    preview_->setRowCount(0);
    preview_->setColumnCount(1);
    preview_->setHorizontalHeaderLabels({"sentence (tags coloured by entity type)"});
    preview_->setRowCount((int)preview_tagged_.size());
    // One colour per entity type, in order of appearance.
    std::map<std::string, int> colour;
    for (int r = 0; r < (int)preview_tagged_.size(); ++r) {
        const auto& [words, tags] = preview_tagged_[(size_t)r];
        QString html, plain;
        for (size_t i = 0; i < words.size(); ++i) {
            const std::string& t = i < tags.size() ? tags[i] : std::string("O");
            const QString w = html_escape(q(words[i]));
            plain += (i ? " " : "") + q(words[i]) + "/" + q(t);
            if (t == "O") {
                html += (i ? " " : "") + w;
                continue;
            }
            const std::string type = is_entity_tag(t) ? t.substr(2) : t;
            auto it = colour.emplace(type, (int)colour.size()).first;
            html += QString("%1<span style='background-color:%2'>%3<sub>%4</sub></span>")
                        .arg(i ? " " : "", pale_series_color(it->second), w, html_escape(q(t)));
        }
        auto* label = new QLabel("<span style='white-space:pre'>" + html + "</span>");
        label->setTextFormat(Qt::RichText);
        label->setToolTip(plain.left(2000));
        preview_->setCellWidget(r, 0, label);
    }
}

void SetupPanel::show_qa_preview() {
    preview_->clear();
    preview_->setRowCount(0);
    preview_->setColumnCount(2);
    preview_->setHorizontalHeaderLabels({"question", "context (the first answer highlighted)"});
    preview_->setRowCount((int)preview_qa_.size());
    const QString bg = pale_series_color(0);
    for (int r = 0; r < (int)preview_qa_.size(); ++r) {
        const QaPreview& p = preview_qa_[(size_t)r];
        auto* qi = new QTableWidgetItem(q(p.question));
        qi->setToolTip(q(p.id));
        preview_->setItem(r, 0, qi);
        QString html;
        if (p.answer_start >= 0) {
            const size_t a = (size_t)p.answer_start, n = p.answer.size();
            html = html_escape(q(p.context.substr(0, a))) +
                   QString("<span style='background-color:%1'><b>%2</b></span>").arg(bg, html_escape(q(p.context.substr(a, n)))) +
                   html_escape(q(p.context.substr(a + n)));
        } else {
            html = "<span style='color:#888'>(no answer)</span> " + html_escape(q(p.context));
        }
        auto* label = new QLabel("<span style='white-space:pre'>" + html + "</span>");
        label->setTextFormat(Qt::RichText);
        label->setToolTip(q(p.context).left(2000));
        preview_->setCellWidget(r, 1, label);
    }
    preview_->resizeColumnToContents(0);
}

void SetupPanel::show_choice_preview() {
    preview_->clear();
    preview_->setRowCount(0);
    preview_->setColumnCount(2);
    preview_->setHorizontalHeaderLabels({"context", "choices (the right one highlighted)"});
    preview_->setRowCount((int)preview_choice_.size());
    const QString bg = pale_series_color(0);
    for (int r = 0; r < (int)preview_choice_.size(); ++r) {
        const ChoiceExample& e = preview_choice_[(size_t)r];
        auto* ci = new QTableWidgetItem(q(e.context));
        ci->setToolTip(q(e.id) + ": " + q(e.context).left(2000));
        preview_->setItem(r, 0, ci);
        QString html, plain;
        for (size_t i = 0; i < e.choices.size(); ++i) {
            const QString t = QString("%1. %2").arg(i + 1).arg(html_escape(q(e.choices[i])));
            html += (i ? "&nbsp;&nbsp; " : "") +
                    ((int64_t)i == e.label ? QString("<span style='background-color:%1'><b>%2</b></span>").arg(bg, t) : t);
            plain += QString("%1%2. %3\n").arg((int64_t)i == e.label ? "✔ " : "").arg(i + 1).arg(q(e.choices[i]));
        }
        auto* label = new QLabel("<span style='white-space:pre'>" + html + "</span>");
        label->setTextFormat(Qt::RichText);
        label->setToolTip(plain.left(2000));
        preview_->setCellWidget(r, 1, label);
    }
    preview_->resizeColumnToContents(0);
    if (preview_->columnWidth(0) > 240) preview_->setColumnWidth(0, 240);
}

void SetupPanel::show_data_summary() {
    if (task_->currentData().toString() == "choice") {
        show_choice_preview();
        if (!data_) {
            data_info_->setText("<span style='color:#d62728'>✖ " + html_escape(q(data_error_)) + "</span>");
            return;
        }
        const DataSummary& d = *data_;
        QString text = QString("%1 training questions, %2 validation (%3); %4 layout, %5 choices")
                           .arg(d.train_rows)
                           .arg(d.valid_rows)
                           .arg(d.valid_file.empty() ? QString("split off") : html_escape(QFileInfo(q(d.valid_file)).fileName()))
                           .arg(q(d.choice_layout))
                           .arg(d.min_choices == d.max_choices ? QString::number(d.max_choices)
                                                               : QString("%1 to %2").arg(d.min_choices).arg(d.max_choices));
        QStringList right;
        for (size_t i = 0; i < d.train_counts.size(); ++i) right << QString::number(d.train_counts[i]);
        text += "<br>Right answer by position (train): " + right.join(" / ");
        if (d.skipped_rows)
            text += QString("<br><span style='color:#e08a00'>⚠ %1 bad questions skipped (first: %2)</span>")
                        .arg(d.skipped_rows)
                        .arg(html_escape(q(d.first_skipped)));
        data_info_->setText(text);
        return;
    }
    if (task_->currentData().toString() == "qa") {
        show_qa_preview();
        if (!data_) {
            data_info_->setText("<span style='color:#d62728'>✖ " + html_escape(q(data_error_)) + "</span>");
            return;
        }
        const DataSummary& d = *data_;
        QString text = QString("%1 training questions on %2 contexts, %3 validation on %4 (%5); SQuAD %6")
                           .arg(d.train_rows)
                           .arg(d.train_contexts)
                           .arg(d.valid_rows)
                           .arg(d.valid_contexts)
                           .arg(d.valid_file.empty() ? QString("split off by context")
                                                     : html_escape(QFileInfo(q(d.valid_file)).fileName()))
                           .arg(d.qa_v2 ? "2.0" : "1.1");
        if (d.qa_v2 && d.train_counts.size() == 2)
            text += QString(": %1 / %2 questions without an answer (train / valid)")
                        .arg(d.train_counts[1])
                        .arg(d.valid_counts.size() == 2 ? d.valid_counts[1] : 0);
        if (d.skipped_rows)
            text += QString("<br><span style='color:#e08a00'>⚠ %1 bad questions skipped (first: %2)</span>")
                        .arg(d.skipped_rows)
                        .arg(html_escape(q(d.first_skipped)));
        data_info_->setText(text);
        return;
    }
    if (task_->currentData().toString() == "token-cls") {
        show_tagged_preview();
        if (!data_) {
            data_info_->setText("<span style='color:#d62728'>✖ " + html_escape(q(data_error_)) + "</span>");
            return;
        }
        const DataSummary& d = *data_;
        QStringList ents;
        for (const auto& [type, c] : d.entities)
            ents << QString("<b>%1</b> %2 / %3").arg(html_escape(q(type))).arg(c.first).arg(c.second);
        QString text = QString("%1 training sentences (%2 words), %3 validation (%4 words; %5). %6 tags, scheme %7")
                           .arg(d.train_rows)
                           .arg(d.train_words)
                           .arg(d.valid_rows)
                           .arg(d.valid_words)
                           .arg(d.valid_file.empty() ? QString("split off") : html_escape(QFileInfo(q(d.valid_file)).fileName()))
                           .arg(d.label_names.size())
                           .arg(q(d.tag_scheme));
        if (!ents.isEmpty()) text += ". Entities (train / valid): " + ents.join(", ");
        if (d.skipped_rows)
            text += QString("<br><span style='color:#e08a00'>⚠ %1 bad sentences skipped (first: %2)</span>")
                        .arg(d.skipped_rows)
                        .arg(html_escape(q(d.first_skipped)));
        data_info_->setText(text);
        return;
    }
    // Preview table
    preview_->clear();
    preview_->setRowCount(0);
    preview_->setColumnCount((int)preview_cols_.size());
    QStringList headers;
    for (auto& c : preview_cols_) headers << q(c);
    preview_->setHorizontalHeaderLabels(headers);
    preview_->setRowCount((int)preview_data_.size());
    for (int r = 0; r < (int)preview_data_.size(); ++r)
        for (int c = 0; c < (int)preview_data_[(size_t)r].size() && c < (int)preview_cols_.size(); ++c) {
            QString cell = q(preview_data_[(size_t)r][(size_t)c]);
            auto* it = new QTableWidgetItem(cell.left(300));
            it->setToolTip(cell.left(2000));
            preview_->setItem(r, c, it);
        }
    preview_->resizeColumnsToContents();
    for (int c = 0; c < preview_->columnCount(); ++c)
        preview_->setColumnWidth(c, std::min(preview_->columnWidth(c), 360));
    fill_columns(preview_cols_);

    if (!data_) {
        data_info_->setText("<span style='color:#d62728'>✖ " + html_escape(q(data_error_)) + "</span>");
        return;
    }
    const DataSummary& d = *data_;
    QStringList parts;
    for (size_t i = 0; i < d.label_names.size(); ++i) {
        const int64_t tr = i < d.train_counts.size() ? d.train_counts[i] : 0;
        const int64_t va = i < d.valid_counts.size() ? d.valid_counts[i] : 0;
        parts << QString("<b>%1</b> %2 / %3").arg(html_escape(q(d.label_names[i]))).arg(tr).arg(va);
    }
    const bool causal = task_->currentData().toString() == "causal-lm";
    QString text = QString(causal ? "%1 training rows, %2 validation rows (%3). %4 distinct targets (train / valid): %5"
                                  : "%1 training rows, %2 validation rows (%3). %4 labels (train / valid): %5")
                       .arg(d.train_rows)
                       .arg(d.valid_rows)
                       .arg(d.valid_file.empty() ? QString("split off") : html_escape(QFileInfo(q(d.valid_file)).fileName()))
                       .arg(d.label_names.size())
                       .arg(parts.join(", "));
    if (d.skipped_rows)
        text += QString("<br><span style='color:#e08a00'>⚠ %1 bad rows skipped (first: %2)</span>")
                    .arg(d.skipped_rows)
                    .arg(html_escape(q(d.first_skipped)));
    data_info_->setText(text);
}

void SetupPanel::update_counts() {
    counts_.reset();
    if (!model_) {
        counts_info_->setText("Trainable parameters: choose a model that can be used.");
        return;
    }
    const ExperimentSpec s = spec();
    const int num_labels = data_ ? std::max<int>(2, (int)data_->label_names.size()) : 2;
    try {
        counts_ = count_params(s, num_labels);
    } catch (const std::exception& e) {
        counts_info_->setText(QString("Trainable parameters: %1").arg(q(e.what())));
        return;
    }
    const ModelSummary& m = *model_;
    const int64_t width = m.prefix_width > 0 ? m.prefix_width : m.hidden;   // a grouped-query decoder's is narrower
    const int64_t per_layer = s.method.prefix.mlp ? 0 : 2 * s.method.prefix.prompt_len * width;
    strip_->set_params_per_layer(per_layer);
    const int prompted = (int)strip_->selected().size();
    if (s.method.name != "ptv2") depth_info_->clear();
    else depth_info_->setText(s.method.prefix.mlp
                             ? QString("%1 of %2 layers carry prompts; the MLP produces all of them (its size dominates the cost).")
                                   .arg(prompted)
                                   .arg(m.layers)
                             : QString("%1 of %2 layers carry prompts; each costs 2 · P · %6 = 2 · %3 · %4 = %5 parameters.")
                                   .arg(prompted)
                                   .arg(m.layers)
                                   .arg(s.method.prefix.prompt_len)
                                   .arg(width)
                                   .arg(QLocale().toString((qlonglong)per_layer))
                                   .arg(m.causal_lm ? "kv_heads · head_dim" : "H"));
    QString steps;
    if (data_ && data_->train_rows > 0) {
        const int64_t per_epoch = (data_->train_rows + s.train.batch_size - 1) / s.train.batch_size;
        const int64_t total = s.train.steps > 0 ? s.train.steps : per_epoch * s.train.epochs;
        steps = QString(" &nbsp;·&nbsp; %1 steps (%2 per epoch)").arg(total).arg(per_epoch);
    }
    const QString part = has_prompt_len(s.method.name) ? "prompts"
                         : s.method.name == "full"                                                   ? "backbone"
                                                                                                     : q(s.method.name);
    counts_info_->setText(QString("<b>Trainable: %1</b> (%7 %2 + head %3) of %4 = <b>%5 %</b>%6")
                              .arg(QLocale().toString((qlonglong)counts_->trainable()))
                              .arg(QLocale().toString((qlonglong)counts_->prompt))
                              .arg(QLocale().toString((qlonglong)counts_->head))
                              .arg(human_count(counts_->backbone + counts_->trainable()))
                              .arg(counts_->share() * 100.0, 0, 'f', counts_->share() < 0.01 ? 3 : 2)
                              .arg(steps, part));
}

void SetupPanel::validate() {
    QStringList errors, warnings;
    const ExperimentSpec s = spec();
    if (!model_ && !model_error_.empty()) errors << "Model: " + q(model_error_);
    if (!data_ && !data_error_.empty()) errors << "Data: " + q(data_error_);
    try {
        s.validate();
    } catch (const std::exception& e) {
        errors << q(e.what());
    }
    if (model_) {
        const ModelSummary& m = *model_;
        if (s.method.name == "ptv2" && strip_->selected().empty()) errors << "Depth: choose at least one layer for the prompts";
        const int64_t usable = m.max_positions - m.position_offset;
        if (s.task == "causal-lm" && !m.causal_lm) errors << "Task: a causal LM task needs a decoder (gpt2, llama, mistral, qwen2, qwen3)";
        if (s.task != "causal-lm" && m.causal_lm)
            errors << QString("Task: this model is a causal LM; %1 needs an encoder for now")
                          .arg(s.task == "token-cls" ? "token classification"
                               : s.task == "qa"      ? "extractive QA"
                               : s.task == "choice"  ? "multiple choice"
                                                     : "sequence classification");
        if (m.max_positions > 0 && s.method.uses_prompt_len() && s.train.max_len + s.method.prefix.prompt_len > usable)
            errors << QString("Max length %1 + prompt length %2 = %3 exceeds the %4 positions of this model%5: the real "
                              "tokens' position ids start after the prompt. Lower max length to %6 or P to %7.")
                          .arg(s.train.max_len)
                          .arg(s.method.prefix.prompt_len)
                          .arg(s.train.max_len + s.method.prefix.prompt_len)
                          .arg(usable)
                          .arg(m.position_offset ? QString(" (%1 − %2)").arg(m.max_positions).arg(m.position_offset) : QString())
                          .arg(std::max<int64_t>(0, usable - s.method.prefix.prompt_len))
                          .arg(std::max<int64_t>(0, usable - s.train.max_len));
    }
    if (data_) {
        if (data_->label_names.size() < 2 && s.task != "causal-lm" && s.task != "qa" && s.task != "choice")
            errors << QString("Data: needs at least two %1 (found %2)")
                          .arg(s.task == "token-cls" ? "tags" : "labels")
                          .arg(data_->label_names.size());
        if (s.task == "seq-cls" && data_is_tagged_)
            warnings << "The training file holds tagged words (CoNLL or JSONL tokens): token classification reads it as "
                        "sentences of tagged words";
        if (s.task == "seq-cls" && data_is_qa_)
            warnings << "The training file holds SQuAD questions: extractive QA reads it as questions on contexts";
        if (s.task == "seq-cls" && data_is_choice_)
            warnings << "The training file holds multiple-choice questions: multiple choice reads each one's choices";
        if (data_->valid_rows == 0) {
            warnings << "No validation rows: no evaluation metrics, early stopping or best-state selection";
            if (s.train.early_stopping_patience > 0) errors << "Early stopping needs validation data";
        }
        if (data_->train_rows > 0 && data_->train_rows < s.train.batch_size)
            warnings << QString("Batch size %1 is larger than the %2 training rows").arg(s.train.batch_size).arg(data_->train_rows);
    }
    const QString dev = q(s.train.device);
    if (dev != "cpu" && device_->findData(dev) < 0 && !(dev == "cuda" && device_->findData("cuda:0") >= 0))
        errors << QString("Device %1 is not available on this machine (LibTorch %2, %3)")
                      .arg(dev, q(runtime_info().libtorch_version),
                           runtime_info().cuda_available ? "CUDA" : "built without CUDA or no GPU");
    if (s.method.name == "ptv2" && s.method.prefix.init == PromptInit::Zeros && s.method.prefix.dropout == 0 && !s.method.prefix.mlp)
        warnings << "Zeros init without dropout or MLP: all P prompt vectors stay equal, so P acts as 1";
    if (!s.method.init_adapter.empty() && !QFileInfo(q(s.method.init_adapter)).isDir())
        errors << "Start from: " + q(s.method.init_adapter) + " is not a directory";

    errors_ = errors;
    warnings_ = warnings;
    QString html;
    for (auto& e : errors) html += "<div style='color:#d62728'>✖ " + html_escape(e) + "</div>";
    for (auto& w : warnings) html += "<div style='color:#e08a00'>⚠ " + html_escape(w) + "</div>";
    if (errors.isEmpty() && !checks_pending()) html += "<div style='color:#2ca02c'>✔ Ready to run</div>";
    messages_->setText(html);
    update_counts();
    run_button_->setEnabled(errors.isEmpty());
    Q_EMIT validated(errors.isEmpty());
}

void SetupPanel::browse_model() {
    QString start = model_edit_->text() == "builtin" ? QDir::homePath() : model_edit_->text();
    QString d = QFileDialog::getExistingDirectory(this, "Hugging Face model directory (config.json, model.safetensors, tokenizer)", start);
    if (!d.isEmpty()) model_edit_->setText(d);
}

void SetupPanel::browse_data(QLineEdit* edit) {
    QString start = edit->text() == "builtin" || edit->text().isEmpty() ? QDir::homePath() : QFileInfo(edit->text()).path();
    QString f = QFileDialog::getOpenFileName(this, "Data file", start,
                                             "Data (*.tsv *.csv *.jsonl *.json *.ndjson *.txt);;All files (*)");
    if (!f.isEmpty()) edit->setText(f);
}

void SetupPanel::show_task_rows() {
    const QString task = task_->currentData().toString();
    show_model_info();
    const bool causal = task == "causal-lm", tagging = task == "token-cls", qa = task == "qa", choice = task == "choice";
    data_form_->setRowVisible(template_, causal);
    data_form_->setRowVisible(columns_row_, !tagging && !qa && !choice);
    data_form_->setRowVisible(tag_row_, tagging);
    data_form_->setRowVisible(qa_row_, qa);
    label_col_name_->setText(causal ? "target" : "label");
    label_col_->setToolTip(causal ? "The column holding each row's target text: what the model learns to generate"
                                  : "The column holding each row's label");
    // The metrics of the task; a metric of another task gives way to the task's first.
    auto fits = [](const QString& k, const QString& t) {
        if (k == "loss") return true;
        if (k == "exact_match") return t == "causal-lm" || t == "qa";
        if (k == "perplexity") return t == "causal-lm";
        if (k == "entity_f1" || k == "tag_accuracy") return t == "token-cls";
        if (k == "qa_f1") return t == "qa";
        if (k == "accuracy") return t == "seq-cls" || t == "choice";
        return t == "seq-cls";
    };
    auto* items = qobject_cast<QStandardItemModel*>(metric_->model());
    for (int i = 0; i < metric_->count(); ++i) {
        const QString k = metric_->itemData(i).toString();
        if (auto* it = items ? items->item(i) : nullptr) it->setEnabled(fits(k, task));
    }
    // Methods: a causal LM trains P-Tuning v2 / prefix tuning; the encoder tasks train every method.
    if (auto* mitems = qobject_cast<QStandardItemModel*>(method_->model())) {
        for (int i = 0; i < method_->count(); ++i)
            if (auto* it = mitems->item(i)) {
                const bool ok = !causal || method_->itemData(i).toString() == "ptv2";
                it->setEnabled(ok);
                it->setToolTip(ok ? QString()
                                  : "Not on causal LMs yet: they train P-Tuning v2 (prefix tuning with the MLP option)");
            }
    }
    if (causal && method_->currentData().toString() != "ptv2")
        method_->setCurrentIndex(method_->findData(QString("ptv2")));
    const QString cur = metric_->currentData().toString();
    if (!fits(cur, task))
        metric_->setCurrentIndex(metric_->findData(causal    ? QString("exact_match")
                                                   : tagging ? QString("entity_f1")
                                                   : qa      ? QString("qa_f1")
                                                             : QString("accuracy")));
}

void SetupPanel::offer_tasks() {
    if (!model_) return;
    auto* items = qobject_cast<QStandardItemModel*>(task_->model());
    for (int i = 0; i < task_->count(); ++i)
        if (auto* it = items ? items->item(i) : nullptr) {
            const bool causal_task = task_->itemData(i).toString() == "causal-lm";
            const bool ok = causal_task == model_->causal_lm;
            it->setEnabled(ok);
            it->setToolTip(ok ? QString()
                              : model_->causal_lm ? "Classification with a decoder is not there yet"
                                                  : "Needs a causal LM (gpt2, llama, mistral, qwen2, qwen3)");
        }
    const bool causal_now = task_->currentData().toString() == "causal-lm";
    if (causal_now != model_->causal_lm)
        task_->setCurrentIndex(task_->findData(model_->causal_lm ? QString("causal-lm")
                                               : data_is_tagged_ ? QString("token-cls")
                                               : data_is_qa_     ? QString("qa")
                                               : data_is_choice_ ? QString("choice")
                                                                 : QString("seq-cls")));
}

void SetupPanel::show_method_rows() {
    const QString m = method_->currentData().toString();
    auto show = [&](QWidget* field, bool on) {
        // The form row holding `field` (directly or inside a row widget).
        for (QWidget* w = field; w; w = w->parentWidget()) {
            QFormLayout::ItemRole role;
            int r = -1;
            method_form_->getWidgetPosition(w, &r, &role);
            if (r >= 0) {
                method_form_->setRowVisible(r, on);
                return;
            }
        }
    };
    const bool ptv2 = m == "ptv2";
    show(prompt_len_, has_prompt_len(m.toStdString()));
    for (QWidget* w : std::initializer_list<QWidget*>{depth_preset_, strip_, depth_info_, mlp_, dropout_, init_})
        show(w, ptv2);
    show(prompt_init_, m == "prompt");
    show(encoder_, m == "ptuning");
    show(lora_r_, m == "lora");
    show(targets_, is_mergeable(m.toStdString()));   // LoRA's and IA3's module choice
    show(adapter_size_, m == "adapter");
}

}  // namespace ptune::ui
