// Chart curve processing: TensorBoard's debiased EMA smoothing and min/max thinning.
#include <QtTest>
#include <cmath>

#include "ui/series.h"

using namespace ptune::ui;

class TstSeries : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void emaDebiased() {
        // w = 0.5 on 1, 2, 4: ema 0.5, 1.25, 2.625; debias 1-0.5, 1-0.25, 1-0.125 -> 1, 5/3, 3
        auto s = ema_debiased({1, 2, 4}, 0.5);
        QCOMPARE(s.size(), size_t(3));
        QCOMPARE(s[0], 1.0);  // the first point is not pulled toward 0
        QVERIFY(std::abs(s[1] - 5.0 / 3.0) < 1e-12);
        QVERIFY(std::abs(s[2] - 3.0) < 1e-12);
        // no smoothing, constant series, non-finite values pass through and do not enter the average
        QCOMPARE(ema_debiased({3, 1, 2}, 0.0), std::vector<double>({3, 1, 2}));
        QCOMPARE(ema_debiased({2, 2, 2}, 0.9), std::vector<double>({2, 2, 2}));
        auto n = ema_debiased({1, NAN, 1, 3}, 0.5);
        QVERIFY(std::isnan(n[1]));
        QCOMPARE(n[2], 1.0);
        QVERIFY(std::abs(n[3] - (0.5 * 0.75 + 1.5) / 0.875) < 1e-12);  // ema 0.5, 0.75, 1.875 over 1, 1, 3
    }

    // Smoothing of a prefix does not change when the run grows.
    void stableAsTheRunGrows() {
        std::vector<double> y;
        for (int i = 0; i < 200; ++i) y.push_back(std::sin(i * 0.1) + i * 0.01);
        auto full = ema_debiased(y, 0.8);
        auto head = ema_debiased(std::vector<double>(y.begin(), y.begin() + 50), 0.8);
        for (int i = 0; i < 50; ++i) QCOMPARE(head[i], full[i]);
    }

    void thinningKeepsSpikes() {
        std::vector<double> x, y;
        for (int i = 0; i < 100000; ++i) {
            x.push_back(i);
            y.push_back(1.0 + 0.001 * (i % 7));
        }
        y[31337] = 50.0;   // one spike up
        y[77777] = -20.0;  // one spike down
        std::vector<double> tx, ty;
        minmax_thin(x, y, 500, tx, ty);
        QVERIFY(tx.size() <= 2000);
        QVERIFY(tx.size() >= 500);
        QCOMPARE(*std::max_element(ty.begin(), ty.end()), 50.0);
        QCOMPARE(*std::min_element(ty.begin(), ty.end()), -20.0);
        QCOMPARE(tx.front(), 0.0);
        QCOMPARE(tx.back(), 99999.0);
        QVERIFY(std::is_sorted(tx.begin(), tx.end()));
        // where the spike is, its x is kept
        QVERIFY(std::find(tx.begin(), tx.end(), 31337.0) != tx.end());
        // short curves come back unchanged
        std::vector<double> sx{1, 2, 3}, sy{4, 5, 6};
        minmax_thin(sx, sy, 500, tx, ty);
        QCOMPARE(tx, sx);
        QCOMPARE(ty, sy);
    }
};

QTEST_APPLESS_MAIN(TstSeries)
#include "tst_series.moc"
