#include "core/engine/latency.h"

#include <algorithm>
#include <chrono>

#include "core/engine/decoder.h"
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

namespace {

void sync(const at::Device& dev) {
    if (dev.is_cuda()) torch::cuda::synchronize(dev.has_index() ? dev.index() : -1);
}

// A configuration's result before it is measured.
LatencyResult config_of(const std::string& method, int batch, int seq_len, int prompt_len, const at::Device& dev) {
    LatencyResult r;
    r.method = method;
    r.batch_size = batch;
    r.seq_len = seq_len;
    r.prompt_len = prompt_len;
    r.device = dev.str();
    return r;
}

LatencyResult summarize(LatencyResult r, const std::vector<double>& ms) {
    r.median_ms = percentile(ms, 0.5);
    r.p90_ms = percentile(ms, 0.9);
    double sum = 0;
    for (double x : ms) sum += x;
    r.mean_ms = ms.empty() ? 0 : sum / double(ms.size());
    return r;
}

std::vector<LatencyResult> run_decoder_latency(const LatencyOptions& opt,
                                               const std::function<void(const LatencyResult&)>& on_result,
                                               const std::function<bool()>& cancelled) {
    for (auto& m : opt.methods)
        if (m != "base" && m != "ptv2")
            throw Error("latency: method \"" + m + "\" is not available for causal LMs yet: use base, ptv2");
    if (opt.new_tokens < 1) throw Error("latency: new_tokens must be at least 1");
    set_threads(opt.threads);
    const at::Device dev = resolve_device(opt.device);
    auto model = CausalLM::load(opt.model_dir, WeightDtype::Float32);
    const int64_t L = model->spec().num_layers;
    if ((int64_t)LayerSpec{opt.layers}.resolve((int)L).size() != L)
        throw Error("latency: a causal LM's prefix is in every layer (layers \"all\"), as PEFT has it; got \"" +
                    opt.layers + "\"");
    model->to(dev);
    const DecoderSpec& spec = model->spec();
    struct Config {
        LatencyResult r;
        std::shared_ptr<DeepPrompt> prompt;
        PrefixKV kv;
        at::Tensor ids, mask;
        std::vector<double> first_ms, per_token_ms;
    };
    std::vector<Config> configs;
    at::NoGradGuard no_grad;
    at::manual_seed(opt.seed);
    for (const auto& method : opt.methods) {
        const bool prefixed = method == "ptv2";
        if (prefixed && opt.prompt_lens.empty()) throw Error("latency: method ptv2 needs at least one prompt length");
        for (int P : prefixed ? opt.prompt_lens : std::vector<int>{0}) {
            std::shared_ptr<DeepPrompt> prompt;
            if (prefixed) {
                PrefixOptions po;
                po.prompt_len = P;
                prompt = std::make_shared<DeepPrompt>(model->prefix_geometry(), po, opt.seed);
                prompt->to(dev);
            }
            for (int B : opt.batch_sizes) {
                for (int S : opt.seq_lens) {
                    const int64_t need = int64_t(S) + P + opt.new_tokens;
                    if (spec.positions == PositionKind::Learned && need > spec.max_positions)
                        throw Error("latency: input length " + std::to_string(S) + (P ? " + P " + std::to_string(P) : "") +
                                    " + " + std::to_string(opt.new_tokens) + " new tokens = " + std::to_string(need) +
                                    " exceeds the model's " + std::to_string(spec.max_positions) +
                                    " learned positions");
                    Config c;
                    c.r = config_of(method, B, S, P, dev);
                    c.prompt = prompt;
                    const int64_t lo = std::min<int64_t>(5, spec.vocab_size - 1);
                    c.ids = at::randint(lo, spec.vocab_size, {B, S}, at::kLong).to(dev);
                    c.mask = at::ones({B, S}, at::kLong).to(dev);
                    if (prompt) c.kv = prompt->prefix(false);
                    configs.push_back(std::move(c));
                }
            }
        }
    }
    using clock = std::chrono::steady_clock;
    auto ms_since = [](clock::time_point t) { return std::chrono::duration<double, std::milli>(clock::now() - t).count(); };
    // One pass as generate() runs it: the input over the cache (prefix included) and the first token chosen, then
    // each new token fed back, its successor chosen and read on the host.
    auto once = [&](Config& c, bool timed) {
        auto t0 = clock::now();
        KVCache cache = model->empty_cache(c.ids.size(0), c.prompt ? &c.kv : nullptr);
        at::Tensor next = model->forward(cache, c.ids, c.mask, false, true).select(1, 0).argmax(1);
        at::Tensor host = next.to(at::kCPU);
        sync(dev);
        const double first = ms_since(t0);
        auto t1 = clock::now();
        for (int k = 0; k < opt.new_tokens; ++k) {
            at::Tensor nt = next.unsqueeze(1);
            next = model->forward(cache, nt, at::ones_like(nt), false, true).select(1, 0).argmax(1);
            host = next.to(at::kCPU);
        }
        sync(dev);
        const double decode = ms_since(t1);
        if (timed) {
            c.first_ms.push_back(first);
            c.per_token_ms.push_back(decode / opt.new_tokens);
        }
    };
    for (auto& c : configs)
        for (int i = 0; i < opt.warmup; ++i) once(c, false);
    for (int rep = 0; rep < opt.repeats; ++rep) {
        for (auto& c : configs) {
            if (cancelled && cancelled()) return {};
            once(c, true);
        }
    }
    std::vector<LatencyResult> out;
    for (auto& c : configs) {
        LatencyResult first = c.r, per = c.r;
        first.phase = "first_token";
        per.phase = "per_token";
        for (LatencyResult r : {summarize(first, c.first_ms), summarize(per, c.per_token_ms)}) {
            out.push_back(r);
            if (on_result) on_result(r);
        }
    }
    return out;
}

}  // namespace

std::vector<LatencyResult> run_latency(const LatencyOptions& opt, const std::function<void(const LatencyResult&)>& on_result,
                                       const std::function<bool()>& cancelled) {
    if (opt.repeats < 1) throw Error("latency: repeats must be at least 1");
    if (is_causal_lm_dir(opt.model_dir)) return run_decoder_latency(opt, on_result, cancelled);
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
                    c.r = config_of(method, B, S, P, dev);
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
            sync(dev);
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
        out.push_back(summarize(c.r, c.ms));
        if (on_result) on_result(out.back());
    }
    return out;
}

}  // namespace ptune
