#include "core/engine/encoder.h"

#include <cmath>
#include <filesystem>

#include "core/engine/attention.h"
#include "core/engine/tensor_io.h"

namespace ptune {

namespace {

// Legacy TF-converted checkpoints name LayerNorm parameters gamma/beta.
std::vector<std::string> name_variants(const std::string& name) {
    std::vector<std::string> v{name};
    auto swap_suffix = [&](const std::string& from, const std::string& to) {
        if (name.size() > from.size() && name.compare(name.size() - from.size(), from.size(), from) == 0 &&
            name.find("LayerNorm") != std::string::npos)
            v.push_back(name.substr(0, name.size() - from.size()) + to);
    };
    swap_suffix(".weight", ".gamma");
    swap_suffix(".bias", ".beta");
    return v;
}

at::Tensor frozen(at::Tensor t) { return t.to(at::kFloat).contiguous().set_requires_grad(false); }

}  // namespace

std::unique_ptr<EncoderClassifier> EncoderClassifier::load(const std::string& dir, int64_t num_labels, uint64_t seed) {
    ModelConfig cfg = ModelConfig::from_dir(dir);
    auto ckpt = st::Checkpoint::open(dir);
    std::unique_ptr<EncoderClassifier> m(new EncoderClassifier());
    m->cfg_ = cfg;
    auto lookup = [&](const std::string& name) -> at::Tensor {
        if (!ckpt.contains(name)) return {};
        auto [file, info] = ckpt.get(name);
        return load_tensor(*file, *info);
    };
    m->init_from(nullptr, ckpt.source(), lookup, num_labels, seed);
    return m;
}

std::unique_ptr<EncoderClassifier> EncoderClassifier::from_tensors(const ModelConfig& cfg,
                                                                   const std::map<std::string, at::Tensor>& tensors,
                                                                   int64_t num_labels, uint64_t seed) {
    std::unique_ptr<EncoderClassifier> m(new EncoderClassifier());
    m->cfg_ = cfg;
    auto lookup = [&](const std::string& name) -> at::Tensor {
        auto it = tensors.find(name);
        return it == tensors.end() ? at::Tensor() : it->second;
    };
    m->init_from(&tensors, "(in memory)", lookup, num_labels, seed);
    return m;
}

void EncoderClassifier::init_from(const std::map<std::string, at::Tensor>*, const std::string& source,
                                  const std::function<at::Tensor(const std::string&)>& lookup, int64_t num_labels,
                                  uint64_t seed) {
    const ModelConfig& c = cfg_;
    const std::string prefix = c.weight_prefix();
    // Finds a base-model tensor with or without the architecture prefix.
    auto find = [&](const std::string& name) -> at::Tensor {
        for (const auto& n : name_variants(name)) {
            if (auto t = lookup(prefix + n); t.defined()) return t;
            if (auto t = lookup(n); t.defined()) return t;
        }
        return {};
    };
    auto need = [&](const std::string& name, std::vector<int64_t> shape) -> at::Tensor {
        at::Tensor t = find(name);
        if (!t.defined()) throw Error(source + ": missing tensor \"" + prefix + name + "\"");
        if (t.sizes().vec() != shape) {
            throw Error(source + ": tensor \"" + prefix + name + "\" has shape " + c10::str(t.sizes()) +
                        ", config.json implies " + c10::str(at::IntArrayRef(shape)));
        }
        return frozen(t);
    };
    const int64_t H = c.hidden_size, E = c.embedding_size, I = c.intermediate_size;
    word_emb_ = need("embeddings.word_embeddings.weight", {c.vocab_size, E});
    pos_emb_ = need("embeddings.position_embeddings.weight", {c.max_position_embeddings, E});
    if (c.type_vocab_size > 0) type_emb_ = need("embeddings.token_type_embeddings.weight", {c.type_vocab_size, E});
    emb_norm_ = {need("embeddings.LayerNorm.weight", {E}), need("embeddings.LayerNorm.bias", {E}), c.layer_norm_eps};
    if (E != H) {
        emb_project_ = {need("embeddings_project.weight", {H, E}), need("embeddings_project.bias", {H})};
    }
    auto lin = [&](const std::string& n, int64_t out, int64_t in) {
        return Linear{need(n + ".weight", {out, in}), need(n + ".bias", {out})};
    };
    auto ln = [&](const std::string& n, int64_t d) {
        return LayerNorm{need(n + ".weight", {d}), need(n + ".bias", {d}), c.layer_norm_eps};
    };
    const EncoderFamily& fam = *c.family;
    layers_.clear();
    for (int64_t l = 0; l < c.num_layers; ++l) {
        const std::string p = fam.layers_path() + std::to_string(l) + ".";
        auto m = [&](const char* bert_module) { return p + fam.layer_module(bert_module); };
        EncoderLayer L;
        L.query = lin(m("attention.self.query"), H, H);
        L.key = lin(m("attention.self.key"), H, H);
        L.value = lin(m("attention.self.value"), H, H);
        L.attn_out = lin(m("attention.output.dense"), H, H);
        L.attn_norm = ln(m("attention.output.LayerNorm"), H);
        L.intermediate = lin(m("intermediate.dense"), I, H);
        L.output = lin(m("output.dense"), H, I);
        L.out_norm = ln(m("output.LayerNorm"), H);
        layers_.push_back(std::move(L));
    }
    // An untrained save (every weight zero) loads like any checkpoint: say so. Cheap: stops at the first weight
    // matrix with a non-zero entry, the first one in any trained model.
    warnings_.clear();
    bool all_zero = !layers_.empty();
    for (const auto& L : layers_) {
        for (const Linear* l : {&L.query, &L.key, &L.value, &L.attn_out, &L.intermediate, &L.output})
            if (l->weight.ne(0).any().item<bool>()) {
                all_zero = false;
                break;
            }
        if (!all_zero) break;
    }
    if (all_zero)
        warnings_.push_back(source + ": every weight matrix of the encoder's " + std::to_string(c.num_layers) +
                            " layers is exactly zero (an untrained or unfinished save?): training or predicting with "
                            "it will not give meaningful results");
    if (fam.pooler() == EncoderFamily::Pooler::Always) {
        at::Tensor w = find("pooler.dense.weight"), b = find("pooler.dense.bias");
        if (w.defined() && b.defined()) {
            pooler_ = lin("pooler.dense", H, H);
        } else {
            // A fixed seed, not the run's: predict and resume must see the same pooler. ptune's adapter format
            // stores it; PEFT's cannot (transformers would draw another), so that export is refused.
            at::manual_seed(0x9e3779b97f4a7c15ULL);
            pooler_ = {frozen(at::randn({H, H}) * c.initializer_range), frozen(at::zeros({H}))};
            pooler_from_checkpoint_ = false;
            notes_.push_back("the checkpoint has no pooler (pooler.dense): initialised at random and frozen, as "
                             "transformers does for BertForSequenceClassification; ptune's adapter keeps it");
        }
    } else if (fam.pooler() == EncoderFamily::Pooler::IfStored) {
        // RobertaModel's pooler: unused by the sequence head, read by *ForMultipleChoice (see ensure_pooler).
        at::Tensor w = find("pooler.dense.weight"), b = find("pooler.dense.bias");
        if (w.defined() && b.defined()) pooler_ = lin("pooler.dense", H, H);
    }
    // The classification head: taken from the checkpoint when it is there with the right label count.
    int64_t ckpt_labels = -1;
    at::Tensor head_out_w = lookup(fam.head().out + ".weight");
    if (head_out_w.defined() && head_out_w.dim() == 2) ckpt_labels = head_out_w.size(0);
    num_labels_ = num_labels > 0 ? num_labels
                                 : (!c.id2label.empty() ? (int64_t)c.id2label.size() : (ckpt_labels > 0 ? ckpt_labels : 2));
    reset_head(seed);
    head_from_checkpoint_ = false;
    if (ckpt_labels == num_labels_) {
        bool all = true;
        for (auto& [name, t] : head_parameters()) {
            at::Tensor v = lookup(name);
            if (!v.defined() || v.sizes() != t.sizes()) {
                all = false;
                break;
            }
        }
        if (all) {
            for (auto& [name, t] : head_parameters()) set_head_tensor(name, lookup(name));
            head_from_checkpoint_ = true;
        }
    }
    if (!head_from_checkpoint_) {
        notes_.push_back("classification head for " + std::to_string(num_labels_) +
                         " labels initialised fresh (normal, std " + std::to_string(c.initializer_range) + ")");
    }
}

void EncoderClassifier::reset_head(uint64_t seed) {
    head_from_checkpoint_ = false;
    const ModelConfig& c = cfg_;
    const int64_t H = c.hidden_size;
    at::manual_seed(seed);
    auto opts = at::TensorOptions().dtype(at::kFloat).device(device_);
    auto trainable = [](at::Tensor t) { return t.set_requires_grad(true); };
    if (c.family->head().dense.empty()) {
        classifier_ = {trainable(at::randn({num_labels_, H}, opts) * c.initializer_range), trainable(at::zeros({num_labels_}, opts))};
        cls_dense_ = {};
    } else {
        cls_dense_ = {trainable(at::randn({H, H}, opts) * c.initializer_range), trainable(at::zeros({H}, opts))};
        classifier_ = {trainable(at::randn({num_labels_, H}, opts) * c.initializer_range), trainable(at::zeros({num_labels_}, opts))};
    }
    // randn(...) * std is not a leaf: make leaves.
    for (Linear* l : {&classifier_, &cls_dense_}) {
        if (l->weight.defined()) {
            l->weight = l->weight.detach().set_requires_grad(true);
            l->bias = l->bias.detach().set_requires_grad(true);
        }
    }
}

std::vector<std::pair<std::string, at::Tensor>> EncoderClassifier::head_parameters() const {
    const EncoderHeadSpec h = cfg_.family->head();
    if (h.dense.empty()) return {{h.out + ".weight", classifier_.weight}, {h.out + ".bias", classifier_.bias}};
    return {{h.dense + ".weight", cls_dense_.weight},
            {h.dense + ".bias", cls_dense_.bias},
            {h.out + ".weight", classifier_.weight},
            {h.out + ".bias", classifier_.bias}};
}

void EncoderClassifier::set_head_tensor(const std::string& name, const at::Tensor& value) {
    for (auto& [n, t] : head_parameters()) {
        if (n != name) continue;
        if (t.sizes() != value.sizes()) {
            throw Error("head tensor \"" + name + "\" has shape " + c10::str(value.sizes()) + ", the model needs " +
                        c10::str(t.sizes()));
        }
        at::NoGradGuard g;
        t.copy_(value.to(t.device(), t.scalar_type()));
        return;
    }
    throw Error("no head tensor \"" + name + "\" in a " + cfg_.arch_name() + " classifier");
}

std::vector<std::pair<std::string, at::Tensor>> EncoderClassifier::backbone_parameters() const {
    std::vector<std::pair<std::string, at::Tensor>> v;
    const std::string p = cfg_.weight_prefix();
    v.push_back({p + "embeddings.word_embeddings.weight", word_emb_});
    v.push_back({p + "embeddings.position_embeddings.weight", pos_emb_});
    if (type_emb_.defined()) v.push_back({p + "embeddings.token_type_embeddings.weight", type_emb_});
    v.push_back({p + "embeddings.LayerNorm.weight", emb_norm_.weight});
    v.push_back({p + "embeddings.LayerNorm.bias", emb_norm_.bias});
    if (emb_project_.weight.defined()) {
        v.push_back({p + "embeddings_project.weight", emb_project_.weight});
        v.push_back({p + "embeddings_project.bias", emb_project_.bias});
    }
    for (size_t l = 0; l < layers_.size(); ++l) {
        const auto& L = layers_[l];
        const EncoderFamily& fam = *cfg_.family;
        const std::string q = p + fam.layers_path() + std::to_string(l) + ".";
        auto add = [&](const char* bert_module, const at::Tensor& w, const at::Tensor& b) {
            v.push_back({q + fam.layer_module(bert_module) + ".weight", w});
            v.push_back({q + fam.layer_module(bert_module) + ".bias", b});
        };
        add("attention.self.query", L.query.weight, L.query.bias);
        add("attention.self.key", L.key.weight, L.key.bias);
        add("attention.self.value", L.value.weight, L.value.bias);
        add("attention.output.dense", L.attn_out.weight, L.attn_out.bias);
        add("attention.output.LayerNorm", L.attn_norm.weight, L.attn_norm.bias);
        add("intermediate.dense", L.intermediate.weight, L.intermediate.bias);
        add("output.dense", L.output.weight, L.output.bias);
        add("output.LayerNorm", L.out_norm.weight, L.out_norm.bias);
    }
    if (pooler_.weight.defined()) {
        v.push_back({p + "pooler.dense.weight", pooler_.weight});
        v.push_back({p + "pooler.dense.bias", pooler_.bias});
    }
    return v;
}

void EncoderClassifier::ensure_pooler() {
    if (pooler_.weight.defined()) return;
    if (cfg_.family->pooler() != EncoderFamily::Pooler::IfStored)
        throw Error(cfg_.arch_name() + " has no pooler: " + cfg_.family->multiple_choice_head() +
                    " is not supported yet; use a BERT or RoBERTa model");
    const int64_t H = cfg_.hidden_size;
    at::manual_seed(0x9e3779b97f4a7c15ULL);   // the same fixed seed as BERT's missing pooler
    pooler_ = {(at::randn({H, H}) * cfg_.initializer_range).to(device_), at::zeros({H}).to(device_)};
    pooler_from_checkpoint_ = false;
    notes_.push_back("the checkpoint has no pooler (pooler.dense): initialised at random from a fixed seed and frozen, "
                     "as transformers does for RobertaForMultipleChoice");
}

at::Tensor EncoderClassifier::pool(const at::Tensor& hidden, const LinearDelta* pooler_delta) const {
    if (!pooler_.weight.defined()) throw Error("the " + cfg_.arch_name() + " model has no pooler (ensure_pooler)");
    const at::Tensor first = hidden.select(1, 0).to(pooler_.weight.scalar_type());
    return at::tanh(pooler_delta && !pooler_delta->empty() ? pooler_delta->apply(pooler_, first, false) : pooler_(first));
}

std::vector<std::pair<std::string, at::Tensor>> EncoderClassifier::pooler_parameters() const {
    if (!pooler_.weight.defined()) return {};
    return {{"pooler.dense.weight", pooler_.weight}, {"pooler.dense.bias", pooler_.bias}};
}

void EncoderClassifier::set_pooler_tensor(const std::string& name, const at::Tensor& value) {
    for (auto& [n, t] : pooler_parameters()) {
        if (n != name) continue;
        if (t.sizes() != value.sizes())
            throw Error("pooler tensor \"" + name + "\" has shape " + c10::str(value.sizes()) + ", expected " + c10::str(t.sizes()));
        at::NoGradGuard g;
        t.copy_(value.to(t.device(), t.scalar_type()));
        return;
    }
    throw Error("no pooler tensor \"" + name + "\" in a " + cfg_.arch_name() + " model");
}

void EncoderClassifier::set_backbone_trainable(bool on) {
    for (auto& [n, t] : backbone_parameters()) t.set_requires_grad(on);
}

int64_t EncoderClassifier::backbone_param_count() const {
    int64_t n = 0;
    for (auto& [name, t] : backbone_parameters()) n += t.numel();
    return n;
}

int64_t EncoderClassifier::head_param_count() const {
    int64_t n = 0;
    for (auto& [name, t] : head_parameters()) n += t.numel();
    return n;
}

void EncoderClassifier::to(const at::Device& device) {
    if (device == device_) return;
    at::NoGradGuard g;
    auto mv = [&](at::Tensor& t) {
        if (!t.defined()) return;
        bool rg = t.requires_grad();
        t = t.to(device).detach().set_requires_grad(rg);
    };
    auto mvl = [&](Linear& l) { mv(l.weight), mv(l.bias); };
    mv(word_emb_), mv(pos_emb_), mv(type_emb_), mv(emb_norm_.weight), mv(emb_norm_.bias);
    mvl(emb_project_);
    for (auto& L : layers_) {
        for (Linear* l : {&L.query, &L.key, &L.value, &L.attn_out, &L.intermediate, &L.output}) mvl(*l);
        mv(L.attn_norm.weight), mv(L.attn_norm.bias), mv(L.out_norm.weight), mv(L.out_norm.bias);
    }
    mvl(pooler_), mvl(classifier_), mvl(cls_dense_);
    device_ = device;
}

at::Tensor EncoderClassifier::act(const at::Tensor& x) const {
    const std::string& a = cfg_.hidden_act;
    if (a == "gelu") return at::gelu(x);
    if (a == "relu") return at::relu(x);
    if (a == "tanh") return at::tanh(x);
    return at::gelu(x, "tanh");  // gelu_new, gelu_pytorch_tanh, gelu_fast
}

const char* site_name(Site s) {
    switch (s) {
        case Site::Query: return "attention.self.query";
        case Site::Key: return "attention.self.key";
        case Site::Value: return "attention.self.value";
        case Site::AttnOut: return "attention.output.dense";
        case Site::Intermediate: return "intermediate.dense";
        case Site::Output: return "output.dense";
    }
    return "?";
}

void EncoderClassifier::merge(const Adaptation& a) {
    if (a.prefix || a.input_prompt.defined())
        throw Error("merge: deep prompts and virtual tokens cannot be merged into the weights");
    bool adapter = a.pooler.has_adapter();
    for (const auto& layer : a.layers)
        for (const LinearDelta& d : layer) adapter |= d.has_adapter();
    if (adapter) throw Error("merge: bottleneck adapters cannot be merged into the weights (their activation is not linear)");
    if (!a.layers.empty() && a.layers.size() != layers_.size())
        throw Error("merge: adaptation for " + std::to_string(a.layers.size()) + " layers on a model with " +
                    std::to_string(layers_.size()));
    at::NoGradGuard g;
    auto fold = [](const LinearDelta& d, Linear& lin) {
        if (d.ia3_in.defined()) lin.weight = lin.weight * d.ia3_in.to(lin.weight.device()).unsqueeze(0);
        if (d.lora_A.defined())
            lin.weight = lin.weight + at::matmul(d.lora_B, d.lora_A).to(lin.weight.device()) * d.lora_scaling;
        if (d.ia3_out.defined()) {
            const at::Tensor o = d.ia3_out.to(lin.weight.device());
            lin.weight = lin.weight * o.unsqueeze(1);
            if (lin.bias.defined()) lin.bias = lin.bias * o;
        }
    };
    for (size_t l = 0; l < a.layers.size(); ++l) {
        EncoderLayer& L = layers_[l];
        Linear* sites[kSites] = {&L.query, &L.key, &L.value, &L.attn_out, &L.intermediate, &L.output};
        for (int s = 0; s < kSites; ++s) fold(a.layers[l][(size_t)s], *sites[s]);
    }
    if (!a.pooler.empty()) {
        if (!pooler_.weight.defined()) throw Error("merge: the adaptation changes a pooler this model does not have");
        fold(a.pooler, pooler_);
    }
}

at::Tensor LinearDelta::apply(const Linear& lin, const at::Tensor& x, bool training) const {
    at::Tensor y = ia3_in.defined() ? lin(x * ia3_in) : lin(x);
    if (lora_A.defined()) {
        at::Tensor xd = lora_dropout > 0 ? at::dropout(x, lora_dropout, training) : x;
        y = y + at::linear(at::linear(xd, lora_A), lora_B) * lora_scaling;
    }
    if (ia3_out.defined()) y = y * ia3_out;
    return y;
}

at::Tensor LinearDelta::adapt(const at::Tensor& y) const {
    if (!has_adapter()) return y;
    at::Tensor h = adapter_down(y);
    if (adapter_act == "relu") h = at::relu(h);
    else if (adapter_act == "gelu") h = at::gelu(h);
    else if (adapter_act == "tanh") h = at::tanh(h);
    else h = at::silu(h);   // swish
    return y + adapter_up(h);
}

at::Tensor EncoderClassifier::embed(const Batch& b, int64_t P, const at::Tensor& input_prompt, bool training) const {
    const at::Tensor& ids = b.input_ids;
    const int64_t B = ids.size(0), n = ids.size(1);
    const int64_t Pv = input_prompt.defined() ? input_prompt.size(0) : 0;
    at::Tensor words = at::embedding(word_emb_, ids);
    at::Tensor types;
    if (type_emb_.defined()) types = b.token_type_ids.defined() ? b.token_type_ids : at::zeros_like(ids);
    if (Pv > 0) {
        words = at::cat({input_prompt.to(words.scalar_type()).unsqueeze(0).expand({B, Pv, input_prompt.size(1)}), words}, 1);
        if (types.defined()) types = at::cat({at::zeros({B, Pv}, types.options()), types}, 1);
    }
    at::Tensor pos;
    if (cfg_.family->padding_idx_positions()) {
        if (Pv > 0) {
            // create_position_ids_from_inputs_embeds: without input ids every position counts, pads included.
            pos = at::arange(cfg_.pad_token_id + 1 + P, cfg_.pad_token_id + 1 + P + Pv + n, ids.options())
                      .unsqueeze(0)
                      .expand({B, Pv + n});
        } else {
            // create_position_ids_from_input_ids: real tokens count from padding_idx + 1 (+ P), pads get padding_idx.
            at::Tensor real = ids.ne(cfg_.pad_token_id).to(at::kLong);
            pos = (at::cumsum(real, 1) + P) * real + cfg_.pad_token_id;
        }
    } else {
        pos = at::arange(P, P + Pv + n, ids.options()).unsqueeze(0).expand({B, Pv + n});
    }
    at::Tensor x = words + at::embedding(pos_emb_, pos);
    if (types.defined()) x = x + at::embedding(type_emb_, types);
    x = emb_norm_(x);
    x = at::dropout(x, cfg_.hidden_dropout, training);
    if (emb_project_.weight.defined()) x = emb_project_(x);
    return x;
}

at::Tensor EncoderClassifier::encode(const Batch& b, const PrefixKV* prefix, bool training) const {
    Adaptation a;
    a.prefix = prefix;
    return encode(b, a, training);
}

at::Tensor EncoderClassifier::encode(const Batch& b, const Adaptation& ad, bool training) const {
    const PrefixKV* prefix = ad.prefix;
    const int64_t B = b.input_ids.size(0);
    encoded_rows_.fetch_add(B, std::memory_order_relaxed);
    const int64_t heads = cfg_.num_heads, hd = cfg_.head_dim(), H = cfg_.hidden_size;
    const int64_t P = prefix ? prefix->length : 0;
    const int64_t Pv = ad.input_prompt.defined() ? ad.input_prompt.size(0) : 0;
    if (!ad.layers.empty() && ad.layers.size() != layers_.size())
        throw Error("adaptation for " + std::to_string(ad.layers.size()) + " layers on a model with " +
                    std::to_string(layers_.size()));
    at::Tensor x = embed(b, P, ad.input_prompt, training);
    const int64_t n = x.size(1);   // real tokens, after the virtual ones
    // Additive masks [B, 1, 1, keys]: 0 where attended, the dtype's lowest where masked (transformers' convention).
    at::Tensor mask = b.attention_mask.to(x.scalar_type());
    if (Pv > 0) mask = at::cat({at::ones({B, Pv}, mask.options()), mask}, 1);
    at::Tensor add_mask = ((1.0 - mask) * mask_lowest(x.scalar_type())).view({B, 1, 1, n});
    at::Tensor add_mask_prefixed;
    if (P > 0) add_mask_prefixed = at::cat({at::zeros({B, 1, 1, P}, add_mask.options()), add_mask}, 3);
    auto split_heads = [&](const at::Tensor& t) { return t.view({B, n, heads, hd}).transpose(1, 2); };
    for (size_t l = 0; l < layers_.size(); ++l) {
        const EncoderLayer& L = layers_[l];
        const std::array<LinearDelta, kSites>* d = ad.layers.empty() ? nullptr : &ad.layers[l];
        auto lin = [&](Site s, const Linear& f, const at::Tensor& in) {
            const LinearDelta* ld = d ? &(*d)[(size_t)s] : nullptr;
            return ld && !ld->empty() ? ld->apply(f, in, training) : f(in);
        };
        at::Tensor q = split_heads(lin(Site::Query, L.query, x));
        at::Tensor k = split_heads(lin(Site::Key, L.key, x));
        at::Tensor v = split_heads(lin(Site::Value, L.value, x));
        const at::Tensor* m = &add_mask;
        if (P > 0 && l < prefix->key.size() && prefix->key[l].defined()) {
            k = at::cat({prefix->key[l].expand({B, heads, P, hd}), k}, 2);
            v = at::cat({prefix->value[l].expand({B, heads, P, hd}), v}, 2);
            m = &add_mask_prefixed;
        }
        at::Tensor ctx = attention(q, k, v, *m, cfg_.attention_dropout, training, attention_)
                             .transpose(1, 2)
                             .reshape({B, n, H});
        // Bottleneck adapters sit after a sublayer's dropout, before its residual connection.
        auto adapter = [&](Site s, const at::Tensor& y) { return d ? (*d)[(size_t)s].adapt(y) : y; };
        at::Tensor a = lin(Site::AttnOut, L.attn_out, ctx);
        if (cfg_.family->attention_output_dropout()) a = at::dropout(a, cfg_.hidden_dropout, training);
        a = adapter(Site::AttnOut, a);
        x = L.attn_norm(a + x);
        at::Tensor h = act(lin(Site::Intermediate, L.intermediate, x));
        h = lin(Site::Output, L.output, h);
        h = adapter(Site::Output, at::dropout(h, cfg_.hidden_dropout, training));
        x = L.out_norm(h + x);
    }
    return x;
}

at::Tensor EncoderClassifier::head(const at::Tensor& hidden, bool training, const LinearDelta* pooler_delta) const {
    const double p = cfg_.classifier_dropout.value_or(cfg_.hidden_dropout);
    at::Tensor first = hidden.select(1, 0);
    const EncoderHeadSpec h = cfg_.family->head();
    if (h.on_pooler) {
        at::Tensor pooled = at::tanh(pooler_delta && !pooler_delta->empty() ? pooler_delta->apply(pooler_, first, training)
                                                                             : pooler_(first));
        return classifier_(at::dropout(pooled, p, training));
    }
    at::Tensor x = h.dropout_before_dense ? at::dropout(first, p, training) : first;
    x = cls_dense_(x);
    x = h.activation == "gelu" ? at::gelu(x) : h.activation == "relu" ? at::relu(x) : at::tanh(x);
    x = at::dropout(x, p, training);
    return classifier_(x);
}

at::Tensor EncoderClassifier::forward(const Batch& b, const PrefixKV* prefix, bool training) const {
    return head(encode(b, prefix, training), training);
}

at::Tensor EncoderClassifier::forward(const Batch& b, const Adaptation& a, bool training) const {
    return head(encode(b, a, training), training, &a.pooler);
}

at::Tensor classification_loss(const at::Tensor& logits, const at::Tensor& labels) {
    return at::cross_entropy_loss(logits, labels);
}

}  // namespace ptune

namespace ptune {
Batch make_batch(const std::vector<std::vector<int64_t>>& ids, int64_t pad_id,
                 const std::vector<std::vector<int64_t>>& type_ids) {
    const int64_t B = (int64_t)ids.size();
    int64_t n = 1;
    for (const auto& v : ids) n = std::max<int64_t>(n, (int64_t)v.size());
    Batch b;
    b.input_ids = at::full({B, n}, pad_id, at::kLong);
    b.attention_mask = at::zeros({B, n}, at::kLong);
    if (!type_ids.empty()) b.token_type_ids = at::zeros({B, n}, at::kLong);
    auto ia = b.input_ids.accessor<int64_t, 2>();
    auto ma = b.attention_mask.accessor<int64_t, 2>();
    for (int64_t i = 0; i < B; ++i) {
        for (size_t j = 0; j < ids[i].size(); ++j) {
            ia[i][j] = ids[i][j];
            ma[i][j] = 1;
        }
        if (!type_ids.empty()) {
            auto ta = b.token_type_ids.accessor<int64_t, 2>();
            for (size_t j = 0; j < type_ids[i].size() && j < (size_t)n; ++j) ta[i][j] = type_ids[i][j];
        }
    }
    return b;
}
}  // namespace ptune
