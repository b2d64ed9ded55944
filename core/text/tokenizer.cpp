// ptune::Tokenizer: the Hugging Face `tokenizers` pipeline (added tokens -> normalizer ->
// pre-tokenizer -> model -> truncation -> post-processor) and its loaders.
#include "core/text/tokenizer.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <unordered_set>

#include "core/io/json_util.h"
#include "core/text/components.h"
#include "core/text/decoders.h"
#include "core/text/unicode.h"

namespace ptune {

namespace {

using namespace text;
namespace fs = std::filesystem;

struct AddedToken {
    std::string content;
    bool special = false;
    bool normalized = true;
    bool lstrip = false;
    bool rstrip = false;
    bool single_word = false;
};

// Leftmost-longest matching of a set of byte strings (aho-corasick's MatchKind::LeftmostLongest).
class MatchSet {
public:
    void build(const std::vector<std::pair<std::string, int64_t>>& patterns) {
        nodes_.assign(1, Node{});
        first_.fill(false);
        for (const auto& [pat, id] : patterns) {
            if (pat.empty()) continue;
            int n = 0;
            for (unsigned char c : pat) {
                int child = nodes_[n].child(c);
                if (child < 0) {
                    child = static_cast<int>(nodes_.size());
                    nodes_[n].next.emplace_back(c, child);
                    nodes_.push_back(Node{});
                }
                n = child;
            }
            if (nodes_[n].id < 0) nodes_[n].id = id;
            first_[static_cast<unsigned char>(pat[0])] = true;
        }
        empty_ = nodes_.size() == 1;
    }
    bool empty() const { return empty_; }

    // The leftmost-longest match starting at or after `pos`.
    bool find(std::string_view s, size_t pos, size_t& b, size_t& e, int64_t& id) const {
        for (size_t p = pos; p < s.size(); ++p) {
            if (!first_[static_cast<unsigned char>(s[p])]) continue;
            int n = 0;
            int64_t best = -1;
            size_t best_end = 0;
            for (size_t q = p; q < s.size(); ++q) {
                n = nodes_[n].child(static_cast<unsigned char>(s[q]));
                if (n < 0) break;
                if (nodes_[n].id >= 0) {
                    best = nodes_[n].id;
                    best_end = q + 1;
                }
            }
            if (best >= 0) {
                b = p;
                e = best_end;
                id = best;
                return true;
            }
        }
        return false;
    }

private:
    struct Node {
        std::vector<std::pair<unsigned char, int>> next;
        int64_t id = -1;
        int child(unsigned char c) const {
            for (const auto& [k, v] : next)
                if (k == c) return v;
            return -1;
        }
    };
    std::vector<Node> nodes_{Node{}};
    std::array<bool, 256> first_{};
    bool empty_ = true;
};

bool ends_with_word(std::string_view s) {
    if (s.empty()) return false;
    size_t i = s.size() - 1;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
    size_t k = i;
    return is_word_char(next_cp(s, k));
}

bool starts_with_word(std::string_view s) {
    if (s.empty()) return false;
    size_t k = 0;
    return is_word_char(next_cp(s, k));
}

// Byte offset where the trailing whitespace of s begins.
size_t trailing_space_start(std::string_view s) {
    size_t start = s.size();
    size_t i = 0, run_start = 0;
    bool in_run = false;
    while (i < s.size()) {
        size_t at = i;
        bool ws = is_whitespace(next_cp(s, i));
        if (ws && !in_run) {
            run_start = at;
            in_run = true;
        } else if (!ws) {
            in_run = false;
        }
    }
    if (in_run) start = run_start;
    return start;
}

size_t leading_space_len(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        size_t at = i;
        if (!is_whitespace(next_cp(s, i))) return at;
    }
    return s.size();
}

void truncate_enc(Enc& e, size_t n) {
    if (e.ids.size() <= n) return;
    e.ids.resize(n);
    e.type_ids.resize(n);
    e.tokens.resize(n);
    e.special_mask.resize(n);
}

// utils/truncation.rs truncate_encodings, LongestFirst, direction right, stride 0.
void truncate_longest_first(Enc& a, Enc* b, size_t max_length) {
    if (max_length == 0) {
        truncate_enc(a, 0);
        if (b) truncate_enc(*b, 0);
        return;
    }
    size_t total = a.ids.size() + (b ? b->ids.size() : 0);
    if (total <= max_length) return;
    if (!b) {
        truncate_enc(a, max_length);
        return;
    }
    size_t n1 = a.ids.size(), n2 = b->ids.size();
    bool swap = false;
    if (n1 > n2) {
        swap = true;
        std::swap(n1, n2);
    }
    if (n1 > max_length)
        n2 = n1;
    else
        n2 = std::max(n1, max_length - n1);
    if (n1 + n2 > max_length) {
        n1 = max_length / 2;
        n2 = n1 + max_length % 2;
    }
    if (swap) std::swap(n1, n2);
    truncate_enc(a, n1);
    truncate_enc(*b, n2);
}

std::string token_content(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
    return std::string();
}

class TokenizerImpl final : public Tokenizer {
public:
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> pre_tokenizer;
    // For encode_words() of a byte-level tokenizer: the same pre-tokenizer with ByteLevel's add_prefix_space on.
    std::unique_ptr<PreTokenizer> word_pre_tokenizer;
    std::unique_ptr<Model> model;
    std::unique_ptr<PostProcessor> post;
    std::unique_ptr<Decoder> decoder;
    std::string source;  // "tokenizer.json", "vocab.txt", "vocab.json + merges.txt"

