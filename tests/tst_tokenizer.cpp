// ptune::Tokenizer against ids produced by Hugging Face transformers/tokenizers (fixtures), plus the
// fallbacks, pairs, truncation, added tokens, errors and thread safety.
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "core/io/json_util.h"
#include "core/text/tokenizer.h"

using ptune::Encoding;
using ptune::Tokenizer;
using ptune::json;

namespace {

const std::string kFixtures = PTUNE_FIXTURES;

std::vector<int64_t> ids_of(const json& j) { return j.get<std::vector<int64_t>>(); }

QString show(const std::vector<int64_t>& v) {
    QStringList parts;
    for (auto x : v) parts << QString::number(x);
    return "[" + parts.join(",") + "]";
}

// Every text of `expected` must give exactly its input_ids (and input_ids_96 for the first texts).
void check_expected(const Tokenizer& tok, const json& expected, int max_len, const char* ids_key = "input_ids") {
    const json& texts = expected.at("texts");
    const json& ids = expected.at(ids_key);
    QCOMPARE(texts.size(), ids.size());
    QVERIFY(!texts.empty());
    for (size_t i = 0; i < texts.size(); ++i) {
        const std::string text = texts[i].get<std::string>();
        Encoding e = tok.encode(text, std::nullopt, true, max_len);
        std::vector<int64_t> want = ids_of(ids[i]);
        QVERIFY2(e.ids == want, qPrintable(QString("%1 text %2 \"%3\": got %4, want %5")
                                               .arg(ids_key)
                                               .arg(i)
                                               .arg(QString::fromStdString(text).left(60))
                                               .arg(show(e.ids))
                                               .arg(show(want))));
        QCOMPARE(e.type_ids.size(), e.ids.size());
        QCOMPARE(e.tokens.size(), e.ids.size());
        QCOMPARE(e.special_mask.size(), e.ids.size());
    }
}

void check_reference(const Tokenizer& tok, const json& expected) {
    check_expected(tok, expected, expected.at("max_len").get<int>());
    if (expected.contains("input_ids_96")) {
        json part = json::object();
        size_t n = expected["input_ids_96"].size();
        QVERIFY(n > 0);
        part["texts"] = json(std::vector<json>(expected["texts"].begin(), expected["texts"].begin() + n));
        part["input_ids_96"] = expected["input_ids_96"];
        check_expected(tok, part, 96, "input_ids_96");
    }
}

void write_file(const QString& path, const std::string& data) {
    std::ofstream out(path.toStdString(), std::ios::binary);
    out << data;
}

void copy_file(const std::string& from, const QString& to) {
    QVERIFY(QFile::copy(QString::fromStdString(from), to));
}

std::string bert_json() { return kFixtures + "/bert/model/tokenizer.json"; }
std::string roberta_json() { return kFixtures + "/roberta/model/tokenizer.json"; }

json expected(const std::string& rel) { return ptune::read_json_file(kFixtures + "/" + rel); }

std::string repeat(const std::string& word, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += (i ? " " : "") + word;
    return s;
}

// A tokenizer.json with everything but the model taken from `base`, for error tests.
QString write_variant(const QTemporaryDir& dir, const std::string& base, const std::function<void(json&)>& edit) {
    json j = ptune::read_json_file(base);
    edit(j);
    QString path = dir.filePath("tokenizer.json");
    write_file(path, j.dump());
    return path;
}

// Loads a tokenizer.json built in the test.
std::unique_ptr<Tokenizer> load_json(const QTemporaryDir& dir, const json& j) {
    QString path = dir.filePath("built.json");
    write_file(path, j.dump());
    return Tokenizer::from_json_file(path.toStdString());
}

// A WordPiece tokenizer whose vocabulary holds every expected piece whole, so that its tokens show how
// the text was split (by added tokens, normalizer and pre-tokenizer).
json piece_tokenizer(const std::vector<std::string>& pieces, const json& normalizer, const json& pre_tokenizer,
                     const json& added = json::array()) {
    json vocab = json::object();
    vocab["[UNK]"] = 0;
    for (const auto& p : pieces)
        if (!vocab.contains(p)) vocab[p] = vocab.size();
    json j;
    j["version"] = "1.0";
    j["added_tokens"] = added;
    j["normalizer"] = normalizer;
    j["pre_tokenizer"] = pre_tokenizer;
    j["post_processor"] = nullptr;
    j["model"] = {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
                  {"max_input_chars_per_word", 100}, {"vocab", vocab}};
    return j;
}

json added_token(const std::string& content, int64_t id, bool special, bool normalized, bool lstrip = false,
                 bool rstrip = false, bool single_word = false) {
    return {{"id", id},         {"content", content}, {"single_word", single_word}, {"lstrip", lstrip},
            {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
}

std::vector<std::string> tokens_of(const Tokenizer& tok, const std::string& text) {
    return tok.encode(text, std::nullopt, false).tokens;
}

QString show(const std::vector<std::string>& v) {
    QStringList parts;
    for (const auto& x : v) parts << "\"" + QString::fromStdString(x) + "\"";
    return "[" + parts.join(", ") + "]";
}

#define CHECK_TOKENS(tok, text, ...)                                                                    \
    do {                                                                                                \
        std::vector<std::string> got_ = tokens_of(tok, text), want_ = __VA_ARGS__;                      \
        QVERIFY2(got_ == want_, qPrintable(QString("%1: got %2, want %3").arg(QString::fromStdString(text), \
                                                                               show(got_), show(want_)))); \
    } while (0)

void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
    try {
        fn();
    } catch (const ptune::Error& e) {
        std::string msg = e.what();
        for (const auto& p : parts)
            QVERIFY2(msg.find(p) != std::string::npos,
                     qPrintable(QString("message \"%1\" lacks \"%2\"").arg(msg.c_str(), p.c_str())));
        return;
    }
    QFAIL("no ptune::Error thrown");
}

}  // namespace

class TstTokenizer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void bertMatchesReference() {
        auto tok = Tokenizer::from_json_file(bert_json());
        check_reference(*tok, expected("bert/expected.json"));
        QCOMPARE(tok->pad_id(), int64_t(0));
        QCOMPARE(tok->num_special_tokens(false), 2);
        QCOMPARE(tok->num_special_tokens(true), 3);
        QVERIFY(QString::fromStdString(tok->describe()).startsWith("WordPiece (BertNormalizer lowercase)"));
    }

