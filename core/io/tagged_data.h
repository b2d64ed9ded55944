#pragma once
// Word-level tagged data for token classification (named-entity recognition, chunking, POS tagging).
//
// CoNLL (.conll, .txt, .iob, .bio, .tsv without JSON; CoNLL-2003's eng.train/eng.testa/eng.testb):
//   - one word per line, its fields split at runs of spaces or tabs; the word is `token_column` (default 0),
//     the tag `tag_column` (default: the line's last field);
//   - a blank line (or a line of only spaces/tabs) ends a sentence; a line whose word is "-DOCSTART-" starts a
//     new document and is not a word (it ends the sentence before it, too);
//   - a UTF-8 byte order mark at the start is dropped; CRLF line ends are accepted.
// JSONL (.jsonl/.json/.ndjson, or a first non-blank character '{'): one sentence per line,
//   {"tokens": [...], "tags": [...]} (the tags key: `tags_key`, else "tags", else "ner_tags"); tags are strings,
//   or integers that index `label_names` (Hugging Face datasets store them so).
//
// Tag schemes (what the tags mean for entity metrics; training uses the tags as they are):
//   IOB2 ("bio"): B- begins every entity; IOB1: I- begins an entity, B- only one that directly follows another of
//   the same type (CoNLL-2003's original files); IOBES: B-, I-, E- (end), S- (single); None: plain tags (POS
//   tags, ...), token accuracy only. Auto detects: any E-/S- tag -> IOBES; a B-X that does not follow a tag of
//   type X -> IOB2; else an I-X that begins an entity (after O, another type or the sentence start) -> IOB1;
//   else IOB2. Tags that are not "O" or PREFIX-TYPE (PREFIX one of B I E S) -> None.
//
// Bad rows (reported "FILE:LINE: reason" with OnBadRow::Stop; else skipped and collected): a CoNLL line with
// fewer fields than the word or tag column needs ("expected at least 4 fields, got 2"); a JSONL line that does not
// parse, is not an object, lacks the tokens or tags key, has a non-string word, a tag that is neither a string nor
// an integer index of label_names, or different numbers of tokens and tags ("3 tokens but 4 tags"); a tag not in
// given label_names ("unknown tag \"B-FOO\" (tags: ...)"); a tag the given scheme does not allow
// ("tag \"E-PER\" is not IOB2"). A skipped CoNLL line drops its whole sentence.
// Errors about the whole file throw at once: cannot open, no sentences ("FILE: no sentences").
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/io/data.h"

namespace ptune {

enum class TagScheme { Auto, IOB2, IOB1, IOBES, None };
const char* tag_scheme_name(TagScheme s);                         // "auto", "iob2", "iob1", "iobes", "none"
std::optional<TagScheme> parse_tag_scheme(const std::string& s);  // also "bio", "bioes" (case-insensitive)

struct TaggedSentence {
    std::vector<std::string> words;
    std::vector<int> tags;   // ids into TaggedDataset::label_names, one per word
    int64_t line = 0;        // 1-based line of the first word (JSONL: the sentence's line)
    int64_t document = 0;    // 0-based document index (-DOCSTART- lines); JSONL: 0
};

enum class TaggedFormat { Auto, CoNLL, JSONL };

struct TaggedOptions {
    TaggedFormat format = TaggedFormat::Auto;
    int token_column = 0;                  // CoNLL
    int tag_column = -1;                   // CoNLL; -1: the last field of each line
    std::string tokens_key = "tokens";     // JSONL
    std::string tags_key;                  // JSONL; empty: "tags", else "ner_tags"
    // Given (a model's id2label, the training set's tags for a validation file): tags map to these ids and any
    // other tag is a bad row. Empty: "O" first (when present), then the other tags sorted by type and then
    // B < I < E < S (entity schemes), or in byte order (None).
    std::vector<std::string> label_names;
    TagScheme scheme = TagScheme::Auto;
    OnBadRow on_bad_row = OnBadRow::Stop;
    int64_t max_sentences = 0;             // 0: all
};

struct TaggedDataset {
    std::string path;
    std::vector<TaggedSentence> sentences;
    std::vector<std::string> label_names;
    TagScheme scheme = TagScheme::IOB2;    // as given, or as detected
    int64_t documents = 0;                 // -DOCSTART- lines seen (CoNLL)
    std::vector<BadRow> bad_rows;
    int64_t word_count() const;
    // The tags of every sentence as strings (what the metrics take).
    std::vector<std::vector<std::string>> tag_strings() const;
};

TaggedDataset load_tagged(const std::string& path, const TaggedOptions& opt);

// Whether a file looks like word-level tagged data: JSONL with a "tokens" list, or CoNLL-style lines (two or more
// whitespace-separated fields, blank lines between sentences, no tabs inside longer texts). Reads the first 64 KiB.
bool looks_like_tagged_data(const std::string& path);

// Tag names in the reader's order: "O" first, then by type and B < I < E < S (entity schemes), else byte order.
std::vector<std::string> sort_tag_names(std::vector<std::string> names, TagScheme scheme);

// The scheme of tag sequences by the rules above (never Auto).
TagScheme detect_tag_scheme(const std::vector<std::vector<std::string>>& sequences);
// Whether every tag is "O" or PREFIX-TYPE with PREFIX one of B I E S (an entity tag set).
bool is_entity_tag(const std::string& tag);

// A seeded split of the sentences (the same shuffle as split_dataset).
std::pair<TaggedDataset, TaggedDataset> split_tagged(const TaggedDataset& d, double fraction, uint64_t seed);

}  // namespace ptune
