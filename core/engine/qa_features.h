#pragma once
// Extractive QA's features and answers, as transformers' run_qa.py prepares and post-processes them
// (prepare_train_features / prepare_validation_features, utils_qa.postprocess_qa_predictions), without torch.
//
// Features. The context is split into words at white space (SQuAD's own preprocessing) and tokenized once with
// Tokenizer::encode_words, whose word-relative offsets give every context token its byte range in the context
// (a byte-level BPE tokenizer then sees each word with a space before it, the first word too, where run_qa.py
// tokenizes the running text). The question is tokenized as text and cut to `max_question_len` tokens. Each
// feature is the post-processor's pair (question, a window of the context): the window holds as many context
// tokens as max_len leaves after the question and the special tokens, and the next window starts `doc_stride`
// tokens before the previous one ended (a stride that does not fit the room is made smaller), so every context
// token is in some window and neighbours overlap. Training labels: the first answer's first and last tokens when
// the window holds the whole answer, else the classifier token's position (the null answer), as run_qa.py does.
//
// Answers (postprocess_qa_predictions): for each example, over its features, the n_best highest start logits and
// the n_best highest end logits give candidate spans (start and end both context tokens, end >= start, at most
// max_answer_len tokens); a span's score is start + end logit and its text the context from the start token's
// first byte to the end token's last. The null score is the lowest classifier-token score over the features.
// The best n_best candidates (plus the null one for SQuAD 2.0, always kept) get softmax probabilities. SQuAD 1.1:
// the answer is the best candidate's text. SQuAD 2.0: the null odds are null score - (best non-null start + end
// logits); the answer is "" when they exceed null_threshold, else the best non-null text. No candidate at all
// gives "empty" (run_qa.py's placeholder).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/io/qa_data.h"
#include "core/text/tokenizer.h"

namespace ptune {

struct QaFeatureOptions {
    int64_t max_len = 384;            // tokens per feature, special tokens and question included
    int64_t doc_stride = 128;         // overlap of neighbouring windows, in tokens
    int64_t max_question_len = 64;    // question tokens kept
};

struct QaFeature {
    std::vector<int64_t> ids;
    std::vector<int64_t> type_ids;
    // Per token: its byte range in the context; (-1, -1) for the question's and the special tokens.
    std::vector<std::pair<int64_t, int64_t>> offsets;
    int64_t cls_index = 0;            // the classifier token (the null answer's position)
    int64_t start_label = 0;          // the answer's first token, or cls_index
    int64_t end_label = 0;            // its last token, or cls_index
    size_t example = 0;               // index into the QaDataset's examples
};

struct QaFeatures {
    std::vector<QaFeature> features;
    int64_t windowed_examples = 0;    // examples whose context needed more than one window
    int64_t cut_questions = 0;        // questions longer than max_question_len
    int64_t max_tokens = 0;           // the longest feature
    size_t size() const { return features.size(); }
};

// Byte ranges of the whitespace-separated words of `context` (Unicode White_Space).
std::vector<std::pair<int64_t, int64_t>> context_words(const std::string& context);

QaFeatures make_qa_features(const QaDataset& d, const Tokenizer& tok, const QaFeatureOptions& opt);

struct QaDecodeOptions {
    int64_t n_best = 20;
    int64_t max_answer_len = 30;      // tokens
    bool version2 = false;            // the null answer competes (SQuAD 2.0)
    double null_threshold = 0.0;      // SQuAD 2.0: "" when null odds exceed this
};

struct QaCandidate {
    std::string text;
    int64_t start = -1, end = -1;     // byte range in the context; -1 for the null answer
    double start_logit = 0, end_logit = 0;
    double score = 0;                 // start_logit + end_logit
    double probability = 0;
};

struct QaAnswerPrediction {
    std::string id;
    std::string text;                 // the answer ("" = no answer, SQuAD 2.0)
    int64_t start = -1, end = -1;     // its byte range in the context; -1 for "" and "empty"
    double null_odds = 0;             // SQuAD 2.0: null score - best non-null score
    std::vector<QaCandidate> n_best;  // best first
};

// Logits per feature (each as long as the feature's ids), in the order of `f.features`.
std::vector<QaAnswerPrediction> decode_qa(const QaDataset& d, const QaFeatures& f,
                                          const std::vector<std::vector<float>>& start_logits,
                                          const std::vector<std::vector<float>>& end_logits,
                                          const QaDecodeOptions& opt);

}  // namespace ptune
