#include "core/io/data.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string_view>
#include <unordered_map>

#include "core/io/json_util.h"

namespace ptune {

namespace {

using ojson = nlohmann::ordered_json;

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr long long kMaxNumericClasses = 4096;

std::string_view strip_bom(std::string_view s) {
    if (s.substr(0, kBom.size()) == kBom) s.remove_prefix(kBom.size());
    return s;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

bool is_blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A non-negative integer written plainly: "0" or a non-zero digit followed by digits, at most 9 digits.
bool plain_nonneg_int(std::string_view s, long long& v) {
    if (!all_digits(s) || s.size() > 9 || (s.size() > 1 && s[0] == '0')) return false;
    v = 0;
    for (char c : s) v = v * 10 + (c - '0');
    return true;
}

// Any integer, optionally negative (used by header detection: a header cell is never a number).
bool any_int(std::string_view s) {
    if (!s.empty() && s[0] == '-') s.remove_prefix(1);
    return all_digits(s);
}

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ", ";
        out += v[i];
    }
    return out;
}

std::vector<std::string> index_names(size_t n) {
    std::vector<std::string> v;
    v.reserve(n);
    for (size_t i = 0; i < n; ++i) v.push_back(std::to_string(i));
    return v;
}

DataFormat format_from_extension(const std::string& path) {
    std::string p = lower(path);
    auto ends = [&](std::string_view ext) {
        return p.size() >= ext.size() && std::string_view(p).substr(p.size() - ext.size()) == ext;
    };
    if (ends(".tsv")) return DataFormat::TSV;
    if (ends(".csv")) return DataFormat::CSV;
    if (ends(".jsonl") || ends(".json") || ends(".ndjson")) return DataFormat::JSONL;
    return DataFormat::Auto;
}

DataFormat sniff_format(std::string_view s) {
    size_t pos = 0;
    while (pos < s.size()) {
        size_t nl = s.find('\n', pos);
        std::string_view ln = s.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? s.size() : nl + 1;
        if (is_blank(ln)) continue;
        size_t first = ln.find_first_not_of(" \t");
        if (ln[first] == '{') return DataFormat::JSONL;
        if (ln.find('\t') != std::string_view::npos) return DataFormat::TSV;
        if (ln.find(',') != std::string_view::npos) return DataFormat::CSV;
        return DataFormat::TSV;
    }
    return DataFormat::TSV;
}

DataFormat resolve_format(DataFormat f, const std::string& path, std::string_view content) {
    if (f != DataFormat::Auto) return f;
    DataFormat e = format_from_extension(path);
    return e != DataFormat::Auto ? e : sniff_format(content);
}

// Reads up to `max_bytes` of a file; `whole` tells whether that is all of it.
std::string read_prefix(const std::string& path, size_t max_bytes, bool& whole) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot open for reading");
    std::string buf(max_bytes, '\0');
    f.read(buf.data(), static_cast<std::streamsize>(max_bytes));
    if (f.bad()) throw Error(path + ": read error");
    buf.resize(static_cast<size_t>(f.gcount()));
    whole = buf.size() < max_bytes || f.peek() == std::char_traits<char>::eof();
    return buf;
}

// ---- TSV / CSV records ----

struct Record {
    std::vector<std::string> cells;
    int64_t line = 0;
    std::string error;  // non-empty: the record could not be read (unterminated quote)
};

class DelimReader {
public:
    DelimReader(std::string_view s, bool csv) : s_(s), csv_(csv) {}
    bool next(Record& r) { return csv_ ? next_csv(r) : next_tsv(r); }
    size_t pos() const { return pos_; }

private:
    bool next_tsv(Record& r) {
        while (pos_ < s_.size()) {
            size_t nl = s_.find('\n', pos_);
            size_t end = nl == std::string_view::npos ? s_.size() : nl;
            std::string_view ln = s_.substr(pos_, end - pos_);
            int64_t line = line_++;
            pos_ = nl == std::string_view::npos ? s_.size() : nl + 1;
            if (!ln.empty() && ln.back() == '\r') ln.remove_suffix(1);
            if (ln.empty()) continue;
            r.line = line;
            r.error.clear();
            r.cells.clear();
            size_t start = 0;
            while (true) {
                size_t tab = ln.find('\t', start);
                if (tab == std::string_view::npos) {
                    r.cells.emplace_back(ln.substr(start));
                    break;
                }
                r.cells.emplace_back(ln.substr(start, tab - start));
                start = tab + 1;
            }
            return true;
        }
        return false;
    }

