#include "core/engine/methods.h"

#include <cmath>
#include <random>

#include "core/io/error.h"

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

class Lora : public DeltaMethod {
public:
    Lora(const ModelConfig& cfg, const LoraOptions& opt, uint64_t seed) : opt_(opt) {
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
    std::vector<std::pair<std::string, at::Tensor>> parameters() const override {
        std::vector<std::pair<std::string, at::Tensor>> out;
        for (size_t l = 0; l < layers_.size(); ++l)
            for (int s = 0; s < kSites; ++s) {
                const LinearDelta& d = layers_[l][(size_t)s];
                if (!d.lora_A.defined()) continue;
                const std::string base = "layer." + std::to_string(l) + "." + site_name((Site)s);
                out.push_back({base + ".lora_A.weight", d.lora_A});
                out.push_back({base + ".lora_B.weight", d.lora_B});
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
                if (d.lora_A.defined()) {
                    d.lora_A = trainable(d.lora_A.detach().to(device));
                    d.lora_B = trainable(d.lora_B.detach().to(device));
                }
    }

private:
    LoraOptions opt_;
    std::vector<std::array<LinearDelta, kSites>> layers_;
};

class Ia3 : public DeltaMethod {
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
    std::vector<std::pair<std::string, at::Tensor>> parameters() const override {
        std::vector<std::pair<std::string, at::Tensor>> out;
        for (size_t l = 0; l < layers_.size(); ++l)
            for (int s = 0; s < kSites; ++s) {
                const LinearDelta& d = layers_[l][(size_t)s];
                const std::string base = "layer." + std::to_string(l) + "." + site_name((Site)s);
                if (d.ia3_out.defined()) out.push_back({base + ".ia3_out", d.ia3_out});
                if (d.ia3_in.defined()) out.push_back({base + ".ia3_in", d.ia3_in});
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
                for (at::Tensor* t : {&d.ia3_out, &d.ia3_in})
                    if (t->defined()) *t = trainable(t->detach().to(device));
    }

private:
    std::vector<std::array<LinearDelta, kSites>> layers_;
};

class PromptTuning : public DeltaMethod {
public:
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
std::unique_ptr<DeltaMethod> make_prompt_tuning(const EncoderClassifier& model, const PromptTuningOptions& opt, uint64_t seed) {
    return std::make_unique<PromptTuning>(model, opt, seed);
}
std::unique_ptr<DeltaMethod> make_ptuning(const ModelConfig& cfg, const PTuningOptions& opt, uint64_t seed) {
    return std::make_unique<PTuning>(cfg, opt, seed);
}

}  // namespace ptune
