#pragma once
// What the workbench's latency view asks the worker to measure for a stored run: two sweeps, each measured
// round-robin base against prompted model (core/engine/latency.h), results stored with the run.
#include <string>
#include <vector>

namespace ptune::ui {

struct LatencySweep {
    // Median latency against sequence length, at the run's prompt length.
    std::vector<int> seq_lens{16, 32, 64, 128};
    // Median latency against prompt length, at one sequence length.
    std::vector<int> prompt_lens{4, 8, 16, 32, 64};
    int prompt_sweep_seq_len = 64;
    int batch_size = 1;
    int warmup = 3;
    int repeats = 20;
    std::string device;     // empty: the run's training device
};

}  // namespace ptune::ui
