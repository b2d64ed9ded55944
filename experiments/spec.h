#pragma once
// An experiment spec: everything a run needs to be repeated, as versioned JSON ({"ptune_spec": 1, ...}).
// Torch-free and Qt-free: the CLI, the runner and the workbench all read and write it.
#include <string>
#include <vector>

#include "core/engine/method_options.h"
#include "core/engine/prompt_options.h"
#include "core/engine/train_options.h"
#include "core/io/data.h"
#include "core/io/json_util.h"

namespace ptune {

struct DataSpec {
    std::string train = "builtin";     // a file, or "builtin" (the shipped default data set)
    std::string valid;                 // a file; empty: split valid_fraction off train (or the built-in valid set)
    double valid_fraction = 0.1;
    uint64_t split_seed = 42;
    std::string format = "auto";       // auto | tsv | csv | jsonl
    std::string text_column, text_pair_column, label_column;
    // Causal LM (task causal-lm): the column holding each row's target text (empty: label_column), and the prompt
    // template with {text} where the row's text goes (empty: the text alone), e.g. "Tweet text : {text} Label : ".
    std::string target_column, prompt_template;
    // Token classification (task token-cls) on CoNLL or JSONL files: the word and tag columns (CoNLL: 0-based
    // field indexes, default 0 and the last; JSONL: keys, default "tokens" and "tags"/"ner_tags"), the tag scheme
    // (auto, iob2/bio, iob1, iobes, none), and whether every sub-token of a word is labelled (else the first only).
    std::string tokens_column, tags_column;
    std::string tag_scheme = "auto";
    bool label_all_subtokens = false;
    // Extractive QA (task qa) on SQuAD 1.1 / 2.0 JSON or JSONL (core/engine/qa_features.h): the overlap of a long
    // context's windows and the question's token limit; decoding's n-best spans, the longest answer (tokens) and
    // SQuAD 2.0's null-answer threshold (the null answer wins when its odds exceed it).
    int64_t doc_stride = 128;
    int64_t max_question_len = 64;
    int64_t n_best = 20;
    int64_t max_answer_len = 30;
    double null_threshold = 0.0;
    std::string on_bad_row = "stop";   // stop | skip
    int64_t max_rows = 0;
};

struct MethodSpec {
    // ptv2: P-Tuning v2 deep prompts (with mlp: prefix tuning); prompt: prompt tuning; ptuning: P-tuning v1;
    // lora; ia3; adapter: bottleneck adapters; full: full fine-tuning; head: the linear probe
    // (core/engine/method_options.h)
    std::string name = "ptv2";
    PrefixOptions prefix;              // ptv2; prefix.prompt_len is also prompt's and ptuning's P
    DeltaOptions delta;                // prompt, ptuning, lora, ia3, adapter
    // A PEFT or ptune adapter directory to start from (resume, or train further): ptv2 reads PREFIX_TUNING or
    // ptune's prompts; the other methods ptune's adapter of the same method and options (P-tuning's encoder too),
    // or PEFT's PROMPT_TUNING, LORA or IA3 files.
    std::string init_adapter;
    bool uses_prompt_len() const { return has_prompt_len(name); }
};

// Inference latency measured right after training (Runner::run), stored with the run: the base model against the
// run's method with its options (and, for LoRA and IA3, merged into the weights), round-robin in one process.
struct LatencySpec {
    bool measure = false;
    int batch_size = 8;
    int seq_len = 0;                   // 0: the run's max length
    int repeats = 20;
    int warmup = 3;
};

struct ExperimentSpec {
    static constexpr int kVersion = 1;
    std::string name;
    // seq-cls: sequence classification (an encoder and a classification head); causal-lm: a causal LM trained to
    // generate each row's target after its prompt (loss on the target tokens; exact match, perplexity); token-cls:
    // token classification (NER, chunking, POS) on an encoder, judged by seqeval's entity F1; qa: extractive
    // question answering (SQuAD 1.1 / 2.0) on an encoder, judged by the official scripts' EM and F1; choice:
    // multiple choice (COPA, SWAG; core/io/choice_data.h) on an encoder, judged by accuracy.
    std::string task = "seq-cls";
    // The reproduction preset the spec was filled from (experiments/presets.h), "" for none: kept with the run.
    std::string preset;
    std::string model = "builtin";     // a Hugging Face model directory, or "builtin"
    DataSpec data;
    MethodSpec method;
    TrainOptions train;
    LatencySpec latency;
    std::string out_dir;               // the run's adapter directory; empty: <store>-runs/run-<id>/adapter
    std::vector<std::string> tags;
    std::string notes;
    std::string suite;

    json to_json() const;
    json method_json() const;          // the "method" section: the fields the chosen method uses
    // Reads a spec; `where` names the source in errors ("spec.json: train.lr: ..."). Missing fields keep
    // their defaults; unknown fields are errors (a typo must not silently fall back to a default).
    static ExperimentSpec from_json(const json& j, const std::string& where);
    static ExperimentSpec load(const std::string& path);
    void save(const std::string& path) const;
    void validate() const;             // throws ptune::Error naming the field
    std::string display_name() const;  // name, or "ptv2 P=16 all on builtin"
};

}  // namespace ptune
