#pragma once
// The compute devices and runtime ptune can use, torch-free for the workbench's device picker and About box.
#include <cstdint>
#include <string>
#include <vector>

namespace ptune {

struct DeviceInfo {
    std::string id;             // "cpu", "cuda:0", ... (what TrainOptions::device takes)
    std::string name;           // "CPU (16 threads)", "NVIDIA H100 80GB HBM3"
    int64_t memory_bytes = 0;   // total device memory (GPUs; 0 when unknown)
};

// The CPU first, then every CUDA device LibTorch can use, with its name (read through the CUDA driver when
// LibTorch was built with CUDA; "CUDA device N" if the driver does not say).
std::vector<DeviceInfo> list_devices();

struct RuntimeInfo {
    std::string libtorch_version;   // the LibTorch ptune was built against, e.g. "1.13.0"
    bool cuda_available = false;
    int cuda_devices = 0;
    int cpu_threads = 0;            // hardware threads
};
RuntimeInfo runtime_info();

}  // namespace ptune
