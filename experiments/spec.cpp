#include "experiments/spec.h"

#include "core/io/tagged_data.h"

#include <cmath>
#include <set>

namespace ptune {

namespace {

// Field readers that name "where: section.field" on error and reject unknown fields.
struct Reader {
    const json& j;
    std::string where;
    std::string section;
    std::set<std::string> seen;

    std::string at(const std::string& k) const { return where + ": " + (section.empty() ? "" : section + ".") + k; }
    template <class T>
    void get(const std::string& k, T& out) {
        seen.insert(k);
        auto it = j.find(k);
        if (it == j.end() || it->is_null()) return;
        if (const std::string why = integer_range_error<T>(*it); !why.empty()) throw Error(at(k) + ": " + why);
        try {
            out = it->get<T>();
        } catch (const std::exception&) {
            throw Error(at(k) + ": wrong type (" + std::string(it->type_name()) + ")");
        }
    }
    void done() const {
        for (auto it = j.begin(); it != j.end(); ++it)
            if (!seen.count(it.key())) throw Error(at(it.key()) + ": unknown field");
    }
};

Reader section(const json& parent, const std::string& key, const std::string& where, const std::string& prefix) {
    static const json empty = json::object();
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return Reader{empty, where, prefix + key, {}};
    if (!it->is_object()) throw Error(where + ": " + prefix + key + ": must be an object");
    return Reader{*it, where, prefix + key, {}};
}

}  // namespace

json ExperimentSpec::method_json() const {
    const auto& p = method.prefix;
    json m = {{"name", method.name}};
    if (method.name == "ptv2") {
        m.update({{"prompt_len", p.prompt_len},
                  {"layers", p.layers.text},
                  {"mlp", p.mlp},
                  {"mlp_hidden", p.mlp_hidden},
                  {"prefix_dropout", p.dropout},
                  {"init", init_name(p.init)},
                  {"init_std", p.init_std},
                  {"init_adapter", method.init_adapter}});
    } else if (method.uses_prompt_len()) {
        m["prompt_len"] = p.prompt_len;
    }
    // Other methods start from an adapter too (written only when set, so that earlier runs' specs read alike).
    if (method.name != "ptv2" && !method.init_adapter.empty()) m["init_adapter"] = method.init_adapter;
    m.update(delta_options_to_json(method.name, method.delta));
    return m;
}

json ExperimentSpec::to_json() const {
    const auto& t = train;
    json j = json{
        {"ptune_spec", kVersion},
        {"name", name},
        {"model", model},
        {"data",
         {{"train", data.train},
          {"valid", data.valid},
          {"valid_fraction", data.valid_fraction},
          {"split_seed", data.split_seed},
          {"format", data.format},
          {"text_column", data.text_column},
          {"text_pair_column", data.text_pair_column},
          {"label_column", data.label_column},
          {"on_bad_row", data.on_bad_row},
          {"max_rows", data.max_rows}}},
        {"method", method_json()},
        {"train",
         {{"lr", t.lr},
          {"betas", {t.beta1, t.beta2}},
          {"eps", t.eps},
          {"weight_decay", t.weight_decay},
          {"schedule", t.schedule},
          {"warmup_steps", t.warmup_steps},
          {"max_grad_norm", t.max_grad_norm},
          {"batch_size", t.batch_size},
          {"max_len", t.max_len},
          {"epochs", t.epochs},
          {"steps", t.steps},
          {"shuffle", t.shuffle},
          {"seed", t.seed},
          {"eval_every", t.eval_every},
          {"metric", t.metric},
          {"early_stopping_patience", t.early_stopping_patience},
          {"keep_best", t.keep_best},
          {"device", t.device},
          {"threads", t.threads},
          {"norms_every", t.norms_every},
          {"sync_every", t.sync_every}}},
        {"latency",
         {{"measure", latency.measure},
          {"batch_size", latency.batch_size},
          {"seq_len", latency.seq_len},
          {"repeats", latency.repeats},
          {"warmup", latency.warmup}}},
        {"out_dir", out_dir},
        {"tags", tags},
        {"notes", notes},
        {"suite", suite},
    };
    if (train.hidden_dropout >= 0) j["train"]["hidden_dropout"] = train.hidden_dropout;   // only when set
    if (!preset.empty()) j["preset"] = preset;
    // Written only for causal LMs, so that classification specs read as before.
    if (task == "causal-lm") {
        j["task"] = task;
        j["data"]["target_column"] = data.target_column;
        j["data"]["template"] = data.prompt_template;
    } else if (task == "qa") {
        j["task"] = task;
        j["data"]["doc_stride"] = data.doc_stride;
        j["data"]["max_question_len"] = data.max_question_len;
        j["data"]["n_best"] = data.n_best;
        j["data"]["max_answer_len"] = data.max_answer_len;
        j["data"]["null_threshold"] = data.null_threshold;
    } else if (task == "choice") {
        j["task"] = task;
    } else if (task != "seq-cls") {
        j["task"] = task;
        j["data"]["tokens_column"] = data.tokens_column;
        j["data"]["tags_column"] = data.tags_column;
        j["data"]["tag_scheme"] = data.tag_scheme;
        j["data"]["label_all_subtokens"] = data.label_all_subtokens;
    }
    return j;
}

ExperimentSpec ExperimentSpec::from_json(const json& j, const std::string& where) {
    if (!j.is_object()) throw Error(where + ": an experiment spec must be a JSON object");
    ExperimentSpec s;
    Reader top{j, where, "", {}};
    int version = 0;
    top.get("ptune_spec", version);
    if (!j.contains("ptune_spec")) throw Error(where + ": ptune_spec: missing (the spec format version, 1)");
    if (version < 1 || version > kVersion) {
        throw Error(where + ": ptune_spec: version " + std::to_string(version) + " is not supported (this ptune reads 1.." +
                    std::to_string(kVersion) + ")");
    }
    top.get("name", s.name);
    top.get("model", s.model);
    top.get("out_dir", s.out_dir);
    top.get("tags", s.tags);
    top.get("notes", s.notes);
    top.get("suite", s.suite);
    top.get("task", s.task);
    top.get("preset", s.preset);
    top.seen.insert({"data", "method", "train", "latency"});
    top.done();

    Reader d = section(j, "data", where, "");
    d.get("train", s.data.train);
    d.get("valid", s.data.valid);
    d.get("valid_fraction", s.data.valid_fraction);
    d.get("split_seed", s.data.split_seed);
    d.get("format", s.data.format);
    d.get("text_column", s.data.text_column);
    d.get("text_pair_column", s.data.text_pair_column);
    d.get("label_column", s.data.label_column);
    d.get("on_bad_row", s.data.on_bad_row);
    d.get("max_rows", s.data.max_rows);
    d.get("target_column", s.data.target_column);
    d.get("template", s.data.prompt_template);
    d.get("tokens_column", s.data.tokens_column);
    d.get("tags_column", s.data.tags_column);
    d.get("tag_scheme", s.data.tag_scheme);
    d.get("label_all_subtokens", s.data.label_all_subtokens);
    d.get("doc_stride", s.data.doc_stride);
    d.get("max_question_len", s.data.max_question_len);
    d.get("n_best", s.data.n_best);
    d.get("max_answer_len", s.data.max_answer_len);
    d.get("null_threshold", s.data.null_threshold);
    d.done();

    Reader m = section(j, "method", where, "");
    auto& p = s.method.prefix;
    std::string layers = p.layers.text, init = init_name(p.init);
    m.get("name", s.method.name);
    m.get("prompt_len", p.prompt_len);
    m.get("layers", layers);
    m.get("mlp", p.mlp);
    m.get("mlp_hidden", p.mlp_hidden);
    m.get("prefix_dropout", p.dropout);
    m.get("init", init);
    m.get("init_std", p.init_std);
    m.get("init_adapter", s.method.init_adapter);
    auto& dl = s.method.delta;
    m.get("prompt_init", dl.prompt_init);
    m.get("prompt_init_text", dl.prompt_init_text);
    m.get("encoder", dl.encoder);
    m.get("encoder_hidden", dl.encoder_hidden);
    m.get("lora_r", dl.lora_r);
    m.get("lora_alpha", dl.lora_alpha);
    m.get("lora_dropout", dl.lora_dropout);
    m.get("rslora", dl.rslora);
    m.get("target_modules", dl.target_modules);
    m.get("feedforward_modules", dl.feedforward_modules);
    m.get("adapter_size", dl.adapter_size);
    m.get("adapter_placement", dl.adapter_placement);
    m.get("adapter_act", dl.adapter_act);
    m.done();
    try {
        p.layers = LayerSpec::parse(layers);
        p.init = init_from_name(init);
    } catch (const Error& e) {
        throw Error(where + ": method: " + e.what());
    }

    Reader t = section(j, "train", where, "");
    auto& o = s.train;
    std::vector<double> betas{o.beta1, o.beta2};
    t.get("lr", o.lr);
    t.get("betas", betas);
    if (betas.size() != 2) throw Error(t.at("betas") + ": needs two numbers");
    o.beta1 = betas[0], o.beta2 = betas[1];
    t.get("eps", o.eps);
    t.get("weight_decay", o.weight_decay);
    t.get("schedule", o.schedule);
    t.get("warmup_steps", o.warmup_steps);
    t.get("max_grad_norm", o.max_grad_norm);
    t.get("hidden_dropout", o.hidden_dropout);
    t.get("batch_size", o.batch_size);
    t.get("max_len", o.max_len);
    t.get("epochs", o.epochs);
    t.get("steps", o.steps);
    t.get("shuffle", o.shuffle);
    t.get("seed", o.seed);
    t.get("eval_every", o.eval_every);
    // A causal-LM spec without a metric selects by exact match (accuracy is a classification metric).
    // A token-classification spec selects by entity F1.
    const bool metric_given = j.contains("train") && j["train"].is_object() && j["train"].contains("metric");
    if (s.task == "causal-lm" && !metric_given) o.metric = "exact_match";
    if (s.task == "token-cls" && !metric_given) o.metric = "entity_f1";
    if (s.task == "qa" && !metric_given) o.metric = "qa_f1";
    t.get("metric", o.metric);
    t.get("early_stopping_patience", o.early_stopping_patience);
    t.get("keep_best", o.keep_best);
    t.get("device", o.device);
    t.get("threads", o.threads);
    t.get("norms_every", o.norms_every);
    t.get("sync_every", o.sync_every);
    t.done();

    Reader lt = section(j, "latency", where, "");
    lt.get("measure", s.latency.measure);
    lt.get("batch_size", s.latency.batch_size);
    lt.get("seq_len", s.latency.seq_len);
    lt.get("repeats", s.latency.repeats);
    lt.get("warmup", s.latency.warmup);
    lt.done();
    try {
        s.validate();
    } catch (const Error& e) {
        throw Error(where + ": " + e.what());
    }
    return s;
}

namespace {
// The column fields of sequence classification and causal LMs, refused by tasks whose files name their own.
void refuse_column_fields(const DataSpec& data, const std::string& why) {
    for (const auto& [field, v] : {std::pair<const char*, const std::string*>{"text_column", &data.text_column},
                                   {"text_pair_column", &data.text_pair_column},
                                   {"label_column", &data.label_column},
                                   {"target_column", &data.target_column},
                                   {"template", &data.prompt_template}})
        if (!v->empty()) throw Error(std::string("data.") + field + ": " + why);
}

}  // namespace

void ExperimentSpec::validate() const {
    if (model.empty()) throw Error("model: give a model directory or \"builtin\"");
    if (data.train.empty()) throw Error("data.train: give a training file or \"builtin\"");
    if (data.valid_fraction < 0 || data.valid_fraction >= 1) throw Error("data.valid_fraction: must be in [0, 1)");
    if (task == "token-cls") {
        if (data.format != "auto" && data.format != "conll" && data.format != "jsonl")
            throw Error("data.format: \"" + data.format + "\": token classification reads auto, conll or jsonl");
    } else if (task == "qa") {
        if (data.format != "auto" && data.format != "json" && data.format != "jsonl")
            throw Error("data.format: \"" + data.format + "\": extractive QA reads auto, json (SQuAD) or jsonl");
    } else if (task == "choice") {
        if (data.format != "auto" && data.format != "jsonl")
            throw Error("data.format: \"" + data.format + "\": multiple choice reads auto or jsonl");
    } else if (data.format != "auto" && !parse_data_format(data.format)) {
        throw Error("data.format: \"" + data.format + "\": use auto, tsv, csv or jsonl");
    }
    if (data.on_bad_row != "stop" && data.on_bad_row != "skip")
        throw Error("data.on_bad_row: \"" + data.on_bad_row + "\": use stop or skip");
    if (!is_method_name(method.name))
        throw Error("method.name: \"" + method.name +
                    "\": use ptv2 (P-Tuning v2; prefix tuning is ptv2 with mlp on), prompt, ptuning, lora, ia3, adapter, full or head");
    if (method.name == "ptv2") {
        try {
            method.prefix.validate();
        } catch (const Error& e) {
            throw Error(std::string("method: ") + e.what());
        }
    } else {
        if (method.uses_prompt_len() && method.prefix.prompt_len < 1) throw Error("method.prompt_len: must be at least 1");
        method.delta.validate(method.name);
    }
    train.validate();
    const bool generative = train.metric == "exact_match" || train.metric == "perplexity";
    if (task == "causal-lm") {
        if (method.name != "ptv2")
            throw Error("method.name: \"" + method.name + "\" on a causal LM is not supported yet (task causal-lm trains "
                        "P-Tuning v2 / prefix tuning: ptv2)");
        if (method.prefix.layers.text != "all")
            throw Error("method.layers: \"" + method.prefix.layers.text + "\": a causal LM's prefix is in every layer (PEFT's "
                        "layout for decoders); use all");
        if (!generative && train.metric != "loss")
            throw Error("train.metric: \"" + train.metric + "\" is a classification metric; a causal LM is judged by "
                        "exact_match, perplexity or loss");
        if (!data.text_pair_column.empty()) throw Error("data.text_pair_column: a causal LM's prompt is one text (use data.template)");
        if (!data.prompt_template.empty() && data.prompt_template.find("{text}") == std::string::npos)
            throw Error("data.template: \"" + data.prompt_template + "\" has no {text} (where each row's text goes)");
    } else if (task == "token-cls") {
        if (train.metric != "entity_f1" && train.metric != "tag_accuracy" && train.metric != "loss")
            throw Error("train.metric: \"" + train.metric + "\": token classification is judged by entity_f1 (entity "
                        "F1 as seqeval computes it), tag_accuracy (words' tags) or loss");
        if (data.train == "builtin")
            throw Error("data.train: token classification needs a CoNLL or JSONL file of tagged words (the built-in "
                        "data set is sentence classification)");
        refuse_column_fields(data, "not for token classification (use data.tokens_column and data.tags_column)");
        if (!parse_tag_scheme(data.tag_scheme))
            throw Error("data.tag_scheme: \"" + data.tag_scheme + "\": use auto, iob2 (bio), iob1, iobes or none");
    } else if (task == "qa") {
        if (train.metric != "qa_f1" && train.metric != "exact_match" && train.metric != "loss")
            throw Error("train.metric: \"" + train.metric + "\": extractive QA is judged by qa_f1 or exact_match (the "
                        "official SQuAD scripts' F1 and EM) or loss");
        if (data.train == "builtin")
            throw Error("data.train: extractive QA needs a SQuAD JSON or JSONL file (the built-in data set is sentence "
                        "classification)");
        refuse_column_fields(data, "not for extractive QA (SQuAD files name their fields)");
        if (data.doc_stride < 0) throw Error("data.doc_stride: must be 0 or more");
        if (data.max_question_len < 1) throw Error("data.max_question_len: must be at least 1");
        if (data.n_best < 1) throw Error("data.n_best: must be at least 1");
        if (data.max_answer_len < 1) throw Error("data.max_answer_len: must be at least 1");
        if (!std::isfinite(data.null_threshold)) throw Error("data.null_threshold: must be a number");
    } else if (task == "choice") {
        if (train.metric != "accuracy" && train.metric != "loss")
            throw Error("train.metric: \"" + train.metric + "\": multiple choice is judged by accuracy or loss");
        if (data.train == "builtin")
            throw Error("data.train: multiple choice needs a JSONL file of questions with choices (COPA, SWAG or "
                        "context/choices/label; the built-in data set is sentence classification)");
        refuse_column_fields(data, "not for multiple choice (its JSONL rows name their fields)");
    } else if (task == "seq-cls") {
        if (generative || train.metric == "entity_f1" || train.metric == "tag_accuracy" || train.metric == "qa_f1")
            throw Error("train.metric: \"" + train.metric + "\" is a " +
                        (generative ? "causal-LM" : train.metric == "qa_f1" ? "QA" : "token-classification") +
                        " metric; sequence classification uses accuracy, f1, f1_pos, mcc or loss");
        if (!data.target_column.empty() || !data.prompt_template.empty())
            throw Error(std::string(data.target_column.empty() ? "data.template" : "data.target_column") +
                        ": for task causal-lm (set task: causal-lm)");
    } else {
        throw Error("task: \"" + task + "\": use seq-cls (sequence classification), token-cls (token classification), "
                    "qa (extractive question answering), choice (multiple choice) or causal-lm");
    }
    if (task != "token-cls" && (!data.tokens_column.empty() || !data.tags_column.empty() || data.tag_scheme != "auto" ||
                                data.label_all_subtokens))
        throw Error("data.tokens_column, tags_column, tag_scheme and label_all_subtokens are for task token-cls");
    const DataSpec plain;
    if (task != "qa" && (data.doc_stride != plain.doc_stride || data.max_question_len != plain.max_question_len ||
                         data.n_best != plain.n_best || data.max_answer_len != plain.max_answer_len ||
                         data.null_threshold != plain.null_threshold))
        throw Error("data.doc_stride, max_question_len, n_best, max_answer_len and null_threshold are for task qa");
    if (latency.batch_size < 1) throw Error("latency.batch_size: must be at least 1");
    if (latency.seq_len < 0) throw Error("latency.seq_len: must be 0 (the run's max length) or more");
    if (latency.repeats < 1) throw Error("latency.repeats: must be at least 1");
    if (latency.warmup < 0) throw Error("latency.warmup: must be 0 or more");
}

ExperimentSpec ExperimentSpec::load(const std::string& path) { return from_json(read_json_file(path), path); }

void ExperimentSpec::save(const std::string& path) const { write_json_file(path, to_json()); }

std::string ExperimentSpec::display_name() const {
    if (!name.empty()) return name;
    // The model directory's name (with its parent when it is just "model"), or builtin.
    std::string m = model;
    while (m.size() > 1 && m.back() == '/') m.pop_back();
    auto cut = m.find_last_of('/');
    if (cut != std::string::npos && m.substr(cut + 1) == "model" && cut > 0) cut = m.find_last_of('/', cut - 1);
    if (cut != std::string::npos) m = m.substr(cut + 1);
    const auto& d = method.delta;
    const std::string P = " P=" + std::to_string(method.prefix.prompt_len);
    if (method.name == "ptv2")
        return std::string(method.prefix.mlp ? "prefix-mlp" : "ptv2") + P + " " + method.prefix.layers.text + " on " + m;
    if (method.name == "prompt") return "prompt" + P + " on " + m;
    if (method.name == "ptuning") return "ptuning" + P + " " + d.encoder + " on " + m;
    if (method.name == "lora") return "lora r=" + std::to_string(d.lora_r) + " on " + m;
    if (method.name == "adapter")
        return "adapter " + d.adapter_placement + (d.adapter_size > 0 ? " m=" + std::to_string(d.adapter_size) : "") + " on " + m;
    return method.name + " on " + m;
}

}  // namespace ptune
