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

void write_head_adapter(const std::string& dir, const HeadAdapterKind& kind, const DeepPrompt* prompt,
                        const EncoderHead& head, const ModelConfig& cfg, const json& extra,
                        const std::string& base_model, const std::vector<std::string>* peft_labels) {
    fs::create_directories(dir);
    std::vector<std::pair<std::string, at::Tensor>> tensors_of_head;
    {
        at::NoGradGuard g;
        for (auto& [n, t] : head.head_parameters())
            tensors_of_head.push_back({n, t.detach().to(at::kCPU).to(at::kFloat).contiguous()});
    }
    json c = {{"format", "ptune-adapter"},
              {"version", 1},
              {"task", kind.task},
              {"method", prompt ? (prompt->options().mlp ? "prefix-mlp" : "ptv2") : "head"},
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
    write_json_file((fs::path(dir) / "ptune_adapter.json").string(), c);
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (auto& [n, t] : tensors_of_head) tensors.push_back({"head." + n, t});
    if (prompt)
        for (auto& [n, t] : prompt->parameters()) tensors.push_back({"prompt." + n, t.detach().to(at::kCPU)});
    save_tensors((fs::path(dir) / "ptune_adapter.safetensors").string(), tensors);

    const bool peft =
        !kind.peft_task_type.empty() && prompt && (int64_t)prompt->layers().size() == cfg.num_layers;
    if (!peft) {
        for (const char* f : {"adapter_config.json", "adapter_model.safetensors", "ptune_labels.json"})
            fs::remove(fs::path(dir) / f);
        return;
    }
    json pc = peft_prefix_config(cfg, prompt->options(), kind.peft_task_type, base_model);
    pc["modules_to_save"] = kind.peft_modules;
    write_json_file((fs::path(dir) / "adapter_config.json").string(), pc);
    std::vector<std::pair<std::string, at::Tensor>> pt;
    for (auto& [n, t] : tensors_of_head) pt.push_back({"base_model." + n, t});
    {
        at::NoGradGuard g;
        pt.push_back({"prompt_embeddings", prompt->flat().detach().to(at::kCPU).to(at::kFloat).contiguous()});
    }
    save_tensors((fs::path(dir) / "adapter_model.safetensors").string(), pt);
    if (peft_labels) write_peft_labels(dir, *peft_labels);
    else fs::remove(fs::path(dir) / "ptune_labels.json");
}

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
        auto tensors = load_all((fs::path(dir) / "ptune_adapter.safetensors").string());
        if (method == "ptv2" || method == "prefix-mlp") {
            out.prompt = ptune_prompt_from(c, where, tensors, dir + "/ptune_adapter.safetensors", cfg);
        } else if (method != "head") {
            throw Error(where + ": method \"" + method + "\" for " + kind.title +
                        ": ptune reads ptv2, prefix-mlp and head");
        }
        for (auto& [n, t] : tensors)
            if (n.rfind("head.", 0) == 0) out.head[n.substr(5)] = t;
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
        PromptAdapter p = prompt_adapter_from_peft(a, cfg);
        out.prompt = std::move(p.prompt);
        out.head = std::move(p.head);
        out.notes = std::move(p.notes);
        out.base_model = p.base_model;
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
