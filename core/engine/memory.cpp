#include "core/engine/memory.h"

#include <c10/core/Allocator.h>
#include <c10/util/ThreadLocalDebugInfo.h>
#include <torch/version.h>

#include <atomic>
#include <mutex>

namespace ptune {

// The hook's integer types changed in LibTorch 2.0 (int64_t totals in 1.x, size_t after).
#if TORCH_VERSION_MAJOR >= 2
using ReportedTotal = size_t;
#else
using ReportedTotal = int64_t;
#endif

struct MemoryTracker::Impl : public c10::MemoryReportingInfoBase {
    std::mutex mu;   // autograd's device threads report too
    int64_t current[2] = {0, 0}, peak[2] = {0, 0};

    void reportMemoryUsage(void* /*ptr*/, int64_t alloc_size, ReportedTotal /*total_allocated*/,
                           ReportedTotal /*total_reserved*/, c10::Device device) override {
        const int i = device.is_cuda() ? 1 : device.is_cpu() ? 0 : -1;
        if (i < 0) return;
        std::lock_guard<std::mutex> g(mu);
        current[i] += alloc_size;
        if (current[i] > peak[i]) peak[i] = current[i];
    }
    bool memoryProfilingEnabled() const override { return true; }
};

struct MemoryTracker::Guard {
    c10::DebugInfoGuard guard;
    explicit Guard(std::shared_ptr<c10::DebugInfoBase> info)
        : guard(c10::DebugInfoKind::PROFILER_STATE, std::move(info)) {}
};

MemoryTracker::MemoryTracker() : impl_(std::make_shared<Impl>()) {
    guard_ = std::make_unique<Guard>(impl_);
}

MemoryTracker::~MemoryTracker() = default;

int64_t MemoryTracker::current_bytes(bool cuda) const {
    std::lock_guard<std::mutex> g(impl_->mu);
    return impl_->current[cuda ? 1 : 0];
}

int64_t MemoryTracker::peak_bytes(bool cuda) const {
    std::lock_guard<std::mutex> g(impl_->mu);
    return impl_->peak[cuda ? 1 : 0];
}

void MemoryTracker::reset_peak() {
    std::lock_guard<std::mutex> g(impl_->mu);
    for (int i = 0; i < 2; ++i) impl_->peak[i] = impl_->current[i];
}

}  // namespace ptune
