#include "core/engine/encoder_head.h"

#include <filesystem>
#include <numeric>

#include "core/engine/peft_io.h"
#include "core/engine/tensor_io.h"

namespace ptune {

namespace fs = std::filesystem;

namespace {
std::string dims(const at::Tensor& t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "]";
}
}  // namespace

EncoderHead::EncoderHead(EncoderClassifier& model, DeepPrompt* prompt, DeltaMethod* method, const std::string& name,
                         int64_t outputs, double dropout, const TrainOptions& opt, int64_t pad_id, TrainEvents* events,
                         const CancelFlag* cancel)
    : model_(model), prompt_(prompt), method_(method), opt_(opt), pad_id_(pad_id), events_(events), cancel_(cancel),
      name_(name), dropout_(dropout) {
    opt_.validate();
    if (outputs < 1) throw Error("the " + name + " head needs at least one output");
    device_ = resolve_device(opt_.device);
    model_.to(device_);
    if (prompt_) prompt_->to(device_);
    if (method_) method_->to(device_);
    const ModelConfig& c = model_.config();
    at::manual_seed(opt_.seed);
    head_.weight = (at::randn({outputs, c.hidden_size}) * c.initializer_range).to(device_).requires_grad_(true);
    head_.bias = at::zeros({outputs}).to(device_).requires_grad_(true);
}

std::vector<std::pair<std::string, at::Tensor>> EncoderHead::head_parameters() const {
    return {{name_ + ".weight", head_.weight}, {name_ + ".bias", head_.bias}};
}

void EncoderHead::set_head_tensor(const std::string& n, const at::Tensor& value) {
    at::Tensor* t = n == name_ + ".weight" ? &head_.weight : n == name_ + ".bias" ? &head_.bias : nullptr;
    if (!t) throw Error("the " + name_ + " head has no tensor \"" + n + "\"");
    if (t->sizes() != value.sizes())
        throw Error("the " + name_ + " head: " + n + " has shape " + dims(*t) + ", got " + dims(value));
    at::NoGradGuard g;
    t->copy_(value.to(t->device(), t->scalar_type()));
}

at::Tensor EncoderHead::head_logits(const std::vector<std::vector<int64_t>>& ids,
                                    const std::vector<std::vector<int64_t>>& type_ids, bool training) const {
    at::Tensor h = encode_rows(ids, type_ids, training);
    if (dropout_ > 0) h = at::dropout(h, dropout_, training);
    return head_(h);
}

at::Tensor EncoderHead::encode_rows(const std::vector<std::vector<int64_t>>& ids,
                                    const std::vector<std::vector<int64_t>>& type_ids, bool training) const {
    Batch b = make_batch(ids, pad_id_, type_ids);
    const int64_t n = b.input_ids.size(1);
    b.input_ids = b.input_ids.to(device_);
    b.attention_mask = b.attention_mask.to(device_);
    if (b.token_type_ids.defined()) b.token_type_ids = b.token_type_ids.to(device_);
    Adaptation a = method_ ? method_->adaptation(training) : Adaptation{};
    PrefixKV kv;
    if (prompt_) {
        kv = prompt_->prefix(training);
        a.prefix = &kv;
    }
    at::Tensor h = model_.encode(b, a, training);
    if (h.size(1) > n) h = h.narrow(1, h.size(1) - n, n);   // virtual tokens come first
    return h.to(at::kFloat);
}

double EncoderHead::mean_loss(size_t n,
                              const std::function<at::Tensor(const std::vector<size_t>&, size_t, size_t)>& batch_loss) const {
    if (n == 0) return 0;
    at::NoGradGuard g;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    const size_t bs = (size_t)opt_.batch_size;
    double sum = 0;
    for (size_t b = 0; b < n; b += bs) {
        const size_t e = std::min(n, b + bs);
        sum += batch_loss(order, b, e).item<double>() * (double)(e - b);
    }
    return sum / (double)n;
}

LoopHooks EncoderHead::hooks() {
    LoopHooks h;
    if (prompt_)
        for (auto& [n, t] : prompt_->parameters()) h.params.push_back(t);
    if (method_)
        for (auto& [n, t] : method_->parameters()) h.params.push_back(t);
    for (auto& [n, t] : model_.backbone_parameters())
        if (t.requires_grad()) h.params.push_back(t);
    h.params.push_back(head_.weight);
    h.params.push_back(head_.bias);
    h.prompt = prompt_;
    h.snapshot = [this] {
        std::vector<std::pair<std::string, at::Tensor>> s;
        if (prompt_)
            for (auto& [n, t] : prompt_->parameters()) s.push_back({"prompt." + n, t.detach().to(at::kCPU).clone()});
        if (method_)
            for (auto& [n, t] : method_->parameters()) s.push_back({"method." + n, t.detach().to(at::kCPU).clone()});
        for (auto& [n, t] : head_parameters()) s.push_back({"head." + n, t.detach().to(at::kCPU).clone()});
        for (auto& [n, t] : model_.backbone_parameters())
            if (t.requires_grad()) s.push_back({"backbone." + n, t.detach().to(at::kCPU).clone()});
        return s;
    };
    h.restore = [this](const std::vector<std::pair<std::string, at::Tensor>>& state) {
        at::NoGradGuard g;
        for (auto& [n, t] : state) {
            if (n.rfind("prompt.", 0) == 0 && prompt_) prompt_->set_parameter(n.substr(7), t);
            else if (n.rfind("method.", 0) == 0 && method_) method_->set_parameter(n.substr(7), t);
            else if (n.rfind("head.", 0) == 0) set_head_tensor(n.substr(5), t);
            else if (n.rfind("backbone.", 0) == 0)
                for (auto& [bn, bt] : model_.backbone_parameters())
                    if (bn == n.substr(9)) bt.copy_(t.to(bt.device()));
        }
    };
    return h;
}

std::string EncoderHead::method_name() const {
    if (prompt_) return prompt_->options().mlp ? "prefix-mlp" : "ptv2";
    if (method_) return method_->kind();
    for (auto& [n, t] : model_.backbone_parameters())
        if (t.requires_grad()) return "full";
    return "head";
}

int64_t EncoderHead::trainable_param_count() const {
    int64_t n = head_param_count();
    if (prompt_) n += prompt_->param_count();
    if (method_) n += method_->param_count();
    for (auto& [bn, t] : model_.backbone_parameters())
        if (t.requires_grad()) n += t.numel();
    return n;
}

namespace {
at::Tensor cpu_float(const at::Tensor& t) { return t.detach().to(at::kCPU).to(at::kFloat).contiguous(); }
}  // namespace

void write_head_adapter(const std::string& dir, const HeadAdapterKind& kind, const EncoderHead& head,
                        const DeltaOptions& options, const json& extra, const std::string& base_model,
                        const std::vector<std::string>* peft_labels, std::string* why_no_peft) {
    fs::create_directories(dir);
    const DeepPrompt* prompt = head.prompt();
    const DeltaMethod* delta = head.method();
    const ModelConfig& cfg = head.model().config();
    const std::string method = head.method_name();
    std::vector<std::pair<std::string, at::Tensor>> tensors_of_head;
    {
        at::NoGradGuard g;
        for (auto& [n, t] : head.head_parameters()) tensors_of_head.push_back({n, cpu_float(t)});
    }
    json c = {{"format", "ptune-adapter"},
              {"version", 1},
              {"task", kind.task},
              {"method", method},
              {"base_model", base_model},
              {"model_type", cfg.model_type},
              {"hidden_size", cfg.hidden_size},
              {"num_layers", cfg.num_layers},
              {"num_attention_heads", cfg.num_heads}};
    for (auto it = extra.begin(); it != extra.end(); ++it) c[it.key()] = it.value();
    if (prompt) {
        const auto& o = prompt->options();
        c["prompt_len"] = o.prompt_len;
        c["layers"] = o.layers.text;
        c["layer_indices"] = prompt->layers();
        c["mlp"] = o.mlp;
        c["mlp_hidden"] = o.mlp_hidden;
        c["prefix_dropout"] = o.dropout;
        c["init"] = init_name(o.init);
        c["init_std"] = o.init_std;
    }
    if (delta) {
        c["prompt_len"] = delta->virtual_tokens();
        c["options"] = delta_options_to_json(method, options);
    }
    write_json_file((fs::path(dir) / "ptune_adapter.json").string(), c);
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    {
        at::NoGradGuard g;
        for (auto& [n, t] : tensors_of_head) tensors.push_back({"head." + n, t});
        if (prompt)
            for (auto& [n, t] : prompt->parameters()) tensors.push_back({"prompt." + n, cpu_float(t)});
        if (delta)
            for (auto& [n, t] : delta->parameters()) tensors.push_back({"method." + n, cpu_float(t)});
        if (method == "full")
            for (auto& [n, t] : head.model().backbone_parameters()) tensors.push_back({"backbone." + n, cpu_float(t)});
    }
    save_tensors((fs::path(dir) / "ptune_adapter.safetensors").string(), tensors);

    // PEFT's form, where it has one.
    std::string why;
    if (kind.peft_task_type.empty())
        why = "PEFT has no task type for " + kind.title;
    else if (prompt && (int64_t)prompt->layers().size() != cfg.num_layers)
        why = "the prefix is not in every layer (PEFT's PREFIX_TUNING puts one in each)";
    else if (prompt && !cfg.family->peft_prefix_refusal().empty())
        why = cfg.family->peft_prefix_refusal();
    else if (!prompt && !(delta && peft_can_express(method)))
        why = method == "adapter" ? "PEFT has no bottleneck adapters (they are AdapterHub's)"
              : method == "full"  ? "PEFT's adapters hold a method's own weights, and full fine-tuning changed every weight"
                                  : "PEFT has no adapter type for a head trained alone";
    if (!why.empty()) {
        for (const char* f : {"adapter_config.json", "adapter_model.safetensors", "ptune_labels.json"})
            fs::remove(fs::path(dir) / f);
        if (why_no_peft) *why_no_peft = why;
        return;
    }
    if (prompt) {
        json pc = peft_prefix_config(cfg, prompt->options(), kind.peft_task_type, base_model);
        pc["modules_to_save"] = kind.peft_modules;
        write_json_file((fs::path(dir) / "adapter_config.json").string(), pc);
        std::vector<std::pair<std::string, at::Tensor>> pt;
        for (auto& [n, t] : tensors_of_head) pt.push_back({"base_model." + n, t});
        {
            at::NoGradGuard g;
            pt.push_back({"prompt_embeddings", cpu_float(prompt->flat())});
        }
        save_tensors((fs::path(dir) / "adapter_model.safetensors").string(), pt);
    } else {
        // PROMPT_TUNING's text initialisation records a tokenizer (PEFT requires one): the base model's.
        const PeftDelta d = peft_delta_of(method, options, *delta, head.model(), base_model, kind.peft_task_type,
                                          kind.peft_modules);
        export_peft_delta(dir, d, tensors_of_head, cfg, base_model);
    }
    if (peft_labels) write_peft_labels(dir, *peft_labels);
    else fs::remove(fs::path(dir) / "ptune_labels.json");
}

int64_t HeadAdapter::positions_taken() const {
    return prompt ? prompt->prompt_len() : delta ? delta->virtual_tokens() : 0;
}

void HeadAdapter::apply_backbone(EncoderClassifier& model) const {
    load_backbone(model, backbone, where + ": full fine-tuning adapter");
}

namespace {

// A PEFT LORA, IA3, PROMPT_TUNING or P_TUNING adapter as the method that computes the same: its options read
// from the adapter's tensors and configuration. P_TUNING files hold the prompt encoder's output only: prompt tuning
// with those prompts computes the same (noted).
void method_from_peft(const PeftAdapter& a, const ModelConfig& cfg, HeadAdapter& out) {
    PeftDelta d = peft_delta_from(a, cfg);
    for (auto& n : d.notes) out.notes.push_back(n);
    const std::map<std::string, at::Tensor> have = delta_parameters_of(d);
    DeltaOptions& o = out.options;
    if (d.input_prompt.defined()) {
        out.method = "prompt";
        out.prompt_len = d.input_prompt.size(0);
        if (a.peft_type == "P_TUNING")
            out.notes.push_back("P_TUNING: read as prompt tuning with the prompt encoder's saved output (what PEFT "
                                "uses in inference mode)");
    } else {
        out.method = a.peft_type == "LORA" ? "lora" : "ia3";
        o.target_modules.clear();
        o.feedforward_modules.clear();
        for (int si = 0; si < kSites && !d.layers.empty(); ++si) {
            const LinearDelta& x = d.layers[0][(size_t)si];
            if (x.empty()) continue;
            // The names DeltaOptions takes: query, key, value or the module's full name.
            const Site site = (Site)si;
            const std::string name = site == Site::Query ? "query" : site == Site::Key ? "key"
                                     : site == Site::Value ? "value" : site_name(site);
            o.target_modules.push_back(name);
            if (x.ia3_in.defined()) o.feedforward_modules.push_back(name);
            if (x.lora_A.defined()) {
                o.lora_r = x.lora_A.size(0);
                o.lora_alpha = get_field<double>(a.config, "lora_alpha", a.dir + "/adapter_config.json");
                o.rslora = get_field_or<bool>(a.config, "use_rslora", false, a.dir + "/adapter_config.json");
                o.lora_dropout = x.lora_dropout;
            }
        }
    }
    out.delta = make_method_shape(out.method, cfg, out.prompt_len, o);
    for (auto& [n, t] : out.delta->parameters()) {
        auto it = have.find(n);
        if (it == have.end() || it->second.sizes() != t.sizes())
            throw Error(a.dir + "/adapter_model.safetensors: the " + a.peft_type + " adapter's tensors are not in "
                        "every layer alike (ptune reads one set of modules for all layers)");
        out.delta->set_parameter(n, it->second);
    }
    if (have.size() != out.delta->parameters().size())
        throw Error(a.dir + "/adapter_model.safetensors: the " + a.peft_type + " adapter's tensors are not in every "
                    "layer alike (ptune reads one set of modules for all layers)");
    out.head = std::move(d.head);
    out.base_model = get_field_or<std::string>(a.config, "base_model_name_or_path", "", a.dir + "/adapter_config.json");
}

}  // namespace

bool is_head_adapter_dir(const std::string& dir, const HeadAdapterKind& kind) {
    try {
        const fs::path p = fs::path(dir) / "ptune_adapter.json";
        if (fs::exists(p)) {
            json c = read_json_file(p.string());
            return c.is_object() && c.value("task", std::string()) == kind.task;
        }
        const fs::path q = fs::path(dir) / "adapter_config.json";
        if (!kind.peft_task_type.empty() && fs::exists(q)) {
            json c = read_json_file(q.string());
            return c.is_object() && c.value("task_type", std::string()) == kind.peft_task_type;
        }
    } catch (const std::exception&) {
    }
    return false;
}

HeadAdapter read_head_adapter(const std::string& dir, const HeadAdapterKind& kind, const ModelConfig& cfg,
                              const std::string& head_name, int64_t outputs) {
    HeadAdapter out;
    const std::string ptune_json = (fs::path(dir) / "ptune_adapter.json").string();
    if (fs::exists(ptune_json)) {
        const std::string& where = ptune_json;
        out.where = where;
        out.config = read_json_file(where);
        const json& c = out.config;
        if (get_field<std::string>(c, "format", where) != "ptune-adapter")
            throw Error(where + ": field \"format\" is not \"ptune-adapter\"");
        const std::string task = get_field_or<std::string>(c, "task", "seq-cls", where);
        if (task != kind.task)
            throw Error(where + ": this adapter was trained for task " + task + ", not " + kind.task);
        const int64_t L = get_field<int64_t>(c, "num_layers", where), H = get_field<int64_t>(c, "hidden_size", where);
        if (L != cfg.num_layers || H != cfg.hidden_size)
            throw Error(where + ": made for a model with " + std::to_string(L) + " layers and hidden size " +
                        std::to_string(H) + "; this model has " + std::to_string(cfg.num_layers) + " and " +
                        std::to_string(cfg.hidden_size));
        const std::string method = get_field<std::string>(c, "method", where);
        const std::string file = (fs::path(dir) / "ptune_adapter.safetensors").string();
        auto tensors = load_all(file);
        out.method = method;
        if (method == "ptv2" || method == "prefix-mlp") {
            out.prompt = ptune_prompt_from(c, where, tensors, file, cfg);
        } else if (method == "prompt" || method == "ptuning" || method == "lora" || method == "ia3" ||
                   method == "adapter") {
            out.prompt_len = get_field_or<int64_t>(c, "prompt_len", 0, where);
            out.options = delta_options_from_json(c.value("options", json::object()), where + ": options");
            out.delta = make_method_shape(method, cfg, out.prompt_len, out.options);
            for (auto& [n, t] : out.delta->parameters()) {
                auto it = tensors.find("method." + n);
                if (it == tensors.end())
                    throw Error(file + ": no tensor method." + n + " (the " + method + " adapter is incomplete)");
                if (it->second.sizes() != t.sizes())
                    throw Error(file + ": tensor method." + n + " has shape " + dims(it->second) + "; the options in " +
                                where + " make it " + dims(t));
                out.delta->set_parameter(n, it->second);
            }
        } else if (method != "head" && method != "full") {
            throw Error(where + ": method \"" + method + "\" for " + kind.title +
                        ": ptune reads ptv2, prefix-mlp, prompt, ptuning, lora, ia3, adapter, full and head");
        }
        for (auto& [n, t] : tensors) {
            if (n.rfind("head.", 0) == 0) out.head[n.substr(5)] = t;
            if (n.rfind("backbone.", 0) == 0) out.backbone[n.substr(9)] = t;
        }
        if (method == "full" && out.backbone.empty())
            throw Error(file + ": a full fine-tuning adapter without backbone.* tensors");
        out.base_model = get_field_or<std::string>(c, "base_model", "", where);
    } else if (kind.peft_task_type.empty()) {
        throw Error(dir + ": no ptune_adapter.json; a " + kind.title + " adapter is saved in ptune's format only (PEFT "
                    "has no task type for it)");
    } else {
        PeftAdapter a = PeftAdapter::load(dir);
        out.where = a.dir + "/adapter_config.json";
        if (a.task_type != kind.peft_task_type)
            throw Error(out.where + ": task_type " + a.task_type + ": this adapter was made for another task than " +
                        kind.title + " (" + kind.peft_task_type + ")");
        if (a.peft_type == "PREFIX_TUNING") {
            PromptAdapter p = prompt_adapter_from_peft(a, cfg);
            out.method = "ptv2";
            out.prompt = std::move(p.prompt);
            out.head = std::move(p.head);
            out.notes = std::move(p.notes);
            out.base_model = p.base_model;
        } else {
            method_from_peft(a, cfg, out);
        }
    }
    auto w = out.head.find(head_name + ".weight");
    auto b = out.head.find(head_name + ".bias");
    if (w == out.head.end() || b == out.head.end())
        throw Error(dir + ": the adapter has no " + kind.title + " head (" + head_name + ".weight and " + head_name +
                    ".bias)");
    if (w->second.dim() != 2 || w->second.size(1) != cfg.hidden_size || b->second.dim() != 1 ||
        b->second.size(0) != w->second.size(0) || (outputs > 0 && w->second.size(0) != outputs))
        throw Error(dir + ": the " + kind.title + " head's " + head_name + ".weight is " + dims(w->second) +
                    " and its bias " + dims(b->second) + "; this model needs [" +
                    (outputs > 0 ? std::to_string(outputs) : std::string("outputs")) + ", " +
                    std::to_string(cfg.hidden_size) + "] and [" +
                    (outputs > 0 ? std::to_string(outputs) : std::string("outputs")) + "]");
    return out;
}

}  // namespace ptune
