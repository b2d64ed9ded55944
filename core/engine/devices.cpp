#include "core/engine/devices.h"

#include <dlfcn.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <thread>

namespace ptune {

namespace {
// The device name through the CUDA driver API, opened at run time: no link-time dependency, so the same code
// serves Debian's CPU LibTorch (no driver: names are never asked for) and CUDA builds.
struct CudaDriver {
    using Init = int (*)(unsigned);
    using Get = int (*)(int*, int);
    using Name = int (*)(char*, int, int);
    using Mem = int (*)(size_t*, int);
    void* lib = nullptr;
    Init init = nullptr;
    Get get = nullptr;
    Name name = nullptr;
    Mem mem = nullptr;
    CudaDriver() {
        lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib) return;
        init = reinterpret_cast<Init>(dlsym(lib, "cuInit"));
        get = reinterpret_cast<Get>(dlsym(lib, "cuDeviceGet"));
        name = reinterpret_cast<Name>(dlsym(lib, "cuDeviceGetName"));
        mem = reinterpret_cast<Mem>(dlsym(lib, "cuDeviceTotalMem_v2"));
        if (!init || !get || !name || init(0) != 0) name = nullptr;
    }
    ~CudaDriver() {
        if (lib) dlclose(lib);
    }
};
}  // namespace

std::vector<DeviceInfo> list_devices() {
    std::vector<DeviceInfo> out;
    const int threads = (int)std::thread::hardware_concurrency();
    out.push_back({"cpu", "CPU (" + std::to_string(threads) + " threads)", 0});
    const int n = torch::cuda::is_available() ? (int)torch::cuda::device_count() : 0;
    if (n == 0) return out;
    CudaDriver drv;
    for (int i = 0; i < n; ++i) {
        DeviceInfo d{"cuda:" + std::to_string(i), "CUDA device " + std::to_string(i), 0};
        int dev = 0;
        if (drv.name && drv.get(&dev, i) == 0) {
            char buf[256] = {0};
            if (drv.name(buf, sizeof buf - 1, dev) == 0 && buf[0]) d.name = buf;
            size_t bytes = 0;
            if (drv.mem && drv.mem(&bytes, dev) == 0) d.memory_bytes = (int64_t)bytes;
        }
        out.push_back(d);
    }
    return out;
}

RuntimeInfo runtime_info() {
    RuntimeInfo r;
    r.libtorch_version = TORCH_VERSION;
    r.cuda_available = torch::cuda::is_available();
    r.cuda_devices = r.cuda_available ? (int)torch::cuda::device_count() : 0;
    r.cpu_threads = (int)std::thread::hardware_concurrency();
    return r;
}

}  // namespace ptune
