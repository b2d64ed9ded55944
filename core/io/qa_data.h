#pragma once
// Extractive question answering data: SQuAD 1.1 and 2.0 files, and the same rows as JSONL.
//
// SQuAD JSON ({"version": ..., "data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
//   "answers": [{"text", "answer_start"}], "is_impossible", "plausible_answers"}]}]}]}): every question of every
//   paragraph; "plausible_answers" (2.0's answers of unanswerable questions) are ignored.
// JSONL (Hugging Face datasets' squad / squad_v2 export): one question per line,
//   {"id", "title", "context", "question", "answers": {"text": [...], "answer_start": [...]}}; rows with the same
//   context as the row before share it.
//
// answer_start counts Unicode code points (Python string indices), as the official files do; ptune keeps the
// answer as a byte range of the UTF-8 context and checks that it holds the answer text exactly.
// SQuAD 2.0: a file whose version starts with "v2", or that has an unanswerable question ("is_impossible": true,
// or no answers where the version does not say 1.x). An "is_impossible" question with answers, or a question
// without answers in a 1.x file, is a bad row.
//
// Bad rows (a question that cannot be used) are reported "FILE: data[0].paragraphs[3].qas[1]: reason" (JSON) or
// "FILE:LINE: reason" (JSONL) with OnBadRow::Stop, else skipped and collected: a missing or non-string field,
// an answer_start outside the context or not at its text ("answers[0].answer_start 159 points at \"Fran\", not
// \"France\""), an empty answer text, a duplicate question id. A file that does not parse, has no "data" list, or
// no questions, throws at once.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/io/data.h"

namespace ptune {

struct QaAnswer {
    std::string text;
    int64_t start = 0;        // byte offset of the answer in the context (UTF-8)
    int64_t char_start = 0;   // the file's answer_start (code points)
};

struct QaExample {
    std::string id;
    std::string question;
    std::string title;
    int64_t context = 0;                // index into QaDataset::contexts
    std::vector<QaAnswer> answers;      // empty: unanswerable (SQuAD 2.0)
    std::string where;                  // "data[0].paragraphs[1].qas[3]" or "line 5": for messages
};

struct QaOptions {
    OnBadRow on_bad_row = OnBadRow::Stop;
    int64_t max_examples = 0;           // 0: all
};

struct QaDataset {
    std::string path;
    std::string version;                // the file's "version" ("1.1", "v2.0"); JSONL: ""
    bool version2 = false;              // SQuAD 2.0 (unanswerable questions allowed)
    std::vector<std::string> contexts;
    std::vector<QaExample> examples;
    std::vector<BadRow> bad_rows;
    int64_t answerable() const;
    const std::string& context_of(const QaExample& e) const { return contexts[static_cast<size_t>(e.context)]; }
};

QaDataset load_qa(const std::string& path, const QaOptions& opt = {});

// Whether a file looks like QA data: JSON whose beginning has "data" and "paragraphs"/"qas", or JSONL whose first
// row has "context", "question" and "answers". Reads the first 64 KiB.
bool looks_like_qa_data(const std::string& path);

// A seeded split by context (questions on one paragraph stay together, so none is answered from a paragraph seen
// in training); the same selection as split_dataset over the contexts.
std::pair<QaDataset, QaDataset> split_qa(const QaDataset& d, double fraction, uint64_t seed);

// The byte offset in `s` of code point `cp` (s.size() for cp == count); -1 when cp is past the end.
int64_t utf8_offset_of_code_point(const std::string& s, int64_t cp);

}  // namespace ptune
