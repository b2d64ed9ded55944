// The WordPiece and BPE models of the Hugging Face `tokenizers` library (models/wordpiece,
// models/bpe): same greedy longest-match and same merge order, so the same ids.
#include <algorithm>
#include <mutex>
#include <queue>

#include "core/text/components.h"
#include "core/text/unicode.h"

namespace ptune::text {

namespace {

std::unordered_map<int64_t, std::string> reverse_vocab(const Vocab& vocab) {
    std::unordered_map<int64_t, std::string> r;
    r.reserve(vocab.size());
    for (const auto& [tok, id] : vocab) r.emplace(id, tok);
    return r;
}

// What both models share: the token <-> id maps.
class VocabModel : public Model {
public:
    explicit VocabModel(Vocab vocab) : vocab_(std::move(vocab)), vocab_r_(reverse_vocab(vocab_)) {}
    std::optional<int64_t> token_to_id(const std::string& token) const override {
        auto it = vocab_.find(token);
        if (it == vocab_.end()) return std::nullopt;
        return it->second;
    }
    std::optional<std::string> id_to_token(int64_t id) const override {
        auto it = vocab_r_.find(id);
        if (it == vocab_r_.end()) return std::nullopt;
        return it->second;
    }
    size_t vocab_size() const override { return vocab_.size(); }
    const Vocab& vocab() const override { return vocab_; }

protected:
    Vocab vocab_;
    std::unordered_map<int64_t, std::string> vocab_r_;
};

class WordPiece : public VocabModel {
public:
    WordPiece(Vocab vocab, WordPieceConfig cfg) : VocabModel(std::move(vocab)), cfg_(std::move(cfg)) {
        for (const auto& kv : vocab_) max_token_bytes_ = std::max(max_token_bytes_, kv.first.size());
    }

    void tokenize(std::string_view word, std::vector<Token>& out) const override {
        if (count_chars(word) > cfg_.max_input_chars_per_word) {
            out.push_back(unk());
            return;
        }
        // Character boundaries of the word.
        std::vector<size_t> bounds;
        bounds.reserve(word.size() + 1);
        for (size_t i = 0; i < word.size(); i += utf8_len(static_cast<unsigned char>(word[i]))) bounds.push_back(i);
        bounds.push_back(word.size());

        const size_t first_out = out.size();
        std::string candidate;
        size_t start_idx = 0;
        while (start_idx + 1 < bounds.size()) {
            size_t start = bounds[start_idx];
            const std::string& prefix = start > 0 ? cfg_.continuing_subword_prefix : kEmpty;
            bool found = false;
            for (size_t end_idx = bounds.size() - 1; end_idx > start_idx; --end_idx) {
                size_t end = bounds[end_idx];
                if (prefix.size() + (end - start) > max_token_bytes_) continue;
                candidate.assign(prefix);
                candidate.append(word.substr(start, end - start));
                auto it = vocab_.find(candidate);
                if (it != vocab_.end()) {
                    out.push_back({it->second, candidate});
                    start_idx = end_idx;
                    found = true;
                    break;
                }
            }
            if (!found) {
                out.resize(first_out);
                out.push_back(unk());
                return;
            }
        }
    }

    std::string name() const override { return "WordPiece"; }
    std::optional<std::string> unk_token() const override { return cfg_.unk_token; }

private:
    Token unk() const {
        auto it = vocab_.find(cfg_.unk_token);
        if (it == vocab_.end())
            throw Error("WordPiece: the unk_token \"" + cfg_.unk_token + "\" is not in the vocabulary");
        return {it->second, cfg_.unk_token};
    }

