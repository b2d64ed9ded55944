#include "experiments/suite.h"

#include <algorithm>

#include "core/io/error.h"

namespace ptune {

std::vector<ExperimentSpec> Suite::expand() const {
    if (name.empty()) throw Error("suite: give it a name");
    std::vector<json> vs = variants.empty() ? std::vector<json>{json::object()} : variants;
    std::vector<uint64_t> ss = seeds.empty() ? std::vector<uint64_t>{base.train.seed} : seeds;
    std::vector<ExperimentSpec> out;
    const json b = base.to_json();
    for (size_t i = 0; i < vs.size(); ++i) {
        if (!vs[i].is_object()) throw Error("suite " + name + ": variant " + std::to_string(i + 1) + " is not a JSON object");
        json j = b;
        j.merge_patch(vs[i]);
        const std::string where = "suite " + name + ", variant " + std::to_string(i + 1);
        ExperimentSpec s = ExperimentSpec::from_json(j, where);
        for (uint64_t seed : ss) {
            ExperimentSpec r = s;
            r.train.seed = seed;
            r.suite = name;
            if (std::find(r.tags.begin(), r.tags.end(), name) == r.tags.end()) r.tags.push_back(name);
            try {
                r.validate();
            } catch (const Error& e) {
                throw Error(where + ": " + e.what());
            }
            out.push_back(std::move(r));
        }
    }
    return out;
}

json Suite::to_json() const {
    return {{"ptune_suite", kVersion}, {"name", name}, {"base", base.to_json()}, {"seeds", seeds},
            {"variants", variants}};
}

Suite Suite::from_json(const json& j, const std::string& where) {
    if (!j.is_object()) throw Error(where + ": a suite must be a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it)
        if (it.key() != "ptune_suite" && it.key() != "name" && it.key() != "base" && it.key() != "seeds" &&
            it.key() != "variants")
            throw Error(where + ": " + it.key() + ": unknown field (ptune_suite, name, base, seeds, variants)");
    const int v = get_field<int>(j, "ptune_suite", where);
    if (v < 1 || v > kVersion) throw Error(where + ": ptune_suite: version " + std::to_string(v) + " is not supported");
    Suite s;
    s.name = get_field<std::string>(j, "name", where);
    if (!j.contains("base")) throw Error(where + ": base: missing (the experiment spec every variant starts from)");
    s.base = ExperimentSpec::from_json(j["base"], where + ": base");
    if (j.contains("seeds") && !j["seeds"].is_null()) {
        if (!j["seeds"].is_array()) throw Error(where + ": seeds: must be a list of non-negative integers");
        for (const json& x : j["seeds"]) s.seeds.push_back(json_as<uint64_t>(x, "seeds", where));
    }
    if (j.contains("variants")) {
        if (!j["variants"].is_array()) throw Error(where + ": variants: must be a list of JSON objects");
        for (const auto& x : j["variants"]) s.variants.push_back(x);
    }
    return s;
}

Suite Suite::load(const std::string& path) { return from_json(read_json_file(path), path); }
void Suite::save(const std::string& path) const { write_json_file(path, to_json()); }

const std::vector<std::string>& ablation_names() {
    static const std::vector<std::string> k{"prompt-len", "depth", "methods", "grid"};
    return k;
}

Suite make_ablation(const std::string& kind, const ExperimentSpec& base, int num_layers, int max_input,
                    const std::vector<uint64_t>& seeds) {
    Suite s;
    s.base = base;
    s.base.name.clear();
    s.base.suite.clear();
    s.seeds = seeds;
    if (kind == "prompt-len") {
        s.base.method.name = "ptv2";
        s.name = "prompt-len";
        for (int P : {4, 8, 16, 32, 64, 128})
            if (max_input <= 0 || base.train.max_len + P <= max_input) s.variants.push_back({{"method", {{"prompt_len", P}}}});
        if (s.variants.empty()) throw Error("prompt-len suite: max length " + std::to_string(base.train.max_len) +
                                            " leaves no room for a prompt in this model's positions");
    } else if (kind == "depth") {
        s.base.method.name = "ptv2";
        s.name = "depth";
        if (num_layers < 1) throw Error("depth suite: the model's layer count is unknown");
        for (int k = 1; k <= num_layers; ++k) {
            s.variants.push_back({{"method", {{"layers", "first:" + std::to_string(k)}}}});
            if (k < num_layers) s.variants.push_back({{"method", {{"layers", "last:" + std::to_string(k)}}}});
        }
    } else if (kind == "methods") {
        s.name = "methods";
        // A comparison needs each method's inference cost: measured after each run.
        s.base.latency.measure = true;
        s.base.method = MethodSpec{};
        s.base.method.prefix.prompt_len = base.method.prefix.prompt_len;
        const double lr = base.train.lr;
        s.variants = {
            {{"method", {{"name", "ptv2"}}}},
            {{"method", {{"name", "ptv2"}, {"mlp", true}}}, {"train", {{"lr", lr / 20}}}},
            {{"method", {{"name", "prompt"}}}},
            {{"method", {{"name", "ptuning"}}}},
            {{"method", {{"name", "lora"}}}, {"train", {{"lr", lr / 4}}}},
            {{"method", {{"name", "ia3"}}}, {"train", {{"lr", lr / 4}}}},
            {{"method", {{"name", "adapter"}}}, {"train", {{"lr", lr / 4}}}},
            {{"method", {{"name", "full"}}}, {"train", {{"lr", lr / 20}}}},
            {{"method", {{"name", "head"}}}},
        };
    } else if (kind == "grid") {
        // The P-Tuning v2 authors' search (search_script/search_copa_roberta.sh): every learning rate x prompt
        // length x epoch count, P-Tuning v2 in every layer; prompt lengths that do not fit the positions are left out.
        s.base.method.name = "ptv2";
        s.base.method.prefix.layers = LayerSpec{"all"};
        s.base.train.steps = 0;
        s.name = "grid";
        for (double lr : {5e-3, 7e-3, 1e-2})
            for (int P : {4, 8, 16, 32, 64, 128}) {
                if (max_input > 0 && base.train.max_len + P > max_input) continue;
                for (int epochs : {20, 40, 60, 80, 100, 120})
                    s.variants.push_back({{"method", {{"prompt_len", P}}}, {"train", {{"lr", lr}, {"epochs", epochs}}}});
            }
        if (s.variants.empty()) throw Error("grid suite: max length " + std::to_string(base.train.max_len) +
                                            " leaves no room for a prompt in this model's positions");
    } else {
        throw Error("suite \"" + kind + "\": use prompt-len, depth, methods or grid");
    }
    return s;
}

}  // namespace ptune
