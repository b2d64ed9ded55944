#include "core/engine/builtin.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "core/io/json_util.h"
#include "core/io/safetensors.h"

namespace ptune {

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// Random numbers that are the same with every standard library: std::mt19937_64's output sequence is fixed by
// the standard, the distributions are not, so ranges, shuffles and normals are done here.
class Rng {
public:
    explicit Rng(uint64_t seed) : g_(seed) {}

    // Uniform in [0, n), n > 0, without modulo bias: draws below 2^64 mod n are rejected.
    uint64_t below(uint64_t n) {
        const uint64_t threshold = (0 - n) % n;
        uint64_t x = g_();
        while (x < threshold) x = g_();
        return x % n;
    }
    // True with probability num / den.
    bool chance(uint64_t num, uint64_t den) { return below(den) < num; }
    template <class T>
    const T& pick(const std::vector<T>& v) {
        return v[below(v.size())];
    }
    template <class T>
    void shuffle(std::vector<T>& v) {  // Fisher-Yates
        for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
    }
    // Uniform in [0, 1) with 53 random bits.
    double uniform01() { return static_cast<double>(g_() >> 11) * 0x1.0p-53; }
    // Standard normal by Box-Muller; the second value of each pair is kept for the next call.
    double normal() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        const double u1 = 1.0 - uniform01();  // (0, 1]: log is finite
        const double u2 = uniform01();
        const double r = std::sqrt(-2.0 * std::log(u1));
        const double a = 2.0 * 3.14159265358979323846 * u2;
        spare_ = r * std::sin(a);
        has_spare_ = true;
        return r * std::cos(a);
    }

private:
    std::mt19937_64 g_;
    double spare_ = 0;
    bool has_spare_ = false;
};

// ---------------------------------------------------------------------------------------------
// The data set's word lists. Adjectives and verbs carry the sentiment; everything else is neutral.
using Words = std::vector<std::string>;

const Words kPosAdj = {"good",      "great",     "excellent", "wonderful", "amazing",    "fantastic", "superb",
                       "lovely",    "brilliant", "impressive", "pleasant", "outstanding", "terrific",  "solid",
                       "enjoyable", "perfect",   "nice",      "charming",  "delightful", "fun"};
const Words kNegAdj = {"bad",      "terrible", "awful",     "poor",      "disappointing", "boring",     "dull",
                       "horrible", "mediocre", "weak",      "annoying",  "dreadful",      "lousy",      "bland",
                       "tedious",  "sloppy",   "unpleasant", "pathetic", "forgettable",   "underwhelming"};
const Words kIntensifiers = {"very ",      "really ", "quite ",  "truly ",  "extremely ",
                             "incredibly ", "pretty ", "so ",     "rather ", "absolutely "};
const Words kVerbIntensifiers = {"really ", "absolutely ", "truly ", "honestly "};
const Words kPosVerb = {"loved", "enjoyed", "liked", "adored", "appreciated", "could not get enough of"};
const Words kNegVerb = {"hated", "disliked", "detested", "could not stand", "was bored by", "regretted"};
const Words kBe = {"was", "is", "felt", "seemed"};
const Words kNotBe = {"was not", "is not", "wasn't", "isn't", "did not feel", "never felt", "didn't seem"};
const Words kNegAux = {"did not", "didn't", "do not", "don't"};
const Words kPosBaseVerb = {"like", "enjoy", "love", "care for"};  // negated: negative
const Words kNegBaseVerb = {"hate", "dislike", "mind"};           // negated: positive
const Words kDet = {"the", "this"};
const Words kOpeners = {"honestly , ", "overall , ",   "to be fair , ", "in the end , ", "after a week , ",
                        "for the price , ", "well , ", "so , ",         "in short , ",   "my verdict : ",
                        "update : ",       "first impressions : ", "i have to say , ", "as expected , "};

struct Domain {
    Words items;    // what is reviewed
    Words aspects;  // a part of it (singular)
    Words again;    // "buy it again" ...
    Words filler;   // neutral sentences
    std::string act;  // "regret buying the ..."
};

const std::vector<Domain> kDomains = {
    {{"movie", "film", "show", "documentary", "sequel", "series", "cartoon", "thriller", "comedy", "musical"},
     {"acting", "plot", "ending", "soundtrack", "script", "pacing", "dialogue", "cast", "story", "humor", "direction",
      "music"},
     {"watch it again", "see it again", "watch the sequel"},
     {"we saw it on a sunday .", "it runs about two hours .", "my cousin picked it .", "it came out last year .",
      "we watched it at home .", "the cinema was half empty ."},
     "watching"},
    {{"phone", "laptop", "blender", "kettle", "jacket", "backpack", "headset", "camera", "keyboard", "vacuum", "lamp",
      "charger", "mattress", "umbrella"},
     {"battery", "screen", "price", "design", "fabric", "zipper", "sound", "delivery", "packaging", "manual", "handle",
      "display", "material", "fit"},
     {"buy it again", "order another one", "buy from this brand again"},
     {"it arrived on tuesday .", "i bought it last month .", "it came in a blue box .", "my brother has the same one .",
      "i use it every day .", "it was a gift for my mother ."},
     "buying"},
    {{"restaurant", "cafe", "diner", "bakery", "bistro", "pizzeria", "noodle bar", "steakhouse"},
     {"food", "service", "pasta", "soup", "coffee", "dessert", "staff", "menu", "bread", "atmosphere", "waiter",
      "salad"},
     {"go back", "eat there again", "book a table again"},
     {"we went there for lunch .", "it is near the station .", "we sat by the window .", "we booked a table for four .",
      "it was a rainy evening .", "we paid about 40 dollars ."},
     "visiting"},
    {{"book", "novel", "memoir", "cookbook", "comic", "audiobook", "biography", "textbook"},
     {"writing", "prose", "cover", "plot", "translation", "narrator", "ending", "pacing", "artwork", "story"},
     {"read it again", "buy the sequel", "read more by this author"},
     {"i read it on the train .", "it has about 300 pages .", "a friend lent it to me .", "i finished it in two days .",
      "it was on a sale table .", "my book club chose it ."},
     "reading"},
};

