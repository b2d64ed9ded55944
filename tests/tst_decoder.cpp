// Causal LMs (GPT-2, Llama with grouped-query attention and RoPE) against transformers + PEFT
// (tests/fixtures/{gpt2,llama}: tiny random models, PREFIX_TUNING adapters with 4 virtual tokens, the last
// position's logits and a greedy continuation computed by transformers 5.17 + PEFT 0.21), and what generation
// relies on: the key/value cache, left-padded batches, logits processing, stop conditions.
#include <torch/torch.h>

#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>

#include "core/engine/causal_lm_task.h"
#include "core/engine/decoder.h"
#include "core/engine/generate.h"
#include "core/engine/latency.h"
#include "core/engine/peft_io.h"
#include "core/engine/tensor_io.h"
#include "core/io/json_util.h"
#include "core/text/tokenizer.h"

using namespace ptune;
namespace fs = std::filesystem;

static std::string fixture(const std::string& p) { return std::string(PTUNE_FIXTURES) + "/" + p; }

static at::Tensor ids_tensor(const std::vector<int64_t>& v) { return at::tensor(v, at::kLong).unsqueeze(0); }

// Last-position logits of one unpadded text, optionally with the prefix.
static at::Tensor last_logits(const CausalLM& m, const std::vector<int64_t>& ids, const PrefixKV* prefix) {
    at::NoGradGuard g;
    at::Tensor t = ids_tensor(ids);
    return m.logits(t, at::ones_like(t), prefix, false)[0][-1];
}

static double max_diff16(const at::Tensor& logits, const json& expected) {
    at::Tensor e = at::tensor(expected.get<std::vector<float>>());
    return (logits.narrow(0, 0, 16).to(at::kFloat) - e).abs().max().item<double>();
}

static void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A fixture's model with its PEFT prefix adapter (4 virtual tokens) and the prefix's keys and values.
struct WithPrefix {
    std::unique_ptr<CausalLM> model;
    PromptAdapter adapter;
    PrefixKV kv;
    json expected;
};
static WithPrefix with_prefix(const std::string& arch) {
    WithPrefix w;
    w.model = CausalLM::load(fixture(arch + "/model"));
    w.adapter = load_decoder_prefix(fixture(arch + "/adapter_prefix_p4"), w.model->prefix_geometry());
    at::NoGradGuard g;
    w.kv = w.adapter.prompt->prefix(false);
    w.expected = read_json_file(fixture(arch + "/expected.json"));
    return w;
}