    // AddedVocabulary::add_tokens: the id is the existing one (added, then model) or the next free one.
    void add_token(const AddedToken& t) {
        if (t.content.empty()) return;
        int64_t id;
        auto it = added_ids_.find(t.content);
        if (it != added_ids_.end()) {
            id = it->second;
        } else if (auto mid = model->token_to_id(t.content)) {
            id = *mid;
        } else {
            int64_t vsize = static_cast<int64_t>(model->vocab_size());
            if (!max_added_id_)
                id = vsize;
            else
                id = (*max_added_id_ >= vsize || vsize == 0) ? *max_added_id_ + 1 : vsize;
        }
        added_ids_[t.content] = id;
        added_tokens_[id] = t;
        max_added_id_ = std::max(max_added_id_.value_or(id), id);
        if (ordered_.insert(t.content).second) order_.push_back(t.content);
    }

    // refresh_added_tokens: the raw and the normalized match sets.
    void finish() {
        std::vector<std::pair<std::string, int64_t>> raw, norm;
        // Special tokens first, then the others, each in the order given.
        for (int pass = 0; pass < 2; ++pass) {
            for (const auto& content : order_) {
                int64_t id = added_ids_.at(content);
                const AddedToken& t = added_tokens_.at(id);
                if (t.special != (pass == 0)) continue;
                if (t.normalized) {
                    std::string n = t.content;
                    if (normalizer) normalizer->normalize(n);
                    norm.emplace_back(n, id);
                } else {
                    raw.emplace_back(t.content, id);
                }
            }
        }
        raw_set_.build(raw);
        norm_set_.build(norm);

        std::unordered_set<std::string> extra;
        for (const auto& [content, id] : added_ids_)
            if (!model->token_to_id(content)) extra.insert(content);
        vocab_size_ = static_cast<int64_t>(model->vocab_size() + extra.size());
        if (!pad_id_) {
            for (const char* name : {"[PAD]", "<pad>", "<|pad|>", "<|padding|>"})
                if (auto id = token_to_id(name)) {
                    pad_id_ = *id;
                    break;
                }
        }
    }

    void set_pad_token(const std::string& token) {
        if (auto id = token_to_id(token)) pad_id_ = *id;
    }
    void set_pad_id(int64_t id) { pad_id_ = id; }

    Encoding encode(const std::string& text, const std::optional<std::string>& pair, bool add_special,
                    int max_len) const override {
        Enc a = encode_one(text, 0);
        std::optional<Enc> b;
        if (pair) b = encode_one(*pair, 1);
        if (max_len > 0) {
            size_t limit = static_cast<size_t>(max_len);
            size_t n_added = (add_special && post) ? post->added_tokens(b.has_value()) : 0;
            if (n_added > 0) limit = limit > n_added ? limit - n_added : 0;
            truncate_longest_first(a, b ? &*b : nullptr, limit);
        }
        std::vector<Enc> encs;
        encs.push_back(std::move(a));
        if (b) encs.push_back(std::move(*b));
        if (post) encs = post->process(std::move(encs), add_special);
        Encoding out = concat(encs);
        return out;
    }

