#include "core/engine/deep_prompt.h"

namespace ptune {

namespace {
at::Tensor leaf(at::Tensor t) { return t.detach().contiguous().set_requires_grad(true); }

// nn.Linear's default initialisation: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
Linear linear_init(int64_t out, int64_t in) {
    double bound = 1.0 / std::sqrt((double)in);
    return {leaf(at::empty({out, in}).uniform_(-bound, bound)), leaf(at::empty({out}).uniform_(-bound, bound))};
}
}  // namespace

DeepPrompt::DeepPrompt(const PrefixGeometry& geometry, const PrefixOptions& opt, uint64_t seed) : geo_(geometry), opt_(opt) {
    opt_.validate();
    layers_ = opt_.layers.resolve((int)geo_.num_layers);
    const int64_t P = opt_.prompt_len, H = geo_.token_dim(), out = 2 * (int64_t)layers_.size() * H;
    at::manual_seed(seed);
    auto init = [&](std::vector<int64_t> shape) {
        return opt_.init == PromptInit::Zeros ? at::zeros(shape) : at::randn(shape) * opt_.init_std;
    };
    if (opt_.mlp) {
        embedding_ = leaf(init({P, H}));
        fc1_ = linear_init(opt_.mlp_hidden, H);
        fc2_ = linear_init(out, opt_.mlp_hidden);
    } else {
        prompts_ = leaf(init({P, out}));
    }
}

at::Tensor DeepPrompt::flat() const {
    if (!opt_.mlp) return prompts_;
    return fc2_(at::tanh(fc1_(embedding_)));
}

PrefixKV DeepPrompt::prefix(const at::Tensor& flat0, bool training) const {
    const int64_t P = opt_.prompt_len, heads = geo_.heads, hd = geo_.head_dim;
    const int64_t n = (int64_t)layers_.size();
    at::Tensor flat = at::dropout(flat0, opt_.dropout, training);
    // [P, 2n, heads, hd] -> [2n, heads, P, hd]
    at::Tensor kv = flat.view({P, 2 * n, heads, hd}).permute({1, 2, 0, 3});
    PrefixKV out;
    out.length = P;
    out.key.resize(geo_.num_layers);
    out.value.resize(geo_.num_layers);
    for (int64_t i = 0; i < n; ++i) {
        int l = layers_[i];
        out.key[l] = kv[2 * i].unsqueeze(0);
        out.value[l] = kv[2 * i + 1].unsqueeze(0);
    }
    return out;
}

std::vector<std::pair<std::string, at::Tensor>> DeepPrompt::parameters() const {
    if (!opt_.mlp) return {{"prompt_embeddings", prompts_}};
    return {{"embedding.weight", embedding_},
            {"transform.0.weight", fc1_.weight},
            {"transform.0.bias", fc1_.bias},
            {"transform.2.weight", fc2_.weight},
            {"transform.2.bias", fc2_.bias}};
}

void DeepPrompt::set_parameter(const std::string& name, const at::Tensor& value) {
    for (auto& [n, t] : parameters()) {
        if (n != name) continue;
        if (t.sizes() != value.sizes()) {
            throw Error("prompt tensor \"" + name + "\" has shape " + c10::str(value.sizes()) + ", expected " +
                        c10::str(t.sizes()) + " (prompt length " + std::to_string(opt_.prompt_len) + ", " +
                        std::to_string(layers_.size()) + " layers, width " + std::to_string(geo_.token_dim()) + ")");
        }
        at::NoGradGuard g;
        t.copy_(value.to(t.device(), t.scalar_type()));
        return;
    }
    throw Error("no prompt tensor \"" + name + "\" (" + std::string(opt_.mlp ? "MLP" : "plain") + " prompts)");
}

int64_t DeepPrompt::param_count() const {
    int64_t n = 0;
    for (auto& [name, t] : parameters()) n += t.numel();
    return n;
}

at::Tensor DeepPrompt::layer_norms_tensor(const at::Tensor& flat) const {
    at::NoGradGuard g;
    const int64_t P = opt_.prompt_len, H = geo_.token_dim(), n = (int64_t)layers_.size();
    return flat.detach().to(at::kFloat).view({P, 2 * n, H}).pow(2).sum(at::IntArrayRef{0, 2}).sqrt();
}

std::vector<std::pair<double, double>> DeepPrompt::layer_norms(const at::Tensor& flat) const {
    const int64_t n = (int64_t)layers_.size();
    at::Tensor norms = layer_norms_tensor(flat).to(at::kCPU);
    auto acc = norms.accessor<float, 1>();
    std::vector<std::pair<double, double>> out;
    for (int64_t i = 0; i < n; ++i) out.emplace_back(acc[2 * i], acc[2 * i + 1]);
    return out;
}

void DeepPrompt::to(const at::Device& device) {
    at::NoGradGuard g;
    for (at::Tensor* t : {&prompts_, &embedding_, &fc1_.weight, &fc1_.bias, &fc2_.weight, &fc2_.bias}) {
        if (t->defined()) *t = t->to(device).detach().set_requires_grad(true);
    }
}

}  // namespace ptune
