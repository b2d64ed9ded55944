#pragma once
// Looking at what a trained run predicts on its validation data (the validation file, or the share of the training
// file it held out, split the same way) with the run's saved adapter, errors first: a token-classification run's
// sentences beside their gold tags; an extractive-QA run's questions with the predicted and the gold answers in
// their contexts. Torch-free interface (the workbench's Inspect tab uses it).
#include <cstdint>
#include <map>
#include <string>
#include <utility>
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

struct InspectedQuestion {
    std::string id, question, context;
    std::vector<std::pair<int64_t, int64_t>> gold;   // the gold answers' byte ranges in the context (none: no answer)
    std::string predicted;                           // the answer ("" = no answer)
    int64_t pred_start = -1, pred_end = -1;          // its byte range in the context
    double exact = 0, f1 = 0;                        // the official script's scores of this question (0..1)
    double null_odds = 0;                            // SQuAD 2.0
    size_t index = 0;                                // its place in the data (file order)
};

struct QaInspection {
    int64_t run_id = 0;
    std::string data_file;
    bool held_out = false;
    bool version2 = false;
    // Errors first (the lowest F1 first, then file order), then the questions answered right in file order.
    std::vector<InspectedQuestion> questions;
    int64_t wrong = 0;                               // questions whose exact match is 0
    std::map<std::string, double> metrics;           // exact_match, qa_f1 (and 2.0's has_ans_*, no_ans_accuracy)
};

// Throws ptune::Error saying why a run cannot be inspected: not a token-classification run, no saved adapter, its
// files gone. `cancel` stops between batches (throws "cancelled").
TaggingInspection inspect_tagging_run(const Store& store, int64_t run_id, const CancelFlag* cancel = nullptr);
// The runs inspect_tagging_run takes (token classification, an adapter saved), newest first.
std::vector<RunRecord> tagging_runs(const Store& store);
// The same for an extractive-QA run.
QaInspection inspect_qa_run(const Store& store, int64_t run_id, const CancelFlag* cancel = nullptr);
// The runs either takes (token classification or extractive QA, an adapter saved), newest first, and a run's task.
std::vector<RunRecord> inspectable_runs(const Store& store);
std::string run_task(const Store& store, int64_t run_id);

}  // namespace ptune
