#pragma once
// Reproduction presets: the hyperparameters of the P-Tuning v2 authors' run scripts (THUDM/P-tuning-v2,
// run_script/*.sh at commit 2873f47), one per task and backbone that ptune's tasks can run: CoNLL-03/04 and
// OntoNotes NER (token-cls), SQuAD 1.1/2.0 (qa), COPA (choice), BoolQ and RTE (seq-cls on text pairs). A preset fills
// a spec's task, method (P-Tuning v2 with the script's prompt length, in every layer), learning rate, batch size,
// epochs, hidden dropout, max length and seed, and records itself (spec.preset, a tag "preset:<id>" and the
// source in the notes); the model and data stay the user's, and the backbone the authors used is named. The
// scripts' CoNLL-05/12 SRL (predicate-marked inputs), WiC and WSC (span templates) need input formats ptune does
// not have, so they have no preset.
//
// The authors' one search script (search_script/search_copa_roberta.sh) is the grid of the ready-made "grid"
// suite (experiments/suite.h): learning rate 5e-3, 7e-3, 1e-2 x prompt length 4..128 x epochs 20..120.
#include <string>
#include <vector>

#include "experiments/spec.h"

namespace ptune {

struct Preset {
    std::string id;          // "conll03-roberta"
    std::string title;       // "CoNLL-2003 NER, RoBERTa-large"
    std::string task;        // seq-cls | token-cls | qa | choice
    std::string dataset;     // what the authors trained on
    std::string backbone;    // their model ("roberta-large")
    std::string script;      // "run_script/run_conll03_roberta.sh"
    int64_t prompt_len = 0;
    double lr = 0;
    int64_t batch_size = 0;
    int64_t epochs = 0;
    double hidden_dropout = 0.1;
    int64_t max_len = 128;
    uint64_t seed = 11;
    // seq-cls on pairs: the data's text columns (SuperGLUE's field names)
    std::string text_column, text_pair_column;
};

const std::vector<Preset>& presets();
// The preset with this id, or throws naming the ids there are.
const Preset& find_preset(const std::string& id);
// `base` with the preset's settings (see above); the model, data files and device stay base's.
ExperimentSpec apply_preset(ExperimentSpec base, const Preset& p);

}  // namespace ptune
