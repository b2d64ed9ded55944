#pragma once
// Causal-LM prefix training on text -> target pairs, as PEFT's causal-LM recipe does it (the seeds' "Tweet text :
// {text} Label : " task): the input is the prompt (a template with the text put in, special tokens as the
// tokenizer adds them) followed by the target's tokens and the end-of-sequence token; the loss is the
// cross-entropy of the target tokens and the eos only, each predicted from the positions before it
// (transformers' shifted causal-LM loss with the prompt labelled -100), averaged over those tokens.
// Evaluation: that loss, its perplexity (exp of the loss) and exact match: the greedy continuation of the prompt
// (with the prefix) up to the eos, decoded, equals the target (both trimmed of surrounding whitespace).
#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/engine/decoder.h"
#include "core/engine/deep_prompt.h"
#include "core/engine/events.h"
#include "core/engine/train_options.h"
#include "core/engine/trainer.h"
#include "core/io/data.h"
#include "core/text/tokenizer.h"

namespace ptune {

struct CausalLmExample {
    std::string prompt_text;       // the filled template
    std::vector<int64_t> prompt;   // the filled template's ids (special tokens included)
    std::vector<int64_t> target;   // the target's ids, then the eos (when the model has one)
    std::string target_text;
};

struct CausalLmData {
    std::vector<CausalLmExample> rows;
    size_t size() const { return rows.size(); }
};

// The template with every "{text}" replaced by `text`; an empty template is "{text}". A template without
// "{text}" is an error (it would ignore the data).
std::string fill_template(const std::string& tmpl, const std::string& text);
void check_template(const std::string& tmpl);   // throws ptune::Error saying what is wrong

// Each row's text through the template and its label name (the target column's value) as the target. A row whose
// prompt and target exceed max_len keeps its target and eos and the prompt's last tokens (its leading special
// tokens, e.g. <s>, kept in front). eos: appended to every target when given.
CausalLmData tokenize_causal_lm(const Dataset& d, const Tokenizer& tok, const std::string& tmpl, int64_t max_len,
                                std::optional<int64_t> eos);

class CausalLmPrefixTrainer {
public:
    static constexpr size_t kSamples = 4;   // validation prompts answered at each evaluation (SampleEvent)
    CausalLmPrefixTrainer(CausalLM& model, DeepPrompt& prompt, const Tokenizer& tok, const TrainOptions& opt,
                          TrainEvents* events = nullptr, const CancelFlag* cancel = nullptr);
    TrainResult train(const CausalLmData& train, const CausalLmData* valid);
    // "loss", "perplexity", "exact_match" over a data set (no dropout, no gradients).
    std::map<std::string, double> evaluate(const CausalLmData& d) const;
    // The greedy continuations (text) of the first n rows' prompts, with the prefix or without it.
    std::vector<std::string> continuations(const CausalLmData& d, size_t n, bool with_prefix) const;

private:
    at::Tensor batch_loss(const CausalLmData& d, const std::vector<size_t>& order, size_t begin, size_t end,
                          bool training, at::Tensor* token_count) const;
    CausalLM& model_;
    DeepPrompt& prompt_;
    const Tokenizer& tok_;
    TrainOptions opt_;
    TrainEvents* events_;
    const CancelFlag* cancel_;
    at::Device device_ = at::kCPU;
    std::vector<std::pair<std::string, at::Tensor>> best_state_;
};

}  // namespace ptune
