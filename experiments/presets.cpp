#include "experiments/presets.h"

#include <cstdio>

namespace ptune {

const std::vector<Preset>& presets() {
    // From the scripts' variables (bs, lr, dropout, psl, epoch) and flags; max length 128 is arguments.py's
    // default where a script passes none (the SQuAD scripts).
    // id, title, task, dataset, backbone, script, P, lr, batch, epochs, dropout, max_len, seed, text, pair
    static const std::vector<Preset> all = {
        {"conll03-roberta", "CoNLL-2003 NER, RoBERTa-large", "token-cls", "CoNLL-2003", "roberta-large",
         "run_script/run_conll03_roberta.sh", 11, 3e-2, 16, 30, 0.1, 152, 11, "", ""},
        {"conll04-bert", "CoNLL-2004 NER, BERT-large", "token-cls", "CoNLL-2004", "bert-large-uncased",
         "run_script/run_conll04_bert.sh", 128, 2e-2, 32, 40, 0.2, 128, 11, "", ""},
        {"conll04-roberta", "CoNLL-2004 NER, RoBERTa-large", "token-cls", "CoNLL-2004", "roberta-large",
         "run_script/run_conll04_roberta.sh", 144, 6e-2, 32, 80, 0.1, 128, 11, "", ""},
        {"ontonotes-bert", "OntoNotes 5.0 NER, BERT-large", "token-cls", "OntoNotes 5.0", "bert-large-uncased",
         "run_script/run_ontonotes_bert.sh", 16, 1e-2, 16, 30, 0.1, 128, 11, "", ""},
        {"ontonotes-roberta", "OntoNotes 5.0 NER, RoBERTa-large", "token-cls", "OntoNotes 5.0", "roberta-large",
         "run_script/run_ontonotes_roberta.sh", 48, 7e-3, 16, 60, 0.1, 128, 14, "", ""},
        {"squad-roberta", "SQuAD 1.1, RoBERTa-large", "qa", "SQuAD 1.1", "roberta-large",
         "run_script/run_squad_roberta.sh", 16, 5e-3, 8, 30, 0.2, 128, 11, "", ""},
        {"squad-v2-roberta", "SQuAD 2.0, RoBERTa-large", "qa", "SQuAD 2.0", "roberta-large",
         "run_script/run_squad_v2_roberta.sh", 8, 5e-3, 8, 10, 0.2, 128, 11, "", ""},
        {"copa-bert", "COPA, BERT-large", "choice", "SuperGLUE COPA", "bert-large-cased", "run_script/run_copa_bert.sh",
         16, 1e-2, 16, 80, 0.1, 128, 44, "", ""},
        {"copa-roberta", "COPA, RoBERTa-large", "choice", "SuperGLUE COPA", "roberta-large",
         "run_script/run_copa_roberta.sh", 8, 9e-3, 16, 120, 0.1, 128, 11, "", ""},
        {"boolq-bert", "BoolQ, BERT-large", "seq-cls", "SuperGLUE BoolQ", "bert-large-cased",
         "run_script/run_boolq_bert.sh", 40, 5e-3, 32, 100, 0.1, 128, 11, "question", "passage"},
        {"boolq-roberta", "BoolQ, RoBERTa-large", "seq-cls", "SuperGLUE BoolQ", "roberta-large",
         "run_script/run_boolq_roberta.sh", 8, 7e-3, 32, 100, 0.1, 128, 11, "question", "passage"},
        {"rte-bert", "RTE, BERT-large", "seq-cls", "SuperGLUE RTE", "bert-large-cased", "run_script/run_rte_bert.sh",
         20, 1e-2, 32, 60, 0.1, 128, 11, "premise", "hypothesis"},
        {"rte-roberta", "RTE, RoBERTa-large", "seq-cls", "SuperGLUE RTE", "roberta-large",
         "run_script/run_rte_roberta.sh", 128, 5e-3, 32, 100, 0.1, 128, 11, "premise", "hypothesis"},
    };
    return all;
}

const Preset& find_preset(const std::string& id) {
    std::string ids;
    for (const Preset& p : presets()) {
        if (p.id == id) return p;
        ids += (ids.empty() ? "" : ", ") + p.id;
    }
    throw Error("preset \"" + id + "\": there is none by that name (presets: " + ids + ")");
}

ExperimentSpec apply_preset(ExperimentSpec s, const Preset& p) {
    s.preset = p.id;
    s.task = p.task;
    s.method.name = "ptv2";
    s.method.prefix.prompt_len = p.prompt_len;
    s.method.prefix.layers = LayerSpec{"all"};
    s.method.prefix.mlp = false;
    s.train.lr = p.lr;
    s.train.batch_size = p.batch_size;
    s.train.epochs = p.epochs;
    s.train.steps = 0;
    s.train.hidden_dropout = p.hidden_dropout;
    s.train.max_len = p.max_len;
    s.train.seed = p.seed;
    // Evaluated each epoch (the scripts' evaluation_strategy epoch), by the task's metric.
    s.train.eval_every = 0;
    s.train.metric = p.task == "token-cls" ? "entity_f1" : p.task == "qa" ? "qa_f1" : "accuracy";
    if (p.task == "seq-cls") {
        s.data.text_column = p.text_column;
        s.data.text_pair_column = p.text_pair_column;
    } else {
        s.data.text_column.clear();
        s.data.text_pair_column.clear();
        s.data.label_column.clear();
    }
    const std::string tag = "preset:" + p.id;
    bool tagged = false;
    for (const auto& t : s.tags) tagged = tagged || t == tag;
    if (!tagged) s.tags.push_back(tag);
    char lr[32];
    std::snprintf(lr, sizeof lr, "%g", p.lr);
    const std::string source = "Preset " + p.id + ": THUDM/P-tuning-v2 " + p.script + " (commit 2873f47), " +
                               p.dataset + " on " + p.backbone + ": P=" + std::to_string(p.prompt_len) + ", lr " + lr +
                               ", batch " + std::to_string(p.batch_size) + ", " + std::to_string(p.epochs) +
                               " epochs, dropout " + std::to_string(p.hidden_dropout).substr(0, 3) + ", max length " +
                               std::to_string(p.max_len) + ", seed " + std::to_string(p.seed) + ".";
    if (s.notes.find(source) == std::string::npos) s.notes = s.notes.empty() ? source : s.notes + "\n" + source;
    return s;
}

}  // namespace ptune
