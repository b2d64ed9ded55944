#include "core/engine/trainer.h"

#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>

namespace ptune {

TokenizedData tokenize(const Dataset& d, const Tokenizer& tok, int64_t max_len) {
    TokenizedData t;
    t.ids.reserve(d.rows.size());
    for (const auto& ex : d.rows) {
        Encoding e = tok.encode(ex.text, ex.text_pair, true, (int)max_len);
        t.ids.push_back(std::move(e.ids));
        t.type_ids.push_back(std::move(e.type_ids));
        t.labels.push_back(ex.label);
    }
    return t;
}

std::map<std::string, double> classification_metrics(const std::vector<int64_t>& pred, const std::vector<int64_t>& gold,
                                                     int64_t K) {
    std::vector<std::vector<double>> C(K, std::vector<double>(K, 0));  // C[gold][pred]
    for (size_t i = 0; i < pred.size(); ++i)
        if (gold[i] >= 0 && gold[i] < K && pred[i] >= 0 && pred[i] < K) C[gold[i]][pred[i]] += 1;
    double n = 0, correct = 0;
    std::vector<double> t(K, 0), p(K, 0);  // true counts per class, predicted counts per class
    for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < K; ++j) {
            n += C[i][j];
            t[i] += C[i][j];
            p[j] += C[i][j];
            if (i == j) correct += C[i][j];
        }
    std::map<std::string, double> m;
    m["accuracy"] = n > 0 ? correct / n : 0;
    // Macro-F1 over the classes that occur in gold or predictions (sklearn's labels=None behaviour).
    double f1 = 0;
    int classes = 0;
    for (int64_t k = 0; k < K; ++k) {
        if (t[k] == 0 && p[k] == 0) continue;
        ++classes;
        double prec = p[k] > 0 ? C[k][k] / p[k] : 0, rec = t[k] > 0 ? C[k][k] / t[k] : 0;
        f1 += prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
    }
    m["f1"] = classes ? f1 / classes : 0;
    // Binary tasks: the F1 of label 1, the positive one (sklearn's f1_score default, pos_label=1).
    if (K == 2) {
        double prec = p[1] > 0 ? C[1][1] / p[1] : 0, rec = t[1] > 0 ? C[1][1] / t[1] : 0;
        m["f1_pos"] = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
    }
    // Matthews correlation, multi-class (Gorodkin's R_K, as sklearn computes it).
    double tp = 0;
    for (int64_t k = 0; k < K; ++k) tp += t[k] * p[k];
    double num = correct * n - tp, sp = 0, st = 0;
    for (int64_t k = 0; k < K; ++k) sp += p[k] * p[k], st += t[k] * t[k];
    double den = std::sqrt(n * n - sp) * std::sqrt(n * n - st);
    m["mcc"] = den > 0 ? num / den : 0;
    return m;
}

double schedule_factor(const std::string& schedule, int64_t t, int64_t warmup, int64_t total) {
    if (t < warmup) return double(t) / double(std::max<int64_t>(1, warmup));
    if (schedule == "constant") return 1.0;
    return std::max(0.0, double(total - t) / double(std::max<int64_t>(1, total - warmup)));
}

at::Device resolve_device(const std::string& name) {
    if (name == "cpu" || name.empty()) return at::kCPU;
    if (name.rfind("cuda", 0) == 0) {
        if (!torch::cuda::is_available()) {
            throw Error("device \"" + name + "\": no CUDA GPU is available to this LibTorch build (" +
                        std::string(torch::cuda::device_count() ? "driver problem" : "CPU-only build or no GPU") + ")");
        }
        at::Device d(name);
        if (d.has_index() && d.index() >= (int)torch::cuda::device_count())
            throw Error("device \"" + name + "\": there are " + std::to_string(torch::cuda::device_count()) + " GPUs");
        return d;
    }
    throw Error("device \"" + name + "\": use cpu, cuda or cuda:N");
}

