#pragma once
// Extractive question answering on an encoder, as transformers' *ForQuestionAnswering and the P-Tuning v2 code do
// it: a linear layer on the encoder's last hidden state of every real token (after any deep prompt or virtual
// tokens), no dropout ("qa_outputs.weight" [2, H], "qa_outputs.bias"; initialised normal(0, initializer_range),
// zero bias); output 0 is the start logit, 1 the end logit. Loss: (cross-entropy of the start position + that of
// the end position) / 2 over the batch's features, padding included in the softmax as transformers leaves it.
//
// Features and answers: core/engine/qa_features.h (run_qa.py's windows, labels and post-processing). Metrics (per
// evaluation, as fractions): "loss", "exact_match" and "qa_f1" (the official SQuAD scripts' EM and F1 / 100; 2.0:
// with the null answer when its odds exceed the threshold), and for SQuAD 2.0 also "has_ans_exact_match",
// "has_ans_f1" and "no_ans_accuracy" over the answerable and unanswerable questions.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "core/engine/encoder_head.h"
#include "core/engine/qa_features.h"
#include "core/eval/squad_metrics.h"
#include "core/io/qa_data.h"

namespace ptune {

struct QaData {
    QaDataset examples;
    QaFeatures features;
    size_t size() const { return features.size(); }
};

QaData prepare_qa(QaDataset d, const Tokenizer& tok, const QaFeatureOptions& opt);

// The official scripts' scores of `answers` (one per example, decode_qa's order) against the data's gold answers.
SquadEval score_qa(const QaDataset& d, const std::vector<QaAnswerPrediction>& answers);
// The metrics above from those scores.
std::map<std::string, double> qa_metrics(const SquadEval& e, bool version2);

class QaTrainer : public EncoderHead {
public:
    QaTrainer(EncoderClassifier& model, DeepPrompt* prompt, DeltaMethod* method, const TrainOptions& opt,
              const QaDecodeOptions& decode, int64_t pad_id, TrainEvents* events = nullptr,
              const CancelFlag* cancel = nullptr);
    TrainResult train(const QaData& train, const QaData* valid);
    std::map<std::string, double> evaluate(const QaData& d) const;
    // Each feature's start and end logits (as long as its ids).
    void logits(const QaData& d, std::vector<std::vector<float>>& start, std::vector<std::vector<float>>& end) const;
    // Each example's answer (decode_qa with the trainer's decode options).
    std::vector<QaAnswerPrediction> predict(const QaData& d) const;
    const QaDecodeOptions& decode_options() const { return decode_; }

private:
    // Start and end logits [B, n] of features order[begin, end).
    std::pair<at::Tensor, at::Tensor> batch_logits(const QaData& d, const std::vector<size_t>& order, size_t begin,
                                                   size_t end, bool training) const;
    at::Tensor batch_loss(const QaData& d, const std::vector<size_t>& order, size_t begin, size_t end,
                          bool training) const;
    QaDecodeOptions decode_;
};

// A trained QA adapter: the method's part (see HeadAdapter), the span head ("qa_outputs.weight" [2, H],
// "qa_outputs.bias") and the options it was trained with.
struct QaAdapter : HeadAdapter {
    QaFeatureOptions features;                // as trained (max_len, doc_stride, max_question_len)
    QaDecodeOptions decode;                   // n_best, max_answer_len, version2, null_threshold
};

// ptune's format always (ptune_adapter.json with "task": "qa", the method and its options, the feature and
// decoding options; ptune_adapter.safetensors), and PEFT's adapter with task_type QUESTION_ANS beside it where PEFT
// can express the run (PREFIX_TUNING with the prefix in every layer: prompt_embeddings [P, 2 L H] and
// base_model.qa_outputs.weight/bias, as PeftModelForQuestionAnswering saves it; PROMPT_TUNING, P_TUNING, LORA,
// IA3; modules_to_save ["qa_outputs"]).
void export_qa(const std::string& dir, const QaTrainer& trainer, const DeltaOptions& options,
               const QaFeatureOptions& features, const std::string& base_model, std::string* why_no_peft = nullptr);
bool is_qa_adapter_dir(const std::string& dir);
// Either format; a PEFT adapter takes the default feature options and SQuAD 1.1 decoding (the caller sets
// version2 from the data).
QaAdapter load_qa_adapter(const std::string& dir, const ModelConfig& cfg);

// SQuAD's prediction files, as run_qa.py writes them: {"id": "answer text", ...} and, for 2.0, {"id": null odds}.
void write_qa_predictions(const std::string& path, const std::vector<QaAnswerPrediction>& answers);
void write_qa_null_odds(const std::string& path, const std::vector<QaAnswerPrediction>& answers);

}  // namespace ptune