    bool at_line_end(size_t p) const {
        return s_[p] == '\n' || (s_[p] == '\r' && (p + 1 == s_.size() || s_[p + 1] == '\n'));
    }

    bool next_csv(Record& r) {
        const size_t n = s_.size();
        while (pos_ < n && at_line_end(pos_)) {  // empty lines
            pos_ += s_[pos_] == '\r' && pos_ + 1 < n ? 2 : 1;
            ++line_;
        }
        if (pos_ >= n) return false;
        r.line = line_;
        r.error.clear();
        r.cells.clear();
        std::string field;
        while (true) {
            field.clear();
            if (s_[pos_] == '"') {
                ++pos_;
                bool closed = false;
                while (pos_ < n) {
                    char c = s_[pos_];
                    if (c == '"') {
                        if (pos_ + 1 < n && s_[pos_ + 1] == '"') {
                            field += '"';
                            pos_ += 2;
                            continue;
                        }
                        ++pos_;
                        closed = true;
                        break;
                    }
                    if (c == '\r' && pos_ + 1 < n && s_[pos_ + 1] == '\n') {
                        field += '\n';
                        pos_ += 2;
                        ++line_;
                        continue;
                    }
                    if (c == '\n') ++line_;
                    field += c;
                    ++pos_;
                }
                if (!closed) {
                    r.cells.clear();
                    r.error = "unterminated quoted field";
                    return true;
                }
            }
            // Unquoted field, or what follows a closing quote: up to a comma or the end of the line.
            size_t start = pos_;
            while (pos_ < n && s_[pos_] != ',' && !at_line_end(pos_)) ++pos_;
            field.append(s_.data() + start, pos_ - start);
            r.cells.push_back(field);
            if (pos_ >= n) return true;
            if (s_[pos_] == ',') {
                ++pos_;
                if (pos_ >= n) {  // a trailing comma at the end of the file: one more empty field
                    r.cells.emplace_back();
                    return true;
                }
                continue;
            }
            pos_ += s_[pos_] == '\r' && pos_ + 1 < n ? 2 : 1;
            ++line_;
            return true;
        }
    }

    std::string_view s_;
    bool csv_;
    size_t pos_ = 0;
    int64_t line_ = 1;
};