void set_threads(int threads) {
#ifdef __GLIBC__
    // glibc serves allocations above 128 KiB-32 MiB with fresh mmap()s and gives memory back eagerly, so every
    // forward pass page-faults its activations in again: perf showed page faults as the top cost, and the
    // built-in model at batch 8 x 96 tokens ran 53 ms per forward against 9.8 ms with the heap kept
    // (BERT-base, batch 8 x 128: 2367 -> 1226 ms). Keep large blocks on the heap and do not trim it.
    static const bool tuned = [] {
        mallopt(M_MMAP_THRESHOLD, 256 << 20);
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
        mallopt(M_TOP_PAD, 64 << 20);
        return true;
    }();
    (void)tuned;
#endif
    int n = threads > 0 ? threads : (int)std::max(1u, std::thread::hardware_concurrency());
    // Debian's LibTorch does its matrix products in OpenBLAS (libopenblas0-pthread), which runs its own thread
    // pool. Giving LibTorch's intra-op pool threads too oversubscribes the cores: measured on 2 cores, BERT-base
    // training ran at 9.9 samples/s with both at 2 threads against 22.1 with OpenBLAS at 2 and LibTorch at 1
    // (docs/PERFORMANCE.md). So when OpenBLAS is loaded, it gets the threads and LibTorch keeps one.
    using set_fn = void (*)(int);
    static auto openblas_set = reinterpret_cast<set_fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    if (openblas_set) {
        openblas_set(n);
        at::set_num_threads(1);
    } else {
        at::set_num_threads(n);
    }
}

PromptTrainer::PromptTrainer(EncoderClassifier& model, DeepPrompt* prompt, const TrainOptions& opt, int64_t pad_id,
                             TrainEvents* events, const CancelFlag* cancel)
    : model_(model), prompt_(prompt), opt_(opt), pad_id_(pad_id), events_(events), cancel_(cancel) {
    opt_.validate();
    device_ = resolve_device(opt_.device);
    model_.to(device_);
    if (prompt_) prompt_->to(device_);
}

PromptTrainer::PromptTrainer(EncoderClassifier& model, DeltaMethod* method, const TrainOptions& opt, int64_t pad_id,
                             TrainEvents* events, const CancelFlag* cancel)
    : PromptTrainer(model, static_cast<DeepPrompt*>(nullptr), opt, pad_id, events, cancel) {
    method_ = method;
    if (method_) method_->to(device_);
}

Adaptation PromptTrainer::adaptation(PrefixKV& kv, bool training) const {
    Adaptation a = method_ ? method_->adaptation(training) : Adaptation{};
    if (prompt_) {
        kv = prompt_->prefix(training);
        a.prefix = &kv;
    }
    return a;
}

Batch PromptTrainer::slice(const TokenizedData& d, const std::vector<size_t>& order, size_t begin, size_t end) const {
    std::vector<std::vector<int64_t>> ids, types;
    std::vector<int64_t> labels;
    for (size_t i = begin; i < end; ++i) {
        ids.push_back(d.ids[order[i]]);
        if (!d.type_ids.empty()) types.push_back(d.type_ids[order[i]]);
        labels.push_back(d.labels.empty() ? 0 : d.labels[order[i]]);
    }
    Batch b = make_batch(ids, pad_id_, types);
    b.labels = at::tensor(labels, at::kLong);
    auto to = [&](at::Tensor& t) {
        if (t.defined()) t = t.to(device_, /*non_blocking=*/true);
    };
    to(b.input_ids), to(b.attention_mask), to(b.token_type_ids), to(b.labels);
    return b;
}

