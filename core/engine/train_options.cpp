#include "core/engine/train_options.h"

#include <cmath>

#include "core/io/error.h"

namespace ptune {

void TrainOptions::validate() const {
    auto bad = [](const std::string& f, const std::string& why) { return Error("training option " + f + ": " + why); };
    if (!(lr > 0)) throw bad("lr", "must be positive");
    if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1) throw bad("betas", "must be in [0, 1)");
    if (!(eps > 0)) throw bad("eps", "must be positive");
    if (weight_decay < 0) throw bad("weight_decay", "must not be negative");
    if (schedule != "constant" && schedule != "linear") throw bad("schedule", "\"" + schedule + "\": use constant or linear");
    if (warmup_steps < 0) throw bad("warmup", "must not be negative");
    if (max_grad_norm < 0) throw bad("max_grad_norm", "must not be negative (0 turns clipping off)");
    if (hidden_dropout >= 1 || std::isnan(hidden_dropout))
        throw bad("hidden_dropout", "must be below 1 (a probability; negative: the model config's)");
    if (batch_size < 1) throw bad("batch_size", "must be at least 1");
    if (max_len < 2) throw bad("max_len", "must be at least 2");
    if (steps < 0 || epochs < 0 || (steps == 0 && epochs == 0)) throw bad("steps/epochs", "give a positive number of steps or epochs");
    if (eval_every < 0) throw bad("eval_every", "must not be negative");
    if (metric != "accuracy" && metric != "f1" && metric != "f1_pos" && metric != "mcc" && metric != "loss" &&
        metric != "exact_match" && metric != "perplexity" && metric != "entity_f1" && metric != "tag_accuracy" &&
        metric != "qa_f1")
        throw bad("metric", "\"" + metric + "\": use accuracy, f1 (macro-F1), f1_pos (binary tasks: the positive label's F1), "
                  "mcc or loss; causal LMs: exact_match, perplexity or loss; token classification: entity_f1, "
                  "tag_accuracy or loss; extractive QA: qa_f1, exact_match or loss");
    if (early_stopping_patience < 0) throw bad("early_stopping_patience", "must not be negative");
    if (threads < 0) throw bad("threads", "must not be negative");
    if (norms_every < 1) throw bad("norms_every", "must be at least 1");
    if (sync_every < 0) throw bad("sync_every", "must not be negative (0: automatic)");
}

}  // namespace ptune
