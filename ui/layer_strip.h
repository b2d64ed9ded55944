#pragma once
// The depth picker: one cell per transformer layer of the chosen model, drawn for its real layer count. Click a
// cell to toggle it, drag to paint several; the cells carrying prompts are filled. The tooltip of a cell tells
// its parameter cost. Plain Qt widget; the selection maps to a LayerSpec ("all", "first:K", "last:K", "0,2").
#include <QWidget>
#include <vector>

namespace ptune::ui {

class LayerStrip : public QWidget {
    Q_OBJECT
public:
    explicit LayerStrip(QWidget* parent = nullptr);

    void set_layer_count(int n);   // keeps the selection's shape (all / first k / last k) where it can
    int layer_count() const { return (int)on_.size(); }
    void set_selected(const std::vector<int>& layers);   // out-of-range layers are dropped
    std::vector<int> selected() const;
    void set_params_per_layer(long long n);   // shown in the tooltips ("2·P·H = ...")

    QRect cell_rect(int i) const;   // where layer i is drawn (widget coordinates)
    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

Q_SIGNALS:
    void selection_changed();   // by the user or set_selected

protected:
    void paintEvent(QPaintEvent*) override;
    void mousePressEvent(QMouseEvent*) override;
    void mouseMoveEvent(QMouseEvent*) override;
    void mouseReleaseEvent(QMouseEvent*) override;
    bool event(QEvent*) override;   // tooltips
    void keyPressEvent(QKeyEvent*) override;

private:
    int cell_at(const QPoint& p) const;

    std::vector<bool> on_;
    long long params_per_layer_ = 0;
    int focus_ = 0;
    int paint_value_ = -1;   // while dragging: 1 sets, 0 clears
    int last_painted_ = -1;
};

}  // namespace ptune::ui
