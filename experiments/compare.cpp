#include "experiments/compare.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>
#include <utility>

#include "core/engine/method_options.h"
#include "core/io/json_util.h"

namespace ptune {

namespace {

// The spec as a JSON object, or a null json when it does not parse as one.
json parse_spec(const std::string& text) {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    return j.is_object() ? j : json();
}

std::string basename_of(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    auto cut = path.find_last_of('/');
    // A model directory called just "model" is named with its parent, as ExperimentSpec::display_name does.
    if (cut != std::string::npos && path.substr(cut + 1) == "model" && cut > 0) cut = path.find_last_of('/', cut - 1);
    return cut == std::string::npos ? path : path.substr(cut + 1);
}

// "ptv2 P=16 all on builtin", from the spec when it parses, else from the record's columns.
std::string base_label(const RunRecord& r) {
    const json spec = parse_spec(r.spec_json);
    std::string method = r.method, layers = r.layers, model = r.model;
    int64_t p = r.prompt_len;
    if (spec.is_object()) {
        const json m = spec.value("method", json::object());
        if (m.is_object()) {
            if (m.value("mlp", false)) method = "prefix-mlp";
            else if (m.contains("name") && m["name"].is_string()) method = m["name"].get<std::string>();
            if (m.contains("prompt_len") && m["prompt_len"].is_number_integer()) p = m["prompt_len"].get<int64_t>();
            if (m.contains("layers") && m["layers"].is_string()) layers = m["layers"].get<std::string>();
        }
        if (spec.contains("model") && spec["model"].is_string()) model = spec["model"].get<std::string>();
    }
    if (method.empty()) method = "run";
    return method + " P=" + std::to_string(p) + " " + (layers.empty() ? "all" : layers) + " on " +
           (model.empty() ? std::string("?") : basename_of(model));
}

// Leaf values of a JSON object by dotted path ("train.lr" -> "0.005"), for naming what differs between groups.
void flatten(const json& j, const std::string& prefix, std::map<std::string, std::string>& out) {
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    } else {
        out[prefix] = j.is_string() ? j.get<std::string>() : j.dump();
    }
}

Stat stat_of(const std::vector<double>& v) {
    Stat s;
    s.n = (int)v.size();
    if (v.empty()) return s;
    double sum = 0;
    for (double x : v) sum += x;
    s.mean = sum / (double)v.size();
    if (v.size() > 1) {
        double ss = 0;
        for (double x : v) ss += (x - s.mean) * (x - s.mean);
        s.std = std::sqrt(ss / (double)(v.size() - 1));
    }
    return s;
}

RunRecord require_run(const Store& store, int64_t id) {
    auto r = store.run(id);
    if (!r) throw Error(store.path() + ": no run with id " + std::to_string(id));
    return *r;
}

void write_row(std::ostream& out, const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
        if (i) out << ',';
        out << cells[i];
    }
    out << '\n';
}

}  // namespace

std::string seed_group_key(const RunRecord& r) {
    json spec = parse_spec(r.spec_json);
    if (spec.is_object()) {
        // latency: how the run was measured afterwards, not how it trained
        for (const char* k : {"name", "tags", "notes", "suite", "out_dir", "latency"}) spec.erase(k);
        auto t = spec.find("train");
        if (t != spec.end() && t->is_object()) t->erase("seed");
        return spec.dump();
    }
    json fallback = {{"model", r.model}, {"dataset", r.dataset}, {"method", r.method},
                     {"prompt_len", r.prompt_len}, {"layers", r.layers}};
    return fallback.dump();
}

