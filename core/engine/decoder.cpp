#include "core/engine/decoder.h"

#include "core/engine/model_config.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/engine/tensor_io.h"
#include "core/io/safetensors.h"

namespace ptune {

// ---- rotary embeddings ----------------------------------------------------------------------------------------

at::Tensor RopeSpec::inv_freq(int64_t head_dim) const {
    // transformers: 1 / base ** (arange(0, dim, 2).float() / dim), in float32.
    at::Tensor exponent = at::arange(0, head_dim, 2, at::kLong).to(at::kFloat) / (double)head_dim;
    at::Tensor inv = 1.0 / at::pow(theta, exponent);
    if (type == "linear") return inv / factor;
    if (type == "llama3") {
        // Llama 3.1: long wavelengths divided by `factor`, short ones kept, the band between blended smoothly.
        const double low_wavelen = original_max_positions / low_freq_factor;
        const double high_wavelen = original_max_positions / high_freq_factor;
        at::Tensor wavelen = 2 * M_PI / inv;
        at::Tensor scaled = at::where(wavelen > low_wavelen, inv / factor, inv);
        at::Tensor smooth = (original_max_positions / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
        at::Tensor smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
        at::Tensor medium = at::logical_not(wavelen < high_wavelen).logical_and(at::logical_not(wavelen > low_wavelen));
        return at::where(medium, smoothed, scaled);
    }
    return inv;
}

namespace {

at::Tensor rotate_half(const at::Tensor& x) {
    const int64_t h = x.size(-1) / 2;
    return at::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
}

// cos and sin [B, 1, n, head_dim] for positions [B, n], in `dtype`.
std::pair<at::Tensor, at::Tensor> rope_tables(const at::Tensor& inv_freq, const at::Tensor& positions,
                                              at::ScalarType dtype) {
    at::Tensor freqs = positions.to(at::kFloat).unsqueeze(-1) * inv_freq.to(positions.device());   // [B, n, d/2]
    at::Tensor emb = at::cat({freqs, freqs}, -1).unsqueeze(1);
    return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::ScalarType scalar_type_of(WeightDtype d, at::ScalarType stored) {
    switch (d) {
        case WeightDtype::Auto: return stored;
        case WeightDtype::Float32: return at::kFloat;
        case WeightDtype::BFloat16: return at::kBFloat16;
        case WeightDtype::Float16: return at::kHalf;
    }
    return at::kFloat;
}

}  // namespace

// ---- spec, norms, tensor source --------------------------------------------------------------------------------

int64_t DecoderSpec::param_count() const {
    const int64_t H = hidden_size, qd = num_heads * head_dim, kvd = kv_dim(), I = intermediate_size;
    int64_t n = vocab_size * H + (positions == PositionKind::Learned ? max_positions * H : 0);
    const int64_t norm_params = norm == NormKind::LayerNorm ? 2 * H : H;
    int64_t layer = 2 * norm_params + H * qd + 2 * H * kvd + qd * H;
    if (qkv_bias) layer += qd + 2 * kvd;
    if (out_bias) layer += H;
    if (qk_norm) layer += 2 * head_dim;
    layer += mlp == MlpKind::Plain ? 2 * H * I : 3 * H * I;
    if (mlp_bias) layer += mlp == MlpKind::Plain ? I + H : 2 * I + H;
    n += num_layers * layer + norm_params;
    if (!tie_embeddings) n += vocab_size * H;
    return n;
}

std::string DecoderSpec::describe() const {
    std::ostringstream s;
    s << model_type << ": " << num_layers << " layers, hidden " << hidden_size << ", " << num_heads << " heads";
    if (num_kv_heads != num_heads) s << " (" << num_kv_heads << " key/value)";
    s << ", head_dim " << head_dim << ", "
      << (positions == PositionKind::Rotary ? "rotary (theta " + std::to_string((int64_t)rope.theta) + ", " + rope.type + ")"
                                            : std::string("learned positions"));
    return s.str();
}

at::Tensor Norm::operator()(const at::Tensor& x) const {
    if (kind == NormKind::LayerNorm) return at::layer_norm(x, {weight.size(0)}, weight, bias, eps);
    // RMSNorm as Llama computes it: in float32, scaled by the weight in the input's dtype.
    at::Tensor xf = x.to(at::kFloat);
    xf = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
    return weight * xf.to(x.scalar_type());
}

at::Tensor TensorSource::find(const std::string& name, std::string* found_as) const {
    for (const auto& p : prefixes_)
        if (at::Tensor t = lookup_(p + name); t.defined()) {
            if (found_as) *found_as = p + name;
            return t;
        }
    return {};
}

at::Tensor TensorSource::need(const std::string& name, const std::vector<int64_t>& shape) const {
    std::string shown;
    at::Tensor t = find(name, &shown);
    if (!t.defined()) {
        std::string tried;
        for (const auto& p : prefixes_) tried += (tried.empty() ? "\"" : " or \"") + p + name + "\"";
        throw Error(source_ + ": missing tensor " + (tried.empty() ? "\"" + name + "\"" : tried));
    }
    if (t.sizes().vec() != shape)
        throw Error(source_ + ": tensor \"" + shown + "\" has shape " + c10::str(t.sizes()) + ", config.json implies " +
                    c10::str(at::IntArrayRef(shape)));
    return t.to(dtype_).contiguous().set_requires_grad(false);
}

// ---- the registry's lookups (the list itself is in families/registry.cpp) -------------------------------------

const DecoderFamily* find_decoder_family(const std::string& model_type) {
    for (const DecoderFamily* f : decoder_families())
        for (const auto& t : f->model_types())
            if (t == model_type) return f;
    return nullptr;
}

std::string decoder_model_types() {
    std::string s;
    for (const DecoderFamily* f : decoder_families())
        for (const auto& t : f->model_types()) s += (s.empty() ? "" : ", ") + t;
    return s;
}

bool is_causal_lm_dir(const std::string& dir) {
    try {
        const std::string path = (std::filesystem::path(dir) / "config.json").string();
        if (!std::filesystem::exists(path)) return false;
        json j = read_json_file(path);
        return j.is_object() && j.contains("model_type") && j["model_type"].is_string() &&
               find_decoder_family(j["model_type"].get<std::string>()) != nullptr;
    } catch (const std::exception&) {
        return false;
    }
}

void require_causal_lm_dir(const std::string& dir) {
    if (is_causal_lm_dir(dir)) return;
    (void)ModelConfig::from_dir(dir);   // a missing directory or config.json: that message
    throw Error(dir + ": not a causal LM ptune reads (model_type one of " + decoder_model_types() + ")");
}

WeightDtype parse_weight_dtype(const std::string& s, const std::string& what) {
    if (s == "auto") return WeightDtype::Auto;
    if (s == "float32" || s == "fp32") return WeightDtype::Float32;
    if (s == "bfloat16" || s == "bf16") return WeightDtype::BFloat16;
    if (s == "float16" || s == "fp16") return WeightDtype::Float16;
    throw Error(what + ": \"" + s + "\" is not a weight dtype (auto, float32, bfloat16, float16)");
}

const char* weight_dtype_name(WeightDtype d) {
    switch (d) {
        case WeightDtype::Auto: return "auto";
        case WeightDtype::Float32: return "float32";
        case WeightDtype::BFloat16: return "bfloat16";
        case WeightDtype::Float16: return "float16";
    }
    return "?";
}

// ---- loading ---------------------------------------------------------------------------------------------------

DecoderSpec read_decoder_spec(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (dir.empty()) throw Error("no model directory given");
    if (!fs::is_directory(dir, ec)) throw Error(dir + ": no such directory");
    const std::string path = (fs::path(dir) / "config.json").string();
    if (!fs::exists(path, ec)) throw Error(dir + ": not a Hugging Face model directory (no config.json)");
    json j = read_json_file(path);
    if (!j.is_object()) throw Error(path + ": expected a JSON object");
    const std::string type = get_field<std::string>(j, "model_type", path);
    const DecoderFamily* family = find_decoder_family(type);
    if (!family)
        throw Error(path + ": model_type \"" + type + "\" is not a decoder ptune reads (" + decoder_model_types() + ")");
    DecoderSpec spec = family->read_config(j, path);
    spec.dir = dir;
    spec.family = family->name();
    spec.model_type = type;
    // generation_config.json's eos_token_id (one id or a list) is what generate() stops on.
    const std::string gen_path = (fs::path(dir) / "generation_config.json").string();
    if (fs::exists(gen_path, ec)) {
        json g = read_json_file(gen_path);
        if (g.is_object() && g.contains("eos_token_id") && !g["eos_token_id"].is_null()) {
            spec.eos_token_ids.clear();
            if (g["eos_token_id"].is_array()) {
                for (const auto& e : g["eos_token_id"]) spec.eos_token_ids.push_back(json_as<int64_t>(e, "eos_token_id", gen_path));
            } else {
                spec.eos_token_ids.push_back(get_field<int64_t>(g, "eos_token_id", gen_path));
            }
        }
    }
    return spec;
}

std::unique_ptr<CausalLM> CausalLM::load(const std::string& dir, WeightDtype dtype) {
    DecoderSpec spec = read_decoder_spec(dir);
    const DecoderFamily* family = find_decoder_family(spec.model_type);
    auto ckpt = st::Checkpoint::open(dir);
    auto lookup = [&](const std::string& name) -> at::Tensor {
        if (!ckpt.contains(name)) return {};
        auto [file, info] = ckpt.get(name);
        return load_tensor(*file, *info);
    };
    at::ScalarType stored = at::kFloat;
    for (const auto& n : ckpt.names()) {
        at::Tensor t = lookup(n);
        if (t.is_floating_point()) {
            stored = t.scalar_type();
            break;
        }
    }
    TensorSource src(ckpt.source(), lookup, family->weight_prefixes(), scalar_type_of(dtype, stored));
    return from_weights(spec, family->load_weights(spec, src));
}

std::unique_ptr<CausalLM> CausalLM::from_weights(const DecoderSpec& spec, DecoderWeights w) {
    std::unique_ptr<CausalLM> m(new CausalLM());
    if ((int64_t)w.blocks.size() != spec.num_layers)
        throw Error("decoder weights for " + std::to_string(w.blocks.size()) + " layers, the config says " +
                    std::to_string(spec.num_layers));
    if (spec.num_heads % spec.num_kv_heads != 0)
        throw Error("num_attention_heads " + std::to_string(spec.num_heads) + " is not a multiple of num_key_value_heads " +
                    std::to_string(spec.num_kv_heads));
    m->spec_ = spec;
    m->w_ = std::move(w);
    if (!m->w_.lm_head.defined()) m->w_.lm_head = m->w_.wte;
    return m;
}

void CausalLM::to(const at::Device& device) {
    if (device == this->device()) return;
    at::NoGradGuard g;
    const bool tied = w_.lm_head.is_same(w_.wte);
    auto mv = [&](at::Tensor& t) {
        if (t.defined()) t = t.to(device);
    };
    auto mvl = [&](Linear& l) { mv(l.weight), mv(l.bias); };
    auto mvn = [&](Norm& n) { mv(n.weight), mv(n.bias); };
    mv(w_.wte), mv(w_.wpe), mvn(w_.ln_f);
    for (auto& b : w_.blocks) {
        mvn(b.ln1), mvn(b.ln2), mvn(b.q_norm), mvn(b.k_norm);
        for (Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.fc, &b.proj, &b.gate, &b.up, &b.down}) mvl(*l);
    }
    if (tied) w_.lm_head = w_.wte;
    else mv(w_.lm_head);
}

at::Tensor CausalLM::act(const at::Tensor& x) const {
    const std::string& a = spec_.act;
    if (a == "silu" || a == "swish") return at::silu(x);
    if (a == "gelu") return at::gelu(x);
    if (a == "relu") return at::relu(x);
    return at::gelu(x, "tanh");   // gelu_new, gelu_pytorch_tanh, gelu_fast
}

// ---- the forward pass ------------------------------------------------------------------------------------------

KVCache CausalLM::empty_cache(int64_t B, const PrefixKV* prefix) const {
    KVCache c;
    const int64_t L = spec_.num_layers, P = prefix ? prefix->length : 0;
    c.key.resize(L);
    c.value.resize(L);
    auto opts = at::TensorOptions().device(device());
    c.key_mask = at::ones({B, P}, opts.dtype(at::kLong));
    c.next_position = at::full({B}, P, opts.dtype(at::kLong));
    if (P > 0) {
        if ((int64_t)prefix->key.size() != L)
            throw Error("a prefix for " + std::to_string(prefix->key.size()) + " layers on a decoder with " +
                        std::to_string(L));
        const std::vector<int64_t> shape{B, spec_.num_kv_heads, P, spec_.head_dim};
        for (int64_t l = 0; l < L; ++l) {
            if (!prefix->key[l].defined())
                throw Error("decoder prefixes cover every layer (PEFT's layout); layer " + std::to_string(l) + " has none");
            c.key[l] = prefix->key[l].to(dtype()).expand(shape);
            c.value[l] = prefix->value[l].to(dtype()).expand(shape);
        }
    }
    return c;
}

at::Tensor CausalLM::forward(KVCache& cache, const at::Tensor& ids, const at::Tensor& mask, bool training,
                             bool last_only) const {
    at::Tensor x = hidden(cache, ids, mask, training);
    if (last_only) x = x.narrow(1, x.size(1) - 1, 1);
    return lm_head(x);
}

at::Tensor CausalLM::hidden(KVCache& cache, const at::Tensor& ids, const at::Tensor& mask, bool training) const {
    const DecoderSpec& s = spec_;
    const int64_t B = ids.size(0), n = ids.size(1), T0 = cache.length(), T = T0 + n;
    const int64_t heads = s.num_heads, kv = s.num_kv_heads, hd = s.head_dim;
    if (s.sliding_window > 0 && T > s.sliding_window)
        throw Error(std::to_string(T) + " keys (prefix and tokens) exceed the model's sliding window of " +
                    std::to_string(s.sliding_window) + " (sliding_window in config.json); ptune does not slide yet");
    const at::Tensor m = mask.to(at::kLong);
    // Positions continue per row from the cache; pads (mask 0) get 1, as transformers gives them.
    at::Tensor pos = cache.next_position.unsqueeze(1) + at::cumsum(m, 1) - 1;
    pos = pos.masked_fill(m.eq(0), 1);
    at::Tensor x = at::embedding(w_.wte, ids);
    if (s.positions == PositionKind::Learned) {
        // A host-side bound (no device read): the cache's keys plus these tokens.
        if (T > s.max_positions)
            throw Error(std::to_string(T) + " positions (prefix and tokens) exceed the model's " +
                        std::to_string(s.max_positions) + " learned positions (n_positions in config.json)");
        x = x + at::embedding(w_.wpe, pos);
    }
    if (s.embd_dropout > 0) x = at::dropout(x, s.embd_dropout, training);
    at::Tensor cos, sin;
    if (s.positions == PositionKind::Rotary) std::tie(cos, sin) = rope_tables(s.rope.inv_freq(hd), pos, x.scalar_type());
    auto rotate = [&](const at::Tensor& t) { return t * cos + rotate_half(t) * sin; };
    // Additive mask [B, 1, n, T]: a query sees every cached key its row's mask allows and new keys up to itself.
    at::Tensor key_mask = at::cat({cache.key_mask.to(at::kLong), m}, 1);
    at::Tensor qi = at::arange(n, ids.options()).unsqueeze(1) + T0, kj = at::arange(T, ids.options()).unsqueeze(0);
    // A left pad sees its own key too, so that its row is never all masked (in half precision an all-masked row
    // can round to -inf and give NaN, which would reach real tokens through its value); real queries never see pads.
    at::Tensor allowed = kj.le(qi).unsqueeze(0).logical_and(key_mask.unsqueeze(1).ne(0)).logical_or(kj.eq(qi).unsqueeze(0));
    at::Tensor add_mask = at::zeros({B, 1, n, T}, x.options())
                              .masked_fill(allowed.logical_not().unsqueeze(1), mask_lowest(x.scalar_type()));
    for (int64_t l = 0; l < s.num_layers; ++l) {
        const DecoderBlock& b = w_.blocks[l];
        at::Tensor h = b.ln1(x);
        at::Tensor q = b.q(h).view({B, n, heads, hd}), k = b.k(h).view({B, n, kv, hd});
        at::Tensor v = b.v(h).view({B, n, kv, hd}).transpose(1, 2);
        if (s.qk_norm) q = b.q_norm(q), k = b.k_norm(k);
        q = q.transpose(1, 2), k = k.transpose(1, 2);
        if (s.positions == PositionKind::Rotary) q = rotate(q), k = rotate(k);
        if (cache.key[l].defined()) {
            k = at::cat({cache.key[l], k}, 2);
            v = at::cat({cache.value[l], v}, 2);
        }
        cache.key[l] = k, cache.value[l] = v;
        if (kv != heads) {   // grouped-query attention: query head i reads key/value head i / (heads / kv)
            k = k.unsqueeze(2).expand({B, kv, heads / kv, T, hd}).reshape({B, heads, T, hd});
            v = v.unsqueeze(2).expand({B, kv, heads / kv, T, hd}).reshape({B, heads, T, hd});
        }
        if (s.scale_by_inverse_layer) q = q / (double)(l + 1);
        at::Tensor ctx = attention(q, k, v, add_mask, s.attn_dropout, training, attention_).transpose(1, 2).reshape({B, n, heads * hd});
        x = x + at::dropout(b.o(ctx), s.resid_dropout, training && s.resid_dropout > 0);
        h = b.ln2(x);
        h = s.mlp == MlpKind::Plain ? b.proj(act(b.fc(h))) : b.down(act(b.gate(h)) * b.up(h));
        x = x + at::dropout(h, s.resid_dropout, training && s.resid_dropout > 0);
    }
    cache.key_mask = key_mask;
    cache.next_position = cache.next_position + m.sum(1);
    return w_.ln_f(x);
}

at::Tensor CausalLM::logits(const at::Tensor& ids, const at::Tensor& mask, const PrefixKV* prefix, bool training) const {
    KVCache c = empty_cache(ids.size(0), prefix);
    return forward(c, ids, mask, training);
}

std::pair<at::Tensor, at::Tensor> left_padded(const std::vector<std::vector<int64_t>>& ids, int64_t pad_id) {
    const int64_t B = (int64_t)ids.size();
    int64_t n = 1;
    for (const auto& v : ids) n = std::max<int64_t>(n, (int64_t)v.size());
    at::Tensor t = at::full({B, n}, pad_id, at::kLong), m = at::zeros({B, n}, at::kLong);
    auto ta = t.accessor<int64_t, 2>();
    auto ma = m.accessor<int64_t, 2>();
    for (int64_t i = 0; i < B; ++i) {
        const int64_t off = n - (int64_t)ids[i].size();
        for (size_t j = 0; j < ids[i].size(); ++j) ta[i][off + (int64_t)j] = ids[i][j], ma[i][off + (int64_t)j] = 1;
    }
    return {t, m};
}

}  // namespace ptune
