#pragma once
// Curve processing for the workbench's charts, plain C++ so it is tested without a screen.
#include <cstddef>
#include <vector>

namespace ptune::ui {

// TensorBoard's smoothing: an exponential moving average with debiasing, so early values are not pulled
// toward the first point (smoothed_i = ema_i / (1 - w^k), k = finite points so far). Non-finite values pass
// through unsmoothed and do not enter the average; a constant series is returned as it is. weight in [0, 1):
// 0 = no smoothing. The result depends only on the points up to i, so it does not change shape as a run grows.
std::vector<double> ema_debiased(const std::vector<double>& y, double weight);

// Thins a curve for drawing: x (sorted ascending) is cut into `buckets` equal intervals between its first and
// last value, and each bucket keeps its first, lowest, highest and last points, in x order (fewer when they
// coincide). Every spike survives, unlike random sampling. Curves with at most 4 * buckets points come back
// unchanged.
void minmax_thin(const std::vector<double>& x, const std::vector<double>& y, std::size_t buckets,
                 std::vector<double>& out_x, std::vector<double>& out_y);

}  // namespace ptune::ui