std::vector<SeedGroup> group_by_seed(const std::vector<RunRecord>& runs) {
    std::vector<SeedGroup> groups;
    std::map<std::string, size_t> index;
    std::vector<std::map<std::string, std::vector<double>>> values;
    std::vector<std::set<int64_t>> seeds;
    std::vector<std::string> base;
    for (const RunRecord& r : runs) {
        const std::string key = seed_group_key(r);
        auto [it, fresh] = index.emplace(key, groups.size());
        if (fresh) {
            groups.push_back(SeedGroup{key, "", {}, 0, {}});
            values.emplace_back();
            seeds.emplace_back();
            base.push_back(base_label(r));
        }
        const size_t g = it->second;
        groups[g].run_ids.push_back(r.id);
        seeds[g].insert(r.seed);
        if (r.status != "completed") continue;
        ++groups[g].completed;
        for (auto& [k, v] : parse_metrics_json(r.best_metrics_json))
            if (std::isfinite(v)) values[g][k].push_back(v);
        for (auto& [k, v] : parse_metrics_json(r.final_metrics_json))
            if (std::isfinite(v)) values[g]["final/" + k].push_back(v);
    }
    for (size_t g = 0; g < groups.size(); ++g)
        for (auto& [k, v] : values[g]) groups[g].best[k] = stat_of(v);

    // Groups that would read the same get the spec fields in which they differ ("train.lr=0.005").
    std::map<std::string, std::vector<size_t>> by_label;
    for (size_t g = 0; g < groups.size(); ++g) by_label[base[g]].push_back(g);
    std::vector<std::string> extra(groups.size());
    for (auto& [label, members] : by_label) {
        if (members.size() < 2) continue;
        std::vector<std::map<std::string, std::string>> flat(members.size());
        std::set<std::string> paths;
        for (size_t i = 0; i < members.size(); ++i) {
            flatten(json::parse(groups[members[i]].key, nullptr, false), "", flat[i]);
            for (auto& [p, v] : flat[i]) paths.insert(p);
        }
        std::vector<std::string> differing;
        for (const std::string& p : paths) {
            std::set<std::string> vals;
            for (auto& f : flat) vals.insert(f.count(p) ? f.at(p) : std::string("-"));
            if (vals.size() > 1) differing.push_back(p);
        }
        for (size_t i = 0; i < members.size(); ++i) {
            std::string s;
            for (size_t d = 0; d < differing.size() && d < 3; ++d) {
                const std::string& p = differing[d];
                s += " " + p + "=" + (flat[i].count(p) ? flat[i].at(p) : std::string("-"));
            }
            if (differing.size() > 3) s += " …";
            extra[members[i]] = s;
        }
    }
    for (size_t g = 0; g < groups.size(); ++g) {
        const size_t n = groups[g].run_ids.size();
        std::string count = std::to_string(n) + (seeds[g].size() == n ? (n == 1 ? " seed" : " seeds") : (n == 1 ? " run" : " runs"));
        if ((size_t)groups[g].completed != n) count += ", " + std::to_string(groups[g].completed) + " completed";
        groups[g].label = base[g] + extra[g] + " (" + count + ")";
    }
    return groups;
}

std::string primary_metric(const RunRecord& r) {
    const json spec = parse_spec(r.spec_json);
    if (spec.is_object()) {
        auto t = spec.find("train");
        if (t != spec.end() && t->is_object()) {
            auto m = t->find("metric");
            if (m != t->end() && m->is_string() && !m->get<std::string>().empty()) return m->get<std::string>();
        }
    }
    return "accuracy";
}

double duration_s(const RunRecord& r) {
    if (r.started_at <= 0 || r.finished_at <= 0 || r.finished_at < r.started_at) return 0;
    return r.finished_at - r.started_at;
}

std::map<std::string, double> parse_metrics_json(const std::string& text) {
    std::map<std::string, double> out;
    const json j = json::parse(text, nullptr, false);
    if (!j.is_object()) return out;
    for (auto it = j.begin(); it != j.end(); ++it)
        if (it->is_number()) out[it.key()] = it->get<double>();
    return out;
}

