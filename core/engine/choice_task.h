#pragma once
// Multiple choice on an encoder, as transformers' BertForMultipleChoice / RobertaForMultipleChoice and the
// P-Tuning v2 code's *PrefixForMultipleChoice do it: every choice of a question is read as the pair (context,
// choice) with the deep prompt, the pooler output tanh(pooler.dense(h[CLS])) goes through dropout
// (classifier_dropout, else hidden_dropout_prob) and one shared linear layer ("classifier.weight" [1, H],
// "classifier.bias" [1]; normal(0, initializer_range), zero bias) to a score; a softmax over the question's choices
// gives their probabilities. Loss: cross-entropy of the right choice, averaged over the batch's questions. The
// batch size counts questions (each brings all its choices), as transformers' [batch, choices, length] inputs do.
// Questions may have different numbers of choices.
//
// Metrics (per evaluation): "accuracy" (questions whose highest-scored choice is the right one) and "loss".
// Adapters are saved in ptune's format only (task "choice"): PEFT has no multiple-choice task type, and a
// PREFIX_TUNING adapter without one would load into a model that ignores the prompt.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "core/engine/encoder_head.h"
#include "core/io/choice_data.h"
#include "core/text/tokenizer.h"

namespace ptune {

struct ChoiceData {
    ChoiceDataset examples;
    // Per question, per choice: token ids and type ids of the pair (context, choice), truncated like transformers'
    // truncation=True (longest_first) to max_len.
    std::vector<std::vector<std::vector<int64_t>>> ids, type_ids;
    int64_t truncated_pairs = 0;   // pairs longer than max_len (cut)
    size_t size() const { return ids.size(); }
};

ChoiceData prepare_choice(ChoiceDataset d, const Tokenizer& tok, int64_t max_len);

struct ChoicePrediction {
    std::string id;
    int64_t label = -1;                  // the gold choice (-1: unlabelled)
    int64_t predicted = 0;               // the highest-scored choice (the first of equals)
    std::vector<double> probabilities;   // softmax over the question's choices
};

class ChoiceTrainer : public EncoderHead {
public:
    // Calls model.ensure_pooler() (throws for a model without one).
    ChoiceTrainer(EncoderClassifier& model, DeepPrompt* prompt, DeltaMethod* method, const TrainOptions& opt,
                  int64_t pad_id, TrainEvents* events = nullptr, const CancelFlag* cancel = nullptr);
    TrainResult train(const ChoiceData& train, const ChoiceData* valid);
    std::map<std::string, double> evaluate(const ChoiceData& d) const;
    // Each question's choice scores (logits before the softmax), in data order.
    std::vector<std::vector<float>> scores(const ChoiceData& d) const;
    std::vector<ChoicePrediction> predict(const ChoiceData& d) const;

private:
    // The scores of questions order[begin, end), all their choices one after another, [sum of choices].
    at::Tensor batch_scores(const ChoiceData& d, const std::vector<size_t>& order, size_t begin, size_t end,
                            bool training) const;
    at::Tensor batch_loss(const ChoiceData& d, const std::vector<size_t>& order, size_t begin, size_t end,
                          bool training) const;
    double dropout_;
};

// The accuracy of predictions against their labels (unlabelled ones left out); NaN when none is labelled.
double choice_accuracy(const std::vector<ChoicePrediction>& p);

// The method's part (see HeadAdapter) and the head ("classifier.weight" [1, H], "classifier.bias" [1]).
struct ChoiceAdapter : HeadAdapter {
    int64_t max_len = 128;
};

// ptune_adapter.json ("task": "choice", the method and its options, max_len) and ptune_adapter.safetensors.
void export_choice(const std::string& dir, const ChoiceTrainer& trainer, const DeltaOptions& options, int64_t max_len,
                   const std::string& base_model, std::string* why_no_peft = nullptr);
bool is_choice_adapter_dir(const std::string& dir);
ChoiceAdapter load_choice_adapter(const std::string& dir, const ModelConfig& cfg);

// One JSON object per question: {"id", "label" (null when unlabelled), "prediction", "probabilities": [...]}.
void write_choice_predictions(const std::string& path, const std::vector<ChoicePrediction>& p);

}  // namespace ptune
