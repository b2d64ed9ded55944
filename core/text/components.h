#pragma once
// The pieces of a Hugging Face style tokenization pipeline: normalizers, pre-tokenizers, models and
// post-processors, each built from its tokenizer.json section. Internal to ptune_text.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/io/json_util.h"
#include "core/text/regex.h"

namespace ptune::text {

// ---------------------------------------------------------------------------------------------
// Normalizers: string -> string.
class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual void normalize(std::string& s) const = 0;
    virtual std::string describe() const = 0;
};

// `where` is the file name, `path` the JSON path of `j` (e.g. "normalizer" or "normalizer.normalizers[1]").
std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where, const std::string& path);
// SentencePiece's compiled rules (`precompiled_charsmap`), as the library's Precompiled normalizer applies them.
std::unique_ptr<Normalizer> make_precompiled(const json& j, const std::string& where, const std::string& path);
std::unique_ptr<Normalizer> make_bert_normalizer(bool clean_text, bool handle_chinese_chars,
                                                 std::optional<bool> strip_accents, bool lowercase);

// ---------------------------------------------------------------------------------------------
// Pre-tokenizers work on a list of splits; splits that already carry a token (added tokens) are
// left alone.
struct Split {
    std::string text;
    int64_t id = -1;            // >= 0: an added token matched here
    bool at_origin = false;     // starts at offset 0 of the original input (Metaspace prepend_scheme "first")
};

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    virtual void pre_tokenize(std::vector<Split>& splits) const = 0;
    virtual std::string describe() const = 0;
    virtual bool byte_level() const { return false; }   // a ByteLevel pre-tokenizer (alone or in a Sequence)
    // Whether it removes what it splits at (white space: Bert, WhitespaceSplit, Whitespace; a Split with behavior
    // "removed"): a space before a piece's first character is then not part of any token.
    virtual bool drops_whitespace() const { return false; }
};

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where, const std::string& path);
std::unique_ptr<PreTokenizer> make_bert_pre_tokenizer();
std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex);

// ---------------------------------------------------------------------------------------------
// Models: one pre-tokenized word -> tokens.
struct Token {
    int64_t id;
    std::string value;
};

class Model {
public:
    virtual ~Model() = default;
    virtual void tokenize(std::string_view word, std::vector<Token>& out) const = 0;
    virtual std::optional<int64_t> token_to_id(const std::string& token) const = 0;
    virtual std::optional<std::string> id_to_token(int64_t id) const = 0;
    virtual size_t vocab_size() const = 0;
    virtual const std::unordered_map<std::string, int64_t>& vocab() const = 0;
    virtual std::string name() const = 0;
    // The token that stands for what the vocabulary cannot spell (a whole pre-tokenized word for WordPiece).
    virtual std::optional<std::string> unk_token() const { return std::nullopt; }
};

using Vocab = std::unordered_map<std::string, int64_t>;

struct WordPieceConfig {
    std::string unk_token = "[UNK]";
    std::string continuing_subword_prefix = "##";
    size_t max_input_chars_per_word = 100;
};
std::unique_ptr<Model> make_wordpiece(Vocab vocab, WordPieceConfig cfg, const std::string& where);

struct BpeConfig {
    std::optional<std::string> unk_token;
    std::optional<std::string> continuing_subword_prefix;
    std::optional<std::string> end_of_word_suffix;
    bool fuse_unk = false;
    bool byte_fallback = false;
    bool ignore_merges = false;
};
// `merges` in rank order; `merge_at(i)` names merge i for errors ("tokenizer.json: model.merges[3]").
std::unique_ptr<Model> make_bpe(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                                BpeConfig cfg, const std::function<std::string(size_t)>& merge_at);
// Splits a merges line "a b" into its two parts (exactly one space); false when it has another shape.
bool split_merge_line(const std::string& line, std::pair<std::string, std::string>& out);

// The Unigram model from its tokenizer.json section (vocab [[piece, score], ...], unk_id, byte_fallback).
std::unique_ptr<Model> make_unigram(const json& j, const std::string& where, const std::string& path);

// Reads a token -> id object (tokenizer.json model.vocab, vocab.json).
Vocab read_vocab_json(const json& j, const std::string& where, const std::string& field);
std::unique_ptr<Model> make_model(const json& j, const std::string& where, const std::string& path);

// ---------------------------------------------------------------------------------------------
// Post-processors: a list of encodings (the sequence and its pair) -> a list of encodings that are
// then concatenated.
struct Enc {
    std::vector<int64_t> ids;
    std::vector<int64_t> type_ids;
    std::vector<std::string> tokens;
    std::vector<int64_t> special_mask;
};

class PostProcessor {
public:
    virtual ~PostProcessor() = default;
    virtual size_t added_tokens(bool pair) const = 0;
    virtual std::vector<Enc> process(std::vector<Enc> encodings, bool add_special) const = 0;
    virtual std::string describe() const = 0;
};

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& where, const std::string& path);
std::unique_ptr<PostProcessor> make_bert_processing(std::pair<std::string, int64_t> sep,
                                                    std::pair<std::string, int64_t> cls);
std::unique_ptr<PostProcessor> make_roberta_processing(std::pair<std::string, int64_t> sep,
                                                       std::pair<std::string, int64_t> cls);

// JSON helpers shared by the builders: they throw ptune::Error("<where>: <path>.<key> ...").
// The key is a C string so that a literal makes no temporary (GCC 13+ would take the result for a dangling one).
const json& need(const json& j, const char* key, const std::string& where, const std::string& path);
std::string need_string(const json& j, const std::string& key, const std::string& where, const std::string& path);
bool opt_bool(const json& j, const std::string& key, bool def, const std::string& where, const std::string& path);
std::optional<std::string> opt_string(const json& j, const std::string& key, const std::string& where,
                                      const std::string& path);
// Reads `pattern`: {"String": s} (matched literally) or {"Regex": r}; returns the regex source.
std::string read_pattern(const json& j, const std::string& where, const std::string& path);
// GPT-2's bytes_to_unicode table: the UTF-8 of the printable character standing for byte b.
const std::string& byte_to_unicode(unsigned char b);
[[noreturn]] void unsupported_type(const std::string& where, const std::string& path, const std::string& type,
                                   const std::string& supported);

}  // namespace ptune::text