const std::string& adjective(Rng& r, bool positive) { return r.pick(positive ? kPosAdj : kNegAdj); }
std::string intensifier(Rng& r) { return r.chance(1, 3) ? r.pick(kIntensifiers) : std::string(); }

// One review sentence whose label is `positive`. Every template is chosen by weight; openers and filler
// sentences are added at random and carry no sentiment.
std::string review(Rng& r, bool positive) {
    const Domain& d = r.pick(kDomains);
    const std::string item = r.pick(kDet) + " " + r.pick(d.items);
    const std::string aspect = "the " + r.pick(d.aspects);
    auto other_aspect = [&](const std::string& not_this) {
        std::string a;
        do a = "the " + r.pick(d.aspects);
        while (a == not_this);
        return a;
    };
    const bool p = positive;
    std::string s;
    // Template weights out of 80: plain sentiment 65 (adjective 36, verb 12, recommending 8, rating 6,
    // agreeing clauses 3), negation 10 (adjective 8, verb 1, "nothing" 1), contrast 5.
    const uint64_t t = r.below(80);
    if (t < 20) {  // adjective about the item
        s = item + " " + r.pick(kBe) + " " + intensifier(r) + adjective(r, p) + " .";
    } else if (t < 36) {  // adjective about an aspect
        s = aspect + " " + r.pick(kBe) + " " + intensifier(r) + adjective(r, p) + " .";
    } else if (t < 48) {  // liking or disliking verb
        std::string adv = r.chance(1, 4) ? r.pick(kVerbIntensifiers) : std::string();
        s = "i " + adv + r.pick(p ? kPosVerb : kNegVerb) + " " + item + " .";
    } else if (t < 56) {  // negated adjective: the opposite adjective
        s = (r.chance(1, 2) ? item : aspect) + " " + r.pick(kNotBe) + " " + adjective(r, !p) + " .";
    } else if (t < 57) {  // negated verb
        if (!p) {
            s = "i " + r.pick(kNegAux) + " " + r.pick(kPosBaseVerb) + " " + item + " .";
        } else if (r.chance(2, 3)) {
            s = "i " + r.pick(kNegAux) + " " + r.pick(kNegBaseVerb) + " " + item + " .";
        } else {
            s = "i " + std::string(r.chance(1, 2) ? "do not" : "don't") + " regret " + d.act + " " + item + " .";
        }
    } else if (t < 58) {  // "nothing" / "no complaints"
        if (r.chance(1, 2)) {
            s = "there was nothing " + adjective(r, !p) + " about " + item + " .";
        } else {
            s = p ? "i have no complaints about " + aspect + " ." : "i have nothing nice to say about " + aspect + " .";
        }
    } else if (t < 62) {  // contrast: the clause after "but" decides
        std::string a2 = other_aspect(aspect);
        s = aspect + " " + r.pick(kBe) + " " + adjective(r, !p) + " , but " + a2 + " " + r.pick(kBe) + " " +
            intensifier(r) + adjective(r, p) + " .";
    } else if (t < 63) {  // contrast: the main clause after "although" decides
        s = "although " + aspect + " " + r.pick(kBe) + " " + adjective(r, !p) + " , " + item + " " + r.pick(kBe) + " " +
            intensifier(r) + adjective(r, p) + " .";
    } else if (t < 66) {  // two agreeing clauses
        std::string a2 = other_aspect(aspect);
        s = aspect + " " + r.pick(kBe) + " " + adjective(r, p) + " and " + a2 + " " + r.pick(kBe) + " " +
            intensifier(r) + adjective(r, p) + " .";
    } else if (t < 74) {  // (not) recommending, (never) again
        const std::string target = r.chance(1, 2) ? "recommend " + item + " to anyone" : r.pick(d.again);
        if (p) {
            static const Words pos_modal = {"i would ", "i will definitely ", "i can't wait to ", "i would happily "};
            s = r.pick(pos_modal) + target + " .";
        } else {
            static const Words neg_modal = {"i would not ", "i wouldn't ", "i will never ", "i would never "};
            s = r.pick(neg_modal) + target + " .";
        }
    } else {  // a rating out of 10: 1-4 negative, 7-10 positive
        const uint64_t n = p ? 7 + r.below(4) : 1 + r.below(4);
        s = r.chance(1, 2) ? "i give " + item + " " + std::to_string(n) + " out of 10 ."
                           : std::to_string(n) + " out of 10 for " + item + " .";
    }
    if (r.chance(3, 20)) s = r.pick(kOpeners) + s;
    if (r.chance(1, 10)) {
        if (r.chance(1, 2)) s = r.pick(d.filler) + " " + s;
        else s = s + " " + r.pick(d.filler);
    }
    return s;
}

struct Row {
    std::string sentence;
    bool positive = false;
};

