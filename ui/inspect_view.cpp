#include "ui/inspect_view.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QShowEvent>
#include <QTextBrowser>
#include <QThread>
#include <QVBoxLayout>
#include <map>

#include "experiments/compare.h"
#include "ui/plot_util.h"

namespace ptune::ui {

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }
QString esc(const std::string& s) { return QString::fromStdString(s).toHtmlEscaped(); }
constexpr int kMaxShown = 400;   // sentences drawn at once; the filter finds the others

std::string type_of(const std::string& tag) {
    if (tag == "O") return "";
    return tag.size() > 2 && tag[1] == '-' ? tag.substr(2) : tag;
}

}  // namespace

InspectView::InspectView(QWidget* parent) : QWidget(parent) {
    auto* top = new QHBoxLayout;
    run_ = new QComboBox;
    run_->setObjectName("inspect_run");
    run_->setMinimumContentsLength(40);
    run_->setToolTip("A token-classification or extractive-QA run with a saved adapter");
    inspect_ = new QPushButton("Predict the validation data");
    inspect_->setObjectName("inspect_button");
    filter_ = new QComboBox;
    filter_->setObjectName("inspect_filter");
    filter_->addItems({"Errors first", "Errors only", "File order"});
    search_ = new QLineEdit;
    search_->setObjectName("inspect_search");
    search_->setPlaceholderText("find words, a tag (e.g. B-PER) or a question id");
    search_->setClearButtonEnabled(true);
    top->addWidget(new QLabel("Run:"));
    top->addWidget(run_, 1);
    top->addWidget(inspect_);
    top->addSpacing(12);
    top->addWidget(new QLabel("Show:"));
    top->addWidget(filter_);
    top->addWidget(search_, 1);
    summary_ = new QLabel;
    summary_->setObjectName("inspect_summary");
    summary_->setWordWrap(true);
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    view_ = new QTextBrowser;
    view_->setObjectName("inspect_view");
    view_->setOpenLinks(false);
    auto* lay = new QVBoxLayout(this);
    lay->addLayout(top);
    lay->addWidget(summary_);
    lay->addWidget(view_, 1);
    connect(inspect_, &QPushButton::clicked, this, [this] { inspect(); });
    connect(filter_, &QComboBox::currentIndexChanged, this, [this] { render(); });
    connect(search_, &QLineEdit::textChanged, this, [this] { render(); });
    set_message("Choose a token-classification or extractive-QA run and predict its validation data: sentences with "
                "their gold tags and the predicted ones (entities coloured by type, wrong words marked), or questions "
                "with the gold and the predicted answers marked in their contexts; errors first.",
                false);
}

InspectView::~InspectView() {
    if (worker_) {
        cancel_.cancel();
        worker_->wait();
        delete worker_;
    }
}

void InspectView::showEvent(QShowEvent* e) {
    refresh_runs();
    QWidget::showEvent(e);
}

void InspectView::set_store(const Store* store) {
    store_ = store;
    result_.reset();
    qa_result_.reset();
    refresh_runs();
    render();
}

void InspectView::refresh_runs() {
    const qint64 current = run_->currentData().toLongLong();
    run_->clear();
    if (!store_) return;
    std::vector<RunRecord> runs;
    try {
        runs = inspectable_runs(*store_);
    } catch (const std::exception& e) {
        set_message(QString("Runs: %1").arg(e.what()), true);
    }
    for (const RunRecord& r : runs)
        run_->addItem(QString("#%1 %2 · %3").arg(r.id).arg(q(r.name)).arg(q(r.status)), qint64(r.id));
    const int i = run_->findData(current);
    if (i >= 0) run_->setCurrentIndex(i);
    inspect_->setEnabled(run_->count() > 0 && !worker_);
}

bool InspectView::select_run(qint64 run_id) {
    refresh_runs();
    const int i = run_->findData(run_id);
    if (i < 0) {
        set_message(QString("Run #%1 is not a token-classification or extractive-QA run with a saved adapter").arg(run_id),
                    true);
        return false;
    }
    run_->setCurrentIndex(i);
    return true;
}

bool InspectView::inspect() {
    if (worker_ || !store_ || run_->count() == 0) return false;
    const qint64 id = run_->currentData().toLongLong();
    const std::string db = store_->path();
    cancel_.requested.store(false);
    auto out = std::make_shared<std::optional<TaggingInspection>>();
    auto qa_out = std::make_shared<std::optional<QaInspection>>();
    auto err = std::make_shared<std::string>();
    set_message(QString("Predicting the validation data of run #%1…").arg(id), false);
    inspect_->setEnabled(false);
    CancelFlag* cancel = &cancel_;
    // The worker opens the database itself: a Store is not shared across threads.
    worker_ = QThread::create([db, id, out, qa_out, err, cancel] {
        try {
            Store s(db);
            if (run_task(s, id) == "qa") *qa_out = inspect_qa_run(s, id, cancel);
            else *out = inspect_tagging_run(s, id, cancel);
        } catch (const std::exception& e) {
            *err = e.what();
        }
    });
    connect(worker_, &QThread::finished, this, [this, out, qa_out, err] {
        worker_->deleteLater();
        worker_ = nullptr;
        inspect_->setEnabled(run_->count() > 0);
        if (!err->empty()) {
            set_message(q(*err), true);
        } else {
            result_ = std::move(*out);
            qa_result_ = std::move(*qa_out);
            render();
        }
        Q_EMIT finished();
    });
    worker_->start();
    return true;
}