    Encoding encode_words(const std::vector<std::string>& words, bool add_special) const override {
        const PreTokenizer* pre = word_pre_tokenizer ? word_pre_tokenizer.get() : pre_tokenizer.get();
        Enc all;
        std::vector<int64_t> word_of;
        std::vector<std::pair<int64_t, int64_t>> offsets;
        for (size_t w = 0; w < words.size(); ++w) {
            Enc e = encode_one(words[w], 0, pre);
            word_offsets(words[w], e.tokens, offsets);
            all.ids.insert(all.ids.end(), e.ids.begin(), e.ids.end());
            all.tokens.insert(all.tokens.end(), std::make_move_iterator(e.tokens.begin()),
                              std::make_move_iterator(e.tokens.end()));
            word_of.insert(word_of.end(), e.ids.size(), static_cast<int64_t>(w));
        }
        all.type_ids.assign(all.ids.size(), 0);
        all.special_mask.assign(all.ids.size(), 0);
        std::vector<Enc> encs;
        encs.push_back(std::move(all));
        if (post) encs = post->process(std::move(encs), add_special);
        Encoding out = concat(encs);
        // The post-processor only adds tokens (marked in special_mask) around the words' tokens, in order.
        out.word_ids.assign(out.ids.size(), -1);
        out.offsets.assign(out.ids.size(), {0, 0});
        size_t k = 0;
        for (size_t i = 0; i < out.ids.size() && k < word_of.size(); ++i) {
            if (out.special_mask[i]) continue;
            out.offsets[i] = offsets[k];
            out.word_ids[i] = word_of[k++];
        }
        return out;
    }

    Encoding post_process(const Encoding& first, const std::optional<Encoding>& second,
                          bool add_special) const override {
        std::vector<Enc> encs;
        const Encoding* parts[2] = {&first, second ? &*second : nullptr};
        for (int p = 0; p < 2; ++p) {
            if (!parts[p]) continue;
            Enc e;
            e.ids = parts[p]->ids;
            e.tokens = parts[p]->tokens;
            e.type_ids.assign(e.ids.size(), p);
            e.special_mask.assign(e.ids.size(), 0);
            encs.push_back(std::move(e));
        }
        if (post) encs = post->process(std::move(encs), add_special);
        Encoding out = concat(encs);
        const size_t n = out.ids.size();
        out.word_ids.assign(n, -1);
        out.offsets.assign(n, {0, 0});
        out.sequence_ids.assign(n, -1);
        // The post-processor only adds tokens around the parts, which keep their order.
        int p = 0;
        size_t k = 0;
        for (size_t i = 0; i < n; ++i) {
            if (out.special_mask[i]) continue;
            while (p < 2 && (!parts[p] || k >= parts[p]->ids.size())) {
                ++p;
                k = 0;
            }
            if (p >= 2) break;
            const Encoding& src = *parts[p];
            out.sequence_ids[i] = p;
            if (k < src.word_ids.size()) out.word_ids[i] = src.word_ids[k];
            if (k < src.offsets.size()) out.offsets[i] = src.offsets[k];
            ++k;
        }
        return out;
    }

    std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const override {
        std::vector<std::string> tokens;
        tokens.reserve(ids.size());
        for (int64_t id : ids) {
            auto at = added_tokens_.find(id);
            if (at != added_tokens_.end()) {
                if (skip_special_tokens && at->second.special) continue;
                tokens.push_back(at->second.content);
            } else if (auto t = model->id_to_token(id)) {
                tokens.push_back(*t);
            }
        }
        if (!decoder) {
            std::string s;
            for (size_t i = 0; i < tokens.size(); ++i) s += (i ? " " : "") + tokens[i];
            return s;
        }
        return decoder->decode(tokens);
    }

    int64_t pad_id() const override { return pad_id_.value_or(0); }
    int64_t vocab_size() const override { return vocab_size_; }

    std::optional<int64_t> token_to_id(const std::string& token) const override {
        auto it = added_ids_.find(token);
        if (it != added_ids_.end()) return it->second;
        return model->token_to_id(token);
    }

    std::string id_to_token(int64_t id) const override {
        auto it = added_tokens_.find(id);
        if (it != added_tokens_.end()) return it->second.content;
        return model->id_to_token(id).value_or(std::string());
    }

    int num_special_tokens(bool pair) const override {
        return post ? static_cast<int>(post->added_tokens(pair)) : 0;
    }

    bool is_special_id(int64_t id) const override {
        auto it = added_tokens_.find(id);
        return it != added_tokens_.end() && it->second.special;
    }