std::vector<std::pair<std::string, at::Tensor>> PromptTrainer::snapshot() const {
    std::vector<std::pair<std::string, at::Tensor>> s;
    if (prompt_)
        for (auto& [n, t] : prompt_->parameters()) s.push_back({"prompt." + n, t.detach().to(at::kCPU).clone()});
    if (method_)
        for (auto& [n, t] : method_->parameters()) s.push_back({"method." + n, t.detach().to(at::kCPU).clone()});
    for (auto& [n, t] : model_.head_parameters()) s.push_back({"head." + n, t.detach().to(at::kCPU).clone()});
    for (auto& [n, t] : model_.backbone_parameters())
        if (t.requires_grad()) s.push_back({"backbone." + n, t.detach().to(at::kCPU).clone()});
    return s;
}

void PromptTrainer::restore_best() {
    for (auto& [n, t] : best_state_) {
        if (n.rfind("prompt.", 0) == 0 && prompt_) {
            prompt_->set_parameter(n.substr(7), t);
        } else if (n.rfind("method.", 0) == 0 && method_) {
            method_->set_parameter(n.substr(7), t);
        } else if (n.rfind("head.", 0) == 0) {
            model_.set_head_tensor(n.substr(5), t);
        } else if (n.rfind("backbone.", 0) == 0) {
            at::NoGradGuard g;
            for (auto& [bn, bt] : model_.backbone_parameters())
                if (bn == n.substr(9)) bt.copy_(t.to(bt.device()));
        }
    }
}

at::Tensor PromptTrainer::predict(const std::vector<std::vector<int64_t>>& ids,
                                  const std::vector<std::vector<int64_t>>& type_ids) {
    at::NoGradGuard g;
    TokenizedData d;
    d.ids = ids;
    d.type_ids = type_ids;
    std::vector<size_t> order(ids.size());
    std::iota(order.begin(), order.end(), 0);
    std::vector<at::Tensor> out;
    PrefixKV kv;
    const Adaptation ad = adaptation(kv, false);
    for (size_t b = 0; b < ids.size(); b += opt_.batch_size) {
        Batch batch = slice(d, order, b, std::min(ids.size(), b + (size_t)opt_.batch_size));
        out.push_back(model_.forward(batch, ad, false).to(at::kCPU));
    }
    if (out.empty()) return at::zeros({0, model_.num_labels()});
    return at::cat(out, 0);
}

std::map<std::string, double> PromptTrainer::evaluate(const TokenizedData& d) {
    return metrics_of(predict(d.ids, d.type_ids), d);
}

std::map<std::string, double> PromptTrainer::metrics_of(const at::Tensor& logits, const TokenizedData& d) const {
    at::Tensor labels = at::tensor(d.labels, at::kLong);
    std::map<std::string, double> m;
    if (d.size() == 0) return m;
    at::Tensor pred_t = logits.argmax(1);
    std::vector<int64_t> pred(pred_t.data_ptr<int64_t>(), pred_t.data_ptr<int64_t>() + pred_t.numel());
    m = classification_metrics(pred, d.labels, model_.num_labels());
    m["loss"] = at::cross_entropy_loss(logits, labels).item<double>();
    return m;
}

bool PromptTrainer::is_probe() const {
    if (prompt_ || method_) return false;
    for (auto& [n, t] : model_.backbone_parameters())
        if (t.requires_grad()) return false;   // full fine-tuning
    return true;
}

at::Tensor PromptTrainer::probe_features(const Batch& b) const {
    at::NoGradGuard g;
    return model_.encode(b, Adaptation{}, /*training=*/false).select(1, 0);
}

namespace {
// The row order of an epoch: file order, or a Fisher-Yates shuffle from (seed, epoch) with std::mt19937_64
// (identical across standard libraries, unlike std::shuffle).
std::vector<size_t> epoch_order(size_t n, bool shuffle, uint64_t seed, int64_t epoch) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    if (!shuffle) return order;
    std::mt19937_64 rng(seed * 1000003ULL + (uint64_t)epoch);
    for (size_t i = n; i > 1; --i) {
        // unbiased integer in [0, i)
        uint64_t limit = UINT64_MAX - UINT64_MAX % i, r;
        do r = rng();
        while (r >= limit);
        std::swap(order[i - 1], order[r % i]);
    }
    return order;
}

