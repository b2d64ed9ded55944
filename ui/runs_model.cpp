#include "ui/runs_model.h"

#include <QDateTime>
#include <QHash>
#include <QLocale>
#include <QPainter>
#include <QPixmap>
#include <cmath>
#include <limits>

#include "experiments/compare.h"

namespace ptune::ui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

QString basename(const std::string& path) {
    if (path.empty() || path == "builtin") return qs(path);
    QString p = qs(path);
    while (p.size() > 1 && p.endsWith('/')) p.chop(1);
    const int cut = p.lastIndexOf('/');
    return cut < 0 ? p : p.mid(cut + 1);
}

QString format_value(double v) { return QString::number(v, 'g', 4); }

}  // namespace

RunsModel::RunsModel(QObject* parent) : QAbstractTableModel(parent) {}

QString RunsModel::format_duration(double seconds) {
    if (!(seconds > 0)) return QString();
    const qint64 s = qint64(std::llround(seconds));
    return QString("%1:%2:%3").arg(s / 3600).arg((s / 60) % 60, 2, 10, QChar('0')).arg(s % 60, 2, 10, QChar('0'));
}

QString RunsModel::normalize_tags(const QString& text) {
    QStringList out;
    for (const QString& t : text.split(',')) {
        const QString tag = t.trimmed();
        if (!tag.isEmpty() && !out.contains(tag)) out << tag;
    }
    return out.join(',');
}

QString RunsModel::display_tags(const std::string& tags) {
    QStringList parts = qs(tags).split(',', Qt::SkipEmptyParts);
    for (QString& p : parts) p = p.trimmed();
    return parts.join(", ");
}

QColor RunsModel::status_color(const QString& status) {
    if (status == "completed") return QColor(44, 160, 44);
    if (status == "failed") return QColor(214, 39, 40);
    if (status == "running") return QColor(31, 119, 180);
    if (status == "cancelled") return QColor(255, 127, 14);
    if (status == "interrupted") return QColor(148, 103, 189);
    return QColor(127, 127, 127);  // queued
}

QIcon RunsModel::status_icon(const QString& status) {
    static QHash<QString, QIcon> cache;
    auto it = cache.find(status);
    if (it != cache.end()) return *it;
    QPixmap pm(12, 12);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    const QColor c = status_color(status);
    p.setPen(QPen(c.darker(130), 1));
    if (status == "running" || status == "queued") {
        p.setBrush(Qt::NoBrush);  // hollow while not finished
        p.setPen(QPen(c, 2));
        p.drawEllipse(QRectF(1.5, 1.5, 9, 9));
        if (status == "running") {
            p.setBrush(c);
            p.drawEllipse(QRectF(4, 4, 4, 4));
        }
    } else {
        p.setBrush(c);
        p.drawEllipse(QRectF(1, 1, 10, 10));
    }
    p.end();
    return *cache.insert(status, QIcon(pm));
}

RunsModel::Row RunsModel::make_row(const RunRecord& r) {
    Row row;
    row.rec = r;
    row.name = qs(r.name);
    row.status = qs(r.status);
    row.model = basename(r.model);
    row.dataset = basename(r.dataset);
    row.method = qs(r.method);
    row.layers = qs(r.layers);
    row.tags = display_tags(r.tags);
    const QString notes = qs(r.notes);
    row.notes_first = notes.section('\n', 0, 0).trimmed();
    const std::string metric = primary_metric(r);
    const auto best = parse_metrics_json(r.best_metrics_json);
    auto it = best.find(metric);
    row.best_value = std::numeric_limits<double>::quiet_NaN();
    if (it != best.end() && std::isfinite(it->second)) {
        row.best_value = it->second;
        row.best_text = qs(metric) + " " + format_value(it->second);
    }
    if (r.total_params > 0) {
        row.trainable_share = double(r.trainable_params) / double(r.total_params);
        row.trainable = QString::number(row.trainable_share * 100.0, 'g', 3) + " %";
    }
    row.duration = format_duration(duration_s(r));
    if (r.created_at > 0) {
        row.created = QLocale().toString(QDateTime::fromMSecsSinceEpoch(qint64(r.created_at * 1000.0)),
                                         QLocale::ShortFormat);
    }
    row.search = QStringList{row.name, qs(r.model), qs(r.dataset), row.method, row.tags, notes, row.status}
                     .join('\n')
                     .toLower();
    return row;
}

