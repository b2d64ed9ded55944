#pragma once
// Shared helpers for the workbench's widgets and QCustomPlot charts. Public ui headers forward-declare QCustomPlot;
// only ui/*.cpp include qcustomplot.h (it needs Qt's keywords).
#include <QColor>
#include <QPalette>
#include <QString>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <ostream>

class QCPItemText;
class QCustomPlot;
class QWidget;

namespace ptune::ui {

// Saves a chart by the file's extension: .png, .pdf or .svg (width/height 0: the widget's size). Returns an
// empty string on success, else a message naming the file.
QString save_plot(QCustomPlot* plot, const QString& path, int width = 0, int height = 0);

// Like save_plot, at the chart's on-screen size when it is shown and at least min_w x min_h; a chart never shown
// (or squeezed) is saved at fallback_w x fallback_h instead, so the file is readable.
QString save_plot_readable(QCustomPlot* plot, const QString& path, int min_w, int min_h, int fallback_w, int fallback_h);

// Asks where to export a chart (PNG, PDF or SVG), proposing `base_name`.png; adds the suffix of the chosen
// filter when the name has none. Empty when the user cancels.
QString ask_chart_path(QWidget* parent, const QString& base_name);

// Colours axes, grid, legend and background from a palette, so a dark theme gives dark charts. Call again on
// QEvent::PaletteChange with the receiving widget's palette (the plot may not have the new one yet then).
void style_plot(QCustomPlot* plot, const QPalette& palette);
void style_plot(QCustomPlot* plot);   // with the plot's own palette

// A qualitative palette (Tableau 10) for runs and series, readable on light and dark backgrounds.
QColor series_color(int i);

// The centred text a chart shows when it has nothing to draw ("Select runs…"), on the overlay layer, in the
// colour of the palette's PlaceholderText role (Qt's role for hint text); the caller sets its text and visibility.
QCPItemText* make_empty_text(QCustomPlot* plot);

// Asks for one file name (PNG, PDF or SVG) and saves two charts beside each other as NAME-FIRST.EXT and
// NAME-SECOND.EXT through `save(which, path)` (each returns "" or an error); says what was saved or what failed.
void export_chart_pair(QWidget* parent, const QString& base_name, const QString& first, const QString& second,
                       const std::function<QString(const QString& which, const QString& path)>& save);

// Writes what `write` produces into `path` (all or nothing on a write error): "" or the error naming the file.
QString write_text_file(const QString& path, const std::function<void(std::ostream&)>& write);

// A count for people: 1,234 below ten thousand, then 12.3 k, 4.56 M, 1.23 B (parameters, tokens).
QString human_count(int64_t n);

// Widgets side by side in one form row, the first stretched (a line edit and its buttons).
QWidget* widget_row(std::initializer_list<QWidget*> widgets, bool stretch_first = true);

}  // namespace ptune::ui
