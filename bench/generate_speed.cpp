// CPU generation speed of a causal LM, base model against P-Tuning v2 prefixes, measured side by side: a randomly
// initialised Llama-shaped model (default about 100 M parameters: 12 layers, hidden 768, 12 heads with 4
// key/value heads, intermediate 2048, vocabulary 32000, tied embeddings) built in memory, random prompts,
// greedy decoding through ptune::generate with the key/value cache. Configurations run round-robin, so every
// configuration shares the machine's drift. Prints one JSON line per configuration: medians of time to first
// token (the prompt's forward pass and the first choice) and of tokens/s after the first token.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <map>

#include "core/engine/deep_prompt.h"
#include "core/engine/decoder.h"
#include "core/engine/generate.h"
#include "core/engine/trainer.h"   // set_threads
#include "core/io/json_util.h"

using namespace ptune;

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

int main(int argc, char** argv) {
    CLI::App app{"generation tokens/s: base against prefixes, side by side"};
    int64_t L = 12, H = 768, A = 12, KV = 4, I = 2048, V = 32000, prompt_len = 32, new_tokens = 64;
    int rounds = 5, threads = 0;
    std::vector<int64_t> prefixes{16, 64};
    std::string dtype = "float32";
    app.add_option("--layers", L);
    app.add_option("--hidden", H);
    app.add_option("--heads", A);
    app.add_option("--kv-heads", KV);
    app.add_option("--intermediate", I);
    app.add_option("--vocab", V);
    app.add_option("--prompt-tokens", prompt_len);
    app.add_option("--new-tokens", new_tokens);
    app.add_option("--prefix", prefixes, "prefix lengths to compare with the base model");
    app.add_option("--rounds", rounds);
    app.add_option("--threads", threads);
    app.add_option("--dtype", dtype, "float32 or bfloat16");
    CLI11_PARSE(app, argc, argv);
    set_threads(threads);
    at::manual_seed(0);
    DecoderSpec s;
    s.family = s.model_type = "llama";
    s.vocab_size = V, s.hidden_size = H, s.num_layers = L, s.num_heads = A, s.num_kv_heads = KV, s.head_dim = H / A;
    s.intermediate_size = I, s.max_positions = 4096, s.norm = NormKind::RMSNorm, s.norm_eps = 1e-6;
    s.positions = PositionKind::Rotary, s.mlp = MlpKind::Gated, s.act = "silu", s.tie_embeddings = true;
    const at::ScalarType dt = parse_weight_dtype(dtype, "--dtype") == WeightDtype::BFloat16 ? at::kBFloat16 : at::kFloat;
    auto rnd = [&](std::vector<int64_t> shape) { return (at::randn(shape) * 0.02).to(dt); };
    auto ones = [&](int64_t d) { return Norm{NormKind::RMSNorm, at::ones({d}).to(dt), {}, 1e-6}; };
    DecoderWeights w;
    w.wte = rnd({V, H});
    const int64_t qd = A * s.head_dim, kvd = KV * s.head_dim;
    for (int64_t l = 0; l < L; ++l) {
        DecoderBlock b;
        b.ln1 = ones(H), b.ln2 = ones(H);
        b.q = {rnd({qd, H}), {}}, b.k = {rnd({kvd, H}), {}}, b.v = {rnd({kvd, H}), {}}, b.o = {rnd({H, qd}), {}};
        b.gate = {rnd({I, H}), {}}, b.up = {rnd({I, H}), {}}, b.down = {rnd({H, I}), {}};
        w.blocks.push_back(std::move(b));
    }
    w.ln_f = ones(H);
    auto model = CausalLM::from_weights(s, std::move(w));
    std::map<int64_t, std::unique_ptr<DeepPrompt>> prompts;
    std::map<int64_t, PrefixKV> kvs;
    for (int64_t P : prefixes) {
        PrefixOptions o;
        o.prompt_len = P;
        prompts[P] = std::make_unique<DeepPrompt>(model->prefix_geometry(), o, 1);
        at::NoGradGuard g;
        kvs[P] = prompts[P]->prefix(false);
    }
    std::vector<int64_t> configs{0};
    configs.insert(configs.end(), prefixes.begin(), prefixes.end());
    GenerateOptions go;
    go.max_new_tokens = new_tokens;
    go.ignore_eos = true;
    std::map<int64_t, std::vector<double>> ttft, tps;
    for (int r = -1; r < rounds; ++r) {   // round -1: warm-up, not recorded
        at::Tensor ids = at::randint(V, {prompt_len}, at::kLong);
        std::vector<int64_t> prompt(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + prompt_len);
        for (int64_t P : configs) {
            Generation g = generate(*model, nullptr, prompt, P ? &kvs[P] : nullptr, go);
            if (g.new_tokens != new_tokens) throw Error("generated " + std::to_string(g.new_tokens) + " tokens");
            if (r < 0) continue;
            ttft[P].push_back(g.seconds_to_first_token * 1e3);
            tps[P].push_back(g.tokens_per_second());
        }
    }
    for (int64_t P : configs) {
        json j = {{"prefix", P}, {"params_M", s.param_count() / 1e6}, {"dtype", dtype}, {"prompt_tokens", prompt_len},
                  {"new_tokens", new_tokens}, {"rounds", rounds}, {"threads", threads},
                  {"ttft_ms_median", median(ttft[P])}, {"tokens_per_s_median", median(tps[P])},
                  {"tokens_per_s_vs_base", median(tps[P]) / median(tps[0])}};
        std::cout << j.dump() << std::endl;
    }
    return 0;
}
