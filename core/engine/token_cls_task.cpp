#include "core/engine/token_cls_task.h"

#include <filesystem>
#include <fstream>
#include <numeric>

#include "core/engine/tensor_io.h"

namespace ptune {

namespace {

std::string dims(const at::Tensor& t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "]";
}

// A window's tokens from encode_words of some of a sentence's words (word_ids relative to `first`).
TokenClsWindow make_window(const Encoding& e, size_t first, const TaggedSentence& s, size_t sentence,
                           const std::vector<int64_t>& inside_of, bool label_all, int64_t max_len) {
    TokenClsWindow w;
    w.sentence = sentence;
    int64_t prev_word = -1;
    for (size_t i = 0; i < e.ids.size(); ++i) {
        const int64_t wid = e.word_ids[i];
        int64_t label = -100, word = -1;
        if (wid >= 0) {
            const int64_t sw = wid + (int64_t)first;
            const int tag = s.tags[(size_t)sw];
            if (wid != prev_word) {
                label = tag;
                word = sw;
            } else if (label_all) {
                label = inside_of[(size_t)tag] >= 0 ? inside_of[(size_t)tag] : tag;
            }
            prev_word = wid;
        }
        w.ids.push_back(e.ids[i]);
        w.labels.push_back(label);
        w.word_of.push_back(word);
    }
    // A word longer than the window: keep the window's first max_len - 1 tokens and its last (the closing
    // special token, when there is one).
    if ((int64_t)w.ids.size() > max_len) {
        const size_t keep = (size_t)max_len - 1;
        for (auto* v : {&w.ids, &w.labels, &w.word_of}) {
            const int64_t last = v->back();
            v->resize(keep);
            v->push_back(last);
        }
        if (e.special_mask.back() == 0) {   // no closing special token: the last kept token is a word's
            w.labels.back() = -100;
            w.word_of.back() = -1;
        }
    }
    return w;
}

}  // namespace

TokenClsData tokenize_tagged(const TaggedDataset& d, const Tokenizer& tok, int64_t max_len, bool label_all_subtokens) {
    TokenClsData out;
    out.label_names = d.label_names;
    out.scheme = d.scheme;
    // B-X -> I-X for later sub-tokens (label_all_subtokens).
    std::vector<int64_t> inside_of(d.label_names.size(), -1);
    for (size_t i = 0; i < d.label_names.size(); ++i) {
        const std::string& n = d.label_names[i];
        if (n.size() > 2 && n[0] == 'B' && n[1] == '-')
            for (size_t k = 0; k < d.label_names.size(); ++k)
                if (d.label_names[k] == "I-" + n.substr(2)) inside_of[i] = (int64_t)k;
    }
    const int64_t specials = tok.num_special_tokens(false);
    const int64_t room = std::max<int64_t>(1, max_len - specials);
    for (size_t si = 0; si < d.sentences.size(); ++si) {
        const TaggedSentence& s = d.sentences[si];
        out.gold.push_back(s.tags);
        Encoding all = tok.encode_words(s.words, true);
        if ((int64_t)all.ids.size() <= max_len) {
            out.windows.push_back(make_window(all, 0, s, si, inside_of, label_all_subtokens, max_len));
            continue;
        }
        // Tokens per word, then windows of whole words.
        std::vector<int64_t> count(s.words.size(), 0);
        for (int64_t w : all.word_ids)
            if (w >= 0) ++count[(size_t)w];
        ++out.windowed_sentences;
        size_t begin = 0;
        while (begin < s.words.size()) {
            size_t end = begin;
            int64_t used = 0;
            while (end < s.words.size() && (end == begin || used + count[end] <= room)) used += count[end++];
            if (count[begin] > room) ++out.cut_words;
            std::vector<std::string> part(s.words.begin() + (long)begin, s.words.begin() + (long)end);
            out.windows.push_back(
                make_window(tok.encode_words(part, true), begin, s, si, inside_of, label_all_subtokens, max_len));
            begin = end;
        }
    }
    return out;
}

std::map<std::string, double> tagging_metrics(const std::vector<std::vector<int>>& predicted, const TokenClsData& d) {
    auto names = [&](const std::vector<std::vector<int>>& v) {
        std::vector<std::vector<std::string>> out;
        out.reserve(v.size());
        for (const auto& s : v) {
            std::vector<std::string> t;
            t.reserve(s.size());
            for (int id : s) t.push_back(d.label_names[(size_t)id]);
            out.push_back(std::move(t));
        }
        return out;
    };
    const TaggingScores sc = score_tagging(names(d.gold), names(predicted));
    std::map<std::string, double> m;
    m["tag_accuracy"] = sc.token_accuracy;
    if (d.scheme != TagScheme::None) {
        m["entity_precision"] = sc.micro.precision;
        m["entity_recall"] = sc.micro.recall;
        m["entity_f1"] = sc.micro.f1;
        for (const auto& [type, s] : sc.per_type) m["f1_" + type] = s.f1;
    }
    return m;
}

TokenClsTrainer::TokenClsTrainer(EncoderClassifier& model, DeepPrompt* prompt, DeltaMethod* method, int64_t num_tags,
                                 const TrainOptions& opt, int64_t pad_id, TrainEvents* events, const CancelFlag* cancel)
    : model_(model), prompt_(prompt), method_(method), opt_(opt), pad_id_(pad_id), events_(events), cancel_(cancel) {
    opt_.validate();
    if (num_tags < 1) throw Error("token classification needs at least one tag");
    device_ = resolve_device(opt_.device);
    model_.to(device_);
    if (prompt_) prompt_->to(device_);
    if (method_) method_->to(device_);
    const ModelConfig& c = model_.config();
    dropout_ = c.classifier_dropout.value_or(c.hidden_dropout);
    at::manual_seed(opt_.seed);
    classifier_.weight = (at::randn({num_tags, c.hidden_size}) * c.initializer_range).to(device_).requires_grad_(true);
    classifier_.bias = at::zeros({num_tags}).to(device_).requires_grad_(true);
}

std::vector<std::pair<std::string, at::Tensor>> TokenClsTrainer::head_parameters() const {
    return {{"classifier.weight", classifier_.weight}, {"classifier.bias", classifier_.bias}};
}

void TokenClsTrainer::set_head_tensor(const std::string& name, const at::Tensor& value) {
    at::Tensor* t = name == "classifier.weight" ? const_cast<at::Tensor*>(&classifier_.weight)
                    : name == "classifier.bias" ? const_cast<at::Tensor*>(&classifier_.bias)
                                                : nullptr;
    if (!t) throw Error("token classification head: no tensor \"" + name + "\"");
    if (t->sizes() != value.sizes())
        throw Error("token classification head: " + name + " has shape " + dims(*t) + ", got " + dims(value));
    at::NoGradGuard g;
    t->copy_(value.to(t->device(), t->scalar_type()));
}

int64_t TokenClsTrainer::head_param_count() const { return classifier_.weight.numel() + classifier_.bias.numel(); }

at::Tensor TokenClsTrainer::logits(const TokenClsData& d, const std::vector<size_t>& order, size_t begin, size_t end,
                                   bool training, at::Tensor* labels) const {
    std::vector<std::vector<int64_t>> ids;
    for (size_t i = begin; i < end; ++i) ids.push_back(d.windows[order[i]].ids);
    Batch b = make_batch(ids, pad_id_);
    const int64_t B = b.input_ids.size(0), n = b.input_ids.size(1);
    if (labels) {
        *labels = at::full({B, n}, -100, at::kLong);
        auto la = labels->accessor<int64_t, 2>();
        for (int64_t r = 0; r < B; ++r) {
            const auto& w = d.windows[order[begin + (size_t)r]];
            for (size_t k = 0; k < w.labels.size(); ++k) la[r][(int64_t)k] = w.labels[k];
        }
        *labels = labels->to(device_);
    }
    b.input_ids = b.input_ids.to(device_);
    b.attention_mask = b.attention_mask.to(device_);
    Adaptation a = method_ ? method_->adaptation(training) : Adaptation{};
    PrefixKV kv;
    if (prompt_) {
        kv = prompt_->prefix(training);
        a.prefix = &kv;
    }
    at::Tensor h = model_.encode(b, a, training);
    if (h.size(1) > n) h = h.narrow(1, h.size(1) - n, n);   // virtual tokens come first
    h = at::dropout(h.to(at::kFloat), dropout_, training);
    return classifier_(h);
}

TrainResult TokenClsTrainer::train(const TokenClsData& train, const TokenClsData* valid) {
    if (train.size() == 0) throw Error("the training set has no sentences");
    LoopHooks h;
    if (prompt_)
        for (auto& [n, t] : prompt_->parameters()) h.params.push_back(t);
    if (method_)
        for (auto& [n, t] : method_->parameters()) h.params.push_back(t);
    for (auto& [n, t] : model_.backbone_parameters())
        if (t.requires_grad()) h.params.push_back(t);
    h.params.push_back(classifier_.weight);
    h.params.push_back(classifier_.bias);
    h.rows = train.size();
    h.prompt = prompt_;
    h.batch_loss = [&](const std::vector<size_t>& order, size_t begin, size_t end) {
        at::Tensor labels;
        at::Tensor lg = logits(train, order, begin, end, true, &labels);
        return at::cross_entropy_loss(lg.reshape({-1, lg.size(2)}), labels.reshape({-1}), {}, at::Reduction::Mean, -100);
    };
    if (valid && valid->size() > 0) h.evaluate = [&](int64_t) { return evaluate(*valid); };
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
    return run_training_loop(h, opt_, device_, events_, cancel_, best_state_);
}

std::vector<std::vector<int>> TokenClsTrainer::predict(const TokenClsData& d) const {
    at::NoGradGuard g;
    std::vector<std::vector<int>> out(d.gold.size());
    for (size_t s = 0; s < d.gold.size(); ++s) out[s].assign(d.gold[s].size(), 0);
    std::vector<size_t> order(d.size());
    std::iota(order.begin(), order.end(), 0);
    const size_t bs = (size_t)opt_.batch_size;
    for (size_t b = 0; b < d.size(); b += bs) {
        const size_t e = std::min(d.size(), b + bs);
        at::Tensor pred = logits(d, order, b, e, false, nullptr).argmax(2).to(at::kCPU);
        auto pa = pred.accessor<int64_t, 2>();
        for (size_t r = b; r < e; ++r) {
            const TokenClsWindow& w = d.windows[r];
            for (size_t k = 0; k < w.word_of.size(); ++k)
                if (w.word_of[k] >= 0) out[w.sentence][(size_t)w.word_of[k]] = (int)pa[(int64_t)(r - b)][(int64_t)k];
        }
    }
    return out;
}

std::map<std::string, double> TokenClsTrainer::evaluate(const TokenClsData& d) const {
    if (d.size() == 0) return {};
    double loss_sum = 0, count = 0;
    {
        at::NoGradGuard g;
        std::vector<size_t> order(d.size());
        std::iota(order.begin(), order.end(), 0);
        const size_t bs = (size_t)opt_.batch_size;
        for (size_t b = 0; b < d.size(); b += bs) {
            at::Tensor labels;
            at::Tensor lg = logits(d, order, b, std::min(d.size(), b + bs), false, &labels);
            loss_sum += at::cross_entropy_loss(lg.reshape({-1, lg.size(2)}), labels.reshape({-1}), {},
                                               at::Reduction::Sum, -100)
                            .item<double>();
            count += labels.ne(-100).sum().item<double>();
        }
    }
    std::map<std::string, double> m = tagging_metrics(predict(d), d);
    m["loss"] = loss_sum / std::max(1.0, count);
    return m;
}

namespace fs = std::filesystem;

void export_token_cls(const std::string& dir, const DeepPrompt* prompt, const TokenClsTrainer& trainer,
                      const ModelConfig& cfg, const std::vector<std::string>& label_names, TagScheme scheme,
                      const std::string& base_model) {
    fs::create_directories(dir);
    std::vector<std::pair<std::string, at::Tensor>> head;
    {
        at::NoGradGuard g;
        for (auto& [n, t] : trainer.head_parameters()) head.push_back({n, t.detach().to(at::kCPU).to(at::kFloat).contiguous()});
    }
    json c = {{"format", "ptune-adapter"},
              {"version", 1},
              {"task", "token-cls"},
              {"method", prompt ? (prompt->options().mlp ? "prefix-mlp" : "ptv2") : "head"},
              {"base_model", base_model},
              {"model_type", cfg.model_type},
              {"hidden_size", cfg.hidden_size},
              {"num_layers", cfg.num_layers},
              {"num_attention_heads", cfg.num_heads},
              {"num_labels", (int64_t)label_names.size()},
              {"labels", label_names},
              {"tag_scheme", tag_scheme_name(scheme)}};
    if (prompt) {
        const auto& o = prompt->options();
        c["prompt_len"] = o.prompt_len;
        c["layers"] = o.layers.text;
        c["layer_indices"] = prompt->layers();
        c["mlp"] = o.mlp;
        c["mlp_hidden"] = o.mlp_hidden;
        c["prefix_dropout"] = o.dropout;
        c["init_std"] = o.init_std;
    }
    write_json_file((fs::path(dir) / "ptune_adapter.json").string(), c);
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (auto& [n, t] : head) tensors.push_back({"head." + n, t});
    if (prompt)
        for (auto& [n, t] : prompt->parameters()) tensors.push_back({"prompt." + n, t.detach().to(at::kCPU)});
    save_tensors((fs::path(dir) / "ptune_adapter.safetensors").string(), tensors);

    const bool peft = prompt && (int64_t)prompt->layers().size() == cfg.num_layers;
    if (!peft) {
        for (const char* f : {"adapter_config.json", "adapter_model.safetensors", "ptune_labels.json"}) fs::remove(fs::path(dir) / f);
        return;
    }
    const json pc = peft_prefix_config(cfg, prompt->options(), "TOKEN_CLS", base_model);
    write_json_file((fs::path(dir) / "adapter_config.json").string(), pc);
    std::vector<std::pair<std::string, at::Tensor>> pt;
    for (auto& [n, t] : head) pt.push_back({"base_model." + n, t});
    {
        at::NoGradGuard g;
        pt.push_back({"prompt_embeddings", prompt->flat().detach().to(at::kCPU).to(at::kFloat).contiguous()});
    }
    save_tensors((fs::path(dir) / "adapter_model.safetensors").string(), pt);
    write_peft_labels(dir, label_names);
}

bool is_token_cls_adapter_dir(const std::string& dir) {
    try {
        const fs::path p = fs::path(dir) / "ptune_adapter.json";
        if (fs::exists(p)) {
            json c = read_json_file(p.string());
            return c.is_object() && c.value("task", std::string()) == "token-cls";
        }
        const fs::path q = fs::path(dir) / "adapter_config.json";
        if (fs::exists(q)) {
            json c = read_json_file(q.string());
            return c.is_object() && c.value("task_type", std::string()) == "TOKEN_CLS";
        }
    } catch (const std::exception&) {
    }
    return false;
}

TokenClsAdapter load_token_cls_adapter(const std::string& dir, const ModelConfig& cfg) {
    TokenClsAdapter out;
    const std::string ptune_json = (fs::path(dir) / "ptune_adapter.json").string();
    if (fs::exists(ptune_json)) {
        const std::string& where = ptune_json;
        json c = read_json_file(where);
        if (get_field<std::string>(c, "format", where) != "ptune-adapter")
            throw Error(where + ": field \"format\" is not \"ptune-adapter\"");
        const std::string task = get_field_or<std::string>(c, "task", "seq-cls", where);
        if (task != "token-cls")
            throw Error(where + ": this adapter was trained for task " + task + ", not token-cls");
        const int64_t L = get_field<int64_t>(c, "num_layers", where), H = get_field<int64_t>(c, "hidden_size", where);
        if (L != cfg.num_layers || H != cfg.hidden_size)
            throw Error(where + ": made for a model with " + std::to_string(L) + " layers and hidden size " +
                        std::to_string(H) + "; this model has " + std::to_string(cfg.num_layers) + " and " +
                        std::to_string(cfg.hidden_size));
        const std::string method = get_field<std::string>(c, "method", where);
        auto tensors = load_all((fs::path(dir) / "ptune_adapter.safetensors").string());
        if (method == "ptv2" || method == "prefix-mlp") {
            PrefixOptions o;
            o.prompt_len = get_field<int64_t>(c, "prompt_len", where);
            o.layers = LayerSpec{get_field<std::string>(c, "layers", where)};
            o.mlp = get_field_or<bool>(c, "mlp", false, where);
            o.mlp_hidden = get_field_or<int64_t>(c, "mlp_hidden", 512, where);
            o.dropout = get_field_or<double>(c, "prefix_dropout", 0.0, where);
            o.init_std = get_field_or<double>(c, "init_std", 1.0, where);
            out.prompt = std::make_unique<DeepPrompt>(cfg, o, 0);
            for (auto& [n, t] : out.prompt->parameters()) {
                auto it = tensors.find("prompt." + n);
                if (it == tensors.end()) throw Error(dir + "/ptune_adapter.safetensors: missing tensor \"prompt." + n + "\"");
                out.prompt->set_parameter(n, it->second);
            }
        } else if (method != "head") {
            throw Error(where + ": method \"" + method + "\" for token classification: ptune reads ptv2, prefix-mlp and head");
        }
        for (auto& [n, t] : tensors)
            if (n.rfind("head.", 0) == 0) out.head[n.substr(5)] = t;
        out.label_names = get_field<std::vector<std::string>>(c, "labels", where);
        const auto scheme = parse_tag_scheme(get_field_or<std::string>(c, "tag_scheme", "iob2", where));
        if (!scheme || *scheme == TagScheme::Auto) throw Error(where + ": field \"tag_scheme\" is not iob2, iob1, iobes or none");
        out.scheme = *scheme;
        out.base_model = get_field_or<std::string>(c, "base_model", "", where);
    } else {
        PeftAdapter a = PeftAdapter::load(dir);
        const std::string where = a.dir + "/adapter_config.json";
        if (a.task_type != "TOKEN_CLS")
            throw Error(where + ": task_type " + a.task_type + ": this adapter was made for another task than token "
                        "classification (TOKEN_CLS)");
        PromptAdapter p = prompt_adapter_from_peft(a, cfg);
        out.prompt = std::move(p.prompt);
        out.head = std::move(p.head);
        out.notes = std::move(p.notes);
        out.base_model = p.base_model;
        out.label_names = read_peft_labels(dir);
        out.scheme = TagScheme::Auto;   // not recorded: detected from the label names below
    }
    auto w = out.head.find("classifier.weight");
    auto b = out.head.find("classifier.bias");
    if (w == out.head.end() || b == out.head.end())
        throw Error(dir + ": the adapter has no token head (classifier.weight and classifier.bias)");
    if (w->second.dim() != 2 || w->second.size(1) != cfg.hidden_size || b->second.dim() != 1 ||
        b->second.size(0) != w->second.size(0))
        throw Error(dir + ": the token head's classifier.weight is " + dims(w->second) + " and its bias " +
                    dims(b->second) + "; this model needs [tags, " + std::to_string(cfg.hidden_size) + "] and [tags]");
    const int64_t tags = w->second.size(0);
    if (out.label_names.empty())
        for (int64_t i = 0; i < tags; ++i) out.label_names.push_back("LABEL_" + std::to_string(i));
    if ((int64_t)out.label_names.size() != tags)
        throw Error(dir + ": " + std::to_string(out.label_names.size()) + " tag names but the head has " +
                    std::to_string(tags) + " outputs");
    if (out.scheme == TagScheme::Auto) {
        bool entity = true;
        for (const auto& n : out.label_names) entity = entity && is_entity_tag(n);
        out.scheme = entity ? TagScheme::IOB2 : TagScheme::None;
    }
    return out;
}

void write_conll_predictions(const std::string& path, const TaggedDataset& d,
                             const std::vector<std::vector<int>>& predicted, bool with_gold) {
    if (predicted.size() != d.sentences.size())
        throw Error("predictions for " + std::to_string(predicted.size()) + " sentences, the data has " +
                    std::to_string(d.sentences.size()));
    const std::string tmp = path + ".part";
    {
        std::ofstream f(tmp, std::ios::binary);
        if (!f) throw Error(path + ": cannot open for writing");
        int64_t doc = -1;
        for (size_t i = 0; i < d.sentences.size(); ++i) {
            const auto& s = d.sentences[i];
            if (d.documents > 0 && s.document != doc) {
                f << (with_gold ? "-DOCSTART- -X- O\n\n" : "-DOCSTART- O\n\n");
                doc = s.document;
            }
            for (size_t k = 0; k < s.words.size(); ++k) {
                f << s.words[k] << ' ';
                if (with_gold) f << d.label_names[(size_t)s.tags[k]] << ' ';
                f << d.label_names[(size_t)predicted[i][k]] << '\n';
            }
            f << '\n';
        }
        f.flush();
        if (!f) throw Error(path + ": write failed (disk full?)");
    }
    fs::rename(tmp, path);
}

}  // namespace ptune
