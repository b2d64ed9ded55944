// ptune: the headless command line. Subcommands tokenize, predict, generate, train, bench, export, runs, make-builtin.
// Machine-readable results go to stdout as JSON lines; progress and messages go to stderr.
#include <CLI/CLI.hpp>
#include <torch/torch.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "core/engine/builtin.h"
#include "core/engine/decoder.h"
#include "core/engine/generate.h"
#include "core/engine/encoder.h"
#include "core/engine/latency.h"
#include "core/engine/methods.h"
#include "core/engine/peft_io.h"
#include "core/engine/qa_task.h"
#include "core/engine/choice_task.h"
#include "core/engine/token_cls_task.h"
#include "core/engine/trainer.h"
#include "core/text/tokenizer.h"
#include "experiments/compare.h"
#include "experiments/generation.h"
#include "experiments/presets.h"
#include "experiments/runner.h"
#include "experiments/suite.h"

using namespace ptune;
namespace fs = std::filesystem;

namespace {

// JSON text for stdout; invalid UTF-8 in user text is replaced (U+FFFD) rather than aborting the output.
std::string dumps(const json& j, int indent = -1) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

CancelFlag g_cancel;
// The first Ctrl-C asks the run to stop after the current step (the run is kept); a second one ends ptune.
void on_sigint(int) {
    g_cancel.cancel();
    std::signal(SIGINT, SIG_DFL);
}

std::vector<int> parse_int_list(const std::string& s, const std::string& what) {
    std::vector<int> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        try {
            size_t pos = 0;
            int v = std::stoi(item, &pos);
            if (pos != item.size() || v < 0) throw std::invalid_argument(item);
            out.push_back(v);
        } catch (const std::exception&) {
            throw Error(what + ": \"" + item + "\" is not a non-negative integer");
        }
    }
    if (out.empty()) throw Error(what + ": give at least one value");
    return out;
}

std::vector<std::string> parse_str_list(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(item);
    return out;
}

std::string fmt_time(double s) {
    if (!std::isfinite(s) || s < 0) s = 0;
    int t = (int)std::lround(s);
    char buf[32];
    if (t >= 3600)
        std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else
        std::snprintf(buf, sizeof buf, "%02d:%02d", t / 60, t % 60);
    return buf;
}

// The default max length: 512 or the model's limit, whichever is smaller.
int64_t default_max_len(const ModelConfig& c, int64_t prompt_len) { return std::min<int64_t>(512, c.max_input_len(prompt_len)); }

// The CLI's view of a run: a progress bar on stderr, a JSONL log of steps.
class CliObserver : public RunObserver {
public:
    explicit CliObserver(std::ostream* log) : log_(log), tty_(isatty(STDERR_FILENO)) {}
    void on_run_created(int64_t id, const RunRecord& r) override {
        std::cerr << "run " << id << ": " << r.name << "\n";
    }
    void on_start(int64_t total, int64_t per_epoch) override {
        total_ = total;
        std::cerr << "training " << total << " steps (" << per_epoch << " per epoch)\n";
    }
    void on_step(const StepEvent& e) override {
        if (log_) {
            json j = {{"step", e.step}, {"loss", e.loss}, {"lr", e.lr}, {"epoch", e.epoch},
                      {"grad_norm", e.grad_norm}, {"samples_per_s", e.samples_per_s}, {"step_ms", e.step_ms}, {"elapsed_s", e.elapsed_s}};
            *log_ << j.dump() << "\n";
            log_->flush();
        }
        ema_ = e.step == 1 ? e.loss : 0.9 * ema_ + 0.1 * e.loss;
        const int width = 30;
        int filled = total_ ? (int)(width * e.step / total_) : 0;
        char line[256];
        std::snprintf(line, sizeof line, "[%s%s] %lld/%lld  epoch %.2f  loss %.4f  %.0f samples/s  ETA %s",
                      std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), (long long)e.step,
                      (long long)e.total_steps, e.epoch, ema_, e.samples_per_s, fmt_time(e.eta_s).c_str());
        if (tty_) {
            std::cerr << "\r" << line << "\033[K" << std::flush;
        } else if (e.step == e.total_steps || e.step % std::max<int64_t>(1, total_ / 10) == 0) {
            std::cerr << line << "\n";
        }
    }
    void on_eval(const EvalEvent& e) override {
        if (tty_) std::cerr << "\n";
        std::cerr << "eval at step " << e.step << ":";
        for (auto& [k, v] : e.metrics) std::cerr << "  " << metric_display_name(k, e.positive_label) << " " << v;
        std::cerr << (e.is_best ? "  (best)" : "") << "\n";
    }
    void on_message(const std::string& m) override {
        std::cerr << (tty_ ? "\n" : "") << (m.rfind("warning: ", 0) == 0 ? "" : "note: ") << m << "\n";
    }
    void on_run_finished(int64_t id, const std::string& status, const std::string& reason) override {
        if (tty_) std::cerr << "\n";
        std::cerr << "run " << id << " " << status << (reason.empty() ? "" : ": " + reason) << "\n";
    }

private:
    std::ostream* log_;
    bool tty_;
    int64_t total_ = 0;
    double ema_ = 0;
};

json run_json(const RunRecord& r) {
    return {{"id", r.id},
            {"name", r.name},
            {"status", r.status},
            {"status_reason", r.status_reason},
            {"model", r.model},
            {"dataset", r.dataset},
            {"method", r.method},
            {"prompt_len", r.prompt_len},
            {"layers", r.layers},
            {"seed", r.seed},
            {"suite", r.suite},
            {"tags", r.tags},
            {"notes", r.notes},
            {"created_at", r.created_at},
            {"started_at", r.started_at},
            {"finished_at", r.finished_at},
            {"final_metrics", json::parse(r.final_metrics_json.empty() ? "{}" : r.final_metrics_json)},
            {"best_metrics", json::parse(r.best_metrics_json.empty() ? "{}" : r.best_metrics_json)},
            {"best_step", r.best_step},
            {"trainable_params", r.trainable_params},
            {"total_params", r.total_params},
            {"train_device", r.train_device},
            {"peak_mem_bytes", r.peak_mem_bytes},
            {"step_ms", r.step_ms},
            {"environment", r.environment.empty() ? json::object() : json::parse(r.environment, nullptr, false)}};
}

json stat_json(const Stat& s) {
    if (s.n == 0) return nullptr;
    return {{"mean", s.mean}, {"std", s.std}, {"n", s.n}};
}

// Texts from a file, or from standard input for "-" (--text-file): JSON lines when the first non-empty line starts
// with '{' (each line an object with a string field `field`), else one text per line, taken as it is (a trailing
// CR removed). Empty lines are skipped in both. Errors name the file and the line.
std::vector<std::string> read_text_file_texts(const std::string& path, const std::string& field) {
    const bool stdin_ = path == "-";
    const std::string name = stdin_ ? std::string("(stdin)") : path;
    if (path.empty()) throw Error("--text-file: give a file name, or - for standard input");
    std::ifstream file;
    if (!stdin_) {
        std::error_code ec;
        if (fs::is_directory(path, ec)) throw Error(path + ": is a directory, not a file of texts");
        file.open(path, std::ios::binary);
        if (!file) throw Error(path + ": cannot open for reading (" + std::strerror(errno) + ")");
    }
    std::istream& in = stdin_ ? std::cin : file;
    std::vector<std::string> texts;
    std::string line;
    int64_t n = 0;
    int jsonl = -1;   // undecided until the first non-empty line
    while (std::getline(in, line)) {
        ++n;
        if (n == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);   // a UTF-8 byte order mark
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        if (jsonl < 0) jsonl = line[0] == '{';
        if (!jsonl) {
            texts.push_back(line);
            continue;
        }
        const std::string where = name + ":" + std::to_string(n) + ": ";
        json j;
        try {
            j = json::parse(line);
        } catch (const std::exception& e) {
            throw Error(where + "invalid JSON (the file is read as JSON lines, as its first line starts with '{'): " +
                        e.what());
        }
        if (!j.is_object()) throw Error(where + "not a JSON object (the file is read as JSON lines)");
        auto it = j.find(field);
        if (it == j.end() || !it->is_string())
            throw Error(where + "no string field \"" + field + "\" (--text-field names the field)");
        texts.push_back(it->get<std::string>());
    }
    if (in.bad()) throw Error(name + ": read error");
    if (texts.empty()) throw Error(name + ": no texts (the file is empty)");
    return texts;
}

// CLI11 takes `--text=` (an empty value) as `--text` and makes the next argument its value; here it is the empty
// text. Each --text is one text as it is: the options are declared without CLI11's list parsing, which would
// unwrap "[...]" and split it at commas.
std::vector<std::string> empty_values_kept(int argc, char** argv) {
    std::vector<std::string> out;
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        const std::string prev = i > 0 ? argv[i - 1] : "";
        const bool is_value = prev == "--text" || prev == "--tag" || prev == "--text-file" || prev == "--input";
        if (!is_value && (a == "--text=" || a == "--tag=" || a == "--text-file=" || a == "--input=")) {
            out.push_back(a.substr(0, a.size() - 1));
            out.push_back("");
        } else {
            out.push_back(a);
        }
    }
    return out;
}