std::string metric_display_name(const std::string& key, const std::string& positive_label) {
    const size_t slash = key.find('/');
    const std::string scope = slash == std::string::npos ? "" : key.substr(0, slash);
    const std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
    std::string shown = name;
    if (name == "f1") shown = "macro-F1";
    else if (name == "f1_pos") shown = positive_label.empty() ? "F1 (positive label)" : "F1 (positive: " + positive_label + ")";
    else if (name == "mcc") shown = "MCC";
    else if (name == "exact_match") shown = "exact match";
    else if (name == "entity_f1") shown = "entity F1";
    else if (name == "entity_precision") shown = "entity precision";
    else if (name == "entity_recall") shown = "entity recall";
    else if (name == "tag_accuracy") shown = "tag accuracy";
    else if (name == "qa_f1") shown = "F1 (SQuAD)";
    else if (name == "has_ans_exact_match") shown = "exact match (answerable)";
    else if (name == "has_ans_f1") shown = "F1 (answerable)";
    else if (name == "no_ans_accuracy") shown = "no-answer accuracy";
    else if (name.rfind("f1_", 0) == 0 && name != "f1_pos") shown = "F1 " + name.substr(3);   // per entity type
    if (scope == "final" || scope == "best") return scope + " " + shown;
    if (scope.empty() || scope == "eval") return shown;
    return scope + "/" + shown;
}

std::string positive_label_of(const RunRecord& r) {
    const json j = json::parse(r.best_metrics_json.empty() ? "{}" : r.best_metrics_json, nullptr, false);
    if (!j.is_object()) return "";
    auto it = j.find("positive_label");
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) {
        if (c == '"') q += '"';
        q += c;
    }
    return q + '"';
}

std::string csv_number(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
    return std::string(buf, res.ptr);
}

void write_metrics_csv(const Store& store, const std::vector<int64_t>& ids, std::ostream& out) {
    out << "run_id,run_name,seed,method,prompt_len,layers,key,step,epoch,time_s,value\n";
    for (int64_t id : ids) {
        const RunRecord r = require_run(store, id);
        const std::string prefix = std::to_string(r.id) + "," + csv_field(r.name) + "," + std::to_string(r.seed) + "," +
                                   csv_field(r.method) + "," + std::to_string(r.prompt_len) + "," + csv_field(r.layers) + ",";
        for (const MetricPoint& p : store.metrics(id)) {
            out << prefix << csv_field(p.key) << ',' << p.step << ',' << csv_number(p.epoch) << ',' << csv_number(p.time)
                << ',' << csv_number(p.value) << '\n';
        }
    }
}

void write_summary_csv(const Store& store, const std::vector<int64_t>& ids, std::ostream& out) {
    std::vector<RunRecord> runs;
    std::vector<std::map<std::string, double>> best, fin;
    std::set<std::string> best_keys, final_keys;
    for (int64_t id : ids) {
        runs.push_back(require_run(store, id));
        best.push_back(parse_metrics_json(runs.back().best_metrics_json));
        fin.push_back(parse_metrics_json(runs.back().final_metrics_json));
        for (auto& [k, v] : best.back()) best_keys.insert(k);
        for (auto& [k, v] : fin.back()) final_keys.insert(k);
    }
    std::vector<std::string> header = {"id", "name", "status", "model", "dataset", "method", "prompt_len", "layers", "seed",
                                       "trainable_params", "total_params", "trainable_share", "best_step"};
    for (auto& k : best_keys) header.push_back(csv_field("best/" + k));
    for (auto& k : final_keys) header.push_back(csv_field("final/" + k));
    for (const char* k : {"duration_s", "train_device", "peak_mem_bytes", "step_ms"}) header.push_back(k);
    write_row(out, header);
    for (size_t i = 0; i < runs.size(); ++i) {
        const RunRecord& r = runs[i];
        std::vector<std::string> row = {
            std::to_string(r.id), csv_field(r.name), csv_field(r.status), csv_field(r.model), csv_field(r.dataset),
            csv_field(r.method), std::to_string(r.prompt_len), csv_field(r.layers), std::to_string(r.seed),
            std::to_string(r.trainable_params), std::to_string(r.total_params),
            r.total_params > 0 ? csv_number((double)r.trainable_params / (double)r.total_params) : std::string(),
            r.best_step >= 0 ? std::to_string(r.best_step) : std::string()};
        for (auto& k : best_keys) row.push_back(best[i].count(k) ? csv_number(best[i].at(k)) : std::string());
        for (auto& k : final_keys) row.push_back(fin[i].count(k) ? csv_number(fin[i].at(k)) : std::string());
        row.push_back(csv_number(duration_s(r)));
        row.push_back(csv_field(r.train_device));
        row.push_back(r.peak_mem_bytes > 0 ? std::to_string(r.peak_mem_bytes) : std::string());
        row.push_back(r.step_ms > 0 ? csv_number(r.step_ms) : std::string());
        write_row(out, row);
    }
}