const std::vector<std::string>& glue_names() {
    static const std::vector<std::string> names = {"label",    "labels",    "sentence",  "sentence1",
                                                   "sentence2", "text",      "text_a",    "text_b",
                                                   "question",  "question1", "question2", "premise",
                                                   "hypothesis", "idx",      "id"};
    return names;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// First-record header rule, see data.h. `recs` are the records in file order; those with an error are ignored.
bool detect_header(const std::vector<Record>& recs, const DataOptions& opt) {
    if (recs.empty() || !recs[0].error.empty()) return false;
    const auto& first = recs[0].cells;
    for (const std::string* name : {&opt.text_column, &opt.text_pair_column, &opt.label_column}) {
        if (name->empty() || all_digits(*name)) continue;
        for (const auto& c : first)
            if (trim(c) == *name) return true;
    }
    for (const auto& c : first)
        if (contains(glue_names(), trim(c))) return true;

    for (const auto& c : first)
        if (trim(c).empty() || any_int(trim(c))) return false;
    size_t li = first.size() - 1;
    if (all_digits(opt.label_column)) {
        if (opt.label_column.size() > 9) return false;
        li = std::stoul(opt.label_column);
    }
    if (li >= first.size()) return false;
    std::string_view cell = trim(first[li]);
    if (!opt.label_names.empty()) return !contains(opt.label_names, cell);
    bool later = false;
    for (size_t i = 1; i < recs.size(); ++i) {
        if (!recs[i].error.empty()) continue;
        later = true;
        if (li < recs[i].cells.size() && trim(recs[i].cells[li]) == cell) return false;
    }
    return later;
}

struct ColumnChoice {
    size_t text = 0;
    std::optional<size_t> pair;
    size_t label = 0;
};

size_t resolve_column(const std::string& spec, const std::vector<std::string>& cols, const std::string& path) {
    auto it = std::find(cols.begin(), cols.end(), spec);
    if (it != cols.end()) return static_cast<size_t>(it - cols.begin());
    if (all_digits(spec)) {
        if (spec.size() <= 9 && std::stoul(spec) < cols.size()) return std::stoul(spec);
        throw Error(path + ": column " + spec + " out of range (" + std::to_string(cols.size()) +
                    " columns: " + join(cols) + ")");
    }
    throw Error(path + ": no column \"" + spec + "\" (columns: " + join(cols) + ")");
}

ColumnChoice choose_columns(const std::vector<std::string>& cols, const DataOptions& opt, const std::string& path) {
    auto find = [&](std::string_view name) -> std::optional<size_t> {
        auto it = std::find(cols.begin(), cols.end(), name);
        if (it == cols.end()) return std::nullopt;
        return static_cast<size_t>(it - cols.begin());
    };
    ColumnChoice c;
    if (cols.empty()) throw Error(path + ": no columns");
    if (!opt.label_column.empty()) {
        c.label = resolve_column(opt.label_column, cols, path);
    } else {
        c.label = find("label").value_or(cols.size() - 1);
    }
    if (!opt.text_column.empty()) {
        c.text = resolve_column(opt.text_column, cols, path);
    } else {
        std::optional<size_t> t;
        for (const char* name : {"sentence", "text", "sentence1", "question"}) {
            auto i = find(name);
            if (i && *i != c.label) {
                t = i;
                break;
            }
        }
        if (!t) {
            for (size_t i = 0; i < cols.size(); ++i)
                if (i != c.label) {
                    t = i;
                    break;
                }
        }
        if (!t) throw Error(path + ": needs a text and a label column (columns: " + join(cols) + ")");
        c.text = *t;
    }
    if (!opt.text_pair_column.empty()) {
        c.pair = resolve_column(opt.text_pair_column, cols, path);
    } else if (cols[c.text] == "sentence1") {
        auto i = find("sentence2");
        if (i && *i != c.label) c.pair = i;
    }
    if (c.text == c.label)
        throw Error(path + ": text and label are the same column \"" + cols[c.text] + "\"");
    if (c.pair && *c.pair == c.label)
        throw Error(path + ": text pair and label are the same column \"" + cols[c.label] + "\"");
    return c;
}

// Collects rows, applies the label rules and the bad-row policy.
class Builder {
public:
    Builder(const std::string& path, const DataOptions& opt, Dataset& d) : path_(path), opt_(opt), d_(d) {
        for (size_t i = 0; i < opt.label_names.size(); ++i) name_to_id_.emplace(opt.label_names[i], int(i));
    }

    bool full() const { return opt_.max_rows > 0 && static_cast<int64_t>(d_.rows.size()) >= opt_.max_rows; }

    void bad(int64_t line, std::string reason) {
        if (opt_.on_bad_row == OnBadRow::Stop) throw Error(path_ + ":" + std::to_string(line) + ": " + reason);
        d_.bad_rows.push_back(BadRow{line, std::move(reason)});
    }

    void add(int64_t line, std::string text, std::optional<std::string> pair, std::string_view label_cell) {
        std::string_view label = trim(label_cell);
        if (label.empty()) return bad(line, "empty label");
        int id = -1;
        if (!opt_.label_names.empty()) {
            auto it = name_to_id_.find(std::string(label));
            long long v = 0;
            if (it != name_to_id_.end()) {
                id = it->second;
            } else if (plain_nonneg_int(label, v) && v < static_cast<long long>(opt_.label_names.size())) {
                id = static_cast<int>(v);
            } else {
                return bad(line, "unknown label \"" + std::string(label) + "\" (labels: " + join(opt_.label_names) +
                                     ")");
            }
        } else {
            raw_labels_.emplace_back(label);
        }
        Example e;
        e.text = std::move(text);
        e.text_pair = std::move(pair);
        e.label = id;
        e.line = line;
        d_.rows.push_back(std::move(e));
    }

    void finish() {
        if (d_.rows.empty()) {
            std::string msg = path_ + ": no usable rows";
            if (!d_.bad_rows.empty()) msg += " (" + std::to_string(d_.bad_rows.size()) + " bad rows skipped)";
            throw Error(msg);
        }
        if (!opt_.label_names.empty()) {
            d_.label_names = opt_.label_names;
            return;
        }
        bool numeric = true;
        long long max_v = -1;
        std::vector<long long> values(raw_labels_.size());
        for (size_t i = 0; i < raw_labels_.size(); ++i) {
            long long v = 0;
            if (!plain_nonneg_int(raw_labels_[i], v) || v >= kMaxNumericClasses) {
                numeric = false;
                break;
            }
            values[i] = v;
            max_v = std::max(max_v, v);
        }
        if (numeric) {
            d_.label_names = index_names(static_cast<size_t>(max_v + 1));
            for (size_t i = 0; i < values.size(); ++i) d_.rows[i].label = static_cast<int>(values[i]);
            return;
        }
        std::unordered_map<std::string, int> ids;
        for (const auto& l : raw_labels_) ids.emplace(l, 0);
        std::vector<std::string> names;
        names.reserve(ids.size());
        for (const auto& kv : ids) names.push_back(kv.first);
        std::sort(names.begin(), names.end());
        for (size_t i = 0; i < names.size(); ++i) ids[names[i]] = static_cast<int>(i);
        for (size_t i = 0; i < raw_labels_.size(); ++i) d_.rows[i].label = ids[raw_labels_[i]];
        d_.label_names = std::move(names);
    }

private:
    const std::string& path_;
    const DataOptions& opt_;
    Dataset& d_;
    std::unordered_map<std::string, int> name_to_id_;
    std::vector<std::string> raw_labels_;  // per row, when label_names are not given
};

void load_delimited(std::string_view s, bool csv, const std::string& path, const DataOptions& opt, Dataset& d,
                    Builder& b) {
    std::vector<Record> recs;
    {
        DelimReader rd(s, csv);
        Record r;
        while (rd.next(r)) {
            recs.push_back(std::move(r));
            r = Record();
        }
    }
    if (recs.empty()) return;
    if (!recs[0].error.empty()) {
        b.bad(recs[0].line, recs[0].error);
        return;
    }
    bool header = false;
    if (opt.has_header) {
        header = *opt.has_header;
    } else {
        header = detect_header(recs, opt);
    }
    const size_t n_fields = recs[0].cells.size();
    if (header) {
        d.columns.clear();
        for (const auto& c : recs[0].cells) d.columns.emplace_back(trim(c));
    } else {
        d.columns = index_names(n_fields);
    }
    ColumnChoice cc = choose_columns(d.columns, opt, path);
    for (size_t i = header ? 1 : 0; i < recs.size(); ++i) {
        if (b.full()) break;
        Record& r = recs[i];
        if (!r.error.empty()) {
            b.bad(r.line, r.error);
            continue;
        }
        if (r.cells.size() != n_fields) {
            b.bad(r.line, "expected " + std::to_string(n_fields) + " fields, got " + std::to_string(r.cells.size()));
            continue;
        }
        std::optional<std::string> pair;
        if (cc.pair) pair = r.cells[*cc.pair];
        std::string text = cc.pair && *cc.pair == cc.text ? r.cells[cc.text] : std::move(r.cells[cc.text]);
        b.add(r.line, std::move(text), std::move(pair), r.cells[cc.label]);
    }
}

// Calls f(line_number, line) for each line that is not blank; stops when f returns false.
template <class F>
void for_each_line(std::string_view s, F&& f) {
    size_t pos = 0;
    int64_t line = 0;
    while (pos < s.size()) {
        size_t nl = s.find('\n', pos);
        size_t end = nl == std::string_view::npos ? s.size() : nl;
        std::string_view ln = s.substr(pos, end - pos);
        ++line;
        pos = nl == std::string_view::npos ? s.size() : nl + 1;
        if (!ln.empty() && ln.back() == '\r') ln.remove_suffix(1);
        if (is_blank(ln)) continue;
        if (!f(line, ln, pos)) return;
    }
}

void load_jsonl(std::string_view s, const std::string& path, const DataOptions& opt, Dataset& d, Builder& b) {
    std::optional<ColumnChoice> cc;
    std::string text_key, pair_key, label_key;
    for_each_line(s, [&](int64_t line, std::string_view ln, size_t) {
        if (b.full()) return false;
        ojson j;
        try {
            j = ojson::parse(ln.begin(), ln.end());
        } catch (const ojson::parse_error& e) {
            b.bad(line, "invalid JSON at byte " + std::to_string(e.byte));
            return true;
        } catch (const ojson::exception& e) {
            b.bad(line, std::string("invalid JSON: ") + e.what());   // e.g. a number too large for a double
            return true;
        }
        if (!j.is_object()) {
            b.bad(line, "not a JSON object");
            return true;
        }
        if (!cc) {
            d.columns.clear();
            for (auto it = j.begin(); it != j.end(); ++it) d.columns.push_back(it.key());
            cc = choose_columns(d.columns, opt, path);
            text_key = d.columns[cc->text];
            label_key = d.columns[cc->label];
            if (cc->pair) pair_key = d.columns[*cc->pair];
        }
        auto get_text = [&](const std::string& key, std::string& out) {
            auto it = j.find(key);
            if (it == j.end()) {
                b.bad(line, "missing key \"" + key + "\"");
                return false;
            }
            if (!it->is_string()) {
                b.bad(line, "key \"" + key + "\" is not a string");
                return false;
            }
            out = it->get<std::string>();
            return true;
        };
        std::string text;
        if (!get_text(text_key, text)) return true;
        std::optional<std::string> pair;
        if (cc->pair) {
            pair.emplace();
            if (!get_text(pair_key, *pair)) return true;
        }
        auto it = j.find(label_key);
        if (it == j.end()) {
            b.bad(line, "missing key \"" + label_key + "\"");
            return true;
        }
        std::string label;
        if (it->is_string()) {
            label = it->get<std::string>();
        } else if (it->is_number_unsigned()) {
            label = std::to_string(it->get<uint64_t>());
        } else if (it->is_number_integer()) {
            label = std::to_string(it->get<int64_t>());
        } else if (!it->is_null()) {
            b.bad(line, "label is not a string or an integer");
            return true;
        }
        b.add(line, std::move(text), std::move(pair), label);
        return true;
    });
}

std::string cell_text(const ojson& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return {};
    return v.dump();
}

// Preview of `s` (a prefix of the file when !whole). Returns false when the prefix was too short.
bool preview_from(std::string_view s, DataFormat fmt, size_t n, bool whole,
                  std::vector<std::vector<std::string>>& rows, std::vector<std::string>& cols) {
    rows.clear();
    cols.clear();
    if (fmt == DataFormat::JSONL) {
        std::vector<ojson> objs;
        bool short_read = false;
        for_each_line(s, [&](int64_t, std::string_view ln, size_t pos_after) {
            if (objs.size() >= n) return false;
            if (!whole && pos_after >= s.size()) {
                short_read = true;
                return false;
            }
            ojson j = ojson::parse(ln.begin(), ln.end(), nullptr, false);
            if (j.is_discarded() || !j.is_object()) return true;
            for (auto it = j.begin(); it != j.end(); ++it)
                if (!contains(cols, it.key())) cols.push_back(it.key());
            objs.push_back(std::move(j));
            return true;
        });
        if (short_read) return false;
        for (const auto& j : objs) {
            std::vector<std::string> row;
            row.reserve(cols.size());
            for (const auto& c : cols) {
                auto it = j.find(c);
                row.push_back(it == j.end() ? std::string() : cell_text(*it));
            }
            rows.push_back(std::move(row));
        }
        return true;
    }
    DelimReader rd(s, fmt == DataFormat::CSV);
    std::vector<Record> recs;
    Record r;
    while (recs.size() < n + 1 && rd.next(r)) {
        if (!whole && rd.pos() >= s.size()) return false;
        if (r.error.empty()) recs.push_back(r);
    }
    bool header = detect_header(recs, DataOptions{});
    size_t width = 0;
    for (size_t i = header ? 1 : 0; i < recs.size() && rows.size() < n; ++i) {
        width = std::max(width, recs[i].cells.size());
        rows.push_back(std::move(recs[i].cells));
    }
    if (header) {
        for (const auto& c : recs[0].cells) cols.emplace_back(trim(c));
    } else {
        cols = index_names(width);
    }
    return true;
}

// Unbiased integer in [0, bound) from a 64-bit engine, by rejection; the same on every standard library.
uint64_t bounded(std::mt19937_64& rng, uint64_t bound) {
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    const uint64_t limit = max - (max % bound + 1) % bound;  // accept r <= limit: (limit + 1) % bound == 0
    uint64_t r;
    do {
        r = rng();
    } while (r > limit);
    return r % bound;
}

}  // namespace