// `n` rows, exactly half per label in a shuffled order; sentences already in `seen` are drawn again.
std::vector<Row> make_rows(Rng& r, int n, std::set<std::string>& seen) {
    std::vector<int> labels(n);
    for (int i = 0; i < n; ++i) labels[i] = i < n / 2 ? 0 : 1;
    r.shuffle(labels);
    std::vector<Row> rows;
    rows.reserve(n);
    for (int i = 0; i < n; ++i) {
        Row row;
        row.positive = labels[i] == 1;
        for (int attempt = 0;; ++attempt) {
            if (attempt == 10000) throw Error("make_builtin_dataset: cannot draw a new sentence (word lists too small)");
            row.sentence = review(r, row.positive);
            if (seen.insert(row.sentence).second) break;
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

void write_rows(const std::string& path, const std::vector<Row>& rows) {
    std::string text = "sentence\tlabel\n";
    for (const auto& row : rows) text += row.sentence + "\t" + (row.positive ? "positive" : "negative") + "\n";
    write_text_file(path, text);
}

// ---------------------------------------------------------------------------------------------
// Corpus reading and BERT-style splitting.

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::string cur;
    for (char c : text) {
        if (c == '\n') {
            if (!cur.empty() && cur.back() == '\r') cur.pop_back();
            lines.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) lines.push_back(cur);
    return lines;
}

std::vector<std::string> split_tabs(const std::string& line) {
    std::vector<std::string> cells;
    size_t start = 0;
    while (true) {
        size_t tab = line.find('\t', start);
        cells.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
        if (tab == std::string::npos) break;
        start = tab + 1;
    }
    return cells;
}

// The "sentence" column of a GLUE-style TSV with a header.
std::vector<std::string> read_sentences(const std::string& path) {
    auto lines = split_lines(read_text_file(path));
    if (lines.empty()) throw Error(path + ": empty file (expected a header with a \"sentence\" column)");
    auto header = split_tabs(lines[0]);
    size_t col = header.size();
    for (size_t i = 0; i < header.size(); ++i)
        if (header[i] == "sentence") col = i;
    if (col == header.size()) throw Error(path + ": no \"sentence\" column in the header");
    std::vector<std::string> out;
    for (size_t l = 1; l < lines.size(); ++l) {
        if (lines[l].empty()) continue;
        auto cells = split_tabs(lines[l]);
        if (cells.size() != header.size()) {
            throw Error(path + ":" + std::to_string(l + 1) + ": expected " + std::to_string(header.size()) +
                        " fields, got " + std::to_string(cells.size()));
        }
        out.push_back(cells[col]);
    }
    return out;
}

// BertNormalizer (clean_text, lowercase) and BertPreTokenizer restricted to ASCII: control characters are
// dropped, whitespace separates words, and each punctuation character (every printable ASCII character that
// is neither a letter nor a digit) is a word of its own.
void bert_words(const std::string& text, const std::string& where, std::set<std::string>& words) {
    std::string cur;
    auto flush = [&] {
        if (!cur.empty()) words.insert(cur);
        cur.clear();
    };
    for (unsigned char c : text) {
        if (c >= 0x80) throw Error(where + ": the built-in vocabulary is made from ASCII text only");
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
            flush();
        } else if (c < 0x20 || c == 0x7f) {
            continue;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            cur += static_cast<char>(c);
        } else if (c >= 'A' && c <= 'Z') {
            cur += static_cast<char>(c - 'A' + 'a');
        } else {
            flush();
            words.insert(std::string(1, static_cast<char>(c)));
        }
    }
    flush();
}

// ---------------------------------------------------------------------------------------------
// The model.

constexpr int64_t kHidden = 64, kLayers = 4, kHeads = 4, kIntermediate = 256, kMaxPositions = 160, kTypes = 2;
constexpr int64_t kLabels = 2;
// initializer_range: 1/sqrt(hidden) instead of BERT's usual 0.02, and no dropout. With 0.02 every layer of a
// 64-wide random BERT is nearly the identity, the [CLS] vector hardly depends on the input, and dropout's noise
// drowns what does: prompt tuning on it leaves the loss at ln 2. See the README this file writes.
constexpr double kInitRange = 0.125;
constexpr double kDropout = 0.0;
const std::vector<std::string> kSpecials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
const std::vector<std::string> kLabelNames = {"negative", "positive"};

// Tensors in the order transformers creates and initialises BertForSequenceClassification's modules.
class Weights {
public:
    explicit Weights(uint64_t seed) : rng_(seed) {}

    // normal(0, std), as nn.Linear / nn.Embedding weights; `zero_row` >= 0 is zeroed after drawing (padding_idx).
    void normal(const std::string& name, std::vector<int64_t> shape, int64_t zero_row = -1, double std = kInitRange) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        std::vector<float> v(n);
        for (auto& x : v) x = static_cast<float>(std * rng_.normal());
        if (zero_row >= 0) {
            const int64_t row = n / shape[0];
            std::fill(v.begin() + zero_row * row, v.begin() + (zero_row + 1) * row, 0.0f);
        }
        add(name, std::move(shape), v);
    }
    void constant(const std::string& name, std::vector<int64_t> shape, float value) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        add(name, std::move(shape), std::vector<float>(n, value));
    }
    void linear(const std::string& name, int64_t out, int64_t in) {
        normal(name + ".weight", {out, in});
        constant(name + ".bias", {out}, 0.0f);
    }
    void layer_norm(const std::string& name, int64_t d) {
        constant(name + ".weight", {d}, 1.0f);
        constant(name + ".bias", {d}, 0.0f);
    }
    const std::vector<st::TensorData>& tensors() const { return tensors_; }
    int64_t count() const { return count_; }

private:
    void add(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v) {
        st::TensorData t;
        t.name = name;
        t.dtype = st::DType::F32;
        t.shape = std::move(shape);
        t.bytes.resize(v.size() * 4);
        for (size_t i = 0; i < v.size(); ++i) {  // little-endian, whatever the host
            uint32_t bits;
            std::memcpy(&bits, &v[i], 4);
            for (int b = 0; b < 4; ++b) t.bytes[4 * i + b] = static_cast<uint8_t>(bits >> (8 * b));
        }
        count_ += static_cast<int64_t>(v.size());
        tensors_.push_back(std::move(t));
    }
    Rng rng_;
    std::vector<st::TensorData> tensors_;
    int64_t count_ = 0;
};

