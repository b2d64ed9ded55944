#include "experiments/runner.h"

#include "experiments/generation.h"

#include <chrono>
#include <cstdlib>
#include <new>
#include <optional>
#include <filesystem>
#include <set>
#include <sys/utsname.h>

#include "core/engine/builtin.h"
#include "core/engine/causal_lm_task.h"
#include "core/engine/choice_task.h"
#include "core/engine/qa_task.h"
#include "core/engine/token_cls_task.h"
#include "core/eval/entity_metrics.h"
#include "core/engine/decoder.h"
#include "core/engine/methods.h"
#include "core/engine/deep_prompt.h"
#include "core/engine/devices.h"
#include "core/engine/encoder.h"
#include "core/engine/memory.h"
#include "core/engine/peft_io.h"
#include "core/engine/trainer.h"
#include "core/io/safetensors.h"
#include "core/text/tokenizer.h"

namespace fs = std::filesystem;

namespace ptune {

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool generic_labels(const std::vector<std::string>& names) {
    for (size_t i = 0; i < names.size(); ++i)
        if (names[i] != "LABEL_" + std::to_string(i)) return false;
    return true;
}

// The stored metrics; with two labels also "positive_label", the label whose F1 is "f1_pos" (a string: readers of
// the numbers skip it, see parse_metrics_json).
json metrics_json(const std::map<std::string, double>& m, const std::string& positive_label = "") {
    json j = json::object();
    for (auto& [k, v] : m) j[k] = v;
    if (!positive_label.empty() && m.count("f1_pos")) j["positive_label"] = positive_label;
    return j;
}

// Streams trainer events into the store in batches and passes them on to the observer.
class StoreSink : public TrainEvents {
public:
    StoreSink(Store& store, int64_t run, RunObserver* obs) : store_(store), run_(run), obs_(obs) {}
    ~StoreSink() override {
        try {
            flush();
        } catch (...) {
        }
    }
    void on_start(int64_t total, int64_t per_epoch) override {
        if (obs_) obs_->on_start(total, per_epoch);
    }
    void on_step(const StepEvent& e) override {
        for (auto [k, v] : {std::pair<const char*, double>{"train/loss", e.loss},
                            {"train/lr", e.lr},
                            {"train/grad_norm", e.grad_norm},
                            {"train/samples_per_s", e.samples_per_s}})
            points_.push_back({e.step, e.epoch, e.elapsed_s, k, v});
        if (obs_) obs_->on_step(e);
        maybe_flush();
    }
    void on_eval(const EvalEvent& e) override {
        for (auto& [k, v] : e.metrics) points_.push_back({e.step, e.epoch, e.elapsed_s, "eval/" + k, v});
        flush();
        if (obs_) {
            EvalEvent named = e;
            if (named.positive_label.empty()) named.positive_label = positive_label;
            obs_->on_eval(named);
        }
    }
    std::string positive_label;   // two labels: label 1's name
    void on_prompt_norms(const PromptNormEvent& e) override {
        for (size_t i = 0; i < e.layers.size(); ++i) norms_.push_back({e.step, e.layers[i], e.key_norms[i], e.value_norms[i]});
        if (obs_) obs_->on_prompt_norms(e);
    }
    void on_message(const std::string& m) override {
        if (obs_) obs_->on_message(m);
    }
    void on_samples(const SampleEvent& e) override {
        std::vector<SampleRow> rows;
        for (size_t i = 0; i < e.samples.size(); ++i) {
            const GenerationSample& g = e.samples[i];
            rows.push_back({e.step, (int)i, g.prompt, g.target, g.base, g.adapted});
        }
        if (!rows.empty()) store_.add_samples(run_, rows);
        if (obs_) obs_->on_samples(e);
    }
    void flush() {
        if (!points_.empty()) store_.add_metrics(run_, points_);
        if (!norms_.empty()) store_.add_prompt_norms(run_, norms_);
        points_.clear();
        norms_.clear();
        last_flush_ = std::chrono::steady_clock::now();
    }

private:
    void maybe_flush() {
        if (points_.size() >= 400 || std::chrono::steady_clock::now() - last_flush_ > std::chrono::milliseconds(500)) flush();
    }
    Store& store_;
    int64_t run_;
    RunObserver* obs_;
    std::vector<MetricPoint> points_;
    std::vector<PromptNormRow> norms_;
    std::chrono::steady_clock::time_point last_flush_ = std::chrono::steady_clock::now();
};

struct DataFiles {
    std::string train, valid;
};

DataFiles resolve_data(const DataSpec& d) {
    DataFiles f{d.train, d.valid};
    if (d.train == "builtin") {
        std::string dir = builtin_dir() + "/data";
        f.train = dir + "/train.tsv";
        if (d.valid.empty()) f.valid = dir + "/valid.tsv";
    }
    return f;
}

DataOptions data_options(const DataSpec& d) {
    DataOptions o;
    if (d.format != "auto") o.format = *parse_data_format(d.format);
    o.text_column = d.text_column;
    o.text_pair_column = d.text_pair_column;
    o.label_column = d.label_column;
    o.on_bad_row = d.on_bad_row == "skip" ? OnBadRow::Skip : OnBadRow::Stop;
    o.max_rows = d.max_rows;
    return o;
}

// A run's training and validation rows: the validation file, or a split of the training data. Bad rows skipped in
// the training file are said through `message`. `valid_labels`: the label names the validation file is read with.
struct TrainValid {
    Dataset train, valid;
    bool have_valid = false;
};
TrainValid load_train_valid(const DataSpec& d, const DataFiles& files, Dataset train, const DataOptions& valid_opt,
                            const std::function<void(const std::string&)>& message) {
    TrainValid tv;
    if (!train.bad_rows.empty())
        message(std::to_string(train.bad_rows.size()) + " bad rows skipped in " + files.train + " (first: line " +
                std::to_string(train.bad_rows[0].line) + ": " + train.bad_rows[0].reason + ")");
    if (!files.valid.empty()) {
        tv.valid = load_dataset(files.valid, valid_opt);
        tv.have_valid = true;
    } else if (d.valid_fraction > 0) {
        auto split = split_dataset(train, d.valid_fraction, d.split_seed);
        train = std::move(split.first);
        tv.valid = std::move(split.second);
        tv.have_valid = !tv.valid.rows.empty();
    }
    tv.train = std::move(train);
    return tv;
}

// Where a run's adapter goes: the spec's out_dir itself, else <db folder>/<db name>-runs/run-<id>/adapter.
std::string adapter_dir_for(const Store& store, const ExperimentSpec& spec, int64_t id) {
    if (!spec.out_dir.empty()) return spec.out_dir;
    fs::path db = fs::absolute(store.path());
    return (db.parent_path() / (db.stem().string() + "-runs") / ("run-" + std::to_string(id)) / "adapter").string();
}

// Said once by a run that PEFT could express but for a pooler ptune drew at random.
std::string no_peft_files(const std::string& dir) {
    return std::string("no PEFT files written to ") + dir + ": " + kRandomPoolerNoPeft + ". ptune's own adapter there " +
           "keeps the pooler: `ptune predict --adapter " + dir + "` reads it";
}

// A run's failure as the user reads it: c10's backtrace cut off; running out of memory (std::bad_alloc, the CPU
// allocator's "can't allocate memory", CUDA's "out of memory") said as such, with what to change.

std::string failure_message(const std::exception& e, const std::string& device) {
    std::string what = e.what();
    if (auto nl = what.find("\nException raised from"); nl != std::string::npos) what = what.substr(0, nl);
    const bool oom = dynamic_cast<const std::bad_alloc*>(&e) != nullptr || what.find("out of memory") != std::string::npos ||
                     what.find("can't allocate memory") != std::string::npos;
    if (!oom) return what;
    return "out of memory on " + (device.empty() ? std::string("cpu") : device) +
           ": lower the batch size, the max length, the prompt length or the MLP size, or use a device with more "
           "memory (" + what + ")";
}

std::string method_label(const ExperimentSpec& s) {
    if (s.method.name != "ptv2") return s.method.name;
    return s.method.prefix.mlp ? "prefix-mlp" : "ptv2";
}


// Another method's starting adapter (spec.method.init_adapter), checked before anything is trained: ptune's format
// (every tensor, P-tuning's encoder too) or PEFT's PROMPT_TUNING / LORA / IA3 files.
struct MethodStart {
    std::string dir;
    bool ptune = false;                    // ptune's format, else PEFT's
    std::vector<std::string> label_names;  // empty: PEFT's, numbered as the model's id2label
    bool has_head = false;
};

MethodStart check_method_start(const ExperimentSpec& spec) {
    const std::string& dir = spec.method.init_adapter;
    const std::string& m = spec.method.name;
    MethodStart st;
    st.dir = dir;
    if (is_method_adapter_dir(dir)) {
        const std::string where = (fs::path(dir) / "ptune_adapter.json").string();
        const json c = read_json_file(where);
        const std::string am = c.value("method", std::string());
        if (am != m) throw Error(where + ": method: a " + am + " adapter cannot start a " + m + " run");
        if (spec.method.uses_prompt_len() && c.value("prompt_len", int64_t(0)) != spec.method.prefix.prompt_len)
            throw Error(where + ": prompt_len: the adapter has P = " + std::to_string(c.value("prompt_len", int64_t(0))) +
                        ", the run P = " + std::to_string(spec.method.prefix.prompt_len));
        // The options that shape the tensors or what they compute must be the run's (not the initialisation's).
        DeltaOptions theirs = delta_options_from_json(c.value("options", json::object()), where + ": options");
        DeltaOptions ours = spec.method.delta;
        theirs.prompt_init = ours.prompt_init;
        theirs.prompt_init_text = ours.prompt_init_text;
        const json a = delta_options_to_json(m, theirs), b = delta_options_to_json(m, ours);
        for (auto it = a.begin(); it != a.end(); ++it)
            if (!b.contains(it.key()) || b[it.key()] != it.value())
                throw Error(where + ": options." + it.key() + ": the adapter was trained with " + it.value().dump() +
                            ", the run sets " + (b.contains(it.key()) ? b[it.key()].dump() : std::string("nothing")));
        st.ptune = true;
        st.label_names = c.value("label_names", std::vector<std::string>{});
        st.has_head = true;   // export_method always writes the head
        return st;
    }
    if (fs::exists(fs::path(dir) / "ptune_adapter.json"))
        throw Error((fs::path(dir) / "ptune_adapter.json").string() + ": a P-Tuning v2 adapter cannot start a " + m + " run");
    if (is_peft_delta_dir(dir)) {
        const PeftAdapter a = PeftAdapter::load(dir);
        const std::string where = (fs::path(dir) / "adapter_config.json").string();
        if (a.peft_type == "P_TUNING" && m == "ptuning")
            throw Error(where + ": P_TUNING: PEFT's file holds the prompt encoder's output, not the encoder, so P-tuning "
                        "cannot resume from it; start from the run's own adapter (ptune_adapter.json beside it)");
        const std::map<std::string, std::string> types{{"prompt", "PROMPT_TUNING"}, {"lora", "LORA"}, {"ia3", "IA3"}};
        auto t = types.find(m);
        if (t == types.end() || t->second != a.peft_type)
            throw Error(where + ": peft_type " + a.peft_type + " cannot start a " + m + " run");
        if (m == "lora") {
            const auto& d = spec.method.delta;
            if (get_field<int64_t>(a.config, "r", where) != d.lora_r || get_field<double>(a.config, "lora_alpha", where) != d.lora_alpha ||
                get_field_or<bool>(a.config, "use_rslora", false, where) != d.rslora)
                throw Error(where + ": r, lora_alpha and use_rslora must be the run's (r " + std::to_string(d.lora_r) +
                            ", alpha " + std::to_string(d.lora_alpha) + ")");
        }
        if (m == "prompt" && get_field<int64_t>(a.config, "num_virtual_tokens", where) != spec.method.prefix.prompt_len)
            throw Error(where + ": num_virtual_tokens: the adapter has " +
                        std::to_string(get_field<int64_t>(a.config, "num_virtual_tokens", where)) + ", the run P = " +
                        std::to_string(spec.method.prefix.prompt_len));
        st.label_names = read_peft_labels(dir);
        st.has_head = !a.head_tensors().empty();
        return st;
    }
    throw Error(dir + ": not an adapter directory (no ptune_adapter.json or adapter_config.json)");
}

// Puts a checked starting adapter's tensors into the run's method, its head when `with_head`, and for full
// fine-tuning its backbone. Every tensor of the method must come from the adapter.
void apply_method_start(const MethodStart& st, const ExperimentSpec& spec, DeltaMethod* delta, EncoderClassifier& model,
                        bool with_head) {
    std::map<std::string, at::Tensor> have;
    if (st.ptune) {
        MethodAdapter a = load_method_adapter(st.dir, model);
        if (a.delta)
            for (auto& [n, t] : a.delta->parameters()) have[n] = t;
        if (!with_head) a.head.clear();
        apply_method_adapter(model, a);   // the head, and full fine-tuning's backbone
    } else {
        PeftDelta d = peft_delta_from(PeftAdapter::load(st.dir), model.config());
        have = delta_parameters_of(d);
        if (with_head && !d.head.empty()) apply_head(model, d.head);
    }
    if (!delta) return;
    for (auto& [n, t] : delta->parameters()) {
        auto it = have.find(n);
        if (it == have.end() || it->second.sizes() != t.sizes())
            throw Error(st.dir + ": has no " + n + " of this run's shape: the adapter was trained on other modules or "
                        "with other " + spec.method.name + " options");
        delta->set_parameter(n, it->second);
    }
    if (have.size() != delta->parameters().size())
        throw Error(st.dir + ": the adapter holds tensors this run's " + spec.method.name + " options do not train "
                    "(other target modules?)");
}

// The outcome of a finished training (status, metrics, why it stopped early or failed), recorded in `out`; returns
// the reason stored with the run.
std::string conclude(RunOutcome& out, const TrainResult& res, const std::string& dir,
                     const std::function<void(const std::string&)>& message) {
    out.adapter_dir = dir;
    out.steps = res.steps_done;
    out.final_metrics = res.final_metrics;
    out.best_metrics = res.best_metrics;
    out.best_step = res.best_step;
    out.status = res.status == "cancelled" ? "cancelled" : res.status == "failed" ? "failed" : "completed";
    if (res.status == "early_stopped") message("stopped early at step " + std::to_string(res.steps_done));
    std::string reason = res.status == "early_stopped" ? "early stopping" : "";
    if (res.status == "failed") {
        reason = res.error + "; the adapter holds the best evaluated state (step " + std::to_string(res.best_step) + ")";
        out.reason = reason;
    }
    return reason;
}

// Task causal-lm: a causal LM and a P-Tuning v2 prefix (PEFT's decoder layout) trained to generate each row's
// target after its prompt; the adapter is written in PEFT's format (task_type CAUSAL_LM).
TrainResult train_causal_lm(const ExperimentSpec& spec, const std::string& model_dir, const std::string& adapter_dir,
                            Store& store, RunOutcome& out, StoreSink& sink, const CancelFlag* cancel,
                            const std::function<void(const std::string&)>& message) {
    auto model = CausalLM::load(model_dir);
    auto tok = Tokenizer::from_dir(model_dir);
    std::unique_ptr<DeepPrompt> prompt;
    if (!spec.method.init_adapter.empty()) {
        PromptAdapter a = load_decoder_prefix(spec.method.init_adapter, model->prefix_geometry());
        for (auto& n : a.notes) message(n);
        prompt = std::move(a.prompt);
        message("started from " + spec.method.init_adapter + " (its prefix)");
    } else {
        prompt = std::make_unique<DeepPrompt>(model->prefix_geometry(), spec.method.prefix, spec.train.seed);
    }
    const DecoderSpec& ds = model->spec();
    if (ds.positions == PositionKind::Learned && spec.train.max_len + prompt->prompt_len() > ds.max_positions)
        throw Error("max length " + std::to_string(spec.train.max_len) + " + prompt length " +
                    std::to_string(prompt->prompt_len()) + " exceeds the model's " + std::to_string(ds.max_positions) +
                    " positions (n_positions in config.json): the real tokens take positions after the prefix");
    DataFiles files = resolve_data(spec.data);
    DataOptions dopt = data_options(spec.data);
    if (!spec.data.target_column.empty()) dopt.label_column = spec.data.target_column;
    // A target the training data never had is still a target: the validation file keeps its own.
    TrainValid tv = load_train_valid(spec.data, files, load_dataset(files.train, dopt), dopt, message);
    const Dataset& train = tv.train;
    const Dataset& valid = tv.valid;
    const bool have_valid = tv.have_valid;
    RunRecord rec = *store.run(out.run_id);
    rec.prompt_len = (int)prompt->prompt_len();
    rec.layers = "all";
    rec.trainable_params = prompt->param_count();
    rec.total_params = prompt->param_count() + ds.param_count();
    store.update_run(rec);
    std::optional<int64_t> eos;
    if (!ds.eos_token_ids.empty()) eos = ds.eos_token_ids.front();
    else message("the model names no eos_token_id: targets have no end mark, and exact match compares as many tokens as each target has");
    CausalLmData ttrain = tokenize_causal_lm(train, *tok, spec.data.prompt_template, spec.train.max_len, eos);
    CausalLmData tvalid = tokenize_causal_lm(valid, *tok, spec.data.prompt_template, spec.train.max_len, eos);
    CausalLmPrefixTrainer trainer(*model, *prompt, *tok, spec.train, &sink, cancel);
    TrainResult res = trainer.train(ttrain, have_valid ? &tvalid : nullptr);
    sink.flush();
    if (res.status == "failed" && !res.usable) throw Error(res.error);
    export_peft_decoder_prefix(adapter_dir, *prompt, spec.model == "builtin-decoder" ? "builtin-decoder" : model_dir);
    store.add_artifact(out.run_id, {"peft_adapter", adapter_dir, now_s()});
    // A few validation prompts answered by the base model and with the trained prefix, for the record.
    if (have_valid && tvalid.size() > 0 && res.usable) {
        try {
            const size_t n = std::min<size_t>(3, tvalid.size());
            auto base = trainer.continuations(tvalid, n, false), tuned = trainer.continuations(tvalid, n, true);
            for (size_t i = 0; i < n; ++i)
                message("sample " + std::to_string(i + 1) + ": \"" + tvalid.rows[i].prompt_text + "\" -> with the prefix \"" +
                        tuned[i] + "\", base model \"" + base[i] + "\" (target \"" + tvalid.rows[i].target_text + "\")");
        } catch (const std::exception& e) {
            message(std::string("no samples: ") + e.what());
        }
    }
    out.peft_exported = true;
    return res;
}

// What the encoder-head tasks (token-cls, qa, choice) share around their trainers.
// The run's init adapter must be of the run's method (a prefix with or without its MLP for ptv2).
void check_init_method(const ExperimentSpec& spec, const HeadAdapter& init) {
    const std::string m = init.method == "prefix-mlp" ? "ptv2" : init.method;
    if (m != spec.method.name)
        throw Error((init.where.empty() ? spec.method.init_adapter : init.where) + ": the adapter's method is " +
                    init.method + "; the run's method is " + spec.method.name);
}

// The virtual tokens the run puts before the real ones (the init adapter's, else the spec's), checked against the
// model's positions before the model is loaded.
void check_head_task_fits(const ExperimentSpec& spec, const ModelConfig& cfg, const HeadAdapter* init) {
    cfg.check_fits(spec.train.max_len, init ? init->positions_taken()
                                            : spec.method.uses_prompt_len() ? spec.method.prefix.prompt_len : 0);
}

// What trains besides the head: the init adapter's prefix or method tensors (its options with them) and, for full
// fine-tuning, its backbone; else new ones as the spec says. Full fine-tuning makes the backbone trainable.
struct HeadTaskParts {
    std::unique_ptr<DeepPrompt> prompt;
    std::unique_ptr<DeltaMethod> delta;
    DeltaOptions options;
};
HeadTaskParts head_task_parts(const ExperimentSpec& spec, const ModelConfig& cfg, EncoderClassifier& model,
                              const Tokenizer& tok, HeadAdapter* init) {
    HeadTaskParts p;
    const std::string& m = spec.method.name;
    p.options = spec.method.delta;
    if (init) {
        p.prompt = std::move(init->prompt);
        p.delta = std::move(init->delta);
        if (p.delta) p.options = init->options;
        init->apply_backbone(model);
    } else if (m == "ptv2") {
        p.prompt = std::make_unique<DeepPrompt>(cfg, spec.method.prefix, spec.train.seed);
    } else if (m != "full" && m != "head") {
        std::vector<int64_t> text_ids;
        if (m == "prompt" && spec.method.delta.prompt_init == "text")
            text_ids = tok.encode(spec.method.delta.prompt_init_text, std::nullopt, false, 0).ids;
        p.delta = make_method(m, model, spec.method.prefix.prompt_len, spec.method.delta, text_ids, spec.train.seed);
    }
    if (m == "full") model.set_backbone_trainable(true);
    return p;
}

// The init adapter's head into the trainer; the run's parameter counts into its record.
void start_head_task(const ExperimentSpec& spec, const std::map<std::string, at::Tensor>* init_head,
                     EncoderHead& trainer, const EncoderClassifier& model, Store& store, int64_t run_id,
                     const std::function<void(const std::string&)>& message) {
    const DeepPrompt* prompt = trainer.prompt();
    const DeltaMethod* delta = trainer.method();
    if (init_head) {
        for (auto& [n, t] : *init_head) trainer.set_head_tensor(n, t);
        const std::string m = trainer.method_name();
        message("started from " + spec.method.init_adapter +
                (prompt ? " (prefix and head)" : delta ? " (its " + m + " tensors and head)" : m == "full" ? " (backbone and head)" : " (head)"));
    }
    RunRecord rec = *store.run(run_id);
    rec.prompt_len = prompt ? (int)prompt->prompt_len() : delta ? (int)delta->virtual_tokens() : 0;
    rec.layers = prompt ? prompt->options().layers.text : is_mergeable(spec.method.name) ? "all" : "";
    rec.trainable_params = trainer.trainable_param_count();
    rec.total_params = (prompt ? prompt->param_count() : 0) + (delta ? delta->param_count() : 0) +
                       trainer.head_param_count() + model.backbone_param_count();
    store.update_run(rec);
}

// After the adapter is written: its artifacts, and why there are no PEFT files when there are none.
void record_head_task_adapter(const std::string& adapter_dir, const std::string& why_no_peft, Store& store,
                              RunOutcome& out, const std::function<void(const std::string&)>& message) {
    store.add_artifact(out.run_id, {"ptune_adapter", adapter_dir, now_s()});
    if (fs::exists(fs::path(adapter_dir) / "adapter_config.json")) {
        store.add_artifact(out.run_id, {"peft_adapter", adapter_dir, now_s()});
        out.peft_exported = true;
    } else {
        message("no PEFT files: " + why_no_peft + " (ptune's format keeps the run)");
    }
}

// Task token-cls: an encoder with a P-Tuning v2 prefix (or the head alone) and a token head trained on CoNLL or
// JSONL tagged words; entity F1 as seqeval computes it; the adapter in ptune's format and, with the prefix in every
// layer, PEFT's (task_type TOKEN_CLS).
TrainResult train_token_cls(const ExperimentSpec& spec, const std::string& model_dir, const std::string& adapter_dir,
                            Store& store, RunOutcome& out, StoreSink& sink, const CancelFlag* cancel,
                            const std::function<void(const std::string&)>& message) {
    ModelConfig cfg = ModelConfig::from_dir(model_dir);
    auto tok = Tokenizer::from_dir(model_dir);
    std::optional<TokenClsAdapter> init;
    if (!spec.method.init_adapter.empty()) {
        init = load_token_cls_adapter(spec.method.init_adapter, cfg);
        for (auto& n : init->notes) message(n);
        check_init_method(spec, *init);
    }
    check_head_task_fits(spec, cfg, init ? &*init : nullptr);
    TaggedOptions topt = tagged_options(spec.data);
    if (init) topt.label_names = init->label_names;
    const DataFiles files = resolve_data(spec.data);
    TaggedDataset train = load_tagged(files.train, topt);
    TaggedDataset valid;
    bool have_valid = false;
    if (!train.bad_rows.empty())
        message(std::to_string(train.bad_rows.size()) + " bad sentences skipped in " + files.train + " (first: line " +
                std::to_string(train.bad_rows[0].line) + ": " + train.bad_rows[0].reason + ")");
    if (!files.valid.empty()) {
        // The validation file may hold tags the training file lacks: the head covers both.
        TaggedOptions vopt = topt;
        vopt.scheme = train.scheme;
        valid = load_tagged(files.valid, vopt);
        if (topt.label_names.empty() && valid.label_names != train.label_names) {
            std::set<std::string> all(train.label_names.begin(), train.label_names.end());
            all.insert(valid.label_names.begin(), valid.label_names.end());
            if (all.size() != train.label_names.size()) {
                TaggedOptions again = topt;
                again.scheme = train.scheme;
                const std::vector<std::string> names = sort_tag_names({all.begin(), all.end()}, train.scheme);
                again.label_names = names;
                train = load_tagged(files.train, again);
                vopt.label_names = names;
                valid = load_tagged(files.valid, vopt);
                message(files.valid + " has tags the training data lacks; the head covers all " +
                        std::to_string(names.size()));
            }
        }
        if (valid.label_names != train.label_names) {
            vopt.label_names = train.label_names;
            valid = load_tagged(files.valid, vopt);
        }
        have_valid = true;
    } else if (spec.data.valid_fraction > 0) {
        auto split = split_tagged(train, spec.data.valid_fraction, spec.data.split_seed);
        train = std::move(split.first);
        valid = std::move(split.second);
        have_valid = !valid.sentences.empty();
    }
    const auto& labels = train.label_names;
    if (labels.size() < 2) throw Error(files.train + ": needs at least two tags (found " + std::to_string(labels.size()) + ")");
    message(std::to_string(train.sentences.size()) + " training sentences (" + std::to_string(train.word_count()) +
            " words), " + std::to_string(valid.sentences.size()) + " validation; " + std::to_string(labels.size()) +
            " tags, scheme " + tag_scheme_name(train.scheme));

    auto model = EncoderClassifier::load(model_dir, 2, spec.train.seed);   // its sequence head is not used
    if (spec.train.hidden_dropout >= 0) model->set_hidden_dropout(spec.train.hidden_dropout);
    for (auto& w : model->load_warnings()) message("warning: " + w);
    HeadTaskParts parts = head_task_parts(spec, cfg, *model, *tok, init ? &*init : nullptr);
    TokenClsTrainer trainer(*model, parts.prompt.get(), parts.delta.get(), (int64_t)labels.size(), spec.train,
                            tok->pad_id(), &sink, cancel);
    start_head_task(spec, init ? &init->head : nullptr, trainer, *model, store, out.run_id, message);

    TokenClsData ttrain = tokenize_tagged(train, *tok, spec.train.max_len, spec.data.label_all_subtokens);
    TokenClsData tvalid = tokenize_tagged(valid, *tok, spec.train.max_len, spec.data.label_all_subtokens);
    for (const auto* d : {&ttrain, &tvalid})
        if (d->windowed_sentences > 0)
            message(std::to_string(d->windowed_sentences) + (d == &ttrain ? " training" : " validation") +
                    " sentences are longer than max length " + std::to_string(spec.train.max_len) +
                    " and were cut into windows of whole words" +
                    (d->cut_words > 0 ? " (" + std::to_string(d->cut_words) + " single words longer than a window keep their first tokens)" : ""));
    TrainResult res = trainer.train(ttrain, have_valid ? &tvalid : nullptr);
    sink.flush();
    if (res.status == "failed" && !res.usable) throw Error(res.error);
    std::string why_no_peft;
    export_token_cls(adapter_dir, trainer, parts.options, labels, train.scheme,
                     spec.model == "builtin" ? "builtin" : model_dir, &why_no_peft);
    record_head_task_adapter(adapter_dir, why_no_peft, store, out, message);
    return res;
}

// Task qa: an encoder with a P-Tuning v2 prefix (or the head alone) and a span head trained on SQuAD 1.1 / 2.0
// questions (run_qa.py's windows and post-processing); EM and F1 as the official scripts compute them; the adapter
// in ptune's format and, with the prefix in every layer, PEFT's (task_type QUESTION_ANS).
TrainResult train_qa(const ExperimentSpec& spec, const std::string& model_dir, const std::string& adapter_dir,
                     Store& store, RunOutcome& out, StoreSink& sink, const CancelFlag* cancel,
                     const std::function<void(const std::string&)>& message) {
    ModelConfig cfg = ModelConfig::from_dir(model_dir);
    auto tok = Tokenizer::from_dir(model_dir);
    std::optional<QaAdapter> init;
    if (!spec.method.init_adapter.empty()) {
        init = load_qa_adapter(spec.method.init_adapter, cfg);
        for (auto& n : init->notes) message(n);
        check_init_method(spec, *init);
    }
    check_head_task_fits(spec, cfg, init ? &*init : nullptr);
    QaOptions qopt;
    qopt.on_bad_row = spec.data.on_bad_row == "skip" ? OnBadRow::Skip : OnBadRow::Stop;
    qopt.max_examples = spec.data.max_rows;
    const DataFiles files = resolve_data(spec.data);
    QaDataset train = load_qa(files.train, qopt);
    QaDataset valid;
    auto report_bad = [&](const QaDataset& d) {
        if (d.bad_rows.empty()) return;
        const BadRow& b = d.bad_rows[0];
        message(std::to_string(d.bad_rows.size()) + " bad questions skipped in " + d.path + " (first: " +
                (b.line > 0 ? "line " + std::to_string(b.line) + ": " : std::string()) + b.reason + ")");
    };
    report_bad(train);
    if (!files.valid.empty()) {
        valid = load_qa(files.valid, qopt);
        report_bad(valid);
    } else if (spec.data.valid_fraction > 0) {
        auto split = split_qa(train, spec.data.valid_fraction, spec.data.split_seed);
        train = std::move(split.first);
        valid = std::move(split.second);
    }
    const bool v2 = train.version2 || valid.version2;
    train.version2 = valid.version2 = v2;
    message(std::to_string(train.examples.size()) + " training questions on " + std::to_string(train.contexts.size()) +
            " contexts, " + std::to_string(valid.examples.size()) + " validation" +
            (v2 ? "; SQuAD 2.0 (" + std::to_string(train.examples.size() - (size_t)train.answerable()) +
                      " training questions without an answer)"
                : "; SQuAD 1.1"));

    auto model = EncoderClassifier::load(model_dir, 2, spec.train.seed);   // its sequence head is not used
    if (spec.train.hidden_dropout >= 0) model->set_hidden_dropout(spec.train.hidden_dropout);
    for (auto& w : model->load_warnings()) message("warning: " + w);
    HeadTaskParts parts = head_task_parts(spec, cfg, *model, *tok, init ? &*init : nullptr);
    QaDecodeOptions dec;
    dec.n_best = spec.data.n_best;
    dec.max_answer_len = spec.data.max_answer_len;
    dec.version2 = v2;
    dec.null_threshold = spec.data.null_threshold;
    QaTrainer trainer(*model, parts.prompt.get(), parts.delta.get(), spec.train, dec, tok->pad_id(), &sink, cancel);
    start_head_task(spec, init ? &init->head : nullptr, trainer, *model, store, out.run_id, message);

    QaFeatureOptions fopt;
    fopt.max_len = spec.train.max_len;
    fopt.doc_stride = spec.data.doc_stride;
    fopt.max_question_len = spec.data.max_question_len;
    QaData qtrain = prepare_qa(std::move(train), *tok, fopt);
    QaData qvalid = prepare_qa(std::move(valid), *tok, fopt);
    for (const auto* d : {&qtrain, &qvalid}) {
        const char* which = d == &qtrain ? " training" : " validation";
        if (d->features.windowed_examples > 0)
            message(std::to_string(d->features.windowed_examples) + which + " questions have a context longer than "
                    "max length " + std::to_string(spec.train.max_len) + ": it is read in overlapping windows (doc "
                    "stride " + std::to_string(spec.data.doc_stride) + "), " + std::to_string(d->features.size()) +
                    " features in all");
        if (d->features.cut_questions > 0)
            message(std::to_string(d->features.cut_questions) + which + " questions are longer than " +
                    std::to_string(spec.data.max_question_len) + " tokens and were cut (data.max_question_len)");
    }
    TrainResult res = trainer.train(qtrain, qvalid.size() > 0 ? &qvalid : nullptr);
    sink.flush();
    if (res.status == "failed" && !res.usable) throw Error(res.error);
    std::string why_no_peft;
    export_qa(adapter_dir, trainer, parts.options, fopt, spec.model == "builtin" ? "builtin" : model_dir, &why_no_peft);
    record_head_task_adapter(adapter_dir, why_no_peft, store, out, message);
    return res;
}

// Task choice: an encoder with a P-Tuning v2 prefix (or the head alone), BERT's/RoBERTa's pooler and a one-output
// head scoring each (context, choice) pair; accuracy over questions; the adapter in ptune's format only.
TrainResult train_choice(const ExperimentSpec& spec, const std::string& model_dir, const std::string& adapter_dir,
                         Store& store, RunOutcome& out, StoreSink& sink, const CancelFlag* cancel,
                         const std::function<void(const std::string&)>& message) {
    ModelConfig cfg = ModelConfig::from_dir(model_dir);
    auto tok = Tokenizer::from_dir(model_dir);
    std::optional<ChoiceAdapter> init;
    if (!spec.method.init_adapter.empty()) {
        init = load_choice_adapter(spec.method.init_adapter, cfg);
        for (auto& n : init->notes) message(n);
        check_init_method(spec, *init);
    }
    check_head_task_fits(spec, cfg, init ? &*init : nullptr);
    ChoiceOptions copt;
    copt.on_bad_row = spec.data.on_bad_row == "skip" ? OnBadRow::Skip : OnBadRow::Stop;
    copt.max_examples = spec.data.max_rows;
    const DataFiles files = resolve_data(spec.data);
    ChoiceDataset train = load_choice(files.train, copt);
    ChoiceDataset valid;
    auto report_bad = [&](const ChoiceDataset& d) {
        if (d.bad_rows.empty()) return;
        message(std::to_string(d.bad_rows.size()) + " bad questions skipped in " + d.path + " (first: line " +
                std::to_string(d.bad_rows[0].line) + ": " + d.bad_rows[0].reason + ")");
    };
    report_bad(train);
    if (!files.valid.empty()) {
        valid = load_choice(files.valid, copt);
        report_bad(valid);
    } else if (spec.data.valid_fraction > 0) {
        auto split = split_choice(train, spec.data.valid_fraction, spec.data.split_seed);
        train = std::move(split.first);
        valid = std::move(split.second);
    }
    const size_t lo = train.min_choices(), hi = train.max_choices();
    message(std::to_string(train.examples.size()) + " training questions (" + train.layout + ", " +
            (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) + " choices), " +
            std::to_string(valid.examples.size()) + " validation");

    auto model = EncoderClassifier::load(model_dir, 2, spec.train.seed);   // its sequence head is not used
    if (spec.train.hidden_dropout >= 0) model->set_hidden_dropout(spec.train.hidden_dropout);
    for (auto& w : model->load_warnings()) message("warning: " + w);
    HeadTaskParts parts = head_task_parts(spec, cfg, *model, *tok, init ? &*init : nullptr);
    ChoiceTrainer trainer(*model, parts.prompt.get(), parts.delta.get(), spec.train, tok->pad_id(), &sink, cancel);
    if (!model->pooler_from_checkpoint())
        for (const std::string& n : model->load_notes())
            if (n.find("pooler") != std::string::npos) message(n);
    start_head_task(spec, init ? &init->head : nullptr, trainer, *model, store, out.run_id, message);

    ChoiceData ctrain = prepare_choice(std::move(train), *tok, spec.train.max_len);
    ChoiceData cvalid = prepare_choice(std::move(valid), *tok, spec.train.max_len);
    for (const auto* d : {&ctrain, &cvalid})
        if (d->truncated_pairs > 0)
            message(std::to_string(d->truncated_pairs) + (d == &ctrain ? " training" : " validation") +
                    " (context, choice) pairs are longer than max length " + std::to_string(spec.train.max_len) +
                    " and were cut (the longer text first, as transformers' truncation=True)");
    TrainResult res = trainer.train(ctrain, cvalid.size() > 0 ? &cvalid : nullptr);
    sink.flush();
    if (res.status == "failed" && !res.usable) throw Error(res.error);
    std::string why_no_peft;
    export_choice(adapter_dir, trainer, parts.options, spec.train.max_len,
                  spec.model == "builtin" ? "builtin" : model_dir, &why_no_peft);
    record_head_task_adapter(adapter_dir, why_no_peft, store, out, message);
    return res;
}

}  // namespace