    std::string describe() const override {
        std::string parts;
        if (normalizer) parts = normalizer->describe();
        if (pre_tokenizer && pre_tokenizer->describe() != "BertPreTokenizer")
            parts += (parts.empty() ? "" : ", ") + pre_tokenizer->describe();
        if (source != "tokenizer.json") parts += (parts.empty() ? "from " : ", from ") + source;
        std::string d = model->name();
        if (!parts.empty()) d += " (" + parts + ")";
        return d + ", " + std::to_string(vocab_size_) + " tokens";
    }

private:
    // The post-processor's encodings, one after the other.
    static Encoding concat(std::vector<Enc>& encs) {
        Encoding out;
        for (auto& e : encs) {
            out.ids.insert(out.ids.end(), e.ids.begin(), e.ids.end());
            out.type_ids.insert(out.type_ids.end(), e.type_ids.begin(), e.type_ids.end());
            out.tokens.insert(out.tokens.end(), std::make_move_iterator(e.tokens.begin()),
                              std::make_move_iterator(e.tokens.end()));
            out.special_mask.insert(out.special_mask.end(), e.special_mask.begin(), e.special_mask.end());
        }
        return out;
    }

    // What a token stands for in the normalized text: byte-level characters back to bytes, SentencePiece's
    // U+2581 to a space, <0xNN> byte-fallback tokens to their byte. `strip` also drops a continuing-subword
    // prefix ("##") or an end-of-word suffix ("</w>").
    std::string token_surface(const std::string& tok, bool strip) const {
        static const std::unordered_map<std::string, unsigned char> from_unicode = [] {
            std::unordered_map<std::string, unsigned char> m;
            for (int b = 0; b < 256; ++b) m[byte_to_unicode(static_cast<unsigned char>(b))] = static_cast<unsigned char>(b);
            return m;
        }();
        std::string t = tok;
        if (strip) {
            if (t.size() > 2 && t.compare(0, 2, "##") == 0) t.erase(0, 2);
            else if (t.size() > 4 && t.compare(t.size() - 4, 4, "</w>") == 0) t.erase(t.size() - 4);
        }
        if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
            const std::string hex = t.substr(3, 2);
            if (std::isxdigit(static_cast<unsigned char>(hex[0])) && std::isxdigit(static_cast<unsigned char>(hex[1])))
                return std::string(1, static_cast<char>(std::stoi(hex, nullptr, 16)));
        }
        std::string out;
        if (pre_tokenizer && pre_tokenizer->byte_level()) {
            size_t i = 0;
            bool all = true;
            std::string bytes;
            while (i < t.size()) {
                const size_t n = std::min(utf8_len(static_cast<unsigned char>(t[i])), t.size() - i);
                auto it = from_unicode.find(t.substr(i, n));
                if (it == from_unicode.end()) {
                    all = false;
                    break;
                }
                bytes += static_cast<char>(it->second);
                i += n;
            }
            if (all) return bytes;
        }
        static const std::string meta = "\xE2\x96\x81";  // U+2581
        for (size_t i = 0; i < t.size();) {
            if (t.compare(i, meta.size(), meta) == 0) {
                out += ' ';
                i += meta.size();
            } else {
                out += t[i++];
            }
        }
        return out;
    }

