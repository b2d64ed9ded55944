#include "core/engine/methods.h"

#include <cmath>
#include <random>

#include "core/io/error.h"
#include "core/engine/tensor_io.h"

#include <filesystem>

namespace ptune {

void DeltaMethod::set_parameter(const std::string& name, const at::Tensor& value) {
    for (auto& [n, t] : parameters()) {
        if (n != name) continue;
        if (t.sizes() != value.sizes()) throw Error(kind() + ": parameter " + name + " has another shape");
        at::NoGradGuard g;
        t.copy_(value.to(t.device()).to(t.scalar_type()));
        return;
    }
    throw Error(kind() + ": no parameter " + name);
}

int64_t DeltaMethod::param_count() const {
    int64_t n = 0;
    for (auto& [name, t] : parameters()) n += t.numel();
    return n;
}

namespace {

std::pair<int64_t, int64_t> in_out(const ModelConfig& cfg, Site s) {
    if (s == Site::Intermediate) return {cfg.hidden_size, cfg.intermediate_size};
    if (s == Site::Output) return {cfg.intermediate_size, cfg.hidden_size};
    return {cfg.hidden_size, cfg.hidden_size};
}

at::Tensor trainable(at::Tensor t) { return t.set_requires_grad(true); }

// LoRA, IA3 and bottleneck adapters: per-layer LinearDelta tensors, all of them trained; the adaptation is the
// deltas themselves.
class LayerwiseDelta : public DeltaMethod {
public:
    std::vector<std::pair<std::string, at::Tensor>> parameters() const override {
        std::vector<std::pair<std::string, at::Tensor>> out;
        for (size_t l = 0; l < layers_.size(); ++l)
            for (int s = 0; s < kSites; ++s) {
                const LinearDelta& d = layers_[l][(size_t)s];
                const std::string base = "layer." + std::to_string(l) + "." + site_name((Site)s);
                if (d.lora_A.defined()) out.push_back({base + ".lora_A.weight", d.lora_A});
                if (d.lora_B.defined()) out.push_back({base + ".lora_B.weight", d.lora_B});
                if (d.ia3_out.defined()) out.push_back({base + ".ia3_out", d.ia3_out});
                if (d.ia3_in.defined()) out.push_back({base + ".ia3_in", d.ia3_in});
                if (d.has_adapter()) {
                    out.push_back({base + ".adapter_down.weight", d.adapter_down.weight});
                    out.push_back({base + ".adapter_down.bias", d.adapter_down.bias});
                    out.push_back({base + ".adapter_up.weight", d.adapter_up.weight});
                    out.push_back({base + ".adapter_up.bias", d.adapter_up.bias});
                }
            }
        return out;
    }
    Adaptation adaptation(bool) const override {
        Adaptation a;
        a.layers = layers_;
        return a;
    }
    void to(const at::Device& device) override {
        for (auto& layer : layers_)
            for (LinearDelta& d : layer)
                for (at::Tensor* t : {&d.lora_A, &d.lora_B, &d.ia3_out, &d.ia3_in, &d.adapter_down.weight, &d.adapter_down.bias,
                                      &d.adapter_up.weight, &d.adapter_up.bias})
                    if (t->defined()) *t = trainable(t->detach().to(device));
    }

protected:
    std::vector<std::array<LinearDelta, kSites>> layers_;
};

class Lora : public LayerwiseDelta {
public:
    Lora(const ModelConfig& cfg, const LoraOptions& opt, uint64_t seed) {
        if (opt.r < 1) throw Error("lora: r must be at least 1");
        if (opt.sites.empty()) throw Error("lora: choose at least one module");
        at::manual_seed(seed);
        layers_.resize((size_t)cfg.num_layers);
        for (auto& layer : layers_)
            for (Site s : opt.sites) {
                auto [in, out] = in_out(cfg, s);
                LinearDelta& d = layer[(size_t)s];
                const double bound = 1.0 / std::sqrt((double)in);   // kaiming_uniform_(a = sqrt(5)) on [r, in]
                d.lora_A = trainable(at::empty({opt.r, in}).uniform_(-bound, bound));
                d.lora_B = trainable(at::zeros({out, opt.r}));
                d.lora_scaling = opt.rslora ? opt.alpha / std::sqrt((double)opt.r) : opt.alpha / (double)opt.r;
                d.lora_dropout = opt.dropout;
            }
    }
    std::string kind() const override { return "lora"; }
};

class Ia3 : public LayerwiseDelta {
public:
    Ia3(const ModelConfig& cfg, const Ia3Options& opt) {
        if (opt.sites.empty()) throw Error("ia3: choose at least one module");
        for (Site f : opt.feedforward)
            if (std::find(opt.sites.begin(), opt.sites.end(), f) == opt.sites.end())
                throw Error(std::string("ia3: feed-forward module ") + site_name(f) + " is not among the target modules");
        layers_.resize((size_t)cfg.num_layers);
        for (auto& layer : layers_)
            for (Site s : opt.sites) {
                auto [in, out] = in_out(cfg, s);
                const bool ff = std::find(opt.feedforward.begin(), opt.feedforward.end(), s) != opt.feedforward.end();
                (ff ? layer[(size_t)s].ia3_in : layer[(size_t)s].ia3_out) = trainable(at::ones({ff ? in : out}));
            }
    }
    std::string kind() const override { return "ia3"; }
};

class BottleneckAdapter : public LayerwiseDelta {
public:
    BottleneckAdapter(const ModelConfig& cfg, const AdapterOptions& opt, uint64_t seed) {
        if (opt.sites.empty()) throw Error("adapter: choose at least one place");
        if (opt.act != "relu" && opt.act != "gelu" && opt.act != "tanh" && opt.act != "swish")
            throw Error("adapter: activation \"" + opt.act + "\": use relu, gelu, tanh or swish");
        const int64_t m = opt.size > 0 ? opt.size : std::max<int64_t>(1, cfg.hidden_size / 16);
        at::manual_seed(seed);
        layers_.resize((size_t)cfg.num_layers);
        for (auto& layer : layers_)
            for (Site s : opt.sites) {
                if (s != Site::AttnOut && s != Site::Output)
                    throw Error(std::string("adapter: ") + site_name(s) + " is not a sublayer output (use attention.output.dense or output.dense)");
                const int64_t H = in_out(cfg, s).second;
                LinearDelta& d = layer[(size_t)s];
                const double bound = 1.0 / std::sqrt((double)H);   // kaiming_uniform_(a = sqrt(5)) on [m, H]
                d.adapter_down = {trainable(at::empty({m, H}).uniform_(-bound, bound)), trainable(at::zeros({m}))};
                d.adapter_up = {trainable(at::zeros({H, m})), trainable(at::zeros({H}))};
                d.adapter_act = opt.act;
            }
    }
    std::string kind() const override { return "adapter"; }
};

class PromptTuning : public DeltaMethod {
public:
    // The shape alone (random values), for tensors read from a file.
    PromptTuning(const ModelConfig& cfg, int64_t P) {
        if (P < 1) throw Error("prompt tuning: prompt length must be at least 1");
        prompts_ = trainable(at::zeros({P, cfg.embedding_size > 0 ? cfg.embedding_size : cfg.hidden_size}));
    }
    PromptTuning(const EncoderClassifier& model, const PromptTuningOptions& opt, uint64_t seed) {
        const int64_t P = opt.prompt_len;
        if (P < 1) throw Error("prompt tuning: prompt length must be at least 1");
        at::Tensor words;
        const std::string kWords = "embeddings.word_embeddings.weight";
        for (auto& [n, t] : model.backbone_parameters())
            if (n.size() >= kWords.size() && n.compare(n.size() - kWords.size(), kWords.size(), kWords) == 0)
                words = t.detach().to(at::kCPU);
        if (!words.defined()) throw Error("prompt tuning: the model has no word embeddings");
        const int64_t V = words.size(0), E = words.size(1);
        if (opt.init == PromptInit2::Random) {
            at::manual_seed(seed);
            prompts_ = at::randn({P, E});
        } else {
            std::vector<int64_t> ids;
            if (opt.init == PromptInit2::SampleVocab) {
                std::mt19937_64 rng(seed);
                for (int64_t i = 0; i < P; ++i) ids.push_back((int64_t)(rng() % (uint64_t)V));
            } else {
                if (opt.init_token_ids.empty()) throw Error("prompt tuning: text initialisation needs a non-empty text");
                for (int64_t i = 0; i < P; ++i) ids.push_back(opt.init_token_ids[(size_t)i % opt.init_token_ids.size()]);
                for (int64_t id : ids)
                    if (id < 0 || id >= V) throw Error("prompt tuning: init token id " + std::to_string(id) + " out of range");
            }
            prompts_ = words.index_select(0, at::tensor(ids, at::kLong)).clone();
        }
        prompts_ = trainable(prompts_.to(at::kFloat));
    }
    std::string kind() const override { return "prompt"; }
    std::vector<std::pair<std::string, at::Tensor>> parameters() const override { return {{"prompt_embeddings", prompts_}}; }
    Adaptation adaptation(bool) const override {
        Adaptation a;
        a.input_prompt = prompts_;
        return a;
    }
    int64_t virtual_tokens() const override { return prompts_.size(0); }
    void to(const at::Device& device) override { prompts_ = trainable(prompts_.detach().to(device)); }

private:
    at::Tensor prompts_;
};

class PTuning : public DeltaMethod {
public:
    PTuning(const ModelConfig& cfg, const PTuningOptions& opt, uint64_t seed) : opt_(opt) {
        if (opt.prompt_len < 1) throw Error("p-tuning: prompt length must be at least 1");
        if (opt.encoder != "mlp" && opt.encoder != "lstm") throw Error("p-tuning: encoder \"" + opt.encoder + "\": use mlp or lstm");
        const int64_t E = cfg.embedding_size > 0 ? cfg.embedding_size : cfg.hidden_size;
        const int64_t h = opt.hidden > 0 ? opt.hidden : cfg.hidden_size;
        torch::manual_seed(seed);
        embedding_ = torch::nn::Embedding(torch::nn::EmbeddingOptions(opt.prompt_len, E));
        torch::nn::init::normal_(embedding_->weight);   // nn.Embedding's N(0, 1)
        if (opt.encoder == "mlp") {
            mlp_ = torch::nn::Sequential(torch::nn::Linear(E, h), torch::nn::ReLU(), torch::nn::Linear(h, h),
                                         torch::nn::ReLU(), torch::nn::Linear(h, E));
        } else {
            lstm_ = torch::nn::LSTM(torch::nn::LSTMOptions(E, h)
                                        .num_layers(opt.lstm_layers)
                                        .dropout(opt.dropout)
                                        .bidirectional(true)
                                        .batch_first(true));
            mlp_ = torch::nn::Sequential(torch::nn::Linear(2 * h, 2 * h), torch::nn::ReLU(), torch::nn::Linear(2 * h, E));
        }
    }
    std::string kind() const override { return "ptuning"; }
    std::vector<std::pair<std::string, at::Tensor>> parameters() const override {
        std::vector<std::pair<std::string, at::Tensor>> out;
        out.push_back({"embedding.weight", embedding_->weight});
        if (lstm_)
            for (auto& p : lstm_->named_parameters()) out.push_back({"lstm_head." + p.key(), p.value()});
        for (auto& p : mlp_->named_parameters()) out.push_back({"mlp_head." + p.key(), p.value()});
        return out;
    }
    Adaptation adaptation(bool training) const override {
        // The encoder's output is the prompt; PEFT's PromptEncoder.forward on indices 0..P-1.
        embedding_->train(training);
        mlp_->train(training);
        at::Tensor x = embedding_->weight;
        if (lstm_) {
            lstm_->train(training);
            x = std::get<0>(lstm_->forward(x.unsqueeze(0))).squeeze(0);
        }
        Adaptation a;
        a.input_prompt = mlp_->forward(x);
        return a;
    }
    int64_t virtual_tokens() const override { return opt_.prompt_len; }
    void to(const at::Device& device) override {
        embedding_->to(device);
        if (lstm_) lstm_->to(device);
        mlp_->to(device);
    }

private:
    PTuningOptions opt_;
    // mutable: train()/eval() mode switches inside the const adaptation() (the weights do not change there)
    mutable torch::nn::Embedding embedding_{nullptr};
    mutable torch::nn::LSTM lstm_{nullptr};
    mutable torch::nn::Sequential mlp_{nullptr};
};

}  // namespace

std::unique_ptr<DeltaMethod> make_lora(const ModelConfig& cfg, const LoraOptions& opt, uint64_t seed) {
    return std::make_unique<Lora>(cfg, opt, seed);
}
std::unique_ptr<DeltaMethod> make_ia3(const ModelConfig& cfg, const Ia3Options& opt) { return std::make_unique<Ia3>(cfg, opt); }
std::unique_ptr<DeltaMethod> make_adapter(const ModelConfig& cfg, const AdapterOptions& opt, uint64_t seed) {
    return std::make_unique<BottleneckAdapter>(cfg, opt, seed);
}
std::unique_ptr<DeltaMethod> make_prompt_tuning(const EncoderClassifier& model, const PromptTuningOptions& opt, uint64_t seed) {
    return std::make_unique<PromptTuning>(model, opt, seed);
}
std::unique_ptr<DeltaMethod> make_ptuning(const ModelConfig& cfg, const PTuningOptions& opt, uint64_t seed) {
    return std::make_unique<PTuning>(cfg, opt, seed);
}

Site site_from_module(const std::string& given) {
    const std::string name = canonical_module(given);
    for (int s = 0; s < kSites; ++s)
        if (name == site_name((Site)s)) return (Site)s;
    if (name == "query") return Site::Query;
    if (name == "key") return Site::Key;
    if (name == "value") return Site::Value;
    throw Error("module \"" + given + "\": use query, key, value, attention.output.dense, intermediate.dense or output.dense");
}

namespace {
std::unique_ptr<DeltaMethod> make_method_of(const std::string& name, const ModelConfig& cfg, const EncoderClassifier* model,
                                            int64_t prompt_len, const DeltaOptions& d, const std::vector<int64_t>& text_ids,
                                            uint64_t seed) {
    d.validate(name);
    if (name == "prompt" && !model) return std::make_unique<PromptTuning>(cfg, prompt_len);
    if (name == "prompt") {
        PromptTuningOptions o;
        o.prompt_len = prompt_len;
        o.init = d.prompt_init == "vocab" ? PromptInit2::SampleVocab : d.prompt_init == "text" ? PromptInit2::Text : PromptInit2::Random;
        o.init_token_ids = text_ids;
        return make_prompt_tuning(*model, o, seed);
    }
    if (name == "ptuning") {
        PTuningOptions o;
        o.prompt_len = prompt_len;
        o.encoder = d.encoder;
        o.hidden = d.encoder_hidden;
        return make_ptuning(cfg, o, seed);
    }
    if (name == "lora") {
        LoraOptions o;
        o.r = d.lora_r;
        o.alpha = d.lora_alpha;
        o.dropout = d.lora_dropout;
        o.rslora = d.rslora;
        if (!d.target_modules.empty()) {
            o.sites.clear();
            for (auto& m : d.target_modules) o.sites.push_back(site_from_module(m));
        }
        return make_lora(cfg, o, seed);
    }
    if (name == "ia3") {
        Ia3Options o;
        if (!d.target_modules.empty()) {
            o.sites.clear();
            for (auto& m : d.target_modules) o.sites.push_back(site_from_module(m));
            o.feedforward.clear();
            for (Site s : o.sites)
                if (s == Site::AttnOut || s == Site::Output) o.feedforward.push_back(s);
        }
        if (!d.feedforward_modules.empty()) {
            o.feedforward.clear();
            for (auto& m : d.feedforward_modules) o.feedforward.push_back(site_from_module(m));
        }
        return make_ia3(cfg, o);
    }
    if (name == "adapter") {
        AdapterOptions o;
        o.size = d.adapter_size;
        o.act = d.adapter_act;
        if (d.adapter_placement == "pfeiffer") o.sites = {Site::Output};
        return make_adapter(cfg, o, seed);
    }
    throw Error("method \"" + name + "\" has no method object (ptv2 uses DeepPrompt; full and head none)");
}
}  // namespace

std::unique_ptr<DeltaMethod> make_method(const std::string& name, const EncoderClassifier& model, int64_t prompt_len,
                                         const DeltaOptions& d, const std::vector<int64_t>& text_ids, uint64_t seed) {
    return make_method_of(name, model.config(), &model, prompt_len, d, text_ids, seed);
}

std::unique_ptr<DeltaMethod> make_method_shape(const std::string& name, const ModelConfig& cfg, int64_t prompt_len,
                                               const DeltaOptions& d) {
    DeltaOptions o = d;
    if (o.prompt_init == "text") o.prompt_init = "random";
    return make_method_of(name, cfg, nullptr, prompt_len, o, {}, 0);
}

namespace fs = std::filesystem;

void export_method(const std::string& dir, const std::string& method, int64_t prompt_len, const DeltaOptions& options,
                   const DeltaMethod* delta, const EncoderClassifier& model, const std::vector<std::string>& label_names,
                   const std::string& base_model) {
    fs::create_directories(dir);
    // Files of another format left by an earlier run in this directory would load something else: removed.
    for (const char* f : {"adapter_config.json", "adapter_model.safetensors", "ptune_labels.json"}) fs::remove(fs::path(dir) / f);
    json c = {{"format", "ptune-method"},      {"method", method},
              {"prompt_len", prompt_len},      {"options", delta_options_to_json(method, options)},
              {"label_names", label_names},    {"base_model", base_model},
              {"model_type", model.config().model_type}};
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    auto cpu = [](const at::Tensor& t) { return t.detach().to(at::kCPU).to(at::kFloat).contiguous(); };
    if (delta)
        for (auto& [n, t] : delta->parameters()) tensors.push_back({"method." + n, cpu(t)});
    for (auto& [n, t] : model.head_parameters()) tensors.push_back({"head." + n, cpu(t)});
    if (method == "full")
        for (auto& [n, t] : model.backbone_parameters()) tensors.push_back({"backbone." + n, cpu(t)});
    save_tensors((fs::path(dir) / "ptune_adapter.safetensors").string(), tensors);
    write_json_file((fs::path(dir) / "ptune_adapter.json").string(), c);
}

bool is_method_adapter_dir(const std::string& dir) {
    const fs::path p = fs::path(dir) / "ptune_adapter.json";
    if (!fs::exists(p)) return false;
    return read_json_file(p.string()).value("format", std::string()) == "ptune-method";
}

MethodAdapter load_method_adapter(const std::string& dir, const EncoderClassifier& model) {
    const std::string where = (fs::path(dir) / "ptune_adapter.json").string();
    const std::string file = (fs::path(dir) / "ptune_adapter.safetensors").string();
    json c = read_json_file(where);
    MethodAdapter a;
    a.method = get_field<std::string>(c, "method", where);
    if (!is_method_name(a.method) || a.method == "ptv2") throw Error(where + ": method: \"" + a.method + "\" is not a method this format holds");
    a.prompt_len = get_field_or<int64_t>(c, "prompt_len", 0, where);
    a.options = delta_options_from_json(c.value("options", json::object()), where + ": options");
    a.label_names = get_field_or<std::vector<std::string>>(c, "label_names", {}, where);
    a.base_model = get_field_or<std::string>(c, "base_model", "", where);
    auto tensors = load_all(file);
    if (a.method != "full" && a.method != "head") {
        // The method's shapes come from its options; the values from the file.
        a.delta = make_method_shape(a.method, model.config(), a.prompt_len, a.options);
        for (auto& [n, t] : a.delta->parameters()) {
            auto it = tensors.find("method." + n);
            if (it == tensors.end()) throw Error(file + ": no tensor method." + n + " (the " + a.method + " adapter is incomplete)");
            if (it->second.sizes() != t.sizes())
                throw Error(file + ": tensor method." + n + " does not fit this model (made for another model or options)");
            a.delta->set_parameter(n, it->second);
        }
    }
    for (auto& [n, t] : tensors) {
        if (n.rfind("head.", 0) == 0) a.head[n.substr(5)] = t;
        if (n.rfind("backbone.", 0) == 0) a.backbone[n.substr(9)] = t;
    }
    if (a.method == "full" && a.backbone.empty()) throw Error(file + ": a full fine-tuning adapter without backbone tensors");
    return a;
}

void apply_method_adapter(EncoderClassifier& model, const MethodAdapter& a) {
    for (auto& [n, t] : a.head) model.set_head_tensor(n, t);
    load_backbone(model, a.backbone, "full fine-tuning adapter");
}

void load_backbone(EncoderClassifier& model, const std::map<std::string, at::Tensor>& backbone, const std::string& where) {
    if (backbone.empty()) return;
    at::NoGradGuard g;
    std::map<std::string, at::Tensor> own;
    for (auto& [n, t] : model.backbone_parameters()) own[n] = t;
    for (auto& [n, t] : backbone) {
        auto it = own.find(n);
        if (it == own.end() || it->second.sizes() != t.sizes())
            throw Error(where + ": tensor " + n + " does not fit the model");
        it->second.copy_(t.to(it->second.device()).to(it->second.scalar_type()));
    }
}

}  // namespace ptune
