#include "core/engine/attention.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "core/io/error.h"

namespace ptune {

const char* attention_kernel_name(AttentionKernel k) { return k == AttentionKernel::Fused ? "fused" : "manual"; }

AttentionKernel parse_attention_kernel(const std::string& name, const std::string& what) {
    if (name == "manual") return AttentionKernel::Manual;
    if (name == "fused") {
        if (!fused_attention_available())
            throw Error(what + ": \"fused\" attention needs LibTorch 2.x (this build has " TORCH_VERSION
                               "); use \"manual\"");
        return AttentionKernel::Fused;
    }
    throw Error(what + ": unknown attention kernel \"" + name + "\" (manual or fused)");
}

AttentionKernel default_attention_kernel() {
    static const AttentionKernel k = [] {
        const char* env = std::getenv("PTUNE_ATTENTION");
        if (env && *env) return parse_attention_kernel(env, "PTUNE_ATTENTION");
        return fused_attention_available() ? AttentionKernel::Fused : AttentionKernel::Manual;
    }();
    return k;
}

double mask_lowest(at::ScalarType dtype) {
    switch (dtype) {
        case at::kBFloat16: return (double)std::numeric_limits<c10::BFloat16>::lowest();
        case at::kHalf: return (double)std::numeric_limits<c10::Half>::lowest();
        case at::kDouble: return std::numeric_limits<double>::lowest();
        default: return std::numeric_limits<float>::lowest();
    }
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& add_mask,
                     double dropout_p, bool training, AttentionKernel kernel) {
#if PTUNE_HAVE_FUSED_ATTENTION
    if (kernel == AttentionKernel::Fused)
        return at::scaled_dot_product_attention(q, k, v, add_mask.to(q.scalar_type()), training ? dropout_p : 0.0,
                                                /*is_causal=*/false);
#endif
    const double scale = 1.0 / std::sqrt((double)q.size(-1));
    at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * scale + add_mask;
    at::Tensor probs = at::softmax(scores, -1);
    probs = at::dropout(probs, dropout_p, training);
    return at::matmul(probs, v);
}

}  // namespace ptune