// A causal LM and its optional PEFT prefix, on a device, for predict and generate (import notes on stderr).
DecoderWithPrefix load_decoder(const std::string& dir, const std::string& adapter, const std::string& dtype,
                               const std::string& device) {
    DecoderWithPrefix d = load_decoder_with_prefix(dir, adapter, parse_weight_dtype(dtype, "--dtype"), device);
    for (auto& n : d.notes) std::cerr << "note: " << n << "\n";
    return d;
}

// predict on a causal LM: the last position's logits over the vocabulary, one JSON line per text.
void predict_causal_lm(const DecoderWithPrefix& d, const Tokenizer& tok, const std::vector<std::string>& texts,
                       int64_t batch_size) {
    at::NoGradGuard g;
    const int64_t pad = d.model->spec().pad_token_id.value_or(tok.pad_id());
    for (size_t b = 0; b < texts.size(); b += (size_t)batch_size) {
        const size_t e = std::min(texts.size(), b + (size_t)batch_size);
        std::vector<std::vector<int64_t>> ids;
        for (size_t i = b; i < e; ++i) {
            ids.push_back(tok.encode(texts[i]).ids);
            if (ids.back().empty()) throw Error("predict: text " + std::to_string(i + 1) + " has no tokens");
        }
        auto [t, m] = left_padded(ids, pad);   // left padding: every row's last position is a real token
        KVCache c = d.model->empty_cache((int64_t)ids.size(), d.prefix_ptr());
        at::Tensor logits = d.model->forward(c, t.to(d.model->device()), m.to(d.model->device()), false, true)
                                .select(1, 0).to(at::kCPU).to(at::kFloat).contiguous();
        for (size_t i = b; i < e; ++i) {
            at::Tensor row = logits[(int64_t)(i - b)];
            std::vector<float> v(row.data_ptr<float>(), row.data_ptr<float>() + row.numel());
            std::cout << dumps(json{{"text", texts[i]}, {"input_ids", ids[i - b]}, {"logits", v}}) << "\n";
        }
    }
}

// predict for token classification: each word's tag, from a trained adapter (the head lives in it). With --data,
// scores against the file's gold tags on stdout and CoNLL predictions in --out; with --text, one JSON line per text
// (words split at whitespace).
void predict_token_cls(const std::string& dir, const std::string& adapter_dir, const std::vector<std::string>& texts,
                       const std::string& data, const std::string& out, const std::string& tokens_column,
                       const std::string& tags_column, int64_t max_len, int64_t batch_size, const std::string& device) {
    if (adapter_dir.empty()) throw Error("predict --task token-cls: give --adapter (a trained run's adapter holds the token head)");
    if (texts.empty() == data.empty()) throw Error("predict --task token-cls: give --data FILE or --text");
    if (!out.empty() && data.empty()) throw Error("predict: --out needs --data");
    ModelConfig cfg = ModelConfig::from_dir(dir);
    auto tok = Tokenizer::from_dir(dir);
    TokenClsAdapter a = load_token_cls_adapter(adapter_dir, cfg);
    for (auto& n : a.notes) std::cerr << "note: " << n << "\n";
    const int64_t P = a.positions_taken();
    if (max_len <= 0) max_len = std::min<int64_t>(512, cfg.max_position_embeddings - cfg.position_offset() - P);
    cfg.check_fits(max_len, P);
    auto model = EncoderClassifier::load(dir, 2, 0);
    a.apply_backbone(*model);
    TrainOptions o;
    o.batch_size = (int)batch_size;
    o.max_len = max_len;
    o.device = device;
    TokenClsTrainer t(*model, a.prompt.get(), a.delta.get(), (int64_t)a.label_names.size(), o, tok->pad_id());
    for (auto& [n, v] : a.head) t.set_head_tensor(n, v);
    TaggedDataset d;
    if (!data.empty()) {
        DataSpec ds;
        ds.train = data;
        ds.tokens_column = tokens_column;
        ds.tags_column = tags_column;
        TaggedOptions topt = tagged_options(ds);
        topt.label_names = a.label_names;
        topt.scheme = a.scheme;
        d = load_tagged(data, topt);
    } else {
        d.label_names = a.label_names;
        d.scheme = a.scheme;
        for (const auto& text : texts) {
            TaggedSentence s;
            std::istringstream in(text);
            for (std::string w; in >> w;) s.words.push_back(w);
            if (s.words.empty()) throw Error("predict: a --text has no words");
            s.tags.assign(s.words.size(), 0);
            d.sentences.push_back(std::move(s));
        }
    }
    TokenClsData td = tokenize_tagged(d, *tok, max_len, false);
    if (td.windowed_sentences > 0)
        std::cerr << "note: " << td.windowed_sentences << " sentences are longer than " << max_len
                  << " tokens and were cut into windows of whole words\n";
    const auto pred = t.predict(td);
    if (data.empty()) {
        for (size_t i = 0; i < d.sentences.size(); ++i) {
            std::vector<std::string> tags;
            for (int id : pred[i]) tags.push_back(a.label_names[(size_t)id]);
            std::cout << dumps(json{{"text", texts[i]}, {"words", d.sentences[i].words}, {"tags", tags}}) << "\n";
        }
        return;
    }
    auto m = tagging_metrics(pred, td);
    json j = {{"data", data}, {"sentences", d.sentences.size()}, {"words", d.word_count()},
              {"tag_scheme", tag_scheme_name(d.scheme)}};
    for (auto& [k, v] : m) j[k] = v;
    if (!out.empty()) {
        write_conll_predictions(out, d, pred);
        j["out"] = out;
    }
    std::cout << dumps(j) << "\n";
}

// predict for extractive QA: each question's answer from a trained adapter (the span head lives in it), on a SQuAD
// JSON or JSONL file. The official scripts' scores against the file's answers on stdout; with --out, SQuAD's
// predictions.json ({"id": "answer"}), and for SQuAD 2.0 the null odds ({"id": odds}) in --null-odds (default:
// null_odds.json beside --out), the files run_qa.py writes, which evaluate-v2.0.py reads with --na-prob-file.
void predict_qa(const std::string& dir, const std::string& adapter_dir, const std::string& data,
                const std::string& out, std::string null_odds, std::optional<double> null_threshold,
                int64_t max_len, int64_t batch_size, const std::string& device) {
    if (adapter_dir.empty()) throw Error("predict --task qa: give --adapter (a trained run's adapter holds the span head)");
    if (data.empty()) throw Error("predict --task qa: give --data (a SQuAD JSON or JSONL file of questions)");
    ModelConfig cfg = ModelConfig::from_dir(dir);
    auto tok = Tokenizer::from_dir(dir);
    QaAdapter a = load_qa_adapter(adapter_dir, cfg);
    for (auto& n : a.notes) std::cerr << "note: " << n << "\n";
    const int64_t P = a.positions_taken();
    if (max_len > 0) a.features.max_len = max_len;
    a.features.max_len = std::min<int64_t>(a.features.max_len, cfg.max_position_embeddings - cfg.position_offset() - P);
    cfg.check_fits(a.features.max_len, P);
    auto model = EncoderClassifier::load(dir, 2, 0);
    a.apply_backbone(*model);
    TrainOptions o;
    o.batch_size = (int)batch_size;
    o.max_len = a.features.max_len;
    o.device = device;
    QaDataset d = load_qa(data);
    a.decode.version2 = a.decode.version2 || d.version2;
    d.version2 = a.decode.version2;
    if (null_threshold) a.decode.null_threshold = *null_threshold;
    QaTrainer t(*model, a.prompt.get(), a.delta.get(), o, a.decode, tok->pad_id());
    for (auto& [n, v] : a.head) t.set_head_tensor(n, v);
    QaData qd = prepare_qa(std::move(d), *tok, a.features);
    if (qd.features.windowed_examples > 0)
        std::cerr << "note: " << qd.features.windowed_examples << " questions have a context longer than "
                  << a.features.max_len << " tokens: read in overlapping windows (doc stride " << a.features.doc_stride
                  << ")\n";
    const auto answers = t.predict(qd);
    const SquadVersion v = qd.examples.version2 ? SquadVersion::V2 : SquadVersion::V1;
    std::map<std::string, double> na;
    for (const auto& p : answers) na[p.id] = p.null_odds;
    std::map<std::string, std::string> texts;
    for (const auto& p : answers) texts[p.id] = p.text;
    std::vector<SquadGold> gold;
    for (const QaExample& e : qd.examples.examples) {
        SquadGold g{e.id, {}};
        for (const QaAnswer& x : e.answers) g.answers.push_back(x.text);
        gold.push_back(std::move(g));
    }
    const SquadEval ev = evaluate_squad(gold, texts, v, v == SquadVersion::V2 ? &na : nullptr);
    json j = {{"data", data},
              {"questions", qd.examples.examples.size()},
              {"version", v == SquadVersion::V2 ? "2.0" : "1.1"},
              {"features", qd.features.size()},
              {"scores", squad_eval_json(ev, v)}};
    if (v == SquadVersion::V2) j["null_threshold"] = a.decode.null_threshold;
    if (!out.empty()) {
        write_qa_predictions(out, answers);
        j["out"] = out;
        if (v == SquadVersion::V2) {
            if (null_odds.empty()) null_odds = (fs::path(out).parent_path() / "null_odds.json").string();
            write_qa_null_odds(null_odds, answers);
            j["null_odds"] = null_odds;
        }
    }
    std::cout << dumps(j) << "\n";
}