    void robertaMatchesReference() {
        auto tok = Tokenizer::from_json_file(roberta_json());
        check_reference(*tok, expected("roberta/expected.json"));
        QCOMPARE(tok->pad_id(), int64_t(1));
        QCOMPARE(tok->num_special_tokens(false), 2);
        QCOMPARE(tok->num_special_tokens(true), 4);
    }

    void fromDirUsesTokenizerJson() {
        auto tok = Tokenizer::from_dir(kFixtures + "/bert/model");
        QVERIFY(QString::fromStdString(tok->describe()).indexOf("vocab.txt") < 0);
        check_reference(*tok, expected("bert/expected.json"));
    }

    void bertVocabTxtFallback() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        copy_file(kFixtures + "/bert/model/vocab.txt", dir.filePath("vocab.txt"));
        copy_file(kFixtures + "/bert/model/tokenizer_config.json", dir.filePath("tokenizer_config.json"));
        auto tok = Tokenizer::from_dir(dir.path().toStdString());
        QVERIFY(QString::fromStdString(tok->describe()).contains("vocab.txt"));
        check_reference(*tok, expected("bert/expected.json"));
        auto ref = Tokenizer::from_json_file(bert_json());
        QCOMPARE(tok->vocab_size(), ref->vocab_size());
        QCOMPARE(tok->pad_id(), ref->pad_id());
        for (const char* s : {"hello [MASK] world", "[CLS] x [SEP]", "Ünïcödé[PAD]"})
            QCOMPARE(tok->encode(s).ids, ref->encode(s).ids);
        QCOMPARE(tok->encode("one two", std::string("three four")).type_ids,
                 ref->encode("one two", std::string("three four")).type_ids);
    }

    void bertVocabTxtKeepsCaseWhenAsked() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        copy_file(kFixtures + "/bert/model/vocab.txt", dir.filePath("vocab.txt"));
        write_file(dir.filePath("tokenizer_config.json"), R"({"do_lower_case": false})");
        auto cased = Tokenizer::from_dir(dir.path().toStdString());
        auto lower = Tokenizer::from_json_file(bert_json());
        // "Hello" is not in the (lowercase) vocabulary as a whole; lowercased it tokenizes differently.
        QVERIFY(cased->encode("Hello World").ids != lower->encode("Hello World").ids);
        QCOMPARE(cased->encode("hello world").ids, lower->encode("hello world").ids);
    }

    void robertaVocabJsonMergesFallback() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        json j = ptune::read_json_file(roberta_json());
        write_file(dir.filePath("vocab.json"), j["model"]["vocab"].dump());
        std::string merges = "#version: 0.2\n";
        for (const auto& m : j["model"]["merges"]) {
            if (m.is_array())
                merges += m[0].get<std::string>() + " " + m[1].get<std::string>() + "\n";
            else
                merges += m.get<std::string>() + "\n";
        }
        write_file(dir.filePath("merges.txt"), merges);
        auto tok = Tokenizer::from_dir(dir.path().toStdString());
        QVERIFY(QString::fromStdString(tok->describe()).contains("merges.txt"));
        check_reference(*tok, expected("roberta/expected.json"));
        auto ref = Tokenizer::from_json_file(roberta_json());
        QCOMPARE(tok->encode("one two", std::string("three four")).ids,
                 ref->encode("one two", std::string("three four")).ids);
        QCOMPARE(tok->pad_id(), int64_t(1));
    }

    void gpt2MatchesReference() {
        const std::string dir = kFixtures + "/tokenizers/gpt2";
        auto tok = Tokenizer::from_dir(dir);
        json e = expected("tokenizers/gpt2/expected.json");
        QCOMPARE(e["max_len"].get<int>(), 96);
        check_reference(*tok, e);
        QCOMPARE(tok->num_special_tokens(false), 0);
        // The long text really is cut at 96 and would be longer without truncation.
        const std::string longest = e["texts"].back().get<std::string>();
        QVERIFY(tok->encode(longest).ids.size() > 96);
        QCOMPARE(tok->encode(longest, std::nullopt, true, 96).ids.size(), size_t(96));
        // Byte-level decoding gives the text back.
        for (const auto& t : e["texts"]) {
            std::string s = t.get<std::string>();
            if (s.size() > 200) continue;
            QCOMPARE(QString::fromStdString(tok->decode(tok->encode(s).ids)), QString::fromStdString(s));
        }
    }

    void llamaMatchesReference() {
        const std::string dir = kFixtures + "/tokenizers/llama";
        auto tok = Tokenizer::from_dir(dir);
        json e = expected("tokenizers/llama/expected.json");
        check_reference(*tok, e);
        QCOMPARE(tok->num_special_tokens(false), 1);
        const std::string longest = e["texts"].back().get<std::string>();
        Encoding full = tok->encode(longest);
        QVERIFY(full.ids.size() > 96);
        Encoding cut = tok->encode(longest, std::nullopt, true, 96);
        QCOMPARE(cut.ids.size(), size_t(96));
        QCOMPARE(cut.ids.front(), int64_t(0));  // <s> survives truncation
        QCOMPARE(cut.special_mask.front(), int64_t(1));
        QCOMPARE(std::vector<int64_t>(cut.ids.begin() + 1, cut.ids.end()),
                 std::vector<int64_t>(full.ids.begin() + 1, full.ids.begin() + 96));
        QCOMPARE(tok->decode(tok->encode("hello there").ids), std::string("hello there"));
        QCOMPARE(tok->decode(tok->encode("hello there").ids, false), std::string("<s>hello there"));
    }

    void bertPair() {
        auto tok = Tokenizer::from_json_file(bert_json());
        auto a = tok->encode("The quick brown fox.", std::nullopt, false).ids;
        auto b = tok->encode("Jumps over the lazy dog!", std::nullopt, false).ids;
        Encoding p = tok->encode("The quick brown fox.", std::string("Jumps over the lazy dog!"));
        std::vector<int64_t> want{2};
        want.insert(want.end(), a.begin(), a.end());
        want.push_back(3);
        want.insert(want.end(), b.begin(), b.end());
        want.push_back(3);
        QCOMPARE(p.ids, want);
        std::vector<int64_t> types(a.size() + 2, 0);
        types.resize(want.size(), 1);
        QCOMPARE(p.type_ids, types);
        QCOMPARE(p.special_mask.front(), int64_t(1));
        QCOMPARE(p.special_mask[a.size() + 1], int64_t(1));
        QCOMPARE(p.special_mask.back(), int64_t(1));
        QCOMPARE(p.special_mask[1], int64_t(0));
        QCOMPARE(p.tokens.front(), std::string("[CLS]"));
        QCOMPARE(p.tokens.back(), std::string("[SEP]"));
        // Without special tokens the pair keeps its own type ids.
        Encoding raw = tok->encode("The quick brown fox.", std::string("Jumps over the lazy dog!"), false);
        QCOMPARE(raw.ids.size(), a.size() + b.size());
        QCOMPARE(raw.type_ids.back(), int64_t(1));
    }

    void robertaPair() {
        auto tok = Tokenizer::from_json_file(roberta_json());
        auto a = tok->encode("Hello there", std::nullopt, false).ids;
        auto b = tok->encode("general Kenobi", std::nullopt, false).ids;
        Encoding p = tok->encode("Hello there", std::string("general Kenobi"));
        std::vector<int64_t> want{0};
        want.insert(want.end(), a.begin(), a.end());
        want.insert(want.end(), {2, 2});
        want.insert(want.end(), b.begin(), b.end());
        want.push_back(2);
        QCOMPARE(p.ids, want);
        QCOMPARE(p.type_ids, std::vector<int64_t>(want.size(), 0));
    }

    void pairTruncationLongestFirst() {
        // The table of tokenizers' truncate_encodings_longest_first test (max_length 7), through BERT
        // with one token per word and no special tokens.
        auto tok = Tokenizer::from_json_file(bert_json());
        QCOMPARE(tok->encode(repeat("a", 8), std::nullopt, false).ids.size(), size_t(8));
        const int lens[] = {0, 2, 4, 8};
        const int want[4][4][2] = {
            {{0, 0}, {0, 2}, {0, 4}, {0, 7}},
            {{2, 0}, {2, 2}, {2, 4}, {2, 5}},
            {{4, 0}, {4, 2}, {3, 4}, {3, 4}},
            {{7, 0}, {5, 2}, {4, 3}, {3, 4}},
        };
        for (int i = 0; i < 4; ++i) {
            for (int k = 0; k < 4; ++k) {
                Encoding e = tok->encode(repeat("a", lens[i]), repeat("b", lens[k]), false, 7);
                int64_t a_id = *tok->token_to_id("a");
                size_t n1 = std::count(e.ids.begin(), e.ids.end(), a_id);
                size_t n2 = e.ids.size() - n1;
                QVERIFY2(int(n1) == want[i][k][0] && int(n2) == want[i][k][1],
                         qPrintable(QString("%1+%2 -> %3+%4").arg(lens[i]).arg(lens[k]).arg(n1).arg(n2)));
            }
        }
        // With special tokens they count: [CLS] A [SEP] B [SEP] in 12 leaves 9 for A and B.
        Encoding e = tok->encode(repeat("a", 10), repeat("b", 4), true, 12);
        QCOMPARE(e.ids.size(), size_t(12));
        QCOMPARE(std::count(e.ids.begin(), e.ids.end(), *tok->token_to_id("a")), long(5));
        QCOMPARE(std::count(e.ids.begin(), e.ids.end(), *tok->token_to_id("b")), long(4));
        QCOMPARE(e.ids.back(), int64_t(3));
        // RoBERTa adds four to a pair.
        auto rob = Tokenizer::from_json_file(roberta_json());
        Encoding r = rob->encode(repeat("hello", 30), repeat("world", 30), true, 20);
        QCOMPARE(r.ids.size(), size_t(20));
        QCOMPARE(r.ids.front(), int64_t(0));
        QCOMPARE(r.ids.back(), int64_t(2));
        // A max_len smaller than the special tokens leaves only them.
        QCOMPARE(tok->encode("hello world", std::nullopt, true, 1).ids, (std::vector<int64_t>{2, 3}));
    }

    void specialTokensInText() {
        auto bert = Tokenizer::from_json_file(bert_json());
        Encoding e = bert->encode("hello [MASK] world");
        auto hello = bert->encode("hello", std::nullopt, false).ids;
        auto world = bert->encode("world", std::nullopt, false).ids;
        std::vector<int64_t> want{2};
        want.insert(want.end(), hello.begin(), hello.end());
        want.push_back(4);
        want.insert(want.end(), world.begin(), world.end());
        want.push_back(3);
        QCOMPARE(e.ids, want);
        QCOMPARE(bert->encode("x[SEP]y", std::nullopt, false).ids,
                 (std::vector<int64_t>{*bert->token_to_id("x"), 3, *bert->token_to_id("y")}));
        // Special tokens are not normalized: the lowercase spelling is ordinary text.
        Encoding lower = bert->encode("hello [mask] world", std::nullopt, false);
        QVERIFY(std::find(lower.ids.begin(), lower.ids.end(), 4) == lower.ids.end());
        QVERIFY(bert->is_special_id(4));
        QVERIFY(!bert->is_special_id(*bert->token_to_id("a")));
        QCOMPARE(bert->id_to_token(4), std::string("[MASK]"));
        QCOMPARE(bert->token_to_id("[MASK]"), std::optional<int64_t>(4));
        QCOMPARE(bert->id_to_token(1 << 30), std::string());

        auto rob = Tokenizer::from_json_file(roberta_json());
        Encoding r = rob->encode("hello<mask> world</s>", std::nullopt, false);
        QVERIFY(std::find(r.ids.begin(), r.ids.end(), 4) != r.ids.end());
        QCOMPARE(r.ids.back(), int64_t(2));
        QCOMPARE(rob->decode(rob->encode("hello<mask> world").ids), std::string("hello world"));
        QCOMPARE(rob->decode(rob->encode("hello<mask> world").ids, false), std::string("<s>hello<mask> world</s>"));
    }

    void wordPieceLimitsAndDecoding() {
        auto bert = Tokenizer::from_json_file(bert_json());
        // Words longer than max_input_chars_per_word (100) become [UNK].
        Encoding e = bert->encode(std::string(101, 'a'), std::nullopt, false);
        QCOMPARE(e.ids, std::vector<int64_t>{1});
        QVERIFY(bert->encode(std::string(100, 'a'), std::nullopt, false).ids != std::vector<int64_t>{1});
        QCOMPARE(bert->decode(bert->encode("Hello, world!").ids), std::string("hello, world!"));
        QCOMPARE(bert->encode("").ids, (std::vector<int64_t>{2, 3}));
        // Invalid UTF-8 does not break encoding.
        QVERIFY(!bert->encode(std::string("ab\xff\xfe" "cd")).ids.empty());
    }

    void pipelineComponentsFromJson() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        // Same BERT model behind explicit normalizer/pre-tokenizer sequences equal to Bert's own ones
        // for these texts.
        QString path = write_variant(dir, bert_json(), [](json& j) {
            j["normalizer"] = json::parse(R"({"type": "Sequence", "normalizers": [
                {"type": "NFD"}, {"type": "StripAccents"}, {"type": "Lowercase"},
                {"type": "Strip", "strip_left": true, "strip_right": true},
                {"type": "Replace", "pattern": {"String": "``"}, "content": "x"}]})");
            j["pre_tokenizer"] = json::parse(R"({"type": "Sequence", "pretokenizers": [
                {"type": "WhitespaceSplit"}, {"type": "Punctuation", "behavior": "Isolated"}]})");
            j["post_processor"] = json::parse(R"({"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                "pair": "[CLS] $A [SEP] $B:1 [SEP]:1",
                "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                                   "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}})");
        });
        auto seq = Tokenizer::from_json_file(path.toStdString());
        auto ref = Tokenizer::from_json_file(bert_json());
        for (const char* s : {"  Café naïve résumé, don't!  ", "Hello,world!!(really?)  multiple   spaces",
                              "$1,000,000.00 FREE!!!"}) {
            QCOMPARE(seq->encode(s).ids, ref->encode(s).ids);
            QCOMPARE(seq->encode(s, std::string("and b")).type_ids, ref->encode(s, std::string("and b")).type_ids);
        }
        QCOMPARE(seq->num_special_tokens(true), 3);
        // Split with a regex, removed delimiters: "a-b-c" -> "a", "b", "c".
        QString split = write_variant(dir, bert_json(), [](json& j) {
            j["pre_tokenizer"] = json::parse(
                R"({"type": "Split", "pattern": {"Regex": "-+"}, "behavior": "Removed", "invert": false})");
        });
        auto sp = Tokenizer::from_json_file(split.toStdString());
        QCOMPARE(sp->encode("a--b-c", std::nullopt, false).ids,
                 (std::vector<int64_t>{*ref->token_to_id("a"), *ref->token_to_id("b"), *ref->token_to_id("c")}));
    }

    void preTokenizerBehaviors() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        // tokenizers' split.rs table: Split(\w+|[^\w\s]+, invert) with each behavior.
        const std::string text = "How are you doing?";
        const std::vector<std::pair<std::string, std::vector<std::string>>> table = {
            {"Removed", {"How", "are", "you", "doing", "?"}},
            {"Isolated", {"How", " ", "are", " ", "you", " ", "doing", "?"}},
            {"MergedWithPrevious", {"How ", "are ", "you ", "doing", "?"}},
            {"MergedWithNext", {"How", " are", " you", " doing", "?"}},
            {"Contiguous", {"How", " ", "are", " ", "you", " ", "doing?"}},
        };
        for (const auto& [behavior, want] : table) {
            json pre = {{"type", "Split"},
                        {"pattern", {{"Regex", "\\w+|[^\\w\\s]+"}}},
                        {"behavior", behavior},
                        {"invert", true}};
            auto tok = load_json(dir, piece_tokenizer(want, nullptr, pre));
            CHECK_TOKENS(*tok, text, want);
        }
        auto ws = load_json(dir, piece_tokenizer({"Hey", "man", "!"}, nullptr, {{"type", "Whitespace"}}));
        CHECK_TOKENS(*ws, "Hey man!", {"Hey", "man", "!"});
        CHECK_TOKENS(*ws, "\n", {});
        auto wss = load_json(dir, piece_tokenizer({"Hey", "man!"}, nullptr, {{"type", "WhitespaceSplit"}}));
        CHECK_TOKENS(*wss, "Hey \u3000 man!", {"Hey", "man!"});
        auto punct = load_json(dir, piece_tokenizer({"Hey friend", "!", "     How are you", "?"}, nullptr,
                                                    {{"type", "Punctuation"}, {"behavior", "Isolated"}}));
        CHECK_TOKENS(*punct, "Hey friend!     How are you?!?",
                     {"Hey friend", "!", "     How are you", "?", "!", "?"});
        auto bert = load_json(dir, piece_tokenizer({"Hey", "friend", "!", "How", "are", "you", "?", "$", "5"},
                                                   nullptr, {{"type", "BertPreTokenizer"}}));
        CHECK_TOKENS(*bert, "Hey friend!     How are you?!?$5",
                     {"Hey", "friend", "!", "How", "are", "you", "?", "!", "?", "$", "5"});
        auto digits = load_json(dir, piece_tokenizer({"Hey ", "123", "1", "2", "3", " friend!"}, nullptr,
                                                     {{"type", "Digits"}, {"individual_digits", false}}));
        CHECK_TOKENS(*digits, "Hey 123 friend!", {"Hey ", "123", " friend!"});
        auto single_digits = load_json(dir, piece_tokenizer({"Hey ", "1", "2", "3", " friend!"}, nullptr,
                                                            {{"type", "Digits"}, {"individual_digits", true}}));
        CHECK_TOKENS(*single_digits, "Hey 123 friend!", {"Hey ", "1", "2", "3", " friend!"});

        // Metaspace after a Split that isolates "<s>": prepend_scheme always / first / never.
        const std::string m = "\u2581";
        const std::string meta_text = "Hey my friend <s>how" + m + "are you";
        std::vector<std::string> always = {m + "Hey", m + "my", m + "friend", m, m + "<s>", m + "how", m + "are",
                                           m + "you"};
        std::vector<std::string> first = {m + "Hey", m + "my", m + "friend", m, "<s>", "how", m + "are", m + "you"};
        std::vector<std::string> never = {"Hey", m + "my", m + "friend", m, "<s>", "how", m + "are", m + "you"};
        for (const auto& [scheme, want] : std::vector<std::pair<std::string, std::vector<std::string>>>{
                 {"always", always}, {"first", first}, {"never", never}}) {
            json pre = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"}, {"pattern", {{"String", "<s>"}}}, {"behavior", "Isolated"},
                           {"invert", false}},
                          {{"type", "Metaspace"}, {"replacement", m}, {"prepend_scheme", scheme}, {"split", true}}}}};
            auto tok = load_json(dir, piece_tokenizer(want, nullptr, pre));
            CHECK_TOKENS(*tok, meta_text, want);
        }
        json nosplit = {{"type", "Metaspace"}, {"replacement", m}, {"prepend_scheme", "always"}, {"split", false}};
        auto ns = load_json(dir, piece_tokenizer({m + "Hey" + m + "friend!"}, nullptr, nosplit));
        CHECK_TOKENS(*ns, "Hey friend!", {m + "Hey" + m + "friend!"});
        auto legacy = load_json(dir, piece_tokenizer({m + "Hey", m, m + "friend!"}, nullptr,
                                                     {{"type", "Metaspace"}, {"replacement", m},
                                                      {"add_prefix_space", true}}));
        CHECK_TOKENS(*legacy, "Hey   friend!", {m + "Hey", m, m, m + "friend!"});
    }

    void normalizerComponents() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        json none = nullptr;
        auto check = [&](const json& normalizer, const std::string& text, const std::string& want) {
            auto tok = load_json(dir, piece_tokenizer({want}, normalizer, none));
            CHECK_TOKENS(*tok, text, {want});
        };
        check({{"type", "Lowercase"}}, "HeLLo \u0130 \u00C9", "hello i\u0307 \u00E9");
        check({{"type", "NFD"}}, "\u00E9", "e\u0301");
        check({{"type", "NFC"}}, "e\u0301", "\u00E9");
        check({{"type", "NFKC"}}, "\uFB01", "fi");
        check({{"type", "NFKD"}}, "\u00BD", "1\u20442");
        check({{"type", "Sequence"}, {"normalizers", {{{"type", "NFKD"}}, {{"type", "StripAccents"}}}}},
              "\u00C0\u0E33", "A\u0E32");
        check({{"type", "Strip"}, {"strip_left", true}, {"strip_right", false}}, " \t hi \u3000", "hi \u3000");
        check({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}, " \t hi \u3000", "hi");
        check({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}, "a b  c",
              "a\u2581b\u2581\u2581c");
        check({{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", "_"}}, "a \t b", "a_b");
        check({{"type", "Prepend"}, {"prepend", "\u2581"}}, "hi", "\u2581hi");
        check({{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
               {"strip_accents", false}, {"lowercase", true}},
              "A\u00E9\u4E2D\t\x01\u200B", "a\u00E9 \u4E2D  ");
    }

    void addedTokenOptions() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        // tokenizers' added_vocabulary.rs options_use_cases, with a Lowercase normalizer.
        json lower = {{"type", "Lowercase"}};
        json added = json::array({added_token("my", 100, false, true, true, true),
                                  added_token("name", 101, false, true),
                                  added_token("ony", 102, false, true, false, false, true),
                                  added_token("[CLS]", 103, true, false), added_token("[SEP]", 104, true, false)});
        auto tok = load_json(dir, piece_tokenizer({" is anthony "}, lower, nullptr, added));
        CHECK_TOKENS(*tok, "[CLS] My name is Anthony [SEP]", {"[CLS]", " my ", "name", " is anthony ", "[SEP]"});
        Encoding e = tok->encode("[CLS] My name is Anthony [SEP]", std::nullopt, false);
        // Like tokenizers, ids of added tokens outside the model vocabulary are given in order after it
        // (the JSON ids 100.. here are only expectations, as in tokenizer.json).
        QCOMPARE(e.ids, (std::vector<int64_t>{5, 2, 3, 1, 6}));
        QCOMPARE(tok->token_to_id("[CLS]"), std::optional<int64_t>(5));

        json mask = json::array({added_token("<mask>", 5, false, true, false, false, true)});
        auto single = load_json(dir, piece_tokenizer({" my name ", " a<mask> <mask>ony ", ", ", "- \u25CC\u0330<mask>"},
                                                     lower, nullptr, mask));
        CHECK_TOKENS(*single, "<mask> My name <mask> A<mask> <mask>ony <mask>",
                     {"<mask>", " my name ", "<mask>", " a<mask> <mask>ony ", "<mask>"});
        CHECK_TOKENS(*single, "<mask>, <mask>- \u25CC\u0330<mask>", {"<mask>", ", ", "<mask>", "- \u25CC\u0330<mask>"});

        json strip = json::array({added_token("<mask>", 5, false, true, true, true, true)});
        auto lr = load_json(dir, piece_tokenizer({"hi", "there"}, lower, nullptr, strip));
        CHECK_TOKENS(*lr, "Hi <mask> there\t<mask>\t<mask>\u2000",
                     {"hi", " <mask> ", "there", "\t<mask>\t", "<mask>\u2000"});

        // Longest match first: "<s>" and "<s><s>" both added.
        json both = json::array({added_token("<s>", 7, true, false), added_token("<s><s>", 8, true, false)});
        auto longest = load_json(dir, piece_tokenizer({"x"}, nullptr, nullptr, both));
        QCOMPARE(longest->encode("<s><s><s>x", std::nullopt, false).ids,
                 (std::vector<int64_t>{*longest->token_to_id("<s><s>"), *longest->token_to_id("<s>"), 1}));
        QCOMPARE(longest->vocab_size(), int64_t(4));
    }

    void bpeModelOptions() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        auto bpe = [&](const json& vocab, const json& merges, const json& extra) {
            json model = {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}};
            for (auto it = extra.begin(); it != extra.end(); ++it) model[it.key()] = it.value();
            json j = {{"version", "1.0"}, {"added_tokens", json::array()}, {"normalizer", nullptr},
                      {"pre_tokenizer", nullptr}, {"post_processor", nullptr}, {"model", model}};
            return load_json(dir, j);
        };
        auto ids = [](const Tokenizer& t, const std::string& s) { return t.encode(s, std::nullopt, false).ids; };
        using V = std::vector<int64_t>;
        // models/bpe tests: dropout-free "unrelated" merges, with "a b" strings.
        json vocab = {{"u", 0}, {"n", 1}, {"r", 2}, {"e", 3}, {"l", 4}, {"a", 5}, {"t", 6}, {"d", 7},
                      {"re", 8}, {"at", 9}, {"ed", 10}, {"un", 11}, {"ated", 12}, {"rel", 13}, {"related", 14},
                      {"unrelated", 15}};
        json merges = {"r e", "a t", "e d", "u n", "at ed", "re l", "rel ated", "un related"};
        QCOMPARE(ids(*bpe(vocab, merges, json::object()), "unrelated"), V{15});
        QCOMPARE(ids(*bpe(vocab, json::array({{"r", "e"}, {"a", "t"}}), json::object()), "unrelated"),
                 (V{0, 1, 8, 4, 9, 3, 7}));
        // ignore_merges: a word in the vocabulary is taken whole.
        QCOMPARE(ids(*bpe(vocab, json::array(), {{"ignore_merges", true}}), "related"), V{14});
        QCOMPARE(ids(*bpe(vocab, json::array(), json::object()), "related"), (V{2, 3, 4, 5, 6, 3, 7}));
        // Unknown characters: one unk each, or fused.
        json small = {{"<unk>", 0}, {"a", 1}, {"b", 2}};
        QCOMPARE(ids(*bpe(small, json::array(), {{"unk_token", "<unk>"}}), "accb"), (V{1, 0, 0, 2}));
        QCOMPARE(ids(*bpe(small, json::array(), {{"unk_token", "<unk>"}, {"fuse_unk", true}}), "accb"), (V{1, 0, 2}));
        QCOMPARE(ids(*bpe(small, json::array(), json::object()), "accb"), (V{1, 2}));
        // byte_fallback: <0xNN> tokens for characters outside the vocabulary.
        json bytes = {{"<unk>", 0}, {"a", 1}, {"<0xC3>", 2}, {"<0xA9>", 3}};
        auto bf = bpe(bytes, json::array(), {{"unk_token", "<unk>"}, {"byte_fallback", true}});
        QCOMPARE(ids(*bf, "a\u00E9a"), (V{1, 2, 3, 1}));
        QCOMPARE(ids(*bf, "\u00E8"), V{0});
        // continuing_subword_prefix and end_of_word_suffix.
        json pre = {{"a", 0}, {"##b", 1}, {"##c", 2}, {"ab", 3}, {"abc", 4}};
        auto pf = bpe(pre, json::array({{"a", "##b"}, {"ab", "##c"}}), {{"continuing_subword_prefix", "##"}});
        QCOMPARE(ids(*pf, "ab"), V{3});
        QCOMPARE(ids(*pf, "abc"), V{4});
        json suf = {{"a", 0}, {"b</w>", 1}, {"ab</w>", 2}, {"b", 3}};
        auto sf = bpe(suf, json::array({{"a", "b</w>"}}), {{"end_of_word_suffix", "</w>"}});
        QCOMPARE(ids(*sf, "ab"), V{2});
        QCOMPARE(ids(*sf, "ba"), (V{3}));  // "a" at the end needs "a</w>", which is missing
    }

    // The Unigram model's decisions, on a vocabulary small enough to work out by hand (scores are log
    // probabilities; the best segmentation has the highest sum):
    //   "ab": a + b = -1 + -2 = -3 against ab = -3: a tie, and the piece found first at that end ("ab", from the
    //   earlier start) keeps it; "abc": ab + c = -3 + -3 = -6 against a + bc = -1 + -4.5 = -5.5: "a bc";
    //   "xyb": x and y start no piece: each is an unknown node scored min_score - 10 = -13, fused into one "xy"
    //   token (<unk>), then "b"; with byte_fallback the unknown "xy" becomes <0x78> <0x79> when both exist.
    // (The tokenizers library gives these ids for this vocabulary: checked with the npm package.)
    void unigramByHand() {
        QTemporaryDir dir;
        json j = {{"version", "1.0"}, {"added_tokens", json::array()}, {"normalizer", nullptr},
                  {"pre_tokenizer", {{"type", "WhitespaceSplit"}}}, {"post_processor", nullptr}, {"decoder", nullptr},
                  {"model", {{"type", "Unigram"}, {"unk_id", 0},
                             {"vocab", json::array({json::array({"<unk>", 0.0}), json::array({"a", -1.0}),
                                                    json::array({"b", -2.0}), json::array({"ab", -3.0}),
                                                    json::array({"c", -3.0}), json::array({"bc", -4.5}),
                                                    json::array({"<0x78>", -2.0}), json::array({"<0x79>", -2.0})})}}}};
        auto tok = load_json(dir, j);
        QCOMPARE(tok->encode("ab", std::nullopt, false).ids, (std::vector<int64_t>{3}));
        QCOMPARE(tok->encode("abc", std::nullopt, false).ids, (std::vector<int64_t>{1, 5}));
        QCOMPARE(tok->encode("xyb", std::nullopt, false).ids, (std::vector<int64_t>{0, 2}));
        QCOMPARE(tok->encode("xyb", std::nullopt, false).tokens, (std::vector<std::string>{"xy", "b"}));
        QCOMPARE(tok->vocab_size(), int64_t(8));
        QCOMPARE(tok->id_to_token(5), std::string("bc"));
        j["model"]["byte_fallback"] = true;
        auto fb = load_json(dir, j);
        QCOMPARE(fb->encode("xyb", std::nullopt, false).ids, (std::vector<int64_t>{6, 7, 2}));
        // A byte with no <0xNN> piece: the whole unknown stretch stays <unk>.
        QCOMPARE(fb->encode("xzb", std::nullopt, false).ids, (std::vector<int64_t>{0, 2}));
    }

    void errorsNameFileAndField() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QString p = write_variant(dir, bert_json(), [](json& j) { j["model"]["type"] = "WordLevel"; });
        expect_error([&] { Tokenizer::from_json_file(p.toStdString()); },
                     {"tokenizer.json", "model.type \"WordLevel\" is not supported", "WordPiece, BPE and Unigram"});
        // A Unigram model whose vocabulary is not [piece, score] pairs (BERT's is a token -> id object).
        p = write_variant(dir, bert_json(), [](json& j) { j["model"]["type"] = "Unigram"; });
        expect_error([&] { Tokenizer::from_json_file(p.toStdString()); },
                     {"tokenizer.json", "model.vocab must be a list of [piece, score] pairs"});
        p = write_variant(dir, bert_json(), [](json& j) {
            j["model"] = json::parse(R"({"type": "Unigram", "unk_id": 5, "vocab": [["a", -1.0], ["b", -2.0]]})");
        });
        expect_error([&] { Tokenizer::from_json_file(p.toStdString()); }, {"model.unk_id must be an index into the 2"});
        p = write_variant(dir, bert_json(), [](json& j) {
            j["normalizer"] = json::parse(R"({"type": "Precompiled", "precompiled_charsmap": "not base64!"})");
        });
        expect_error([&] { Tokenizer::from_dir(dir.path().toStdString()); },
                     {"tokenizer.json", "normalizer.precompiled_charsmap", "base64"});
        p = write_variant(dir, bert_json(), [](json& j) {
            j["normalizer"] = json::parse(R"({"type": "Precompiled", "precompiled_charsmap": "6AMAAA=="})");
        });
        expect_error([&] { Tokenizer::from_dir(dir.path().toStdString()); },
                     {"tokenizer.json", "normalizer.precompiled_charsmap", "does not fit"});
        p = write_variant(dir, bert_json(), [](json& j) { j["normalizer"]["type"] = "NoSuchThing"; });
        expect_error([&] { Tokenizer::from_dir(dir.path().toStdString()); },
                     {"tokenizer.json", "normalizer.type \"NoSuchThing\""});
        p = write_variant(dir, bert_json(), [](json& j) {
            j["pre_tokenizer"] = json::parse(R"({"type": "Sequence", "pretokenizers": [{"type": "Nope"}]})");
        });
        expect_error([&] { Tokenizer::from_json_file(p.toStdString()); }, {"pre_tokenizer.pretokenizers[0].type"});
        p = write_variant(dir, roberta_json(), [](json& j) { j["model"]["merges"][3] = "x y z"; });
        expect_error([&] { Tokenizer::from_json_file(p.toStdString()); }, {"tokenizer.json", "model.merges[3]"});
        p = write_variant(dir, roberta_json(), [](json& j) { j["model"].erase("vocab"); });
        expect_error([&] { Tokenizer::from_json_file(p.toStdString()); }, {"model.vocab"});
        QTemporaryDir empty;
        expect_error([&] { Tokenizer::from_dir(empty.path().toStdString()); }, {"no tokenizer.json"});
        write_file(empty.filePath("vocab.json"), "{\"a\": 0}");
        write_file(empty.filePath("merges.txt"), "#version: 0.2\na b\n");
        expect_error([&] { Tokenizer::from_dir(empty.path().toStdString()); }, {"merges.txt", "line 2"});
    }

    void batchAndThreadSafe() {
        auto bert = Tokenizer::from_json_file(bert_json());
        auto rob = Tokenizer::from_json_file(roberta_json());
        std::vector<std::string> texts;
        for (int i = 0; i < 4000; ++i)
            texts.push_back("Sentence number " + std::to_string(i) + ": the movie was " +
                            (i % 3 ? "surprisingly good, really!" : "a bit long; I'd skip it.") + " Rating " +
                            std::to_string(i % 10) + "/10.");
        for (const Tokenizer* tok : {bert.get(), rob.get()}) {
            auto encs = tok->encode_batch(texts, true, 128);
            QCOMPARE(encs.size(), texts.size());
            // The batch gives what one text at a time gives, with the special tokens around each text.
            for (size_t i : {size_t(0), size_t(1), size_t(1234), size_t(3999)}) {
                QVERIFY(encs[i].ids == tok->encode(texts[i], std::nullopt, true, 128).ids);
                QVERIFY(encs[i].ids.size() > 10);
                QVERIFY(tok->is_special_id(encs[i].ids.front()));
                QVERIFY(tok->is_special_id(encs[i].ids.back()));
            }
            QVERIFY(encs[1].ids != encs[2].ids);

            std::vector<std::vector<int64_t>> serial;
            for (size_t i = 0; i < 400; ++i) serial.push_back(encs[i].ids);
            std::atomic<int> mismatches{0};
            std::vector<std::thread> threads;
            for (int t = 0; t < 4; ++t)
                threads.emplace_back([&, t] {
                    for (size_t i = t; i < 400; i += 2)
                        if (tok->encode(texts[i], std::nullopt, true, 128).ids != serial[i]) ++mismatches;
                });
            for (auto& th : threads) th.join();
            QCOMPARE(mismatches.load(), 0);
        }
    }

    // The published tokenizer.json of ten model families (trimmed to what the texts use, see
    // scripts/tokenizer_reference/) against the ids of the Hugging Face `tokenizers` library for texts with
    // controls, unassigned and newest-Unicode code points, U+180E, emoji sequences, CJK, accents, special
    // tokens written in the text, whitespace runs and the empty text. With PTUNE_REAL_TOKENIZERS naming a
    // folder of the untrimmed files (one sub-folder per family), those are checked too.
    void realTokenizersMatchLibrary_data() {
        QTest::addColumn<QString>("family");
        const json exp = expected("tokenizers/real/expected.json");
        for (const auto& [family, ids] : exp.at("ids").items())
            QTest::newRow(family.c_str()) << QString::fromStdString(family);
    }

    void realTokenizersMatchLibrary() {
        QFETCH(QString, family);
        const json exp = expected("tokenizers/real/expected.json");
        const std::string fam = family.toStdString();
        const json& texts = exp.at("texts");
        const json& ids = exp.at("ids").at(fam);
        QCOMPARE(ids.size(), texts.size());
        QVERIFY(texts.size() >= 50);
        std::vector<std::string> files = {kFixtures + "/tokenizers/real/" + fam + "/tokenizer.json"};
        if (const char* full = std::getenv("PTUNE_REAL_TOKENIZERS")) files.push_back(std::string(full) + "/" + fam + "/tokenizer.json");
        for (const auto& file : files) {
            auto tok = Tokenizer::from_json_file(file);
            int bad = 0;
            for (size_t i = 0; i < texts.size(); ++i) {
                const std::string text = texts[i].get<std::string>();
                std::vector<int64_t> got = tok->encode(text, std::nullopt, true).ids, want = ids_of(ids[i]);
                if (got == want) continue;
                ++bad;
                qWarning("%s text %zu %s: got %s, want %s", file.c_str(), i, json(text).dump().c_str(),
                         qPrintable(show(got)), qPrintable(show(want)));
            }
            QCOMPARE(bad, 0);
        }
    }

    // Words already split (token classification): ids, each token's word and its place in the word (offsets)
    // equal the library's pre-tokenized encoding (byte-level families with add_prefix_space=True, as
    // transformers' NER recipes load them).
    void wordsMatchLibrary_data() { realTokenizersMatchLibrary_data(); }

    void wordsMatchLibrary() {
        QFETCH(QString, family);
        const json exp = expected("tokenizers/real/expected.json");
        const std::string fam = family.toStdString();
        const json& lists = exp.at("word_lists");
        const json& ids = exp.at("word_ids").at(fam);
        const json& words = exp.at("words").at(fam);
        QCOMPARE(ids.size(), lists.size());
        auto tok = Tokenizer::from_json_file(kFixtures + "/tokenizers/real/" + fam + "/tokenizer.json");
        int bad = 0;
        for (size_t i = 0; i < lists.size(); ++i) {
            const auto ws = lists[i].get<std::vector<std::string>>();
            Encoding e = tok->encode_words(ws, true);
            const std::vector<int64_t> want = ids_of(ids[i]), want_words = words[i].get<std::vector<int64_t>>();
            QCOMPARE(e.word_ids.size(), e.ids.size());
            if (e.ids == want && e.word_ids == want_words) continue;
            ++bad;
            qWarning("%s list %zu: got %s words %s, want %s words %s", fam.c_str(), i, qPrintable(show(e.ids)),
                     qPrintable(show(e.word_ids)), qPrintable(show(want)), qPrintable(show(want_words)));
        }
        QCOMPARE(bad, 0);
        // Each token's place in its word: the library's offsets (code points within the word) as bytes.
        const json& offs = exp.at("word_offsets").at(fam);
        auto byte_at = [](const std::string& w, int64_t cp) {
            size_t i = 0;
            for (int64_t k = 0; k < cp && i < w.size(); ++k) {
                const auto c = static_cast<unsigned char>(w[i]);
                i += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
            }
            return static_cast<int64_t>(i);
        };
        for (size_t i = 0; i < lists.size(); ++i) {
            const auto ws = lists[i].get<std::vector<std::string>>();
            Encoding e = tok->encode_words(ws, true);
            QCOMPARE(e.offsets.size(), e.ids.size());
            std::vector<std::pair<int64_t, int64_t>> want;
            for (size_t k = 0; k < offs[i].size(); ++k) {
                const int64_t w = words[i][k].get<int64_t>();
                const int64_t a = offs[i][k][0].get<int64_t>(), b = offs[i][k][1].get<int64_t>();
                if (w < 0) want.emplace_back(0, 0);
                else want.emplace_back(byte_at(ws[static_cast<size_t>(w)], a), byte_at(ws[static_cast<size_t>(w)], b));
            }
            if (e.offsets == want) continue;
            ++bad;
            QString g, x;
            for (size_t k = 0; k < e.offsets.size(); ++k)
                g += QString(" %1:%2-%3").arg(QString::fromStdString(e.tokens[k])).arg(e.offsets[k].first)
                         .arg(e.offsets[k].second);
            for (const auto& [a, b] : want) x += QString(" %1-%2").arg(a).arg(b);
            qWarning("%s list %zu offsets: got%s, want%s", fam.c_str(), i, qPrintable(g), qPrintable(x));
        }
        QCOMPARE(bad, 0);
        // Every word of the first list has a token, and the specials have none.
        Encoding e = tok->encode_words(lists[0].get<std::vector<std::string>>(), true);
        for (size_t i = 0; i < e.ids.size(); ++i) QCOMPARE(e.word_ids[i] < 0, e.special_mask[i] == 1);
    }

    // The character classes where the library differs from plain Unicode data (see unicode_tables.inc).
    void libraryCharacterClasses() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const json bert_norm = json::parse(R"({"type": "BertNormalizer", "clean_text": true,
            "handle_chinese_chars": true, "strip_accents": false, "lowercase": false})");
        const json ws_split = json::parse(R"({"type": "WhitespaceSplit"})");
        // clean_text removes controls (U+000B, U+000C and U+0085 too) before turning whitespace into ' ';
        // unassigned code points stay (and become [UNK]); \t \n \r and U+3000 are whitespace.
        auto bert = load_json(dir, piece_tokenizer({"ab", "cd", "e", "cde", "\u0378"}, bert_norm, ws_split));
        CHECK_TOKENS(*bert, "a\u000Bb c\u000Cd\u0085e", {"ab", "cde"});
        CHECK_TOKENS(*bert, "ab\tcd\ne\r\u3000ab", {"ab", "cd", "e", "ab"});
        CHECK_TOKENS(*bert, "a\u200Bb \u0378 \U000E0080", {"ab", "\u0378", "[UNK]"});
        // Regex \s is Oniguruma's (White_Space): not U+180E; \p{L} knows letters newer than PCRE2's tables.
        const json replace = json::parse(R"({"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": "_"})");
        const json split_l = json::parse(
            R"({"type": "Split", "pattern": {"Regex": "\\p{L}+"}, "behavior": "Isolated", "invert": false})");
        auto rx = load_json(dir, piece_tokenizer({"a\u180Eb_c"}, replace, nullptr));
        CHECK_TOKENS(*rx, "a\u180Eb \u3000 c", {"a\u180Eb_c"});
        auto letters = load_json(dir, piece_tokenizer({"\U00031350\u1C89", "1"}, nullptr, split_l));
        CHECK_TOKENS(*letters, "\U00031350\u1C891", {"\U00031350\u1C89", "1"});
        // BertPreTokenizer's punctuation is the library's (older) table: U+2E4F is not punctuation there.
        auto pre = load_json(dir, piece_tokenizer({"a\u2E4Fb", "c", ","}, nullptr,
                                                  json::parse(R"({"type": "BertPreTokenizer"})")));
        CHECK_TOKENS(*pre, "a\u2E4Fb c,", {"a\u2E4Fb", "c", ","});
    }
};

QTEST_APPLESS_MAIN(TstTokenizer)
#include "tst_tokenizer.moc"
