#include "core/engine/latency.h"

#include <algorithm>
#include <chrono>

#include "core/engine/deep_prompt.h"
#include "core/engine/encoder.h"
#include "core/engine/methods.h"
#include "core/engine/trainer.h"

namespace ptune {

double percentile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    double pos = q * double(v.size() - 1);
    size_t lo = (size_t)pos, hi = std::min(v.size() - 1, lo + 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

const std::vector<std::string>& latency_method_names() {
    static const std::vector<std::string> k{"base", "ptv2",        "prompt",  "ptuning", "lora", "lora-merged",
                                            "ia3",  "ia3-merged",  "adapter", "full",    "head"};
    return k;
}

std::vector<LatencyResult> run_latency(const LatencyOptions& opt, const std::function<void(const LatencyResult&)>& on_result,
                                       const std::function<bool()>& cancelled) {
    if (opt.repeats < 1) throw Error("latency: repeats must be at least 1");
    const auto& known = latency_method_names();
    for (auto& m : opt.methods) {
        if (std::find(known.begin(), known.end(), m) == known.end()) {
            std::string all;
            for (auto& k : known) all += (all.empty() ? "" : ", ") + k;
            throw Error("latency: method \"" + m + "\": use " + all);
        }
        if (has_prompt_len(m) && opt.prompt_lens.empty())
            throw Error("latency: method " + m + " needs at least one prompt length");
    }
    set_threads(opt.threads);
    at::Device dev = resolve_device(opt.device);
    auto model = EncoderClassifier::load(opt.model_dir, -1, opt.seed);
    model->to(dev);
    const ModelConfig& cfg = model->config();
    // Every configuration is prepared first, then measured round-robin: pass r of every configuration before
    // pass r + 1 of any, so drift on the machine (clocks, other load) hits base and prompted models alike and
    // their ratio is measured side by side.
    struct Config {
        LatencyResult r;
        std::shared_ptr<DeepPrompt> prompt;
        std::shared_ptr<DeltaMethod> delta;               // unmerged methods: applied on every pass
        std::shared_ptr<EncoderClassifier> merged;        // lora-merged / ia3-merged: a copy with merged weights
        Batch batch;
        PrefixKV kv;
        Adaptation ad;                                    // computed once (prompts as PEFT's inference mode has them)
        std::vector<double> ms;
    };
    std::vector<Config> configs;
    at::NoGradGuard no_grad;
    at::manual_seed(opt.seed);
    for (const auto& method : opt.methods) {
        const bool prompted = has_prompt_len(method);
        std::vector<int> plens = prompted ? opt.prompt_lens : std::vector<int>{0};
        for (int P : plens) {
            std::shared_ptr<DeepPrompt> prompt;
            std::shared_ptr<DeltaMethod> delta;
            std::shared_ptr<EncoderClassifier> merged;
            if (method == "ptv2") {
                PrefixOptions po;
                po.prompt_len = P;
                po.layers = LayerSpec{opt.layers};
                prompt = std::make_shared<DeepPrompt>(cfg, po, opt.seed);
                prompt->to(dev);
            } else if (method != "base" && method != "full" && method != "head") {
                // The given options (PEFT's defaults unless set); latency does not depend on the values.
                const std::string base_name = method.substr(0, method.find('-'));
                DeltaOptions d = opt.delta;
                if (d.prompt_init == "text") d.prompt_init = "random";   // the values do not matter here
                delta = std::shared_ptr<DeltaMethod>(make_method(base_name, *model, P, d, {}, opt.seed).release());
                delta->to(dev);
                if (method.size() > 7 && method.compare(method.size() - 7, 7, "-merged") == 0) {
                    merged = std::shared_ptr<EncoderClassifier>(EncoderClassifier::load(opt.model_dir, -1, opt.seed).release());
                    merged->to(dev);
                    merged->merge(delta->adaptation(false));
                    delta.reset();
                }
            }
            for (int B : opt.batch_sizes) {
                for (int S : opt.seq_lens) {
                    cfg.check_fits(S, prompted ? P : 0);
                    Config c;
                    c.r.method = method;
                    c.r.batch_size = B;
                    c.r.seq_len = S;
                    c.r.prompt_len = P;
                    c.r.device = dev.str();
                    c.prompt = prompt;
                    c.delta = delta;
                    c.merged = merged;
                    // Random real tokens (past the first 5 ids, which hold the special tokens in BERT-like vocabularies).
                    int64_t lo = std::min<int64_t>(5, cfg.vocab_size - 1);
                    c.batch.input_ids = at::randint(lo, cfg.vocab_size, {B, S}, at::kLong).to(dev);
                    c.batch.attention_mask = at::ones({B, S}, at::kLong).to(dev);
                    if (prompt) c.kv = prompt->prefix(false);
                    configs.push_back(std::move(c));
                    if (configs.back().delta) configs.back().ad = configs.back().delta->adaptation(false);
                }
            }
        }
    }
    for (auto& c : configs)   // the vector no longer moves: its prefixes can be pointed at
        if (c.prompt) c.ad.prefix = &c.kv;
    auto once = [&](Config& c) {
        at::Tensor y = (c.merged ? *c.merged : *model).forward(c.batch, c.ad, false);
        if (dev.is_cuda())
            torch::cuda::synchronize(dev.has_index() ? dev.index() : -1);
        else
            (void)y.sum().item<float>();
    };
    for (auto& c : configs)
        for (int i = 0; i < opt.warmup; ++i) once(c);
    for (int rep = 0; rep < opt.repeats; ++rep) {
        for (auto& c : configs) {
            if (cancelled && cancelled()) return {};
            auto t0 = std::chrono::steady_clock::now();
            once(c);
            c.ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
    }
    std::vector<LatencyResult> out;
    for (auto& c : configs) {
        c.r.median_ms = percentile(c.ms, 0.5);
        c.r.p90_ms = percentile(c.ms, 0.9);
        double sum = 0;
        for (double x : c.ms) sum += x;
        c.r.mean_ms = sum / double(c.ms.size());
        out.push_back(c.r);
        if (on_result) on_result(c.r);
    }
    return out;
}

}  // namespace ptune