    // Each token's byte range within `word` (see Encoding::offsets), appended to `out`.
    void word_offsets(const std::string& word, const std::vector<std::string>& tokens,
                      std::vector<std::pair<int64_t, int64_t>>& out) const {
        const int64_t whole = static_cast<int64_t>(word.size());
        const size_t base = out.size();
        out.resize(base + tokens.size(), {0, whole});
        if (tokens.empty()) return;
        // The normalized word, and for each of its bytes the original character it came from: each character is
        // normalized alone; when that gives the whole word's normalization, the trace is exact. A normalizer that
        // prepends (Llama 2's "▁") puts its prefix before each character alone: it is taken off them and aligned
        // with the first character, as the library aligns what it prepends. SentencePiece's "▁" reads as a space.
        static const std::string meta = "\xE2\x96\x81";  // U+2581
        auto spaces = [](std::string t) {
            for (size_t i; (i = t.find(meta)) != std::string::npos;) t.replace(i, meta.size(), " ");
            return t;
        };
        const std::string w = sanitize_utf8(word);
        if (w.size() != word.size()) return;
        std::string norm = w;
        if (normalizer) normalizer->normalize(norm);
        norm = spaces(norm);
        std::string prefix;
        if (normalizer) {
            std::string probe = "a";
            normalizer->normalize(probe);
            probe = spaces(probe);
            if (probe.size() > 1 && probe.back() == 'a' && norm.rfind(probe.substr(0, probe.size() - 1), 0) == 0)
                prefix = probe.substr(0, probe.size() - 1);
        }
        std::vector<std::pair<int64_t, int64_t>> origin;   // per normalized byte: the source character's range
        {
            std::string joined = prefix;
            const size_t first_end = w.empty() ? 0 : std::min(utf8_len(static_cast<unsigned char>(w[0])), w.size());
            origin.assign(prefix.size(), {0, static_cast<int64_t>(first_end)});
            for (size_t i = 0; i < w.size();) {
                const size_t n = std::min(utf8_len(static_cast<unsigned char>(w[i])), w.size() - i);
                std::string c = w.substr(i, n);
                if (normalizer) normalizer->normalize(c);
                c = spaces(c);
                if (!prefix.empty() && c.rfind(prefix, 0) == 0) c.erase(0, prefix.size());
                joined += c;
                origin.insert(origin.end(), c.size(), {static_cast<int64_t>(i), static_cast<int64_t>(i + n)});
                i += n;
            }
            if (joined != norm) return;   // not traceable: whole word for each token
        }
        const PreTokenizer* pre = word_pre_tokenizer ? word_pre_tokenizer.get() : pre_tokenizer.get();
        const bool drops = pre && pre->drops_whitespace();
        auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
        auto char_end = [&](size_t q) {
            return std::min(norm.size(), q + utf8_len(static_cast<unsigned char>(norm[q])));
        };
        const std::optional<std::string> unk = model->unk_token();
        size_t p = 0;
        std::vector<std::pair<size_t, size_t>> spans;
        for (size_t k = 0; k < tokens.size(); ++k) {
            bool matched = false;
            for (bool strip : {false, true}) {
                const std::string s = token_surface(tokens[k], strip);
                size_t lead_max = 0;   // prefix spaces (the pre-tokenizer may have added them)
                while (lead_max < s.size() && s[lead_max] == ' ') ++lead_max;
                size_t q = p;
                if (drops || (!s.empty() && !is_space(s[0])))
                    while (q < norm.size() && is_space(norm[q])) ++q;
                if (lead_max == s.size() && lead_max > 0) {
                    // A token of spaces only: aligned with the next character, as the library aligns what the
                    // pre-tokenizer prepends to a piece.
                    size_t c = q;
                    while (c < norm.size() && is_space(norm[c])) ++c;
                    if (c < norm.size()) spans.emplace_back(c, char_end(c));
                    else spans.emplace_back(p, norm.size());   // only spaces left: they are the token
                    p = q;
                    matched = true;
                    break;
                }
                // The fewest prefix spaces dropped that make the rest match.
                for (size_t lead = 0; lead <= lead_max && !matched; ++lead) {
                    const size_t len = s.size() - lead;
                    if (len > 0 && norm.compare(q, len, s, lead, len) == 0) {
                        spans.emplace_back(q, q + len);
                        p = q + len;
                        matched = true;
                    }
                }
                if (matched) break;
            }
            if (!matched && unk && tokens[k] == *unk) {
                // The unknown token spells nothing: it stands for the rest of its pre-tokenized piece (up to white
                // space, or one punctuation character), as the library's offsets give it.
                size_t q = p;
                while (q < norm.size() && is_space(norm[q])) ++q;
                if (q >= norm.size()) return;
                auto punct_at = [&](size_t i) { return text::is_bert_punctuation(text::next_cp(norm, i)); };
                size_t e = char_end(q);
                if (!punct_at(q))
                    while (e < norm.size() && !is_space(norm[e]) && !punct_at(e)) e = char_end(e);
                spans.emplace_back(q, e);
                p = e;
                matched = true;
            }
            if (!matched) return;
        }
        for (size_t k = 0; k < tokens.size(); ++k) {
            auto [b, e] = spans[k];
            if (b >= e || b >= origin.size()) {
                const int64_t at = b < origin.size() ? origin[b].first : whole;
                out[base + k] = {at, at};
                continue;
            }
            out[base + k] = {origin[b].first, origin[std::min(e, origin.size()) - 1].second};
        }
    }

    // AddedVocabulary::find_matches + split_with_indices: pieces of `text` around the added tokens
    // of `set`, appended to `out` (empty pieces dropped).
    void split_added(std::string& text, const MatchSet& set, bool at_origin, std::vector<Split>& out) const {
        if (text.empty()) return;
        if (set.empty()) {
            Split s;
            s.text = std::move(text);
            s.at_origin = at_origin;
            out.push_back(std::move(s));
            return;
        }
        std::string_view sv(text);
        size_t start_offset = 0, pos = 0;
        size_t mb = 0, me = 0;
        int64_t id = -1;
        auto push_text = [&](size_t b, size_t e) {
            if (e <= b) return;
            Split s;
            s.text = text.substr(b, e - b);
            s.at_origin = at_origin && b == 0;
            out.push_back(std::move(s));
        };
        while (pos < sv.size() && set.find(sv, pos, mb, me, id)) {
            pos = me;
            size_t start = mb, stop = me;
            const AddedToken& t = added_tokens_.at(id);
            if (t.single_word) {
                bool start_space = start == 0 || !ends_with_word(sv.substr(0, start));
                bool stop_space = stop == sv.size() || !starts_with_word(sv.substr(stop));
                if (!start_space || !stop_space) continue;
            }
            if (t.lstrip) start = std::max(trailing_space_start(sv.substr(0, start)), start_offset);
            if (t.rstrip) stop += leading_space_len(sv.substr(stop));
            start = std::max(start, start_offset);
            push_text(start_offset, start);
            Split s;
            s.text = text.substr(start, stop - start);
            s.id = id;
            s.at_origin = at_origin && start == 0;
            out.push_back(std::move(s));
            start_offset = stop;
            pos = std::max(pos, stop);
        }
        push_text(start_offset, sv.size());
    }

