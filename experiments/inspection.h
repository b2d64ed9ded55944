#pragma once
// Looking at what a trained token-classification run predicts: its validation sentences (the validation file, or
// the share of the training file it held out, split the same way) tagged with the run's saved adapter, beside the
// gold tags, sentences with errors first. Torch-free interface (the workbench's Inspect tab uses it).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/engine/events.h"
#include "experiments/store.h"

namespace ptune {

struct InspectedSentence {
    std::vector<std::string> words, gold, predicted;
    int64_t line = 0;          // the sentence's first line in the data file
    int64_t wrong_tags = 0;    // words whose predicted tag differs from the gold one
};

struct TaggingInspection {
    int64_t run_id = 0;
    std::string data_file;     // where the sentences come from
    bool held_out = false;     // a split of the training file (no validation file)
    std::string tag_scheme;
    std::vector<std::string> label_names;
    // Errors first (the most wrong tags first, then file order), then the sentences without errors in file order.
    std::vector<InspectedSentence> sentences;
    int64_t sentences_with_errors = 0;
    std::map<std::string, double> metrics;   // entity_f1, entity_precision, entity_recall, f1_<TYPE>, tag_accuracy
};

// Throws ptune::Error saying why a run cannot be inspected: not a token-classification run, no saved adapter, its
// files gone. `cancel` stops between batches (throws "cancelled").
TaggingInspection inspect_tagging_run(const Store& store, int64_t run_id, const CancelFlag* cancel = nullptr);
// The runs inspect_tagging_run takes (token classification, an adapter saved), newest first.
std::vector<RunRecord> tagging_runs(const Store& store);

}  // namespace ptune