TaggedOptions tagged_options(const DataSpec& d) {
    TaggedOptions o;
    if (d.format == "conll") o.format = TaggedFormat::CoNLL;
    if (d.format == "jsonl") o.format = TaggedFormat::JSONL;
    auto index = [](const std::string& field, const std::string& v, int def) {
        if (v.empty()) return def;
        if (v.find_first_not_of("0123456789") != std::string::npos || v.size() > 4)
            throw Error("data." + field + ": \"" + v + "\": a CoNLL column is a 0-based field number");
        return std::stoi(v);
    };
    const bool jsonl = d.format == "jsonl" || (d.format == "auto" && [&] {
                           std::string t = d.train;
                           for (auto& c : t) c = (char)std::tolower((unsigned char)c);
                           for (const char* e : {".jsonl", ".json", ".ndjson"})
                               if (t.size() >= std::string(e).size() && t.compare(t.size() - std::string(e).size(), std::string::npos, e) == 0)
                                   return true;
                           return false;
                       }());
    if (jsonl) {
        if (!d.tokens_column.empty()) o.tokens_key = d.tokens_column;
        o.tags_key = d.tags_column;
    } else {
        o.token_column = index("tokens_column", d.tokens_column, 0);
        o.tag_column = index("tags_column", d.tags_column, -1);
    }
    o.scheme = *parse_tag_scheme(d.tag_scheme);
    o.on_bad_row = d.on_bad_row == "skip" ? OnBadRow::Skip : OnBadRow::Stop;
    o.max_sentences = d.max_rows;
    return o;
}