void InspectView::set_filter(int mode, const QString& text) {
    filter_->setCurrentIndex(mode);
    search_->setText(text);
    render();
}

QString InspectView::message() const { return summary_->text(); }
QString InspectView::html() const { return view_->toHtml(); }

void InspectView::set_message(const QString& m, bool error) {
    summary_->setText(error ? "<span style='color:#d62728'>✖ " + m.toHtmlEscaped() + "</span>" : m);
    if (error) view_->clear();
}

void InspectView::render_qa() {
    const QaInspection& r = *qa_result_;
    auto pct = [&](const char* k) { return r.metrics.count(k) ? QString::number(r.metrics.at(k), 'f', 3) : QString("–"); };
    QString summary = QString("Run #%1 · %2 questions %3 <b>%4</b> (SQuAD %5) · <b>%6</b> not exactly right · "
                              "exact match <b>%7</b>, F1 <b>%8</b>")
                          .arg(r.run_id)
                          .arg(r.questions.size())
                          .arg(r.held_out ? "held out of" : "from")
                          .arg(esc(r.data_file))
                          .arg(r.version2 ? "2.0" : "1.1")
                          .arg(r.wrong)
                          .arg(pct("exact_match"), pct("qa_f1"));
    if (r.version2)
        summary += QString(" (answerable: F1 %1; no-answer accuracy %2)").arg(pct("has_ans_f1"), pct("no_ans_accuracy"));
    summary_->setText(summary);
    // The gold answers on a green tint, the predicted one underlined (red when it is wrong).
    auto context_html = [](const InspectedQuestion& x) {
        const size_t n = x.context.size();
        std::vector<char> gold(n, 0), pred(n, 0);
        for (auto [b, e] : x.gold)
            for (int64_t i = std::max<int64_t>(0, b); i < e && i < (int64_t)n; ++i) gold[(size_t)i] = 1;
        for (int64_t i = std::max<int64_t>(0, x.pred_start); i < x.pred_end && i < (int64_t)n; ++i) pred[(size_t)i] = 1;
        QString h;
        size_t i = 0;
        while (i < n) {
            size_t j = i;
            while (j < n && gold[j] == gold[i] && pred[j] == pred[i]) ++j;
            QString part = esc(x.context.substr(i, j - i));
            QString style;
            if (gold[i]) style += "background-color:#c7e9c0;";
            if (pred[i]) style += QString("text-decoration:underline;font-weight:bold;color:%1;").arg(x.exact > 0 ? "#2ca02c" : "#d62728");
            h += style.isEmpty() ? part : QString("<span style='%1'>%2</span>").arg(style, part);
            i = j;
        }
        return h;
    };
    const int mode = filter_->currentIndex();
    const QString find = search_->text().trimmed();
    std::vector<size_t> order(r.questions.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (mode == 2)
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return r.questions[a].index < r.questions[b].index; });
    QString html = "<html><body style='white-space:normal'>";
    int matching = 0;
    for (size_t k : order) {
        const InspectedQuestion& x = r.questions[k];
        if (mode == 1 && x.exact > 0) continue;
        if (!find.isEmpty() && !q(x.question).contains(find, Qt::CaseInsensitive) &&
            !q(x.context).contains(find, Qt::CaseInsensitive) && !q(x.id).contains(find, Qt::CaseInsensitive))
            continue;
        ++matching;
        if (shown_ >= kMaxShown) continue;
        ++shown_;
        QString verdict = x.exact > 0 ? QString("right") : QString("F1 %1").arg(x.f1, 0, 'f', 2);
        if (r.version2) verdict += QString(" · null odds %1").arg(x.null_odds, 0, 'f', 2);
        html += QString("<p style='margin-bottom:10px'><span style='color:#808080'>%1 · %2</span><br>"
                        "<b>Q:</b> %3<br>%4<br><span style='color:#808080'>predicted:</span> %5 &nbsp; "
                        "<span style='color:#808080'>gold:</span> %6</p>")
                    .arg(esc(x.id), verdict, esc(x.question), context_html(x),
                         x.predicted.empty() ? QString("<i>(no answer)</i>") : esc(x.predicted),
                         x.gold.empty() ? QString("<i>(no answer)</i>")
                                        : esc(x.context.substr((size_t)x.gold[0].first,
                                                               (size_t)(x.gold[0].second - x.gold[0].first))) +
                                              (x.gold.size() > 1 ? QString(" (+%1 more)").arg(x.gold.size() - 1) : QString()));
    }
    if (matching > shown_)
        html += QString("<p style='color:#808080'>… %1 more questions: narrow the filter to see them.</p>").arg(matching - shown_);
    if (matching == 0) html += "<p style='color:#808080'>No question matches.</p>";
    html += "</body></html>";
    view_->setHtml(html);
}

