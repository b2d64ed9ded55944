#include "core/engine/choice_task.h"

#include <cmath>
#include <limits>
#include <numeric>

namespace ptune {

ChoiceData prepare_choice(ChoiceDataset d, const Tokenizer& tok, int64_t max_len) {
    ChoiceData out;
    out.ids.reserve(d.examples.size());
    out.type_ids.reserve(d.examples.size());
    for (const ChoiceExample& e : d.examples) {
        std::vector<std::vector<int64_t>> ids, types;
        for (const std::string& c : e.choices) {
            Encoding enc = tok.encode(e.context, c, true, 0);
            if (max_len > 0 && (int64_t)enc.ids.size() > max_len) {
                ++out.truncated_pairs;
                enc = tok.encode(e.context, c, true, (int)max_len);
            }
            ids.push_back(std::move(enc.ids));
            types.push_back(std::move(enc.type_ids));
        }
        out.ids.push_back(std::move(ids));
        out.type_ids.push_back(std::move(types));
    }
    out.examples = std::move(d);
    return out;
}

namespace {
EncoderClassifier& with_pooler(EncoderClassifier& m) {
    m.ensure_pooler();
    return m;
}
}  // namespace

ChoiceTrainer::ChoiceTrainer(EncoderClassifier& model, DeepPrompt* prompt, DeltaMethod* method,
                             const TrainOptions& opt, int64_t pad_id, TrainEvents* events, const CancelFlag* cancel)
    : EncoderHead(with_pooler(model), prompt, method, "classifier", 1, 0.0, opt, pad_id, events, cancel),
      dropout_(model.config().classifier_dropout.value_or(model.config().hidden_dropout)) {}

at::Tensor ChoiceTrainer::batch_scores(const ChoiceData& d, const std::vector<size_t>& order, size_t begin,
                                       size_t end, bool training) const {
    std::vector<std::vector<int64_t>> ids, types;
    for (size_t i = begin; i < end; ++i) {
        const size_t q = order[i];
        for (size_t c = 0; c < d.ids[q].size(); ++c) {
            ids.push_back(d.ids[q][c]);
            types.push_back(d.type_ids[q][c]);
        }
    }
    at::Tensor pooled = model_.pool(encode_rows(ids, types, training));   // [rows, H]
    if (dropout_ > 0) pooled = at::dropout(pooled, dropout_, training);
    return apply_head(pooled).squeeze(1);                                 // [rows]
}

at::Tensor ChoiceTrainer::batch_loss(const ChoiceData& d, const std::vector<size_t>& order, size_t begin,
                                     size_t end, bool training) const {
    const at::Tensor s = batch_scores(d, order, begin, end, training);
    std::vector<at::Tensor> losses;
    int64_t at = 0;
    for (size_t i = begin; i < end; ++i) {
        const ChoiceExample& e = d.examples.examples[order[i]];
        const int64_t n = (int64_t)e.choices.size();
        if (e.label < 0) throw Error("question " + e.id + " has no label (the right choice) to train on");
        losses.push_back(-at::log_softmax(s.narrow(0, at, n), 0).select(0, e.label));
        at += n;
    }
    return at::stack(losses).mean();
}

TrainResult ChoiceTrainer::train(const ChoiceData& train, const ChoiceData* valid) {
    if (train.size() == 0) throw Error("the training set has no questions");
    LoopHooks h = hooks();
    h.rows = train.size();
    h.batch_loss = [&](const std::vector<size_t>& order, size_t begin, size_t end) {
        return batch_loss(train, order, begin, end, true);
    };
    if (valid && valid->size() > 0) h.evaluate = [&](int64_t) { return evaluate(*valid); };
    return run(h);
}

std::vector<std::vector<float>> ChoiceTrainer::scores(const ChoiceData& d) const {
    at::NoGradGuard g;
    std::vector<std::vector<float>> out(d.size());
    std::vector<size_t> order(d.size());
    std::iota(order.begin(), order.end(), size_t{0});
    const size_t bs = (size_t)opt_.batch_size;
    for (size_t b = 0; b < d.size(); b += bs) {
        const size_t e = std::min(d.size(), b + bs);
        const at::Tensor s = batch_scores(d, order, b, e, false).to(at::kCPU).contiguous();
        const float* p = s.data_ptr<float>();
        for (size_t q = b; q < e; ++q) {
            const size_t n = d.ids[q].size();
            out[q].assign(p, p + n);
            p += n;
        }
    }
    return out;
}

std::vector<ChoicePrediction> ChoiceTrainer::predict(const ChoiceData& d) const {
    const std::vector<std::vector<float>> s = scores(d);
    std::vector<ChoicePrediction> out(d.size());
    for (size_t q = 0; q < d.size(); ++q) {
        ChoicePrediction& p = out[q];
        p.id = d.examples.examples[q].id;
        p.label = d.examples.examples[q].label;
        double mx = -std::numeric_limits<double>::infinity();
        for (size_t c = 0; c < s[q].size(); ++c)
            if (s[q][c] > mx) {
                mx = s[q][c];
                p.predicted = (int64_t)c;
            }
        double sum = 0;
        for (float v : s[q]) sum += std::exp((double)v - mx);
        for (float v : s[q]) p.probabilities.push_back(std::exp((double)v - mx) / sum);
    }
    return out;
}

double choice_accuracy(const std::vector<ChoicePrediction>& p) {
    int64_t n = 0, right = 0;
    for (const auto& x : p) {
        if (x.label < 0) continue;
        ++n;
        right += x.predicted == x.label;
    }
    return n ? (double)right / (double)n : std::numeric_limits<double>::quiet_NaN();
}

std::map<std::string, double> ChoiceTrainer::evaluate(const ChoiceData& d) const {
    if (d.size() == 0) return {};
    const double loss = mean_loss(d.size(), [&](const std::vector<size_t>& order, size_t b, size_t e) {
        return batch_loss(d, order, b, e, false);
    });
    return {{"loss", loss}, {"accuracy", choice_accuracy(predict(d))}};
}

namespace {
const HeadAdapterKind kChoiceKind{"choice", "", "multiple choice", {"classifier"}};
}  // namespace

void export_choice(const std::string& dir, const ChoiceTrainer& trainer, const DeltaOptions& options, int64_t max_len,
                   const std::string& base_model, std::string* why_no_peft) {
    write_head_adapter(dir, kChoiceKind, trainer, options, json{{"max_len", max_len}}, base_model, nullptr, why_no_peft);
}

bool is_choice_adapter_dir(const std::string& dir) { return is_head_adapter_dir(dir, kChoiceKind); }

ChoiceAdapter load_choice_adapter(const std::string& dir, const ModelConfig& cfg) {
    ChoiceAdapter out;
    static_cast<HeadAdapter&>(out) = read_head_adapter(dir, kChoiceKind, cfg, "classifier", 1);
    out.max_len = get_field_or<int64_t>(out.config, "max_len", out.max_len, out.where);
    if (out.max_len < 1) throw Error(out.where + ": field \"max_len\" must be at least 1");
    return out;
}

void write_choice_predictions(const std::string& path, const std::vector<ChoicePrediction>& p) {
    std::string text;
    for (const ChoicePrediction& x : p) {
        nlohmann::ordered_json j;
        j["id"] = x.id;
        j["label"] = x.label >= 0 ? nlohmann::ordered_json(x.label) : nlohmann::ordered_json(nullptr);
        j["prediction"] = x.predicted;
        j["probabilities"] = x.probabilities;
        text += j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    }
    write_text_file(path, text);
}

}  // namespace ptune
