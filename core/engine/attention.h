#pragma once
// Scaled dot-product attention, by one of two kernels chosen at compile time and, where both exist, at run time:
//   manual: matmul, softmax, dropout, matmul, as transformers' eager attention (every LibTorch; the only one on 1.13)
//   fused:  at::scaled_dot_product_attention (LibTorch 2.x), which picks a fused CPU or CUDA kernel
// Both take the same additive mask and give the same numbers within float rounding (tests run both).
#include <string>

#include <ATen/ATen.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#define PTUNE_HAVE_FUSED_ATTENTION 1
#else
#define PTUNE_HAVE_FUSED_ATTENTION 0
#endif

namespace ptune {

enum class AttentionKernel { Manual, Fused };

constexpr bool fused_attention_available() { return PTUNE_HAVE_FUSED_ATTENTION != 0; }
const char* attention_kernel_name(AttentionKernel k);
// "manual" or "fused"; throws ptune::Error naming `what` for anything else, or for "fused" on LibTorch 1.x.
AttentionKernel parse_attention_kernel(const std::string& name, const std::string& what);
// The process's default: fused where available, unless the environment variable PTUNE_ATTENTION says
// "manual" (or "fused"); read once.
AttentionKernel default_attention_kernel();

// The additive mask value for masked keys: the lowest finite value of `dtype` (float, bfloat16 or half), so
// that a masked score stays finite in half precision (transformers' torch.finfo(dtype).min).
double mask_lowest(at::ScalarType dtype);

// q [B, heads, n, d], k and v [B, heads, keys, d], add_mask broadcastable to [B, heads, n, keys] (0 where attended,
// mask_lowest where not), scale 1/sqrt(d) -> [B, heads, n, d]. In training, dropout_p on the attention
// probabilities (the manual kernel calls at::dropout exactly as transformers' eager attention does, so a seeded
// run draws the same random numbers as before the kernels were split).
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& add_mask,
                     double dropout_p, bool training, AttentionKernel kernel);

}  // namespace ptune
