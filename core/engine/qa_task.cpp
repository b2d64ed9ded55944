#include "core/engine/qa_task.h"

#include <numeric>

namespace ptune {

QaData prepare_qa(QaDataset d, const Tokenizer& tok, const QaFeatureOptions& opt) {
    QaData out;
    out.features = make_qa_features(d, tok, opt);
    out.examples = std::move(d);
    return out;
}

SquadEval score_qa(const QaDataset& d, const std::vector<QaAnswerPrediction>& answers) {
    std::vector<SquadGold> gold;
    gold.reserve(d.examples.size());
    for (const QaExample& e : d.examples) {
        SquadGold g;
        g.id = e.id;
        for (const QaAnswer& a : e.answers) g.answers.push_back(a.text);
        gold.push_back(std::move(g));
    }
    std::map<std::string, std::string> pred;
    for (const QaAnswerPrediction& p : answers) pred[p.id] = p.text;
    return evaluate_squad(gold, pred, d.version2 ? SquadVersion::V2 : SquadVersion::V1, nullptr);
}

std::map<std::string, double> qa_metrics(const SquadEval& e, bool version2) {
    std::map<std::string, double> m;
    m["exact_match"] = e.exact / 100.0;
    m["qa_f1"] = e.f1 / 100.0;
    if (version2) {
        if (e.has_ans_total > 0) {
            m["has_ans_exact_match"] = e.has_ans_exact / 100.0;
            m["has_ans_f1"] = e.has_ans_f1 / 100.0;
        }
        if (e.no_ans_total > 0) m["no_ans_accuracy"] = e.no_ans_exact / 100.0;
    }
    return m;
}

QaTrainer::QaTrainer(EncoderClassifier& model, DeepPrompt* prompt, DeltaMethod* method, const TrainOptions& opt,
                     const QaDecodeOptions& decode, int64_t pad_id, TrainEvents* events, const CancelFlag* cancel)
    : EncoderHead(model, prompt, method, "qa_outputs", 2, 0.0, opt, pad_id, events, cancel), decode_(decode) {}

std::pair<at::Tensor, at::Tensor> QaTrainer::batch_logits(const QaData& d, const std::vector<size_t>& order,
                                                          size_t begin, size_t end, bool training) const {
    std::vector<std::vector<int64_t>> ids, types;
    for (size_t i = begin; i < end; ++i) {
        ids.push_back(d.features.features[order[i]].ids);
        types.push_back(d.features.features[order[i]].type_ids);
    }
    at::Tensor lg = head_logits(ids, types, training);   // [B, n, 2]
    return {lg.select(2, 0), lg.select(2, 1)};
}

at::Tensor QaTrainer::batch_loss(const QaData& d, const std::vector<size_t>& order, size_t begin, size_t end,
                                 bool training) const {
    auto [s, e] = batch_logits(d, order, begin, end, training);
    std::vector<int64_t> sp, ep;
    for (size_t i = begin; i < end; ++i) {
        sp.push_back(d.features.features[order[i]].start_label);
        ep.push_back(d.features.features[order[i]].end_label);
    }
    const at::Tensor st = at::tensor(sp, at::kLong).to(device_), et = at::tensor(ep, at::kLong).to(device_);
    return (at::cross_entropy_loss(s, st) + at::cross_entropy_loss(e, et)) / 2;
}

TrainResult QaTrainer::train(const QaData& train, const QaData* valid) {
    if (train.size() == 0) throw Error("the training set has no questions");
    LoopHooks h = hooks();
    h.rows = train.size();
    h.batch_loss = [&](const std::vector<size_t>& order, size_t begin, size_t end) {
        return batch_loss(train, order, begin, end, true);
    };
    if (valid && valid->size() > 0) h.evaluate = [&](int64_t) { return evaluate(*valid); };
    return run(h);
}

void QaTrainer::logits(const QaData& d, std::vector<std::vector<float>>& start,
                       std::vector<std::vector<float>>& end) const {
    at::NoGradGuard g;
    start.assign(d.size(), {});
    end.assign(d.size(), {});
    std::vector<size_t> order(d.size());
    std::iota(order.begin(), order.end(), size_t{0});
    const size_t bs = (size_t)opt_.batch_size;
    for (size_t b = 0; b < d.size(); b += bs) {
        const size_t e = std::min(d.size(), b + bs);
        auto [s, en] = batch_logits(d, order, b, e, false);
        const at::Tensor sc = s.to(at::kCPU).contiguous(), ec = en.to(at::kCPU).contiguous();
        for (size_t r = b; r < e; ++r) {
            const int64_t n = (int64_t)d.features.features[r].ids.size();
            const float* sp = sc.data_ptr<float>() + (int64_t)(r - b) * sc.size(1);
            const float* ep = ec.data_ptr<float>() + (int64_t)(r - b) * ec.size(1);
            start[r].assign(sp, sp + n);
            end[r].assign(ep, ep + n);
        }
    }
}

std::vector<QaAnswerPrediction> QaTrainer::predict(const QaData& d) const {
    std::vector<std::vector<float>> s, e;
    logits(d, s, e);
    QaDecodeOptions o = decode_;
    o.version2 = d.examples.version2;
    return decode_qa(d.examples, d.features, s, e, o);
}

std::map<std::string, double> QaTrainer::evaluate(const QaData& d) const {
    if (d.size() == 0) return {};
    std::map<std::string, double> m = qa_metrics(score_qa(d.examples, predict(d)), d.examples.version2);
    m["loss"] = mean_loss(d.size(), [&](const std::vector<size_t>& order, size_t b, size_t e) {
        return batch_loss(d, order, b, e, false);
    });
    return m;
}

namespace {
const HeadAdapterKind kQaKind{"qa", "QUESTION_ANS", "extractive question answering", {"qa_outputs"}};
}  // namespace

void export_qa(const std::string& dir, const QaTrainer& trainer, const DeltaOptions& options,
               const QaFeatureOptions& features, const std::string& base_model, std::string* why_no_peft) {
    const QaDecodeOptions& d = trainer.decode_options();
    const json extra = {{"max_len", features.max_len},
                        {"doc_stride", features.doc_stride},
                        {"max_question_len", features.max_question_len},
                        {"n_best", d.n_best},
                        {"max_answer_len", d.max_answer_len},
                        {"version_2_with_negative", d.version2},
                        {"null_score_diff_threshold", d.null_threshold}};
    write_head_adapter(dir, kQaKind, trainer, options, extra, base_model, nullptr, why_no_peft);
}

bool is_qa_adapter_dir(const std::string& dir) { return is_head_adapter_dir(dir, kQaKind); }

QaAdapter load_qa_adapter(const std::string& dir, const ModelConfig& cfg) {
    QaAdapter out;
    static_cast<HeadAdapter&>(out) = read_head_adapter(dir, kQaKind, cfg, "qa_outputs", 2);
    const HeadAdapter& h = out;
    if (!h.config.is_null()) {
        const json& c = h.config;
        out.features.max_len = get_field_or<int64_t>(c, "max_len", out.features.max_len, h.where);
        out.features.doc_stride = get_field_or<int64_t>(c, "doc_stride", out.features.doc_stride, h.where);
        out.features.max_question_len =
            get_field_or<int64_t>(c, "max_question_len", out.features.max_question_len, h.where);
        out.decode.n_best = get_field_or<int64_t>(c, "n_best", out.decode.n_best, h.where);
        out.decode.max_answer_len = get_field_or<int64_t>(c, "max_answer_len", out.decode.max_answer_len, h.where);
        out.decode.version2 = get_field_or<bool>(c, "version_2_with_negative", false, h.where);
        out.decode.null_threshold = get_field_or<double>(c, "null_score_diff_threshold", 0.0, h.where);
    }
    return out;
}

namespace {
void write_ordered(const std::string& path, const nlohmann::ordered_json& j) {
    write_text_file(path, j.dump(4, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
}
}  // namespace

void write_qa_predictions(const std::string& path, const std::vector<QaAnswerPrediction>& answers) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const QaAnswerPrediction& p : answers) j[p.id] = p.text;
    write_ordered(path, j);
}

void write_qa_null_odds(const std::string& path, const std::vector<QaAnswerPrediction>& answers) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const QaAnswerPrediction& p : answers) j[p.id] = p.null_odds;
    write_ordered(path, j);
}

}  // namespace ptune
