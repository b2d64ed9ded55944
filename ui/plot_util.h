#pragma once
// Shared chart helpers for the workbench's QCustomPlot charts. Public ui headers forward-declare QCustomPlot;
// only ui/*.cpp include qcustomplot.h (it needs Qt's keywords).
#include <QColor>
#include <QPalette>
#include <QString>

class QCustomPlot;

namespace ptune::ui {

// Saves a chart by the file's extension: .png, .pdf or .svg (width/height 0: the widget's size). Returns an
// empty string on success, else a message naming the file.
QString save_plot(QCustomPlot* plot, const QString& path, int width = 0, int height = 0);

// Colours axes, grid, legend and background from a palette, so a dark theme gives dark charts. Call again on
// QEvent::PaletteChange with the receiving widget's palette (the plot may not have the new one yet then).
void style_plot(QCustomPlot* plot, const QPalette& palette);
void style_plot(QCustomPlot* plot);   // with the plot's own palette

// A qualitative palette (Tableau 10) for runs and series, readable on light and dark backgrounds.
QColor series_color(int i);

}  // namespace ptune::ui
