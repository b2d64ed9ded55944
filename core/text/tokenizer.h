#pragma once
// Tokenizers equal to the Hugging Face `tokenizers` library for the encoder models ptune supports.
// From tokenizer.json: models WordPiece, BPE (byte-level, GPT-2 regex pre-tokenizer, merges as
// "a b" strings or [a, b] pairs) and Unigram (Viterbi, SentencePiece); normalizers BertNormalizer, Lowercase,
// NFC/NFD/NFKC/NFKD, Precompiled (SentencePiece's compiled rules), StripAccents,
// Strip, Replace, Prepend, Sequence; pre-tokenizers BertPreTokenizer, ByteLevel, Whitespace,
// WhitespaceSplit, Punctuation, Split, Metaspace, Sequence; post-processors BertProcessing,
// RobertaProcessing, TemplateProcessing, ByteLevel, Sequence; added/special tokens (lstrip, rstrip,
// single_word, normalized). Fallbacks when there is no tokenizer.json: vocab.txt (BERT WordPiece with
// do_lower_case from tokenizer_config.json) and vocab.json + merges.txt (RoBERTa byte-level BPE).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/io/error.h"

namespace ptune {

struct Encoding {
    std::vector<int64_t> ids;
    std::vector<int64_t> type_ids;       // token type (segment) ids
    std::vector<std::string> tokens;
    std::vector<int64_t> special_mask;   // 1 for tokens added by the post-processor
    // encode_words(): each token's word (index into the words), -1 for the post-processor's special tokens.
    // Empty from encode().
    std::vector<int64_t> word_ids;
    // encode_words(): each token's byte range [first, second) within its word, as the tokenizers library's offsets
    // for pre-tokenized input (word-relative, offset trimming off); (0, 0) for special tokens. A byte-level token
    // that ends or starts inside a multi-byte character is widened to whole characters; a space the pre-tokenizer
    // or normalizer put before a piece (add_prefix_space, "▁") belongs to the piece's first character, and a token
    // of such spaces alone gets that character; an unknown token covers its pre-tokenized piece. Equal to the
    // library on the real tokenizers' word lists (tests/fixtures/tokenizers/real). Where the normalizer changes a
    // word in a way that cannot be traced character by character (NFC composing across characters, ...), every
    // token of that word gets the whole word. Empty from encode().
    std::vector<std::pair<int64_t, int64_t>> offsets;
    // post_process(): 0 or 1 for the tokens of the first or second sequence, -1 for the added special tokens.
    std::vector<int64_t> sequence_ids;
};

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // Loads tokenizer.json from `dir`, else the vocab.txt / vocab.json+merges.txt fallbacks.
    // Throws ptune::Error naming the file and field when it cannot.
    static std::unique_ptr<Tokenizer> from_dir(const std::string& dir);
    static std::unique_ptr<Tokenizer> from_json_file(const std::string& path);

    // Encodes `text` (and `pair` when given). With add_special the post-processor adds [CLS]/[SEP] etc.
    // max_len > 0 truncates like transformers' truncation=True (longest_first for pairs), counting the
    // special tokens, so the result has at most max_len ids.
    virtual Encoding encode(const std::string& text, const std::optional<std::string>& pair = std::nullopt,
                            bool add_special = true, int max_len = 0) const = 0;
    // Words already split (transformers' is_split_into_words=True, the tokenizers library's is_pretokenized):
    // each word goes through added-token matching, the normalizer, the pre-tokenizer and the model on its own,
    // then the post-processor adds the special tokens; word_ids maps tokens to words. A byte-level BPE tokenizer
    // (GPT-2, RoBERTa, ...) puts a space before each word, as transformers' token-classification recipes ask
    // (add_prefix_space=True): a word is then tokenized as it is inside running text. No truncation: callers
    // cut long sentences into windows at word boundaries.
    virtual Encoding encode_words(const std::vector<std::string>& words, bool add_special = true) const = 0;
    // The post-processor (special tokens, type ids) over sequences already encoded without special tokens, as
    // the tokenizers library's post_process: `first` (and `second`) keep their word_ids and offsets (specials get
    // -1 and (0, 0)); sequence_ids tells the parts apart. Used to assemble windows of a long text with a
    // question (extractive QA) without tokenizing again.
    virtual Encoding post_process(const Encoding& first, const std::optional<Encoding>& second,
                                  bool add_special = true) const = 0;
    // encode() of each text (no pairs). Safe to call from several threads at once, as is encode().
    virtual std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, bool add_special = true,
                                               int max_len = 0) const;
    // Ids back to text through the tokenizer's decoder (ByteLevel, WordPiece, Metaspace, ...), like
    // `tokenizers` decode(); skip_special_tokens drops the special added tokens.
    virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const = 0;

    virtual int64_t pad_id() const = 0;          // id of the pad token (0 when none is defined)
    virtual int64_t vocab_size() const = 0;      // including added tokens (len(tokenizer) in transformers)
    virtual std::optional<int64_t> token_to_id(const std::string& token) const = 0;
    virtual std::string id_to_token(int64_t id) const = 0;  // "" for an id outside the vocabulary
    virtual int num_special_tokens(bool pair) const = 0;  // how many the post-processor adds
    virtual bool is_special_id(int64_t id) const = 0;     // an added token marked special ([CLS], <s>, ...)
    virtual std::string describe() const = 0;    // e.g. "WordPiece (BertNormalizer lowercase), 2000 tokens"
};

}  // namespace ptune
