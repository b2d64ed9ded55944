#include "experiments/inspection.h"

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <set>

#include "core/engine/encoder.h"
#include "core/engine/qa_task.h"
#include "core/engine/token_cls_task.h"
#include "core/io/tagged_data.h"
#include "core/text/tokenizer.h"
#include "experiments/runner.h"
#include "experiments/spec.h"

namespace ptune {

namespace fs = std::filesystem;

namespace {

struct Source {
    ExperimentSpec spec;
    std::string adapter_dir;
};

Source source_of(const Store& store, int64_t run_id, const std::set<std::string>& tasks = {"token-cls"}) {
    auto rec = store.run(run_id);
    const std::string name = "run " + std::to_string(run_id);
    if (!rec) throw Error(store.path() + ": no run with id " + std::to_string(run_id));
    Source s{ExperimentSpec::from_json(json::parse(rec->spec_json), name), {}};
    if (!tasks.count(s.spec.task))
        throw Error(name + " trained a " + s.spec.task + " model; the inspection shows token classification and "
                    "extractive QA runs");
    for (const auto& a : store.artifacts(run_id))
        if (a.kind == "ptune_adapter") s.adapter_dir = a.path;
    if (s.adapter_dir.empty())
        throw Error(name + " (" + rec->status + ") has no saved adapter" +
                    (rec->status == "failed" ? ": it failed (" + rec->status_reason + ")" : ""));
    if (!fs::exists(fs::path(s.adapter_dir) / "ptune_adapter.json"))
        throw Error(name + ": its adapter directory " + s.adapter_dir + " is gone");
    return s;
}

}  // namespace

std::vector<RunRecord> tagging_runs(const Store& store) {
    std::vector<RunRecord> out;
    for (const RunRecord& r : store.runs()) {
        if (r.spec_json.find("token-cls") == std::string::npos) continue;
        try {
            (void)source_of(store, r.id);
            out.push_back(r);
        } catch (const std::exception&) {
        }
    }
    std::sort(out.begin(), out.end(), [](const RunRecord& a, const RunRecord& b) { return a.id > b.id; });
    return out;
}

TaggingInspection inspect_tagging_run(const Store& store, int64_t run_id, const CancelFlag* cancel) {
    const Source src = source_of(store, run_id);
    const ExperimentSpec& spec = src.spec;
    const std::string model_dir = resolve_model_dir(spec.model);
    ModelConfig cfg = ModelConfig::from_dir(model_dir);
    auto tok = Tokenizer::from_dir(model_dir);
    TokenClsAdapter a = load_token_cls_adapter(src.adapter_dir, cfg);

    // The sentences the run was evaluated on, read with the run's tag names.
    TaggingInspection out;
    out.run_id = run_id;
    TaggedOptions topt = tagged_options(spec.data);
    topt.label_names = a.label_names;
    topt.scheme = a.scheme;
    TaggedDataset d;
    if (!spec.data.valid.empty()) {
        d = load_tagged(spec.data.valid, topt);
        out.data_file = spec.data.valid;
    } else {
        TaggedDataset all = load_tagged(spec.data.train, topt);
        d = split_tagged(all, spec.data.valid_fraction, spec.data.split_seed).second;
        out.data_file = spec.data.train;
        out.held_out = true;
    }
    if (d.sentences.empty()) throw Error("run " + std::to_string(run_id) + " held out no validation sentences");

    auto model = EncoderClassifier::load(model_dir, 2, 0);
    a.apply_backbone(*model);
    TrainOptions o = spec.train;
    o.device = "cpu";
    o.steps = 0;
    o.epochs = 1;
    TokenClsTrainer t(*model, a.prompt.get(), a.delta.get(), (int64_t)a.label_names.size(), o, tok->pad_id(), nullptr, cancel);
    for (auto& [n, v] : a.head) t.set_head_tensor(n, v);
    TokenClsData td = tokenize_tagged(d, *tok, spec.train.max_len, spec.data.label_all_subtokens);
    if (cancel && cancel->is_set()) throw Error("cancelled");
    const auto pred = t.predict(td);
    if (cancel && cancel->is_set()) throw Error("cancelled");
    out.metrics = tagging_metrics(pred, td);
    out.label_names = a.label_names;
    out.tag_scheme = tag_scheme_name(d.scheme);
    std::vector<InspectedSentence> rows;
    for (size_t i = 0; i < d.sentences.size(); ++i) {
        InspectedSentence s;
        s.words = d.sentences[i].words;
        s.line = d.sentences[i].line;
        for (size_t k = 0; k < s.words.size(); ++k) {
            s.gold.push_back(a.label_names[(size_t)d.sentences[i].tags[k]]);
            s.predicted.push_back(a.label_names[(size_t)pred[i][k]]);
            s.wrong_tags += s.gold.back() != s.predicted.back();
        }
        out.sentences_with_errors += s.wrong_tags > 0;
        rows.push_back(std::move(s));
    }
    std::stable_sort(rows.begin(), rows.end(), [](const InspectedSentence& x, const InspectedSentence& y) {
        if ((x.wrong_tags > 0) != (y.wrong_tags > 0)) return x.wrong_tags > 0;
        return x.wrong_tags > y.wrong_tags;
    });
    out.sentences = std::move(rows);
    return out;
}

std::vector<RunRecord> inspectable_runs(const Store& store) {
    std::vector<RunRecord> out;
    for (const RunRecord& r : store.runs()) {
        if (r.spec_json.find("token-cls") == std::string::npos && r.spec_json.find("\"qa\"") == std::string::npos)
            continue;
        try {
            (void)source_of(store, r.id, {"token-cls", "qa"});
            out.push_back(r);
        } catch (const std::exception&) {
        }
    }
    std::sort(out.begin(), out.end(), [](const RunRecord& a, const RunRecord& b) { return a.id > b.id; });
    return out;
}

std::string run_task(const Store& store, int64_t run_id) {
    auto rec = store.run(run_id);
    if (!rec) throw Error(store.path() + ": no run with id " + std::to_string(run_id));
    return ExperimentSpec::from_json(json::parse(rec->spec_json), "run " + std::to_string(run_id)).task;
}

QaInspection inspect_qa_run(const Store& store, int64_t run_id, const CancelFlag* cancel) {
    const Source src = source_of(store, run_id, {"qa"});
    const ExperimentSpec& spec = src.spec;
    const std::string model_dir = resolve_model_dir(spec.model);
    ModelConfig cfg = ModelConfig::from_dir(model_dir);
    auto tok = Tokenizer::from_dir(model_dir);
    QaAdapter a = load_qa_adapter(src.adapter_dir, cfg);

    // The questions the run was evaluated on.
    QaInspection out;
    out.run_id = run_id;
    QaOptions qo;
    qo.on_bad_row = spec.data.on_bad_row == "skip" ? OnBadRow::Skip : OnBadRow::Stop;
    qo.max_examples = spec.data.max_rows;
    QaDataset d;
    if (!spec.data.valid.empty()) {
        d = load_qa(spec.data.valid, qo);
        out.data_file = spec.data.valid;
    } else {
        d = split_qa(load_qa(spec.data.train, qo), spec.data.valid_fraction, spec.data.split_seed).second;
        out.data_file = spec.data.train;
        out.held_out = true;
    }
    if (d.examples.empty()) throw Error("run " + std::to_string(run_id) + " held out no validation questions");
    d.version2 = d.version2 || a.decode.version2;
    out.version2 = d.version2;

    auto model = EncoderClassifier::load(model_dir, 2, 0);
    a.apply_backbone(*model);
    TrainOptions o = spec.train;
    o.device = "cpu";
    o.steps = 0;
    o.epochs = 1;
    QaTrainer t(*model, a.prompt.get(), a.delta.get(), o, a.decode, tok->pad_id(), nullptr, cancel);
    for (auto& [n, v] : a.head) t.set_head_tensor(n, v);
    QaData qd = prepare_qa(std::move(d), *tok, a.features);
    if (cancel && cancel->is_set()) throw Error("cancelled");
    const auto answers = t.predict(qd);
    if (cancel && cancel->is_set()) throw Error("cancelled");
    out.metrics = qa_metrics(score_qa(qd.examples, answers), out.version2);
    const SquadVersion v = out.version2 ? SquadVersion::V2 : SquadVersion::V1;
    std::vector<InspectedQuestion> rows;
    for (size_t i = 0; i < qd.examples.examples.size(); ++i) {
        const QaExample& e = qd.examples.examples[i];
        InspectedQuestion r;
        r.id = e.id;
        r.question = e.question;
        r.context = qd.examples.context_of(e);
        r.predicted = answers[i].text;
        r.pred_start = answers[i].start;
        r.pred_end = answers[i].end;
        r.null_odds = answers[i].null_odds;
        r.index = i;
        // The script's per-question scores: the best over the gold texts (2.0: those with words, else "").
        std::vector<std::string> golds;
        for (const QaAnswer& x : e.answers) {
            r.gold.emplace_back(x.start, x.start + (int64_t)x.text.size());
            if (v == SquadVersion::V1 || !squad_normalize_answer(x.text).empty()) golds.push_back(x.text);
        }
        if (golds.empty() && v == SquadVersion::V2) golds.push_back("");
        for (const std::string& g : golds) {
            r.exact = std::max(r.exact, squad_exact(g, r.predicted));
            r.f1 = std::max(r.f1, squad_f1(g, r.predicted, v));
        }
        out.wrong += r.exact == 0;
        rows.push_back(std::move(r));
    }
    std::stable_sort(rows.begin(), rows.end(), [](const InspectedQuestion& x, const InspectedQuestion& y) {
        if ((x.exact == 0) != (y.exact == 0)) return x.exact == 0;
        return x.exact == 0 && x.f1 < y.f1;
    });
    out.questions = std::move(rows);
    return out;
}

}  // namespace ptune
