#pragma once
// The run store: every run ptune makes, in one SQLite file. Torch-free and Qt-free.
// WAL mode; writes batched in transactions; a schema version (PRAGMA user_version) with migrations applied
// on open; a run whose status is 'running' but whose owning process (pid + host recorded at start) is gone is
// marked 'interrupted' on open. Safe to use from one thread per Store object; open several Store objects
// (one per thread) on the same file for concurrent readers and a writer.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/io/error.h"

struct sqlite3;

namespace ptune {

struct RunRecord {
    int64_t id = 0;
    std::string name;
    std::string status;        // queued | running | completed | failed | cancelled | interrupted
    std::string status_reason; // the error message for failed runs
    std::string spec_json;     // the full experiment spec (versioned JSON)
    std::string model;         // model dir or "builtin"
    std::string dataset;       // train file
    std::string method;        // "ptv2", ...
    int prompt_len = 0;
    std::string layers;        // "all", "first:2", "last:3", "0,2"
    int64_t seed = 0;
    std::string suite;         // suite name, empty when standalone
    std::string tags;          // comma separated
    std::string notes;
    double created_at = 0;     // unix seconds
    double started_at = 0;
    double finished_at = 0;
    std::string final_metrics_json = "{}";  // {"accuracy":..,"loss":..}
    std::string best_metrics_json = "{}";
    int64_t best_step = -1;
    int64_t trainable_params = 0;
    int64_t total_params = 0;
    int64_t owner_pid = 0;     // the process that started the run (0 until start_run); read-only
    std::string owner_host;    // its host name; read-only
    // What training cost (set_train_stats; 0 / empty until the run has trained): the device it trained on
    // ("cpu", "cuda:0"), the peak bytes of tensors alive on it during the run (model included), and the median
    // wall time of an optimizer step in milliseconds.
    std::string train_device;
    int64_t peak_mem_bytes = 0;
    double step_ms = 0;
    // Where it ran (set_environment when it starts; empty for runs of older stores): a JSON object with the ptune
    // and LibTorch versions, the device, the threads, the operating system and the preset, if any.
    std::string environment;
};

struct MetricPoint {
    int64_t step = 0;
    double epoch = 0;
    double time = 0;       // seconds since the run started
    std::string key;       // "train/loss", "train/lr", "train/samples_per_s", "eval/loss", "eval/accuracy", ...
    double value = 0;
};

// A causal LM's answer to a validation prompt at an evaluation (index: the prompt's place among the samples).
struct SampleRow {
    int64_t step = 0;
    int index = 0;
    std::string prompt, target, base, adapted;
};

struct PromptNormRow {
    int64_t step = 0;
    int layer = 0;
    double key_norm = 0;
    double value_norm = 0;
};

struct LatencyRow {
    std::string method;     // "base", "ptv2", ...
    int batch_size = 0;
    int seq_len = 0;
    int prompt_len = 0;
    double median_ms = 0;
    double p90_ms = 0;
    std::string device;
    std::string phase;      // "" (one forward pass), or a causal LM's "first_token" / "per_token"
};

struct ArtifactRow {
    std::string kind;       // "checkpoint", "best_checkpoint", "peft_adapter", "ptune_adapter", ...
    std::string path;
    double created_at = 0;
};

class Store {
public:
    static constexpr int kSchemaVersion = 5;

    explicit Store(const std::string& path);  // creates or migrates; throws ptune::Error naming the file
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    const std::string& path() const { return path_; }
    int interrupted_on_open() const { return interrupted_on_open_; }  // runs marked interrupted by this open

    // Runs
    int64_t create_run(const RunRecord& r);     // id, created_at set here; status as given ('queued' default)
    void start_run(int64_t id);                 // status running, started_at, owner pid/host
    void finish_run(int64_t id, const std::string& status, const std::string& reason,
                    const std::string& final_metrics_json, const std::string& best_metrics_json,
                    int64_t best_step);
    void update_run(const RunRecord& r);        // name, tags, notes, params counts
    void set_train_stats(int64_t id, const std::string& device, int64_t peak_mem_bytes, double step_ms);
    void set_environment(int64_t id, const std::string& environment_json);
    void delete_run(int64_t id);                // the run and all its rows
    std::optional<RunRecord> run(int64_t id) const;
    std::vector<RunRecord> runs() const;        // all, newest first; no series loaded

    // Series (appended in batches: one transaction per call)
    void add_metrics(int64_t run, const std::vector<MetricPoint>& pts);
    void add_prompt_norms(int64_t run, const std::vector<PromptNormRow>& rows);
    void add_samples(int64_t run, const std::vector<SampleRow>& rows);
    void add_latency(int64_t run, const std::vector<LatencyRow>& rows);
    void add_artifact(int64_t run, const ArtifactRow& a);

    std::vector<MetricPoint> metrics(int64_t run, const std::string& key = "") const;  // ordered by step
    std::vector<std::string> metric_keys(int64_t run) const;
    std::vector<PromptNormRow> prompt_norms(int64_t run) const;  // ordered by step, layer
    std::vector<SampleRow> samples(int64_t run) const;          // ordered by step, index
    std::vector<LatencyRow> latency(int64_t run) const;
    std::vector<ArtifactRow> artifacts(int64_t run) const;     // ordered by created_at, then insertion
    // The last value (highest step; the later insert on a tie) of every metric key of a run, for a browser's
    // "latest" column while a run is going; empty for a run without metrics.
    std::map<std::string, double> latest_metrics(int64_t run) const;

private:
    struct Cache;  // prepared statements kept for the life of the connection
    void migrate();
    void mark_interrupted();
    std::string path_;
    sqlite3* db_ = nullptr;
    std::unique_ptr<Cache> cache_;
    int interrupted_on_open_ = 0;
};

}  // namespace ptune