std::string resolve_model_dir(const std::string& model) {
    if (model == "builtin") return builtin_dir() + "/model";
    if (model == "builtin-decoder") return builtin_dir() + "/decoder";
    return model;
}

std::string default_db_path() {
    if (const char* p = std::getenv("PTUNE_DB"); p && *p) return p;
    fs::path base;
    if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
        base = x;
    else if (const char* h = std::getenv("HOME"); h && *h)
        base = fs::path(h) / ".local" / "share";
    else
        base = fs::current_path();
    return (base / "ptune" / "runs.sqlite").string();
}

ModelSummary summarize_model(const std::string& model) {
    ModelSummary s;
    s.dir = resolve_model_dir(model);
    if (is_causal_lm_dir(s.dir)) {
        const DecoderSpec d = read_decoder_spec(s.dir);
        auto ckpt = st::Checkpoint::open(s.dir);  // the weights must be there and readable
        (void)ckpt;
        s.causal_lm = true;
        s.arch = d.family == "gpt2" ? "GPT-2" : "Llama family";
        s.model_type = d.model_type;
        s.tokenizer = Tokenizer::from_dir(s.dir)->describe();
        s.layers = d.num_layers;
        s.hidden = d.hidden_size;
        s.heads = d.num_heads;
        s.kv_heads = d.num_kv_heads;
        s.intermediate = d.intermediate_size;
        s.vocab = d.vocab_size;
        s.max_positions = d.positions == PositionKind::Learned ? d.max_positions : 0;   // rotary: no table
        s.params = d.param_count();
        s.prefix_width = d.kv_dim();
        return s;
    }
    ModelConfig c = ModelConfig::from_dir(s.dir);
    auto ckpt = st::Checkpoint::open(s.dir);  // the weights must be there and readable
    (void)ckpt;
    auto tok = Tokenizer::from_dir(s.dir);
    s.arch = c.arch_name();
    s.model_type = c.model_type;
    s.tokenizer = tok->describe();
    s.layers = c.num_layers;
    s.hidden = c.hidden_size;
    s.heads = c.num_heads;
    s.intermediate = c.intermediate_size;
    s.vocab = c.vocab_size;
    s.max_positions = c.max_position_embeddings;
    s.position_offset = c.position_offset();
    s.params = c.encoder_param_count(c.family->pooler() == EncoderFamily::Pooler::Always);
    s.kv_heads = c.num_heads;
    s.prefix_width = c.hidden_size;
    if (!generic_labels(c.id2label)) s.labels = c.id2label;
    return s;
}

