#include "core/text/decoders.h"

#include <unordered_map>

#include "core/text/components.h"
#include "core/text/unicode.h"

namespace ptune::text {

std::string Decoder::decode(std::vector<std::string> tokens) const {
    std::string out;
    for (const auto& t : decode_chain(std::move(tokens))) out += t;
    return out;
}

namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    if (from.empty()) return;
    size_t pos = 0;
    while ((pos = s.find(from, pos)) != std::string::npos) {
        s.replace(pos, from.size(), to);
        pos += to.size();
    }
}

class ByteLevelDecoder : public Decoder {
public:
    ByteLevelDecoder() {
        for (int b = 0; b < 256; ++b) {
            const std::string& u = byte_to_unicode(static_cast<unsigned char>(b));
            size_t i = 0;
            char_to_byte_[next_cp(u, i)] = static_cast<unsigned char>(b);
        }
    }
    std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
        std::string bytes;
        for (const auto& t : tokens) {
            std::string mapped;
            bool ok = true;
            size_t i = 0;
            while (i < t.size()) {
                auto it = char_to_byte_.find(next_cp(t, i));
                if (it == char_to_byte_.end()) {
                    ok = false;
                    break;
                }
                mapped += static_cast<char>(it->second);
            }
            bytes += ok ? mapped : t;
        }
        return {sanitize_utf8(bytes)};
    }

private:
    std::unordered_map<char32_t, unsigned char> char_to_byte_;
};

class WordPieceDecoder : public Decoder {
public:
    WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
    std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string& t = tokens[i];
            if (i != 0) {
                if (!prefix_.empty() && t.compare(0, prefix_.size(), prefix_) == 0) {
                    t.erase(0, prefix_.size());
                } else if (prefix_.empty()) {
                    // "".replacen("", "", 1) leaves the token as it is
                } else {
                    t.insert(0, " ");
                }
            }
            if (cleanup_) {
                for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
                         {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
                         {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}})
                    replace_all(t, from, to);
            }
        }
        return tokens;
    }

private:
    std::string prefix_;
    bool cleanup_;
};

class MetaspaceDecoder : public Decoder {
public:
    MetaspaceDecoder(std::string rep, bool strip_first) : rep_(std::move(rep)), strip_first_(strip_first) {}
    std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) replace_all(tokens[i], rep_, i == 0 && strip_first_ ? "" : " ");
        return tokens;
    }

private:
    std::string rep_;
    bool strip_first_;
};

class BpeDecoder : public Decoder {
public:
    explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
    std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
        return tokens;
    }

private:
    std::string suffix_;
};

class ByteFallbackDecoder : public Decoder {
public:
    std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
        std::vector<std::string> out;
        std::string pending;
        auto flush = [&] {
            if (pending.empty()) return;
            if (sanitize_utf8(pending) == pending) {
                out.push_back(pending);
            } else {
                for (size_t k = 0; k < pending.size(); ++k) out.push_back("\xEF\xBF\xBD");
            }
            pending.clear();
        };
        for (auto& t : tokens) {
            int byte = -1;
            if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
                auto hex = [](char c) {
                    if (c >= '0' && c <= '9') return c - '0';
                    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
                    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
                    return -1;
                };
                int hi = hex(t[3]), lo = hex(t[4]);
                if (hi >= 0 && lo >= 0) byte = hi * 16 + lo;
            }
            if (byte >= 0) {
                pending += static_cast<char>(byte);
            } else {
                flush();
                out.push_back(std::move(t));
            }
        }
        flush();
        return out;
    }
};

class FuseDecoder : public Decoder {
public:
    std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
        std::string all;
        for (const auto& t : tokens) all += t;
        return {all};
    }
};

class StripDecoder : public Decoder {
public:
    StripDecoder(const std::string& content, size_t start, size_t stop) : start_(start), stop_(stop) {
        std::u32string c = text::decode(content);
        ch_ = c.empty() ? 0 : c[0];
    }
    std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
        for (auto& t : tokens) {
            std::u32string u = text::decode(t);
            size_t b = 0, e = u.size();
            for (size_t k = 0; k < start_ && b < e && u[b] == ch_; ++k) ++b;
            for (size_t k = 0; k < stop_ && e > b && u[e - 1] == ch_; ++k) --e;
            t = encode(u.substr(b, e - b));
        }
        return tokens;
    }