void RunsModel::reindex() {
    index_.clear();
    index_.reserve(rows_.size());
    for (int i = 0; i < (int)rows_.size(); ++i) index_[rows_[i].rec.id] = i;
}

void RunsModel::reload(const Store& store) {
    std::vector<RunRecord> runs = store.runs();
    beginResetModel();
    rows_.clear();
    rows_.reserve(runs.size());
    for (const RunRecord& r : runs) rows_.push_back(make_row(r));
    reindex();
    endResetModel();
}

void RunsModel::clear() {
    beginResetModel();
    rows_.clear();
    index_.clear();
    endResetModel();
}

void RunsModel::refresh_run(const RunRecord& r) {
    const int row = row_of(r.id);
    if (row >= 0) {
        rows_[row] = make_row(r);
        Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
        return;
    }
    beginInsertRows(QModelIndex(), 0, 0);  // newest first, as Store::runs() orders them
    rows_.insert(rows_.begin(), make_row(r));
    reindex();
    endInsertRows();
}

void RunsModel::remove_run(int64_t id) {
    const int row = row_of(id);
    if (row < 0) return;
    beginRemoveRows(QModelIndex(), row, row);
    rows_.erase(rows_.begin() + row);
    reindex();
    endRemoveRows();
}

const RunRecord* RunsModel::record(int row) const {
    return row >= 0 && row < (int)rows_.size() ? &rows_[row].rec : nullptr;
}

int RunsModel::row_of(int64_t id) const {
    auto it = index_.find(id);
    return it == index_.end() ? -1 : it->second;
}

int RunsModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : (int)rows_.size(); }

int RunsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunsModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= (int)rows_.size()) return {};
    const Row& row = rows_[index.row()];
    const RunRecord& r = row.rec;
    const int col = index.column();
    switch (role) {
    case IdRole:
        return QVariant::fromValue<qint64>(r.id);
    case StatusRole:
        return row.status;
    case FilterRole:
        return row.search;
    case Qt::DisplayRole:
        switch (col) {
        case ColId: return QVariant::fromValue<qint64>(r.id);
        case ColName: return row.name;
        case ColStatus: return row.status;
        case ColModel: return row.model;
        case ColDataset: return row.dataset;
        case ColMethod: return row.method;
        case ColPromptLen: return r.prompt_len;
        case ColDepth: return row.layers;
        case ColSeed: return QVariant::fromValue<qint64>(r.seed);
        case ColBest: return row.best_text;
        case ColTrainable: return row.trainable;
        case ColDuration: return row.duration;
        case ColCreated: return row.created;
        case ColTags: return row.tags;
        case ColNotes: return row.notes_first;
        }
        return {};
    case Qt::EditRole:
        switch (col) {
        case ColName: return row.name;
        case ColTags: return row.tags;
        case ColNotes: return qs(r.notes);
        }
        return data(index, Qt::DisplayRole);
    case SortRole:
        switch (col) {
        case ColId: return QVariant::fromValue<qint64>(r.id);
        case ColPromptLen: return r.prompt_len;
        case ColSeed: return QVariant::fromValue<qint64>(r.seed);
        // Runs without a value sort below every run with one.
        case ColBest: return std::isnan(row.best_value) ? -std::numeric_limits<double>::infinity() : row.best_value;
        case ColTrainable: return row.trainable_share;
        case ColDuration: return duration_s(r);
        case ColCreated: return r.created_at;
        case ColName: return row.name.toLower();
        case ColTags: return row.tags.toLower();
        case ColNotes: return row.notes_first.toLower();
        }
        return data(index, Qt::DisplayRole);
    case Qt::ToolTipRole:
        switch (col) {
        case ColStatus:
            if (r.status == "failed") return r.status_reason.empty() ? QString("Failed (no reason recorded)") : qs(r.status_reason);
            if (r.status == "interrupted") return QString("The process running it ended before the run finished");
            if (r.status == "cancelled") return QString("Stopped by the user; what it trained so far is kept");
            return row.status;
        case ColModel: return qs(r.model);
        case ColDataset: return qs(r.dataset);
        case ColNotes: return qs(r.notes);
        case ColBest:
            return r.best_step >= 0 && !row.best_text.isEmpty() ? QString("%1 (at step %2)").arg(row.best_text).arg(r.best_step)
                                                               : QVariant();
        case ColTrainable:
            return r.total_params > 0 ? QString("%1 of %2 parameters trained")
                                            .arg(QLocale().toString(qint64(r.trainable_params)),
                                                 QLocale().toString(qint64(r.total_params)))
                                      : QVariant();
        case ColCreated:
            return QDateTime::fromMSecsSinceEpoch(qint64(r.created_at * 1000.0)).toString(Qt::ISODate);
        }
        return {};
    case Qt::DecorationRole:
        if (col == ColStatus) return status_icon(row.status);
        return {};
    case Qt::ForegroundRole:
        if (col == ColStatus) return status_color(row.status);
        return {};
    case Qt::TextAlignmentRole:
        switch (col) {
        case ColId:
        case ColPromptLen:
        case ColSeed:
        case ColTrainable:
        case ColDuration:
            return int(Qt::AlignRight | Qt::AlignVCenter);
        }
        return {};
    }
    return {};
}