DataSummary summarize_data(const DataSpec& d) {
    DataSummary s;
    DataFiles files = resolve_data(d);
    DataOptions dopt = data_options(d);
    Dataset train = load_dataset(files.train, dopt);
    s.train_file = files.train;
    s.valid_file = files.valid;
    s.columns = train.columns;
    s.label_names = train.label_names;
    s.skipped_rows = (int64_t)train.bad_rows.size();
    if (!train.bad_rows.empty())
        s.first_skipped = "line " + std::to_string(train.bad_rows[0].line) + ": " + train.bad_rows[0].reason;
    dopt.label_names = train.label_names;
    TrainValid tv = load_train_valid(d, files, std::move(train), dopt, [](const std::string&) {});
    train = std::move(tv.train);
    const Dataset& valid = tv.valid;
    auto counts = [&](const Dataset& ds) {
        std::vector<int64_t> c(s.label_names.size(), 0);
        for (auto& [id, n] : ds.label_counts())
            if (id >= 0 && id < (int)c.size()) c[(size_t)id] = n;
        return c;
    };
    s.train_rows = (int64_t)train.rows.size();
    s.valid_rows = (int64_t)valid.rows.size();
    s.train_counts = counts(train);
    s.valid_counts = counts(valid);
    return s;
}

DataSummary summarize_tagged(const DataSpec& d) {
    DataSummary s;
    s.tagged = true;
    const DataFiles files = resolve_data(d);
    if (d.train == "builtin")
        throw Error("token classification needs a CoNLL or JSONL file of tagged words (the built-in data set is "
                    "sentence classification)");
    TaggedOptions topt = tagged_options(d);
    TaggedDataset train = load_tagged(files.train, topt);
    s.train_file = files.train;
    s.valid_file = files.valid;
    s.skipped_rows = (int64_t)train.bad_rows.size();
    if (!train.bad_rows.empty())
        s.first_skipped = "line " + std::to_string(train.bad_rows[0].line) + ": " + train.bad_rows[0].reason;
    TaggedDataset valid;
    if (!files.valid.empty()) {
        TaggedOptions vopt = topt;
        vopt.scheme = train.scheme;
        valid = load_tagged(files.valid, vopt);
        std::set<std::string> all(train.label_names.begin(), train.label_names.end());
        all.insert(valid.label_names.begin(), valid.label_names.end());
        const std::vector<std::string> names = sort_tag_names({all.begin(), all.end()}, train.scheme);
        if (names != train.label_names) {
            topt.label_names = names;
            topt.scheme = train.scheme;
            train = load_tagged(files.train, topt);
        }
        vopt.label_names = names;
        valid = load_tagged(files.valid, vopt);
    } else if (d.valid_fraction > 0) {
        auto split = split_tagged(train, d.valid_fraction, d.split_seed);
        train = std::move(split.first);
        valid = std::move(split.second);
    }
    s.label_names = train.label_names;
    s.tag_scheme = tag_scheme_name(train.scheme);
    auto count = [&](const TaggedDataset& ds, std::vector<int64_t>& words, bool is_train) {
        words.assign(s.label_names.size(), 0);
        for (const auto& sent : ds.sentences)
            for (int t : sent.tags) ++words[(size_t)t];
        if (train.scheme == TagScheme::None) return;
        for (const auto& e : entities_default(ds.tag_strings()))
            (is_train ? s.entities[e.type].first : s.entities[e.type].second) += 1;
    };
    count(train, s.train_counts, true);
    count(valid, s.valid_counts, false);
    s.train_rows = (int64_t)train.sentences.size();
    s.valid_rows = (int64_t)valid.sentences.size();
    s.train_words = train.word_count();
    s.valid_words = valid.word_count();
    s.columns = {"words", "tags"};
    return s;
}

