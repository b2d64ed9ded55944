#include "core/engine/peft_io.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include <filesystem>

#include "core/engine/methods.h"
#include "core/engine/tensor_io.h"

namespace fs = std::filesystem;

namespace ptune {

PeftAdapter PeftAdapter::load(const std::string& dir) {
    PeftAdapter a;
    a.dir = dir;
    std::string cfg_path = (fs::path(dir) / "adapter_config.json").string();
    if (!fs::exists(cfg_path)) throw Error(dir + ": not a PEFT adapter directory (no adapter_config.json)");
    a.config = read_json_file(cfg_path);
    a.peft_type = get_field<std::string>(a.config, "peft_type", cfg_path);
    a.task_type = get_field_or<std::string>(a.config, "task_type", "", cfg_path);
    std::string w = (fs::path(dir) / "adapter_model.safetensors").string();
    if (!fs::exists(w)) {
        if (fs::exists(fs::path(dir) / "adapter_model.bin"))
            throw Error(dir + ": adapter_model.bin (pickle) is not supported; save the adapter with safe_serialization");
        throw Error(dir + ": no adapter_model.safetensors");
    }
    a.tensors = load_all(w);
    return a;
}

std::map<std::string, at::Tensor> PeftAdapter::head_tensors() const {
    std::map<std::string, at::Tensor> out;
    for (const auto& [k0, t] : tensors) {
        std::string k = k0;
        for (const char* p : {"base_model.model.", "base_model."}) {
            if (k.rfind(p, 0) == 0) {
                k = k.substr(std::string(p).size());
                break;
            }
        }
        for (const char* infix : {".modules_to_save.default", ".original_module"}) {
            auto pos = k.find(infix);
            if (pos != std::string::npos) k.erase(pos, std::string(infix).size());
        }
        if (k.rfind("classifier.", 0) == 0 || k.rfind("score.", 0) == 0 || k.rfind("qa_outputs.", 0) == 0 ||
            k.rfind("pre_classifier.", 0) == 0)
            out[k] = t;
    }
    return out;
}

namespace {
std::string shape_str(const at::Tensor& t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "]";
}
}  // namespace

void PeftDelta::to(const at::Device& device) {
    if (input_prompt.defined()) input_prompt = input_prompt.to(device);
    for (auto& layer : layers)
        for (LinearDelta& ld : layer)
            for (at::Tensor* t : {&ld.lora_A, &ld.lora_B, &ld.ia3_out, &ld.ia3_in})
                if (t->defined()) *t = t->to(device);
    for (at::Tensor* t : {&pooler.lora_A, &pooler.lora_B, &pooler.ia3_out, &pooler.ia3_in})
        if (t->defined()) *t = t->to(device);
}

std::map<std::string, at::Tensor> delta_parameters_of(const PeftDelta& d) {
    std::map<std::string, at::Tensor> have;
    if (d.input_prompt.defined()) have["prompt_embeddings"] = d.input_prompt;
    for (size_t l = 0; l < d.layers.size(); ++l)
        for (int si = 0; si < kSites; ++si) {
            const LinearDelta& x = d.layers[l][(size_t)si];
            const std::string base = "layer." + std::to_string(l) + "." + site_name((Site)si);
            if (x.lora_A.defined()) have[base + ".lora_A.weight"] = x.lora_A;
            if (x.lora_B.defined()) have[base + ".lora_B.weight"] = x.lora_B;
            if (x.ia3_out.defined()) have[base + ".ia3_out"] = x.ia3_out;
            if (x.ia3_in.defined()) have[base + ".ia3_in"] = x.ia3_in;
        }
    // No method of ptune's trains the pooler: these names match none of a method's parameters, so that loading
    // such an adapter into one is refused rather than losing the pooler's change.
    if (d.pooler.lora_A.defined()) have["pooler.dense.lora_A.weight"] = d.pooler.lora_A;
    if (d.pooler.lora_B.defined()) have["pooler.dense.lora_B.weight"] = d.pooler.lora_B;
    if (d.pooler.ia3_out.defined()) have["pooler.dense.ia3_out"] = d.pooler.ia3_out;
    if (d.pooler.ia3_in.defined()) have["pooler.dense.ia3_in"] = d.pooler.ia3_in;
    return have;
}

bool is_peft_delta_dir(const std::string& dir) {
    const fs::path cfg = fs::path(dir) / "adapter_config.json";
    if (!fs::exists(cfg)) return false;
    const std::string t = read_json_file(cfg.string()).value("peft_type", std::string());
    return t == "PROMPT_TUNING" || t == "P_TUNING" || t == "LORA" || t == "IA3";
}

Adaptation PeftDelta::adaptation() const {
    Adaptation ad;
    ad.input_prompt = input_prompt;
    ad.layers = layers;
    ad.pooler = pooler;
    return ad;
}

PeftDelta peft_delta_from(const PeftAdapter& a, const ModelConfig& cfg) {
    const std::string where = a.dir + "/adapter_config.json";
    const std::string file = a.dir + "/adapter_model.safetensors";
    PeftDelta d;
    d.peft_type = a.peft_type;
    d.config = a.config;
    d.head = a.head_tensors();
    const int64_t H = cfg.hidden_size, I = cfg.intermediate_size;
    if (a.peft_type == "PROMPT_TUNING" || a.peft_type == "P_TUNING") {
        auto it = a.tensors.find("prompt_embeddings");
        if (it == a.tensors.end()) throw Error(file + ": no prompt_embeddings tensor");
        const int64_t P = get_field<int64_t>(a.config, "num_virtual_tokens", where);
        const int64_t E = cfg.embedding_size > 0 ? cfg.embedding_size : H;
        const at::Tensor& t = it->second;
        if (t.dim() != 2 || t.size(0) != P || t.size(1) != E)
            throw Error(file + ": prompt_embeddings has shape " + shape_str(t) + ", expected [" + std::to_string(P) + ", " +
                        std::to_string(E) + "] (num_virtual_tokens, the model's embedding size)");
        if (get_field_or<int64_t>(a.config, "num_transformer_submodules", 1, where) != 1)
            throw Error(where + ": num_transformer_submodules must be 1 for an encoder");
        d.input_prompt = t.to(at::kFloat).clone();
        if (a.peft_type == "P_TUNING")
            d.notes.push_back("P_TUNING: PEFT's file holds the prompt encoder's output, not its weights; the prompts are "
                              "used as they are");
        return d;
    }
    if (a.peft_type != "LORA" && a.peft_type != "IA3")
        throw Error(where + ": peft_type " + a.peft_type + " is not one of PREFIX_TUNING, PROMPT_TUNING, P_TUNING, LORA, IA3");
    double alpha = 0, r_cfg = 0;
    bool rslora = false;
    if (a.peft_type == "LORA") {
        alpha = get_field<double>(a.config, "lora_alpha", where);
        r_cfg = get_field<double>(a.config, "r", where);
        rslora = get_field_or<bool>(a.config, "use_rslora", false, where);
        if (get_field_or<bool>(a.config, "use_dora", false, where))
            throw Error(where + ": use_dora: DoRA adapters are not supported");
        if (get_field_or<std::string>(a.config, "bias", "none", where) != "none")
            throw Error(where + ": bias \"" + a.config.value("bias", std::string()) + "\": trained biases are not supported");
        for (const char* k : {"rank_pattern", "alpha_pattern"})
            if (a.config.contains(k) && a.config[k].is_object() && !a.config[k].empty())
                throw Error(where + ": " + k + ": per-module ranks or alphas are not supported");
    }
    const double dropout = a.peft_type == "LORA" ? get_field_or<double>(a.config, "lora_dropout", 0.0, where) : 0.0;
    d.layers.resize((size_t)cfg.num_layers);
    auto in_out = [&](Site s) -> std::pair<int64_t, int64_t> {
        if (s == Site::Intermediate) return {H, I};
        if (s == Site::Output) return {I, H};
        return {H, H};
    };
    const EncoderFamily& fam = *cfg.family;
    const std::string layer_tag = fam.layers_path();
    for (const auto& [name, t] : a.tensors) {
        std::string k = name;
        for (const char* p : {"base_model.model.", "base_model."})
            if (k.rfind(p, 0) == 0) {
                k = k.substr(std::string(p).size());
                break;
            }
        if (k.rfind("classifier.", 0) == 0 || k.rfind("score.", 0) == 0 || k.rfind("pre_classifier.", 0) == 0)
            continue;   // the head, read above
        std::string suffix;
        for (const char* sfx : {".lora_A.weight", ".lora_B.weight", ".ia3_l"})
            if (k.size() > strlen(sfx) && k.compare(k.size() - strlen(sfx), strlen(sfx), sfx) == 0) suffix = sfx;
        LinearDelta* target = nullptr;
        int64_t in = H, out = H;
        const std::string path = suffix.empty() ? k : k.substr(0, k.size() - suffix.size());
        if (cfg.has_pooler() && !suffix.empty() && (path == "pooler.dense" || path == fam.weight_prefix() + "pooler.dense")) {
            // The pooler's dense layer: PEFT's "dense" target matches it beside the layers' dense modules.
            target = &d.pooler;
        } else {
            const auto lp = k.find(layer_tag);
            if (lp == std::string::npos)
                throw Error(file + ": tensor " + name + " is not in an encoder layer or the pooler (only the encoder's "
                            "linear layers and the pooler's dense layer are supported)");
            size_t pos = lp + layer_tag.size();
            size_t dot = k.find('.', pos);
            const int64_t layer = std::stoll(k.substr(pos, dot - pos));
            if (layer < 0 || layer >= cfg.num_layers)
                throw Error(file + ": tensor " + name + ": layer " + std::to_string(layer) + " but the model has " +
                            std::to_string(cfg.num_layers));
            std::string rest = k.substr(dot + 1);   // "attention.self.query.lora_A.weight"
            if (suffix.empty()) throw Error(file + ": tensor " + name + ": not a LoRA or IA3 weight ptune knows");
            const std::string module = rest.substr(0, rest.size() - suffix.size());
            int site = -1;
            for (int s = 0; s < kSites; ++s)
                if (module == fam.layer_module(site_name((Site)s))) site = s;
            if (site < 0) throw Error(file + ": tensor " + name + ": module " + module + " is not one of the encoder's linear layers");
            target = &d.layers[(size_t)layer][(size_t)site];
            std::tie(in, out) = in_out((Site)site);
        }
        LinearDelta& ld = *target;
        const at::Tensor f = t.to(at::kFloat).clone();
        auto bad = [&](const std::string& expected) {
            return Error(file + ": tensor " + name + " has shape " + shape_str(t) + ", expected " + expected);
        };
        if (suffix == ".lora_A.weight") {
            if (f.dim() != 2 || f.size(1) != in) throw bad("[r, " + std::to_string(in) + "]");
            ld.lora_A = f;
        } else if (suffix == ".lora_B.weight") {
            if (f.dim() != 2 || f.size(0) != out) throw bad("[" + std::to_string(out) + ", r]");
            ld.lora_B = f;
        } else if (f.dim() == 2 && f.size(0) == out && f.size(1) == 1) {
            ld.ia3_out = f.view({out});     // an attention module: the output is scaled
        } else if (f.dim() == 2 && f.size(0) == 1 && f.size(1) == in) {
            ld.ia3_in = f.view({in});       // a feed-forward module: the input is scaled
        } else {
            throw bad("[" + std::to_string(out) + ", 1] or [1, " + std::to_string(in) + "]");
        }
    }
    auto check_lora = [&](LinearDelta& ld, const std::string& what) {
        if (ld.lora_A.defined() != ld.lora_B.defined()) throw Error(file + ": " + what + ": lora_A without lora_B");
        if (!ld.lora_A.defined()) return;
        const int64_t r = ld.lora_A.size(0);
        if (ld.lora_B.size(1) != r)
            throw Error(file + ": " + what + ": lora_A has rank " + std::to_string(r) + ", lora_B " +
                        std::to_string(ld.lora_B.size(1)));
        if (r != (int64_t)r_cfg)
            throw Error(file + ": " + what + ": rank " + std::to_string(r) + " but adapter_config.json says r = " +
                        std::to_string((int64_t)r_cfg));
        ld.lora_scaling = rslora ? alpha / std::sqrt((double)r) : alpha / (double)r;
        ld.lora_dropout = dropout;
    };
    for (int64_t l = 0; l < cfg.num_layers; ++l)
        for (int s = 0; s < kSites; ++s)
            check_lora(d.layers[(size_t)l][(size_t)s], "layer " + std::to_string(l) + " " + site_name((Site)s));
    check_lora(d.pooler, "pooler.dense");
    return d;
}

PromptAdapter prompt_adapter_from_peft(const PeftAdapter& a, const ModelConfig& cfg) {
    return prompt_adapter_from_peft(a, PrefixGeometry::of(cfg));
}

PromptAdapter prompt_adapter_from_peft(const PeftAdapter& a, const PrefixGeometry& g) {
    const std::string where = a.dir + "/adapter_config.json";
    if (a.peft_type != "PREFIX_TUNING") {
        throw Error(where + ": peft_type " + a.peft_type + " is not P-Tuning v2 (PREFIX_TUNING)");
    }
    const int64_t P = get_field<int64_t>(a.config, "num_virtual_tokens", where);
    const int64_t L = get_field_or<int64_t>(a.config, "num_layers", g.num_layers, where);
    const int64_t D = get_field_or<int64_t>(a.config, "token_dim", g.token_dim(), where);
    const int64_t heads = get_field_or<int64_t>(a.config, "num_attention_heads", g.heads, where);
    if (L != g.num_layers || D != g.token_dim() || heads != g.heads) {
        throw Error(where + ": made for a model with " + std::to_string(L) + " layers, hidden size " + std::to_string(D) +
                    ", " + std::to_string(heads) + " heads; this model has " + std::to_string(g.num_layers) + ", " +
                    std::to_string(g.token_dim()) + ", " + std::to_string(g.heads) +
                    " (for a grouped-query decoder: key/value heads and their width)");
    }
    auto it = a.tensors.find("prompt_embeddings");
    if (it == a.tensors.end()) throw Error(a.dir + "/adapter_model.safetensors: no tensor \"prompt_embeddings\"");
    PrefixOptions opt;
    opt.prompt_len = P;
    opt.layers = LayerSpec{"all"};
    PromptAdapter out;
    out.prompt = std::make_unique<DeepPrompt>(g, opt, 0);
    out.prompt->set_parameter("prompt_embeddings", it->second);
    if (get_field_or<bool>(a.config, "prefix_projection", false, where)) {
        out.notes.push_back("the adapter was trained with prefix_projection (an MLP); PEFT saves only the MLP's output, "
                            "which is imported as plain prompts");
    }
    out.head = a.head_tensors();
    out.base_model = get_field_or<std::string>(a.config, "base_model_name_or_path", "", where);
    return out;
}

namespace {

std::vector<std::pair<std::string, at::Tensor>> head_for_save(const EncoderClassifier& model, const std::string& prefix) {
    std::vector<std::pair<std::string, at::Tensor>> v;
    for (auto& [n, t] : model.head_parameters()) v.push_back({prefix + n, t.detach().to(at::kCPU).to(at::kFloat)});
    return v;
}

}  // namespace

const char* const kRandomPoolerNoPeft =
    "the base checkpoint has no pooler, so ptune drew one at random (and keeps it in its own format); transformers "
    "would draw another when loading the model, and a PEFT adapter would compute something else";

std::vector<std::string> peft_seq_cls_modules(const ModelConfig& cfg) {
    std::vector<std::string> v;
    const EncoderHeadSpec h = cfg.family->head();
    for (const std::string& stem : {h.dense, h.out}) {
        const std::string module = stem.substr(0, stem.find('.'));
        if (!module.empty() && module != "classifier" && std::find(v.begin(), v.end(), module) == v.end())
            v.push_back(module);
    }
    v.push_back("classifier");
    v.push_back("score");
    return v;
}

json peft_prefix_config(const ModelConfig& cfg, const PrefixOptions& o, const std::string& task_type,
                        const std::string& base_model) {
    return {
        {"peft_type", "PREFIX_TUNING"},
        {"task_type", task_type},
        {"auto_mapping", nullptr},
        {"base_model_name_or_path", base_model == "builtin" || base_model.empty() ? json(nullptr) : json(base_model)},
        {"revision", nullptr},
        {"inference_mode", true},
        {"num_virtual_tokens", o.prompt_len},
        {"token_dim", cfg.hidden_size},
        {"num_transformer_submodules", 1},
        {"num_attention_heads", cfg.num_heads},
        {"num_layers", cfg.num_layers},
        {"encoder_hidden_size", cfg.hidden_size},
        // With the MLP option the file holds the MLP's output, as PEFT saves it; declared without projection so
        // that PEFT loads it as plain prompts in inference and in training mode alike (with projection and
        // is_trainable=True PEFT would build the MLP and refuse the tensor's shape).
        {"prefix_projection", false},
        {"modules_to_save", peft_seq_cls_modules(cfg)},
        {"init_weights", nullptr},
    };
}

void export_peft(const std::string& dir, const DeepPrompt& prompt, const EncoderClassifier& model,
                 const std::vector<std::string>& label_names, const std::string& base_model) {
    const ModelConfig& cfg = model.config();
    if ((int64_t)prompt.layers().size() != cfg.num_layers) {
        throw Error("cannot export prompts on " + std::to_string(prompt.layers().size()) + " of " +
                    std::to_string(cfg.num_layers) + " layers (" + prompt.options().layers.text +
                    ") as a PEFT adapter: PEFT's PREFIX_TUNING puts a prefix in every layer, and a zero prefix "
                    "still takes attention weight, so the adapter would compute something else. Export in "
                    "ptune's format instead (--format ptune).");
    }
    if (const std::string why = cfg.family->peft_prefix_refusal(); !why.empty())
        throw Error("cannot export as a PEFT adapter: " + why + ". Export in ptune's format instead (--format ptune).");
    if (!model.pooler_from_checkpoint()) {
        throw Error(std::string("cannot export as a PEFT adapter: ") + kRandomPoolerNoPeft +
                    ". Export in ptune's format instead (--format ptune).");
    }
    fs::create_directories(dir);
    write_json_file((fs::path(dir) / "adapter_config.json").string(),
                    peft_prefix_config(cfg, prompt.options(), "SEQ_CLS", base_model));
    auto tensors = head_for_save(model, "base_model.");
    at::Tensor flat;
    {
        at::NoGradGuard g;
        flat = prompt.flat().detach().to(at::kCPU).to(at::kFloat).contiguous();
    }
    tensors.push_back({"prompt_embeddings", flat});
    save_tensors((fs::path(dir) / "adapter_model.safetensors").string(), tensors);
    write_peft_labels(dir, label_names);
}

void export_peft_decoder_prefix(const std::string& dir, const DeepPrompt& prompt, const std::string& base_model) {
    const PrefixGeometry& g = prompt.geometry();
    if ((int64_t)prompt.layers().size() != g.num_layers)
        throw Error("cannot export a prefix on " + std::to_string(prompt.layers().size()) + " of " +
                    std::to_string(g.num_layers) + " layers as a PEFT adapter: PEFT puts a prefix in every layer");
    fs::create_directories(dir);
    json c = {
        {"peft_type", "PREFIX_TUNING"},
        {"task_type", "CAUSAL_LM"},
        {"auto_mapping", nullptr},
        {"base_model_name_or_path", base_model.empty() || base_model.rfind("builtin", 0) == 0 ? json(nullptr) : json(base_model)},
        {"revision", nullptr},
        {"inference_mode", true},
        {"num_virtual_tokens", prompt.prompt_len()},
        {"token_dim", g.token_dim()},
        {"num_transformer_submodules", 1},
        {"num_attention_heads", g.heads},
        {"num_layers", g.num_layers},
        {"encoder_hidden_size", g.token_dim()},
        {"prefix_projection", false},
        {"modules_to_save", nullptr},
        {"init_weights", nullptr},
    };
    write_json_file((fs::path(dir) / "adapter_config.json").string(), c);
    at::Tensor flat;
    {
        at::NoGradGuard ng;
        flat = prompt.flat().detach().to(at::kCPU).to(at::kFloat).contiguous();
    }
    save_tensors((fs::path(dir) / "adapter_model.safetensors").string(), {{"prompt_embeddings", flat}});
}

void write_peft_labels(const std::string& dir, const std::vector<std::string>& label_names) {
    json labels = json::object();
    for (size_t i = 0; i < label_names.size(); ++i) labels[std::to_string(i)] = label_names[i];
    json readme_cfg = {{"id2label", labels}, {"made_by", "ptune"}};
    write_json_file((fs::path(dir) / "ptune_labels.json").string(), readme_cfg);
}

namespace {

// The name PEFT's lists use for a site: the module's last name where no other linear layer of the layer ends with
// it (BERT's "query", DistilBERT's "q_lin"), else its path in the layer ("attention.output.dense").
std::string peft_site_name(Site s, const EncoderFamily& fam) {
    const std::string full = fam.layer_module(site_name(s));
    const std::string last = full.substr(full.rfind('.') + 1);
    for (int i = 0; i < kSites; ++i) {
        if ((Site)i == s) continue;
        const std::string other = fam.layer_module(site_name((Site)i));
        if (other.substr(other.rfind('.') + 1) == last) return full;
    }
    return last;
}

std::string regex_escape(const std::string& n) {
    std::string esc;
    for (char c : n) esc += c == '.' ? std::string("\\.") : std::string(1, c);
    return esc;
}

bool ends_with(const std::string& s, const std::string& t) {
    return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// What PEFT's list matching selects among an encoder layer's linear layers: target_modules entries match a
// module key equal to them or ending in "." + entry (check_target_module_exists); IA3's feedforward_modules
// entries match a key that ends with them, dot or not (_check_target_module_feedforward).
std::set<Site> peft_list_matches(const std::vector<std::string>& names, bool dot_boundary, const EncoderFamily& fam) {
    std::set<Site> out;
    for (int i = 0; i < kSites; ++i) {
        const std::string key = fam.weight_prefix() + fam.layers_path() + "0." + fam.layer_module(site_name((Site)i));
        for (const auto& t : names)
            if (key == t || ends_with(key, dot_boundary ? "." + t : t)) out.insert((Site)i);
    }
    return out;
}

// A list naming exactly `sites` under PEFT's matching (`within`: the modules a feedforward list is checked
// against), or a regular expression (PEFT fullmatches a string against the module key) when no list does.
json peft_modules(const std::vector<Site>& sites, bool dot_boundary, const std::set<Site>& within,
                  const EncoderFamily& fam) {
    std::vector<std::string> names;
    for (int i = 0; i < kSites; ++i)
        if (std::find(sites.begin(), sites.end(), (Site)i) != sites.end()) names.push_back(peft_site_name((Site)i, fam));
    std::set<Site> want(sites.begin(), sites.end()), got;
    for (Site s : peft_list_matches(names, dot_boundary, fam))
        if (within.count(s)) got.insert(s);
    if (got == want) return names;
    std::string alt;
    for (int i = 0; i < kSites; ++i) {
        if (!want.count((Site)i)) continue;
        alt += (alt.empty() ? "" : "|") + regex_escape(fam.layer_module(site_name((Site)i)));
    }
    return ".*" + regex_escape(fam.layers_path()) + "[0-9]+\\.(" + alt + ")";
}

std::set<Site> all_sites() {
    std::set<Site> s;
    for (int i = 0; i < kSites; ++i) s.insert((Site)i);
    return s;
}

json peft_common(const std::string& peft_type, const std::string& base_model) {
    return {{"peft_type", peft_type},
            {"task_type", "SEQ_CLS"},
            {"auto_mapping", nullptr},
            {"base_model_name_or_path", base_model.empty() || base_model == "builtin" ? json(nullptr) : json(base_model)},
            {"revision", nullptr},
            {"inference_mode", true},
            {"modules_to_save", {"classifier", "score"}}};
}

json number_json(double v) { return v == std::floor(v) && std::fabs(v) < 1e15 ? json((int64_t)v) : json(v); }

}  // namespace

json peft_module_fields(const std::vector<Site>& sites, const std::vector<Site>* feedforward, const EncoderFamily& fam) {
    json j = {{"target_modules", peft_modules(sites, true, all_sites(), fam)}};
    if (feedforward)
        j["feedforward_modules"] = peft_modules(*feedforward, false, std::set<Site>(sites.begin(), sites.end()), fam);
    return j;
}

bool peft_can_express(const std::string& method) {
    return method == "prompt" || method == "ptuning" || method == "lora" || method == "ia3";
}

PeftDelta peft_delta_of(const std::string& method, const DeltaOptions& o, const DeltaMethod& delta,
                        const EncoderClassifier& model, const std::string& tokenizer_dir, const std::string& task_type,
                        const std::vector<std::string>& modules_to_save) {
    if (!peft_can_express(method)) {
        if (method == "adapter")
            throw Error("cannot export bottleneck adapters as a PEFT adapter: PEFT has no bottleneck adapters "
                        "(they are AdapterHub's). Export in ptune's format instead (--format ptune).");
        throw Error("cannot export a " + method + " run as a PEFT adapter: PEFT's adapters hold a method's own weights, "
                    "and this run has none" + std::string(method == "full" ? " (it changed every weight of the model)" : "") +
                    ". Export in ptune's format instead (--format ptune).");
    }
    if (task_type == "SEQ_CLS" && !model.pooler_from_checkpoint())
        throw Error(std::string("cannot export as a PEFT adapter: ") + kRandomPoolerNoPeft +
                    ". Export in ptune's format instead (--format ptune).");
    const ModelConfig& cfg = model.config();
    auto common = [&](const std::string& peft_type) {
        json c = peft_common(peft_type, "");
        c["task_type"] = task_type;
        c["modules_to_save"] = modules_to_save.empty() ? peft_seq_cls_modules(cfg) : modules_to_save;
        return c;
    };
    const int64_t E = cfg.embedding_size > 0 ? cfg.embedding_size : cfg.hidden_size;
    at::NoGradGuard g;
    const Adaptation a = delta.adaptation(false);
    auto cpu = [](const at::Tensor& t) { return t.detach().to(at::kCPU).to(at::kFloat).contiguous().clone(); };
    PeftDelta d;
    if (method == "prompt" || method == "ptuning") {
        d.peft_type = method == "prompt" ? "PROMPT_TUNING" : "P_TUNING";
        d.input_prompt = cpu(a.input_prompt);
        const int64_t P = d.input_prompt.size(0);
        json c = common(d.peft_type);
        c.update({{"num_virtual_tokens", P},
                  {"token_dim", E},
                  {"num_transformer_submodules", 1},
                  {"num_attention_heads", cfg.num_heads},
                  {"num_layers", cfg.num_layers}});
        if (method == "prompt") {
            const std::string init = o.prompt_init == "vocab" ? "SAMPLE_VOCAB" : o.prompt_init == "text" ? "TEXT" : "RANDOM";
            c.update({{"prompt_tuning_init", init},
                      {"prompt_tuning_init_text", o.prompt_init == "text" ? json(o.prompt_init_text) : json(nullptr)},
                      // PEFT requires a tokenizer for TEXT initialisation (it is not used when loading)
                      {"tokenizer_name_or_path", o.prompt_init == "text" ? json(tokenizer_dir) : json(nullptr)},
                      {"tokenizer_kwargs", nullptr}});
        } else {
            c.update({{"encoder_reparameterization_type", o.encoder == "lstm" ? "LSTM" : "MLP"},
                      {"encoder_hidden_size", o.encoder_hidden > 0 ? o.encoder_hidden : cfg.hidden_size},
                      {"encoder_num_layers", 2},
                      {"encoder_dropout", 0.0}});
            d.notes.push_back("P_TUNING: the file holds the prompt encoder's output, as PEFT saves it and uses it in "
                              "inference mode; the encoder's weights are in ptune's format only");
        }
        d.config = c;
        return d;
    }
    d.peft_type = method == "lora" ? "LORA" : "IA3";
    d.layers.resize(a.layers.size());
    std::vector<Site> sites, ff;
    for (size_t l = 0; l < a.layers.size(); ++l)
        for (int s = 0; s < kSites; ++s) {
            const LinearDelta& x = a.layers[l][(size_t)s];
            LinearDelta& y = d.layers[l][(size_t)s];
            if (x.lora_A.defined()) {
                y.lora_A = cpu(x.lora_A);
                y.lora_B = cpu(x.lora_B);
                y.lora_scaling = x.lora_scaling;
                y.lora_dropout = x.lora_dropout;
            }
            if (x.ia3_out.defined()) y.ia3_out = cpu(x.ia3_out);
            if (x.ia3_in.defined()) y.ia3_in = cpu(x.ia3_in);
            if (l == 0 && !x.empty()) sites.push_back((Site)s);
            if (l == 0 && x.ia3_in.defined()) ff.push_back((Site)s);
        }
    json c = common(d.peft_type);
    c["fan_in_fan_out"] = false;
    if (method == "lora") {
        c.update({{"layers_to_transform", nullptr},
                  {"layers_pattern", nullptr},
                  {"r", o.lora_r},
                  {"lora_alpha", number_json(o.lora_alpha)},
                  {"lora_dropout", o.lora_dropout},
                  {"use_rslora", o.rslora},
                  {"bias", "none"},
                  {"init_lora_weights", true},
                  {"use_dora", false},
                  {"rank_pattern", json::object()},
                  {"alpha_pattern", json::object()}});
        c.update(peft_module_fields(sites, nullptr, *cfg.family));
    } else {
        c["init_ia3_weights"] = true;
        c.update(peft_module_fields(sites, &ff, *cfg.family));
    }
    d.config = c;
    return d;
}

void export_peft_delta(const std::string& dir, const PeftDelta& d, const EncoderClassifier& model,
                       const std::string& base_model) {
    std::vector<std::pair<std::string, at::Tensor>> head;
    for (auto& [n, t] : model.head_parameters()) head.push_back({n, t});
    export_peft_delta(dir, d, head, model.config(), base_model);
}

void export_peft_delta(const std::string& dir, const PeftDelta& d,
                       const std::vector<std::pair<std::string, at::Tensor>>& head, const ModelConfig& cfg,
                       const std::string& base_model) {
    if (d.config.empty()) throw Error("export_peft_delta: the adapter has no PEFT configuration to write");
    auto save_head = [&head](const std::string& prefix) {
        std::vector<std::pair<std::string, at::Tensor>> v;
        for (auto& [n, t] : head) v.push_back({prefix + n, t.detach().to(at::kCPU).to(at::kFloat).contiguous()});
        return v;
    };
    fs::create_directories(dir);
    json c = d.config;
    if (!base_model.empty()) c["base_model_name_or_path"] = base_model == "builtin" ? json(nullptr) : json(base_model);
    write_json_file((fs::path(dir) / "adapter_config.json").string(), c);
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    if (d.input_prompt.defined()) {
        // Prompt learning: PEFT names the head under base_model. and the prompts at the top level.
        tensors = save_head("base_model.");
        tensors.push_back({"prompt_embeddings", d.input_prompt.detach().to(at::kCPU).to(at::kFloat).contiguous()});
    } else {
        // LoRA / IA3 wrap the whole model: base_model.model.<model's own names>.
        tensors = save_head("base_model.model.");
        const std::string root = "base_model.model." + cfg.weight_prefix() + cfg.family->layers_path();
        for (size_t l = 0; l < d.layers.size(); ++l)
            for (int s = 0; s < kSites; ++s) {
                const LinearDelta& ld = d.layers[l][(size_t)s];
                const std::string base = root + std::to_string(l) + "." + cfg.family->layer_module(site_name((Site)s));
                auto cpu = [](const at::Tensor& t) { return t.detach().to(at::kCPU).to(at::kFloat).contiguous(); };
                if (ld.lora_A.defined()) {
                    tensors.push_back({base + ".lora_A.weight", cpu(ld.lora_A)});
                    tensors.push_back({base + ".lora_B.weight", cpu(ld.lora_B)});
                }
                if (ld.ia3_out.defined()) tensors.push_back({base + ".ia3_l", cpu(ld.ia3_out).view({-1, 1})});
                if (ld.ia3_in.defined()) tensors.push_back({base + ".ia3_l", cpu(ld.ia3_in).view({1, -1})});
            }
    }
    save_tensors((fs::path(dir) / "adapter_model.safetensors").string(), tensors);
}

void export_ptune(const std::string& dir, const DeepPrompt& prompt, const EncoderClassifier& model,
                  const std::vector<std::string>& label_names, const std::string& base_model) {
    const ModelConfig& cfg = model.config();
    fs::create_directories(dir);
    const auto& o = prompt.options();
    json c = {
        {"format", "ptune-adapter"},
        {"version", 1},
        {"method", o.mlp ? "prefix-mlp" : "ptv2"},
        {"base_model", base_model},
        {"model_type", cfg.model_type},
        {"hidden_size", cfg.hidden_size},
        {"num_layers", cfg.num_layers},
        {"num_attention_heads", cfg.num_heads},
        {"prompt_len", o.prompt_len},
        {"layers", o.layers.text},
        {"layer_indices", prompt.layers()},
        {"mlp", o.mlp},
        {"mlp_hidden", o.mlp_hidden},
        {"prefix_dropout", o.dropout},
        {"init", init_name(o.init)},
        {"init_std", o.init_std},
        {"num_labels", model.num_labels()},
        {"labels", label_names},
    };
    write_json_file((fs::path(dir) / "ptune_adapter.json").string(), c);
    auto tensors = head_for_save(model, "head.");
    for (auto& [n, t] : prompt.parameters()) tensors.push_back({"prompt." + n, t.detach().to(at::kCPU)});
    if (!model.pooler_from_checkpoint())
        for (auto& [n, t] : model.pooler_parameters()) tensors.push_back({"base." + n, t.detach().to(at::kCPU)});
    save_tensors((fs::path(dir) / "ptune_adapter.safetensors").string(), tensors);
}

PromptAdapter load_decoder_prefix(const std::string& dir, const PrefixGeometry& g) {
    PeftAdapter a = PeftAdapter::load(dir);
    const std::string where = a.dir + "/adapter_config.json";
    if (a.peft_type != "PREFIX_TUNING")
        throw Error(where + ": peft_type " + a.peft_type +
                    " on a decoder is not supported yet (ptune reads PREFIX_TUNING adapters of causal LMs)");
    if (a.task_type != "CAUSAL_LM")
        throw Error(where + ": task_type " + a.task_type + ": this adapter was made for another task than causal "
                    "language modelling (CAUSAL_LM)");
    return prompt_adapter_from_peft(a, g);
}

std::unique_ptr<DeepPrompt> ptune_prompt_from(const json& c, const std::string& where,
                                              const std::map<std::string, at::Tensor>& tensors,
                                              const std::string& tensors_file, const ModelConfig& cfg) {
    PrefixOptions o;
    o.prompt_len = get_field<int64_t>(c, "prompt_len", where);
    o.layers = LayerSpec{get_field<std::string>(c, "layers", where)};
    o.mlp = get_field_or<bool>(c, "mlp", false, where);
    o.mlp_hidden = get_field_or<int64_t>(c, "mlp_hidden", 512, where);
    o.dropout = get_field_or<double>(c, "prefix_dropout", 0.0, where);
    o.init = init_from_name(get_field_or<std::string>(c, "init", "normal", where));
    o.init_std = get_field_or<double>(c, "init_std", 1.0, where);
    auto prompt = std::make_unique<DeepPrompt>(cfg, o, 0);
    for (auto& [n, t] : prompt->parameters()) {
        auto it = tensors.find("prompt." + n);
        if (it == tensors.end()) throw Error(tensors_file + ": missing tensor \"prompt." + n + "\"");
        prompt->set_parameter(n, it->second);
    }
    return prompt;
}

PromptAdapter load_prompt_adapter(const std::string& dir, const ModelConfig& cfg) {
    if (fs::exists(fs::path(dir) / "ptune_adapter.json")) {
        std::string where = (fs::path(dir) / "ptune_adapter.json").string();
        json c = read_json_file(where);
        if (get_field<std::string>(c, "format", where) != "ptune-adapter")
            throw Error(where + ": field \"format\" is not \"ptune-adapter\"");
        if (const std::string task = get_field_or<std::string>(c, "task", "seq-cls", where); task != "seq-cls")
            throw Error(where + ": this adapter was trained for task " + task + ", not sequence classification");
        int64_t L = get_field<int64_t>(c, "num_layers", where), H = get_field<int64_t>(c, "hidden_size", where);
        if (L != cfg.num_layers || H != cfg.hidden_size) {
            throw Error(where + ": made for a model with " + std::to_string(L) + " layers and hidden size " +
                        std::to_string(H) + "; this model has " + std::to_string(cfg.num_layers) + " and " +
                        std::to_string(cfg.hidden_size));
        }
        PromptAdapter out;
        auto tensors = load_all((fs::path(dir) / "ptune_adapter.safetensors").string());
        out.prompt = ptune_prompt_from(c, where, tensors, dir + "/ptune_adapter.safetensors", cfg);
        for (auto& [n, t] : tensors) {
            if (n.rfind("head.", 0) == 0) out.head[n.substr(5)] = t;
            if (n.rfind("base.", 0) == 0) out.base[n.substr(5)] = t;
        }
        out.label_names = get_field_or<std::vector<std::string>>(c, "labels", {}, where);
        out.base_model = get_field_or<std::string>(c, "base_model", "", where);
        return out;
    }
    PeftAdapter a = PeftAdapter::load(dir);
    if (a.task_type == "TOKEN_CLS" || a.task_type == "QUESTION_ANS" || a.task_type == "CAUSAL_LM")
        throw Error(a.dir + "/adapter_config.json: task_type " + a.task_type +
                    ": this adapter was made for another task than sequence classification (SEQ_CLS)");
    PromptAdapter out = prompt_adapter_from_peft(a, cfg);
    out.label_names = read_peft_labels(dir);
    return out;
}

std::vector<std::string> read_peft_labels(const std::string& dir) {
    std::vector<std::string> names;
    const std::string labels = (fs::path(dir) / "ptune_labels.json").string();
    if (!fs::exists(labels)) return names;
    json j = read_json_file(labels);
    if (j.contains("id2label") && j["id2label"].is_object()) {
        names.assign(j["id2label"].size(), "");
        for (auto it = j["id2label"].begin(); it != j["id2label"].end(); ++it) {
            size_t k = 0;
            try {
                k = std::stoul(it.key());
            } catch (const std::exception&) {
                throw Error(labels + ": id2label: key \"" + it.key() + "\" is not a label number");
            }
            if (k < names.size() && it.value().is_string()) names[k] = it.value().get<std::string>();
        }
    }
    return names;
}

void apply_base(EncoderClassifier& model, const std::map<std::string, at::Tensor>& base) {
    for (auto& [n, t] : base) model.set_pooler_tensor(n, t);
}

void apply_head(EncoderClassifier& model, const std::map<std::string, at::Tensor>& head) {
    for (auto& [n, t] : model.head_parameters()) {
        auto it = head.find(n);
        if (it == head.end()) throw Error("the adapter has no head tensor \"" + n + "\"");
        model.set_head_tensor(n, it->second);
    }
}

}  // namespace ptune