std::map<int, int64_t> Dataset::label_counts() const {
    std::map<int, int64_t> counts;
    for (const auto& e : rows) ++counts[e.label];
    return counts;
}

Dataset load_dataset(const std::string& path, const DataOptions& opt) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw Error(path + ": cannot open for reading (a directory)");
    const std::string content = read_text_file(path);
    std::string_view s = strip_bom(content);
    DataFormat fmt = resolve_format(opt.format, path, s);
    Dataset d;
    d.path = path;
    Builder b(path, opt, d);
    if (fmt == DataFormat::JSONL)
        load_jsonl(s, path, opt, d, b);
    else
        load_delimited(s, fmt == DataFormat::CSV, path, opt, d, b);
    b.finish();
    return d;
}

std::vector<char> held_out_rows(size_t n, double fraction, uint64_t seed) {
    if (!(fraction >= 0.0 && fraction <= 1.0))
        throw Error("split fraction must be between 0 and 1, got " + std::to_string(fraction));
    const size_t n_valid = static_cast<size_t>(std::llround(fraction * static_cast<double>(n)));
    std::vector<size_t> idx(n);
    for (size_t i = 0; i < n; ++i) idx[i] = i;
    std::mt19937_64 rng(seed);
    for (size_t i = n; i > 1; --i) {
        size_t j = static_cast<size_t>(bounded(rng, i));
        std::swap(idx[i - 1], idx[j]);
    }
    std::vector<char> held(n, 0);
    for (size_t i = 0; i < n_valid; ++i) held[idx[i]] = 1;
    return held;
}