DataSummary summarize_qa(const DataSpec& d) {
    if (d.train == "builtin")
        throw Error("extractive QA needs a SQuAD JSON or JSONL file (the built-in data set is sentence classification)");
    DataSummary s;
    s.qa = true;
    const DataFiles files = resolve_data(d);
    QaOptions o;
    o.on_bad_row = d.on_bad_row == "skip" ? OnBadRow::Skip : OnBadRow::Stop;
    o.max_examples = d.max_rows;
    QaDataset train = load_qa(files.train, o);
    s.train_file = files.train;
    s.valid_file = files.valid;
    s.skipped_rows = (int64_t)train.bad_rows.size();
    if (!train.bad_rows.empty())
        s.first_skipped = (train.bad_rows[0].line > 0 ? "line " + std::to_string(train.bad_rows[0].line) + ": " : "") +
                          train.bad_rows[0].reason;
    QaDataset valid;
    if (!files.valid.empty()) {
        valid = load_qa(files.valid, o);
    } else if (d.valid_fraction > 0) {
        auto split = split_qa(train, d.valid_fraction, d.split_seed);
        train = std::move(split.first);
        valid = std::move(split.second);
    }
    s.qa_v2 = train.version2 || valid.version2;
    s.label_names = {"answerable", "unanswerable"};
    s.train_counts = {train.answerable(), (int64_t)train.examples.size() - train.answerable()};
    s.valid_counts = {valid.answerable(), (int64_t)valid.examples.size() - valid.answerable()};
    s.train_rows = (int64_t)train.examples.size();
    s.valid_rows = (int64_t)valid.examples.size();
    s.train_contexts = (int64_t)train.contexts.size();
    s.valid_contexts = (int64_t)valid.contexts.size();
    s.columns = {"context", "question", "answers"};
    return s;
}

DataSummary summarize_choice(const DataSpec& d) {
    if (d.train == "builtin")
        throw Error("multiple choice needs a JSONL file of questions with choices (the built-in data set is sentence "
                    "classification)");
    DataSummary s;
    s.choice = true;
    const DataFiles files = resolve_data(d);
    ChoiceOptions o;
    o.on_bad_row = d.on_bad_row == "skip" ? OnBadRow::Skip : OnBadRow::Stop;
    o.max_examples = d.max_rows;
    ChoiceDataset train = load_choice(files.train, o);
    s.train_file = files.train;
    s.valid_file = files.valid;
    s.skipped_rows = (int64_t)train.bad_rows.size();
    if (!train.bad_rows.empty())
        s.first_skipped = "line " + std::to_string(train.bad_rows[0].line) + ": " + train.bad_rows[0].reason;
    ChoiceDataset valid;
    if (!files.valid.empty()) {
        valid = load_choice(files.valid, o);
    } else if (d.valid_fraction > 0) {
        auto split = split_choice(train, d.valid_fraction, d.split_seed);
        train = std::move(split.first);
        valid = std::move(split.second);
    }
    s.choice_layout = train.layout;
    s.min_choices = (int64_t)train.min_choices();
    s.max_choices = (int64_t)std::max(train.max_choices(), valid.max_choices());
    for (int64_t i = 0; i < s.max_choices; ++i) s.label_names.push_back("choice " + std::to_string(i + 1));
    s.train_counts.assign((size_t)s.max_choices, 0);
    s.valid_counts.assign((size_t)s.max_choices, 0);
    for (const auto& e : train.examples) ++s.train_counts[(size_t)e.label];
    for (const auto& e : valid.examples) ++s.valid_counts[(size_t)e.label];
    s.train_rows = (int64_t)train.examples.size();
    s.valid_rows = (int64_t)valid.examples.size();
    s.columns = {"context", "choices", "label"};
    return s;
}