    Enc encode_one(const std::string& input, int64_t type_id) const { return encode_one(input, type_id, pre_tokenizer.get()); }
    Enc encode_one(const std::string& input, int64_t type_id, const PreTokenizer* pre) const {
        std::string text = sanitize_utf8(input);
        std::vector<Split> first;
        split_added(text, raw_set_, true, first);
        std::vector<Split> splits;
        splits.reserve(first.size());
        for (auto& s : first) {
            if (s.id >= 0) {
                splits.push_back(std::move(s));
                continue;
            }
            if (normalizer) normalizer->normalize(s.text);
            split_added(s.text, norm_set_, s.at_origin, splits);
        }
        if (pre) pre->pre_tokenize(splits);
        Enc e;
        std::vector<Token> toks;
        for (auto& s : splits) {
            if (s.id >= 0) {
                e.ids.push_back(s.id);
                e.tokens.push_back(std::move(s.text));
                continue;
            }
            toks.clear();
            model->tokenize(s.text, toks);
            for (auto& t : toks) {
                e.ids.push_back(t.id);
                e.tokens.push_back(std::move(t.value));
            }
        }
        e.type_ids.assign(e.ids.size(), type_id);
        e.special_mask.assign(e.ids.size(), 0);
        return e;
    }

    std::unordered_map<std::string, int64_t> added_ids_;
    std::unordered_map<int64_t, AddedToken> added_tokens_;
    std::vector<std::string> order_;  // contents in the order they were added
    std::unordered_set<std::string> ordered_;
    std::optional<int64_t> max_added_id_;
    MatchSet raw_set_, norm_set_;
    std::optional<int64_t> pad_id_;
    int64_t vocab_size_ = 0;
};

AddedToken read_added_token(const json& t, const std::string& where, const std::string& path) {
    AddedToken a;
    a.content = need_string(t, "content", where, path);
    a.special = opt_bool(t, "special", false, where, path);
    a.normalized = opt_bool(t, "normalized", !a.special, where, path);
    a.lstrip = opt_bool(t, "lstrip", false, where, path);
    a.rstrip = opt_bool(t, "rstrip", false, where, path);
    a.single_word = opt_bool(t, "single_word", false, where, path);
    return a;
}

std::unique_ptr<TokenizerImpl> load_tokenizer_json(const std::string& path) {
    const json j = read_json_file(path);
    const std::string where = path;
    if (!j.is_object()) throw Error(where + ": the top level must be an object");
    auto t = std::make_unique<TokenizerImpl>();
    t->source = "tokenizer.json";
    t->model = make_model(need(j, "model", where, "tokenizer"), where, "model");
    auto section = [&](const char* key) -> const json* {
        auto it = j.find(key);
        return (it == j.end() || it->is_null()) ? nullptr : &*it;
    };
    if (auto n = section("normalizer")) t->normalizer = make_normalizer(*n, where, "normalizer");
    if (auto p = section("pre_tokenizer")) {
        t->pre_tokenizer = make_pre_tokenizer(*p, where, "pre_tokenizer");
        if (t->pre_tokenizer->byte_level()) {
            json words = *p;
            std::function<void(json&)> prefix = [&](json& q) {
                if (!q.is_object()) return;
                if (q.value("type", "") == "ByteLevel") q["add_prefix_space"] = true;
                if (q.value("type", "") == "Sequence" && q.contains("pretokenizers") && q["pretokenizers"].is_array())
                    for (auto& x : q["pretokenizers"]) prefix(x);
            };
            prefix(words);
            t->word_pre_tokenizer = make_pre_tokenizer(words, where, "pre_tokenizer");
        }
    }
    if (auto p = section("post_processor")) t->post = make_post_processor(*p, where, "post_processor");
    if (auto d = section("decoder")) t->decoder = make_decoder(*d, where, "decoder");
    if (auto a = section("added_tokens")) {
        if (!a->is_array()) throw Error(where + ": added_tokens must be a list");
        for (size_t i = 0; i < a->size(); ++i)
            t->add_token(read_added_token((*a)[i], where, "added_tokens[" + std::to_string(i) + "]"));
    }
    if (auto p = section("padding")) {
        if (p->is_object() && p->contains("pad_id") && (*p)["pad_id"].is_number_integer())
            t->set_pad_id((*p)["pad_id"].get<int64_t>());
    }
    t->finish();
    return t;
}

