#pragma once
// Peak tensor memory of a piece of work, on the CPU and on CUDA devices, as LibTorch's allocators report it.
// While a MemoryTracker lives, every tensor allocation and release made by the thread that created it (and by
// autograd's worker threads running that thread's backward passes) is reported to it through c10's memory
// reporting hook (the one torch.profiler's profile_memory uses): on the CPU by the default allocator, on CUDA by
// the caching allocator (block sizes, so the peak matches torch.cuda.max_memory_allocated for the same work).
// Counted from zero when the tracker starts: tensors that already existed are not in it (load the model after
// starting one to include its weights). It uses the thread's PROFILER_STATE slot: do not run LibTorch's profiler
// in a thread while it is tracked. The hook costs each allocation a little time (c10 then keeps a size table):
// end the tracker before timing anything that must compare with untracked numbers. Torch-free interface.
#include <cstdint>
#include <memory>

namespace ptune {

class MemoryTracker {
public:
    MemoryTracker();    // starts tracking the calling thread
    ~MemoryTracker();   // stops
    MemoryTracker(const MemoryTracker&) = delete;
    MemoryTracker& operator=(const MemoryTracker&) = delete;

    // Bytes of tensors alive now / at most since the start (or the last reset_peak), allocated while tracking.
    int64_t current_bytes(bool cuda) const;
    int64_t peak_bytes(bool cuda) const;
    void reset_peak();  // the peaks restart from the current values

private:
    struct Impl;
    struct Guard;
    std::shared_ptr<Impl> impl_;
    std::unique_ptr<Guard> guard_;   // declared last: destroyed first, on the thread that made it
};

}  // namespace ptune
