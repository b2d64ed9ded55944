#pragma once
// The Inspect tab: what a trained run predicts on its validation data, errors first. Token classification: each
// sentence shown twice, the gold tags and the predicted ones, entities coloured by type and wrong words marked.
// Extractive QA: each question with its context, the gold answers and the predicted one marked in it, with the
// question's EM and F1. Predicting runs on a worker thread (experiments/inspection.h loads the model and adapter).
#include <QWidget>
#include <atomic>
#include <memory>
#include <optional>

#include "experiments/inspection.h"
#include "experiments/store.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QShowEvent;
class QTextBrowser;
class QThread;

namespace ptune::ui {

class InspectView : public QWidget {
    Q_OBJECT
public:
    explicit InspectView(QWidget* parent = nullptr);
    ~InspectView() override;   // waits for a prediction in progress

    void set_store(const Store* store);
    void refresh_runs();
    bool select_run(qint64 run_id);   // false when the run is not in the list (message() says why)
    bool inspect();                   // predicts for the selected run; false when one is running or none is chosen
    bool busy() const { return worker_ != nullptr; }

    // What is shown (for tests): the inspection, the sentences the filter lets through, the status message.
    const std::optional<TaggingInspection>& inspection() const { return result_; }
    const std::optional<QaInspection>& qa_inspection() const { return qa_result_; }
    int shown_sentences() const { return shown_; }
    QString message() const;
    QString html() const;
    void set_filter(int mode, const QString& text = QString());   // 0 errors first, 1 errors only, 2 file order

Q_SIGNALS:
    void finished();

protected:
    void showEvent(QShowEvent* e) override;

private:
    void render();
    void render_qa();
    void set_message(const QString& m, bool error);

    const Store* store_ = nullptr;
    QComboBox* run_ = nullptr;
    QPushButton* inspect_ = nullptr;
    QComboBox* filter_ = nullptr;
    QLineEdit* search_ = nullptr;
    QLabel* summary_ = nullptr;
    QTextBrowser* view_ = nullptr;
    QThread* worker_ = nullptr;
    CancelFlag cancel_;
    std::optional<TaggingInspection> result_;
    std::optional<QaInspection> qa_result_;
    int shown_ = 0;
};

}  // namespace ptune::ui