json model_config(int64_t vocab_size) {
    json id2label = json::object(), label2id = json::object();
    for (size_t i = 0; i < kLabelNames.size(); ++i) {
        id2label[std::to_string(i)] = kLabelNames[i];
        label2id[kLabelNames[i]] = i;
    }
    return json{{"architectures", {"BertForSequenceClassification"}},
                {"attention_probs_dropout_prob", kDropout},
                {"classifier_dropout", nullptr},
                {"hidden_act", "gelu"},
                {"hidden_dropout_prob", kDropout},
                {"hidden_size", kHidden},
                {"id2label", id2label},
                {"initializer_range", kInitRange},
                {"intermediate_size", kIntermediate},
                {"label2id", label2id},
                {"layer_norm_eps", 1e-12},
                {"max_position_embeddings", kMaxPositions},
                {"model_type", "bert"},
                {"num_attention_heads", kHeads},
                {"num_hidden_layers", kLayers},
                {"pad_token_id", 0},
                {"position_embedding_type", "absolute"},
                {"type_vocab_size", kTypes},
                {"use_cache", true},
                {"vocab_size", vocab_size}};
}

// The built-in decoder (Llama-shaped): the encoder's width and depth, 2 key/value heads, a gated MLP, tied
// embeddings; weights drawn with a larger spread (2/sqrt(hidden)) than the encoder's, measured to give a prefix
// something to steer on this task (see its README section).
constexpr int64_t kDecHeads = 4, kDecKvHeads = 2, kDecHeadDim = 16, kDecIntermediate = 128, kDecMaxPositions = 256;
constexpr double kDecInitRange = 0.25;

json decoder_config(int64_t vocab_size) {
    return json{{"architectures", {"LlamaForCausalLM"}},
                {"attention_bias", false},
                {"attention_dropout", 0.0},
                {"bos_token_id", 2},
                {"eos_token_id", 3},
                {"head_dim", kDecHeadDim},
                {"hidden_act", "silu"},
                {"hidden_size", kHidden},
                {"initializer_range", kDecInitRange},
                {"intermediate_size", kDecIntermediate},
                {"max_position_embeddings", kDecMaxPositions},
                {"mlp_bias", false},
                {"model_type", "llama"},
                {"num_attention_heads", kDecHeads},
                {"num_hidden_layers", kLayers},
                {"num_key_value_heads", kDecKvHeads},
                {"pad_token_id", 0},
                {"rms_norm_eps", 1e-6},
                {"rope_theta", 10000.0},
                {"tie_word_embeddings", true},
                {"torch_dtype", "float32"},
                {"vocab_size", vocab_size}};
}