class TstDecoder : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void tokenizerIdsEqualTransformers_data() { archs(); }
    void tokenizerIdsEqualTransformers() {
        QFETCH(QString, arch);
        const std::string a = arch.toStdString();
        json exp = read_json_file(fixture(a + "/expected.json"));
        auto tok = Tokenizer::from_dir(fixture(a + "/model"));
        for (size_t i = 0; i < exp["texts"].size(); ++i) {
            // Encoded as the reference did: truncation=True, max_length=96.
            Encoding e = tok->encode(exp["texts"][i].get<std::string>(), std::nullopt, true, 96);
            QCOMPARE(e.ids, exp["input_ids"][i].get<std::vector<int64_t>>());
        }
    }

    void logitsEqualTransformersAndPeft_data() { archs(); }
    void logitsEqualTransformersAndPeft() {
        QFETCH(QString, arch);
        const std::string a = arch.toStdString();
        json exp = read_json_file(fixture(a + "/expected.json"));
        auto m = CausalLM::load(fixture(a + "/model"));
        QCOMPARE(m->spec().family, std::string(a == "gpt2" ? "gpt2" : "llama"));
        PromptAdapter ad = load_decoder_prefix(fixture(a + "/adapter_prefix_p4"), m->prefix_geometry());
        QCOMPARE(ad.prompt->prompt_len(), (int64_t)4);
        PrefixKV kv = ad.prompt->prefix(false);
        double worst_base = 0, worst_prefix = 0, prefix_effect = 0;
        for (size_t i = 0; i < exp["input_ids"].size(); ++i) {
            auto ids = exp["input_ids"][i].get<std::vector<int64_t>>();
            at::Tensor base = last_logits(*m, ids, nullptr), with = last_logits(*m, ids, &kv);
            worst_base = std::max(worst_base, max_diff16(base, exp["last_logits16_base"][i]));
            worst_prefix = std::max(worst_prefix, max_diff16(with, exp["last_logits16_prefix_p4"][i]));
            prefix_effect = std::max(prefix_effect, (base - with).abs().max().item<double>());
        }
        QVERIFY2(worst_base < 1e-4, std::to_string(worst_base).c_str());
        QVERIFY2(worst_prefix < 1e-4, std::to_string(worst_prefix).c_str());
        QVERIFY(prefix_effect > 1e-2);   // the prefix changes the numbers it is compared on
    }

    void greedyContinuationEqualsTransformers_data() { archs(); }
    void greedyContinuationEqualsTransformers() {
        QFETCH(QString, arch);
        const std::string a = arch.toStdString();
        json exp = read_json_file(fixture(a + "/expected.json"))["greedy10_prefix_p4"];
        auto m = CausalLM::load(fixture(a + "/model"));
        auto tok = Tokenizer::from_dir(fixture(a + "/model"));
        PromptAdapter ad = load_decoder_prefix(fixture(a + "/adapter_prefix_p4"), m->prefix_geometry());
        PrefixKV kv = ad.prompt->prefix(false);
        std::vector<int64_t> prompt = tok->encode(exp["prompt"].get<std::string>()).ids;
        GenerateOptions o;
        o.max_new_tokens = 10;
        std::string streamed;
        int calls = 0;
        Generation g = generate(*m, tok.get(), prompt, &kv, o, [&](int64_t, const std::string& t) { streamed += t, ++calls; });
        QCOMPARE(g.output_ids, exp["ids"].get<std::vector<int64_t>>());
        QCOMPARE(g.new_tokens, (int64_t)10);
        QCOMPARE(g.stop_reason, std::string("max_new_tokens"));
        QCOMPARE(streamed, g.generated_text);   // the streamed pieces add up to the text
        QVERIFY(calls >= 1);
        std::vector<int64_t> fresh(g.output_ids.begin() + (long)prompt.size(), g.output_ids.end());
        QCOMPARE(g.generated_text, tok->decode(fresh, true));
    }

    // A PEFT CAUSAL_LM prefix read and written back: the same tensor bit for bit, the config key for key (but for
    // peft_version, which names the PEFT release that wrote the original).
    void peftPrefixRoundTrip_data() { archs(); }
    void peftPrefixRoundTrip() {
        QFETCH(QString, arch);
        const std::string a = arch.toStdString();
        auto m = CausalLM::load(fixture(a + "/model"));
        PromptAdapter ad = load_decoder_prefix(fixture(a + "/adapter_prefix_p4"), m->prefix_geometry());
        QTemporaryDir tmp;
        const std::string out = tmp.path().toStdString() + "/exported";
        export_peft_decoder_prefix(out, *ad.prompt, "");
        auto want = load_all(fixture(a + "/adapter_prefix_p4/adapter_model.safetensors"));
        auto got = load_all(out + "/adapter_model.safetensors");
        QCOMPARE(got.size(), want.size());
        for (auto& [n, t] : want) QVERIFY2(got.count(n) && at::equal(got[n], t), n.c_str());
        json c = read_json_file(out + "/adapter_config.json"), r = read_json_file(fixture(a + "/adapter_prefix_p4/adapter_config.json"));
        r.erase("peft_version");
        QCOMPARE(QString::fromStdString(c.dump()), QString::fromStdString(r.dump()));   // both sorted by key
        // And the written adapter gives the reference's logits again.
        PromptAdapter back = load_decoder_prefix(out, m->prefix_geometry());
        PrefixKV kv = back.prompt->prefix(false);
        json exp = read_json_file(fixture(a + "/expected.json"));
        const auto ids = exp["input_ids"][0].get<std::vector<int64_t>>();
        QVERIFY(max_diff16(last_logits(*m, ids, &kv), exp["last_logits16_prefix_p4"][0]) < 1e-4);
    }

    // The cache: logits of a sequence fed in pieces equal those of the whole sequence at once.
    void cacheStepsEqualFullForward_data() { archs(); }
    void cacheStepsEqualFullForward() {
        QFETCH(QString, arch);
        const std::string a = arch.toStdString();
        WithPrefix w = with_prefix(a);
        auto& m = w.model;
        const PrefixKV& kv = w.kv;
        const json& exp = w.expected;
        auto ids = exp["input_ids"][0].get<std::vector<int64_t>>();
        at::NoGradGuard g;
        at::Tensor full = m->logits(ids_tensor(ids), at::ones({1, (int64_t)ids.size()}, at::kLong), &kv, false)[0];
        KVCache c = m->empty_cache(1, &kv);
        std::vector<int64_t> head(ids.begin(), ids.begin() + 5);
        at::Tensor first = m->forward(c, ids_tensor(head), at::ones({1, 5}, at::kLong), false)[0];
        QVERIFY((first - full.narrow(0, 0, 5)).abs().max().item<double>() < 1e-5);
        for (size_t t = 5; t < ids.size(); ++t) {
            at::Tensor step = m->forward(c, ids_tensor({ids[t]}), at::ones({1, 1}, at::kLong), false, true)[0][0];
            QVERIFY2((step - full[(int64_t)t]).abs().max().item<double>() < 1e-5, std::to_string(t).c_str());
        }
        QCOMPARE(c.length(), (int64_t)(4 + ids.size()));
    }

    // Left padding: the prefix sits before the pads, positions count from the first real token, so each row of
    // a padded batch gives its own unpadded numbers; generation continues from the padded batch's cache.
    void leftPaddedBatchEqualsRows_data() { archs(); }
    void leftPaddedBatchEqualsRows() {
        QFETCH(QString, arch);
        const std::string a = arch.toStdString();
        WithPrefix w = with_prefix(a);
        auto& m = w.model;
        const PrefixKV& kv = w.kv;
        const json& exp = w.expected;
        std::vector<std::vector<int64_t>> rows;
        for (int i : {0, 2, 4}) rows.push_back(exp["input_ids"][i].get<std::vector<int64_t>>());
        QVERIFY(rows[0].size() != rows[1].size() && rows[2].size() <= 2);   // "a": one token (+ <s>)
        auto [ids, mask] = left_padded(rows, 1);
        at::NoGradGuard g;
        KVCache c = m->empty_cache(3, &kv);
        at::Tensor batch = m->forward(c, ids, mask, false, true);
        at::Tensor next = batch.select(1, 0).argmax(1);
        at::Tensor step = m->forward(c, next.unsqueeze(1), at::ones({3, 1}, at::kLong), false, true);
        for (int r = 0; r < 3; ++r) {
            at::Tensor alone = last_logits(*m, rows[r], &kv);
            QVERIFY2((batch[r][0] - alone).abs().max().item<double>() < 1e-5, std::to_string(r).c_str());
            std::vector<int64_t> longer = rows[r];
            longer.push_back(next[r].item<int64_t>());
            QVERIFY((step[r][0] - last_logits(*m, longer, &kv)).abs().max().item<double>() < 1e-5);
        }
    }

    void attentionKernelsAgree() {
        if (!fused_attention_available()) QSKIP("LibTorch 1.x has the manual kernel only");
        auto m = CausalLM::load(fixture("llama/model"));
        PromptAdapter ad = load_decoder_prefix(fixture("llama/adapter_prefix_p4"), m->prefix_geometry());
        PrefixKV kv = ad.prompt->prefix(false);
        json exp = read_json_file(fixture("llama/expected.json"));
        auto rows = std::vector<std::vector<int64_t>>{exp["input_ids"][0].get<std::vector<int64_t>>(),
                                                      exp["input_ids"][3].get<std::vector<int64_t>>()};
        auto [ids, mask] = left_padded(rows, 1);
        at::NoGradGuard g;
        m->set_attention_kernel(AttentionKernel::Manual);
        at::Tensor manual = m->logits(ids, mask, &kv, false);
        m->set_attention_kernel(AttentionKernel::Fused);
        at::Tensor fused = m->logits(ids, mask, &kv, false);
        QVERIFY((manual - fused).abs().max().item<double>() < 1e-5);
    }

    // bf16 weights: the mask stays finite, the numbers stay near float32's.
    void bfloat16WeightsStayClose() {
        auto f32 = CausalLM::load(fixture("llama/model"), WeightDtype::Float32);
        auto bf16 = CausalLM::load(fixture("llama/model"), WeightDtype::BFloat16);
        QCOMPARE(bf16->dtype(), at::kBFloat16);
        json exp = read_json_file(fixture("llama/expected.json"));
        auto rows = std::vector<std::vector<int64_t>>{exp["input_ids"][1].get<std::vector<int64_t>>(),
                                                      exp["input_ids"][4].get<std::vector<int64_t>>()};
        auto [ids, mask] = left_padded(rows, 1);
        at::NoGradGuard g;
        at::Tensor a = f32->logits(ids, mask, nullptr, false), b = bf16->logits(ids, mask, nullptr, false).to(at::kFloat);
        QVERIFY(at::isfinite(b).all().item<bool>());
        const double scale = a.abs().max().item<double>();
        QVERIFY2((a - b).abs().max().item<double>() < 0.05 * scale + 0.02,
                 std::to_string((a - b).abs().max().item<double>()).c_str());
    }

    // Half precision and left padding without a prefix: a pad's query sees only pads, and an all-masked row must not
    // turn into NaN that reaches the real tokens (the manual kernel adds the mask to the scores in float16).
    void float16LeftPaddingStaysFinite() {
        try {
            (void)at::matmul(at::ones({2, 2}, at::kHalf), at::ones({2, 2}, at::kHalf));
        } catch (const std::exception&) {
            QSKIP("this LibTorch has no float16 matrix products on the CPU");
        }
        auto m = CausalLM::load(fixture("llama/model"), WeightDtype::Float16);
        auto f32 = CausalLM::load(fixture("llama/model"));
        m->set_attention_kernel(AttentionKernel::Manual);
        json exp = read_json_file(fixture("llama/expected.json"));
        auto rows = std::vector<std::vector<int64_t>>{exp["input_ids"][0].get<std::vector<int64_t>>(),
                                                      exp["input_ids"][4].get<std::vector<int64_t>>()};
        auto [ids, mask] = left_padded(rows, 1);
        at::NoGradGuard g;
        at::Tensor a = m->logits(ids, mask, nullptr, false).to(at::kFloat);
        QVERIFY(at::isfinite(a).all().item<bool>());
        // The short row's real tokens: near float32's numbers.
        const int64_t n = ids.size(1);
        at::Tensor want = f32->logits(ids, mask, nullptr, false)[1][n - 1], got = a[1][n - 1];
        QVERIFY2((want - got).abs().max().item<double>() < 0.05, std::to_string((want - got).abs().max().item<double>()).c_str());
    }

    // Learned positions are a hard limit: evaluation's greedy continuations stop where the table ends.
    void greedyStopsAtTheLastPosition() {
        auto m = CausalLM::load(fixture("gpt2/model"));   // n_positions 200
        PromptAdapter ad = load_decoder_prefix(fixture("gpt2/adapter_prefix_p4"), m->prefix_geometry());
        PrefixKV kv = ad.prompt->prefix(false);
        std::vector<int64_t> prompt(190, 5);
        auto out = greedy_batch(*m, {prompt, {7, 8}}, &kv, 50, {});
        QCOMPARE(out[0].size(), size_t(200 - (4 + 190) + 1));   // 7 new tokens; the last needs no position
        QCOMPARE(out[1].size(), out[0].size());                  // one batch, one length
        // generate() stops there too, saying why, with the same tokens.
        auto tok = Tokenizer::from_dir(fixture("gpt2/model"));
        GenerateOptions o;
        o.max_new_tokens = 50;
        o.ignore_eos = true;
        Generation g = generate(*m, tok.get(), prompt, &kv, o);
        QCOMPARE(g.stop_reason, std::string("max_positions"));
        QCOMPARE(g.new_tokens, int64_t(out[0].size()));
        QCOMPARE(std::vector<int64_t>(g.output_ids.begin() + 190, g.output_ids.end()), out[0]);
    }

    // transformers' processors on hand-made scores.
    void logitsProcessing() {
        at::Tensor logits = at::tensor({2.0f, -1.0f, 0.5f, 1.0f, -3.0f}).unsqueeze(0);
        at::Tensor seen = at::tensor({0, 1, 1}, at::kLong).unsqueeze(0);
        GenerateOptions o;
        o.repetition_penalty = 2.0;
        at::Tensor r = process_logits(logits, seen, o)[0];
        // token 0: 2 / 2 = 1; token 1: -1 * 2 = -2; the others unchanged.
        QCOMPARE(r[0].item<float>(), 1.0f);
        QCOMPARE(r[1].item<float>(), -2.0f);
        QCOMPARE(r[2].item<float>(), 0.5f);
        QCOMPARE(r[3].item<float>(), 1.0f);
        GenerateOptions s;
        s.do_sample = true;
        s.top_k = 2;
        s.temperature = 0.5;
        at::Tensor k = process_logits(logits, seen, s)[0];   // /0.5 -> {4, -2, 1, 2, -6}; top 2: tokens 0 and 3
        QCOMPARE(k[0].item<float>(), 4.0f);
        QCOMPARE(k[3].item<float>(), 2.0f);
        QVERIFY(std::isinf(k[1].item<float>()) && std::isinf(k[2].item<float>()) && std::isinf(k[4].item<float>()));
        // top_p 0.8 on probabilities {0.6, 0.25, 0.1, 0.05}: ascending cumulative sums 0.05, 0.15, 0.4, 1.0;
        // removed where <= 0.2: the two least likely tokens.
        GenerateOptions p;
        p.do_sample = true;
        p.top_k = 0;
        p.top_p = 0.8;
        at::Tensor probs = at::tensor({0.6f, 0.25f, 0.1f, 0.05f});
        at::Tensor kept = process_logits(probs.log().unsqueeze(0), seen.narrow(1, 0, 1), p)[0];
        QVERIFY(std::isfinite(kept[0].item<float>()) && std::isfinite(kept[1].item<float>()));
        QVERIFY(std::isinf(kept[2].item<float>()) && std::isinf(kept[3].item<float>()));
    }

    void samplingIsSeededAndTopK1IsGreedy() {
        auto m = CausalLM::load(fixture("llama/model"));
        auto tok = Tokenizer::from_dir(fixture("llama/model"));
        std::vector<int64_t> prompt = tok->encode("The quick brown fox").ids;
        GenerateOptions o;
        o.max_new_tokens = 12;
        o.ignore_eos = true;
        Generation greedy = generate(*m, tok.get(), prompt, nullptr, o);
        o.do_sample = true;
        o.top_k = 1;
        o.seed = 7;
        QCOMPARE(generate(*m, tok.get(), prompt, nullptr, o).output_ids, greedy.output_ids);
        o.top_k = 0;
        o.temperature = 1.5;
        Generation s1 = generate(*m, tok.get(), prompt, nullptr, o), s2 = generate(*m, tok.get(), prompt, nullptr, o);
        QCOMPARE(s1.output_ids, s2.output_ids);
        o.seed = 8;
        Generation s3 = generate(*m, tok.get(), prompt, nullptr, o);
        QVERIFY(s3.output_ids != s1.output_ids);
    }

    void stopTokenAndStopString() {
        auto m = CausalLM::load(fixture("llama/model"));
        auto tok = Tokenizer::from_dir(fixture("llama/model"));
        std::vector<int64_t> prompt = tok->encode("The quick brown fox").ids;
        GenerateOptions o;
        o.max_new_tokens = 12;
        o.ignore_eos = true;
        Generation full = generate(*m, tok.get(), prompt, nullptr, o);
        QCOMPARE(full.new_tokens, (int64_t)12);
        // Stop at the third new token.
        const int64_t third = full.output_ids[prompt.size() + 2];
        o.stop_token_ids = {third};
        o.ignore_eos = false;
        Generation st = generate(*m, tok.get(), prompt, nullptr, o);
        QCOMPARE(st.stop_reason, std::string("stop_token"));
        QVERIFY(st.new_tokens <= 3);
        QCOMPARE(st.output_ids.back(), third);
        // A stop string: the text of the first four new tokens; generation stops once it appears.
        std::vector<int64_t> four(full.output_ids.begin() + (long)prompt.size(), full.output_ids.begin() + (long)prompt.size() + 4);
        const std::string text4 = tok->decode(four, true);
        QVERIFY(!text4.empty());
        GenerateOptions s;
        s.max_new_tokens = 12;
        s.ignore_eos = true;
        s.stop_strings = {text4};
        Generation ss = generate(*m, tok.get(), prompt, nullptr, s);
        QCOMPARE(ss.stop_reason, std::string("stop_string"));
        QVERIFY(ss.new_tokens <= 4);
        QVERIFY(ss.generated_text.find(text4) != std::string::npos);
    }

    // Bad input names the file and the field.
    void clearErrors() {
        QTemporaryDir tmp;
        const std::string d = tmp.path().toStdString();
        auto expect = [](const std::function<void()>& f, const std::vector<std::string>& parts) {
            try {
                f();
            } catch (const Error& e) {
                for (const auto& p : parts) QVERIFY2(std::string(e.what()).find(p) != std::string::npos, e.what());
                return;
            }
            QFAIL("no error");
        };
        fs::copy(fixture("llama/model"), d + "/m");
        json c = read_json_file(d + "/m/config.json");
        c["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 4.0}};
        write_file(d + "/m/config.json", c.dump());
        expect([&] { CausalLM::load(d + "/m"); }, {"config.json", "rope_parameters", "yarn"});
        c = read_json_file(fixture("llama/model/config.json"));
        c["num_key_value_heads"] = 3;
        write_file(d + "/m/config.json", c.dump());
        expect([&] { CausalLM::load(d + "/m"); }, {"config.json", "num_key_value_heads"});
        c["num_key_value_heads"] = 2;
        c["intermediate_size"] = 100;
        write_file(d + "/m/config.json", c.dump());
        expect([&] { CausalLM::load(d + "/m"); }, {"model.safetensors", "mlp.gate_proj.weight", "[100, 48]"});
        c["model_type"] = "mamba";
        write_file(d + "/m/config.json", c.dump());
        expect([&] { CausalLM::load(d + "/m"); }, {"config.json", "mamba", "gpt2", "llama"});
        // An adapter made for another model.
        auto gpt2 = CausalLM::load(fixture("gpt2/model"));
        expect([&] { load_decoder_prefix(fixture("llama/adapter_prefix_p4"), gpt2->prefix_geometry()); },
               {"adapter_config.json", "this model has 3"});
        expect([&] { load_decoder_prefix(fixture("bert/adapter_prefix_p5"), gpt2->prefix_geometry()); },
               {"adapter_config.json", "task_type SEQ_CLS"});
        expect([&] { load_decoder_prefix(fixture("bert/adapter_lora_r4"), gpt2->prefix_geometry()); },
               {"adapter_config.json", "LORA"});
        // A prompt longer than the learned position table: the message names the limit. (Generation that reaches
        // the limit stops with reason max_positions: greedyStopsAtTheLastPosition.)
        auto tok = Tokenizer::from_dir(fixture("gpt2/model"));
        GenerateOptions o;
        o.max_new_tokens = 4;
        o.ignore_eos = true;
        const std::vector<int64_t> too_long(260, 5);
        expect([&] { generate(*gpt2, tok.get(), too_long, nullptr, o); }, {"n_positions", "200"});
        QVERIFY(is_causal_lm_dir(fixture("gpt2/model")));
        QVERIFY(!is_causal_lm_dir(fixture("bert/model")));
    }

    // The family registry: every model_type resolves to one family, and the counts come from the shapes.
    void familiesAndParameterCounts() {
        QCOMPARE(find_decoder_family("gpt2")->name(), std::string("gpt2"));
        for (const char* t : {"llama", "mistral", "qwen2", "qwen3"}) QCOMPARE(find_decoder_family(t)->name(), std::string("llama"));
        QVERIFY(find_decoder_family("bert") == nullptr);
        for (const char* a : {"gpt2", "llama"}) {
            auto m = CausalLM::load(fixture(std::string(a) + "/model"));
            int64_t n = 0;
            std::vector<const at::Tensor*> seen;
            auto add = [&](const at::Tensor& t) {
                if (!t.defined()) return;
                for (auto* s : seen)
                    if (s->is_same(t)) return;
                seen.push_back(&t);
                n += t.numel();
            };
            const auto& w = m->weights();
            add(w.wte), add(w.wpe), add(w.ln_f.weight), add(w.ln_f.bias), add(w.lm_head);
            for (const auto& b : w.blocks) {
                for (const Norm* x : {&b.ln1, &b.ln2, &b.q_norm, &b.k_norm}) add(x->weight), add(x->bias);
                for (const Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.fc, &b.proj, &b.gate, &b.up, &b.down}) add(l->weight), add(l->bias);
            }
            QCOMPARE(m->spec().param_count(), n);
        }
        // The Llama fixture: 2000 x 48 embeddings and an untied head; per layer 2 norms of 48, q 48x48, k and
        // v 24x48 (2 key/value heads of 12), o 48x48, MLP 3 x 48x96; the final norm.
        auto l = CausalLM::load(fixture("llama/model"));
        QCOMPARE(l->spec().param_count(), (int64_t)(2 * 2000 * 48 + 3 * (2 * 48 + 48 * 48 + 2 * 24 * 48 + 48 * 48 + 3 * 48 * 96) + 48));
    }

    void ropeScalingLlama3() {
        // Llama 3.1's scaling: wavelengths longer than 8192/1 are divided by 8, shorter than 8192/4 kept.
        RopeSpec r;
        r.theta = 500000;
        r.type = "llama3";
        r.factor = 8;
        r.low_freq_factor = 1;
        r.high_freq_factor = 4;
        r.original_max_positions = 8192;
        RopeSpec plain;
        plain.theta = 500000;
        at::Tensor a = r.inv_freq(128), b = plain.inv_freq(128);
        QCOMPARE(a.size(0), (int64_t)64);
        QCOMPARE(a[0].item<float>(), b[0].item<float>());                    // wavelength 2*pi: kept
        QVERIFY(std::abs(a[63].item<double>() - b[63].item<double>() / 8) < 1e-12);   // longest: divided by 8
        at::Tensor wl = 2 * M_PI / b;
        for (int64_t i = 0; i < 64; ++i) {
            const double w = wl[i].item<double>(), x = a[i].item<double>(), y = b[i].item<double>();
            QVERIFY(x <= y + 1e-12 && x >= y / 8 - 1e-12);
            if (w < 2048) QCOMPARE(x, y);
        }
    }

    // Prefix training on text -> target pairs (the seeds' "... Label : " recipe) with the built-in decoder on the
    // built-in sentiment data: the loss falls and exact match of the greedy answer rises above chance (0.5: two
    // balanced targets); the best state is the one kept.
    void causalLmPrefixTrainingLearns() {
        const std::string dir = std::string(PTUNE_RESOURCES_DIR) + "/builtin";
        auto m = CausalLM::load(dir + "/decoder");
        auto tok = Tokenizer::from_dir(dir + "/decoder");
        Dataset train = load_dataset(dir + "/data/train.tsv", DataOptions{});
        Dataset valid = load_dataset(dir + "/data/valid.tsv", DataOptions{});
        train.rows.resize(1200);
        valid.rows.resize(400);
        const std::string tmpl = "Review : {text} Sentiment : ";
        const int64_t eos = m->spec().eos_token_ids.at(0);
        CausalLmData tt = tokenize_causal_lm(train, *tok, tmpl, 48, eos), tv = tokenize_causal_lm(valid, *tok, tmpl, 48, eos);
        QCOMPARE(tt.rows[0].target_text, train.label_names[(size_t)train.rows[0].label]);
        QCOMPARE(tt.rows[0].target.size(), size_t(2));   // the label word, then [SEP]
        QCOMPARE(tt.rows[0].target.back(), eos);
        PrefixOptions po;
        po.prompt_len = 64;
        DeepPrompt prompt(m->prefix_geometry(), po, 1);
        TrainOptions o;
        o.lr = 0.1;
        o.batch_size = 16;
        o.epochs = 8;
        o.max_len = 48;
        o.metric = "exact_match";
        CausalLmPrefixTrainer trainer(*m, prompt, *tok, o);
        auto before = trainer.evaluate(tv);
        TrainResult r = trainer.train(tt, &tv);
        auto after = trainer.evaluate(tv);
        qInfo() << "loss" << before["loss"] << "->" << after["loss"] << "exact match" << before["exact_match"] << "->"
                << after["exact_match"] << "best" << r.best_metrics["exact_match"] << "at" << r.best_step;
        QCOMPARE(r.status, std::string("completed"));
        QVERIFY(after["loss"] < 0.5 * before["loss"]);
        QVERIFY(std::abs(after["perplexity"] - std::exp(after["loss"])) < 1e-9);
        QVERIFY2(after["exact_match"] > 0.6, std::to_string(after["exact_match"]).c_str());
        QCOMPARE(after["exact_match"], r.best_metrics["exact_match"]);   // the best state was put back
        // The continuations exact match counts: with the prefix they are label words.
        for (const auto& c : trainer.continuations(tv, 5, true)) QVERIFY2(c == "negative" || c == "positive", c.c_str());
    }

    // Prompt truncation keeps the target, the leading special token and the prompt's end.
    void causalLmTruncationKeepsTarget() {
        const std::string dir = std::string(PTUNE_RESOURCES_DIR) + "/builtin";
        auto tok = Tokenizer::from_dir(dir + "/decoder");
        Dataset d;
        d.path = "rows.tsv";
        d.label_names = {"positive"};
        Example e;
        e.text = "the film was great and the cast was great and the plot was great";
        e.label = 0;
        d.rows.push_back(e);
        CausalLmData t = tokenize_causal_lm(d, *tok, "review : {text} sentiment :", 8, 3);
        const auto& row = t.rows[0];
        QCOMPARE((int64_t)(row.prompt.size() + row.target.size()), (int64_t)8);
        QCOMPARE(row.prompt.front(), (int64_t)2);   // [CLS], the beginning of sequence
        const auto full = tok->encode("review : the film was great and the cast was great and the plot was great sentiment :").ids;
        QCOMPARE(row.prompt.back(), full.back());   // ":" of "sentiment :"
        QCOMPARE(row.target, (std::vector<int64_t>{*tok->token_to_id("positive"), 3}));
        QCOMPARE(fill_template("a {text} b {text}", "x"), std::string("a x b x"));
        QCOMPARE(fill_template("", "x"), std::string("x"));
        QVERIFY_THROWS_EXCEPTION(Error, fill_template("Sentiment : ", "x"));   // no {text}: the data would be ignored
    }

    // Latency of a causal LM, as generation runs it: for every configuration the time to the first token and the
    // time per new token, base and with a prefix; what cannot be measured is refused with the reason.
    void latencyPhases() {
        LatencyOptions o;
        o.model_dir = fixture("llama/model");
        o.methods = {"base", "ptv2"};
        o.prompt_lens = {4, 8};
        o.seq_lens = {6, 12};
        o.batch_sizes = {2};
        o.warmup = 1;
        o.repeats = 3;
        o.new_tokens = 4;
        std::vector<LatencyResult> seen;
        auto rows = run_latency(o, [&](const LatencyResult& r) { seen.push_back(r); });
        QCOMPARE(rows.size(), size_t((2 + 2 * 2) * 2));   // base x 2 lengths, ptv2 x 2 P x 2 lengths; two phases each
        QCOMPARE(seen.size(), rows.size());
        std::set<std::tuple<std::string, int, int, std::string>> keys;
        for (const auto& r : rows) {
            QVERIFY(r.phase == "first_token" || r.phase == "per_token");
            QCOMPARE(r.batch_size, 2);
            if (r.method == "base") QCOMPARE(r.prompt_len, 0);
            else QVERIFY(r.method == "ptv2" && (r.prompt_len == 4 || r.prompt_len == 8));
            QVERIFY(r.median_ms > 0 && r.p90_ms >= r.median_ms);
            QCOMPARE(r.device, std::string("cpu"));
            keys.insert({r.method, r.seq_len, r.prompt_len, r.phase});
        }
        QCOMPARE(keys.size(), rows.size());   // every configuration once per phase
        QCOMPARE(rows[0].phase, std::string("first_token"));
        QCOMPARE(rows[1].phase, std::string("per_token"));
        QCOMPARE(rows[0].method, std::string("base"));

        auto error_of = [&](const LatencyOptions& x) {
            try {
                run_latency(x);
            } catch (const std::exception& e) {
                return std::string(e.what());
            }
            return std::string();
        };
        LatencyOptions bad = o;
        bad.methods = {"base", "lora"};
        QVERIFY2(error_of(bad).find("\"lora\" is not available for causal LMs yet") != std::string::npos, error_of(bad).c_str());
        bad = o;
        bad.layers = "last:1";
        QVERIFY2(error_of(bad).find("every layer") != std::string::npos, error_of(bad).c_str());
        // GPT-2's learned positions: the input, the prefix and the new tokens must fit its 200 positions.
        bad = o;
        bad.model_dir = fixture("gpt2/model");
        bad.seq_lens = {180};
        bad.prompt_lens = {8};
        bad.new_tokens = 16;
        QVERIFY2(error_of(bad).find("180 + P 8 + 16 new tokens = 204 exceeds the model's 200 learned positions") !=
                     std::string::npos,
                 error_of(bad).c_str());
        bad.new_tokens = 12;
        QVERIFY2(error_of(bad).empty(), error_of(bad).c_str());
    }

private:
    void archs() {
        QTest::addColumn<QString>("arch");
        QTest::newRow("gpt2") << QString("gpt2");
        QTest::newRow("llama") << QString("llama");
    }
};

QTEST_GUILESS_MAIN(TstDecoder)
#include "tst_decoder.moc"
