// The Unigram model of the Hugging Face `tokenizers` library (models/unigram, SentencePiece's unigram LM): the
// segmentation of a word with the highest total score, found by Viterbi over every vocabulary piece that starts at
// each character. Matches the library on the points that decide ids:
//   - a piece's id is its index in `vocab` (a later duplicate of a piece wins the piece -> id map);
//   - at each character boundary the pieces are tried shortest first and a later one replaces the best path to its
//     end only with a strictly higher score, so ties go to the first found;
//   - a character that starts no one-character piece gets an unknown node scored min_score - 10 (kUnkPenalty);
//   - consecutive unknown nodes are fused into one token (the library's Unigram always fuses);
//   - a token that is not in the vocabulary (an unknown stretch) becomes <0xNN> byte tokens with byte_fallback when
//     they all exist, else unk_id.
#include <limits>

#include "core/io/error.h"
#include "core/text/components.h"
#include "core/text/unicode.h"

namespace ptune::text {

namespace {

constexpr double kUnkPenalty = 10.0;

class Unigram : public Model {
public:
    Unigram(std::vector<std::pair<std::string, double>> pieces, std::optional<int64_t> unk_id, bool byte_fallback)
        : pieces_(std::move(pieces)), unk_id_(unk_id), byte_fallback_(byte_fallback) {
        nodes_.emplace_back();
        for (size_t id = 0; id < pieces_.size(); ++id) {
            const auto& [piece, score] = pieces_[id];
            vocab_[piece] = (int64_t)id;
            min_score_ = std::min(min_score_, score);
            int32_t n = 0;
            for (unsigned char c : piece) {
                int32_t next = child(n, c);
                if (next < 0) {
                    next = (int32_t)nodes_.size();
                    nodes_[(size_t)n].kids.push_back({c, next});
                    nodes_.emplace_back();
                }
                n = next;
            }
            nodes_[(size_t)n].terminal = true;
        }
    }

    void tokenize(std::string_view s, std::vector<Token>& out) const override {
        if (s.empty()) return;
        struct Best {
            int64_t id = -1;
            double score = 0;
            int64_t starts_at = -1;   // -1: no path ends here yet
        };
        const size_t size = s.size();
        const double unk_score = min_score_ - kUnkPenalty;
        std::vector<Best> best(size + 1);
        size_t start = 0;
        while (start < size) {
            const double till_here = best[start].score;
            const size_t mblen = std::min(utf8_len((unsigned char)s[start]), size - start);
            bool has_single = false;
            int32_t n = 0;
            for (size_t k = start; k < size; ++k) {
                n = child(n, (unsigned char)s[k]);
                if (n < 0) break;
                if (!nodes_[(size_t)n].terminal) continue;
                const size_t end = k + 1;
                const int64_t id = vocab_.at(std::string(s.substr(start, end - start)));
                const double cand = pieces_[(size_t)id].second + till_here;
                Best& t = best[end];
                if (t.starts_at < 0 || cand > t.score) t = {id, cand, (int64_t)start};
                if (end - start == mblen) has_single = true;
            }
            if (!has_single) {
                if (!unk_id_) throw Error("the Unigram model has no unk_id, and \"" + std::string(s.substr(start, mblen)) +
                                          "\" starts no piece of its vocabulary");
                Best& t = best[start + mblen];
                const double cand = unk_score + till_here;
                if (t.starts_at < 0 || cand > t.score) t = {*unk_id_, cand, (int64_t)start};
            }
            start += mblen;
        }
        // Back from the end; unknown nodes next to each other become one token.
        std::vector<std::string> pieces;
        std::string unk_run;
        bool in_unk = false;
        size_t end = size;
        while (end > 0) {
            const Best& b = best[end];
            const size_t from = (size_t)b.starts_at;
            std::string piece(s.substr(from, end - from));
            if (unk_id_ && b.id == *unk_id_) {
                unk_run.insert(0, piece);
                in_unk = true;
            } else {
                if (in_unk) {
                    pieces.push_back(std::move(unk_run));
                    unk_run.clear();
                    in_unk = false;
                }
                pieces.push_back(std::move(piece));
            }
            end = from;
        }
        if (in_unk) pieces.push_back(std::move(unk_run));
        for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
            auto v = vocab_.find(*it);
            if (v != vocab_.end()) {
                out.push_back({v->second, *it});
                continue;
            }
            if (byte_fallback_) {
                std::vector<Token> bytes;
                bool all = true;
                for (unsigned char c : *it) {
                    static const char* hex = "0123456789ABCDEF";
                    std::string b = std::string("<0x") + hex[c >> 4] + hex[c & 15] + ">";
                    auto id = vocab_.find(b);
                    if (id == vocab_.end()) {
                        all = false;
                        break;
                    }
                    bytes.push_back({id->second, b});
                }
                if (all) {
                    out.insert(out.end(), bytes.begin(), bytes.end());
                    continue;
                }
            }
            if (!unk_id_) throw Error("the Unigram model has no unk_id for \"" + *it + "\"");
            out.push_back({*unk_id_, *it});
        }
    }