    inline static const std::string kEmpty;
    WordPieceConfig cfg_;
    size_t max_token_bytes_ = 0;
};

class Bpe : public VocabModel {
public:
    Bpe(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeConfig cfg,
        const std::function<std::string(size_t)>& merge_at)
        : VocabModel(std::move(vocab)), cfg_(std::move(cfg)) {
        size_t prefix_len = cfg_.continuing_subword_prefix ? cfg_.continuing_subword_prefix->size() : 0;
        merges_.reserve(merges.size());
        for (size_t i = 0; i < merges.size(); ++i) {
            const auto& [a, b] = merges[i];
            auto ia = vocab_.find(a);
            if (ia == vocab_.end()) throw Error(merge_at(i) + ": token \"" + a + "\" is not in the vocabulary");
            auto ib = vocab_.find(b);
            if (ib == vocab_.end()) throw Error(merge_at(i) + ": token \"" + b + "\" is not in the vocabulary");
            std::string merged = a + (b.size() >= prefix_len ? b.substr(prefix_len) : std::string());
            auto im = vocab_.find(merged);
            if (im == vocab_.end())
                throw Error(merge_at(i) + ": merged token \"" + merged + "\" is not in the vocabulary");
            merges_[key(ia->second, ib->second)] = {static_cast<int64_t>(i), im->second};
        }
        if (cfg_.unk_token) {
            auto it = vocab_.find(*cfg_.unk_token);
            if (it != vocab_.end()) unk_id_ = it->second;
        }
    }

    void tokenize(std::string_view word, std::vector<Token>& out) const override {
        if (word.empty()) return;
        if (cfg_.ignore_merges) {
            auto it = vocab_.find(std::string(word));
            if (it != vocab_.end()) {
                out.push_back({it->second, it->first});
                return;
            }
        }
        const bool cacheable = word.size() < kMaxCachedLength;
        std::string key_str(word);
        if (cacheable) {
            std::shared_lock lock(cache_mutex_);
            auto it = cache_.find(key_str);
            if (it != cache_.end()) {
                for (int64_t id : it->second) out.push_back({id, vocab_r_.at(id)});
                return;
            }
        }
        std::vector<int64_t> ids = merge_word(word);
        for (int64_t id : ids) out.push_back({id, vocab_r_.at(id)});
        if (cacheable) {
            std::unique_lock lock(cache_mutex_);
            if (cache_.size() < kCacheCapacity) cache_.emplace(std::move(key_str), std::move(ids));
        }
    }

    std::string name() const override { return "BPE"; }
    std::optional<std::string> unk_token() const override { return cfg_.unk_token; }

private:
    static constexpr size_t kMaxCachedLength = 256;
    static constexpr size_t kCacheCapacity = 10000;

    static uint64_t key(int64_t a, int64_t b) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    }

    struct Symbol {
        int64_t id;
        int prev;
        int next;
        size_t len;
    };
    struct Merge {
        int pos;
        int64_t rank;
        int64_t new_id;
    };
    struct MergeOrder {  // lowest rank first, then leftmost
        bool operator()(const Merge& x, const Merge& y) const {
            if (x.rank != y.rank) return x.rank > y.rank;
            return x.pos > y.pos;
        }
    };

    const std::pair<int64_t, int64_t>* find_merge(int64_t a, int64_t b) const {
        auto it = merges_.find(key(a, b));
        return it == merges_.end() ? nullptr : &it->second;
    }

