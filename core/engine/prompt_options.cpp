#include "core/engine/prompt_options.h"

#include <algorithm>
#include <sstream>

namespace ptune {

namespace {
bool parse_int(const std::string& s, int& out) {
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), ::isdigit)) return false;
    out = std::stoi(s);
    return true;
}
std::string trim(const std::string& s) {
    size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
    return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}
}  // namespace

LayerSpec LayerSpec::parse(const std::string& text) {
    LayerSpec s;
    s.text = trim(text);
    s.resolve(-1);
    return s;
}

std::vector<int> LayerSpec::resolve(int num_layers) const {
    const std::string t = trim(text);
    auto bad = [&](const std::string& why) {
        return Error("layers \"" + text + "\": " + why + " (use all, first:K, last:K or a list like 0,2,5)");
    };
    std::vector<int> out;
    if (t == "all" || t.empty()) {
        if (num_layers < 0) return out;
        for (int i = 0; i < num_layers; ++i) out.push_back(i);
        return out;
    }
    if (t.rfind("first:", 0) == 0 || t.rfind("last:", 0) == 0) {
        bool first = t[0] == 'f';
        int k = 0;
        if (!parse_int(t.substr(first ? 6 : 5), k) || k < 1) throw bad("K must be a positive integer");
        if (num_layers < 0) return out;
        if (k > num_layers) {
            throw bad("the model has " + std::to_string(num_layers) + " layers, fewer than " + std::to_string(k));
        }
        for (int i = 0; i < k; ++i) out.push_back(first ? i : num_layers - k + i);
        return out;
    }
    std::stringstream ss(t);
    std::string item;
    while (std::getline(ss, item, ',')) {
        int v = 0;
        if (!parse_int(trim(item), v)) throw bad("\"" + trim(item) + "\" is not a layer index");
        if (num_layers >= 0 && v >= num_layers) {
            throw bad("layer " + std::to_string(v) + " does not exist (the model has layers 0.." +
                      std::to_string(num_layers - 1) + ")");
        }
        out.push_back(v);
    }
    if (out.empty()) throw bad("no layer named");
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

LayerSpec LayerSpec::from_layers(const std::vector<int>& layers0, int num_layers) {
    std::vector<int> layers = layers0;
    std::sort(layers.begin(), layers.end());
    layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
    LayerSpec s;
    int k = (int)layers.size();
    bool prefix = k > 0, suffix = k > 0;
    for (int i = 0; i < k; ++i) {
        prefix = prefix && layers[i] == i;
        suffix = suffix && layers[i] == num_layers - k + i;
    }
    if (k == num_layers && prefix) {
        s.text = "all";
    } else if (prefix) {
        s.text = "first:" + std::to_string(k);
    } else if (suffix) {
        s.text = "last:" + std::to_string(k);
    } else {
        std::string t;
        for (int i = 0; i < k; ++i) t += (i ? "," : "") + std::to_string(layers[i]);
        s.text = t;
    }
    return s;
}

int64_t PrefixOptions::param_count(int64_t hidden, int num_layers) const {
    int64_t n_sel = (int64_t)layers.resolve(num_layers).size();
    int64_t out = 2 * n_sel * hidden;
    if (!mlp) return prompt_len * out;
    return prompt_len * hidden + (hidden * mlp_hidden + mlp_hidden) + (mlp_hidden * out + out);
}

void PrefixOptions::validate() const {
    if (prompt_len < 1) throw Error("prompt_len must be at least 1 (got " + std::to_string(prompt_len) + ")");
    if (mlp && mlp_hidden < 1) throw Error("mlp_hidden must be at least 1 (got " + std::to_string(mlp_hidden) + ")");
    if (dropout < 0 || dropout >= 1) throw Error("prefix dropout must be in [0, 1) (got " + std::to_string(dropout) + ")");
    if (init == PromptInit::Normal && !(init_std > 0)) throw Error("init_std must be positive");
    LayerSpec::parse(layers.text);
}

const char* init_name(PromptInit i) { return i == PromptInit::Zeros ? "zeros" : "normal"; }

PromptInit init_from_name(const std::string& s) {
    if (s == "normal") return PromptInit::Normal;
    if (s == "zeros") return PromptInit::Zeros;
    throw Error("init \"" + s + "\": use normal or zeros");
}

}  // namespace ptune