private:
    char32_t ch_;
    size_t start_, stop_;
};

class ReplaceDecoder : public Decoder {
public:
    ReplaceDecoder(const std::string& pattern, std::string content, const std::string& where)
        : regex_(pattern, where), content_(std::move(content)) {}
    std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
        for (auto& t : tokens) {
            if (t.empty()) continue;
            std::string out;
            size_t last = 0;
            for (auto [b, e] : regex_.find_all(t)) {
                out.append(t, last, b - last);
                out += content_;
                last = e;
            }
            out.append(t, last, std::string::npos);
            t.swap(out);
        }
        return tokens;
    }

private:
    Regex regex_;
    std::string content_;
};

class SequenceDecoder : public Decoder {
public:
    explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> items) : items_(std::move(items)) {}
    std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
        for (const auto& d : items_) tokens = d->decode_chain(std::move(tokens));
        return tokens;
    }

private:
    std::vector<std::unique_ptr<Decoder>> items_;
};

class UnsupportedDecoder : public Decoder {
public:
    explicit UnsupportedDecoder(std::string message) : message_(std::move(message)) {}
    std::vector<std::string> decode_chain(std::vector<std::string>) const override { throw Error(message_); }

private:
    std::string message_;
};

size_t opt_size(const json& j, const char* key, size_t def, const std::string& where, const std::string& path) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (!it->is_number_integer() || it->get<int64_t>() < 0)
        throw Error(where + ": " + path + "." + key + " must be a non-negative integer");
    return it->get<size_t>();
}

}  // namespace

std::unique_ptr<Decoder> make_wordpiece_decoder(const std::string& prefix, bool cleanup) {
    return std::make_unique<WordPieceDecoder>(prefix, cleanup);
}

std::unique_ptr<Decoder> make_byte_level_decoder() { return std::make_unique<ByteLevelDecoder>(); }

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where, const std::string& path) {
    if (!j.is_object()) throw Error(where + ": " + path + " must be an object, not " + std::string(j.type_name()));
    std::string type = need_string(j, "type", where, path);
    if (type == "ByteLevel") return make_byte_level_decoder();
    if (type == "WordPiece")
        return make_wordpiece_decoder(opt_string(j, "prefix", where, path).value_or("##"),
                                      opt_bool(j, "cleanup", true, where, path));
    if (type == "Metaspace") {
        std::string rep = opt_string(j, "replacement", where, path).value_or("\xE2\x96\x81");
        bool strip_first = true;
        if (auto ps = opt_string(j, "prepend_scheme", where, path))
            strip_first = *ps != "never";
        else
            strip_first = opt_bool(j, "add_prefix_space", true, where, path);
        return std::make_unique<MetaspaceDecoder>(rep, strip_first);
    }
    if (type == "BPEDecoder")
        return std::make_unique<BpeDecoder>(opt_string(j, "suffix", where, path).value_or("</w>"));
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Strip")
        return std::make_unique<StripDecoder>(need_string(j, "content", where, path),
                                              opt_size(j, "start", 0, where, path), opt_size(j, "stop", 0, where, path));
    if (type == "Replace")
        return std::make_unique<ReplaceDecoder>(read_pattern(j, where, path), need_string(j, "content", where, path),
                                                where + ": " + path + ".pattern");
    if (type == "Sequence") {
        const json& list = need(j, "decoders", where, path);
        if (!list.is_array()) throw Error(where + ": " + path + ".decoders must be a list");
        std::vector<std::unique_ptr<Decoder>> items;
        for (size_t i = 0; i < list.size(); ++i)
            items.push_back(make_decoder(list[i], where, path + ".decoders[" + std::to_string(i) + "]"));
        return std::make_unique<SequenceDecoder>(std::move(items));
    }
    return std::make_unique<UnsupportedDecoder>(
        where + ": " + path + ".type \"" + type +
        "\" is not supported for decoding (ByteLevel, WordPiece, Metaspace, BPEDecoder, ByteFallback, Fuse, Strip, "
        "Replace and Sequence are)");
}

}  // namespace ptune::text
