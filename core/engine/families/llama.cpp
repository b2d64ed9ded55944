// The Llama family: Llama 2 and 3.x, Mistral, Qwen2/2.5 (biases on q, k, v), Qwen3 (RMSNorm on queries and keys
// per head). RMSNorm before each sublayer, rotary positions, grouped-query attention, a gated SiLU MLP.
#include "core/engine/decoder.h"

namespace ptune {

namespace {

// rope_theta and rope_scaling as written by transformers 4 (rope_theta, rope_scaling {type|rope_type, ...}) or
// transformers 5 (rope_parameters {rope_theta, rope_type, ...}).
RopeSpec read_rope(const json& j, const std::string& path) {
    RopeSpec r;
    const json* params = nullptr;
    std::string where = path;
    if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
        params = &j["rope_parameters"];
        where = path + ": rope_parameters";
    } else if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
        params = &j["rope_scaling"];
        where = path + ": rope_scaling";
    }
    r.theta = get_field_or<double>(j, "rope_theta", 10000.0, path);
    if (!params) return r;
    const json& p = *params;
    r.theta = get_field_or<double>(p, "rope_theta", r.theta, where);
    r.type = get_field_or<std::string>(p, "rope_type", get_field_or<std::string>(p, "type", "default", where), where);
    if (r.type == "default") return r;
    if (r.type == "linear") {
        r.factor = get_field<double>(p, "factor", where);
        return r;
    }
    if (r.type == "llama3") {
        r.factor = get_field<double>(p, "factor", where);
        r.low_freq_factor = get_field<double>(p, "low_freq_factor", where);
        r.high_freq_factor = get_field<double>(p, "high_freq_factor", where);
        r.original_max_positions = get_field<int64_t>(p, "original_max_position_embeddings", where);
        return r;
    }
    throw Error(where + ": rope_type \"" + r.type + "\" is not supported (default, linear, llama3)");
}

class LlamaFamily : public DecoderFamily {
public:
    std::string name() const override { return "llama"; }
    std::vector<std::string> model_types() const override { return {"llama", "mistral", "qwen2", "qwen3"}; }
    std::vector<std::string> weight_prefixes() const override { return {"model.", ""}; }

