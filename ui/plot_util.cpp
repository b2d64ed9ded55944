#include "ui/plot_util.h"

#include <QApplication>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLocale>
#include <QMessageBox>
#include <fstream>
#include <sstream>
#include <QPalette>
#include <QSvgGenerator>
#include <qcustomplot.h>

namespace ptune::ui {

QString save_plot(QCustomPlot* plot, const QString& path, int width, int height) {
    const QString ext = QFileInfo(path).suffix().toLower();
    const int w = width > 0 ? width : plot->width();
    const int h = height > 0 ? height : plot->height();
    bool ok = false;
    if (ext == "png") {
        ok = plot->savePng(path, w, h, 2.0);
    } else if (ext == "pdf") {
        ok = plot->savePdf(path, w, h);
    } else if (ext == "svg") {
        QSvgGenerator gen;
        gen.setFileName(path);
        gen.setSize(QSize(w, h));
        gen.setViewBox(QRect(0, 0, w, h));
        gen.setTitle(plot->windowTitle());
        QCPPainter painter;
        ok = painter.begin(&gen);
        if (ok) {
            plot->toPainter(&painter, w, h);
            painter.end();
            ok = QFileInfo(path).size() > 0;
        }
    } else {
        return QString("%1: unknown chart format \"%2\" (use .png, .pdf or .svg)").arg(path, ext);
    }
    return ok ? QString() : QString("%1: could not be written").arg(path);
}

QString save_plot_readable(QCustomPlot* plot, const QString& path, int min_w, int min_h, int fallback_w, int fallback_h) {
    const bool sized = plot->isVisible() && plot->width() >= min_w && plot->height() >= min_h;
    return save_plot(plot, path, sized ? 0 : fallback_w, sized ? 0 : fallback_h);
}

QString ask_chart_path(QWidget* parent, const QString& base_name) {
    QString filter;
    QString path = QFileDialog::getSaveFileName(parent, QObject::tr("Export chart"), base_name + ".png",
                                                QObject::tr("PNG image (*.png);;PDF document (*.pdf);;SVG image (*.svg)"),
                                                &filter);
    if (!path.isEmpty() && QFileInfo(path).suffix().isEmpty())
        path += filter.contains("pdf") ? ".pdf" : filter.contains("svg") ? ".svg" : ".png";
    return path;
}

void style_plot(QCustomPlot* plot) { style_plot(plot, plot->palette()); }

void style_plot(QCustomPlot* plot, const QPalette& pal) {
    const QColor bg = pal.color(QPalette::Base), fg = pal.color(QPalette::Text);
    QColor grid = fg;
    grid.setAlpha(40);
    QColor subgrid = fg;
    subgrid.setAlpha(15);
    plot->setBackground(bg);
    for (QCPAxisRect* rect : plot->axisRects()) {
        for (QCPAxis* ax : rect->axes()) {
            ax->setBasePen(QPen(fg, 1));
            ax->setTickPen(QPen(fg, 1));
            ax->setSubTickPen(QPen(fg, 1));
            ax->setTickLabelColor(fg);
            ax->setLabelColor(fg);
            ax->grid()->setPen(QPen(grid, 1, Qt::DotLine));
            ax->grid()->setSubGridPen(QPen(subgrid, 1, Qt::DotLine));
            ax->grid()->setZeroLinePen(Qt::NoPen);
        }
        if (QCPLegend* legend = rect->insetLayout() ? plot->legend : nullptr) {
            QColor lb = bg;
            lb.setAlpha(220);
            legend->setBrush(lb);
            legend->setTextColor(fg);
            legend->setBorderPen(QPen(grid));
        }
    }
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i) {
        if (auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i))) title->setTextColor(fg);
    }
}

QColor series_color(int i) {
    static const QColor kTableau[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),
                                      QColor(214, 39, 40),  QColor(148, 103, 189), QColor(140, 86, 75),
                                      QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34),
                                      QColor(23, 190, 207)};
    return kTableau[((i % 10) + 10) % 10];
}

QCPItemText* make_empty_text(QCustomPlot* p) {
    auto* t = new QCPItemText(p);
    t->setClipToAxisRect(false);
    t->position->setType(QCPItemPosition::ptAxisRectRatio);
    t->position->setCoords(0.5, 0.5);
    t->setPositionAlignment(Qt::AlignCenter);
    t->setTextAlignment(Qt::AlignCenter);
    t->setLayer("overlay");
    t->setColor(p->palette().color(QPalette::PlaceholderText));
    return t;
}

void export_chart_pair(QWidget* parent, const QString& base_name, const QString& first, const QString& second,
                       const std::function<QString(const QString&, const QString&)>& save) {
    const QString path = ask_chart_path(parent, base_name + "-" + first);
    if (path.isEmpty()) return;
    const QFileInfo fi(path);
    QString base = fi.completeBaseName();
    if (base.endsWith("-" + first)) base.chop(first.size() + 1);
    const QString a = fi.dir().filePath(base + "-" + first + "." + fi.suffix());
    const QString b = fi.dir().filePath(base + "-" + second + "." + fi.suffix());
    QString error = save(first, a);
    if (error.isEmpty()) error = save(second, b);
    if (error.isEmpty())
        QMessageBox::information(parent, QObject::tr("Export charts"), QObject::tr("Saved %1 and %2.").arg(a, b));
    else
        QMessageBox::warning(parent, QObject::tr("Export charts"), error);
}

QString write_text_file(const QString& path, const std::function<void(std::ostream&)>& write) {
    std::ostringstream text;
    try {
        write(text);
    } catch (const std::exception& e) {
        return QString("%1: %2").arg(path, QString::fromUtf8(e.what()));
    }
    std::ofstream out(path.toStdString(), std::ios::binary | std::ios::trunc);
    if (!out) return QString("%1: could not be opened for writing").arg(path);
    const std::string s = text.str();
    out.write(s.data(), std::streamsize(s.size()));
    out.close();
    if (!out) return QString("%1: could not be written").arg(path);
    return QString();
}

QString human_count(int64_t n) {
    if (n >= 1000000000) return QString::number(double(n) / 1e9, 'f', 2) + " B";
    if (n >= 1000000) return QString::number(double(n) / 1e6, 'f', 2) + " M";
    if (n >= 10000) return QString::number(double(n) / 1e3, 'f', 1) + " k";
    return QLocale().toString((qlonglong)n);
}

QWidget* widget_row(std::initializer_list<QWidget*> widgets, bool stretch_first) {
    auto* w = new QWidget;
    auto* h = new QHBoxLayout(w);
    h->setContentsMargins(0, 0, 0, 0);
    bool first = true;
    for (QWidget* x : widgets) {
        h->addWidget(x, first && stretch_first ? 1 : 0);
        first = false;
    }
    return w;
}

}  // namespace ptune::ui