std::pair<Dataset, Dataset> split_dataset(const Dataset& d, double fraction, uint64_t seed) {
    const std::vector<char> in_valid = held_out_rows(d.rows.size(), fraction, seed);
    std::pair<Dataset, Dataset> out;
    for (Dataset* part : {&out.first, &out.second}) {
        part->path = d.path;
        part->columns = d.columns;
        part->label_names = d.label_names;
    }
    for (size_t i = 0; i < d.rows.size(); ++i) (in_valid[i] ? out.second : out.first).rows.push_back(d.rows[i]);
    return out;
}

std::vector<std::vector<std::string>> preview_rows(const std::string& path, DataFormat format, int n,
                                                   std::vector<std::string>* columns) {
    const size_t want = n > 0 ? static_cast<size_t>(n) : 0;
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> cols;
    size_t chunk = size_t(1) << 20;
    while (true) {
        bool whole = false;
        std::string buf = read_prefix(path, chunk, whole);
        std::string_view s = strip_bom(buf);
        DataFormat fmt = resolve_format(format, path, s);
        if (preview_from(s, fmt, want, whole, rows, cols)) break;
        chunk *= 4;
    }
    if (columns) *columns = std::move(cols);
    return rows;
}

DataFormat detect_data_format(const std::string& path) {
    DataFormat e = format_from_extension(path);
    if (e != DataFormat::Auto) return e;
    bool whole = false;
    std::string buf = read_prefix(path, size_t(64) << 10, whole);
    return sniff_format(strip_bom(buf));
}

const char* data_format_name(DataFormat f) {
    switch (f) {
        case DataFormat::Auto: return "auto";
        case DataFormat::TSV: return "tsv";
        case DataFormat::CSV: return "csv";
        case DataFormat::JSONL: return "jsonl";
    }
    return "auto";
}

std::optional<DataFormat> parse_data_format(const std::string& name) {
    std::string s = lower(name);
    if (s == "auto") return DataFormat::Auto;
    if (s == "tsv") return DataFormat::TSV;
    if (s == "csv") return DataFormat::CSV;
    if (s == "jsonl" || s == "json" || s == "ndjson") return DataFormat::JSONL;
    return std::nullopt;
}

}  // namespace ptune
