// The Precompiled normalizer of the Hugging Face `tokenizers` library: SentencePiece's compiled normalization rules
// (`precompiled_charsmap`, base64). The blob is a little-endian u32 byte size of a darts-clone double-array trie,
// the trie's u32 units, then the replacement strings, each ended by a NUL. As the library does it (spm_precompiled):
// the text is cut into extended grapheme clusters; a cluster shorter than 6 bytes that has a prefix in the trie is
// replaced whole by the replacement of its shortest such prefix; otherwise each of its characters that is in the
// trie is replaced by its replacement and the others are kept. (This is the library's behaviour, quirks
// included: SentencePiece itself takes the longest match.)
#include <utf8proc.h>

#include "core/io/error.h"
#include "core/text/components.h"
#include "core/text/unicode.h"

namespace ptune::text {

namespace {

std::string base64_decode(const std::string& in, const std::string& where) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    out.reserve(in.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') break;
        if (c == '\n' || c == '\r') continue;
        const int v = val(c);
        if (v < 0) throw Error(where + " is not base64 (character '" + std::string(1, c) + "')");
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back((char)((acc >> bits) & 0xFF));
        }
    }
    return out;
}

class PrecompiledNormalizer : public Normalizer {
public:
    PrecompiledNormalizer(const std::string& blob, const std::string& where) {
        if (blob.size() < 4) throw Error(where + ": too short for a compiled character map");
        const auto* b = reinterpret_cast<const unsigned char*>(blob.data());
        const uint32_t trie_size = b[0] | (b[1] << 8) | (b[2] << 16) | ((uint32_t)b[3] << 24);
        if (trie_size % 4 != 0 || trie_size > blob.size() - 4)
            throw Error(where + ": the trie's size " + std::to_string(trie_size) + " does not fit the " +
                        std::to_string(blob.size()) + "-byte map");
        units_.resize(trie_size / 4);
        for (size_t i = 0; i < units_.size(); ++i) {
            const unsigned char* p = b + 4 + 4 * i;
            units_[i] = p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24);
        }
        normalized_ = blob.substr(4 + trie_size);
    }

    void normalize(std::string& s) const override {
        std::string out;
        out.reserve(s.size());
        const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
        const size_t n = s.size();
        size_t i = 0;
        utf8proc_int32_t state = 0;
        while (i < n) {
            // One extended grapheme cluster [i, j).
            utf8proc_int32_t c1 = 0;
            utf8proc_ssize_t len = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &c1);
            if (len <= 0) len = 1, c1 = 0xFFFD;
            size_t j = i + (size_t)len;
            state = 0;
            while (j < n) {
                utf8proc_int32_t c2 = 0;
                utf8proc_ssize_t l2 = utf8proc_iterate(p + j, (utf8proc_ssize_t)(n - j), &c2);
                if (l2 <= 0) break;
                if (utf8proc_grapheme_break_stateful(c1, c2, &state)) break;
                c1 = c2;
                j += (size_t)l2;
            }
            const std::string_view cluster(s.data() + i, j - i);
            std::string_view rep;
            if (cluster.size() < 6 && transform(cluster, rep)) {
                out.append(rep);
            } else {
                for (size_t k = 0; k < cluster.size();) {
                    const size_t cl = std::min(utf8_len((unsigned char)cluster[k]), cluster.size() - k);
                    const std::string_view ch = cluster.substr(k, cl);
                    if (transform(ch, rep)) out.append(rep);
                    else out.append(ch);
                    k += cl;
                }
            }
            i = j;
        }
        s.swap(out);
    }

    std::string describe() const override { return "Precompiled"; }

private:
    // darts-clone units: has_leaf bit 8, value the low 31 bits, label the low byte (and bit 31), offset bits 10..
    static bool has_leaf(uint32_t u) { return (u >> 8) & 1; }
    static uint32_t value(uint32_t u) { return u & ((1u << 31) - 1); }
    static uint32_t label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
    static size_t offset(uint32_t u) { return (size_t)((u >> 10) << ((u & (1u << 9)) >> 6)); }

    // The replacement of `key`'s shortest prefix in the trie.
    bool transform(std::string_view key, std::string_view& rep) const {
        if (units_.empty()) return false;
        size_t pos = 0;
        uint32_t unit = units_[pos];
        pos ^= offset(unit);
        for (unsigned char c : key) {
            if (c == 0) break;
            pos ^= c;
            if (pos >= units_.size()) return false;
            unit = units_[pos];
            if (label(unit) != c) return false;
            pos ^= offset(unit);
            if (pos >= units_.size()) return false;
            if (has_leaf(unit)) {
                const size_t at = value(units_[pos]);
                if (at > normalized_.size()) return false;
                size_t end = at;
                while (end < normalized_.size() && normalized_[end] != 0) ++end;
                rep = std::string_view(normalized_).substr(at, end - at);
                return true;
            }
        }
        return false;
    }

    std::vector<uint32_t> units_;
    std::string normalized_;
};

}  // namespace

std::unique_ptr<Normalizer> make_precompiled(const json& j, const std::string& where, const std::string& path) {
    const std::string at = where + ": " + path + ".precompiled_charsmap";
    auto it = j.find("precompiled_charsmap");
    if (it == j.end() || it->is_null()) {
        // An empty map normalizes nothing (the library accepts it).
        return std::make_unique<PrecompiledNormalizer>(std::string(4, '\0'), at);
    }
    if (!it->is_string()) throw Error(at + " must be a base64 string");
    return std::make_unique<PrecompiledNormalizer>(base64_decode(it->get<std::string>(), at), at);
}

}  // namespace ptune::text