// The gradients' total 2-norm before clipping, as a 0-d tensor on their device, and (max_norm > 0) the gradients
// scaled by min(1, max_norm / (norm + 1e-6)): torch::nn::utils::clip_grad_norm_'s arithmetic without its host read.
at::Tensor grad_norm_clip(const std::vector<at::Tensor>& params, double max_norm) {
    at::NoGradGuard g;
    std::vector<at::Tensor> grads;
    for (const auto& p : params)
        if (p.grad().defined()) grads.push_back(p.grad());
    if (grads.empty()) return at::zeros({}, params.empty() ? at::TensorOptions() : params[0].options());
    std::vector<at::Tensor> norms;
    for (const auto& gr : grads) norms.push_back(gr.norm(2));
    at::Tensor total = norms.size() == 1 ? norms[0] : at::stack(norms).norm(2);
    if (max_norm > 0) {
        at::Tensor coef = at::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
        for (auto& gr : grads) gr.mul_(coef.to(gr.device()));
    }
    return total;
}

bool better(const std::string& metric, double a, double b) {
    return metric == "loss" || metric == "perplexity" ? a < b : a > b;
}
}  // namespace

TrainResult PromptTrainer::train(const TokenizedData& train, const TokenizedData* valid) {
    if (train.size() == 0) throw Error("the training set has no rows");
    const int64_t B = opt_.batch_size;
    LoopHooks h;
    if (prompt_)
        for (auto& [n, t] : prompt_->parameters()) h.params.push_back(t);
    if (method_)
        for (auto& [n, t] : method_->parameters()) h.params.push_back(t);
    for (auto& [n, t] : model_.head_parameters()) h.params.push_back(t);
    for (auto& [n, t] : model_.backbone_parameters())
        if (t.requires_grad()) h.params.push_back(t);  // full fine-tuning baselines
    h.rows = train.size();
    h.prompt = prompt_;

    // The linear probe: the frozen encoder's features, computed once per row (see set_feature_cache).
    const bool probe = is_probe();
    at::Tensor train_features, valid_features;    // [rows, H] on the device, filled as rows first come
    std::vector<char> have_features(probe && feature_cache_ ? train.size() : 0, 0);
    auto probe_logits = [&](const std::vector<size_t>& order, size_t begin, size_t end, Batch& batch) {
        bool cached = feature_cache_;
        for (size_t i = begin; i < end && cached; ++i) cached = have_features[order[i]] != 0;
        std::vector<int64_t> rows(order.begin() + (long)begin, order.begin() + (long)end);
        at::Tensor index = at::tensor(rows, at::kLong).to(device_);
        at::Tensor features;
        if (cached) {
            std::vector<int64_t> labels;
            for (int64_t r : rows) labels.push_back(train.labels.empty() ? 0 : train.labels[(size_t)r]);
            batch.labels = at::tensor(labels, at::kLong).to(device_);
            features = train_features.index_select(0, index);
        } else {
            batch = slice(train, order, begin, end);
            features = probe_features(batch);
            if (feature_cache_) {
                if (!train_features.defined()) train_features = at::zeros({(int64_t)train.size(), features.size(1)}, features.options());
                train_features.index_copy_(0, index, features);
                for (int64_t r : rows) have_features[(size_t)r] = 1;
            }
        }
        return model_.head(features.unsqueeze(1), /*training=*/true);
    };
    // Evaluation of the probe from the validation rows' features, in predict()'s batches.
    auto probe_evaluate = [&](const TokenizedData& d) {
        at::NoGradGuard g;
        const size_t n = d.size(), bs = (size_t)B;
        if (!feature_cache_ || !valid_features.defined()) {
            std::vector<size_t> order(n);
            std::iota(order.begin(), order.end(), 0);
            std::vector<at::Tensor> parts;
            for (size_t b = 0; b < n; b += bs) parts.push_back(probe_features(slice(d, order, b, std::min(n, b + bs))));
            valid_features = parts.empty() ? at::Tensor() : at::cat(parts, 0);
        }
        std::vector<at::Tensor> out;
        for (size_t b = 0; b < n; b += bs)
            out.push_back(model_.head(valid_features.narrow(0, (int64_t)b, (int64_t)(std::min(n, b + bs) - b)).unsqueeze(1),
                                      /*training=*/false)
                              .to(at::kCPU));
        return out.empty() ? std::map<std::string, double>{} : metrics_of(at::cat(out, 0), d);
    };

    h.batch_loss = [&](const std::vector<size_t>& order, size_t begin, size_t end) {
        Batch batch;
        at::Tensor logits;
        if (probe) {
            logits = probe_logits(order, begin, end, batch);
        } else {
            batch = slice(train, order, begin, end);
            PrefixKV kv;
            const Adaptation ad = adaptation(kv, true);
            logits = model_.forward(batch, ad, true);
        }
        return classification_loss(logits, batch.labels);
    };
    if (valid && valid->size() > 0)
        h.evaluate = [&](int64_t) { return probe ? probe_evaluate(*valid) : evaluate(*valid); };
    h.snapshot = [this] { return snapshot(); };
    h.restore = [this](const std::vector<std::pair<std::string, at::Tensor>>&) { restore_best(); };
    return run_training_loop(h, opt_, device_, events_, cancel_, best_state_);
}

