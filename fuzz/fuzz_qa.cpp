// Extractive-QA data: SQuAD JSON and JSONL (the first input byte picks the file's extension and the options), bad
// questions skipped or stopped at; then what the data promises (answers are the context's bytes at their start),
// the split by context, the features (windows inside max_len, context offsets inside the context, labels on
// context tokens or the classifier token) with a WordPiece or a byte-level tokenizer, answers decoded from
// arbitrary logits (each a substring of its context), and the SQuAD scores of the gold answers against themselves.
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <set>

#include "core/engine/qa_features.h"
#include "core/eval/squad_metrics.h"
#include "core/io/error.h"
#include "core/io/qa_data.h"
#include "core/text/tokenizer.h"
#include "fuzz_util.h"

namespace {

// A WordPiece tokenizer over printable ASCII (every character and its "##" form), or a byte-level BPE with the
// 256 byte characters and no merges: every text tokenizes, into many tokens, so windows are exercised.
std::unique_ptr<ptune::Tokenizer> make_tokenizer(bool byte_level) {
    using ptune::json;
    json j;
    j["version"] = "1.0";
    j["added_tokens"] = json::array();
    json vocab = json::object();
    auto add = [&](const std::string& t) {
        if (!vocab.contains(t)) vocab[t] = (int64_t)vocab.size();
    };
    if (!byte_level) {
        for (const char* s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]"}) add(s);
        for (char c = 33; c < 127; ++c) add(std::string(1, c)), add("##" + std::string(1, c));
        int id = 0;
        for (const char* s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]"})
            j["added_tokens"].push_back({{"id", id++}, {"content", s}, {"single_word", false}, {"lstrip", false},
                                         {"rstrip", false}, {"normalized", false}, {"special", true}});
        j["normalizer"] = {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                           {"strip_accents", nullptr}, {"lowercase", true}};
        j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
        j["model"] = {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
                      {"max_input_chars_per_word", 100}, {"vocab", vocab}};
        j["post_processor"] = {{"type", "BertProcessing"}, {"sep", {"[SEP]", 3}}, {"cls", {"[CLS]", 2}}};
    } else {
        // The byte-to-character map of GPT-2: printable Latin-1 bytes are themselves, the others U+0100 on.
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            const bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            const uint32_t cp = keep ? (uint32_t)b : 256u + (uint32_t)n++;
            std::string s;
            if (cp < 0x80) s += (char)cp;
            else s += (char)(0xC0 | (cp >> 6)), s += (char)(0x80 | (cp & 0x3F));
            add(s);
        }
        add("<s>");
        add("</s>");
        for (const char* s : {"<s>", "</s>"})
            j["added_tokens"].push_back({{"id", vocab[s]}, {"content", s}, {"single_word", false}, {"lstrip", false},
                                         {"rstrip", false}, {"normalized", false}, {"special", true}});
        j["normalizer"] = nullptr;
        j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                              {"use_regex", true}};
        j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}};
        j["post_processor"] = {{"type", "RobertaProcessing"}, {"sep", {"</s>", vocab["</s>"]}},
                               {"cls", {"<s>", vocab["<s>"]}}, {"trim_offsets", true}, {"add_prefix_space", false}};
    }
    j["decoder"] = nullptr;
    const std::string s = j.dump();
    const std::string path = fuzz::write_file(byte_level ? "bl-tokenizer.json" : "wp-tokenizer.json",
                                              reinterpret_cast<const uint8_t*>(s.data()), s.size());
    return ptune::Tokenizer::from_json_file(path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    static const std::unique_ptr<ptune::Tokenizer> wordpiece = make_tokenizer(false);
    static const std::unique_ptr<ptune::Tokenizer> byte_level = make_tokenizer(true);
    const uint8_t pick = data[0];
    static const char* const kNames[] = {"dev-v2.0.json", "train.jsonl", "squad.json", "rows.txt"};
    const std::string path = fuzz::write_file(kNames[pick & 3], data + 1, size - 1);
    ptune::QaOptions o;
    o.on_bad_row = pick & 4 ? ptune::OnBadRow::Skip : ptune::OnBadRow::Stop;
    if (pick & 8) o.max_examples = 3;
    (void)ptune::looks_like_qa_data(path);
    try {
        ptune::QaDataset d = ptune::load_qa(path, o);
        if (o.max_examples > 0 && (int64_t)d.examples.size() > o.max_examples) fuzz::fail("max_examples exceeded");
        std::set<std::string> ids;
        for (const auto& e : d.examples) {
            if (e.context < 0 || e.context >= (int64_t)d.contexts.size()) fuzz::fail("a context index outside");
            if (!ids.insert(e.id).second) fuzz::fail("a duplicate id was kept");
            if (e.answers.empty() && !d.version2) fuzz::fail("an unanswerable question in a SQuAD 1.1 set");
            const std::string& c = d.context_of(e);
            for (const auto& a : e.answers)
                if (a.start < 0 || a.start + (int64_t)a.text.size() > (int64_t)c.size() ||
                    c.compare((size_t)a.start, a.text.size(), a.text) != 0)
                    fuzz::fail("an answer is not the context's bytes at its start");
        }
        auto [train, valid] = ptune::split_qa(d, 0.5, pick);
        if (train.examples.size() + valid.examples.size() != d.examples.size()) fuzz::fail("the split lost questions");

        // Features with a small window, so long contexts are cut.
        const ptune::Tokenizer& tok = pick & 16 ? *byte_level : *wordpiece;
        ptune::QaFeatureOptions fo;
        fo.max_len = pick & 32 ? 24 : 64;
        fo.doc_stride = pick & 64 ? 4 : 100;
        fo.max_question_len = 8;
        ptune::QaFeatures f = ptune::make_qa_features(d, tok, fo);
        std::vector<std::vector<float>> s, en;
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 16777619u;
        for (const auto& x : f.features) {
            if ((int64_t)x.ids.size() > fo.max_len) fuzz::fail("a feature longer than max_len");
            if (x.ids.size() != x.type_ids.size() || x.ids.size() != x.offsets.size()) fuzz::fail("feature sizes");
            if (x.example >= d.examples.size()) fuzz::fail("a feature of no example");
            const std::string& c = d.context_of(d.examples[x.example]);
            for (const auto& [b, e] : x.offsets)
                if (b >= 0 && (b > e || e > (int64_t)c.size())) fuzz::fail("an offset outside the context");
            for (int64_t l : {x.start_label, x.end_label})
                if (l < 0 || l >= (int64_t)x.ids.size() || (l != x.cls_index && x.offsets[(size_t)l].first < 0))
                    fuzz::fail("a label outside the context tokens");
            if (x.start_label > x.end_label) fuzz::fail("a label span that ends before it starts");
            s.emplace_back();
            en.emplace_back();
            for (size_t k = 0; k < x.ids.size(); ++k) {
                h = h * 1103515245u + 12345u;
                s.back().push_back((float)((h >> 8) % 200) / 10.f - 10.f);
                h = h * 1103515245u + 12345u;
                en.back().push_back((float)((h >> 8) % 200) / 10.f - 10.f);
            }
        }
        ptune::QaDecodeOptions dopt;
        dopt.version2 = d.version2;
        dopt.n_best = 5;
        dopt.max_answer_len = 10;
        const auto answers = ptune::decode_qa(d, f, s, en, dopt);
        if (answers.size() != d.examples.size()) fuzz::fail("not one answer per question");
        for (size_t i = 0; i < answers.size(); ++i) {
            const std::string& c = d.context_of(d.examples[i]);
            const std::string& t = answers[i].text;
            if (!t.empty() && t != "empty" && c.find(t) == std::string::npos) fuzz::fail("an answer not in its context");
            double p = 0;
            for (const auto& cand : answers[i].n_best) p += cand.probability;
            if (!answers[i].n_best.empty() && std::abs(p - 1.0) > 1e-6) fuzz::fail("probabilities do not sum to 1");
        }

        // The gold answers against themselves: every question right.
        std::vector<ptune::SquadGold> gold;
        std::map<std::string, std::string> pred;
        for (const auto& e : d.examples) {
            ptune::SquadGold g{e.id, {}};
            for (const auto& a : e.answers) g.answers.push_back(a.text);
            // One that normalizes to words when there is one (SQuAD 2.0 drops gold texts that normalize to "").
            std::string t = e.answers.empty() ? "" : e.answers.front().text;
            for (const auto& a : e.answers)
                if (!ptune::squad_normalize_answer(a.text).empty()) {
                    t = a.text;
                    break;
                }
            pred[e.id] = t;
            gold.push_back(std::move(g));
        }
        const auto v = d.version2 ? ptune::SquadVersion::V2 : ptune::SquadVersion::V1;
        const ptune::SquadEval ev = ptune::evaluate_squad(gold, pred, v);
        // (SQuAD 1.1's F1 of an answer with no words is 0 even against itself, so only EM is checked there.)
        if (ev.total > 0 && (ev.exact != 100.0 || (v == ptune::SquadVersion::V2 && ev.f1 != 100.0)))
            fuzz::fail("the gold answers against themselves are not all right");
    } catch (const ptune::Error&) {
    }
    return 0;
}
