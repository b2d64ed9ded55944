#include "core/engine/method_options.h"

#include <algorithm>

#include "core/engine/encoder_family.h"
#include "core/io/error.h"

namespace ptune {

const std::vector<std::string>& method_names() {
    static const std::vector<std::string> k{"ptv2", "prompt", "ptuning", "lora", "ia3", "adapter", "full", "head"};
    return k;
}

namespace {
const std::vector<std::string> kModules{"query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"};
}  // namespace

std::string canonical_module(const std::string& name) {
    if (std::find(kModules.begin(), kModules.end(), name) != kModules.end()) return name;
    // BERT's full paths and every family's own names (full, or the last part where the family has it once).
    static const char* const kPaths[] = {"attention.self.query", "attention.self.key", "attention.self.value",
                                         "attention.output.dense", "intermediate.dense", "output.dense"};
    for (size_t i = 0; i < 6; ++i) {
        if (name == kPaths[i]) return kModules[i];
        for (const EncoderFamily* f : encoder_families()) {
            const std::string own = f->layer_module(kPaths[i]);
            if (own == kPaths[i]) continue;
            if (name == own || name == own.substr(own.rfind('.') + 1)) return kModules[i];
        }
    }
    return "";
}

bool is_method_name(const std::string& name) {
    const auto& k = method_names();
    return std::find(k.begin(), k.end(), name) != k.end();
}

namespace {

void check_modules(const std::vector<std::string>& m, const std::string& field) {
    for (const auto& x : m)
        if (canonical_module(x).empty())
            throw Error("method." + field + ": \"" + x +
                        "\": use query, key, value, attention.output.dense, intermediate.dense or output.dense "
                        "(or a family's own names, such as DistilBERT's q_lin, v_lin, out_lin, lin1, lin2)");
}

std::vector<std::string> canonical(const std::vector<std::string>& m) {
    std::vector<std::string> v;
    for (const auto& x : m) v.push_back(canonical_module(x).empty() ? x : canonical_module(x));
    return v;
}

std::vector<std::string> lora_targets(const DeltaOptions& d) {
    return d.target_modules.empty() ? std::vector<std::string>{"query", "value"} : canonical(d.target_modules);
}
std::vector<std::string> ia3_targets(const DeltaOptions& d) {
    return d.target_modules.empty() ? std::vector<std::string>{"key", "value", "attention.output.dense", "output.dense"}
                                    : canonical(d.target_modules);
}
std::vector<std::string> ia3_ff(const DeltaOptions& d) {
    if (!d.feedforward_modules.empty()) return canonical(d.feedforward_modules);
    std::vector<std::string> out;
    for (const auto& t : ia3_targets(d))
        if (t == "attention.output.dense" || t == "output.dense") out.push_back(t);
    return out;
}
std::pair<int64_t, int64_t> dims(const std::string& m, int64_t H, int64_t I) {
    if (m == "intermediate.dense") return {H, I};
    if (m == "output.dense") return {I, H};
    return {H, H};
}
}  // namespace

void DeltaOptions::validate(const std::string& method) const {
    if (method == "prompt") {
        if (prompt_init != "random" && prompt_init != "vocab" && prompt_init != "text")
            throw Error("method.prompt_init: \"" + prompt_init + "\": use random, vocab or text");
        if (prompt_init == "text" && prompt_init_text.empty())
            throw Error("method.prompt_init_text: give the text the prompt starts from");
    } else if (method == "ptuning") {
        if (encoder != "mlp" && encoder != "lstm") throw Error("method.encoder: \"" + encoder + "\": use mlp or lstm");
        if (encoder_hidden < 0) throw Error("method.encoder_hidden: must be 0 (the model's hidden size) or more");
    } else if (method == "lora") {
        if (lora_r < 1) throw Error("method.lora_r: must be at least 1");
        if (!(lora_alpha > 0)) throw Error("method.lora_alpha: must be positive");
        if (lora_dropout < 0 || lora_dropout >= 1) throw Error("method.lora_dropout: must be in [0, 1)");
        check_modules(target_modules, "target_modules");
    } else if (method == "ia3") {
        check_modules(target_modules, "target_modules");
        check_modules(feedforward_modules, "feedforward_modules");
        const auto t = ia3_targets(*this);
        for (const auto& f : ia3_ff(*this))
            if (std::find(t.begin(), t.end(), f) == t.end())
                throw Error("method.feedforward_modules: \"" + f + "\" is not among the target modules");
    } else if (method == "adapter") {
        if (adapter_size < 0) throw Error("method.adapter_size: must be 0 (hidden size / 16) or more");
        if (adapter_placement != "houlsby" && adapter_placement != "pfeiffer")
            throw Error("method.adapter_placement: \"" + adapter_placement +
                        "\": use houlsby (after attention and feed-forward) or pfeiffer (after feed-forward)");
        if (adapter_act != "relu" && adapter_act != "gelu" && adapter_act != "tanh" && adapter_act != "swish")
            throw Error("method.adapter_act: \"" + adapter_act + "\": use relu, gelu, tanh or swish");
    }
}

int64_t adapter_bottleneck(const DeltaOptions& d, int64_t H) {
    return d.adapter_size > 0 ? d.adapter_size : std::max<int64_t>(1, H / 16);
}

int64_t method_param_count(const std::string& method, const PrefixOptions& prefix, const DeltaOptions& d, int64_t H,
                           int64_t I, int L, int64_t E, int64_t backbone) {
    const int64_t P = prefix.prompt_len;
    if (method == "ptv2") return prefix.param_count(H, L);
    if (method == "prompt") return P * E;
    if (method == "ptuning") {
        const int64_t h = d.encoder_hidden > 0 ? d.encoder_hidden : H;
        if (d.encoder == "lstm") {
            const int64_t lstm = 2 * (4 * h * (E + h) + 8 * h) + 2 * (4 * h * (2 * h + h) + 8 * h);   // 2 layers, 2 directions
            return P * E + lstm + (2 * h * 2 * h + 2 * h) + (2 * h * E + E);
        }
        return P * E + (E * h + h) + (h * h + h) + (h * E + E);
    }
    if (method == "lora") {
        int64_t n = 0;
        for (const auto& m : lora_targets(d)) {
            auto [in, out] = dims(m, H, I);
            n += d.lora_r * (in + out);
        }
        return n * L;
    }
    if (method == "ia3") {
        int64_t n = 0;
        const auto ff = ia3_ff(d);
        for (const auto& m : ia3_targets(d)) {
            auto [in, out] = dims(m, H, I);
            n += std::find(ff.begin(), ff.end(), m) != ff.end() ? in : out;
        }
        return n * L;
    }
    if (method == "adapter") {
        const int64_t m = adapter_bottleneck(d, H);
        const int64_t sites = d.adapter_placement == "pfeiffer" ? 1 : 2;
        return sites * (H * m + m + m * H + H) * L;
    }
    if (method == "full") return backbone;
    return 0;   // head
}

json delta_options_to_json(const std::string& method, const DeltaOptions& d) {
    if (method == "prompt") return {{"prompt_init", d.prompt_init}, {"prompt_init_text", d.prompt_init_text}};
    if (method == "ptuning") return {{"encoder", d.encoder}, {"encoder_hidden", d.encoder_hidden}};
    if (method == "lora")
        return {{"lora_r", d.lora_r}, {"lora_alpha", d.lora_alpha}, {"lora_dropout", d.lora_dropout}, {"rslora", d.rslora},
                {"target_modules", d.target_modules}};
    if (method == "ia3") return {{"target_modules", d.target_modules}, {"feedforward_modules", d.feedforward_modules}};
    if (method == "adapter")
        return {{"adapter_size", d.adapter_size}, {"adapter_placement", d.adapter_placement}, {"adapter_act", d.adapter_act}};
    return json::object();
}

DeltaOptions delta_options_from_json(const json& j, const std::string& where) {
    DeltaOptions d;
    d.prompt_init = get_field_or<std::string>(j, "prompt_init", d.prompt_init, where);
    d.prompt_init_text = get_field_or<std::string>(j, "prompt_init_text", d.prompt_init_text, where);
    d.encoder = get_field_or<std::string>(j, "encoder", d.encoder, where);
    d.encoder_hidden = get_field_or<int64_t>(j, "encoder_hidden", d.encoder_hidden, where);
    d.lora_r = get_field_or<int64_t>(j, "lora_r", d.lora_r, where);
    d.lora_alpha = get_field_or<double>(j, "lora_alpha", d.lora_alpha, where);
    d.lora_dropout = get_field_or<double>(j, "lora_dropout", d.lora_dropout, where);
    d.rslora = get_field_or<bool>(j, "rslora", d.rslora, where);
    d.target_modules = get_field_or<std::vector<std::string>>(j, "target_modules", d.target_modules, where);
    d.feedforward_modules = get_field_or<std::vector<std::string>>(j, "feedforward_modules", d.feedforward_modules, where);
    d.adapter_size = get_field_or<int64_t>(j, "adapter_size", d.adapter_size, where);
    d.adapter_placement = get_field_or<std::string>(j, "adapter_placement", d.adapter_placement, where);
    d.adapter_act = get_field_or<std::string>(j, "adapter_act", d.adapter_act, where);
    return d;
}

}  // namespace ptune