void InspectView::render() {
    shown_ = 0;
    if (qa_result_) {
        render_qa();
        return;
    }
    if (!result_) {
        view_->clear();
        return;
    }
    const TaggingInspection& r = *result_;
    // Summary: where the sentences come from, how many have errors, the scores.
    QStringList types;
    for (const auto& [k, v] : r.metrics)
        if (k.rfind("f1_", 0) == 0) types << QString("%1 %2").arg(esc(k.substr(3))).arg(v, 0, 'f', 3);
    QString summary = QString("Run #%1 · %2 sentences %3 <b>%4</b> · <b>%5</b> with errors")
                          .arg(r.run_id)
                          .arg(r.sentences.size())
                          .arg(r.held_out ? "held out of" : "from")
                          .arg(esc(r.data_file))
                          .arg(r.sentences_with_errors);
    if (r.metrics.count("entity_f1"))
        summary += QString(" · entity F1 <b>%1</b> (P %2, R %3%4)")
                       .arg(r.metrics.at("entity_f1"), 0, 'f', 3)
                       .arg(r.metrics.at("entity_precision"), 0, 'f', 3)
                       .arg(r.metrics.at("entity_recall"), 0, 'f', 3)
                       .arg(types.isEmpty() ? QString() : "; " + types.join(", "));
    if (r.metrics.count("tag_accuracy")) summary += QString(" · tag accuracy %1").arg(r.metrics.at("tag_accuracy"), 0, 'f', 3);
    summary_->setText(summary);

    // One colour per entity type, in the order of the tag names.
    std::map<std::string, QColor> colour;
    for (const auto& n : r.label_names) {
        const std::string t = type_of(n);
        if (!t.empty() && !colour.count(t)) {
            const QColor c = series_color((int)colour.size());
            auto pale = [](int v) { return 255 - (255 - v) * 35 / 100; };
            colour[t] = QColor(pale(c.red()), pale(c.green()), pale(c.blue()));
        }
    }
    auto line_of = [&](const InspectedSentence& s, const std::vector<std::string>& tags, bool mark) {
        QString h;
        for (size_t i = 0; i < s.words.size(); ++i) {
            const std::string t = type_of(tags[i]);
            const bool wrong = mark && s.predicted[i] != s.gold[i];
            QString w = esc(s.words[i]);
            QString style;
            if (!t.empty()) style += "background-color:" + colour[t].name() + ";";
            if (wrong) style += "color:#d62728;text-decoration:underline;font-weight:bold;";
            if (!t.empty() || wrong)
                w = QString("<span style='%1'>%2<sub>%3</sub></span>").arg(style, w, tags[i] == "O" ? QString("O") : esc(tags[i]));
            h += (i ? " " : "") + w;
        }
        return h;
    };
    const int mode = filter_->currentIndex();
    const QString find = search_->text().trimmed();
    std::vector<const InspectedSentence*> order;
    for (const auto& s : r.sentences) order.push_back(&s);
    if (mode == 2)
        std::stable_sort(order.begin(), order.end(),
                         [](const InspectedSentence* a, const InspectedSentence* b) { return a->line < b->line; });
    QString html = "<html><body style='white-space:normal'>";
    int matching = 0;
    for (const InspectedSentence* s : order) {
        if (mode == 1 && s->wrong_tags == 0) continue;
        if (!find.isEmpty()) {
            bool hit = false;
            for (size_t i = 0; i < s->words.size() && !hit; ++i)
                hit = q(s->words[i]).contains(find, Qt::CaseInsensitive) || q(s->gold[i]) == find || q(s->predicted[i]) == find;
            if (!hit) continue;
        }
        ++matching;
        if (shown_ >= kMaxShown) continue;
        ++shown_;
        html += QString("<p style='margin-bottom:10px'><span style='color:#808080'>line %1 · %2</span><br>"
                        "<span style='color:#808080'>gold&nbsp;&nbsp;</span> %3<br>"
                        "<span style='color:#808080'>pred&nbsp;&nbsp;</span> %4</p>")
                    .arg(s->line)
                    .arg(s->wrong_tags == 0 ? QString("all right")
                                            : QString("%1 wrong tag%2").arg(s->wrong_tags).arg(s->wrong_tags == 1 ? "" : "s"))
                    .arg(line_of(*s, s->gold, false), line_of(*s, s->predicted, true));
    }
    if (matching > shown_)
        html += QString("<p style='color:#808080'>… %1 more sentences: narrow the filter to see them.</p>").arg(matching - shown_);
    if (matching == 0) html += "<p style='color:#808080'>No sentence matches.</p>";
    html += "</body></html>";
    view_->setHtml(html);
}

}  // namespace ptune::ui
