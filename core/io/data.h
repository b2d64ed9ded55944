#pragma once
// Labelled text data for sequence classification: GLUE-style TSV (with or without header), CSV (RFC 4180
// quoting), JSONL. One text or a text pair; label column by name or index; label names mapped to ids.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/io/error.h"

namespace ptune {

struct Example {
    std::string text;
    std::optional<std::string> text_pair;
    int label = -1;
    int64_t line = 0;   // 1-based line in the source file (JSONL/TSV/CSV record start)
};

enum class DataFormat { Auto, TSV, CSV, JSONL };
enum class OnBadRow { Stop, Skip };

struct DataOptions {
    DataFormat format = DataFormat::Auto;     // Auto: by extension (.tsv .csv .jsonl/.json), else sniffed
    std::optional<bool> has_header;           // TSV/CSV; unset: detected (first row names the chosen columns)
    // Columns: a header name, or a 0-based index written as digits ("0", "1"). Empty text_column: the first
    // of "sentence", "text", "sentence1", "question" present, else column 0. Empty label_column: "label",
    // else the last column.
    std::string text_column;
    std::string text_pair_column;             // empty: single text (unless "sentence2" exists beside "sentence1")
    std::string label_column;
    // Label names -> ids. Empty: numeric labels are used as ids when every label is an integer
    // 0..K-1; otherwise names are sorted and numbered. Given (e.g. a model's label2id), unknown labels are
    // bad rows.
    std::vector<std::string> label_names;
    OnBadRow on_bad_row = OnBadRow::Stop;
    int64_t max_rows = 0;                     // 0: all
};

struct BadRow {
    int64_t line = 0;
    std::string reason;
};

struct Dataset {
    std::string path;
    std::vector<Example> rows;
    std::vector<std::string> label_names;     // id -> name
    std::vector<std::string> columns;         // header names (or "0","1",.. without header)
    std::vector<BadRow> bad_rows;             // rows skipped with OnBadRow::Skip
    std::map<int, int64_t> label_counts() const;
};

// Loads a file. With OnBadRow::Stop the first bad row throws ptune::Error "FILE:LINE: reason".
Dataset load_dataset(const std::string& path, const DataOptions& opt);

// A seeded split: shuffles indices with `seed` (std::mt19937_64) and moves `fraction` of rows to the second.
std::pair<Dataset, Dataset> split_dataset(const Dataset& d, double fraction, uint64_t seed);

// Preview: the first `n` raw records as cells (for the workbench's table), tolerant of bad rows.
std::vector<std::vector<std::string>> preview_rows(const std::string& path, DataFormat format, int n,
                                                   std::vector<std::string>* columns = nullptr);

}  // namespace ptune