namespace {

std::string join_modules(const json& m, const std::string& fallback) {
    if (!m.is_array() || m.empty()) return fallback;
    std::string s;
    for (const auto& x : m)
        if (x.is_string()) {
            std::string n = x.get<std::string>();
            if (n == "attention.output.dense") n = "attn-out";
            else if (n == "intermediate.dense") n = "ffn-in";
            else if (n == "output.dense") n = "ffn-out";
            s += (s.empty() ? "" : "+") + n;
        }
    return s;
}

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// The method's display name and settings, from the stored spec (the record's columns when it does not parse).
void describe_method(const RunRecord& r, MethodRow& row) {
    const json spec = parse_spec(r.spec_json);
    const json m = spec.is_object() ? spec.value("method", json::object()) : json::object();
    std::string name = m.is_object() ? m.value("name", r.method) : r.method;
    if (name == "ptv2" && m.is_object() && m.value("mlp", false)) name = "prefix-mlp";
    if (name.empty()) name = r.method;
    row.method = name;
    const std::string P = "P=" + std::to_string(m.is_object() ? m.value("prompt_len", (int64_t)r.prompt_len) : r.prompt_len);
    const std::string layers = m.is_object() ? m.value("layers", r.layers) : r.layers;
    const std::string depth = layers.empty() || layers == "all" ? "all layers" : "layers " + layers;
    auto opt = [&](const char* k, auto def) { return m.is_object() ? m.value(k, def) : def; };
    if (name == "ptv2") {
        row.method_label = "P-Tuning v2";
        row.settings = P + ", " + depth;
    } else if (name == "prefix-mlp") {
        row.method_label = "Prefix tuning (MLP)";
        row.settings = P + ", " + depth + ", MLP " + std::to_string(opt("mlp_hidden", (int64_t)512));
    } else if (name == "prompt") {
        row.method_label = "Prompt tuning";
        row.settings = P + ", init " + opt("prompt_init", std::string("random"));
    } else if (name == "ptuning") {
        const std::string enc = opt("encoder", std::string("mlp"));
        row.method_label = enc == "lstm" ? "P-tuning (LSTM)" : "P-tuning (MLP)";
        row.settings = P;
    } else if (name == "lora") {
        row.method_label = "LoRA";
        row.settings = "r=" + std::to_string(opt("lora_r", (int64_t)8)) + ", alpha=" + num(opt("lora_alpha", 16.0)) + ", " +
                       join_modules(m.is_object() ? m.value("target_modules", json::array()) : json::array(), "query+value");
    } else if (name == "ia3") {
        row.method_label = "IA\u00b3";
        row.settings = join_modules(m.is_object() ? m.value("target_modules", json::array()) : json::array(),
                                    "key+value+attn-out+ffn-out");
    } else if (name == "adapter") {
        const std::string place = opt("adapter_placement", std::string("houlsby"));
        row.method_label = place == "pfeiffer" ? "Adapter (Pfeiffer)" : "Adapter (Houlsby)";
        const int64_t size = opt("adapter_size", (int64_t)0);
        row.settings = (size > 0 ? "m=" + std::to_string(size) : std::string("m=H/16")) + ", " + opt("adapter_act", std::string("relu"));
    } else if (name == "full") {
        row.method_label = "Full fine-tuning";
        row.settings = "every weight";
    } else if (name == "head") {
        row.method_label = "Head only";
        row.settings = "linear probe";
    } else {
        row.method_label = name;
    }
}

struct RunLatency {
    bool found = false;
    double method_ms = 0, base_ms = 0;
    bool merged_found = false;
    double merged_ms = 0, merged_base_ms = 0;
    std::string config;
};

// One measurement of a run's method against the base model: run_latency stores a measurement's rows base first,
// then the method, then its merged form. The row of the method (at the run's own prompt length) is paired with the
// nearest base row before it at the same batch, length and device (the same measurement) and the merged row after
// it. `want_batch` / `want_seq` > 0: only a measurement at that configuration (the run's latency settings) counts;
// else the latest one. A causal LM's rows are compared per new token (the decoding cost; phase "per_token").
RunLatency run_latency_of(const std::vector<LatencyRow>& rows, const std::string& method, int prompt_len, int want_batch,
                          int want_seq) {
    RunLatency out;
    const std::string lm = method == "prefix-mlp" ? "ptv2" : method;
    const bool prompted = has_prompt_len(lm);
    auto same = [](const LatencyRow& a, const LatencyRow& b) {
        return a.batch_size == b.batch_size && a.seq_len == b.seq_len && a.device == b.device && a.phase == b.phase;
    };
    for (size_t k = rows.size(); k-- > 0;) {
        const LatencyRow& m = rows[k];
        if (m.method != lm || (prompted && m.prompt_len != prompt_len) || m.phase == "first_token") continue;
        if (want_batch > 0 && (m.batch_size != want_batch || m.seq_len != want_seq)) continue;
        const LatencyRow* base = nullptr;
        for (size_t b = k; b-- > 0;)
            if (rows[b].method == "base" && same(rows[b], m)) {
                base = &rows[b];
                break;
            }
        if (!base || base->median_ms <= 0) continue;
        out.found = true;
        out.method_ms = m.median_ms;
        out.base_ms = base->median_ms;
        out.config = "batch " + std::to_string(m.batch_size) + " \u00d7 " + std::to_string(m.seq_len) + " tokens, " + m.device +
                     (m.phase == "per_token" ? ", per new token" : "");
        for (size_t g = k + 1; g < rows.size(); ++g) {
            if (rows[g].method == "base" && same(rows[g], m)) break;   // the next measurement
            if (rows[g].method == lm + "-merged" && same(rows[g], m)) {
                out.merged_found = true;
                out.merged_ms = rows[g].median_ms;
                out.merged_base_ms = base->median_ms;
                break;
            }
        }
        break;
    }
    return out;
}

// The configuration a run measured itself at after training (spec latency.measure): batch and length; 0, 0 when
// it did not.
std::pair<int, int> own_latency_config(const RunRecord& r) {
    const json spec = parse_spec(r.spec_json);
    if (!spec.is_object()) return {0, 0};
    const json l = spec.value("latency", json::object());
    if (!l.is_object() || !l.value("measure", false)) return {0, 0};
    int seq = l.value("seq_len", 0);
    if (seq <= 0) {
        const json t = spec.value("train", json::object());
        seq = t.is_object() ? t.value("max_len", 0) : 0;
    }
    return {l.value("batch_size", 0), seq};
}

}  // namespace