QVariant RunsModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    static const char* const names[ColumnCount] = {"ID",   "Name", "Status",      "Model",    "Dataset",
                                                   "Method", "P",  "Depth",       "Seed",     "Best",
                                                   "Trainable %", "Duration", "Created", "Tags", "Notes"};
    static const char* const tips[ColumnCount] = {
        "Run id in the store", "Run name (double-click to rename)", "Run status", "Model directory",
        "Training data file", "Method", "Prompt length P (virtual tokens per layer)",
        "Layers that get prompts", "Training seed", "Best value of the run's selection metric",
        "Trainable parameters as a share of all parameters", "Time from start to finish (h:mm:ss)",
        "When the run was created", "Tags (double-click to edit, comma separated)", "Notes (first line)"};
    if (section < 0 || section >= ColumnCount) return {};
    if (role == Qt::DisplayRole) return QString(names[section]);
    if (role == Qt::ToolTipRole) return QString(tips[section]);
    return {};
}

Qt::ItemFlags RunsModel::flags(const QModelIndex& index) const {
    if (!index.isValid()) return Qt::NoItemFlags;
    Qt::ItemFlags f = Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemNeverHasChildren;
    const int col = index.column();
    // Multi-line notes are edited in the detail panel; a line edit would flatten them.
    if (col == ColName || col == ColTags || (col == ColNotes && rows_[index.row()].rec.notes.find('\n') == std::string::npos))
        f |= Qt::ItemIsEditable;
    return f;
}

bool RunsModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (!index.isValid() || role != Qt::EditRole || index.row() >= (int)rows_.size()) return false;
    RunRecord r = rows_[index.row()].rec;
    const QString text = value.toString();
    switch (index.column()) {
    case ColName: {
        const QString name = text.trimmed();
        if (name.isEmpty()) return false;  // a run keeps a name
        r.name = name.toStdString();
        break;
    }
    case ColTags: r.tags = normalize_tags(text).toStdString(); break;
    case ColNotes: r.notes = text.toStdString(); break;
    default: return false;
    }
    const RunRecord& old = rows_[index.row()].rec;
    if (r.name == old.name && r.tags == old.tags && r.notes == old.notes) return true;
    rows_[index.row()] = make_row(r);
    Q_EMIT dataChanged(this->index(index.row(), 0), this->index(index.row(), ColumnCount - 1));
    Q_EMIT run_edited(r.id);
    return true;
}

}  // namespace ptune::ui
