#pragma once
// Multiple-choice data: a context and N choices, one of them right. Each choice is read through the model as a
// text pair (the context first, the choice second), as the P-Tuning v2 code and transformers' run_swag.py do.
// JSONL, one question per line, in any of three layouts (told apart by their fields, line by line):
//   COPA (SuperGLUE): {"premise", "choice1", "choice2", "question": "cause" | "effect", "label": 0 | 1, "idx"}:
//     the context is "<premise> because" for a cause, "<premise> so" for an effect (the P-Tuning v2 code's
//     joiners), the choices choice1 and choice2;
//   SWAG / HellaSwag-style (Hugging Face datasets' swag export): {"sent1", "sent2", "ending0".."endingK", "label"}:
//     the context is sent1, choice i is "<sent2> <ending i>" (run_swag.py); "startphrase" and the other fields
//     are ignored;
//   generic: {"context", "question" (optional), "choices": ["...", ...], "label": i}: the context is
//     "<context> <question>" (or the one given).
// "label" is the 0-based index of the right choice (an integer, or digits in a string); "id" or "idx" names the
// question (else its line). Every question needs at least two choices; counts may differ between questions.
// A row without a label is bad unless the options allow unlabelled rows (prediction), which then get label -1.
//
// Bad rows are reported "FILE:LINE: reason" naming the field with OnBadRow::Stop, else skipped and collected.
// A file that cannot be read, or has no usable question, throws.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/io/data.h"

namespace ptune {

struct ChoiceExample {
    std::string id;
    std::string context;                 // the first text of every pair
    std::vector<std::string> choices;    // the second texts
    int64_t label = -1;                  // index of the right choice; -1: unlabelled
    int64_t line = 0;
};

struct ChoiceOptions {
    OnBadRow on_bad_row = OnBadRow::Stop;
    int64_t max_examples = 0;            // 0: all
    bool allow_unlabelled = false;
};

struct ChoiceDataset {
    std::string path;
    std::string layout;                  // "copa", "swag", "generic", or "mixed"
    std::vector<ChoiceExample> examples;
    std::vector<BadRow> bad_rows;
    size_t max_choices() const;
    size_t min_choices() const;
};

ChoiceDataset load_choice(const std::string& path, const ChoiceOptions& opt = {});
// Whether the file's first non-blank line is a JSON object in one of the layouts above (false when unreadable).
bool looks_like_choice_data(const std::string& path);
// A seeded split (held_out_rows): the questions it picks go to the second dataset.
std::pair<ChoiceDataset, ChoiceDataset> split_choice(const ChoiceDataset& d, double fraction, uint64_t seed);

}  // namespace ptune
