#include "core/engine/token_cls_task.h"

#include <filesystem>
#include <fstream>
#include <numeric>

#include "core/engine/tensor_io.h"

namespace ptune {

namespace {

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
    : EncoderHead(model, prompt, method, "classifier", num_tags,
                  model.config().classifier_dropout.value_or(model.config().hidden_dropout), opt, pad_id, events,
                  cancel) {}

at::Tensor TokenClsTrainer::logits(const TokenClsData& d, const std::vector<size_t>& order, size_t begin, size_t end,
                                   bool training, at::Tensor* labels) const {
    std::vector<std::vector<int64_t>> ids;
    for (size_t i = begin; i < end; ++i) ids.push_back(d.windows[order[i]].ids);
    at::Tensor lg = head_logits(ids, {}, training);
    if (labels) {
        *labels = at::full({lg.size(0), lg.size(1)}, -100, at::kLong);
        auto la = labels->accessor<int64_t, 2>();
        for (int64_t r = 0; r < lg.size(0); ++r) {
            const auto& w = d.windows[order[begin + (size_t)r]];
            for (size_t k = 0; k < w.labels.size(); ++k) la[r][(int64_t)k] = w.labels[k];
        }
        *labels = labels->to(device_);
    }
    return lg;
}

TrainResult TokenClsTrainer::train(const TokenClsData& train, const TokenClsData* valid) {
    if (train.size() == 0) throw Error("the training set has no sentences");
    LoopHooks h = hooks();
    h.rows = train.size();
    h.batch_loss = [&](const std::vector<size_t>& order, size_t begin, size_t end) {
        at::Tensor labels;
        at::Tensor lg = logits(train, order, begin, end, true, &labels);
        return at::cross_entropy_loss(lg.reshape({-1, lg.size(2)}), labels.reshape({-1}), {}, at::Reduction::Mean, -100);
    };
    if (valid && valid->size() > 0) h.evaluate = [&](int64_t) { return evaluate(*valid); };
    return run(h);
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

namespace {
const HeadAdapterKind kTokenClsKind{"token-cls", "TOKEN_CLS", "token classification", {"classifier", "score"}};
}  // namespace

void export_token_cls(const std::string& dir, const TokenClsTrainer& trainer, const DeltaOptions& options,
                      const std::vector<std::string>& label_names, TagScheme scheme, const std::string& base_model,
                      std::string* why_no_peft) {
    const json extra = {{"num_labels", (int64_t)label_names.size()},
                        {"labels", label_names},
                        {"tag_scheme", tag_scheme_name(scheme)}};
    write_head_adapter(dir, kTokenClsKind, trainer, options, extra, base_model, &label_names, why_no_peft);
}

bool is_token_cls_adapter_dir(const std::string& dir) { return is_head_adapter_dir(dir, kTokenClsKind); }

TokenClsAdapter load_token_cls_adapter(const std::string& dir, const ModelConfig& cfg) {
    TokenClsAdapter out;
    static_cast<HeadAdapter&>(out) = read_head_adapter(dir, kTokenClsKind, cfg, "classifier", 0);
    const HeadAdapter& h = out;
    if (!h.config.is_null()) {
        out.label_names = get_field<std::vector<std::string>>(h.config, "labels", h.where);
        const auto scheme = parse_tag_scheme(get_field_or<std::string>(h.config, "tag_scheme", "iob2", h.where));
        if (!scheme || *scheme == TagScheme::Auto)
            throw Error(h.where + ": field \"tag_scheme\" is not iob2, iob1, iobes or none");
        out.scheme = *scheme;
    } else {
        out.label_names = read_peft_labels(dir);
        out.scheme = TagScheme::Auto;   // not recorded: detected from the label names below
    }
    const int64_t tags = out.head.at("classifier.weight").size(0);
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
