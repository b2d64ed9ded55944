#pragma once
// Token classification (NER, chunking, POS tagging) on an encoder, as transformers' *ForTokenClassification and
// the P-Tuning v2 code do it: the encoder's last hidden state of every real token (after any deep prompt or
// virtual tokens), dropout (classifier_dropout, else hidden_dropout_prob), then a linear layer to the tags
// ("classifier.weight" [tags, H], "classifier.bias"; initialised normal(0, initializer_range), zero bias). Loss:
// cross-entropy over the labelled tokens (mean; -100 elsewhere, transformers' ignore_index).
//
// Words become tokens through Tokenizer::encode_words. A word's tag goes on its first sub-token; the others are
// ignored in the loss, or (label_all_subtokens) labelled too, B-X becoming I-X on the later sub-tokens when I-X is
// a tag (transformers' run_ner.py label_all_tokens). A word's prediction is always its first sub-token's.
// A sentence longer than max_len tokens (special tokens included) is cut into windows at word boundaries, each
// word in exactly one window, so every word gets a prediction; a single word longer than a window keeps its first
// tokens. Metrics (per evaluation): "loss", "tag_accuracy" (word-level tag accuracy, seqeval's accuracy_score)
// and, for entity tag schemes, "entity_precision", "entity_recall", "entity_f1" (micro scores, seqeval's default
// mode) and "f1_<TYPE>" per entity type.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "core/engine/deep_prompt.h"
#include "core/engine/encoder.h"
#include "core/engine/encoder_head.h"
#include "core/engine/events.h"
#include "core/engine/methods.h"
#include "core/engine/peft_io.h"
#include "core/engine/train_options.h"
#include "core/engine/trainer.h"
#include "core/eval/entity_metrics.h"
#include "core/io/tagged_data.h"
#include "core/text/tokenizer.h"

namespace ptune {

struct TokenClsWindow {
    std::vector<int64_t> ids;
    std::vector<int64_t> labels;     // per token: a tag id, or -100
    std::vector<int64_t> word_of;    // per token: the sentence's word whose prediction this token gives, or -1
    size_t sentence = 0;
};

struct TokenClsData {
    std::vector<TokenClsWindow> windows;
    std::vector<std::vector<int>> gold;        // per sentence, each word's tag id
    std::vector<std::string> label_names;
    TagScheme scheme = TagScheme::IOB2;
    int64_t windowed_sentences = 0;            // sentences cut into more than one window
    int64_t cut_words = 0;                     // words longer than a window (their first tokens kept)
    size_t size() const { return windows.size(); }
};

TokenClsData tokenize_tagged(const TaggedDataset& d, const Tokenizer& tok, int64_t max_len, bool label_all_subtokens);

// Metrics from predicted tag ids per sentence (the same shape as gold).
std::map<std::string, double> tagging_metrics(const std::vector<std::vector<int>>& predicted, const TokenClsData& d);

class TokenClsTrainer : public EncoderHead {
public:
    // prompt or method (or neither: the head alone, plus the backbone when it was made trainable). The head:
    // "classifier.weight" [tags, H], "classifier.bias".
    TokenClsTrainer(EncoderClassifier& model, DeepPrompt* prompt, DeltaMethod* method, int64_t num_tags,
                    const TrainOptions& opt, int64_t pad_id, TrainEvents* events = nullptr,
                    const CancelFlag* cancel = nullptr);
    TrainResult train(const TokenClsData& train, const TokenClsData* valid);
    std::map<std::string, double> evaluate(const TokenClsData& d) const;
    // Each sentence's predicted tag ids.
    std::vector<std::vector<int>> predict(const TokenClsData& d) const;

private:
    // Logits [B, n, tags] of windows order[begin, end) and the labels [B, n].
    at::Tensor logits(const TokenClsData& d, const std::vector<size_t>& order, size_t begin, size_t end, bool training,
                      at::Tensor* labels) const;
};

// A trained token-classification adapter: the method's part (see HeadAdapter), the token head ("classifier.weight"
// [tags, H], "classifier.bias"), the tag names and scheme.
struct TokenClsAdapter : HeadAdapter {
    std::vector<std::string> label_names;
    TagScheme scheme = TagScheme::IOB2;
};

// Writes ptune's format always (ptune_adapter.json with "task": "token-cls", the method and its options, the tag
// names and scheme; ptune_adapter.safetensors with the method's tensors and head.classifier.*), and PEFT's adapter
// with task_type TOKEN_CLS beside it where PEFT can express the run (PREFIX_TUNING with the prefix in every layer:
// prompt_embeddings [P, 2 L H] and base_model.classifier.weight/bias, as PeftModelForTokenClassification saves it;
// PROMPT_TUNING, P_TUNING, LORA, IA3; modules_to_save ["classifier", "score"]), plus ptune_labels.json.
// transformers' *ForTokenClassification models have no pooler, so a checkpoint without one is no obstacle. Without
// a PEFT form, PEFT files a former run left in `dir` are removed (they would load other prompts); `why_no_peft`
// gets the reason.
void export_token_cls(const std::string& dir, const TokenClsTrainer& trainer, const DeltaOptions& options,
                      const std::vector<std::string>& label_names, TagScheme scheme, const std::string& base_model,
                      std::string* why_no_peft = nullptr);
// Whether `dir` holds a token-classification adapter (ptune_adapter.json with task token-cls, or PEFT's
// adapter_config.json with task_type TOKEN_CLS); false when it cannot tell.
bool is_token_cls_adapter_dir(const std::string& dir);
// Reads either format back (ptune's when ptune_adapter.json is there), checking the shapes against `cfg`; throws
// naming the file for an adapter of another task or model.
TokenClsAdapter load_token_cls_adapter(const std::string& dir, const ModelConfig& cfg);

// CoNLL predictions: "word gold predicted" per line (gold "O"... as the data has it; without gold, "word
// predicted"), a blank line after each sentence, "-DOCSTART- -X- O" (or "-DOCSTART- O") where a document begins.
void write_conll_predictions(const std::string& path, const TaggedDataset& d,
                             const std::vector<std::vector<int>>& predicted, bool with_gold = true);

}  // namespace ptune
