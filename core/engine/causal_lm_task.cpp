#include "core/engine/causal_lm_task.h"

#include <cmath>
#include <numeric>

#include "core/engine/generate.h"

namespace ptune {

void check_template(const std::string& tmpl) {
    if (!tmpl.empty() && tmpl.find("{text}") == std::string::npos)
        throw Error("template \"" + tmpl + "\" has no {text}: it says where each row's text goes, e.g. "
                    "\"Tweet text : {text} Label : \"");
}

std::string fill_template(const std::string& tmpl, const std::string& text) {
    check_template(tmpl);
    if (tmpl.empty()) return text;
    std::string out;
    size_t pos = 0;
    for (size_t at; (at = tmpl.find("{text}", pos)) != std::string::npos; pos = at + 6) out += tmpl.substr(pos, at - pos) + text;
    return out + tmpl.substr(pos);
}

namespace {
std::string trimmed(const std::string& s) {
    const char* ws = " \t\r\n";
    const size_t b = s.find_first_not_of(ws);
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}
}  // namespace

CausalLmData tokenize_causal_lm(const Dataset& d, const Tokenizer& tok, const std::string& tmpl, int64_t max_len,
                                std::optional<int64_t> eos) {
    check_template(tmpl);
    CausalLmData out;
    for (size_t i = 0; i < d.rows.size(); ++i) {
        const Example& ex = d.rows[i];
        CausalLmExample e;
        if (ex.label < 0 || ex.label >= (int)d.label_names.size())
            throw Error(d.path + ": row " + std::to_string(i + 1) + " has no target");
        e.target_text = d.label_names[(size_t)ex.label];
        e.prompt_text = fill_template(tmpl, ex.text);
        Encoding p = tok.encode(e.prompt_text, std::nullopt, true, 0);
        e.prompt = p.ids;
        e.target = tok.encode(e.target_text, std::nullopt, false, 0).ids;
        if (eos) e.target.push_back(*eos);
        if (e.target.empty())
            throw Error(d.path + ": row " + std::to_string(i + 1) + ": the target \"" + e.target_text +
                        "\" has no tokens and the model has no end-of-sequence token: there is nothing to learn");
        if ((int64_t)e.target.size() + 1 > max_len)
            throw Error(d.path + ": row " + std::to_string(i + 1) + ": the target \"" + e.target_text + "\" takes " +
                        std::to_string(e.target.size()) + " tokens" + (eos ? " with the end-of-sequence token" : "") +
                        "; with at least one prompt token that needs a max length of " +
                        std::to_string(e.target.size() + 1) + " or more (it is " + std::to_string(max_len) + ")");
        const int64_t room = max_len - (int64_t)e.target.size();
        if ((int64_t)e.prompt.size() > room) {
            // Keep the leading special tokens (e.g. <s>) and the prompt's end, where the template puts "Label :".
            size_t lead = 0;
            while (lead < p.special_mask.size() && p.special_mask[lead] && (int64_t)lead + 1 < room) ++lead;
            std::vector<int64_t> kept(e.prompt.begin(), e.prompt.begin() + (long)lead);
            kept.insert(kept.end(), e.prompt.end() - (room - (int64_t)lead), e.prompt.end());
            e.prompt = std::move(kept);
        }
        if (e.prompt.empty()) throw Error(d.path + ": row " + std::to_string(i + 1) + ": the prompt has no tokens");
        out.rows.push_back(std::move(e));
    }
    return out;
}

CausalLmPrefixTrainer::CausalLmPrefixTrainer(CausalLM& model, DeepPrompt& prompt, const Tokenizer& tok,
                                             const TrainOptions& opt, TrainEvents* events, const CancelFlag* cancel)
    : model_(model), prompt_(prompt), tok_(tok), opt_(opt), events_(events), cancel_(cancel) {
    opt_.validate();
    device_ = resolve_device(opt_.device);
    model_.to(device_);
    prompt_.to(device_);
}

at::Tensor CausalLmPrefixTrainer::batch_loss(const CausalLmData& d, const std::vector<size_t>& order, size_t begin,
                                             size_t end, bool training, at::Tensor* token_count) const {
    // Right-padded prompt + target; labels -100 except on the target tokens. Position t's logits predict token
    // t + 1, so the hidden states of the positions before each target token are the ones that go through the head.
    const int64_t B = (int64_t)(end - begin);
    int64_t n = 1;
    for (size_t i = begin; i < end; ++i)
        n = std::max<int64_t>(n, (int64_t)(d.rows[order[i]].prompt.size() + d.rows[order[i]].target.size()));
    at::Tensor ids = at::zeros({B, n}, at::kLong), mask = at::zeros({B, n}, at::kLong);
    std::vector<int64_t> from, to;   // flat [B * n] indices: the predicting position, and the label
    std::vector<int64_t> labels;
    auto ia = ids.accessor<int64_t, 2>();
    auto ma = mask.accessor<int64_t, 2>();
    for (int64_t r = 0; r < B; ++r) {
        const CausalLmExample& e = d.rows[order[begin + (size_t)r]];
        int64_t j = 0;
        for (int64_t id : e.prompt) ia[r][j] = id, ma[r][j++] = 1;
        for (int64_t id : e.target) {
            from.push_back(r * n + j - 1);
            labels.push_back(id);
            ia[r][j] = id, ma[r][j++] = 1;
        }
    }
    PrefixKV kv = prompt_.prefix(training);
    KVCache c = model_.empty_cache(B, &kv);
    at::Tensor h = model_.hidden(c, ids.to(device_), mask.to(device_), training);
    at::Tensor picked = h.reshape({B * n, h.size(2)}).index_select(0, at::tensor(from, at::kLong).to(device_));
    at::Tensor logits = model_.lm_head(picked).to(at::kFloat);
    at::Tensor y = at::tensor(labels, at::kLong).to(device_);
    if (token_count) {
        *token_count = at::full({}, (double)labels.size());
        return at::cross_entropy_loss(logits, y, {}, at::Reduction::Sum);
    }
    return at::cross_entropy_loss(logits, y);
}

std::map<std::string, double> CausalLmPrefixTrainer::evaluate(const CausalLmData& d) const {
    std::map<std::string, double> m;
    if (d.size() == 0) return m;
    at::NoGradGuard g;
    std::vector<size_t> order(d.size());
    std::iota(order.begin(), order.end(), 0);
    double loss_sum = 0, tokens = 0;
    const size_t bs = (size_t)opt_.batch_size;
    for (size_t b = 0; b < d.size(); b += bs) {
        at::Tensor count;
        loss_sum += batch_loss(d, order, b, std::min(d.size(), b + bs), false, &count).item<double>();
        tokens += count.item<double>();
    }
    m["loss"] = loss_sum / std::max(1.0, tokens);
    m["perplexity"] = std::exp(m["loss"]);
    // Exact match: greedy continuations up to the eos.
    const std::vector<int64_t>& eos = model_.spec().eos_token_ids;
    size_t longest = 0;
    for (const auto& e : d.rows) longest = std::max(longest, e.target.size());
    PrefixKV kv = prompt_.prefix(false);
    double hits = 0;
    for (size_t b = 0; b < d.size(); b += bs) {
        std::vector<std::vector<int64_t>> prompts;
        for (size_t i = b; i < std::min(d.size(), b + bs); ++i) prompts.push_back(d.rows[i].prompt);
        auto gen = greedy_batch(model_, prompts, &kv, (int64_t)longest, eos);
        for (size_t k = 0; k < gen.size(); ++k) {
            const CausalLmExample& e = d.rows[b + k];
            // Without an eos the target has no end mark: compare as many tokens as it has.
            if (eos.empty() && gen[k].size() > e.target.size()) gen[k].resize(e.target.size());
            if (trimmed(tok_.decode(gen[k], true)) == trimmed(e.target_text)) hits += 1;
        }
    }
    m["exact_match"] = hits / (double)d.size();
    return m;
}

std::vector<std::string> CausalLmPrefixTrainer::continuations(const CausalLmData& d, size_t n, bool with_prefix) const {
    std::vector<std::vector<int64_t>> prompts;
    size_t longest = 0;
    for (size_t i = 0; i < std::min(n, d.size()); ++i) {
        prompts.push_back(d.rows[i].prompt);
        longest = std::max(longest, d.rows[i].target.size());
    }
    PrefixKV kv;
    if (with_prefix) {
        at::NoGradGuard g;
        kv = prompt_.prefix(false);
    }
    std::vector<std::string> out;
    for (const auto& ids : greedy_batch(model_, prompts, with_prefix ? &kv : nullptr, (int64_t)longest + 4,
                                        model_.spec().eos_token_ids))
        out.push_back(tok_.decode(ids, true));
    return out;
}

TrainResult CausalLmPrefixTrainer::train(const CausalLmData& train, const CausalLmData* valid) {
    if (train.size() == 0) throw Error("the training set has no rows");
    LoopHooks h;
    for (auto& [n, t] : prompt_.parameters()) h.params.push_back(t);
    h.rows = train.size();
    h.prompt = &prompt_;
    h.batch_loss = [&](const std::vector<size_t>& order, size_t begin, size_t end) {
        return batch_loss(train, order, begin, end, true, nullptr);
    };
    // At each evaluation, a few validation prompts answered with the prefix, beside the base model's answers
    // (computed once: the base model does not change).
    std::vector<std::string> base;
    if (valid && valid->size() > 0 && events_) base = continuations(*valid, kSamples, false);
    if (valid && valid->size() > 0)
        h.evaluate = [&](int64_t step) {
            auto m = evaluate(*valid);
            if (events_) {
                SampleEvent ev;
                ev.step = step;
                auto adapted = continuations(*valid, kSamples, true);
                for (size_t i = 0; i < adapted.size(); ++i)
                    ev.samples.push_back({valid->rows[i].prompt_text, valid->rows[i].target_text, base[i], adapted[i]});
                events_->on_samples(ev);
            }
            return m;
        };
    h.snapshot = [this] {
        std::vector<std::pair<std::string, at::Tensor>> s;
        for (auto& [n, t] : prompt_.parameters()) s.push_back({"prompt." + n, t.detach().to(at::kCPU).clone()});
        return s;
    };
    h.restore = [this](const std::vector<std::pair<std::string, at::Tensor>>& state) {
        for (auto& [n, t] : state) prompt_.set_parameter(n.substr(7), t);
    };
    return run_training_loop(h, opt_, device_, events_, cancel_, best_state_);
}

}  // namespace ptune
