#include "core/engine/generate.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>

#include "core/engine/peft_io.h"
#include "core/engine/trainer.h"

namespace ptune {

void GenerateOptions::validate() const {
    if (max_new_tokens < 0) throw Error("max_new_tokens must be >= 0");
    if (do_sample && !(temperature > 0)) throw Error("temperature must be > 0 when sampling (use greedy decoding instead of 0)");
    if (top_k < 0) throw Error("top_k must be >= 0");
    if (!(top_p > 0 && top_p <= 1)) throw Error("top_p must be in (0, 1]");
    if (!(repetition_penalty > 0)) throw Error("repetition_penalty must be > 0");
    for (const auto& s : stop_strings)
        if (s.empty()) throw Error("a stop string is empty");
}

GenerateOptions generation_defaults(const std::string& model_dir) {
    GenerateOptions o;
    const std::string path = (std::filesystem::path(model_dir) / "generation_config.json").string();
    if (!std::filesystem::exists(path)) return o;
    json g = read_json_file(path);
    if (!g.is_object()) throw Error(path + ": expected a JSON object");
    auto has = [&](const char* k) { return g.contains(k) && !g[k].is_null(); };
    if (has("do_sample")) o.do_sample = get_field<bool>(g, "do_sample", path);
    if (has("temperature")) o.temperature = get_field<double>(g, "temperature", path);
    if (has("top_k")) o.top_k = get_field<int64_t>(g, "top_k", path);
    if (has("top_p")) o.top_p = get_field<double>(g, "top_p", path);
    if (has("repetition_penalty")) o.repetition_penalty = get_field<double>(g, "repetition_penalty", path);
    if (has("max_new_tokens")) o.max_new_tokens = get_field<int64_t>(g, "max_new_tokens", path);
    return o;
}

double Generation::tokens_per_second() const {
    const double decode = seconds_total - seconds_to_first_token;
    return new_tokens > 1 && decode > 0 ? (double)(new_tokens - 1) / decode : 0.0;
}

at::Tensor process_logits(const at::Tensor& logits, const at::Tensor& ids_so_far, const GenerateOptions& opt) {
    at::Tensor s = logits.to(at::kFloat);
    if (opt.repetition_penalty != 1.0) {
        // transformers' RepetitionPenaltyLogitsProcessor: every token present so far, negative scores multiplied,
        // positive ones divided.
        at::Tensor seen = s.gather(1, ids_so_far);
        seen = at::where(seen < 0, seen * opt.repetition_penalty, seen / opt.repetition_penalty);
        s = s.scatter(1, ids_so_far, seen);
    }
    if (!opt.do_sample) return s;
    const double neg_inf = -std::numeric_limits<double>::infinity();
    if (opt.temperature != 1.0) s = s / opt.temperature;
    if (opt.top_k > 0 && opt.top_k < s.size(1)) {
        at::Tensor kth = std::get<0>(s.topk(opt.top_k, 1)).narrow(1, opt.top_k - 1, 1);
        s = s.masked_fill(s < kth, neg_inf);
    }
    if (opt.top_p < 1.0) {
        // TopPLogitsWarper: sort ascending, drop the tokens whose cumulative probability stays <= 1 - top_p,
        // always keeping the most likely one.
        auto [sorted, idx] = s.sort(1, /*descending=*/false);
        at::Tensor cum = sorted.softmax(1).cumsum(1);
        at::Tensor remove = cum <= (1 - opt.top_p);
        remove.narrow(1, s.size(1) - 1, 1).fill_(false);
        s = s.masked_fill(remove.scatter(1, idx, remove), neg_inf);
    }
    return s;
}

std::vector<std::vector<int64_t>> greedy_batch(const CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                                               const PrefixKV* prefix, int64_t max_new_tokens,
                                               const std::vector<int64_t>& stop_ids) {
    std::vector<std::vector<int64_t>> out(prompts.size());
    if (prompts.empty() || max_new_tokens <= 0) return out;
    at::NoGradGuard no_grad;
    const at::Device dev = model.device();
    auto [ids, mask] = left_padded(prompts, 0);
    const int64_t B = ids.size(0);
    KVCache cache = model.empty_cache(B, prefix);
    at::Tensor logits = model.forward(cache, ids.to(dev), mask.to(dev), false, true).select(1, 0);
    // Learned positions run out: no more new tokens than the table has positions left (the last token chosen
    // needs no position of its own).
    if (model.spec().positions == PositionKind::Learned)
        max_new_tokens = std::min<int64_t>(max_new_tokens, model.spec().max_positions - cache.length() + 1);
    std::vector<char> done(prompts.size(), 0);
    size_t finished = 0;
    for (int64_t step = 0; step < max_new_tokens && finished < prompts.size(); ++step) {
        at::Tensor next = logits.argmax(1).to(at::kCPU);
        const int64_t* nx = next.data_ptr<int64_t>();
        for (int64_t r = 0; r < B; ++r) {
            if (done[r]) continue;
            if (std::find(stop_ids.begin(), stop_ids.end(), nx[r]) != stop_ids.end()) {
                done[r] = 1, ++finished;
                continue;
            }
            out[r].push_back(nx[r]);
        }
        if (step + 1 == max_new_tokens || finished == prompts.size()) break;
        // Finished rows keep decoding (their tokens are not kept): one batch shape for every step.
        at::Tensor nt = next.unsqueeze(1).to(dev);
        logits = model.forward(cache, nt, at::ones_like(nt), false, true).select(1, 0);
    }
    return out;
}

namespace {

bool incomplete_utf8_tail(const std::string& s) {
    // The decoder writes U+FFFD (EF BF BD) for bytes that do not form a character yet.
    return s.size() >= 3 && (unsigned char)s[s.size() - 3] == 0xEF && (unsigned char)s[s.size() - 2] == 0xBF &&
           (unsigned char)s[s.size() - 1] == 0xBD;
}

}  // namespace

Generation generate(const CausalLM& model, const Tokenizer* tokenizer, const std::vector<int64_t>& input_ids,
                    const PrefixKV* prefix, const GenerateOptions& opt, const TokenCallback& on_token,
                    const CancelFlag* cancel) {
    opt.validate();
    if (input_ids.empty()) throw Error("generate: the prompt has no tokens");
    if (!tokenizer && !opt.stop_strings.empty()) throw Error("generate: stop strings need a tokenizer");
    for (int64_t id : input_ids)
        if (id < 0 || id >= model.spec().vocab_size)
            throw Error("generate: token id " + std::to_string(id) + " is outside the model's vocabulary of " +
                        std::to_string(model.spec().vocab_size));
    at::NoGradGuard no_grad;
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    Generation g;
    g.input_ids = input_ids;
    g.output_ids = input_ids;
    std::vector<int64_t> stops = opt.stop_token_ids;
    if (stops.empty() && !opt.ignore_eos) stops = model.spec().eos_token_ids;
    const at::Device dev = model.device();
    at::Tensor ids = at::tensor(input_ids, at::kLong).unsqueeze(0).to(dev);
    at::Tensor so_far = ids;
    KVCache cache = model.empty_cache(1, prefix);
    at::Tensor logits = model.forward(cache, ids, at::ones_like(ids), false, /*last_only=*/true).select(1, 0);
    at::Generator gen = at::detail::createCPUGenerator(opt.seed);
    std::vector<int64_t> fresh;
    size_t emitted = 0;   // bytes of the generated text passed to on_token
    g.stop_reason = "max_new_tokens";
    for (int64_t step = 0; step < opt.max_new_tokens; ++step) {
        at::Tensor scores = process_logits(logits, so_far, opt);
        int64_t next;
        if (opt.do_sample) {
            at::Tensor probs = scores.softmax(1).to(at::kCPU);
            next = at::multinomial(probs, 1, false, gen).item<int64_t>();
        } else {
            next = scores.argmax(1).item<int64_t>();
        }
        if (step == 0) g.seconds_to_first_token = std::chrono::duration<double>(clock::now() - t0).count();
        fresh.push_back(next);
        g.output_ids.push_back(next);
        ++g.new_tokens;
        const std::string text = tokenizer ? tokenizer->decode(fresh, true) : std::string();
        if (tokenizer && on_token && !incomplete_utf8_tail(text) && text.size() >= emitted) {
            on_token(next, text.substr(emitted));
            emitted = text.size();
        }
        if (std::find(stops.begin(), stops.end(), next) != stops.end()) {
            g.stop_reason = "stop_token";
            break;
        }
        bool stop_string = false;
        for (const auto& s : opt.stop_strings)
            if (text.find(s) != std::string::npos) stop_string = true;
        if (stop_string) {
            g.stop_reason = "stop_string";
            break;
        }
        if (step + 1 == opt.max_new_tokens) break;
        if (cancel && cancel->is_set()) {
            g.stop_reason = "cancelled";
            break;
        }
        // Learned positions run out: the token just chosen would need a position past the table.
        if (model.spec().positions == PositionKind::Learned && cache.length() + 1 > model.spec().max_positions) {
            g.stop_reason = "max_positions";
            break;
        }
        at::Tensor nt = at::full({1, 1}, next, at::TensorOptions().dtype(at::kLong).device(dev));
        so_far = at::cat({so_far, nt}, 1);
        logits = model.forward(cache, nt, at::ones_like(nt), false, true).select(1, 0);
    }
    if (tokenizer) g.generated_text = tokenizer->decode(fresh, true);
    if (on_token && g.generated_text.size() > emitted) on_token(-1, g.generated_text.substr(emitted));
    g.seconds_total = std::chrono::duration<double>(clock::now() - t0).count();
    return g;
}

DecoderWithPrefix load_decoder_with_prefix(const std::string& model_dir, const std::string& adapter, WeightDtype dtype,
                                           const std::string& device) {
    DecoderWithPrefix d;
    d.model = CausalLM::load(model_dir, dtype);
    if (!adapter.empty()) {
        PromptAdapter a = load_decoder_prefix(adapter, d.model->prefix_geometry());
        d.notes = a.notes;
        d.prompt = std::move(a.prompt);
    }
    const at::Device dev = resolve_device(device);
    d.model->to(dev);
    if (d.prompt) {
        d.prompt->to(dev);
        at::NoGradGuard g;
        d.prefix = d.prompt->prefix(false);
    }
    return d;
}

}  // namespace ptune