    std::vector<int64_t> merge_word(std::string_view w) const {
        std::vector<Symbol> syms;
        syms.reserve(w.size());
        bool have_unk = false;  // a pending unk token (fused while fuse_unk)
        int64_t unk_tok = 0;
        size_t unk_len = 0;
        auto add = [&syms](int64_t id, size_t len) {
            int n = static_cast<int>(syms.size());
            syms.push_back({id, n - 1, n + 1, len});
        };
        std::string s;
        size_t i = 0;
        while (i < w.size()) {
            size_t n = utf8_len(static_cast<unsigned char>(w[i]));
            n = std::min(n, w.size() - i);
            bool is_first = i == 0;
            bool is_last = i + n >= w.size();
            s.assign(w.substr(i, n));
            size_t byte_len = n;
            i += n;
            if (!is_first && cfg_.continuing_subword_prefix) s.insert(0, *cfg_.continuing_subword_prefix);
            if (is_last && cfg_.end_of_word_suffix) s += *cfg_.end_of_word_suffix;
            auto it = vocab_.find(s);
            if (it != vocab_.end()) {
                if (have_unk) {
                    add(unk_tok, unk_len);
                    have_unk = false;
                }
                add(it->second, byte_len);
                continue;
            }
            if (cfg_.byte_fallback) {
                std::vector<int64_t> bytes;
                bool all = true;
                for (unsigned char b : s) {
                    static const char* hex = "0123456789ABCDEF";
                    std::string code = "<0x";
                    code += hex[b >> 4];
                    code += hex[b & 15];
                    code += '>';
                    auto bt = vocab_.find(code);
                    if (bt == vocab_.end()) {
                        all = false;
                        break;
                    }
                    bytes.push_back(bt->second);
                }
                if (all) {
                    for (int64_t id : bytes) add(id, 1);
                    continue;
                }
            }
            if (cfg_.unk_token) {
                if (!unk_id_)
                    throw Error("BPE: the unk_token \"" + *cfg_.unk_token + "\" is not in the vocabulary");
                if (have_unk && cfg_.fuse_unk) {
                    unk_len += byte_len;
                } else {
                    if (have_unk) add(unk_tok, unk_len);
                    have_unk = true;
                    unk_tok = *unk_id_;
                    unk_len = byte_len;
                }
            }
        }
        if (have_unk) add(unk_tok, unk_len);
        if (!syms.empty()) syms.back().next = -1;

        std::priority_queue<Merge, std::vector<Merge>, MergeOrder> queue;
        for (size_t k = 0; k + 1 < syms.size(); ++k)
            if (auto m = find_merge(syms[k].id, syms[k + 1].id))
                queue.push({static_cast<int>(k), m->first, m->second});

        while (!queue.empty()) {
            Merge top = queue.top();
            queue.pop();
            Symbol& cur = syms[top.pos];
            if (cur.len == 0 || cur.next == -1) continue;
            int next_pos = cur.next;
            Symbol right = syms[next_pos];
            auto m = find_merge(cur.id, right.id);
            if (!m || m->second != top.new_id) continue;  // stale entry
            cur.id = top.new_id;
            cur.len += right.len;
            cur.next = right.next;
            syms[next_pos].len = 0;
            if (right.next >= 0 && right.next < static_cast<int>(syms.size())) syms[right.next].prev = top.pos;
            if (cur.prev >= 0) {
                if (auto pm = find_merge(syms[cur.prev].id, cur.id)) queue.push({cur.prev, pm->first, pm->second});
            }
            if (cur.next >= 0 && cur.next < static_cast<int>(syms.size())) {
                if (auto nm = find_merge(cur.id, syms[cur.next].id)) queue.push({top.pos, nm->first, nm->second});
            }
        }
        std::vector<int64_t> ids;
        ids.reserve(syms.size());
        for (const auto& sym : syms)
            if (sym.len != 0) ids.push_back(sym.id);
        return ids;
    }

    std::unordered_map<uint64_t, std::pair<int64_t, int64_t>> merges_;  // (a, b) -> (rank, merged id)
    BpeConfig cfg_;
    std::optional<int64_t> unk_id_;
    mutable std::shared_mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<int64_t>> cache_;
};

Vocab read_vocab(const json& j, const std::string& where, const std::string& field) {
    if (!j.is_object()) throw Error(where + ": " + field + " must be an object of token -> id");
    Vocab v;
    v.reserve(j.size());
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (!it.value().is_number_integer())
            throw Error(where + ": " + field + "[\"" + it.key() + "\"] must be an integer id");
        v[it.key()] = it.value().get<int64_t>();
    }
    return v;
}

}  // namespace

bool split_merge_line(const std::string& line, std::pair<std::string, std::string>& out) {
    size_t sp = line.find(' ');
    if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos) return false;
    out = {line.substr(0, sp), line.substr(sp + 1)};
    return true;
}