std::vector<ChoiceExample> preview_choice(const DataSpec& d, int n) {
    if (d.train == "builtin")
        throw Error("multiple choice needs a JSONL file of questions with choices (the built-in data set is sentence "
                    "classification)");
    ChoiceOptions o;
    o.on_bad_row = OnBadRow::Skip;
    o.max_examples = n;
    o.allow_unlabelled = true;
    return load_choice(resolve_data(d).train, o).examples;
}

std::vector<QaPreview> preview_qa(const DataSpec& d, int n) {
    if (d.train == "builtin")
        throw Error("extractive QA needs a SQuAD JSON or JSONL file (the built-in data set is sentence classification)");
    QaOptions o;
    o.on_bad_row = OnBadRow::Skip;
    o.max_examples = n;
    const QaDataset q = load_qa(resolve_data(d).train, o);
    std::vector<QaPreview> out;
    for (const QaExample& e : q.examples) {
        QaPreview p{e.id, e.question, q.context_of(e), "", -1};
        if (!e.answers.empty()) {
            p.answer = e.answers[0].text;
            p.answer_start = e.answers[0].start;
        }
        out.push_back(std::move(p));
    }
    return out;
}

std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> preview_tagged(const DataSpec& d, int n) {
    if (d.train == "builtin")
        throw Error("token classification needs a CoNLL or JSONL file of tagged words (the built-in data set is "
                    "sentence classification)");
    TaggedOptions o = tagged_options(d);
    o.on_bad_row = OnBadRow::Skip;
    o.max_sentences = n;
    o.scheme = TagScheme::None;   // the preview shows tags as they are, whatever the scheme says of them
    TaggedDataset t = load_tagged(d.train, o);
    std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> out;
    const auto tags = t.tag_strings();
    for (size_t i = 0; i < t.sentences.size(); ++i) out.push_back({t.sentences[i].words, tags[i]});
    return out;
}

ParamCounts count_params(const ExperimentSpec& spec, int num_labels) {
    const std::string dir = resolve_model_dir(spec.model);
    if (is_causal_lm_dir(dir)) {
        // A causal LM has no head to train: the prefix (PEFT's decoder layout) is all.
        const DecoderSpec d = read_decoder_spec(dir);
        ParamCounts p;
        p.backbone = d.param_count();
        p.prompt = spec.method.prefix.param_count(d.kv_dim(), (int)d.num_layers);
        return p;
    }
    ModelConfig c = ModelConfig::from_dir(dir);
    ParamCounts p;
    p.backbone = c.encoder_param_count(c.family->pooler() == EncoderFamily::Pooler::Always);
    const int64_t H = c.hidden_size;
    // Token classification: one linear layer on every token; QA: one with two outputs (start, end); sequence
    // classification: BERT's linear head (on the pooler), or the family's dense + output layer.
    // Multiple choice: one output on the pooler (frozen, part of the backbone).
    p.head = spec.task == "qa" ? H * 2 + 2
             : spec.task == "choice" ? H + 1
             : c.family->head().dense.empty() || spec.task == "token-cls" ? H * num_labels + num_labels
                                                                : (H * H + H) + (H * num_labels + num_labels);
    p.prompt = method_param_count(spec.method.name, spec.method.prefix, spec.method.delta, H, c.intermediate_size,
                                  (int)c.num_layers, c.embedding_size > 0 ? c.embedding_size : H, p.backbone);
    if (spec.method.name == "full") p.backbone = 0;   // all of it is trainable: counted once, as the method's
    return p;
}

namespace {
// The spec as stored: relative paths made absolute, so the run can be exported or repeated from anywhere.
ExperimentSpec with_absolute_paths(ExperimentSpec s) {
    auto abs = [](std::string& p) {
        if (!p.empty() && p != "builtin" && p != "builtin-decoder") p = fs::absolute(p).lexically_normal().string();
    };
    abs(s.model), abs(s.data.train), abs(s.data.valid), abs(s.method.init_adapter), abs(s.out_dir);
    return s;
}
}  // namespace

int64_t Runner::enqueue(const ExperimentSpec& spec0, Store& store) {
    const ExperimentSpec spec = with_absolute_paths(spec0);
    RunRecord r;
    r.name = spec.display_name();
    r.status = "queued";
    r.spec_json = spec.to_json().dump();
    r.model = spec.model;
    r.dataset = spec.data.train;
    r.method = method_label(spec);
    const std::string& m = spec.method.name;
    r.prompt_len = spec.method.uses_prompt_len() ? (int)spec.method.prefix.prompt_len : 0;
    r.layers = m == "ptv2" ? spec.method.prefix.layers.text : is_mergeable(m) ? "all" : "";
    r.seed = (int64_t)spec.train.seed;
    r.suite = spec.suite;
    std::string tags;
    for (auto& t : spec.tags) tags += (tags.empty() ? "" : ",") + t;
    r.tags = tags;
    r.notes = spec.notes;
    return store.create_run(r);
}

// Inference cost against the base model right after training (spec.latency.measure), so that a suite's
// comparison has it. The run trained and its adapter is saved: a measurement that fails or is cancelled is said,
// and the run stays completed (measure again from the Latency tab or with `ptune bench --run`).
static void measure_after_training(const ExperimentSpec& spec, Store& store, int64_t run_id, RunObserver* obs,
                            const CancelFlag* cancel, const std::function<void(const std::string&)>& message) {
    message("measuring inference latency against the base model");
    LatencyOptions lo;
    lo.batch_sizes = {spec.latency.batch_size};
    lo.seq_lens = {spec.latency.seq_len > 0 ? spec.latency.seq_len : (int)spec.train.max_len};
    lo.repeats = spec.latency.repeats;
    lo.warmup = spec.latency.warmup;
    lo.device = spec.train.device;
    lo.threads = spec.train.threads;
    lo.seed = spec.train.seed;
    try {
        Runner::bench_run(store, run_id, lo, obs, cancel);
        if (cancel && cancel->is_set()) message("latency measurement cancelled; the trained run is kept");
    } catch (const std::exception& e) {
        std::string what = e.what();
        if (auto nl = what.find("\nException raised from"); nl != std::string::npos) what = what.substr(0, nl);
        message("latency not measured: " + what);
    }
}

#ifndef PTUNE_VERSION
#define PTUNE_VERSION "dev"
#endif

