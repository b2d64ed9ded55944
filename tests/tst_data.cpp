// Tests for core/io/data: TSV/CSV/JSONL loading, header and column choice, labels, bad rows, split, preview.
#include <QElapsedTimer>
#include <QtTest/QtTest>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "core/io/data.h"

using namespace ptune;

namespace {

std::string fx(const std::string& name) { return std::string(PTUNE_FIXTURES) + "/" + name; }
std::string dfx(const std::string& name) { return fx("data/" + name); }

// Runs load_dataset and returns the ptune::Error message ("" when nothing was thrown).
std::string load_error(const std::string& path, const DataOptions& opt) {
    try {
        load_dataset(path, opt);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

std::vector<int64_t> lines_of(const Dataset& d) {
    std::vector<int64_t> v;
    for (const auto& e : d.rows) v.push_back(e.line);
    return v;
}

std::vector<int64_t> bad_lines(const Dataset& d) {
    std::vector<int64_t> v;
    for (const auto& b : d.bad_rows) v.push_back(b.line);
    return v;
}

std::vector<int> labels_of(const Dataset& d) {
    std::vector<int> v;
    for (const auto& e : d.rows) v.push_back(e.label);
    return v;
}

using Strings = std::vector<std::string>;
using Lines = std::vector<int64_t>;

}  // namespace

class TstData : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void glueTsvWithHeader() {
        const std::string path = fx("data.tsv");
        Dataset d = load_dataset(path, DataOptions{});

        QCOMPARE(d.path, path);
        QCOMPARE(d.rows.size(), size_t(2654));
        QCOMPARE(d.columns, (Strings{"sentence", "label"}));
        QCOMPARE(d.label_names, (Strings{"other", "returns"}));
        QVERIFY(d.bad_rows.empty());
        QCOMPARE(d.rows[0].text,
                 std::string("execvpe(file, args, env) Execute the executable file (which is searched for along $PATH) "
                             "with argument list args and environment env, replacing the current process."));
        QCOMPARE(d.rows[0].label, 0);
        QCOMPARE(d.rows[0].line, int64_t(2));
        QVERIFY(!d.rows[0].text_pair.has_value());
        // GLUE TSV is not quoted: the quotes stay in the text.
        QCOMPARE(d.rows[2].text, std::string("\"ls -l non_existent_file ; exit 0\"], ..."));
        QCOMPARE(d.rows[2].line, int64_t(4));
        QCOMPARE(d.rows.back().text, std::string("Implementation module for socket operations."));
        QCOMPARE(d.rows.back().line, int64_t(2655));
        auto counts = d.label_counts();
        QCOMPARE(counts.size(), size_t(2));
        QCOMPARE(counts[0], int64_t(2203));
        QCOMPARE(counts[1], int64_t(451));
    }

    void maxRows() {
        DataOptions opt;
        opt.max_rows = 10;
        Dataset d = load_dataset(fx("data.tsv"), opt);
        QCOMPARE(d.rows.size(), size_t(10));
        QCOMPARE(d.rows[9].line, int64_t(11));
    }

    void labelNamesGiven() {
        DataOptions opt;
        opt.label_names = {"returns", "other"};
        Dataset d = load_dataset(fx("data.tsv"), opt);
        QCOMPARE(d.label_names, (Strings{"returns", "other"}));
        auto counts = d.label_counts();
        QCOMPARE(counts[0], int64_t(451));
        QCOMPARE(counts[1], int64_t(2203));
        QCOMPARE(d.rows[0].label, 1);
    }

    void tsvWithoutHeaderByIndex() {
        DataOptions opt;
        opt.text_column = "3";
        opt.label_column = "1";
        Dataset d = load_dataset(dfx("cola.tsv"), opt);
        QCOMPARE(d.columns, (Strings{"0", "1", "2", "3"}));
        QCOMPARE(d.rows.size(), size_t(3));
        QCOMPARE(d.rows[0].text,
                 std::string("Our friends won't buy this analysis, let alone the next one we propose."));
        QCOMPARE(d.rows[2].text, std::string("They drank the pub \"dry\"."));
        QCOMPARE(labels_of(d), (std::vector<int>{1, 0, 1}));
        QCOMPARE(lines_of(d), (Lines{1, 2, 3}));
        QCOMPARE(d.label_names, (Strings{"0", "1"}));

        // has_header=true turns the first record into column names.
        opt.has_header = true;
        opt.text_column = "Our friends won't buy this analysis, let alone the next one we propose.";
        Dataset h = load_dataset(dfx("cola.tsv"), opt);
        QCOMPARE(h.rows.size(), size_t(2));
        QCOMPARE(h.rows[0].text, std::string("One more pseudo generalization and I'm giving up."));
        QCOMPARE(h.rows[0].line, int64_t(2));
    }

    void headerDetection() {
        // Unknown header names: the first label cell "sentiment" occurs nowhere else.
        Dataset r = load_dataset(dfx("reviews.tsv"), DataOptions{});
        QCOMPARE(r.columns, (Strings{"review", "sentiment"}));
        QCOMPARE(r.rows.size(), size_t(3));
        QCOMPARE(r.rows[0].text, std::string("loved it"));
        QCOMPARE(r.label_names, (Strings{"neg", "pos"}));
        QCOMPARE(labels_of(r), (std::vector<int>{1, 0, 0}));

        // The first label "pos" occurs again: data, not a header.
        Dataset n = load_dataset(dfx("noheader.tsv"), DataOptions{});
        QCOMPARE(n.columns, (Strings{"0", "1"}));
        QCOMPARE(n.rows.size(), size_t(3));
        QCOMPARE(n.rows[0].text, std::string("good"));
        QCOMPARE(n.rows[0].line, int64_t(1));
        QCOMPARE(labels_of(n), (std::vector<int>{1, 0, 1}));

        DataOptions no;
        no.has_header = false;
        no.on_bad_row = OnBadRow::Skip;
        Dataset forced = load_dataset(dfx("reviews.tsv"), no);
        QCOMPARE(forced.rows.size(), size_t(4));
        QCOMPARE(forced.label_names, (Strings{"neg", "pos", "sentiment"}));
    }

    void csvQuoting() {
        Dataset d = load_dataset(dfx("quoted.csv"), DataOptions{});
        QCOMPARE(d.columns, (Strings{"text", "label"}));
        QCOMPARE(d.rows.size(), size_t(5));
        QCOMPARE(d.rows[0].text, std::string("plain text"));
        QCOMPARE(d.rows[1].text, std::string("with, comma"));
        QCOMPARE(d.rows[2].text, std::string("multi\nline \"quoted\" text"));
        QCOMPARE(d.rows[3].text, std::string(""));
        QCOMPARE(d.rows[4].text, std::string("last one"));
        QCOMPARE(lines_of(d), (Lines{2, 3, 4, 6, 7}));
        QCOMPARE(d.label_names, (Strings{"neg", "pos"}));
        QCOMPARE(labels_of(d), (std::vector<int>{1, 0, 1, 0, 0}));
    }

    void jsonlStringLabels() {
        Dataset d = load_dataset(dfx("labels.jsonl"), DataOptions{});
        QCOMPARE(d.columns, (Strings{"text", "label"}));
        QCOMPARE(d.rows.size(), size_t(3));
        QCOMPARE(d.label_names, (Strings{"negative", "neutral", "positive"}));
        QCOMPARE(labels_of(d), (std::vector<int>{2, 0, 1}));
        QCOMPARE(lines_of(d), (Lines{1, 2, 4}));
        QCOMPARE(d.rows[2].text, std::string("fine"));
    }

    void jsonlIntLabels() {
        Dataset d = load_dataset(dfx("ints.jsonl"), DataOptions{});
        QCOMPARE(d.columns, (Strings{"label", "text"}));
        QCOMPARE(d.rows.size(), size_t(4));
        QCOMPARE(d.rows[0].text, std::string("one"));
        // Integers are the ids; class 2 is absent but keeps its place.
        QCOMPARE(labels_of(d), (std::vector<int>{1, 0, 3, 0}));
        QCOMPARE(d.label_names, (Strings{"0", "1", "2", "3"}));
        auto counts = d.label_counts();
        QCOMPARE(counts.size(), size_t(3));
        QCOMPARE(counts[0], int64_t(2));
        QCOMPARE(counts[1], int64_t(1));
        QCOMPARE(counts[3], int64_t(1));
    }

    void jsonlPair() {
        Dataset d = load_dataset(dfx("pairs.jsonl"), DataOptions{});
        QCOMPARE(d.rows.size(), size_t(2));
        QCOMPARE(d.rows[0].text, std::string("A man is playing a guitar."));
        QVERIFY(d.rows[0].text_pair.has_value());
        QCOMPARE(*d.rows[0].text_pair, std::string("A person plays music."));
        QCOMPARE(*d.rows[1].text_pair, std::string("The cat is running."));
        QCOMPARE(d.label_names, (Strings{"contradiction", "entailment"}));
        QCOMPARE(labels_of(d), (std::vector<int>{1, 0}));

        // An explicit single-text choice has no pair.
        DataOptions opt;
        opt.text_column = "sentence2";
        Dataset s = load_dataset(dfx("pairs.jsonl"), opt);
        QCOMPARE(s.rows[0].text, std::string("A person plays music."));
        QVERIFY(!s.rows[0].text_pair.has_value());
    }

    void tsvPair() {
        Dataset d = load_dataset(dfx("pairs.tsv"), DataOptions{});
        QCOMPARE(d.columns, (Strings{"index", "sentence1", "sentence2", "label"}));
        QCOMPARE(d.rows.size(), size_t(2));
        QCOMPARE(d.rows[1].text, std::string("It is sunny."));
        QCOMPARE(*d.rows[1].text_pair, std::string("It rains."));
        QCOMPARE(labels_of(d), (std::vector<int>{1, 0}));

        DataOptions opt;
        opt.text_column = "2";
        opt.text_pair_column = "sentence1";
        Dataset r = load_dataset(dfx("pairs.tsv"), opt);
        QCOMPARE(r.rows[0].text, std::string("The street is wet."));
        QCOMPARE(*r.rows[0].text_pair, std::string("It rains."));
    }

    void missingColumn() {
        DataOptions opt;
        opt.label_column = "labels";
        QCOMPARE(load_error(fx("data.tsv"), opt),
                 fx("data.tsv") + ": no column \"labels\" (columns: sentence, label)");

        DataOptions j;
        j.text_column = "body";
        QCOMPARE(load_error(dfx("pairs.jsonl"), j),
                 dfx("pairs.jsonl") + ": no column \"body\" (columns: sentence1, sentence2, label, idx)");

        DataOptions idx;
        idx.label_column = "7";
        QCOMPARE(load_error(dfx("cola.tsv"), idx),
                 dfx("cola.tsv") + ": column 7 out of range (4 columns: 0, 1, 2, 3)");

        DataOptions same;
        same.text_column = "label";
        QCOMPARE(load_error(fx("data.tsv"), same),
                 fx("data.tsv") + ": text and label are the same column \"label\"");
    }

    void unknownLabel() {
        DataOptions opt;
        opt.label_names = {"other", "returns"};
        const std::string path = dfx("unknown_label.tsv");
        QCOMPARE(load_error(path, opt), path + ":4: unknown label \"refund\" (labels: other, returns)");

        opt.on_bad_row = OnBadRow::Skip;
        Dataset d = load_dataset(path, opt);
        QCOMPARE(lines_of(d), (Lines{2, 3, 5}));
        QCOMPARE(labels_of(d), (std::vector<int>{1, 0, 1}));  // "1" accepted as an id below 2
        QCOMPARE(bad_lines(d), (Lines{4, 6}));
        QCOMPARE(d.bad_rows[1].reason, std::string("unknown label \"2\" (labels: other, returns)"));
        QCOMPARE(d.label_names, (Strings{"other", "returns"}));
    }

    void badFields() {
        const std::string path = dfx("bad_fields.tsv");
        QCOMPARE(load_error(path, DataOptions{}), path + ":3: expected 2 fields, got 3");
        DataOptions opt;
        opt.on_bad_row = OnBadRow::Skip;
        Dataset d = load_dataset(path, opt);
        QCOMPARE(lines_of(d), (Lines{2, 4, 6}));
        QCOMPARE(bad_lines(d), (Lines{3, 5}));
        QCOMPARE(d.bad_rows[0].reason, std::string("expected 2 fields, got 3"));
        QCOMPARE(d.bad_rows[1].reason, std::string("expected 2 fields, got 1"));
        QCOMPARE(d.label_names, (Strings{"a", "b"}));
    }

    void emptyLabel() {
        const std::string path = dfx("empty_label.tsv");
        QCOMPARE(load_error(path, DataOptions{}), path + ":4: empty label");
        DataOptions opt;
        opt.on_bad_row = OnBadRow::Skip;
        Dataset d = load_dataset(path, opt);
        QCOMPARE(lines_of(d), (Lines{2, 3, 6}));
        QCOMPARE(bad_lines(d), (Lines{4, 5}));
        QCOMPARE(d.bad_rows[1].reason, std::string("empty label"));
        QCOMPARE(d.rows[2].text, std::string(""));  // empty text is a good row
        QCOMPARE(labels_of(d), (std::vector<int>{0, 1, 0}));
    }

    void invalidJson() {
        const std::string path = dfx("invalid_json.jsonl");
        QCOMPARE(load_error(path, DataOptions{}), path + ":3: invalid JSON at byte 24");
        DataOptions opt;
        opt.on_bad_row = OnBadRow::Skip;
        Dataset d = load_dataset(path, opt);
        QCOMPARE(lines_of(d), (Lines{1, 4}));
        QCOMPARE(bad_lines(d), (Lines{3}));
        QCOMPARE(d.bad_rows[0].reason, std::string("invalid JSON at byte 24"));
    }

    // A number too large for a double is a bad row with the parser's reason, not an escaping exception (found by
    // fuzz_data).
    void numberOverflowIsABadRow() {
        const std::string path = dfx("number_overflow.jsonl");
        QCOMPARE(load_error(path, DataOptions{}),
                 path + ":2: invalid JSON: [json.exception.out_of_range.406] number overflow parsing '1e999'");
        DataOptions opt;
        opt.on_bad_row = OnBadRow::Skip;
        Dataset d = load_dataset(path, opt);
        QCOMPARE(lines_of(d), (Lines{1, 3}));
        QCOMPARE(bad_lines(d), (Lines{2}));
    }

    void missingKey() {
        const std::string path = dfx("missing_key.jsonl");
        QCOMPARE(load_error(path, DataOptions{}), path + ":2: missing key \"label\"");
        DataOptions opt;
        opt.on_bad_row = OnBadRow::Skip;
        Dataset d = load_dataset(path, opt);
        QCOMPARE(lines_of(d), (Lines{1, 4}));
        QCOMPARE(bad_lines(d), (Lines{2, 3, 5, 6, 7}));
        QCOMPARE(d.bad_rows[0].reason, std::string("missing key \"label\""));
        QCOMPARE(d.bad_rows[1].reason, std::string("missing key \"text\""));
        QCOMPARE(d.bad_rows[2].reason, std::string("not a JSON object"));
        QCOMPARE(d.bad_rows[3].reason, std::string("label is not a string or an integer"));
        QCOMPARE(d.bad_rows[4].reason, std::string("key \"text\" is not a string"));
        QCOMPARE(d.label_names, (Strings{"x", "y"}));
    }

    void unterminatedQuote() {
        const std::string path = dfx("unterminated.csv");
        QCOMPARE(load_error(path, DataOptions{}), path + ":4: unterminated quoted field");
        DataOptions opt;
        opt.on_bad_row = OnBadRow::Skip;
        Dataset d = load_dataset(path, opt);
        QCOMPARE(lines_of(d), (Lines{2, 3}));
        QCOMPARE(d.rows[1].text, std::string("fine, quoted"));
        QCOMPARE(bad_lines(d), (Lines{4}));
        QCOMPARE(d.bad_rows[0].reason, std::string("unterminated quoted field"));
    }

    void fileErrors() {
        const std::string missing = dfx("no_such_file.tsv");
        QCOMPARE(load_error(missing, DataOptions{}), missing + ": cannot open for reading");
        QCOMPARE(load_error(fx("data"), DataOptions{}), fx("data") + ": cannot open for reading (a directory)");
        bool threw = false;
        try {
            preview_rows(missing, DataFormat::Auto, 5);
        } catch (const Error& e) {
            threw = true;
            QCOMPARE(std::string(e.what()), missing + ": cannot open for reading");
        }
        QVERIFY(threw);

        // Every row bad: nothing usable.
        DataOptions opt;
        opt.on_bad_row = OnBadRow::Skip;
        opt.label_names = {"a", "b"};
        const std::string path = dfx("labels.jsonl");
        QCOMPARE(load_error(path, opt), path + ": no usable rows (3 bad rows skipped)");
    }

    void crlfAndBom() {
        Dataset c = load_dataset(dfx("crlf_bom.csv"), DataOptions{});
        QCOMPARE(c.columns, (Strings{"text", "label"}));
        QCOMPARE(c.rows.size(), size_t(3));
        QCOMPARE(c.rows[0].text, std::string("hello"));
        QCOMPARE(c.rows[1].text, std::string("two\nlines"));
        QCOMPARE(c.rows[2].text, std::string("last"));
        QCOMPARE(lines_of(c), (Lines{2, 3, 5}));
        QCOMPARE(c.label_names, (Strings{"neg", "pos"}));

        Dataset t = load_dataset(dfx("crlf_bom.tsv"), DataOptions{});
        QCOMPARE(t.columns, (Strings{"sentence", "label"}));
        QCOMPARE(t.rows.size(), size_t(2));
        QCOMPARE(t.rows[0].text, std::string("first"));
        QCOMPARE(t.rows[1].text, std::string("second"));
        QCOMPARE(labels_of(t), (std::vector<int>{0, 1}));
        QCOMPARE(t.label_names, (Strings{"0", "1"}));

        Dataset j = load_dataset(dfx("crlf_bom.jsonl"), DataOptions{});
        QCOMPARE(j.rows.size(), size_t(2));
        QCOMPARE(j.rows[1].text, std::string("b"));
        QCOMPARE(lines_of(j), (Lines{1, 3}));
        QCOMPARE(labels_of(j), (std::vector<int>{0, 1}));
    }

    void formatDetection() {
        QCOMPARE(detect_data_format(fx("data.tsv")), DataFormat::TSV);
        QCOMPARE(detect_data_format(dfx("quoted.csv")), DataFormat::CSV);
        QCOMPARE(detect_data_format(dfx("pairs.jsonl")), DataFormat::JSONL);
        QCOMPARE(detect_data_format(dfx("sniff_csv.txt")), DataFormat::CSV);
        QCOMPARE(detect_data_format(dfx("sniff_jsonl.txt")), DataFormat::JSONL);

        Dataset c = load_dataset(dfx("sniff_csv.txt"), DataOptions{});
        QCOMPARE(c.columns, (Strings{"text", "label"}));
        QCOMPARE(c.rows.size(), size_t(2));
        Dataset j = load_dataset(dfx("sniff_jsonl.txt"), DataOptions{});
        QCOMPARE(j.rows[0].text, std::string("hi"));

        // An explicit format wins over the extension: quoted.csv read as TSV keeps the quotes.
        DataOptions opt;
        opt.format = DataFormat::TSV;
        opt.has_header = true;
        opt.on_bad_row = OnBadRow::Skip;
        opt.text_column = "0";
        opt.label_column = "0";
        QCOMPARE(load_error(dfx("quoted.csv"), opt),
                 dfx("quoted.csv") + ": text and label are the same column \"text,label\"");

        QCOMPARE(std::string(data_format_name(DataFormat::JSONL)), std::string("jsonl"));
        QCOMPARE(parse_data_format("CSV"), std::optional<DataFormat>(DataFormat::CSV));
        QCOMPARE(parse_data_format("ndjson"), std::optional<DataFormat>(DataFormat::JSONL));
        QVERIFY(!parse_data_format("xml").has_value());
    }

    void split() {
        Dataset d = load_dataset(fx("data.tsv"), DataOptions{});
        auto [train, valid] = split_dataset(d, 0.1, 42);
        QCOMPARE(valid.rows.size(), size_t(265));  // round(0.1 * 2654)
        QCOMPARE(train.rows.size(), size_t(2654 - 265));
        QCOMPARE(train.label_names, d.label_names);
        QCOMPARE(valid.label_names, d.label_names);
        QCOMPARE(valid.columns, d.columns);
        // mt19937_64(42) + Fisher–Yates with rejection sampling, checked against an independent
        // implementation: the first valid rows in file order.
        Lines v = lines_of(valid);
        QCOMPARE(Lines(v.begin(), v.begin() + 6), (Lines{9, 21, 40, 51, 56, 67}));

        auto [train2, valid2] = split_dataset(d, 0.1, 42);
        QCOMPARE(lines_of(valid2), v);
        QCOMPARE(lines_of(train2), lines_of(train));

        auto [train3, valid3] = split_dataset(d, 0.1, 7);
        Lines v3 = lines_of(valid3);
        QVERIFY(v3 != v);
        QCOMPARE(Lines(v3.begin(), v3.begin() + 6), (Lines{4, 15, 24, 33, 44, 49}));

        std::set<int64_t> all;
        for (int64_t l : lines_of(train)) all.insert(l);
        for (int64_t l : v) all.insert(l);
        QCOMPARE(all.size(), size_t(2654));
        QCOMPARE(*all.begin(), int64_t(2));
        QCOMPARE(*all.rbegin(), int64_t(2655));

        auto [t0, v0] = split_dataset(d, 0.0, 1);
        QCOMPARE(t0.rows.size(), size_t(2654));
        QCOMPARE(v0.rows.size(), size_t(0));
        auto [t1, v1] = split_dataset(d, 1.0, 1);
        QCOMPARE(t1.rows.size(), size_t(0));
        QCOMPARE(v1.rows.size(), size_t(2654));

        bool threw = false;
        try {
            split_dataset(d, 1.5, 1);
        } catch (const Error&) {
            threw = true;
        }
        QVERIFY(threw);
    }

    void preview() {
        Strings cols;
        auto rows = preview_rows(dfx("quoted.csv"), DataFormat::Auto, 3, &cols);
        QCOMPARE(cols, (Strings{"text", "label"}));
        QCOMPARE(rows.size(), size_t(3));
        QCOMPARE(rows[0], (Strings{"plain text", "pos"}));
        QCOMPARE(rows[1], (Strings{"with, comma", "neg"}));
        QCOMPARE(rows[2], (Strings{"multi\nline \"quoted\" text", "pos"}));

        rows = preview_rows(fx("data.tsv"), DataFormat::Auto, 2, &cols);
        QCOMPARE(cols, (Strings{"sentence", "label"}));
        QCOMPARE(rows.size(), size_t(2));
        QCOMPARE(rows[1][0], std::string("Semaphores manage a counter representing the number of release() calls "
                                         "minus the number of acquire() calls, plus an initial value."));

        // Tolerant: bad rows come back as they are; what does not parse is left out.
        rows = preview_rows(dfx("bad_fields.tsv"), DataFormat::Auto, 10, &cols);
        QCOMPARE(rows.size(), size_t(5));
        QCOMPARE(rows[1], (Strings{"one", "two", "three"}));
        QCOMPARE(rows[3], (Strings{"no label column"}));

        rows = preview_rows(dfx("unterminated.csv"), DataFormat::Auto, 10, &cols);
        QCOMPARE(rows.size(), size_t(2));

        rows = preview_rows(dfx("missing_key.jsonl"), DataFormat::Auto, 10, &cols);
        QCOMPARE(cols, (Strings{"text", "label"}));
        QCOMPARE(rows.size(), size_t(6));
        QCOMPARE(rows[1], (Strings{"b", ""}));
        QCOMPARE(rows[2], (Strings{"", "y"}));
        QCOMPARE(rows[4], (Strings{"e", "1.5"}));
        QCOMPARE(rows[5], (Strings{"5", "x"}));

        rows = preview_rows(dfx("invalid_json.jsonl"), DataFormat::JSONL, 10, nullptr);
        QCOMPARE(rows.size(), size_t(2));
        QCOMPARE(rows[1], (Strings{"c", "y"}));

        rows = preview_rows(dfx("cola.tsv"), DataFormat::Auto, 1, &cols);
        QCOMPARE(cols, (Strings{"0", "1", "2", "3"}));
        QCOMPARE(rows.size(), size_t(1));
        QCOMPARE(rows[0][2], std::string(""));
    }
};

QTEST_APPLESS_MAIN(TstData)
#include "tst_data.moc"
