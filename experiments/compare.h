#pragma once
// Comparing stored runs: groups of runs that differ only by seed (mean ± std of their metrics) and CSV exports
// of many runs at once. Torch-free and Qt-free (part of ptune_store): the workbench, the CLI and tests use it.
//
// Statistics count only completed runs: a failed, cancelled, interrupted, queued or running run is listed in its
// group's run_ids (so a view can show it) but none of its metrics enter the mean and std.
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "experiments/store.h"

namespace ptune {

// Mean and sample standard deviation (n - 1 in the denominator; 0 when n == 1) of one metric over a group.
struct Stat {
    double mean = 0;
    double std = 0;
    int n = 0;
};

struct SeedGroup {
    std::string key;                 // seed_group_key() shared by the runs
    std::string label;               // "ptv2 P=16 all on builtin (3 seeds)"
    std::vector<int64_t> run_ids;    // every run of the group, in the order given to group_by_seed
    int completed = 0;               // how many of them are completed (and so counted in `best`)
    // Over the completed runs: each key of best_metrics_json as it is ("accuracy", "loss", ...) and each key
    // of final_metrics_json prefixed "final/" ("final/accuracy"). A run without a key does not count for it.
    std::map<std::string, Stat> best;
};

// The run's spec JSON without train.seed, name, tags, notes, suite, out_dir and latency (data.split_seed stays: another
// split is another experiment), dumped canonically (keys sorted). Runs that differ only by seed share a key.
// When spec_json does not parse, a key from the record's model, dataset, method, prompt length and layers.
std::string seed_group_key(const RunRecord& r);

// Groups runs by seed_group_key, groups in first-seen order. Labels that would be equal for different groups
// (same method, P, depth and model but, say, another learning rate) get the differing spec fields appended.
std::vector<SeedGroup> group_by_seed(const std::vector<RunRecord>& runs);

// The metric a run selects its best checkpoint by: the spec's train.metric ("accuracy" when absent).
std::string primary_metric(const RunRecord& r);

// Seconds from start to finish; 0 for a run not started or not finished.
double duration_s(const RunRecord& r);

// The numeric fields of a metrics JSON object ({"accuracy": 0.8, ...}); non-numbers and bad JSON are skipped.
std::map<std::string, double> parse_metrics_json(const std::string& text);

// A metric key as users read it: "f1" is "macro-F1", "f1_pos" "F1 (positive: spam)" (the positive label's F1 in a
// binary task; "F1 (positive label)" when its name is not known), "mcc" "MCC"; "eval/", "best/" and "final/"
// prefixes are kept ("final/f1": "final macro-F1"). Stored keys stay as they are: this is for display only.
std::string metric_display_name(const std::string& key, const std::string& positive_label = "");
// The positive label a run's metrics name ("positive_label" in its best metrics JSON); empty when none.
std::string positive_label_of(const RunRecord& r);

// One CSV field, quoted per RFC 4180 when it holds a comma, a quote, CR or LF.
std::string csv_field(const std::string& s);
// A number in the shortest form that reads back to the same double ("nan", "inf", "-inf" when not finite).
std::string csv_number(double v);

// Every stored metric point of the runs (in the order of `ids`, each run's points by step), long format:
// run_id,run_name,seed,method,prompt_len,layers,key,step,epoch,time_s,value — one header line, CRLF-free
// ("\n" line ends). Throws ptune::Error for an id not in the store.
void write_metrics_csv(const Store& store, const std::vector<int64_t>& ids, std::ostream& out);

// One row per run: id,name,status,model,dataset,method,prompt_len,layers,seed,trainable_params,total_params,
// trainable_share,best_step,best/<k>...,final/<k>...,duration_s,train_device,peak_mem_bytes,step_ms with the union of the runs' metric keys as
// columns (sorted); a run without a key leaves its cell empty. Throws ptune::Error for an id not in the store.
void write_summary_csv(const Store& store, const std::vector<int64_t>& ids, std::ostream& out);

// The method comparison: one row per seed group with the method, its settings, its trainable parameters, the
// selection metric's best value (mean ± std over the completed runs), and what it costs: the median step time
// and peak tensor memory of training (Store::set_train_stats), and inference latency against the base model
// (the run's latency rows, measured side by side: base and method at the same batch, length and device; for
// LoRA and IA3 also merged into the weights). Each cost is a mean ± std over the completed runs that have it.
struct MethodRow {
    SeedGroup group;
    std::string method;           // ptv2, prefix-mlp, prompt, ptuning, lora, ia3, adapter, full, head
    std::string method_label;     // "P-Tuning v2", "Prefix tuning (MLP)", "LoRA", ...
    std::string settings;         // "P=16, all layers", "r=8, alpha=16, query+value", ...
    std::string metric;           // the selection metric ("accuracy")
    std::string positive_label;   // binary tasks: the label whose F1 is "f1_pos" (the first run's)
    int64_t trainable_params = 0, total_params = 0;
    double trainable_share = 0;   // trainable / total (0 when unknown)
    Stat best;                    // best `metric`
    Stat step_ms;
    Stat peak_mem_bytes;
    std::string train_device;     // "cpu", "cuda:0"; "mixed" when the runs differ
    Stat latency_ms, base_latency_ms;   // median forward latency of the method (as trained) and of the base model
    Stat overhead;                // latency_ms / base_latency_ms - 1, per run
    Stat overhead_merged;         // LoRA / IA3 merged into the weights; n = 0 for the others
    std::string latency_config;   // "batch 8 × 128 tokens, cpu" of the first run measured; empty when none was
    std::string model;            // the base model as the runs record it ("builtin" or a directory)
    std::vector<std::string> run_names;   // the names of the group's runs, in run_ids order
    std::string label() const { return method_label + (settings.empty() ? "" : " · " + settings); }
};

// One row per seed group of the runs (in first-seen order, as group_by_seed). Throws for an id not in the store.
std::vector<MethodRow> compare_methods(const Store& store, const std::vector<int64_t>& ids);

// The rows as CSV: method,method_label,settings,runs,completed,metric,trainable_params,total_params,
// trainable_share,best_mean,best_std,step_ms_mean,step_ms_std,peak_mem_bytes_mean,peak_mem_bytes_std,train_device,
// latency_ms_mean,base_latency_ms_mean,overhead_mean,overhead_std,overhead_merged_mean,overhead_merged_std,
// latency_config,run_ids (ids separated by spaces),model,group (the seed group's label),run_names (separated by
// "; "); empty cells where nothing was measured.
void write_methods_csv(const std::vector<MethodRow>& rows, std::ostream& out);

}  // namespace ptune