// Where a run runs, recorded with it: ptune's and LibTorch's versions, the device, the threads, the system and
// the preset the spec came from.
static json run_environment(const ExperimentSpec& spec) {
    const RuntimeInfo rt = runtime_info();
    json e = {{"ptune", PTUNE_VERSION},
              {"libtorch", rt.libtorch_version},
              {"device", resolve_device(spec.train.device).str()},
              {"threads", at::get_num_threads()},
              {"hardware_threads", rt.cpu_threads},
              {"cuda_devices", rt.cuda_devices}};
    struct utsname u {};
    if (uname(&u) == 0) e["system"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
    if (!spec.preset.empty()) e["preset"] = spec.preset;
    return e;
}

RunOutcome Runner::run(const ExperimentSpec& spec0, Store& store, RunObserver* obs, const CancelFlag* cancel,
                       int64_t run_id) {
    const ExperimentSpec spec = with_absolute_paths(spec0);
    RunOutcome out;
    out.run_id = run_id > 0 ? run_id : enqueue(spec, store);
    const auto t0 = std::chrono::steady_clock::now();
    store.start_run(out.run_id);
    if (obs) {
        if (auto r = store.run(out.run_id)) obs->on_run_created(out.run_id, *r);
    }
    StoreSink sink(store, out.run_id, obs);
    auto message = [&](const std::string& m) { sink.on_message(m); };
    std::optional<TrainResult> trained;  // kept for the record when saving the adapter fails after training
    try {
        // Counts every tensor of the run from here (the model's weights included); declared first, so that it
        // outlives them all. Ended before the latency measurement, which must run without its hook.
        std::optional<MemoryTracker> memory;
        memory.emplace();
        spec.validate();
        set_threads(spec.train.threads);
        store.set_environment(out.run_id, run_environment(spec).dump());
        const std::string model_dir = resolve_model_dir(spec.model);
        if (spec.task == "causal-lm" || spec.task == "token-cls" || spec.task == "qa" || spec.task == "choice") {
            const std::string adapter_dir = adapter_dir_for(store, spec, out.run_id);
            fs::create_directories(adapter_dir);
            TrainResult res = spec.task == "causal-lm"
                                  ? train_causal_lm(spec, model_dir, adapter_dir, store, out, sink, cancel, message)
                              : spec.task == "qa"
                                  ? train_qa(spec, model_dir, adapter_dir, store, out, sink, cancel, message)
                              : spec.task == "choice"
                                  ? train_choice(spec, model_dir, adapter_dir, store, out, sink, cancel, message)
                                  : train_token_cls(spec, model_dir, adapter_dir, store, out, sink, cancel, message);
            trained = res;
            const at::Device dev = resolve_device(spec.train.device);
            store.set_train_stats(out.run_id, dev.str(), memory->peak_bytes(dev.is_cuda()), res.median_step_ms);
            const std::string reason = conclude(out, res, adapter_dir, message);
            if (spec.latency.measure && out.status == "completed" && !(cancel && cancel->is_set())) {
                memory.reset();   // the trained model is gone; the measurement loads its own
                measure_after_training(spec, store, out.run_id, obs, cancel, message);
            }
            store.finish_run(out.run_id, out.status, reason, metrics_json(res.final_metrics).dump(),
                             metrics_json(res.best_metrics).dump(), res.best_step);
            out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (obs) obs->on_run_finished(out.run_id, out.status, out.reason);
            return out;
        }
        ModelConfig cfg = ModelConfig::from_dir(model_dir);
        auto tok = Tokenizer::from_dir(model_dir);
        // A starting adapter (resume, or prediction-time prompts trained further) brings its own prompt settings.
        std::optional<PromptAdapter> init;        // P-Tuning v2's
        std::optional<MethodStart> mstart;        // another method's
        if (!spec.method.init_adapter.empty()) {
            if (spec.method.name == "ptv2") {
                init = load_prompt_adapter(spec.method.init_adapter, cfg);
                for (auto& n : init->notes) message(n);
            } else {
                mstart = check_method_start(spec);
            }
        }
        // Virtual tokens (deep prompts' P, or prompt tuning's / P-tuning's) take positions before the real tokens.
        cfg.check_fits(spec.train.max_len, init                        ? init->prompt->prompt_len()
                                           : spec.method.uses_prompt_len() ? spec.method.prefix.prompt_len
                                                                          : 0);
        // The adapter directory must be writable before hours of training, not after.
        const std::string adapter_dir = adapter_dir_for(store, spec, out.run_id);
        fs::create_directories(adapter_dir);

        // Labels: the data's label names, numbered as the starting adapter's head or the model's id2label numbers
        // them when the data's labels are all among those; else sorted (and the head starts fresh).
        DataFiles files = resolve_data(spec.data);
        DataOptions dopt = data_options(spec.data);
        Dataset train = load_dataset(files.train, dopt);
        auto covers = [&](const std::vector<std::string>& names) {
            if (names.empty() || generic_labels(names)) return false;
            std::set<std::string> known(names.begin(), names.end());
            for (auto& n : train.label_names)
                if (!known.count(n)) return false;
            return true;
        };
        enum class HeadSource { Adapter, Checkpoint, Fresh } head_source = HeadSource::Fresh;
        const bool start_head = init ? !init->head.empty() : mstart && mstart->has_head;
        const std::vector<std::string> start_labels = init ? init->label_names : mstart ? mstart->label_names : std::vector<std::string>{};
        if (start_head && covers(start_labels)) {
            dopt.label_names = start_labels;
            head_source = HeadSource::Adapter;
        } else if (start_head && start_labels.empty() && covers(cfg.id2label)) {
            // A PEFT adapter names no labels: its head numbers them as the model's config does.
            dopt.label_names = cfg.id2label;
            head_source = HeadSource::Adapter;
        } else if (covers(cfg.id2label)) {
            dopt.label_names = cfg.id2label;
            head_source = HeadSource::Checkpoint;
        }
        if (!dopt.label_names.empty()) train = load_dataset(files.train, dopt);
        dopt.label_names = train.label_names;
        TrainValid tv = load_train_valid(spec.data, files, std::move(train), dopt, message);
        train = std::move(tv.train);
        Dataset valid = std::move(tv.valid);
        const bool have_valid = tv.have_valid;
        const auto& labels = train.label_names;
        if (labels.size() < 2) throw Error(files.train + ": needs at least two labels (found " + std::to_string(labels.size()) + ")");
        if (labels.size() == 2) sink.positive_label = out.positive_label = labels[1];
        if (spec.train.metric == "f1_pos" && labels.size() != 2)
            throw Error("train.metric f1_pos is the positive label's F1, for two labels; " + files.train + " has " +
                        std::to_string(labels.size()) + " (use f1, macro-F1)");

        auto model = EncoderClassifier::load(model_dir, (int64_t)labels.size(), spec.train.seed);
        if (spec.train.hidden_dropout >= 0) model->set_hidden_dropout(spec.train.hidden_dropout);
        for (auto& n : model->load_notes()) message(n);
        for (auto& w : model->load_warnings()) message("warning: " + w);
        if (model->head_from_checkpoint() && head_source != HeadSource::Checkpoint) {
            // Same label count, but the data's labels are not the checkpoint's id2label: its rows mean other classes.
            model->reset_head(spec.train.seed);
            message("the checkpoint's classification head was not used: the data's labels are not its id2label names");
        }
        std::unique_ptr<DeepPrompt> prompt;
        std::unique_ptr<DeltaMethod> delta;
        const std::string& mname = spec.method.name;
        if (mname == "full") {
            model->set_backbone_trainable(true);
        } else if (mname != "ptv2" && mname != "head") {
            std::vector<int64_t> text_ids;
            if (mname == "prompt" && spec.method.delta.prompt_init == "text")
                text_ids = tok->encode(spec.method.delta.prompt_init_text, std::nullopt, false, 0).ids;
            delta = make_method(mname, *model, spec.method.prefix.prompt_len, spec.method.delta, text_ids, spec.train.seed);
        } else if (mname == "head") {
            // the linear probe: nothing but the head trains
        }
        if (mstart) {
            const bool with_head = head_source == HeadSource::Adapter;
            apply_method_start(*mstart, spec, delta.get(), *model, with_head);
            message("started from " + spec.method.init_adapter + (with_head ? " (its tensors and head)" : " (its tensors; its head was not used: " +
                    std::string(mstart->has_head ? "the data's labels are not its labels" : "it has none") + ")"));
        }
        if (mname != "ptv2") {
            // the method (or none) is made above
        } else if (init) {
            apply_base(*model, init->base);
            prompt = std::move(init->prompt);
            if (head_source == HeadSource::Adapter) {
                apply_head(*model, init->head);
                message("started from " + spec.method.init_adapter + " (prompts and head)");
            } else {
                message("started from " + spec.method.init_adapter + " (prompts; its head was not used: " +
                        (init->head.empty() ? std::string("it has none") : "the data's labels are not its labels") + ")");
            }
        } else {
            prompt = std::make_unique<DeepPrompt>(cfg, spec.method.prefix, spec.train.seed);
        }
        RunRecord rec = *store.run(out.run_id);
        const int64_t method_params = prompt ? prompt->param_count() : delta ? delta->param_count() : 0;
        rec.prompt_len = prompt ? (int)prompt->prompt_len() : delta ? (int)delta->virtual_tokens() : 0;
        rec.layers = prompt ? prompt->options().layers.text : is_mergeable(mname) ? "all" : "";
        rec.trainable_params = method_params + model->head_param_count() + (mname == "full" ? model->backbone_param_count() : 0);
        rec.total_params = method_params + model->head_param_count() + model->backbone_param_count();
        store.update_run(rec);

        TokenizedData ttrain = tokenize(train, *tok, spec.train.max_len);
        TokenizedData tvalid = tokenize(valid, *tok, spec.train.max_len);
        std::unique_ptr<PromptTrainer> trainer =
            delta ? std::make_unique<PromptTrainer>(*model, delta.get(), spec.train, tok->pad_id(), &sink, cancel)
                  : std::make_unique<PromptTrainer>(*model, prompt.get(), spec.train, tok->pad_id(), &sink, cancel);
        TrainResult res = trainer->train(ttrain, have_valid ? &tvalid : nullptr);
        sink.flush();
        if (res.status == "failed" && !res.usable) throw Error(res.error);  // nothing worth saving
        trained = res;
        {
            const at::Device dev = resolve_device(spec.train.device);
            store.set_train_stats(out.run_id, dev.str(), memory->peak_bytes(dev.is_cuda()), res.median_step_ms);
        }

        // The adapter: ptune's format always; PEFT's files beside it when PEFT can express the run (else any PEFT
        // files an earlier run left in the directory are removed: they would load other prompts).
        const std::string& dir = adapter_dir;
        if (!prompt) {
            // Other methods: ptune's format always (it keeps P-tuning's encoder); PEFT's beside it when PEFT can
            // express the run.
            export_method(dir, mname, rec.prompt_len, spec.method.delta, delta.get(), *model, labels, spec.model);
            store.add_artifact(out.run_id, {"ptune_adapter", dir, now_s()});
            if (delta && peft_can_express(mname) && !model->pooler_from_checkpoint()) {
                message(no_peft_files(dir));
            } else if (delta && peft_can_express(mname)) {
                const std::string base = spec.model == "builtin" ? "builtin" : model_dir;
                export_peft_delta(dir, peft_delta_of(mname, spec.method.delta, *delta, *model, model_dir), *model, base);
                write_peft_labels(dir, labels);
                store.add_artifact(out.run_id, {"peft_adapter", dir, now_s()});
                out.peft_exported = true;
            }
        } else {
            export_ptune(dir, *prompt, *model, labels, spec.model);
            store.add_artifact(out.run_id, {"ptune_adapter", dir, now_s()});
        }
        const std::string no_peft_prefix = cfg.family->peft_prefix_refusal();
        if (prompt && (int64_t)prompt->layers().size() == cfg.num_layers && !no_peft_prefix.empty()) {
            message("no PEFT files written to " + dir + ": " + no_peft_prefix);
            for (const char* f : {"adapter_config.json", "adapter_model.safetensors", "ptune_labels.json"}) fs::remove(fs::path(dir) / f);
        } else if (prompt && (int64_t)prompt->layers().size() == cfg.num_layers && !model->pooler_from_checkpoint()) {
            message(no_peft_files(dir));
            for (const char* f : {"adapter_config.json", "adapter_model.safetensors", "ptune_labels.json"}) fs::remove(fs::path(dir) / f);
        } else if (prompt && (int64_t)prompt->layers().size() == cfg.num_layers) {
            export_peft(dir, *prompt, *model, labels, spec.model == "builtin" ? "builtin" : model_dir);
            store.add_artifact(out.run_id, {"peft_adapter", dir, now_s()});
            out.peft_exported = true;
        } else if (prompt) {
            for (const char* f : {"adapter_config.json", "adapter_model.safetensors", "ptune_labels.json"}) fs::remove(fs::path(dir) / f);
        }
        const std::string reason = conclude(out, res, dir, message);
        if (spec.latency.measure && out.status == "completed" && !(cancel && cancel->is_set())) {
            // Inference cost against the base model, measured now so that a suite's comparison has it.
            trainer.reset();
            prompt.reset();
            delta.reset();
            model.reset();
            memory.reset();   // every tensor it counted is gone
            measure_after_training(spec, store, out.run_id, obs, cancel, message);
        }
        store.finish_run(out.run_id, out.status, reason, metrics_json(res.final_metrics, out.positive_label).dump(),
                         metrics_json(res.best_metrics, out.positive_label).dump(), res.best_step);
    } catch (const std::exception& e) {
        try {
            sink.flush();
        } catch (...) {
        }
        std::string what = failure_message(e, spec.train.device);
        out.status = "failed";
        out.reason = what;
        if (trained) {
            out.reason = "training finished (" + std::to_string(trained->steps_done) + " steps) but saving failed: " + what;
            store.finish_run(out.run_id, "failed", out.reason, metrics_json(trained->final_metrics, out.positive_label).dump(),
                             metrics_json(trained->best_metrics, out.positive_label).dump(), trained->best_step);
        } else {
            store.finish_run(out.run_id, "failed", what, "{}", "{}", -1);
        }
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (obs) obs->on_run_finished(out.run_id, out.status, out.reason);
    return out;
}

std::vector<std::string> latency_methods_for(const std::string& method) {
    if (is_mergeable(method)) return {"base", method, method + "-merged"};
    return {"base", method};   // ptv2 with its MLP too: its prompts are computed once, as in PEFT's inference mode
}

std::vector<LatencyResult> Runner::bench_run(Store& store, int64_t run_id, const LatencyOptions& opt0,
                                             RunObserver* observer, const CancelFlag* cancel) {
    auto rec = store.run(run_id);
    if (!rec) throw Error(store.path() + ": no run with id " + std::to_string(run_id));
    ExperimentSpec spec = ExperimentSpec::from_json(json::parse(rec->spec_json), "run " + std::to_string(run_id));
    LatencyOptions opt = opt0;
    opt.model_dir = resolve_model_dir(spec.model);
    opt.methods = latency_methods_for(spec.method.name);
    // The run's own prompt settings as recorded (a run started from an adapter has the adapter's).
    opt.layers = spec.method.name == "ptv2" && !rec->layers.empty() ? rec->layers : spec.method.prefix.layers.text;
    opt.delta = spec.method.delta;
    if (opt.prompt_lens.empty())
        opt.prompt_lens = {rec->prompt_len > 0 ? rec->prompt_len : (int)spec.method.prefix.prompt_len};
    std::vector<LatencyRow> rows;
    auto results = run_latency(
        opt,
        [&](const LatencyResult& r) {
            store.add_latency(run_id, {{r.method, r.batch_size, r.seq_len, r.prompt_len, r.median_ms, r.p90_ms, r.device, r.phase}});
            if (observer) observer->on_latency(r);
        },
        [&]() { return cancel && cancel->is_set(); });
    return results;
}

void export_run(Store& store, int64_t run_id, const std::string& format, const std::string& out_dir) {
    auto rec = store.run(run_id);
    if (!rec) throw Error(store.path() + ": no run with id " + std::to_string(run_id));
    if (format != "peft" && format != "ptune") throw Error("export format \"" + format + "\": use peft or ptune");
    {
        // A causal-LM run keeps its prefix in PEFT's format only.
        ExperimentSpec spec = ExperimentSpec::from_json(json::parse(rec->spec_json), "run " + std::to_string(run_id));
        if (spec.task == "causal-lm") {
            const std::string peft = generation_source_of_run(store, run_id).adapter_dir;
            if (format != "peft")
                throw Error("run " + std::to_string(run_id) + " trained a causal LM's prefix, kept in PEFT's format; "
                            "export it with --format peft");
            fs::create_directories(out_dir);
            for (const char* f : {"adapter_config.json", "adapter_model.safetensors"})
                fs::copy_file(fs::path(peft) / f, fs::path(out_dir) / f, fs::copy_options::overwrite_existing);
            store.add_artifact(run_id, {"peft_export", out_dir, now_s()});
            return;
        }
    }
    std::string adapter;
    for (auto& a : store.artifacts(run_id))
        if (a.kind == "ptune_adapter") adapter = a.path;
    if (adapter.empty()) {
        throw Error("run " + std::to_string(run_id) + " (" + rec->status + ") has no saved adapter" +
                    (rec->status == "failed" ? ": it failed (" + rec->status_reason + ")" : ""));
    }
    if (!fs::exists(fs::path(adapter) / "ptune_adapter.json"))
        throw Error("run " + std::to_string(run_id) + ": its adapter directory " + adapter + " is gone");
    {
        // The encoder-head tasks save both formats at the end of training: the export copies the one asked for.
        ExperimentSpec spec = ExperimentSpec::from_json(json::parse(rec->spec_json), "run " + std::to_string(run_id));
        if (spec.task == "token-cls" || spec.task == "qa" || spec.task == "choice") {
            std::vector<const char*> files = {"ptune_adapter.json", "ptune_adapter.safetensors"};
            if (format == "peft") {
                if (!fs::exists(fs::path(adapter) / "adapter_config.json"))
                    throw Error("run " + std::to_string(run_id) + ": " +
                                (spec.task == "choice"             ? std::string("PEFT has no multiple-choice task type")
                                 : spec.method.name == "head"      ? std::string("PEFT has no adapter type for a head trained alone")
                                 : spec.method.name == "full"      ? std::string("PEFT's adapters hold a method's own weights, and full fine-tuning changed every weight")
                                 : spec.method.name == "adapter"   ? std::string("PEFT has no bottleneck adapters (they are AdapterHub's)")
                                 : spec.method.name == "ptv2"      ? std::string("its prefix is not in every layer (PEFT's PREFIX_TUNING puts one in each)")
                                                                   : std::string("training wrote no PEFT files for it")) +
                                "; export in ptune's format (--format ptune)");
                files = {"adapter_config.json", "adapter_model.safetensors"};
                if (fs::exists(fs::path(adapter) / "ptune_labels.json")) files.push_back("ptune_labels.json");
            }
            fs::create_directories(out_dir);
            for (const char* f : files)
                fs::copy_file(fs::path(adapter) / f, fs::path(out_dir) / f, fs::copy_options::overwrite_existing);
            store.add_artifact(run_id, {format == "peft" ? "peft_export" : "ptune_export", out_dir, now_s()});
            return;
        }
    }
    if (is_method_adapter_dir(adapter)) {
        const std::string method = read_json_file((fs::path(adapter) / "ptune_adapter.json").string()).value("method", std::string());
        if (format == "peft") {
            if (!peft_can_express(method))
                throw Error("run " + std::to_string(run_id) + ": " +
                            (method == "adapter" ? std::string("PEFT has no bottleneck adapters")
                                                 : "PEFT cannot express a " + method + " run (it has no adapter weights)") +
                            "; export in ptune's format (--format ptune)");
            ExperimentSpec spec = ExperimentSpec::from_json(json::parse(rec->spec_json), "run " + std::to_string(run_id));
            const std::string model_dir = resolve_model_dir(spec.model);
            int64_t num_labels = -1;
            {
                json c = read_json_file((fs::path(adapter) / "ptune_adapter.json").string());
                if (c.contains("label_names") && c["label_names"].is_array() && c["label_names"].size() >= 2)
                    num_labels = (int64_t)c["label_names"].size();
            }
            auto model = EncoderClassifier::load(model_dir, num_labels, 0);
            MethodAdapter a = load_method_adapter(adapter, *model);
            apply_method_adapter(*model, a);
            PeftDelta d = peft_delta_of(method, a.options, *a.delta, *model, fs::absolute(model_dir).string());
            fs::create_directories(out_dir);
            export_peft_delta(out_dir, d, *model, spec.model == "builtin" ? "builtin" : fs::absolute(model_dir).string());
            write_peft_labels(out_dir, a.label_names);
            store.add_artifact(run_id, {"peft_export", out_dir, now_s()});
            return;
        }
        fs::create_directories(out_dir);
        for (const char* f : {"ptune_adapter.json", "ptune_adapter.safetensors"})
            fs::copy_file(fs::path(adapter) / f, fs::path(out_dir) / f, fs::copy_options::overwrite_existing);
        store.add_artifact(run_id, {"ptune_export", out_dir, now_s()});
        return;
    }
    ExperimentSpec spec = ExperimentSpec::from_json(json::parse(rec->spec_json), "run " + std::to_string(run_id));
    const std::string model_dir = resolve_model_dir(spec.model);
    ModelConfig cfg = ModelConfig::from_dir(model_dir);
    PromptAdapter a = load_prompt_adapter(adapter, cfg);
    auto model = EncoderClassifier::load(model_dir, (int64_t)a.label_names.size(), 0);
    apply_base(*model, a.base);
    apply_head(*model, a.head);
    if (format == "peft") {
        export_peft(out_dir, *a.prompt, *model, a.label_names,
                    spec.model == "builtin" ? "builtin" : fs::absolute(model_dir).string());
    } else {
        export_ptune(out_dir, *a.prompt, *model, a.label_names, spec.model);
    }
    store.add_artifact(run_id, {format == "peft" ? "peft_export" : "ptune_export", out_dir, now_s()});
}

}  // namespace ptune
