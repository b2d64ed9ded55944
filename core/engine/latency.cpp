#include "core/engine/latency.h"

#include <algorithm>
#include <chrono>

#include "core/engine/deep_prompt.h"
#include "core/engine/encoder.h"
#include "core/engine/trainer.h"

namespace ptune {

double percentile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    double pos = q * double(v.size() - 1);
    size_t lo = (size_t)pos, hi = std::min(v.size() - 1, lo + 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

std::vector<LatencyResult> run_latency(const LatencyOptions& opt, const std::function<void(const LatencyResult&)>& on_result,
                                       const std::function<bool()>& cancelled) {
    if (opt.repeats < 1) throw Error("latency: repeats must be at least 1");
    for (auto& m : opt.methods)
        if (m != "base" && m != "ptv2") throw Error("latency: method \"" + m + "\": use base or ptv2");
    set_threads(opt.threads);
    at::Device dev = resolve_device(opt.device);
    auto model = EncoderClassifier::load(opt.model_dir, -1, opt.seed);
    model->to(dev);
    const ModelConfig& cfg = model->config();
    std::vector<LatencyResult> out;
    at::NoGradGuard no_grad;
    at::manual_seed(opt.seed);
    for (const auto& method : opt.methods) {
        std::vector<int> plens = method == "base" ? std::vector<int>{0} : opt.prompt_lens;
        for (int P : plens) {
            std::unique_ptr<DeepPrompt> prompt;
            if (method == "ptv2") {
                PrefixOptions po;
                po.prompt_len = P;
                po.layers = LayerSpec{opt.layers};
                prompt = std::make_unique<DeepPrompt>(cfg, po, opt.seed);
                prompt->to(dev);
            }
            for (int B : opt.batch_sizes) {
                for (int S : opt.seq_lens) {
                    if (cancelled && cancelled()) return out;
                    cfg.check_fits(S, P);
                    // Random real tokens (ids past the first 5, which hold the special tokens in BERT-like vocabularies).
                    int64_t lo = std::min<int64_t>(5, cfg.vocab_size - 1);
                    Batch b;
                    b.input_ids = at::randint(lo, cfg.vocab_size, {B, S}, at::kLong).to(dev);
                    b.attention_mask = at::ones({B, S}, at::kLong).to(dev);
                    PrefixKV kv;
                    if (prompt) kv = prompt->prefix(false);
                    auto once = [&]() {
                        at::Tensor y = model->forward(b, prompt ? &kv : nullptr, false);
                        if (dev.is_cuda()) torch::cuda::synchronize();
                        else (void)y.sum().item<float>();
                    };
                    for (int i = 0; i < opt.warmup; ++i) once();
                    std::vector<double> ms;
                    for (int i = 0; i < opt.repeats; ++i) {
                        auto t0 = std::chrono::steady_clock::now();
                        once();
                        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
                    }
                    LatencyResult r;
                    r.method = method;
                    r.batch_size = B;
                    r.seq_len = S;
                    r.prompt_len = P;
                    r.median_ms = percentile(ms, 0.5);
                    r.p90_ms = percentile(ms, 0.9);
                    double sum = 0;
                    for (double x : ms) sum += x;
                    r.mean_ms = sum / double(ms.size());
                    r.device = dev.str();
                    out.push_back(r);
                    if (on_result) on_result(r);
                }
            }
        }
    }
    return out;
}

}  // namespace ptune
