// GPT-2 (GPT2LMHeadModel): learned positions, LayerNorm before each sublayer, a fused c_attn projection and
// Conv1D layers whose weights are stored [in, out] (transposed here into [out, in]), tied embeddings.
#include "core/engine/decoder.h"

namespace ptune {

namespace {

class Gpt2Family : public DecoderFamily {
public:
    std::string name() const override { return "gpt2"; }
    std::vector<std::string> model_types() const override { return {"gpt2"}; }
    // GPT2LMHeadModel saves "transformer.h.0...", the original checkpoints "h.0..."; lm_head sits outside.
    std::vector<std::string> weight_prefixes() const override { return {"transformer.", ""}; }

    DecoderSpec read_config(const json& j, const std::string& path) const override {
        DecoderSpec s;
        s.vocab_size = get_field<int64_t>(j, "vocab_size", path);
        s.hidden_size = get_field<int64_t>(j, "n_embd", path);
        s.num_layers = get_field<int64_t>(j, "n_layer", path);
        s.num_heads = get_field<int64_t>(j, "n_head", path);
        s.num_kv_heads = s.num_heads;
        if (s.vocab_size <= 0 || s.hidden_size <= 0 || s.num_layers <= 0 || s.num_heads <= 0)
            throw Error(path + ": vocab_size, n_embd, n_layer and n_head must be positive");
        if (s.hidden_size % s.num_heads != 0)
            throw Error(path + ": n_embd " + std::to_string(s.hidden_size) + " is not a multiple of n_head " +
                        std::to_string(s.num_heads));
        s.head_dim = s.hidden_size / s.num_heads;
        s.intermediate_size = j.contains("n_inner") && !j["n_inner"].is_null() ? get_field<int64_t>(j, "n_inner", path)
                                                                                 : 4 * s.hidden_size;
        s.max_positions = get_field<int64_t>(j, "n_positions", path);
        s.norm = NormKind::LayerNorm;
        s.norm_eps = get_field_or<double>(j, "layer_norm_epsilon", 1e-5, path);
        s.positions = PositionKind::Learned;
        s.mlp = MlpKind::Plain;
        s.act = get_field_or<std::string>(j, "activation_function", "gelu_new", path);
        if (s.act != "gelu_new" && s.act != "gelu" && s.act != "relu" && s.act != "gelu_pytorch_tanh" && s.act != "gelu_fast")
            throw Error(path + ": activation_function \"" + s.act + "\" is not supported (gelu_new, gelu, relu)");
        s.qkv_bias = s.out_bias = s.mlp_bias = true;
        s.scale_by_inverse_layer = get_field_or<bool>(j, "scale_attn_by_inverse_layer_idx", false, path);
        if (!get_field_or<bool>(j, "scale_attn_weights", true, path))
            throw Error(path + ": scale_attn_weights false is not supported");
        s.tie_embeddings = get_field_or<bool>(j, "tie_word_embeddings", true, path);
        s.embd_dropout = get_field_or<double>(j, "embd_pdrop", 0.1, path);
        s.attn_dropout = get_field_or<double>(j, "attn_pdrop", 0.1, path);
        s.resid_dropout = get_field_or<double>(j, "resid_pdrop", 0.1, path);
        if (j.contains("bos_token_id") && !j["bos_token_id"].is_null()) s.bos_token_id = get_field<int64_t>(j, "bos_token_id", path);
        if (j.contains("eos_token_id") && !j["eos_token_id"].is_null()) s.eos_token_ids = {get_field<int64_t>(j, "eos_token_id", path)};
        if (j.contains("pad_token_id") && !j["pad_token_id"].is_null()) s.pad_token_id = get_field<int64_t>(j, "pad_token_id", path);
        s.stored_dtype = get_field_or<std::string>(j, "torch_dtype", get_field_or<std::string>(j, "dtype", "float32", path), path);
        return s;
    }

    DecoderWeights load_weights(const DecoderSpec& s, const TensorSource& src) const override {
        const int64_t H = s.hidden_size, I = s.intermediate_size;
        DecoderWeights w;
        w.wte = src.need("wte.weight", {s.vocab_size, H});
        w.wpe = src.need("wpe.weight", {s.max_positions, H});
        auto ln = [&](const std::string& n) {
            return Norm{NormKind::LayerNorm, src.need(n + ".weight", {H}), src.need(n + ".bias", {H}), s.norm_eps};
        };
        // Conv1D: y = x W + b with W [in, out].
        auto conv = [&](const std::string& n, int64_t in, int64_t out) {
            return Linear{src.need(n + ".weight", {in, out}).t().contiguous(), src.need(n + ".bias", {out})};
        };
        for (int64_t l = 0; l < s.num_layers; ++l) {
            const std::string p = "h." + std::to_string(l) + ".";
            DecoderBlock b;
            b.ln1 = ln(p + "ln_1");
            b.ln2 = ln(p + "ln_2");
            Linear qkv = conv(p + "attn.c_attn", H, 3 * H);   // [3H, H]: query, key, value rows
            auto wq = qkv.weight.chunk(3, 0), bq = qkv.bias.chunk(3, 0);
            b.q = {wq[0].contiguous(), bq[0].contiguous()};
            b.k = {wq[1].contiguous(), bq[1].contiguous()};
            b.v = {wq[2].contiguous(), bq[2].contiguous()};
            b.o = conv(p + "attn.c_proj", H, H);
            b.fc = conv(p + "mlp.c_fc", H, I);
            b.proj = conv(p + "mlp.c_proj", I, H);
            w.blocks.push_back(std::move(b));
        }
        w.ln_f = ln("ln_f");
        if (!s.tie_embeddings) w.lm_head = src.need("lm_head.weight", {s.vocab_size, H});
        return w;
    }
};

}  // namespace

const DecoderFamily& gpt2_family() {
    static Gpt2Family f;
    return f;
}

}  // namespace ptune
