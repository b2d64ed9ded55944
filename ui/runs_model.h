#pragma once
// The runs table's model: one row per stored run, built from Store::runs() alone (no series), so hundreds of runs
// open at once. Every cell's text is computed on reload; Qt::UserRole gives the value to sort by (numbers as
// numbers), FilterRole the lower-case text a filter matches. Name, Tags and Notes are editable: setData changes
// the row and emits run_edited so that the owner writes the record to the store (Store::update_run).
#include <QAbstractTableModel>
#include <QColor>
#include <QIcon>
#include <QString>
#include <unordered_map>
#include <vector>

#include "experiments/store.h"

namespace ptune::ui {

class RunsModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        ColId,
        ColName,
        ColStatus,
        ColModel,
        ColDataset,
        ColMethod,
        ColPromptLen,
        ColDepth,
        ColSeed,
        ColBest,
        ColTrainable,
        ColDuration,
        ColCreated,
        ColTags,
        ColNotes,
        ColumnCount
    };
    enum Role {
        SortRole = Qt::UserRole,        // the value to sort by: numbers for numeric columns, else text
        FilterRole = Qt::UserRole + 1,  // lower-case name, model, dataset, method, tags, notes and status of the row
        IdRole = Qt::UserRole + 2,      // the run id (qint64), on every column
        StatusRole = Qt::UserRole + 3,  // the run's status text, on every column
    };

    explicit RunsModel(QObject* parent = nullptr);

    void reload(const ptune::Store& store);   // all runs (Store::runs(), no series); resets the model
    void clear();
    void refresh_run(const ptune::RunRecord& r);  // one run changed: updates its row, or inserts it when new
    void remove_run(int64_t id);                  // drops a deleted run's row
    const ptune::RunRecord* record(int row) const;  // nullptr when out of range
    int row_of(int64_t id) const;                   // -1 when not shown

    int rowCount(const QModelIndex& parent = QModelIndex()) const override;
    int columnCount(const QModelIndex& parent = QModelIndex()) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    // Name, Tags ("a, b" is stored as "a,b") and Notes; a change emits run_edited.
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;

    // Display helpers, shared with the browser's detail panel.
    static QString format_duration(double seconds);       // h:mm:ss ("" for 0)
    static QString normalize_tags(const QString& text);   // "a, b,,c " -> "a,b,c"
    static QString display_tags(const std::string& tags); // "a,b" -> "a, b"
    static QColor status_color(const QString& status);
    static QIcon status_icon(const QString& status);

Q_SIGNALS:
    // An edit through setData: the run's row (record(row_of(id))) holds the new name, tags and notes; the
    // owner writes it to the store.
    void run_edited(qint64 id);

private:
    struct Row {
        ptune::RunRecord rec;
        QString name, status, model, dataset, method, layers, tags, notes_first, best_text, created, duration, trainable;
        QString search;            // lower-case text a filter matches
        double best_value = 0;     // NaN when the run has no best value
        double trainable_share = -1;
    };
    static Row make_row(const ptune::RunRecord& r);
    std::vector<Row> rows_;
    std::unordered_map<int64_t, int> index_;  // run id -> row
    void reindex();
};

}  // namespace ptune::ui
