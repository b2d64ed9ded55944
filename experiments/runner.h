#pragma once
// The runner executes an experiment spec: spec -> runner -> events -> run store and views.
// It resolves the model and data, records the run in the store, trains, streams every event to the store
// (batched) and to an observer (the CLI's progress bar, the workbench's charts), saves the adapter, and marks
// the run completed, cancelled or failed with its reason. Torch-free interface: the workbench includes it.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/events.h"
#include "core/engine/latency.h"
#include "core/io/choice_data.h"
#include "core/io/tagged_data.h"
#include "experiments/spec.h"
#include "experiments/store.h"

namespace ptune {

// What a view sees of a run: the trainer's events plus the run's life cycle.
class RunObserver : public TrainEvents {
public:
    virtual void on_run_created(int64_t run_id, const RunRecord& r) {}
    virtual void on_run_finished(int64_t run_id, const std::string& status, const std::string& reason) {}
    virtual void on_latency(const LatencyResult&) {}
};

struct RunOutcome {
    int64_t run_id = 0;
    std::string status;          // completed | early_stopped is stored as completed | cancelled | failed
    std::string reason;          // why it failed
    int64_t steps = 0;
    std::map<std::string, double> final_metrics, best_metrics;
    int64_t best_step = -1;
    std::string adapter_dir;     // ptune format (and PEFT files beside it when PEFT can express the run)
    bool peft_exported = false;
    std::string positive_label;  // two labels: the name of label 1, whose F1 the metrics call "f1_pos"
    double seconds = 0;
};

// Where the shipped default experiment lives (resources/builtin) and what "builtin" resolves to.
std::string resolve_model_dir(const std::string& model);
// How a token-classification spec's data section reads its files (columns, keys, scheme, bad rows).
TaggedOptions tagged_options(const DataSpec& d);
std::string default_db_path();   // $PTUNE_DB, else $XDG_DATA_HOME/ptune/runs.sqlite (~/.local/share/...)

// Facts about a model directory for setup forms, without loading weights.
struct ModelSummary {
    std::string dir, arch, model_type, tokenizer;
    int64_t layers = 0, hidden = 0, heads = 0, intermediate = 0, vocab = 0, max_positions = 0, position_offset = 0;
    int64_t params = 0;          // encoder (+ pooler) parameters; a causal LM's, LM head included
    std::vector<std::string> labels;
    bool causal_lm = false;      // a decoder: task causal-lm
    int64_t kv_heads = 0;        // key/value heads (grouped-query decoders have fewer than heads)
    int64_t prefix_width = 0;    // a prefix's width per layer for keys and for values: H, or kv_heads x head_dim
};
ModelSummary summarize_model(const std::string& model);  // throws ptune::Error with the reason it cannot be used

// What a spec's data resolves to, for setup forms: files, columns, labels and their counts, the split.
// Reads the files as a run would (the same options); throws ptune::Error naming the file and line.
struct DataSummary {
    std::string train_file, valid_file;   // resolved ("builtin" -> the shipped files); valid empty: split
    std::vector<std::string> columns;
    std::vector<std::string> label_names; // id -> name, as the data numbers them (sorted names or integers)
    std::vector<int64_t> train_counts, valid_counts;   // rows per label id
    int64_t train_rows = 0, valid_rows = 0, skipped_rows = 0;
    std::string first_skipped;            // "line N: reason" of the first skipped bad row
    // Token classification (summarize_tagged): rows are sentences, labels are tags and the counts are words.
    bool tagged = false;
    std::string tag_scheme;               // as read or detected: iob2, iob1, iobes, none
    int64_t train_words = 0, valid_words = 0;
    std::map<std::string, std::pair<int64_t, int64_t>> entities;   // entity type -> (train, valid) entities
    // Extractive QA (summarize_qa): rows are questions; label_names {"answerable", "unanswerable"} with their
    // counts; contexts per side; SQuAD 2.0 when unanswerable questions are allowed.
    bool qa = false, qa_v2 = false;
    int64_t train_contexts = 0, valid_contexts = 0;
    // Multiple choice (summarize_choice): rows are questions; label_names "choice 1".."choice N" with how often each
    // position is the right one; the file's layout (copa, swag, generic, mixed) and its fewest and most choices.
    bool choice = false;
    std::string choice_layout;
    int64_t min_choices = 0, max_choices = 0;
};
DataSummary summarize_data(const DataSpec& data);
// The same for a token-classification data section (CoNLL or JSONL tagged words), read as a token-cls run reads it.
DataSummary summarize_tagged(const DataSpec& data);
// The first `n` sentences of a tagged file, as words and tag names, tolerant of bad rows (skipped); for previews.
std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> preview_tagged(const DataSpec& data, int n);

// The same for an extractive-QA data section (SQuAD JSON or JSONL), read as a qa run reads it.
DataSummary summarize_qa(const DataSpec& data);
// The first `n` questions of a SQuAD file (bad ones skipped), for previews: the answer's byte range in the context
// (answer_start < 0: unanswerable).
struct QaPreview {
    std::string id, question, context, answer;
    int64_t answer_start = -1;
};
std::vector<QaPreview> preview_qa(const DataSpec& data, int n);

// The same for a multiple-choice data section (COPA, SWAG or generic JSONL), read as a choice run reads it.
DataSummary summarize_choice(const DataSpec& data);
// The first `n` questions (bad ones skipped), for previews.
std::vector<ChoiceExample> preview_choice(const DataSpec& data, int n);

// Parameter counts a spec would train, without loading weights: prompts, head, and the total model.
struct ParamCounts {
    int64_t prompt = 0, head = 0, backbone = 0;
    int64_t trainable() const { return prompt + head; }
    double share() const { return backbone + head + prompt ? double(trainable()) / double(backbone + head + prompt) : 0; }
};
ParamCounts count_params(const ExperimentSpec& spec, int num_labels);

class Runner {
public:
    // Runs a spec to the end (in the calling thread). Never throws for a failure of the run itself: the run is
    // marked failed with the reason, and the outcome says so. Throws only when the store cannot be written.
    // `run_id` > 0 runs a run already created in the store (queued by the workbench).
    RunOutcome run(const ExperimentSpec& spec, Store& store, RunObserver* observer = nullptr,
                   const CancelFlag* cancel = nullptr, int64_t run_id = 0);

    // Creates the run row (status queued) so that a queue can show it before it starts.
    static int64_t enqueue(const ExperimentSpec& spec, Store& store);

    // Measures latency for a stored run's model and method settings (latency_methods_for: the base model against
    // the run's method, and merged for LoRA and IA3), stores the rows with the run. `opt`'s methods, model,
    // layers and method options are the run's; its prompt_lens, when given, sweep the run's prompt length.
    static std::vector<LatencyResult> bench_run(Store& store, int64_t run_id, const LatencyOptions& opt,
                                                RunObserver* observer = nullptr, const CancelFlag* cancel = nullptr);
};

// What latency is measured for a run of `method`: base and the method; LoRA and IA3 also merged ("lora-merged").
std::vector<std::string> latency_methods_for(const std::string& method);

// Exports a stored run's adapter: format "peft" (refused with a clear message for partial depth) or "ptune".
void export_run(Store& store, int64_t run_id, const std::string& format, const std::string& out_dir);

}  // namespace ptune