    DecoderSpec read_config(const json& j, const std::string& path) const override {
        DecoderSpec s;
        const std::string type = get_field<std::string>(j, "model_type", path);
        s.vocab_size = get_field<int64_t>(j, "vocab_size", path);
        s.hidden_size = get_field<int64_t>(j, "hidden_size", path);
        s.num_layers = get_field<int64_t>(j, "num_hidden_layers", path);
        s.num_heads = get_field<int64_t>(j, "num_attention_heads", path);
        s.intermediate_size = get_field<int64_t>(j, "intermediate_size", path);
        if (s.vocab_size <= 0 || s.hidden_size <= 0 || s.num_layers <= 0 || s.num_heads <= 0 || s.intermediate_size <= 0)
            throw Error(path + ": vocab_size, hidden_size, num_hidden_layers, num_attention_heads and "
                               "intermediate_size must be positive");
        s.num_kv_heads = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                             ? get_field<int64_t>(j, "num_key_value_heads", path)
                             : s.num_heads;
        if (s.num_kv_heads <= 0 || s.num_heads % s.num_kv_heads != 0)
            throw Error(path + ": num_key_value_heads " + std::to_string(s.num_kv_heads) +
                        " must divide num_attention_heads " + std::to_string(s.num_heads));
        s.head_dim = j.contains("head_dim") && !j["head_dim"].is_null() ? get_field<int64_t>(j, "head_dim", path)
                                                                          : s.hidden_size / s.num_heads;
        if (s.head_dim <= 0 || s.head_dim % 2 != 0) throw Error(path + ": head_dim must be positive and even");
        s.max_positions = get_field_or<int64_t>(j, "max_position_embeddings", 2048, path);
        s.norm = NormKind::RMSNorm;
        s.norm_eps = get_field_or<double>(j, "rms_norm_eps", 1e-6, path);
        s.positions = PositionKind::Rotary;
        s.rope = read_rope(j, path);
        if (get_field_or<double>(j, "partial_rotary_factor", 1.0, path) != 1.0)
            throw Error(path + ": partial_rotary_factor is not supported");
        s.mlp = MlpKind::Gated;
        s.act = get_field_or<std::string>(j, "hidden_act", "silu", path);
        if (s.act != "silu" && s.act != "swish" && s.act != "gelu" && s.act != "relu" && s.act != "gelu_pytorch_tanh")
            throw Error(path + ": hidden_act \"" + s.act + "\" is not supported (silu, gelu, relu)");
        const bool attention_bias = get_field_or<bool>(j, "attention_bias", false, path);
        s.qkv_bias = attention_bias || type == "qwen2";   // Qwen2 always has q/k/v biases, never an o bias
        s.out_bias = attention_bias && type != "qwen2";
        s.mlp_bias = get_field_or<bool>(j, "mlp_bias", false, path);
        s.qk_norm = type == "qwen3";
        if (type == "mistral" && j.contains("sliding_window") && !j["sliding_window"].is_null())
            s.sliding_window = get_field<int64_t>(j, "sliding_window", path);
        if ((type == "qwen2" || type == "qwen3") && get_field_or<bool>(j, "use_sliding_window", false, path))
            throw Error(path + ": use_sliding_window true is not supported");
        s.tie_embeddings = get_field_or<bool>(j, "tie_word_embeddings", false, path);
        s.attn_dropout = get_field_or<double>(j, "attention_dropout", 0.0, path);
        if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer()) s.bos_token_id = j["bos_token_id"].get<int64_t>();
        if (j.contains("pad_token_id") && j["pad_token_id"].is_number_integer()) s.pad_token_id = j["pad_token_id"].get<int64_t>();
        if (j.contains("eos_token_id")) {
            const json& e = j["eos_token_id"];
            if (e.is_number_integer()) s.eos_token_ids = {json_as<int64_t>(e, "eos_token_id", path)};
            else if (e.is_array())
                for (const auto& x : e) s.eos_token_ids.push_back(json_as<int64_t>(x, "eos_token_id", path));
        }
        s.stored_dtype = get_field_or<std::string>(j, "torch_dtype", get_field_or<std::string>(j, "dtype", "float32", path), path);
        return s;
    }

    DecoderWeights load_weights(const DecoderSpec& s, const TensorSource& src) const override {
        const int64_t H = s.hidden_size, I = s.intermediate_size, qd = s.num_heads * s.head_dim, kvd = s.kv_dim();
        DecoderWeights w;
        w.wte = src.need("embed_tokens.weight", {s.vocab_size, H});
        auto rms = [&](const std::string& n, int64_t d) { return Norm{NormKind::RMSNorm, src.need(n + ".weight", {d}), {}, s.norm_eps}; };
        auto lin = [&](const std::string& n, int64_t out, int64_t in, bool bias) {
            return Linear{src.need(n + ".weight", {out, in}), bias ? src.need(n + ".bias", {out}) : at::Tensor()};
        };
        for (int64_t l = 0; l < s.num_layers; ++l) {
            const std::string p = "layers." + std::to_string(l) + ".";
            DecoderBlock b;
            b.ln1 = rms(p + "input_layernorm", H);
            b.ln2 = rms(p + "post_attention_layernorm", H);
            b.q = lin(p + "self_attn.q_proj", qd, H, s.qkv_bias);
            b.k = lin(p + "self_attn.k_proj", kvd, H, s.qkv_bias);
            b.v = lin(p + "self_attn.v_proj", kvd, H, s.qkv_bias);
            b.o = lin(p + "self_attn.o_proj", H, qd, s.out_bias);
            if (s.qk_norm) {
                b.q_norm = rms(p + "self_attn.q_norm", s.head_dim);
                b.k_norm = rms(p + "self_attn.k_norm", s.head_dim);
            }
            b.gate = lin(p + "mlp.gate_proj", I, H, s.mlp_bias);
            b.up = lin(p + "mlp.up_proj", I, H, s.mlp_bias);
            b.down = lin(p + "mlp.down_proj", H, I, s.mlp_bias);
            w.blocks.push_back(std::move(b));
        }
        w.ln_f = rms("norm", H);
        if (!s.tie_embeddings) w.lm_head = src.need("lm_head.weight", {s.vocab_size, H});
        return w;
    }
};

}  // namespace

const DecoderFamily& llama_family() {
    static LlamaFamily f;
    return f;
}

}  // namespace ptune