// tokenizer.json in the layout and key order the `tokenizers` library writes.
// decoder: the built-in decoder's post-processor, [CLS] (its beginning-of-sequence token) before the text only.
std::string tokenizer_json(const std::vector<std::string>& vocab, bool decoder = false) {
    using ojson = nlohmann::ordered_json;
    ojson added = ojson::array();
    for (size_t i = 0; i < kSpecials.size(); ++i) {
        added.push_back(ojson{{"id", i},
                              {"content", kSpecials[i]},
                              {"single_word", false},
                              {"lstrip", false},
                              {"rstrip", false},
                              {"normalized", false},
                              {"special", true}});
    }
    ojson v = ojson::object();
    for (size_t i = 0; i < vocab.size(); ++i) v[vocab[i]] = i;
    ojson j;
    j["version"] = "1.0";
    j["truncation"] = nullptr;
    j["padding"] = nullptr;
    j["added_tokens"] = added;
    j["normalizer"] = ojson{{"type", "BertNormalizer"},
                            {"clean_text", true},
                            {"handle_chinese_chars", true},
                            {"strip_accents", nullptr},
                            {"lowercase", true}};
    j["pre_tokenizer"] = ojson{{"type", "BertPreTokenizer"}};
    if (decoder) {
        auto special = [](const char* id) { return ojson{{"SpecialToken", {{"id", id}, {"type_id", 0}}}}; };
        auto seq = [](const char* id, int type) { return ojson{{"Sequence", {{"id", id}, {"type_id", type}}}}; };
        j["post_processor"] = ojson{
            {"type", "TemplateProcessing"},
            {"single", ojson::array({special("[CLS]"), seq("A", 0)})},
            {"pair", ojson::array({special("[CLS]"), seq("A", 0), seq("B", 1)})},
            {"special_tokens", {{"[CLS]", {{"id", "[CLS]"}, {"ids", {2}}, {"tokens", {"[CLS]"}}}}}}};
    } else {
        j["post_processor"] = ojson{{"type", "BertProcessing"}, {"sep", {"[SEP]", 3}}, {"cls", {"[CLS]", 2}}};
    }
    j["decoder"] = ojson{{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
    j["model"] = ojson{{"type", "WordPiece"},
                       {"unk_token", "[UNK]"},
                       {"continuing_subword_prefix", "##"},
                       {"max_input_chars_per_word", 100},
                       {"vocab", v}};
    return j.dump(2) + "\n";
}

json tokenizer_config() {
    return json{{"clean_up_tokenization_spaces", true},
                {"cls_token", "[CLS]"},
                {"do_lower_case", true},
                {"mask_token", "[MASK]"},
                {"model_max_length", kMaxPositions},
                {"pad_token", "[PAD]"},
                {"sep_token", "[SEP]"},
                {"strip_accents", nullptr},
                {"tokenize_chinese_chars", true},
                {"tokenizer_class", "BertTokenizer"},
                {"unk_token", "[UNK]"}};
}

// ---------------------------------------------------------------------------------------------
// Facts about the written files, for the README.

struct DataStats {
    int64_t rows = 0, positive = 0, negative = 0;
    int64_t negation = 0, negation_positive = 0;  // rows with not / n't / never / nothing / no
    int64_t contrast = 0;                         // rows with "but" or "although"
};

DataStats data_stats(const std::string& path) {
    DataStats s;
    auto lines = split_lines(read_text_file(path));
    for (size_t l = 1; l < lines.size(); ++l) {
        auto cells = split_tabs(lines[l]);
        if (cells.size() != 2) continue;
        const bool pos = cells[1] == "positive";
        ++s.rows;
        ++(pos ? s.positive : s.negative);
        std::set<std::string> w;
        bert_words(cells[0], path, w);
        const std::string padded = " " + cells[0] + " ";
        const bool neg = w.count("not") || w.count("never") || w.count("nothing") || w.count("no") ||
                         padded.find("n't ") != std::string::npos;
        if (neg) {
            ++s.negation;
            if (pos) ++s.negation_positive;
        }
        if (w.count("but") || w.count("although")) ++s.contrast;
    }
    return s;
}

std::string file_size_text(const fs::path& p) {
    const auto n = fs::file_size(p);
    std::ostringstream o;
    o << n << " bytes";
    if (n >= 10 * 1024) o << " (" << (n + 512) / 1024 << " KiB)";
    return o.str();
}

std::string readme(const std::string& dir, uint64_t seed, int64_t vocab_size, int64_t params) {
    const DataStats tr = data_stats(dir + "/data/train.tsv"), va = data_stats(dir + "/data/valid.tsv");
    const int64_t head = kHidden * kLabels + kLabels, pooler = kHidden * kHidden + kHidden;
    std::ostringstream o;
    o << "# The built-in experiment\n\n"
      << "`ptune train` with no model and no data trains this: a small synthetic sentiment task and a small,\n"
      << "randomly initialised, untrained BERT. Both were made by ptune's own code (`make_builtin` in\n"
      << "`core/engine/builtin.cpp`, seed " << seed << "), so that the CLI and the workbench work offline on a\n"
      << "fresh machine without downloading anything, and a P-Tuning v2 run on it takes well under a minute on\n"
      << "two CPU cores. It is a smoke test and a demonstration, not a benchmark: a score on it says nothing\n"
      << "about real language or about what prompts achieve on a pretrained model.\n\n"
      << "## Data (`data/`)\n\n"
      << "- `train.tsv`: " << tr.rows << " rows (" << tr.negative << " negative, " << tr.positive
      << " positive); `valid.tsv`: " << va.rows << " rows (" << va.negative << " negative, " << va.positive
      << " positive).\n"
      << "  GLUE-style TSV with the header `sentence<TAB>label`; labels `negative` and `positive`.\n"
      << "- Every sentence is synthetic: a short, lowercased review of a film, a product, a restaurant or a book,\n"
      << "  assembled from templates and word lists in `builtin.cpp` (20 positive and 20 negative adjectives,\n"
      << "  liking and disliking verbs, intensifiers, 8 to 14 items and 10 to 14 aspects per domain). For each\n"
      << "  row the label is fixed first (exactly half of each file per label, in shuffled order), then a template\n"
      << "  that expresses it is drawn with these weights:\n"
      << "  - 45%: an adjective about the item or one aspect of it, with an intensifier one time in three\n"
      << "    (\"the soundtrack was really dreadful .\");\n"
      << "  - 15%: a liking or disliking verb (\"i adored this novel .\");\n"
      << "  - 10%: recommending or buying (watching, reading, visiting) again, or not, or never\n"
      << "    (\"i wouldn't recommend the blender to anyone .\");\n"
      << "  - 7.5%: a rating out of 10 (1 to 4 negative, 7 to 10 positive);\n"
      << "  - 3.75%: two clauses that agree;\n"
      << "  - 12.5%: negation that flips an adjective or a verb (\"the plot wasn't boring .\",\n"
      << "    \"i did not enjoy the film .\", \"there was nothing pleasant about the diner .\");\n"
      << "  - 6.25%: contrast, where the clause after \"but\" (or the main clause after \"although\") decides.\n"
      << "  A neutral opener (\"to be fair ,\") is put in front of 15% of the rows and a neutral filler sentence\n"
      << "  (\"we sat by the window .\") before or after 10%, so the sentiment word is not always in the same place.\n"
      << "- " << tr.negation << " training rows (" << tr.negation_positive << " of them positive) and " << va.negation
      << " validation rows contain a\n"
      << "  negation word (not, n't, never, nothing, no); " << tr.contrast << " training rows and " << va.contrast
      << " validation rows a contrast\n"
      << "  (but, although).\n"
      << "- No sentence occurs twice, within or across the two files.\n"
      << "- Random choices use std::mt19937_64 with ptune's own integer-range helper and Fisher-Yates shuffle\n"
      << "  (not the standard library's distributions, which differ between implementations), so the files are\n"
      << "  the same on every platform.\n"
      << "- The task is easy by design and its labels follow fixed rules with no noise; most rows are decided by\n"
      << "  one sentiment word. Real sentiment data is much harder.\n\n"
      << "## Model (`model/`)\n\n"
      << "- BERT (`model_type` \"bert\", `BertForSequenceClassification`): " << kLayers << " layers, hidden size "
      << kHidden << ", " << kHeads << " attention heads,\n"
      << "  intermediate size " << kIntermediate << " (GELU), " << kMaxPositions << " position embeddings, " << kTypes
      << " token types, no dropout;\n"
      << "  labels 0 = negative, 1 = positive.\n"
      << "- " << params << " parameters: " << params - pooler - head << " in the embeddings and layers, " << pooler
      << " in the pooler, " << head << " in the classifier.\n"
      << "- Vocabulary: " << vocab_size << " tokens: [PAD] [UNK] [CLS] [SEP] [MASK], then every word and punctuation\n"
      << "  mark of the two data files, lowercased and split as BertPreTokenizer splits, in byte order. Whole words\n"
      << "  only, without `##` pieces: a word outside the data set becomes [UNK].\n"
      << "- **Randomly initialised and untrained.** It has learned nothing: whatever a run achieves comes from\n"
      << "  the deep prompts and the classification head trained on top of frozen random features. The weights\n"
      << "  are drawn as transformers initialises BERT (normal(0, initializer_range) for every Linear and\n"
      << "  Embedding weight, zero biases, LayerNorm weight 1 and bias 0, the [PAD] row of the word embeddings\n"
      << "  zero), from std::mt19937_64 and a Box-Muller transform rather than LibTorch's generator, so the file is\n"
      << "  byte-identical whatever the LibTorch version.\n"
      << "- Two settings differ from a pretrained BERT's config, on purpose: `initializer_range` is " << kInitRange
      << "\n"
      << "  (1/sqrt(hidden size)) instead of 0.02, and dropout is 0 instead of 0.1. With 0.02, every layer of a\n"
      << "  random 64-wide BERT is close to the identity: the [CLS] vector hardly depends on the sentence (its\n"
      << "  spread across sentences is about 1% of its length), dropout's noise drowns that, and prompt tuning\n"
      << "  leaves the loss at ln 2 = 0.693 even on a one-template task. With 1/sqrt(hidden) each Linear keeps\n"
      << "  the scale of its input, attention mixes the tokens, and the prompts have something to steer.\n\n"
      << "## Training on it\n\n"
      << "Prompts learn slowly on frozen random features, so this experiment wants a higher learning rate than\n"
      << "a pretrained model. Measured when these files were made, with ptune's trainer (16 prompts in every\n"
      << "layer, batch 16, AdamW with linear decay, no warm-up) on two CPU cores: learning rate 2e-2 for 5 epochs\n"
      << "(625 steps, about 20 s) takes the training loss from about 0.70 to 0.38-0.57 and validation accuracy\n"
      << "to 72-79% over four seeds; learning rate 5e-3 for 3 epochs barely moves it (0.69 to 0.68).\n\n"
      << "## Decoder (`decoder/`)\n\n"
      << "`--model builtin-decoder`: a causal LM for trying prefix training on causal language modelling offline\n"
      << "(`ptune train --model builtin-decoder --task causal-lm --template \"Review : {text} Sentiment : \"`, the\n"
      << "label column as the target to generate).\n\n"
      << "- Llama (`model_type` \"llama\", `LlamaForCausalLM`): " << kLayers << " layers, hidden size " << kHidden
      << ", " << kDecHeads << " query heads and " << kDecKvHeads << " key/value heads of " << kDecHeadDim << ",\n"
      << "  a gated SiLU MLP of " << kDecIntermediate << ", RMSNorm, rotary positions (theta 10000), tied embeddings; "
      << builtin_decoder_param_count(vocab_size + 4) << " parameters.\n"
      << "- Vocabulary: the encoder's, plus the two label words (`negative`, `positive`), so that the targets are\n"
      << "  single tokens, and the template's words (`review`, `sentiment`); `[CLS]` begins every sequence (`bos_token_id` 2) and `[SEP]` ends it (`eos_token_id` 3).\n"
      << "- **Randomly initialised and untrained**, drawn like the encoder (seed + 1) with every weight matrix\n"
      << "  normal(0, " << kDecInitRange << "), RMSNorm weights 1: twice the encoder's spread. In a prototype of the same\n"
      << "  shape (LibTorch's generator, 1920 training rows, a prefix of 16 in every layer, learning rate 0.1) the\n"
      << "  encoder's 0.125 reached 58% exact match after 5 epochs, 0.25 reached 76% after 10.\n"
      << "- Measured on these files with `ptune train --task causal-lm` (the built-in causal-LM experiment: the\n"
      << "  template \"Review : {text} Sentiment : \", the label word as the target, a prefix of 64 in every layer,\n"
      << "  learning rate 0.1, 10 epochs, batch 16; about 35 s on two CPU cores): exact match on the 400 validation\n"
      << "  rows 0.845 (chance: 0.5), loss per target token 0.19. With a prefix of 16: 0.70; learning rate 0.3: 0.80.\n"
      << "  The loss falls fast (from 7.7 to 0.35 within the first 50 steps) as the prefix learns to answer with a label\n"
      << "  word and [SEP]; which label follows the sentence is learned slowly, on frozen random features.\n\n"
      << "## Files\n\n";
    for (const char* f : {"data/train.tsv", "data/valid.tsv", "model/config.json", "model/model.safetensors",
                          "model/tokenizer.json", "model/tokenizer_config.json", "model/vocab.txt",
                          "decoder/config.json", "decoder/generation_config.json", "decoder/model.safetensors",
                          "decoder/tokenizer.json", "decoder/tokenizer_config.json"}) {
        o << "- `" << f << "`: " << file_size_text(fs::path(dir) / f) << "\n";
    }
    o << "\n`tokenizer.json` is WordPiece with BertNormalizer (lowercase), BertPreTokenizer and BertProcessing,\n"
      << "like a Hugging Face BERT tokenizer; `vocab.txt` holds the same vocabulary one token a line.\n\n"
      << "## Regenerating\n\n"
      << "`ptune::make_builtin(dir, " << seed << ")` writes these files again byte for byte;\n"
      << "`tests/tst_builtin.cpp` checks that it does.\n";
    return o.str();
}

}  // namespace

int64_t builtin_param_count(int64_t vocab_size) {
    const int64_t H = kHidden, I = kIntermediate;
    const int64_t embeddings = (vocab_size + kMaxPositions + kTypes) * H + 2 * H;
    const int64_t layer = 4 * (H * H + H) + 2 * H + (H * I + I) + (I * H + H) + 2 * H;
    return embeddings + kLayers * layer + (H * H + H) + (H * kLabels + kLabels);
}

void make_builtin_dataset(const std::string& dir, uint64_t seed) {
    fs::create_directories(dir);
    Rng r(seed);
    std::set<std::string> seen;
    auto train = make_rows(r, kBuiltinTrainRows, seen);
    auto valid = make_rows(r, kBuiltinValidRows, seen);
    write_rows((fs::path(dir) / "train.tsv").string(), train);
    write_rows((fs::path(dir) / "valid.tsv").string(), valid);
}

void make_builtin_model(const std::string& dir, const std::string& corpus_tsv, uint64_t seed) {
    make_builtin_model(dir, std::vector<std::string>{corpus_tsv}, seed);
}

void make_builtin_model(const std::string& dir, const std::vector<std::string>& corpus_tsvs, uint64_t seed) {
    if (corpus_tsvs.empty()) throw Error("make_builtin_model: no corpus file given");
    std::set<std::string> words;
    for (const auto& path : corpus_tsvs) {
        for (const auto& s : read_sentences(path)) bert_words(s, path, words);
    }
    std::vector<std::string> vocab = kSpecials;
    for (const auto& w : words) {
        if (std::find(kSpecials.begin(), kSpecials.end(), w) == kSpecials.end()) vocab.push_back(w);
    }
    const int64_t V = static_cast<int64_t>(vocab.size());
    fs::create_directories(dir);
    const fs::path d(dir);

    Weights w(seed);
    const int64_t H = kHidden;
    w.normal("bert.embeddings.word_embeddings.weight", {V, H}, /*zero_row=*/0);
    w.normal("bert.embeddings.position_embeddings.weight", {kMaxPositions, H});
    w.normal("bert.embeddings.token_type_embeddings.weight", {kTypes, H});
    w.layer_norm("bert.embeddings.LayerNorm", H);
    for (int64_t l = 0; l < kLayers; ++l) {
        const std::string p = "bert.encoder.layer." + std::to_string(l) + ".";
        w.linear(p + "attention.self.query", H, H);
        w.linear(p + "attention.self.key", H, H);
        w.linear(p + "attention.self.value", H, H);
        w.linear(p + "attention.output.dense", H, H);
        w.layer_norm(p + "attention.output.LayerNorm", H);
        w.linear(p + "intermediate.dense", kIntermediate, H);
        w.linear(p + "output.dense", H, kIntermediate);
        w.layer_norm(p + "output.LayerNorm", H);
    }
    w.linear("bert.pooler.dense", H, H);
    w.linear("classifier", kLabels, H);
    if (w.count() != builtin_param_count(V)) throw Error("make_builtin_model: parameter count mismatch");

    st::write((d / "model.safetensors").string(), w.tensors(), {{"format", "pt"}});
    write_json_file((d / "config.json").string(), model_config(V));
    std::string vocab_txt;
    for (const auto& t : vocab) vocab_txt += t + "\n";
    write_text_file((d / "vocab.txt").string(), vocab_txt);
    write_text_file((d / "tokenizer.json").string(), tokenizer_json(vocab));
    write_json_file((d / "tokenizer_config.json").string(), tokenizer_config());
}

int64_t builtin_decoder_param_count(int64_t vocab_size) {
    const int64_t H = kHidden, qd = kDecHeads * kDecHeadDim, kvd = kDecKvHeads * kDecHeadDim, I = kDecIntermediate;
    return vocab_size * H + kLayers * (2 * H + H * qd + 2 * H * kvd + qd * H + 3 * H * I) + H;
}

void make_builtin_decoder(const std::string& dir, const std::vector<std::string>& corpus_tsvs, uint64_t seed) {
    if (corpus_tsvs.empty()) throw Error("make_builtin_decoder: no corpus file given");
    // The labels are targets to generate; "review" and "sentiment" are the built-in causal-LM experiment's template.
    std::set<std::string> words(kLabelNames.begin(), kLabelNames.end());
    words.insert({"review", "sentiment"});
    for (const auto& path : corpus_tsvs)
        for (const auto& s : read_sentences(path)) bert_words(s, path, words);
    std::vector<std::string> vocab = kSpecials;
    for (const auto& w : words)
        if (std::find(kSpecials.begin(), kSpecials.end(), w) == kSpecials.end()) vocab.push_back(w);
    const int64_t V = static_cast<int64_t>(vocab.size()), H = kHidden;
    const int64_t qd = kDecHeads * kDecHeadDim, kvd = kDecKvHeads * kDecHeadDim;
    fs::create_directories(dir);
    const fs::path d(dir);
    Weights w(seed + 1);
    w.normal("model.embed_tokens.weight", {V, H}, /*zero_row=*/0, kDecInitRange);
    for (int64_t l = 0; l < kLayers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        w.constant(p + "input_layernorm.weight", {H}, 1.0f);
        w.normal(p + "self_attn.q_proj.weight", {qd, H}, -1, kDecInitRange);
        w.normal(p + "self_attn.k_proj.weight", {kvd, H}, -1, kDecInitRange);
        w.normal(p + "self_attn.v_proj.weight", {kvd, H}, -1, kDecInitRange);
        w.normal(p + "self_attn.o_proj.weight", {H, qd}, -1, kDecInitRange);
        w.constant(p + "post_attention_layernorm.weight", {H}, 1.0f);
        w.normal(p + "mlp.gate_proj.weight", {kDecIntermediate, H}, -1, kDecInitRange);
        w.normal(p + "mlp.up_proj.weight", {kDecIntermediate, H}, -1, kDecInitRange);
        w.normal(p + "mlp.down_proj.weight", {H, kDecIntermediate}, -1, kDecInitRange);
    }
    w.constant("model.norm.weight", {H}, 1.0f);
    if (w.count() != builtin_decoder_param_count(V)) throw Error("make_builtin_decoder: parameter count mismatch");
    st::write((d / "model.safetensors").string(), w.tensors(), {{"format", "pt"}});
    write_json_file((d / "config.json").string(), decoder_config(V));
    write_json_file((d / "generation_config.json").string(), json{{"bos_token_id", 2}, {"eos_token_id", 3}, {"pad_token_id", 0}});
    write_text_file((d / "tokenizer.json").string(), tokenizer_json(vocab, /*decoder=*/true));
    json tc = tokenizer_config();
    tc["bos_token"] = "[CLS]";
    tc["eos_token"] = "[SEP]";
    tc["tokenizer_class"] = "PreTrainedTokenizerFast";
    write_json_file((d / "tokenizer_config.json").string(), tc);
}

void make_builtin(const std::string& dir, uint64_t seed) {
    const fs::path d(dir);
    const std::string data = (d / "data").string(), model = (d / "model").string();
    make_builtin_dataset(data, seed);
    make_builtin_model(model, {data + "/train.tsv", data + "/valid.tsv"}, seed);
    make_builtin_decoder((d / "decoder").string(), {data + "/train.tsv", data + "/valid.tsv"}, seed);
    const int64_t vocab_size = get_field<int64_t>(read_json_file(model + "/config.json"), "vocab_size", "config.json");
    write_text_file((d / "README.md").string(), readme(dir, seed, vocab_size, builtin_param_count(vocab_size)));
    // The default experiment `ptune train` and the workbench start with (an experiment spec, format 1):
    // settings under which a run on 2 CPU cores takes well under a minute and its loss visibly falls.
    const json spec = {
        {"ptune_spec", 1},
        {"name", "built-in: P-Tuning v2 on the synthetic sentiment set"},
        {"model", "builtin"},
        {"data", {{"train", "builtin"}}},
        {"method", {{"name", "ptv2"}, {"prompt_len", 16}, {"layers", "all"}}},
        {"train",
         {{"lr", 0.02}, {"batch_size", 16}, {"max_len", 48}, {"epochs", 5}, {"steps", 0}, {"schedule", "linear"},
          {"warmup_steps", 0}, {"max_grad_norm", 1.0}, {"seed", 42}, {"eval_every", 0}, {"metric", "accuracy"}}},
    };
    write_json_file((d / "experiment.json").string(), spec);
}

std::string builtin_dir() {
    std::vector<std::string> tried;
    auto has_model = [&](const fs::path& p, const std::string& why) {
        tried.push_back(p.string() + " (" + why + ")");
        std::error_code ec;
        return fs::exists(p / "model" / "config.json", ec);
    };
    if (const char* env = std::getenv("PTUNE_RESOURCES"); env && *env) {
        fs::path p = fs::path(env) / "builtin";
        if (has_model(p, "$PTUNE_RESOURCES")) return p.string();
    }
    {
        std::error_code ec;
        fs::path exe = fs::read_symlink("/proc/self/exe", ec);
        if (!ec) {
            fs::path p = (exe.parent_path() / ".." / "share" / "ptune" / "resources" / "builtin").lexically_normal();
            if (has_model(p, "installed beside the executable")) return p.string();
        }
    }
#ifdef PTUNE_RESOURCES_DIR
    {
        fs::path p = fs::path(PTUNE_RESOURCES_DIR) / "builtin";
        if (has_model(p, "source tree")) return p.string();
    }
#endif
    std::string msg = "the built-in experiment was not found (no builtin/model/config.json); looked in:";
    for (const auto& t : tried) msg += "\n  " + t;
    msg += "\nSet PTUNE_RESOURCES to the folder that holds builtin/.";
    throw Error(msg);
}

}  // namespace ptune