    std::optional<int64_t> token_to_id(const std::string& token) const override {
        auto it = vocab_.find(token);
        if (it == vocab_.end()) return std::nullopt;
        return it->second;
    }
    std::optional<std::string> id_to_token(int64_t id) const override {
        if (id < 0 || id >= (int64_t)pieces_.size()) return std::nullopt;
        return pieces_[(size_t)id].first;
    }
    size_t vocab_size() const override { return pieces_.size(); }
    const Vocab& vocab() const override { return vocab_; }
    std::string name() const override { return "Unigram"; }
    std::optional<std::string> unk_token() const override {
        if (!unk_id_ || *unk_id_ < 0 || *unk_id_ >= static_cast<int64_t>(pieces_.size())) return std::nullopt;
        return pieces_[static_cast<size_t>(*unk_id_)].first;
    }

private:
    struct Node {
        std::vector<std::pair<unsigned char, int32_t>> kids;
        bool terminal = false;
    };
    int32_t child(int32_t n, unsigned char c) const {
        for (const auto& [k, v] : nodes_[(size_t)n].kids)
            if (k == c) return v;
        return -1;
    }

    std::vector<std::pair<std::string, double>> pieces_;
    Vocab vocab_;
    std::optional<int64_t> unk_id_;
    bool byte_fallback_;
    double min_score_ = std::numeric_limits<double>::infinity();
    std::vector<Node> nodes_;
};

}  // namespace

std::unique_ptr<Model> make_unigram(const json& j, const std::string& where, const std::string& path) {
    const json& v = need(j, "vocab", where, path);
    if (!v.is_array()) throw Error(where + ": " + path + ".vocab must be a list of [piece, score] pairs");
    std::vector<std::pair<std::string, double>> pieces;
    pieces.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        const json& e = v[i];
        if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
            throw Error(where + ": " + path + ".vocab[" + std::to_string(i) + "] must be [piece, score]");
        pieces.emplace_back(e[0].get<std::string>(), e[1].get<double>());
    }
    std::optional<int64_t> unk;
    auto u = j.find("unk_id");
    if (u != j.end() && !u->is_null()) {
        if (!u->is_number_integer() || u->get<int64_t>() < 0 || u->get<int64_t>() >= (int64_t)pieces.size())
            throw Error(where + ": " + path + ".unk_id must be an index into the " + std::to_string(pieces.size()) +
                        " vocabulary pieces");
        unk = u->get<int64_t>();
    }
    if (pieces.empty()) throw Error(where + ": " + path + ".vocab is empty");
    return std::make_unique<Unigram>(std::move(pieces), unk, opt_bool(j, "byte_fallback", false, where, path));
}

}  // namespace ptune::text