std::vector<MethodRow> compare_methods(const Store& store, const std::vector<int64_t>& ids) {
    std::vector<RunRecord> records;
    std::map<int64_t, size_t> at;
    for (int64_t id : ids) {
        if (at.count(id)) continue;
        at[id] = records.size();
        records.push_back(require_run(store, id));
    }
    std::vector<MethodRow> rows;
    for (SeedGroup& g : group_by_seed(records)) {
        MethodRow row;
        const RunRecord& first = records[at[g.run_ids.front()]];
        describe_method(first, row);
        row.metric = primary_metric(first);
        std::vector<double> best, step, mem, lat, base, over, over_merged;
        std::set<std::string> devices;
        row.model = first.model;
        for (int64_t id : g.run_ids) {
            const RunRecord& r = records[at[id]];
            row.run_names.push_back(r.name);
            if (row.positive_label.empty()) row.positive_label = positive_label_of(r);
            if (row.trainable_params == 0 && r.trainable_params > 0) {
                row.trainable_params = r.trainable_params;
                row.total_params = r.total_params;
                row.trainable_share = r.total_params > 0 ? double(r.trainable_params) / double(r.total_params) : 0;
            }
            if (r.status != "completed") continue;
            const auto b = parse_metrics_json(r.best_metrics_json);
            if (auto it = b.find(row.metric); it != b.end() && std::isfinite(it->second)) best.push_back(it->second);
            if (r.step_ms > 0) step.push_back(r.step_ms);
            if (r.peak_mem_bytes > 0) mem.push_back(double(r.peak_mem_bytes));
            if (!r.train_device.empty()) devices.insert(r.train_device);
            // The run's own post-training measurement when it made one, else its latest; a group averages runs
            // measured at one configuration only (the first run's).
            const auto rows_of = store.latency(id);
            const auto [wb, ws] = own_latency_config(r);
            RunLatency l = run_latency_of(rows_of, row.method, r.prompt_len, wb, ws);
            if (!l.found && wb > 0) l = run_latency_of(rows_of, row.method, r.prompt_len, 0, 0);
            if (l.found && !row.latency_config.empty() && l.config != row.latency_config) l = RunLatency{};
            if (l.found) {
                lat.push_back(l.method_ms);
                base.push_back(l.base_ms);
                over.push_back(l.method_ms / l.base_ms - 1.0);
                if (row.latency_config.empty()) row.latency_config = l.config;
                if (l.merged_found) over_merged.push_back(l.merged_ms / l.merged_base_ms - 1.0);
            }
        }
        row.best = stat_of(best);
        row.step_ms = stat_of(step);
        row.peak_mem_bytes = stat_of(mem);
        row.latency_ms = stat_of(lat);
        row.base_latency_ms = stat_of(base);
        row.overhead = stat_of(over);
        row.overhead_merged = stat_of(over_merged);
        row.train_device = devices.size() > 1 ? "mixed" : devices.empty() ? "" : *devices.begin();
        row.group = std::move(g);
        rows.push_back(std::move(row));
    }
    return rows;
}