// Multiple choice: each question's predicted choice and probabilities (JSONL to --out), accuracy printed when the
// questions have labels.
void predict_choice(const std::string& dir, const std::string& adapter_dir, const std::string& data,
                    const std::string& out, int64_t max_len, int64_t batch_size, const std::string& device) {
    if (adapter_dir.empty())
        throw Error("predict --task choice: give --adapter (a trained run's adapter holds the choice head)");
    if (data.empty()) throw Error("predict --task choice: give --data (a JSONL file of questions with choices)");
    ModelConfig cfg = ModelConfig::from_dir(dir);
    auto tok = Tokenizer::from_dir(dir);
    ChoiceAdapter a = load_choice_adapter(adapter_dir, cfg);
    for (auto& n : a.notes) std::cerr << "note: " << n << "\n";
    const int64_t P = a.positions_taken();
    if (max_len > 0) a.max_len = max_len;
    a.max_len = std::min<int64_t>(a.max_len, cfg.max_position_embeddings - cfg.position_offset() - P);
    cfg.check_fits(a.max_len, P);
    auto model = EncoderClassifier::load(dir, 2, 0);
    a.apply_backbone(*model);
    TrainOptions o;
    o.batch_size = (int)batch_size;
    o.max_len = a.max_len;
    o.device = device;
    ChoiceOptions copt;
    copt.allow_unlabelled = true;
    ChoiceDataset d = load_choice(data, copt);
    ChoiceTrainer t(*model, a.prompt.get(), a.delta.get(), o, tok->pad_id());
    if (!model->pooler_from_checkpoint())
        for (const std::string& n : model->load_notes())
            if (n.find("pooler") != std::string::npos) std::cerr << "note: " << n << "\n";
    for (auto& [n, v] : a.head) t.set_head_tensor(n, v);
    ChoiceData cd = prepare_choice(std::move(d), *tok, a.max_len);
    if (cd.truncated_pairs > 0)
        std::cerr << "note: " << cd.truncated_pairs << " (context, choice) pairs are longer than " << a.max_len
                  << " tokens and were cut\n";
    const auto preds = t.predict(cd);
    int64_t labelled = 0;
    for (const auto& p : preds) labelled += p.label >= 0;
    json j = {{"data", data}, {"questions", preds.size()}, {"labelled", labelled}};
    if (labelled > 0) j["accuracy"] = choice_accuracy(preds);
    if (!out.empty()) {
        write_choice_predictions(out, preds);
        j["out"] = out;
    }
    std::cout << dumps(j) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ptune: deep prompt tuning (P-Tuning v2) for Hugging Face encoders"};
    app.set_version_flag("--version", std::string("ptune ") + PTUNE_VERSION + ", LibTorch " + TORCH_VERSION);
    app.require_subcommand(1);

    // tokenize
    auto* tk = app.add_subcommand("tokenize", "token ids of texts, one JSON object per line");
    std::string tk_model = "builtin", tk_file, tk_field = "text";
    int64_t tk_max = 0;
    std::vector<std::string> tk_texts;
    const char* text_help = "a text, taken as it is (repeatable: each --text is one text)";
    const char* file_help =
        "texts from a file, - for standard input: one text per line, or JSON lines (when the first line starts with "
        "'{') with a \"text\" field; empty lines are skipped";
    tk->add_option("--model", tk_model, "model directory or builtin")->required();
    tk->add_option("--max-len", tk_max, "truncate to N ids (default 512 or the model's limit)");
    auto* tk_text_opt = tk->add_option("--text", tk_texts, text_help)->allow_extra_args(false);
    auto* tk_file_opt = tk->add_option("--text-file", tk_file, file_help);
    tk->add_option("--text-field", tk_field, "the JSON field holding the text in --text-file JSON lines");
    tk_text_opt->excludes(tk_file_opt);

    // predict
    auto* pr = app.add_subcommand("predict", "logits and labels, one JSON object per line");
    std::string pr_model = "builtin", pr_adapter, pr_input, pr_column = "text", pr_device = "cpu";
    int64_t pr_max = 0, pr_batch = 32;
    int pr_threads = 0;
    std::vector<std::string> pr_texts;
    pr->add_option("--model", pr_model, "model directory or builtin (default)");
    pr->add_option("--adapter", pr_adapter, "a PEFT or ptune adapter directory");
    pr->add_option("--max-len", pr_max, "truncate to N ids (default 512 or the model's limit)");
    pr->add_option("--batch-size", pr_batch, "texts per forward pass (padded to the longest)")->check(CLI::PositiveNumber);
    auto* pr_text_opt = pr->add_option("--text", pr_texts, text_help)->allow_extra_args(false);
    auto* pr_input_opt = pr->add_option("--text-file,--input", pr_input, file_help);
    pr->add_option("--text-field", pr_column, "the JSON field holding the text in --text-file JSON lines");
    pr->add_option("--device", pr_device, "cpu or cuda");
    pr->add_option("--threads", pr_threads, "CPU threads (0: all cores)");
    pr_text_opt->excludes(pr_input_opt);
    std::string pr_dtype = "float32";
    pr->add_option("--dtype", pr_dtype, "causal LMs: weight dtype auto (as stored), float32, bfloat16, float16");
    std::string pr_task, pr_data, pr_out, pr_tokens_column, pr_tags_column, pr_null_odds;
    double pr_null_threshold = 0;
    pr->add_option("--task", pr_task, "seq-cls, token-cls, qa, choice or causal-lm (default: what the model and adapter are made for)");
    auto* pr_data_opt = pr->add_option("--data", pr_data,
                   "token-cls: a CoNLL or JSONL file of words and gold tags: every word's predicted tag, and the "
                   "scores against the gold tags (seqeval); qa: a SQuAD JSON or JSONL file: each question's answer "
                   "and the official scripts' EM and F1 against the file's answers; choice: a JSONL file of "
                   "questions with choices (COPA, SWAG, context/choices): each one's choice, and the accuracy when "
                   "they have labels");
    pr_data_opt->excludes(pr_input_opt);
    pr->add_option("--out", pr_out, "with --data: write the predictions to this file (token-cls: CoNLL, word gold "
                                    "predicted; qa: SQuAD's predictions.json; choice: JSONL, id label prediction "
                                    "probabilities)");
    pr->add_option("--null-odds", pr_null_odds, "qa, SQuAD 2.0: write the null odds here (default: null_odds.json beside --out)");
    auto* pr_null_threshold_opt = pr->add_option("--null-threshold", pr_null_threshold,
                   "qa, SQuAD 2.0: answer \"\" when the null odds exceed this (default: the adapter's, 0)");
    pr->add_option("--tokens-column", pr_tokens_column, "token-cls: the words' CoNLL field or JSONL key");
    pr->add_option("--tags-column", pr_tags_column, "token-cls: the gold tags' CoNLL field or JSONL key");

    // generate
    auto* ge = app.add_subcommand("generate", "continue texts with a causal LM (and a prefix adapter); one JSON object per text, tokens streamed to stderr");
    std::string ge_model, ge_adapter, ge_file, ge_field = "text", ge_device = "cpu", ge_dtype = "float32";
    std::vector<std::string> ge_texts, ge_stops;
    std::vector<int64_t> ge_stop_ids;
    GenerateOptions ge_opt;
    int ge_threads = 0;
    bool ge_no_stream = false, ge_greedy = false;
    ge->add_option("--model", ge_model, "a causal LM directory (gpt2, llama, mistral, qwen2, qwen3) or builtin-decoder")->required();
    ge->add_option("--adapter", ge_adapter, "a PEFT PREFIX_TUNING adapter directory (task_type CAUSAL_LM)");
    auto* ge_text_opt = ge->add_option("--text", ge_texts, text_help)->allow_extra_args(false);
    auto* ge_file_opt = ge->add_option("--text-file", ge_file, file_help);
    ge->add_option("--text-field", ge_field, "the JSON field holding the text in --text-file JSON lines");
    ge_text_opt->excludes(ge_file_opt);
    auto* ge_max_opt = ge->add_option("--max-new-tokens", ge_opt.max_new_tokens, "new tokens at most (default: generation_config.json's, else 32)");
    auto* ge_sample_opt = ge->add_flag("--do-sample", ge_opt.do_sample, "sample instead of greedy decoding (implied by --temperature, --top-k, --top-p)");
    ge->add_flag("--greedy", ge_greedy, "greedy decoding even where generation_config.json samples");
    auto* ge_temp_opt = ge->add_option("--temperature", ge_opt.temperature, "sampling temperature (> 0)");
    auto* ge_topk_opt = ge->add_option("--top-k", ge_opt.top_k, "sample among the k most likely tokens (0: all; default 50)");
    auto* ge_topp_opt = ge->add_option("--top-p", ge_opt.top_p, "nucleus sampling: the smallest set of tokens with this much probability");
    auto* ge_rep_opt = ge->add_option("--repetition-penalty", ge_opt.repetition_penalty, "> 1 discourages tokens already in the text");
    ge->add_option("--stop", ge_stops, "stop once the generated text contains this string (repeatable)")->allow_extra_args(false);
    ge->add_option("--stop-token-id", ge_stop_ids, "stop at this token id (repeatable; default: the model's eos_token_id)")->allow_extra_args(false);
    ge->add_flag("--ignore-eos", ge_opt.ignore_eos, "do not stop at the model's eos_token_id");
    ge->add_option("--seed", ge_opt.seed, "random seed for sampling");
    ge->add_flag("--no-stream", ge_no_stream, "do not stream tokens to stderr");
    ge->add_option("--device", ge_device, "cpu or cuda");
    ge->add_option("--dtype", ge_dtype, "weight dtype: auto (as stored), float32, bfloat16, float16");
    ge->add_option("--threads", ge_threads, "CPU threads (0: all cores)");

    // train
    auto* tr = app.add_subcommand("train", "train deep prompts; the run is kept in the run store");
    ExperimentSpec spec;
    std::string tr_spec_file, tr_save_spec, tr_db, tr_out, tr_log, tr_layers = "all", tr_init = "normal";
    std::vector<std::string> tr_tags;
    bool tr_no_shuffle = false;
    double tr_beta1 = 0.9, tr_beta2 = 0.999;
    // Options bound to spec fields; with --spec FILE, those given on the command line override the file.
    std::vector<std::pair<CLI::Option*, std::function<void(ExperimentSpec&, const ExperimentSpec&)>>> overrides;
#define SPEC_OPT(flag, member, desc)                                                                          \
    (overrides.push_back({tr->add_option(flag, spec.member, desc),                                           \
                          [](ExperimentSpec& d, const ExperimentSpec& s) { d.member = s.member; }}),         \
     overrides.back().first)
#define SPEC_FLAG(flag, member, desc)                                                                         \
    (overrides.push_back({tr->add_flag(flag, spec.member, desc),                                             \
                          [](ExperimentSpec& d, const ExperimentSpec& s) { d.member = s.member; }}),         \
     overrides.back().first)
    tr->add_option("--spec", tr_spec_file, "an experiment spec (JSON); options given here override it");
    tr->add_option("--save-spec", tr_save_spec, "write the resulting spec to this file");
    SPEC_OPT("--name", name, "the run's name");
    SPEC_OPT("--model", model, "model directory or builtin (default)");
    SPEC_OPT("--train", data.train, "training data (TSV, CSV, JSONL) or builtin (default)");
    SPEC_OPT("--valid", data.valid, "validation data (default: split --valid-fraction off the training data)");
    SPEC_OPT("--valid-fraction", data.valid_fraction, "share of the training data held out when no --valid");
    SPEC_OPT("--format", data.format, "auto, tsv, csv or jsonl");
    SPEC_OPT("--text-column", data.text_column, "text column (name or 0-based index)");
    SPEC_OPT("--text-pair-column", data.text_pair_column, "second text column for sentence pairs");
    SPEC_OPT("--label-column", data.label_column, "label column (name or 0-based index)");
    SPEC_OPT("--task", task, "seq-cls (sequence classification), token-cls (token classification: NER, chunking; the "
                             "default for CoNLL or JSONL tokens/tags files), qa (extractive question answering; the "
                             "default for SQuAD 1.1 / 2.0 files), choice (multiple choice; the default for COPA, "
                             "SWAG or context/choices JSONL) or causal-lm (a causal LM learns to generate "
                             "each row's target after its prompt; alone: the built-in decoder on the built-in data)");
    SPEC_OPT("--doc-stride", data.doc_stride, "qa: tokens shared by neighbouring windows of a long context (default 128)");
    SPEC_OPT("--max-question-len", data.max_question_len, "qa: question tokens kept (default 64)");
    SPEC_OPT("--n-best", data.n_best, "qa: start and end candidates per window when decoding (default 20)");
    SPEC_OPT("--max-answer-len", data.max_answer_len, "qa: the longest answer, in tokens (default 30)");
    SPEC_OPT("--null-threshold", data.null_threshold,
             "qa, SQuAD 2.0: no answer when the null odds exceed this (default 0)");
    SPEC_OPT("--tokens-column", data.tokens_column, "token-cls: the words (CoNLL: 0-based field, default 0; JSONL: key, default tokens)");
    SPEC_OPT("--tags-column", data.tags_column,
             "token-cls: the tags (CoNLL: 0-based field, default the last; JSONL: key, default tags or ner_tags)");
    SPEC_OPT("--tag-scheme", data.tag_scheme, "token-cls: auto (default), iob2 (bio), iob1, iobes or none (plain tags)");
    SPEC_FLAG("--label-all-subtokens", data.label_all_subtokens,
              "token-cls: label every sub-token of a word (B- becomes I- after the first), not only the first");
    SPEC_OPT("--target-column", data.target_column, "causal-lm: the column holding the target text (default: the label column)");
    SPEC_OPT("--template", data.prompt_template,
             "causal-lm: the prompt, {text} where the row's text goes, e.g. \"Tweet text : {text} Label : \"");
    SPEC_OPT("--on-bad-row", data.on_bad_row, "stop (default) or skip (and count) malformed rows");
    SPEC_OPT("--method", method.name,
             "ptv2 (P-Tuning v2, default), prompt (prompt tuning), ptuning (P-tuning v1), lora, ia3, adapter "
             "(bottleneck adapters), full (full fine-tuning) or head (linear probe)");
    SPEC_OPT("--prompt-len", method.prefix.prompt_len, "prompt length P (ptv2, prompt, ptuning)");
    SPEC_OPT("--prompt-init", method.delta.prompt_init, "prompt tuning's initialisation: random, vocab or text");
    SPEC_OPT("--prompt-init-text", method.delta.prompt_init_text, "prompt tuning: the text the prompts start from");
    SPEC_OPT("--encoder", method.delta.encoder, "P-tuning's prompt encoder: mlp or lstm");
    SPEC_OPT("--encoder-hidden", method.delta.encoder_hidden, "P-tuning encoder's hidden size (0: the model's)");
    SPEC_OPT("--lora-r", method.delta.lora_r, "LoRA rank");
    SPEC_OPT("--lora-alpha", method.delta.lora_alpha, "LoRA alpha (scaling alpha / r)");
    SPEC_OPT("--lora-dropout", method.delta.lora_dropout, "LoRA dropout");
    SPEC_FLAG("--rslora", method.delta.rslora, "LoRA scaling alpha / sqrt(r)");
    SPEC_OPT("--target-modules", method.delta.target_modules,
             "LoRA/IA3 modules: query, key, value, attention.output.dense, intermediate.dense, output.dense (or the model family's own names, e.g. DistilBERT's q_lin, v_lin, lin1, lin2)")
        ->delimiter(',');
    SPEC_OPT("--feedforward-modules", method.delta.feedforward_modules, "IA3 modules scaled at their input")
        ->delimiter(',');
    SPEC_OPT("--adapter-size", method.delta.adapter_size, "bottleneck adapter size m (0: hidden size / 16)");
    SPEC_OPT("--adapter-placement", method.delta.adapter_placement,
             "bottleneck adapters after attention and feed-forward (houlsby) or after the feed-forward only (pfeiffer)");
    SPEC_OPT("--adapter-act", method.delta.adapter_act, "bottleneck adapters' activation: relu, gelu, tanh or swish");
    auto* layers_opt = tr->add_option("--layers", tr_layers, "layers with prompts: all, first:K, last:K or i,j,..");
    SPEC_FLAG("--mlp", method.prefix.mlp, "reparameterize the prompts through an MLP (prefix tuning)");
    SPEC_OPT("--mlp-hidden", method.prefix.mlp_hidden, "the MLP's hidden size");
    SPEC_OPT("--prefix-dropout", method.prefix.dropout, "dropout on the prompts in training");
    auto* init_opt = tr->add_option("--init", tr_init, "prompt initialisation: normal or zeros");
    SPEC_OPT("--init-std", method.prefix.init_std, "std of the normal initialisation");
    SPEC_OPT("--init-adapter", method.init_adapter, "start from a PEFT or ptune adapter directory");
    SPEC_OPT("--lr", train.lr, "learning rate");
    auto* beta1_opt = tr->add_option("--beta1", tr_beta1, "AdamW beta1");
    auto* beta2_opt = tr->add_option("--beta2", tr_beta2, "AdamW beta2");
    SPEC_OPT("--eps", train.eps, "AdamW epsilon");
    SPEC_OPT("--weight-decay", train.weight_decay, "AdamW weight decay");
    SPEC_OPT("--max-grad-norm", train.max_grad_norm, "gradient clipping (0: off)");
    SPEC_OPT("--hidden-dropout", train.hidden_dropout,
             "the encoder's dropout on hidden states while training (default: config.json's hidden_dropout_prob)");
    std::string tr_preset;
    tr->add_option("--preset", tr_preset,
                   "fill the spec from a reproduction preset (ptune presets lists them: the P-Tuning v2 authors' "
                   "task, prompt length, lr, batch size, epochs, dropout, max length, seed); options given win");
    SPEC_OPT("--batch-size", train.batch_size, "batch size");
    SPEC_OPT("--max-len", train.max_len, "max tokens per text, special tokens included");
    auto* steps_opt = SPEC_OPT("--steps", train.steps, "train this many steps");
    auto* epochs_opt = SPEC_OPT("--epochs", train.epochs, "train this many epochs");
    steps_opt->excludes(epochs_opt);
    auto* noshuffle_opt = tr->add_flag("--no-shuffle", tr_no_shuffle, "keep file order: step s takes rows s*B .. s*B+B-1");
    SPEC_OPT("--schedule", train.schedule, "constant or linear (with warm-up)");
    SPEC_OPT("--warmup", train.warmup_steps, "warm-up steps");
    SPEC_OPT("--seed", train.seed, "seed for shuffling, initialisation and dropout");
    SPEC_OPT("--eval-every", train.eval_every, "evaluate every N steps (0: at each epoch's end)");
    SPEC_OPT("--metric", train.metric,
             "accuracy, f1 (macro-F1), f1_pos (two labels: the F1 of label 1, the positive one), mcc or loss; "
             "causal-lm: exact_match, perplexity; token-cls: entity_f1 (seqeval, the default there), tag_accuracy; "
             "qa: qa_f1 (the SQuAD script's F1, the default there), exact_match: "
             "picks the best checkpoint");
    SPEC_OPT("--early-stopping", train.early_stopping_patience, "stop after N evaluations without improvement");
    SPEC_OPT("--device", train.device, "cpu or cuda");
    SPEC_OPT("--threads", train.threads, "CPU threads (0: all cores)");
    SPEC_FLAG("--latency", latency.measure, "after training, measure inference latency against the base model");
    SPEC_OPT("--latency-batch-size", latency.batch_size, "batch size of the latency measurement");
    SPEC_OPT("--latency-seq-len", latency.seq_len, "tokens per text of the latency measurement (0: --max-len)");
    SPEC_OPT("--latency-repeats", latency.repeats, "timed passes of the latency measurement");
    SPEC_OPT("--latency-warmup", latency.warmup, "untimed passes before the latency measurement");
    tr->add_option("--db", tr_db, "the run store (default: $PTUNE_DB or ~/.local/share/ptune/runs.sqlite)");
    tr->add_option("--out", tr_out, "write the trained adapter to this directory (PEFT files when PEFT can express it, and ptune's)");
    tr->add_option("--log-jsonl", tr_log, "one JSON object per step: step, loss (before the update), lr, ...");
    tr->add_option("--tag", tr_tags, "a tag for the run (repeatable)")->allow_extra_args(false);

    // bench
    auto* be = app.add_subcommand("bench", "inference latency of the base model and with each PEFT method, side by side "
                                           "(causal LMs: time to first token and per new token, base and ptv2)");
    std::string be_model = "builtin", be_methods = "base,ptv2", be_plen = "16", be_layers = "all", be_bs = "1",
                be_seq = "128", be_device = "cpu";
    int be_repeats = 20, be_warmup = 3, be_threads = 0, be_new_tokens = 16;
    int64_t be_run = 0;
    std::string be_db;
    auto* be_model_opt = be->add_option("--model", be_model, "model directory or builtin");
    auto* be_run_opt = be->add_option("--run", be_run,
                                      "measure a stored run: the base model against its method with its options, stored "
                                      "with it");
    be->add_option("--db", be_db, "the run store, with --run");
    be_model_opt->excludes(be_run_opt);
    be->add_option("--method", be_methods,
                   "a list of base, ptv2, prompt, ptuning, lora, lora-merged, ia3, ia3-merged, adapter, full, head")
        ->excludes(be_run_opt);
    be->add_option("--prompt-len", be_plen, "prompt lengths, e.g. 8,16,64 (with --run: default the run's)");
    be->add_option("--layers", be_layers, "layers with prompts")->excludes(be_run_opt);
    be->add_option("--batch-size", be_bs, "batch sizes, e.g. 1,8");
    be->add_option("--seq-len", be_seq, "sequence lengths, e.g. 32,128");
    be->add_option("--repeats", be_repeats, "timed passes per configuration")->check(CLI::PositiveNumber);
    be->add_option("--warmup", be_warmup, "untimed passes first");
    be->add_option("--new-tokens", be_new_tokens, "causal LMs: new tokens generated (and timed) per pass after the first")
        ->check(CLI::PositiveNumber);
    be->add_option("--device", be_device, "cpu or cuda");
    be->add_option("--threads", be_threads, "CPU threads (0: all cores)");

    // export
    // suite
    auto* ps = app.add_subcommand("presets", "the reproduction presets (the P-Tuning v2 authors' run scripts' "
                                             "hyperparameters) for train --preset");
    bool ps_json = false;
    ps->add_flag("--json", ps_json, "one JSON object per preset");
    auto* su = app.add_subcommand("suite", "run a suite: one base experiment, several variations and seeds");
    std::string su_file, su_ablation, su_spec, su_db, su_save, su_seeds;
    bool su_dry = false;
    su->add_option("file", su_file, "a suite file ({\"ptune_suite\": 1, ...})");
    su->add_option("--ablation", su_ablation, "a ready-made suite on --spec (or the built-in experiment): prompt-len, depth, methods or grid (the P-Tuning v2 "
                   "authors' search: lr x P x epochs)");
    su->add_option("--spec", su_spec, "the base experiment spec for --ablation");
    su->add_option("--seeds", su_seeds, "seeds for --ablation, e.g. 1,2,3 (default: the spec's)");
    su->add_option("--save", su_save, "write the suite to this file");
    su->add_flag("--dry-run", su_dry, "list the runs without training");
    su->add_option("--db", su_db, "the run store (default $PTUNE_DB or ~/.local/share/ptune/runs.sqlite)");
    auto* ex = app.add_subcommand("export", "export a run's trained prompts");
    std::string ex_db, ex_format = "peft", ex_out;
    int64_t ex_run = 0;
    ex->add_option("--db", ex_db, "the run store");
    ex->add_option("--run", ex_run, "run id")->required();
    ex->add_option("--format", ex_format, "peft or ptune")->check(CLI::IsMember({"peft", "ptune"}));
    ex->add_option("--out", ex_out, "output directory")->required();

    // compare
    auto* cm = app.add_subcommand("compare", "the method comparison: one JSON line per method (seed group) of the runs");
    std::string cm_db, cm_suite, cm_csv;
    std::vector<int64_t> cm_ids;
    cm->add_option("--db", cm_db, "the run store");
    cm->add_option("--suite", cm_suite, "the runs of this suite (default: every run)");
    cm->add_option("--run", cm_ids, "these runs (repeatable, or a list 3,4,5)")->delimiter(',');
    cm->add_option("--csv", cm_csv, "also write the table to this CSV file");

    // runs
    auto* rn = app.add_subcommand("runs", "list runs, or show one");
    std::string rn_db, rn_action = "list";
    int64_t rn_id = 0;
    bool rn_json = false;
    rn->add_option("action", rn_action, "list (default) or show")->check(CLI::IsMember({"list", "show"}));
    rn->add_option("id", rn_id, "run id (for show)");
    rn->add_option("--db", rn_db, "the run store");
    rn->add_flag("--json", rn_json, "list as JSON lines");

    // make-builtin
    auto* mb = app.add_subcommand("make-builtin", "regenerate the built-in default model and data set");
    std::string mb_out;
    uint64_t mb_seed = 42;
    mb->add_option("--out", mb_out, "output directory")->required();
    mb->add_option("--seed", mb_seed, "seed");

    std::vector<std::string> args = empty_values_kept(argc, argv);
    std::vector<char*> arg_ptrs;
    for (auto& a : args) arg_ptrs.push_back(a.data());
    CLI11_PARSE(app, (int)arg_ptrs.size(), arg_ptrs.data());

    try {
        if (tk->parsed()) {
            if (tk_texts.empty() && !tk->count("--text-file")) throw Error("tokenize: give --text or --text-file");
            std::string dir = resolve_model_dir(tk_model);
            // Causal LMs: no truncation unless asked (their windows are long and generation needs the whole text).
            // Anything else is read as an encoder first, so that a missing directory or config.json says so.
            const bool causal = is_causal_lm_dir(dir);
            std::optional<ModelConfig> cfg;
            if (!causal) cfg = ModelConfig::from_dir(dir);
            auto tok = Tokenizer::from_dir(dir);
            int64_t max_len = tk_max > 0 ? tk_max : causal ? 0 : default_max_len(*cfg, 0);
            if (tk->count("--text-file")) tk_texts = read_text_file_texts(tk_file, tk_field);
            for (auto& t : tk_texts) {
                Encoding e = tok->encode(t, std::nullopt, true, (int)max_len);
                std::cout << dumps(json{{"text", t}, {"input_ids", e.ids}}) << "\n";
            }
            return 0;
        }
        if (ge->parsed()) {
            if (ge_texts.empty() && !ge->count("--text-file")) throw Error("generate: give --text or --text-file");
            set_threads(ge_threads);
            const std::string model_dir = resolve_model_dir(ge_model);
            require_causal_lm_dir(model_dir);
            // generation_config.json's defaults, then what the command line says.
            GenerateOptions o = generation_defaults(model_dir);
            if (*ge_max_opt) o.max_new_tokens = ge_opt.max_new_tokens;
            if (*ge_temp_opt) o.temperature = ge_opt.temperature;
            if (*ge_topk_opt) o.top_k = ge_opt.top_k;
            if (*ge_topp_opt) o.top_p = ge_opt.top_p;
            if (*ge_rep_opt) o.repetition_penalty = ge_opt.repetition_penalty;
            if (*ge_sample_opt || *ge_temp_opt || *ge_topk_opt || *ge_topp_opt) o.do_sample = true;
            if (ge_greedy) o.do_sample = false;
            o.ignore_eos = ge_opt.ignore_eos;
            o.seed = ge_opt.seed;
            o.stop_strings = ge_stops;
            o.stop_token_ids = ge_stop_ids;
            o.validate();
            std::vector<std::string> texts = ge->count("--text-file") ? read_text_file_texts(ge_file, ge_field) : ge_texts;
            (void)parse_weight_dtype(ge_dtype, "--dtype");   // the message names the option
            GenerationSession session(model_dir, ge_adapter, ge_dtype, ge_device);
            for (auto& n : session.notes()) std::cerr << "note: " << n << "\n";
            for (const auto& text : texts) {
                TokenCallback stream;
                if (!ge_no_stream) stream = [](int64_t, const std::string& piece) { std::cerr << piece << std::flush; };
                Generation g = session.generate(text, o, true, stream);
                if (!ge_no_stream) {
                    char line[160];
                    std::snprintf(line, sizeof line, "\n[%lld new tokens, %s; first token %.0f ms, %.1f tokens/s]\n",
                                  (long long)g.new_tokens, g.stop_reason.c_str(), g.seconds_to_first_token * 1e3,
                                  g.tokens_per_second());
                    std::cerr << line;
                }
                std::cout << dumps(json{{"text", text}, {"input_ids", g.input_ids}, {"output_ids", g.output_ids},
                                        {"generated_text", g.generated_text}, {"stop_reason", g.stop_reason}})
                          << "\n" << std::flush;
            }
            return 0;
        }
        if (pr->parsed()) {
            set_threads(pr_threads);
            std::string dir = resolve_model_dir(pr_model);
            if (pr_task == "token-cls" || (pr_task.empty() && !pr_adapter.empty() && is_token_cls_adapter_dir(pr_adapter))) {
                predict_token_cls(dir, pr_adapter, pr_texts, pr_data, pr_out, pr_tokens_column, pr_tags_column,
                                  pr_max, pr_batch, pr_device);
                return 0;
            }
            if (pr_task == "qa" || (pr_task.empty() && !pr_adapter.empty() && is_qa_adapter_dir(pr_adapter))) {
                predict_qa(dir, pr_adapter, pr_data, pr_out, pr_null_odds,
                           pr_null_threshold_opt->count() ? std::optional<double>(pr_null_threshold) : std::nullopt,
                           pr_max, pr_batch, pr_device);
                return 0;
            }
            if (pr_task == "choice" || (pr_task.empty() && !pr_adapter.empty() && is_choice_adapter_dir(pr_adapter))) {
                predict_choice(dir, pr_adapter, pr_data, pr_out, pr_max, pr_batch, pr_device);
                return 0;
            }
            if (!pr_data.empty() || !pr_out.empty())
                throw Error("predict: --data and --out are for token classification, QA and multiple choice (--task "
                            "token-cls, qa or choice, or an adapter of those tasks)");
            if (pr_texts.empty() && !pr->count("--text-file")) throw Error("predict: give --text or --text-file");
            if (is_causal_lm_dir(dir)) {
                std::vector<std::string> texts = pr->count("--text-file") ? read_text_file_texts(pr_input, pr_column) : pr_texts;
                DecoderWithPrefix d = load_decoder(dir, pr_adapter, pr_dtype, pr_device);
                predict_causal_lm(d, *Tokenizer::from_dir(dir), texts, pr_batch);
                return 0;
            }
            ModelConfig cfg = ModelConfig::from_dir(dir);
            auto tok = Tokenizer::from_dir(dir);
            std::vector<std::string> texts = pr->count("--text-file") ? read_text_file_texts(pr_input, pr_column) : pr_texts;
            std::unique_ptr<EncoderClassifier> model;
            std::unique_ptr<DeepPrompt> prompt;
            std::optional<PeftDelta> delta;   // LoRA, IA3, prompt tuning, P-tuning (PEFT directories)
            std::vector<std::string> labels;
            std::optional<MethodAdapter> madapter;   // a ptune run of another method
            bool peft_files = false;                  // the adapter is PEFT's (it cannot hold a pooler)
            if (!pr_adapter.empty() && is_method_adapter_dir(pr_adapter)) {
                int64_t nl = -1;
                {
                    json c = read_json_file(pr_adapter + "/ptune_adapter.json");
                    if (c.contains("label_names") && c["label_names"].size() >= 2) nl = (int64_t)c["label_names"].size();
                }
                model = EncoderClassifier::load(dir, nl);
                madapter = load_method_adapter(pr_adapter, *model);
                apply_method_adapter(*model, *madapter);
                labels = madapter->label_names;
            } else if (!pr_adapter.empty() && is_peft_delta_dir(pr_adapter)) {
                peft_files = true;
                delta = peft_delta_from(PeftAdapter::load(pr_adapter), cfg);
                for (auto& n : delta->notes) std::cerr << "note: " << n << "\n";
                int64_t nl = 0;
                for (auto& [n, t] : delta->head)
                    if (n == "classifier.weight" || n == "classifier.out_proj.weight") nl = t.size(0);
                model = EncoderClassifier::load(dir, nl > 0 ? nl : -1);
                if (!delta->head.empty()) apply_head(*model, delta->head);
                else std::cerr << "note: the adapter holds no classification head; using the model's\n";
                labels = read_peft_labels(pr_adapter);
            } else if (!pr_adapter.empty()) {
                peft_files = !fs::exists(fs::path(pr_adapter) / "ptune_adapter.json");
                PromptAdapter a = load_prompt_adapter(pr_adapter, cfg);
                for (auto& n : a.notes) std::cerr << "note: " << n << "\n";
                int64_t nl = 0;
                for (auto& [n, t] : a.head)
                    if (n == "classifier.weight" || n == "classifier.out_proj.weight") nl = t.size(0);
                model = EncoderClassifier::load(dir, nl > 0 ? nl : -1);
                apply_base(*model, a.base);
                if (!a.head.empty()) apply_head(*model, a.head);
                else std::cerr << "note: the adapter holds no classification head; using the model's\n";
                prompt = std::move(a.prompt);
                labels = a.label_names;
            } else {
                model = EncoderClassifier::load(dir);
            }
            for (auto& w : model->load_warnings()) std::cerr << "warning: " << w << "\n";
            if (!model->head_from_checkpoint() && pr_adapter.empty())
                std::cerr << "note: the model has no classification head; its logits come from a random head\n";
            if (!model->pooler_from_checkpoint() && (pr_adapter.empty() || peft_files))
                std::cerr << "note: " << (peft_files ? "these logits are not the ones " + pr_adapter + " was trained to give: " : std::string())
                          << kRandomPoolerNoPeft << (peft_files ? " (this one was trained with the pooler transformers drew)" : "") << "\n";
            if (labels.empty()) labels = cfg.id2label;
            const int64_t P = prompt ? prompt->prompt_len()
                              : delta ? delta->virtual_tokens()
                              : madapter && madapter->delta ? madapter->delta->virtual_tokens()
                                                            : 0;
            int64_t max_len = pr_max > 0 ? pr_max : default_max_len(cfg, P);
            cfg.check_fits(max_len, P);
            at::Device dev = resolve_device(pr_device);
            model->to(dev);
            if (prompt) prompt->to(dev);
            if (delta) delta->to(dev);
            if (madapter && madapter->delta) madapter->delta->to(dev);
            at::NoGradGuard g;
            PrefixKV kv;
            if (prompt) kv = prompt->prefix(false);
            Adaptation adaptation = delta                            ? delta->adaptation()
                                    : madapter && madapter->delta ? madapter->delta->adaptation(false)
                                                                  : Adaptation{};
            if (prompt) adaptation.prefix = &kv;
            for (size_t b = 0; b < texts.size(); b += (size_t)pr_batch) {
                size_t e = std::min(texts.size(), b + (size_t)pr_batch);
                std::vector<std::vector<int64_t>> ids, types;
                for (size_t i = b; i < e; ++i) {
                    Encoding enc = tok->encode(texts[i], std::nullopt, true, (int)max_len);
                    ids.push_back(enc.ids);
                    types.push_back(enc.type_ids);
                }
                Batch batch = make_batch(ids, tok->pad_id(), types);
                batch.input_ids = batch.input_ids.to(dev);
                batch.attention_mask = batch.attention_mask.to(dev);
                batch.token_type_ids = batch.token_type_ids.to(dev);
                at::Tensor logits = model->forward(batch, adaptation, false).to(at::kCPU).contiguous();
                for (size_t i = b; i < e; ++i) {
                    at::Tensor row = logits[(int64_t)(i - b)];
                    std::vector<float> v(row.data_ptr<float>(), row.data_ptr<float>() + row.numel());
                    int64_t arg = row.argmax().item<int64_t>();
                    json label = arg < (int64_t)labels.size() ? json(labels[arg]) : json(arg);
                    std::cout << dumps(json{{"text", texts[i]}, {"input_ids", ids[i - b]}, {"logits", v}, {"label", label}})
                              << "\n";
                }
            }
            return 0;
        }
        if (tr->parsed()) {
            if (*layers_opt) spec.method.prefix.layers = LayerSpec::parse(tr_layers);
            if (*init_opt) spec.method.prefix.init = init_from_name(tr_init);
            if (*beta1_opt) spec.train.beta1 = tr_beta1;
            if (*beta2_opt) spec.train.beta2 = tr_beta2;
            if (*noshuffle_opt) spec.train.shuffle = false;
            // No spec, model or data named: the built-in default experiment (resources/builtin/experiment.json).
            bool named_any = false;
            for (auto& [opt, copy] : overrides)
                named_any = named_any || ((opt->get_name() == "--model" || opt->get_name() == "--train") && opt->count());
            const bool user_spec = !tr_spec_file.empty();
            const bool builtin_default = tr_spec_file.empty() && !named_any;
            if (builtin_default) tr_spec_file = builtin_dir() + "/experiment.json";
            auto given = [&](const char* name) {
                for (auto& [opt, copy] : overrides)
                    if (opt->get_name() == name && opt->count()) return true;
                return false;
            };
            if (!tr_spec_file.empty()) {
                ExperimentSpec merged = ExperimentSpec::load(tr_spec_file);
                // The built-in experiment's name says P-Tuning v2: another method gets its own automatic name.
                if (builtin_default && spec.method.name != merged.method.name) merged.name.clear();
                if (builtin_default && spec.task == "causal-lm") {
                    // The built-in decoder on the built-in data: the label word is the target, settings under which
                    // its exact match clearly rises (builtin/README.md).
                    merged.name = "built-in: P-Tuning v2 on a causal LM, the sentiment set as text -> label word";
                    merged.model = "builtin-decoder";
                    merged.data.prompt_template = "Review : {text} Sentiment : ";
                    merged.method.prefix.prompt_len = 64;
                    merged.train.lr = 0.1;
                    merged.train.epochs = 10;
                }
                for (auto& [opt, copy] : overrides)
                    if (opt->count()) copy(merged, spec);
                if (*layers_opt) merged.method.prefix.layers = spec.method.prefix.layers;
                if (*init_opt) merged.method.prefix.init = spec.method.prefix.init;
                if (*beta1_opt) merged.train.beta1 = spec.train.beta1;
                if (*beta2_opt) merged.train.beta2 = spec.train.beta2;
                if (*noshuffle_opt) merged.train.shuffle = false;
                spec = merged;
            }
            if (!tr_preset.empty()) {
                // The preset's settings, then whatever was given on the command line over them.
                const ExperimentSpec given_spec = spec;
                spec = apply_preset(spec, find_preset(tr_preset));
                for (auto& [opt, copy] : overrides)
                    if (opt->count()) copy(spec, given_spec);
                if (*layers_opt) spec.method.prefix.layers = given_spec.method.prefix.layers;
                std::cerr << "note: preset " << tr_preset << " (" << find_preset(tr_preset).title
                          << "): the authors trained " << find_preset(tr_preset).backbone << " on "
                          << find_preset(tr_preset).dataset << "\n";
            }
            // Tagged words (CoNLL, or JSONL with a tokens list) mean token classification unless a task was named.
            if (!given("--task") && !user_spec && spec.task == "seq-cls" && spec.data.train != "builtin" &&
                looks_like_tagged_data(spec.data.train)) {
                spec.task = "token-cls";
                std::cerr << "note: " << spec.data.train << " holds tagged words: task token-cls (--task to choose another)\n";
            }
            if (spec.task == "token-cls" && !given("--metric") && !user_spec &&
                (spec.train.metric == "accuracy" || spec.train.metric == "f1"))
                spec.train.metric = "entity_f1";
            // SQuAD JSON (or its JSONL rows) means extractive QA unless a task was named.
            if (!given("--task") && !user_spec && spec.task == "seq-cls" && spec.data.train != "builtin" &&
                looks_like_qa_data(spec.data.train)) {
                spec.task = "qa";
                std::cerr << "note: " << spec.data.train << " holds SQuAD questions: task qa (--task to choose another)\n";
            }
            // COPA / SWAG rows (or context + choices) mean multiple choice unless a task was named.
            if (!given("--task") && !user_spec && spec.task == "seq-cls" && spec.data.train != "builtin" &&
                looks_like_choice_data(spec.data.train)) {
                spec.task = "choice";
                std::cerr << "note: " << spec.data.train
                          << " holds multiple-choice questions: task choice (--task to choose another)\n";
            }
            if (spec.task == "choice" && !given("--metric") && !user_spec && spec.train.metric == "f1")
                spec.train.metric = "accuracy";
            if (spec.task == "qa" && !given("--metric") && !user_spec &&
                (spec.train.metric == "accuracy" || spec.train.metric == "f1"))
                spec.train.metric = "qa_f1";
            if (*steps_opt) spec.train.epochs = 0;
            if (*epochs_opt) spec.train.steps = 0;
            // accuracy (the default) is a classification metric: a causal LM selects by exact match unless told.
            // (A spec file of the user's says its metric itself: a classification metric there is an error.)
            if (spec.task == "causal-lm" && !given("--metric") && !user_spec &&
                (spec.train.metric == "accuracy" || spec.train.metric == "f1"))
                spec.train.metric = "exact_match";
            for (auto& t : tr_tags) spec.tags.push_back(t);
            if (!tr_out.empty()) spec.out_dir = tr_out;
            spec.validate();
            if (!tr_save_spec.empty()) spec.save(tr_save_spec);
            std::string db = tr_db.empty() ? default_db_path() : tr_db;
            if (fs::path(db).has_parent_path()) fs::create_directories(fs::path(db).parent_path());
            Store store(db);
            if (store.interrupted_on_open())
                std::cerr << "note: " << store.interrupted_on_open() << " run(s) in " << db
                          << " were interrupted (their process ended) and are marked so\n";
            std::unique_ptr<std::ofstream> log;
            if (!tr_log.empty()) {
                log = std::make_unique<std::ofstream>(tr_log, std::ios::trunc);
                if (!*log) throw Error(tr_log + ": cannot open for writing");
            }
            std::signal(SIGINT, on_sigint);
            CliObserver obs(log.get());
            Runner runner;
            RunOutcome o = runner.run(spec, store, &obs, &g_cancel);
            json summary = {{"run_id", o.run_id},
                            {"status", o.status},
                            {"steps", o.steps},
                            {"seconds", o.seconds},
                            {"final_metrics", o.final_metrics},
                            {"best_metrics", o.best_metrics},
                            {"best_step", o.best_step},
                            {"adapter", o.adapter_dir},
                            {"positive_label", o.positive_label.empty() ? json() : json(o.positive_label)},
                            {"peft", o.peft_exported},
                            {"db", db}};
            if (!o.reason.empty()) summary["error"] = o.reason;
            std::cout << dumps(summary) << "\n";
            if (o.status == "failed") {
                std::cerr << "error: " << o.reason << "\n";
                return 1;
            }
            return o.status == "cancelled" ? 130 : 0;
        }
        if (be->parsed()) {
            LatencyOptions o;
            o.batch_sizes = parse_int_list(be_bs, "--batch-size");
            o.seq_lens = parse_int_list(be_seq, "--seq-len");
            o.repeats = be_repeats;
            o.warmup = be_warmup;
            o.device = be_device;
            o.threads = be_threads;
            o.new_tokens = be_new_tokens;
            auto print = [&](const LatencyResult& r) {
                json j = {{"method", r.method}, {"batch_size", r.batch_size}, {"seq_len", r.seq_len},
                          {"prompt_len", r.prompt_len}, {"median_ms", r.median_ms}, {"p90_ms", r.p90_ms}, {"device", r.device}};
                if (!r.phase.empty()) j["phase"] = r.phase;   // a causal LM's: first_token, per_token
                if (r.phase == "per_token" && r.median_ms > 0) j["tokens_per_s"] = 1000.0 / r.median_ms * r.batch_size;
                if (be_run > 0) j["run_id"] = be_run;
                std::cout << j.dump() << std::endl;
            };
            if (be_run > 0) {
                // A stored run: its model, method and options; its own prompt length unless --prompt-len was given.
                Store store(be_db.empty() ? default_db_path() : be_db);
                if (be->count("--prompt-len")) o.prompt_lens = parse_int_list(be_plen, "--prompt-len");
                for (const LatencyResult& r : Runner::bench_run(store, be_run, o)) print(r);
                return 0;
            }
            o.model_dir = resolve_model_dir(be_model);
            o.methods = parse_str_list(be_methods);
            o.prompt_lens = parse_int_list(be_plen, "--prompt-len");
            o.layers = be_layers;
            run_latency(o, print);
            return 0;
        }
        if (ps->parsed()) {
            if (!ps_json)
                std::printf("%-18s %-9s %4s %8s %5s %6s %7s %7s %4s  %s\n", "preset", "task", "P", "lr", "batch",
                            "epochs", "dropout", "max_len", "seed", "authors' backbone and data");
            for (const Preset& p : presets()) {
                if (ps_json) {
                    std::cout << dumps(json{{"id", p.id}, {"title", p.title}, {"task", p.task}, {"dataset", p.dataset},
                                            {"backbone", p.backbone}, {"script", p.script}, {"prompt_len", p.prompt_len},
                                            {"lr", p.lr}, {"batch_size", p.batch_size}, {"epochs", p.epochs},
                                            {"hidden_dropout", p.hidden_dropout}, {"max_len", p.max_len},
                                            {"seed", p.seed}})
                              << "\n";
                    continue;
                }
                std::printf("%-18s %-9s %4lld %8g %5lld %6lld %7.1f %7lld %4llu  %s, %s\n", p.id.c_str(), p.task.c_str(),
                            (long long)p.prompt_len, p.lr, (long long)p.batch_size, (long long)p.epochs,
                            p.hidden_dropout, (long long)p.max_len, (unsigned long long)p.seed, p.backbone.c_str(),
                            p.dataset.c_str());
            }
            return 0;
        }
        if (su->parsed()) {
            if (su_file.empty() == su_ablation.empty()) throw Error("suite: give a suite FILE or --ablation KIND");
            Suite suite;
            if (!su_file.empty()) {
                suite = Suite::load(su_file);
            } else {
                ExperimentSpec base = ExperimentSpec::load(su_spec.empty() ? builtin_dir() + "/experiment.json" : su_spec);
                ModelConfig cfg = ModelConfig::from_dir(resolve_model_dir(base.model));
                std::vector<uint64_t> seeds;
                if (!su_seeds.empty())
                    for (int x : parse_int_list(su_seeds, "--seeds")) seeds.push_back((uint64_t)x);
                suite = make_ablation(su_ablation, base, (int)cfg.num_layers,
                                      (int)(cfg.max_position_embeddings - cfg.position_offset()), seeds);
            }
            std::vector<ExperimentSpec> specs = suite.expand();
            if (!su_save.empty()) suite.save(su_save);
            if (su_dry) {
                for (auto& sp : specs)
                    std::cout << dumps(json{{"suite", suite.name}, {"name", sp.display_name()}, {"seed", sp.train.seed},
                                            {"spec", sp.to_json()}})
                              << "\n";
                return 0;
            }
            std::string db = su_db.empty() ? default_db_path() : su_db;
            if (fs::path(db).has_parent_path()) fs::create_directories(fs::path(db).parent_path());
            Store store(db);
            // Every run is recorded first (queued), so the store shows the whole suite from the start.
            std::vector<int64_t> ids;
            for (auto& sp : specs) ids.push_back(Runner::enqueue(sp, store));
            std::signal(SIGINT, on_sigint);
            int failed = 0;
            for (size_t i = 0; i < specs.size(); ++i) {
                if (g_cancel.is_set()) {
                    store.finish_run(ids[i], "cancelled", "the suite was interrupted before this run", "{}", "{}", -1);
                    continue;
                }
                std::cerr << "suite " << suite.name << ": run " << (i + 1) << "/" << specs.size() << ": "
                          << specs[i].display_name() << " (seed " << specs[i].train.seed << ")\n";
                CliObserver obs(nullptr);
                RunOutcome o = Runner().run(specs[i], store, &obs, &g_cancel, ids[i]);
                if (o.status == "failed") ++failed, std::cerr << "error: " << o.reason << "\n";
                std::cout << dumps(json{{"suite", suite.name}, {"run_id", o.run_id}, {"name", specs[i].display_name()},
                                        {"seed", specs[i].train.seed}, {"status", o.status}, {"best_metrics", o.best_metrics},
                                        {"seconds", o.seconds}})
                          << std::endl;
            }
            return g_cancel.is_set() ? 130 : failed ? 1 : 0;
        }
        if (ex->parsed()) {
            Store store(ex_db.empty() ? default_db_path() : ex_db);
            export_run(store, ex_run, ex_format, ex_out);
            std::cerr << "exported run " << ex_run << " (" << ex_format << ") to " << ex_out << "\n";
            return 0;
        }
        if (cm->parsed()) {
            std::string db = cm_db.empty() ? default_db_path() : cm_db;
            if (!fs::exists(db)) throw Error(db + ": no run store here");
            Store store(db);
            std::vector<int64_t> ids = cm_ids;
            if (ids.empty()) {
                auto runs = store.runs();
                for (auto it = runs.rbegin(); it != runs.rend(); ++it)   // oldest first: a suite's order
                    if (cm_suite.empty() || it->suite == cm_suite) ids.push_back(it->id);
                if (ids.empty()) throw Error(db + ": no runs" + (cm_suite.empty() ? std::string() : " of suite \"" + cm_suite + "\""));
            }
            const auto rows = compare_methods(store, ids);
            for (const MethodRow& r : rows)
                std::cout << dumps(json{{"method", r.method},
                                        {"label", r.label()},
                                        {"model", r.model},
                                        {"group", r.group.label},
                                        {"runs", r.group.run_ids},
                                        {"run_names", r.run_names},
                                        {"completed", r.group.completed},
                                        {"metric", r.metric},
                                        {"metric_name", metric_display_name(r.metric, r.positive_label)},
                                        {"best", stat_json(r.best)},
                                        {"trainable_params", r.trainable_params},
                                        {"trainable_share", r.trainable_share},
                                        {"step_ms", stat_json(r.step_ms)},
                                        {"peak_mem_bytes", stat_json(r.peak_mem_bytes)},
                                        {"train_device", r.train_device},
                                        {"overhead", stat_json(r.overhead)},
                                        {"overhead_merged", stat_json(r.overhead_merged)},
                                        {"latency_config", r.latency_config}})
                          << "\n";
            if (!cm_csv.empty()) {
                std::ofstream f(cm_csv, std::ios::binary | std::ios::trunc);
                if (!f) throw Error(cm_csv + ": cannot open for writing");
                write_methods_csv(rows, f);
                if (!f) throw Error(cm_csv + ": could not be written");
            }
            return 0;
        }
        if (rn->parsed()) {
            std::string db = rn_db.empty() ? default_db_path() : rn_db;
            if (!fs::exists(db)) throw Error(db + ": no run store here");
            Store store(db);
            if (rn_action == "show") {
                if (rn_id <= 0) throw Error("runs show: give a run id");
                auto r = store.run(rn_id);
                if (!r) throw Error(db + ": no run with id " + std::to_string(rn_id));
                json j = run_json(*r);
                j["spec"] = json::parse(r->spec_json);
                json arts = json::array();
                for (auto& a : store.artifacts(rn_id)) arts.push_back({{"kind", a.kind}, {"path", a.path}});
                j["artifacts"] = arts;
                j["metric_keys"] = store.metric_keys(rn_id);
                json lat = json::array();
                for (auto& l : store.latency(rn_id)) {
                    json row = {{"method", l.method}, {"batch_size", l.batch_size}, {"seq_len", l.seq_len},
                                {"prompt_len", l.prompt_len}, {"median_ms", l.median_ms}, {"p90_ms", l.p90_ms},
                                {"device", l.device}};
                    if (!l.phase.empty()) row["phase"] = l.phase;   // a causal LM's: first_token, per_token
                    lat.push_back(row);
                }
                j["latency"] = lat;
                std::cout << dumps(j, 2) << "\n";
                return 0;
            }
            auto runs = store.runs();
            if (rn_json) {
                for (auto& r : runs) std::cout << dumps(run_json(r)) << "\n";
                return 0;
            }
            std::printf("%5s  %-11s  %-10s  %4s  %-8s  %-20s  %s\n", "id", "status", "method", "P", "layers", "best", "name");
            for (auto& r : runs) {
                // The best value of the metric the run selected by (accuracy, exact_match, ...), named.
                const std::string metric = primary_metric(r);
                const auto best = parse_metrics_json(r.best_metrics_json);
                std::string b = "-";
                if (auto it = best.find(metric); it != best.end()) {
                    char v[64];
                    std::snprintf(v, sizeof v, "%.4f %s", it->second, metric_display_name(metric).c_str());
                    b = v;
                }
                std::printf("%5lld  %-11s  %-10s  %4d  %-8s  %-20s  %s\n", (long long)r.id, r.status.c_str(), r.method.c_str(),
                            r.prompt_len, r.layers.c_str(), b.c_str(), r.name.c_str());
            }
            return 0;
        }
        if (mb->parsed()) {
            make_builtin(mb_out, mb_seed);
            std::cerr << "wrote " << mb_out << "\n";
            return 0;
        }
    } catch (const std::exception& e) {
        std::string what = e.what();
        if (auto nl = what.find("\nException raised from"); nl != std::string::npos) what = what.substr(0, nl);
        std::cerr << "error: " << what << "\n";
        return 1;
    }
    return 0;
}