TrainResult run_training_loop(const LoopHooks& h, const TrainOptions& opt_, at::Device device_, TrainEvents* events_,
                              const CancelFlag* cancel_, std::vector<std::pair<std::string, at::Tensor>>& best_state_) {
    using clock = std::chrono::steady_clock;
    TrainResult res;
    if (h.rows == 0) throw Error("the training set has no rows");
    const auto t0 = clock::now();
    const int64_t B = opt_.batch_size;
    const int64_t steps_per_epoch = ((int64_t)h.rows + B - 1) / B;
    const int64_t total = opt_.steps > 0 ? opt_.steps : opt_.epochs * steps_per_epoch;
    at::manual_seed(opt_.seed);  // dropout
    if (device_.is_cuda()) torch::cuda::manual_seed_all(opt_.seed);
    const std::vector<at::Tensor>& params = h.params;
    const DeepPrompt* prompt_ = h.prompt;
    best_state_.clear();
    torch::optim::AdamW optim(params, torch::optim::AdamWOptions(opt_.lr)
                                          .betas({opt_.beta1, opt_.beta2})
                                          .eps(opt_.eps)
                                          .weight_decay(opt_.weight_decay));
    if (events_) events_->on_start(total, steps_per_epoch);

    double best = std::nan(""), best_loss = std::nan("");
    int64_t since_best = 0;
    bool stop = false;
    auto run_eval = [&](int64_t step, double epoch) {
        if (!h.evaluate) return;
        auto m = h.evaluate(step);
        EvalEvent ev;
        ev.step = step;
        ev.epoch = epoch;
        ev.elapsed_s = std::chrono::duration<double>(clock::now() - t0).count();
        ev.metrics = m;
        double v = m[opt_.metric];
        // Exact match often stays flat for a while (0 for free-text targets): a tie goes to the lower validation loss,
        // so that a run does not keep its first evaluation's state while it still learns.
        const double loss_v = m.count("loss") ? m["loss"] : std::nan("");
        const bool tie_break = opt_.metric == "exact_match" && v == best && loss_v < best_loss;
        if (std::isnan(best) || better(opt_.metric, v, best) || tie_break) {
            best = v;
            best_loss = loss_v;
            since_best = 0;
            ev.is_best = true;
            res.best_metrics = m;
            res.best_step = step;
            if (opt_.keep_best) best_state_ = h.snapshot();
        } else if (++since_best >= opt_.early_stopping_patience && opt_.early_stopping_patience > 0) {
            stop = true;
            res.status = "early_stopped";
        }
        res.final_metrics = m;
        if (events_) events_->on_eval(ev);
    };

    int64_t step = 0;
    std::vector<double> step_ms;
    // Steps whose loss, gradient norm and prompt norms are still on the device: read back in one transfer every
    // sync_every steps (and at each evaluation, on cancel and at the end), so a GPU step never waits on the host.
    struct PendingStep {
        StepEvent ev;                // everything but the loss, the gradient norm and (on a device) the timing
        at::Tensor loss, gnorm;      // 0-d, on the device
        at::Tensor norms;            // [2 * layers] prompt norms (key, value per layer), or undefined
        size_t rows = 0;
    };
    std::vector<PendingStep> pending;
    const int64_t sync_every = opt_.sync_every > 0 ? opt_.sync_every : (device_.is_cuda() ? 16 : 1);
    int64_t stopped_at = 0;  // the first step whose loss was not finite
    auto window_start = clock::now();
    // Fails the run at a non-finite loss; the best evaluated state (if any) is put back below.
    auto fail_at = [&](int64_t at_step, double loss_v, double lr) {
        res.status = "failed";
        res.error = "the training loss became " + std::string(std::isnan(loss_v) ? "NaN" : "infinite") + " at step " +
                    std::to_string(at_step) + " (learning rate " + std::to_string(lr) +
                    "); lower the learning rate or turn gradient clipping on";
        stopped_at = at_step;
        stop = true;
    };
    auto check_finite = [&](const at::Tensor& loss, int64_t at_step, double lr) {
        const double loss_v = loss.item<double>();
        if (std::isfinite(loss_v)) return true;
        fail_at(at_step, loss_v, lr);
        return false;
    };
    // Reads the pending steps back (one transfer), emits their events in order; false when a loss was not finite.
    auto flush = [&]() -> bool {
        if (pending.empty()) return true;
        std::vector<at::Tensor> parts;
        for (auto& p : pending) {
            parts.push_back(p.loss.to(at::kFloat).reshape({1}));
            parts.push_back(p.gnorm.to(at::kFloat).reshape({1}));
            if (p.norms.defined()) parts.push_back(p.norms.to(at::kFloat).reshape({-1}));
        }
        const at::Tensor host = at::cat(parts).to(at::kCPU);
        const float* v = host.data_ptr<float>();
        const auto now = clock::now();
        // On a device the host timing of a step is its launch only: spread the window's wall time over its steps.
        const double window_ms = std::chrono::duration<double>(now - window_start).count() * 1000.0 / double(pending.size());
        window_start = now;
        bool ok = true;
        for (auto& p : pending) {
            const double loss_v = *v++, gnorm_v = *v++;
            std::vector<double> norms;
            if (p.norms.defined())
                for (int64_t i = 0; i < p.norms.numel(); ++i) norms.push_back(*v++);
            if (!ok) continue;
            if (!std::isfinite(loss_v)) {
                fail_at(p.ev.step, loss_v, p.ev.lr);
                ok = false;
                continue;
            }
            StepEvent ev = p.ev;
            if (device_.is_cuda()) ev.step_ms = window_ms;
            ev.loss = loss_v;
            ev.grad_norm = gnorm_v;
            ev.samples_per_s = ev.step_ms > 0 ? double(p.rows) * 1000.0 / ev.step_ms : 0;
            ev.elapsed_s = std::chrono::duration<double>(now - t0).count();
            ev.eta_s = ev.elapsed_s / double(ev.step) * double(total - ev.step);
            step_ms.push_back(ev.step_ms);
            res.last_loss = loss_v;
            if (events_) {
                events_->on_step(ev);
                if (!norms.empty()) {
                    PromptNormEvent ne;
                    ne.step = ev.step;
                    ne.layers = prompt_->layers();
                    for (size_t i = 0; i + 1 < norms.size(); i += 2) {
                        ne.key_norms.push_back(norms[i]);
                        ne.value_norms.push_back(norms[i + 1]);
                    }
                    events_->on_prompt_norms(ne);
                }
            }
        }
        pending.clear();
        return ok;
    };
    for (int64_t epoch = 0; step < total && !stop; ++epoch) {
        std::vector<size_t> order = epoch_order(h.rows, opt_.shuffle, opt_.seed, epoch);
        for (int64_t b = 0; b < steps_per_epoch && step < total && !stop; ++b) {
            if (cancel_ && cancel_->is_set()) {
                res.status = "cancelled";
                stop = true;
                break;
            }
            const auto ts = clock::now();
            const size_t begin = (size_t)(b * B), end = std::min(h.rows, (size_t)((b + 1) * B));
            const double lr = opt_.lr * schedule_factor(opt_.schedule, step, opt_.warmup_steps, total);
            for (auto& g : optim.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);

            at::Tensor loss = h.batch_loss(order, begin, end);
            optim.zero_grad();
            loss.backward();
            // The gradient norm before clipping, and the clipping itself, stay on the device (no host wait).
            at::Tensor gnorm = grad_norm_clip(params, opt_.max_grad_norm);
            if (sync_every == 1) {
                // Read back now, so that a non-finite loss stops the run before the update (CPU's default).
                if (!check_finite(loss, step + 1, lr)) break;
            }
            optim.step();
            ++step;
            PendingStep p;
            p.ev.step = step;
            p.ev.total_steps = total;
            p.ev.epoch = double(epoch) + double(b + 1) / double(steps_per_epoch);
            p.ev.lr = lr;
            p.rows = end - begin;
            p.loss = loss.detach();
            p.gnorm = gnorm;
            if (prompt_ && events_ && (step % opt_.norms_every == 0 || step == total)) p.norms = prompt_->layer_norms_tensor(prompt_->flat());
            const auto te = clock::now();
            p.ev.step_ms = std::chrono::duration<double>(te - ts).count() * 1000.0;
            pending.push_back(std::move(p));
            const bool epoch_end = b + 1 == steps_per_epoch;
            const bool eval_now = (opt_.eval_every > 0 && step % opt_.eval_every == 0) || epoch_end || step == total;
            if (eval_now || (int64_t)pending.size() >= sync_every || (cancel_ && cancel_->is_set())) {
                if (!flush()) break;
            }
            // Evaluate every eval_every steps, at the end of each epoch, and after the last step (once per step).
            if (eval_now) run_eval(step, double(epoch) + double(b + 1) / double(steps_per_epoch));
        }
    }
    flush();  // the steps since the last read-back (after a cancel, early stop or the last step)
    res.steps_done = stopped_at > 0 ? stopped_at - 1 : step;
    if (!step_ms.empty()) {
        std::nth_element(step_ms.begin(), step_ms.begin() + (long)(step_ms.size() / 2), step_ms.end());
        double hi = step_ms[step_ms.size() / 2];
        if (step_ms.size() % 2 == 0) {
            const double lo = *std::max_element(step_ms.begin(), step_ms.begin() + (long)(step_ms.size() / 2));
            hi = (lo + hi) / 2;
        }
        res.median_step_ms = hi;
    }
    if (res.final_metrics.empty()) res.final_metrics["train_loss"] = res.last_loss;
    if (opt_.keep_best && !best_state_.empty() && res.status != "cancelled") h.restore(best_state_);
    // A diverged run without a best state to fall back on holds non-finite prompts: say so.
    res.usable = res.status != "failed" || (opt_.keep_best && !best_state_.empty());
    res.seconds = std::chrono::duration<double>(clock::now() - t0).count();
    return res;
}

}  // namespace ptune
