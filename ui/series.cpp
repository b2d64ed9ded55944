#include "ui/series.h"

#include <algorithm>
#include <cmath>

namespace ptune::ui {

std::vector<double> ema_debiased(const std::vector<double>& y, double weight) {
    std::vector<double> out(y.size());
    bool constant = std::all_of(y.begin(), y.end(), [&](double v) { return v == y.front(); });
    double last = 0;
    double w_pow = 1;  // weight^k
    for (std::size_t i = 0; i < y.size(); ++i) {
        const double v = y[i];
        if (constant || !std::isfinite(v) || weight <= 0) {
            out[i] = v;
            continue;
        }
        last = last * weight + (1 - weight) * v;
        w_pow *= weight;
        out[i] = last / (1 - w_pow);
    }
    return out;
}

void minmax_thin(const std::vector<double>& x, const std::vector<double>& y, std::size_t buckets,
                 std::vector<double>& out_x, std::vector<double>& out_y) {
    out_x.clear();
    out_y.clear();
    const std::size_t n = std::min(x.size(), y.size());
    if (buckets == 0 || n <= 4 * buckets) {
        out_x.assign(x.begin(), x.begin() + (long)n);
        out_y.assign(y.begin(), y.begin() + (long)n);
        return;
    }
    const double x0 = x.front(), span = x[n - 1] - x0;
    std::size_t i = 0;
    while (i < n) {
        std::size_t b = span > 0 ? std::min(buckets - 1, (std::size_t)((x[i] - x0) / span * (double)buckets)) : 0;
        std::size_t first = i, lo = i, hi = i, last = i;
        for (++i; i < n; ++i) {
            std::size_t bi = span > 0 ? std::min(buckets - 1, (std::size_t)((x[i] - x0) / span * (double)buckets)) : 0;
            if (bi != b) break;
            if (y[i] < y[lo]) lo = i;
            if (y[i] > y[hi]) hi = i;
            last = i;
        }
        std::size_t keep[4] = {first, std::min(lo, hi), std::max(lo, hi), last};
        std::size_t prev = (std::size_t)-1;
        for (std::size_t k : keep) {
            if (k == prev) continue;
            out_x.push_back(x[k]);
            out_y.push_back(y[k]);
            prev = k;
        }
    }
}

}  // namespace ptune::ui