json read_config(const fs::path& dir) {
    fs::path p = dir / "tokenizer_config.json";
    if (!fs::exists(p)) return json::object();
    json c = read_json_file(p.string());
    if (!c.is_object()) throw Error(p.string() + ": the top level must be an object");
    return c;
}

std::string config_token(const json& cfg, const char* key, const std::string& def) {
    auto it = cfg.find(key);
    if (it == cfg.end() || it->is_null()) return def;
    std::string s = token_content(*it);
    return s.empty() ? def : s;
}

// Tokens listed in tokenizer_config.json's added_tokens_decoder, in id order.
void add_config_tokens(TokenizerImpl& t, const json& cfg, const std::string& where) {
    auto it = cfg.find("added_tokens_decoder");
    if (it == cfg.end() || !it->is_object()) return;
    std::vector<std::pair<long long, const json*>> items;
    for (auto e = it->begin(); e != it->end(); ++e) {
        long long id = 0;
        try {
            id = std::stoll(e.key());
        } catch (const std::exception&) {
            throw Error(where + ": added_tokens_decoder key \"" + e.key() + "\" is not an id");
        }
        items.emplace_back(id, &e.value());
    }
    std::sort(items.begin(), items.end(), [](auto& x, auto& y) { return x.first < y.first; });
    for (const auto& [id, v] : items)
        t.add_token(read_added_token(*v, where, "added_tokens_decoder[\"" + std::to_string(id) + "\"]"));
}

std::unique_ptr<TokenizerImpl> load_bert_vocab(const fs::path& dir) {
    const std::string vocab_path = (dir / "vocab.txt").string();
    const json cfg = read_config(dir);
    const std::string cfg_where = (dir / "tokenizer_config.json").string();
    std::string data = read_text_file(vocab_path);
    Vocab vocab;
    size_t index = 0, pos = 0;
    while (pos < data.size()) {
        size_t nl = data.find('\n', pos);
        std::string line = data.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? data.size() : nl + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        vocab[line] = static_cast<int64_t>(index++);
    }
    if (vocab.empty()) throw Error(vocab_path + ": the vocabulary is empty");

    bool lower = opt_bool(cfg, "do_lower_case", true, cfg_where, "tokenizer_config");
    std::optional<bool> strip;
    if (cfg.contains("strip_accents") && !cfg["strip_accents"].is_null())
        strip = opt_bool(cfg, "strip_accents", false, cfg_where, "tokenizer_config");
    bool chinese = opt_bool(cfg, "tokenize_chinese_chars", true, cfg_where, "tokenizer_config");

    const std::string unk = config_token(cfg, "unk_token", "[UNK]");
    const std::string cls = config_token(cfg, "cls_token", "[CLS]");
    const std::string sep = config_token(cfg, "sep_token", "[SEP]");
    const std::string pad = config_token(cfg, "pad_token", "[PAD]");
    const std::string mask = config_token(cfg, "mask_token", "[MASK]");

    auto t = std::make_unique<TokenizerImpl>();
    t->source = "vocab.txt";
    WordPieceConfig wp;
    wp.unk_token = unk;
    t->model = make_wordpiece(std::move(vocab), wp, vocab_path);
    t->normalizer = make_bert_normalizer(true, chinese, strip, lower);
    t->pre_tokenizer = make_bert_pre_tokenizer();
    t->decoder = make_wordpiece_decoder("##", true);
    for (const auto& s : {pad, unk, cls, sep, mask}) {
        AddedToken a;
        a.content = s;
        a.special = true;
        a.normalized = false;
        t->add_token(a);
    }
    add_config_tokens(*t, cfg, cfg_where);
    auto cls_id = t->token_to_id(cls), sep_id = t->token_to_id(sep);
    if (!cls_id) throw Error(vocab_path + ": the cls_token \"" + cls + "\" is not in the vocabulary");
    if (!sep_id) throw Error(vocab_path + ": the sep_token \"" + sep + "\" is not in the vocabulary");
    t->post = make_bert_processing({sep, *sep_id}, {cls, *cls_id});
    t->set_pad_token(pad);
    t->finish();
    return t;
}

