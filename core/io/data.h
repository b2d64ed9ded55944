#pragma once
// Labelled text data for sequence classification: GLUE-style TSV (with or without header), CSV (RFC 4180
// quoting), JSONL. One text or a text pair; label column by name or index; label names mapped to ids.
//
// Reading rules (all formats):
//   - A UTF-8 byte order mark at the start is dropped; lines may end in LF or CRLF (the CR is dropped).
//   - Empty lines are skipped (for JSONL also lines of only whitespace).
//   - TSV: every line is one record split at tabs. GLUE files are not quoted, so quotes are ordinary text.
//   - CSV: RFC 4180: a field that starts with '"' runs to the closing quote, "" inside it is one quote, and it
//     may hold commas and line breaks (CRLF inside becomes LF). A record's line is the line it starts on.
//     Text after a closing quote (up to the next comma) is kept as is.
//   - JSONL: one JSON object per line; text and label by key; a label may be a string or an integer.
//     `columns` are the keys of the first object, in file order; an index column ("1") counts in them.
//   - Label cells are trimmed of surrounding spaces/tabs; texts are kept exactly. Empty text is allowed.
//
// Header detection (TSV/CSV, has_header unset): the first record is a header when
//   (a) one of its cells equals a requested column name (a non-digit text/text_pair/label column) or a
//       usual GLUE name: label, labels, sentence, sentence1, sentence2, text, text_a, text_b, question,
//       question1, question2, premise, hypothesis, idx, id; or else
//   (b) none of its cells is empty or an integer, and its label cell (label_column when given as an index,
//       otherwise the last cell) is, with label_names given, not one of them; without, not equal to the label
//       cell of any later record (a lone record is never a header by this rule).
// An explicit has_header wins.
//
// Bad rows (reported as "FILE:LINE: reason" with OnBadRow::Stop, else collected in Dataset::bad_rows):
//   a record with a different number of fields than the first record ("expected 2 fields, got 3"),
//   an empty or missing label ("empty label"), an unknown label when label_names are given
//   ("unknown label \"x\" (labels: a, b)"), a JSONL line that does not parse ("invalid JSON at byte N") or
//   is not an object ("not a JSON object"), a missing key ("missing key \"text\""), a text that is not a
//   string ("key \"text\" is not a string"), a label that is neither string nor integer, and a CSV quoted
//   field still open at the end of the file ("unterminated quoted field", at the line the record starts).
// Errors that are not about one row throw ptune::Error at once: a file that cannot be opened
// ("FILE: cannot open for reading"), an unknown column ("FILE: no column \"x\" (columns: a, b, c)"), a column
// index out of range, text and label in the same column, and a file with no usable rows
// ("FILE: no usable rows").
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
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
    // Auto: by extension (.tsv; .csv; .jsonl/.json/.ndjson, case-insensitive), else sniffed from the first
    // non-empty line: starts with '{' -> JSONL, has a tab -> TSV, has a comma -> CSV, else TSV.
    DataFormat format = DataFormat::Auto;
    std::optional<bool> has_header;           // TSV/CSV; unset: detected (see the rules above)
    // Columns: a header name, or a 0-based index written as digits ("0", "1"). Empty text_column: the first
    // of "sentence", "text", "sentence1", "question" present, else the first column that is not the label
    // column. Empty label_column: "label", else the last column.
    std::string text_column;
    std::string text_pair_column;             // empty: single text (unless "sentence2" exists beside "sentence1")
    std::string label_column;
    // Label names -> ids. Empty: when every label is a non-negative integer written plainly ("0", "7", not
    // "07" or "-1") and the largest is below 4096, the integers are the ids and label_names are "0".."max"
    // (a class absent from the file keeps its id); otherwise the distinct names are sorted (std::sort, byte
    // order) and numbered. Given (e.g. a model's id2label): a label equal to a name gets its index, a plain
    // integer below label_names.size() is taken as the id, any other label is a bad row.
    std::vector<std::string> label_names;
    OnBadRow on_bad_row = OnBadRow::Stop;
    int64_t max_rows = 0;                     // 0: all; else stop after this many good rows
};

struct BadRow {
    int64_t line = 0;
    std::string reason;
};

struct Dataset {
    std::string path;
    std::vector<Example> rows;
    std::vector<std::string> label_names;     // id -> name
    std::vector<std::string> columns;         // header names (or "0","1",.. without header); JSONL: keys
    std::vector<BadRow> bad_rows;             // rows skipped with OnBadRow::Skip
    std::map<int, int64_t> label_counts() const;  // id -> rows with that label (ids that occur)
};

// Loads a file. With OnBadRow::Stop the first bad row throws ptune::Error "FILE:LINE: reason".
Dataset load_dataset(const std::string& path, const DataOptions& opt);

// A seeded split: shuffles indices with `seed` (std::mt19937_64 and a Fisher–Yates of our own with rejection
// sampling, so the result is the same with every standard library) and moves round(fraction * rows) rows to
// the second dataset (valid); the first (train) keeps the rest. Both keep the file order of their rows and
// copy path, columns and label_names; bad_rows stay with the source. fraction outside [0, 1] throws.
std::pair<Dataset, Dataset> split_dataset(const Dataset& d, double fraction, uint64_t seed);
// Which of n rows split_dataset moves to the validation part: round(fraction * n) of them, the first ones of a
// permutation of 0..n-1 (mt19937_64 with `seed`, a Fisher-Yates with rejection sampling). Throws for a fraction
// outside [0, 1]. split_tagged splits sentences the same way.
std::vector<char> held_out_rows(size_t n, double fraction, uint64_t seed);

// Preview: the first `n` raw records as cells (for the workbench's table), tolerant of bad rows: records
// that do not parse (invalid JSON, an unterminated quote) are left out, rows keep the cells they have.
// TSV/CSV: a header (detected with default options) is not a row; `columns` gets its names, or "0".."k-1"
// for the widest row. JSONL: `columns` gets the keys in order of first appearance, rows one cell per column
// (strings as they are, other values as JSON, missing ""). Only throws when the file cannot be read.
// Reads only as much of the file as it needs.
std::vector<std::vector<std::string>> preview_rows(const std::string& path, DataFormat format, int n,
                                                   std::vector<std::string>* columns = nullptr);

// Format of a file as DataFormat::Auto resolves it (by extension, else sniffed from its first 64 KiB).
// Throws ptune::Error when it has to sniff and the file cannot be opened.
DataFormat detect_data_format(const std::string& path);
// "auto", "tsv", "csv", "jsonl"; and back (case-insensitive, "json"/"ndjson" -> JSONL); nullopt if unknown.
const char* data_format_name(DataFormat f);
std::optional<DataFormat> parse_data_format(const std::string& name);

}  // namespace ptune