void write_methods_csv(const std::vector<MethodRow>& rows, std::ostream& out) {
    write_row(out, {"method", "method_label", "settings", "runs", "completed", "metric", "trainable_params", "total_params",
                    "trainable_share", "best_mean", "best_std", "step_ms_mean", "step_ms_std", "peak_mem_bytes_mean",
                    "peak_mem_bytes_std", "train_device", "latency_ms_mean", "base_latency_ms_mean", "overhead_mean",
                    "overhead_std", "overhead_merged_mean", "overhead_merged_std", "latency_config", "run_ids", "model",
                    "group", "run_names"});
    auto mean = [](const Stat& s) { return s.n ? csv_number(s.mean) : std::string(); };
    auto sd = [](const Stat& s) { return s.n ? csv_number(s.std) : std::string(); };
    for (const MethodRow& r : rows) {
        std::string ids;
        for (int64_t id : r.group.run_ids) ids += (ids.empty() ? "" : " ") + std::to_string(id);
        std::string names;
        for (const std::string& n : r.run_names) names += (names.empty() ? "" : "; ") + n;
        write_row(out, {csv_field(r.method), csv_field(r.method_label), csv_field(r.settings),
                        std::to_string(r.group.run_ids.size()), std::to_string(r.group.completed), csv_field(r.metric),
                        std::to_string(r.trainable_params), std::to_string(r.total_params),
                        r.total_params > 0 ? csv_number(r.trainable_share) : std::string(), mean(r.best), sd(r.best),
                        mean(r.step_ms), sd(r.step_ms), mean(r.peak_mem_bytes), sd(r.peak_mem_bytes), csv_field(r.train_device),
                        mean(r.latency_ms), mean(r.base_latency_ms), mean(r.overhead), sd(r.overhead),
                        mean(r.overhead_merged), sd(r.overhead_merged), csv_field(r.latency_config), ids,
                        csv_field(r.model), csv_field(r.group.label), csv_field(names)});
    }
}

}  // namespace ptune