std::unique_ptr<Model> make_wordpiece(Vocab vocab, WordPieceConfig cfg, const std::string& where) {
    return std::make_unique<WordPiece>(std::move(vocab), std::move(cfg));
}

std::unique_ptr<Model> make_bpe(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                                BpeConfig cfg, const std::function<std::string(size_t)>& merge_at) {
    return std::make_unique<Bpe>(std::move(vocab), merges, std::move(cfg), merge_at);
}

Vocab read_vocab_json(const json& j, const std::string& where, const std::string& field) {
    return read_vocab(j, where, field);
}

std::unique_ptr<Model> make_model(const json& j, const std::string& where, const std::string& path) {
    if (!j.is_object()) throw Error(where + ": " + path + " must be an object, not " + std::string(j.type_name()));
    std::string type;
    if (auto t = opt_string(j, "type", where, path)) {
        type = *t;
    } else if (j.contains("merges")) {
        type = "BPE";
    } else if (j.contains("vocab") && j["vocab"].is_array()) {
        type = "Unigram";
    } else if (j.contains("continuing_subword_prefix") || j.contains("max_input_chars_per_word")) {
        type = "WordPiece";
    } else {
        throw Error(where + ": missing field " + path + ".type");
    }
    if (type == "WordPiece") {
        WordPieceConfig cfg;
        if (auto u = opt_string(j, "unk_token", where, path)) cfg.unk_token = *u;
        if (auto p = opt_string(j, "continuing_subword_prefix", where, path)) cfg.continuing_subword_prefix = *p;
        auto it = j.find("max_input_chars_per_word");
        if (it != j.end() && !it->is_null()) {
            if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0))
                throw Error(where + ": " + path + ".max_input_chars_per_word must be a non-negative integer");
            cfg.max_input_chars_per_word = it->get<size_t>();
        }
        return make_wordpiece(read_vocab(need(j, "vocab", where, path), where, path + ".vocab"), std::move(cfg),
                              where);
    }
    if (type == "BPE") {
        BpeConfig cfg;
        cfg.unk_token = opt_string(j, "unk_token", where, path);
        cfg.continuing_subword_prefix = opt_string(j, "continuing_subword_prefix", where, path);
        cfg.end_of_word_suffix = opt_string(j, "end_of_word_suffix", where, path);
        cfg.fuse_unk = opt_bool(j, "fuse_unk", false, where, path);
        cfg.byte_fallback = opt_bool(j, "byte_fallback", false, where, path);
        cfg.ignore_merges = opt_bool(j, "ignore_merges", false, where, path);
        Vocab vocab = read_vocab(need(j, "vocab", where, path), where, path + ".vocab");
        std::vector<std::pair<std::string, std::string>> merges;
        auto mit = j.find("merges");
        if (mit != j.end() && !mit->is_null()) {
            if (!mit->is_array()) throw Error(where + ": " + path + ".merges must be a list");
            merges.reserve(mit->size());
            for (size_t i = 0; i < mit->size(); ++i) {
                const json& m = (*mit)[i];
                std::string at = where + ": " + path + ".merges[" + std::to_string(i) + "]";
                if (m.is_string()) {
                    const std::string& line = m.get_ref<const std::string&>();
                    if (line.rfind("#version", 0) == 0) continue;
                    std::pair<std::string, std::string> pr;
                    if (!split_merge_line(line, pr)) throw Error(at + " \"" + line + "\" is not \"a b\"");
                    merges.push_back(std::move(pr));
                } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
                    merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
                } else {
                    throw Error(at + " must be \"a b\" or [\"a\", \"b\"]");
                }
            }
        }
        std::string base = where + ": " + path + ".merges[";
        return make_bpe(std::move(vocab), merges, std::move(cfg),
                        [base](size_t i) { return base + std::to_string(i) + "]"; });
    }
    if (type == "Unigram") return make_unigram(j, where, path);
    unsupported_type(where, path, type, "WordPiece, BPE and Unigram are");
}

}  // namespace ptune::text