std::unique_ptr<TokenizerImpl> load_roberta_vocab(const fs::path& dir) {
    const std::string vocab_path = (dir / "vocab.json").string();
    const std::string merges_path = (dir / "merges.txt").string();
    const json cfg = read_config(dir);
    const std::string cfg_where = (dir / "tokenizer_config.json").string();
    Vocab vocab = read_vocab_json(read_json_file(vocab_path), vocab_path, "the vocabulary");

    std::string data = read_text_file(merges_path);
    std::vector<std::pair<std::string, std::string>> merges;
    std::vector<size_t> lines;
    size_t pos = 0, line_no = 0;
    while (pos < data.size()) {
        size_t nl = data.find('\n', pos);
        std::string line = data.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? data.size() : nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line.rfind("#version", 0) == 0) continue;
        std::pair<std::string, std::string> m;
        if (!split_merge_line(line, m))
            throw Error(merges_path + ": line " + std::to_string(line_no) + " \"" + line + "\" is not \"a b\"");
        merges.push_back(std::move(m));
        lines.push_back(line_no);
    }

    const std::string bos = config_token(cfg, "bos_token", "<s>");
    const std::string eos = config_token(cfg, "eos_token", "</s>");
    const std::string sep = config_token(cfg, "sep_token", "</s>");
    const std::string cls = config_token(cfg, "cls_token", "<s>");
    const std::string unk = config_token(cfg, "unk_token", "<unk>");
    const std::string pad = config_token(cfg, "pad_token", "<pad>");
    const std::string mask = config_token(cfg, "mask_token", "<mask>");
    bool add_prefix_space = opt_bool(cfg, "add_prefix_space", false, cfg_where, "tokenizer_config");

    auto t = std::make_unique<TokenizerImpl>();
    t->source = "vocab.json + merges.txt";
    t->model = make_bpe(std::move(vocab), merges, BpeConfig{}, [&](size_t i) {
        return merges_path + ": line " + std::to_string(lines[i]);
    });
    t->pre_tokenizer = make_byte_level_pre_tokenizer(add_prefix_space, true);
    t->word_pre_tokenizer = make_byte_level_pre_tokenizer(true, true);
    t->decoder = make_byte_level_decoder();
    for (const auto& s : {bos, pad, eos, unk, sep, cls, mask}) {
        AddedToken a;
        a.content = s;
        a.special = true;
        a.normalized = false;
        a.lstrip = s == mask;  // RobertaTokenizer: AddedToken(mask_token, lstrip=True)
        t->add_token(a);
    }
    add_config_tokens(*t, cfg, cfg_where);
    auto cls_id = t->token_to_id(cls), sep_id = t->token_to_id(sep);
    if (!cls_id) throw Error(vocab_path + ": the cls_token \"" + cls + "\" is not in the vocabulary");
    if (!sep_id) throw Error(vocab_path + ": the sep_token \"" + sep + "\" is not in the vocabulary");
    t->post = make_roberta_processing({sep, *sep_id}, {cls, *cls_id});
    t->set_pad_token(pad);
    t->finish();
    return t;
}

}  // namespace

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts, bool add_special,
                                              int max_len) const {
    std::vector<Encoding> out;
    out.reserve(texts.size());
    for (const auto& t : texts) out.push_back(encode(t, std::nullopt, add_special, max_len));
    return out;
}

std::unique_ptr<Tokenizer> Tokenizer::from_json_file(const std::string& path) { return load_tokenizer_json(path); }

std::unique_ptr<Tokenizer> Tokenizer::from_dir(const std::string& dir) {
    const fs::path d(dir);
    if (fs::exists(d / "tokenizer.json")) {
        auto t = load_tokenizer_json((d / "tokenizer.json").string());
        const json cfg = read_config(d);
        std::string pad = config_token(cfg, "pad_token", "");
        if (!pad.empty()) t->set_pad_token(pad);
        return t;
    }
    if (fs::exists(d / "vocab.txt")) return load_bert_vocab(d);
    if (fs::exists(d / "vocab.json") && fs::exists(d / "merges.txt")) return load_roberta_vocab(d);
    if (!fs::is_directory(d)) throw Error(dir + ": no such tokenizer directory");
    throw Error(dir + ": no tokenizer.json, vocab.txt or vocab.json + merges.txt to load a tokenizer from");
}

}  // namespace ptune
