#include "ui/layer_strip.h"

#include <QHelpEvent>
#include <QKeyEvent>
#include <QLocale>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

namespace ptune::ui {

namespace {
constexpr int kCellMin = 14, kCellMax = 34, kHeight = 30, kGap = 2;
}

LayerStrip::LayerStrip(QWidget* parent) : QWidget(parent) {
    setFocusPolicy(Qt::StrongFocus);
    setMouseTracking(false);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    setAccessibleName("Prompt layers");
}

void LayerStrip::set_layer_count(int n) {
    n = std::max(0, n);
    if (n == (int)on_.size()) return;
    // Keep the shape: all stays all, a prefix stays a prefix of the same length, a suffix stays a suffix.
    const std::vector<int> sel = selected();
    const int old = (int)on_.size();
    std::vector<bool> next((size_t)n, false);
    bool prefix = !sel.empty() && sel.front() == 0 && sel.back() == (int)sel.size() - 1;
    bool suffix = !sel.empty() && sel.back() == old - 1 && sel.front() == old - (int)sel.size();
    if (old == 0 || (int)sel.size() == old) {
        std::fill(next.begin(), next.end(), true);
    } else if (suffix && !prefix) {
        for (int i = std::max(0, n - (int)sel.size()); i < n; ++i) next[(size_t)i] = true;
    } else if (prefix) {
        for (int i = 0; i < std::min(n, (int)sel.size()); ++i) next[(size_t)i] = true;
    } else {
        for (int l : sel)
            if (l < n) next[(size_t)l] = true;
    }
    on_ = next;
    focus_ = std::min(focus_, std::max(0, n - 1));
    updateGeometry();
    update();
    Q_EMIT selection_changed();
}

void LayerStrip::set_selected(const std::vector<int>& layers) {
    std::vector<bool> next(on_.size(), false);
    for (int l : layers)
        if (l >= 0 && l < (int)next.size()) next[(size_t)l] = true;
    if (next == on_) return;
    on_ = next;
    update();
    Q_EMIT selection_changed();
}

std::vector<int> LayerStrip::selected() const {
    std::vector<int> out;
    for (size_t i = 0; i < on_.size(); ++i)
        if (on_[i]) out.push_back((int)i);
    return out;
}

void LayerStrip::set_params_per_layer(long long n) { params_per_layer_ = n; }

QSize LayerStrip::sizeHint() const {
    return {std::max(1, layer_count()) * (24 + kGap) + 2, kHeight + 18};
}
QSize LayerStrip::minimumSizeHint() const {
    return {std::min(std::max(1, layer_count()), 12) * (kCellMin + kGap) + 2, kHeight + 18};
}

QRect LayerStrip::cell_rect(int i) const {
    const int n = std::max(1, layer_count());
    int w = (width() - 2 - (n - 1) * kGap) / n;
    w = std::clamp(w, 4, kCellMax);
    return {1 + i * (w + kGap), 1, w, kHeight};
}

int LayerStrip::cell_at(const QPoint& p) const {
    for (int i = 0; i < layer_count(); ++i)
        if (cell_rect(i).adjusted(0, 0, kGap, 0).contains(p)) return i;
    return -1;
}

void LayerStrip::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const QPalette& pal = palette();
    const QColor onFill = pal.color(QPalette::Highlight);
    const QColor offFill = pal.color(QPalette::Base);
    QColor border = pal.color(QPalette::Text);
    border.setAlpha(110);
    const int n = layer_count();
    const int w = n ? cell_rect(0).width() : 0;
    // Label every layer when there is room, else every 2nd/4th and the last one.
    const int step = w >= 18 ? 1 : (w >= 9 ? 2 : 4);
    for (int i = 0; i < n; ++i) {
        QRect r = cell_rect(i);
        p.setPen(QPen(border, 1));
        p.setBrush(on_[(size_t)i] ? onFill : offFill);
        p.drawRoundedRect(QRectF(r).adjusted(0.5, 0.5, -0.5, -0.5), 3, 3);
        if (hasFocus() && i == focus_) {
            p.setPen(QPen(pal.color(QPalette::Highlight), 2, Qt::DotLine));
            p.setBrush(Qt::NoBrush);
            p.drawRoundedRect(QRectF(r).adjusted(-1, -1, 1, 1), 3, 3);
        }
        if (i % step == 0 || i == n - 1) {
            p.setPen(pal.color(QPalette::WindowText));
            QFont f = font();
            f.setPointSizeF(std::max(6.0, f.pointSizeF() * 0.8));
            p.setFont(f);
            p.drawText(QRect(r.left() - 6, r.bottom() + 2, r.width() + 12, 14), Qt::AlignHCenter | Qt::AlignTop,
                       QString::number(i));
        }
    }
}

void LayerStrip::mousePressEvent(QMouseEvent* e) {
    const int c = cell_at(e->position().toPoint());
    if (c < 0 || e->button() != Qt::LeftButton) return;
    focus_ = c;
    paint_value_ = on_[(size_t)c] ? 0 : 1;
    last_painted_ = -1;
    mouseMoveEvent(e);
}

void LayerStrip::mouseMoveEvent(QMouseEvent* e) {
    if (paint_value_ < 0) return;
    const int c = cell_at(e->position().toPoint());
    if (c < 0 || c == last_painted_) return;
    last_painted_ = c;
    if (on_[(size_t)c] != (paint_value_ == 1)) {
        on_[(size_t)c] = paint_value_ == 1;
        update();
        Q_EMIT selection_changed();
    }
}

void LayerStrip::mouseReleaseEvent(QMouseEvent*) { paint_value_ = -1; }

void LayerStrip::keyPressEvent(QKeyEvent* e) {
    const int n = layer_count();
    if (n == 0) return QWidget::keyPressEvent(e);
    if (e->key() == Qt::Key_Left) {
        focus_ = std::max(0, focus_ - 1);
        update();
    } else if (e->key() == Qt::Key_Right) {
        focus_ = std::min(n - 1, focus_ + 1);
        update();
    } else if (e->key() == Qt::Key_Space) {
        on_[(size_t)focus_] = !on_[(size_t)focus_];
        update();
        Q_EMIT selection_changed();
    } else {
        QWidget::keyPressEvent(e);
    }
}

bool LayerStrip::event(QEvent* e) {
    if (e->type() == QEvent::ToolTip) {
        auto* he = static_cast<QHelpEvent*>(e);
        const int c = cell_at(he->pos());
        if (c >= 0) {
            QString tip = QString("Layer %1: %2").arg(c).arg(on_[(size_t)c] ? "prompts" : "no prompts");
            if (params_per_layer_ > 0)
                tip += QString("\n%1 trainable parameters per prompted layer").arg(QLocale().toString(params_per_layer_));
            QToolTip::showText(he->globalPos(), tip, this);
        } else {
            QToolTip::hideText();
        }
        return true;
    }
    return QWidget::event(e);
}

}  // namespace ptune::ui
