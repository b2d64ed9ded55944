// Word-level tagged data (CoNLL, JSONL) and entity metrics. Each expected score is worked out by hand from
// seqeval's rules (seqeval/metrics/sequence_labeling.py get_entities; seqeval/scheme.py for mode="strict"); the
// arithmetic is written beside the assertion.
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

#include "core/eval/entity_metrics.h"
#include "core/io/tagged_data.h"

using namespace ptune;
using Seqs = std::vector<std::vector<std::string>>;

namespace {
std::string write(const QTemporaryDir& d, const std::string& name, const std::string& content) {
    const std::string p = d.path().toStdString() + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
}
bool near(double a, double b) { return std::abs(a - b) < 1e-12; }
}  // namespace

class TstTagging : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // seqeval's own docstring example: y_true has MISC(3..5) and PER(0..1 of sentence 2); y_pred has MISC(2..5)
    // (wrong start) and the same PER. tp 1, predicted 2, gold 2 -> P = R = F1 = 0.5. Tags equal: 8 of 10 -> 0.8.
    void seqevalDocstringExample() {
        Seqs gold{{"O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"}, {"B-PER", "I-PER", "O"}};
        Seqs pred{{"O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"}, {"B-PER", "I-PER", "O"}};
        TaggingScores s = score_tagging(gold, pred);
        QCOMPARE(s.micro.true_positives, (int64_t)1);
        QCOMPARE(s.micro.predicted, (int64_t)2);
        QCOMPARE(s.micro.gold, (int64_t)2);
        QVERIFY(near(s.micro.precision, 0.5) && near(s.micro.recall, 0.5) && near(s.micro.f1, 0.5));
        QVERIFY(near(s.token_accuracy, 0.8));
        QCOMPARE(s.tokens, (int64_t)10);
        QCOMPARE((int)s.per_type.size(), 2);
        QVERIFY(near(s.per_type.at("MISC").f1, 0.0));
        QVERIFY(near(s.per_type.at("PER").f1, 1.0));
        QVERIFY(near(s.macro_f1, 0.5));   // (0 + 1) / 2
        // Entities in the joined sequence (sentences separated by one "O"): MISC 3..5; PER 8..9.
        auto e = entities_default(gold);
        QCOMPARE((int)e.size(), 2);
        QCOMPARE(e[0].type, std::string("MISC"));
        QCOMPARE(e[0].start, (int64_t)3);
        QCOMPARE(e[0].end, (int64_t)5);
        QCOMPARE(e[1].type, std::string("PER"));
        QCOMPARE(e[1].start, (int64_t)8);
        QCOMPARE(e[1].end, (int64_t)9);
    }

    // I- without B-: the default mode reads "I-PER I-PER" as a PER entity (prev O, tag I starts a chunk), so gold
    // {PER 0..1, LOC 3..3} equals pred {PER 0..1 (B I), LOC 3..3 (I-LOC after O)}: F1 1.
    // Strict IOB2: an entity must begin with B-. Gold: I-PER I-PER is no entity, B-LOC is -> {LOC}. Pred: B-PER
    // I-PER -> {PER}; I-LOC is none. tp 0, predicted 1, gold 1 -> P = R = F1 = 0.
    void insideWithoutBegin() {
        Seqs gold{{"I-PER", "I-PER", "O", "B-LOC"}};
        Seqs pred{{"B-PER", "I-PER", "O", "I-LOC"}};
        TaggingScores d = score_tagging(gold, pred);
        QCOMPARE(d.micro.true_positives, (int64_t)2);
        QVERIFY(near(d.micro.f1, 1.0));
        TaggingScores s = score_tagging(gold, pred, EntityMode::Strict, TagScheme::IOB2);
        QCOMPARE(s.micro.true_positives, (int64_t)0);
        QCOMPARE(s.micro.predicted, (int64_t)1);
        QCOMPARE(s.micro.gold, (int64_t)1);
        QVERIFY(near(s.micro.f1, 0.0));
        QCOMPARE(s.per_type.at("LOC").gold, (int64_t)1);
        QCOMPARE(s.per_type.at("LOC").predicted, (int64_t)0);
        QCOMPARE(s.per_type.at("PER").predicted, (int64_t)1);
    }

    // An entity does not run across a sentence end. Gold [O B-PER] [I-PER O]: default mode, joined
    // O B-PER O | I-PER O O -> PER 1..1 and PER 3..3 (I-PER after the separator O begins a new chunk): two
    // entities. Pred [O B-PER] [B-PER O] -> PER 1..1, PER 3..3: tp 2 of 2 -> F1 1.
    // Strict IOB2: gold {s0 PER 1..1} only (s1's I-PER begins nothing); pred {s0 PER 1..1, s1 PER 0..0}:
    // tp 1, predicted 2, gold 1 -> P 0.5, R 1, F1 = 2 * 0.5 * 1 / 1.5 = 2/3.
    void entitiesStopAtSentenceEnds() {
        Seqs gold{{"O", "B-PER"}, {"I-PER", "O"}};
        Seqs pred{{"O", "B-PER"}, {"B-PER", "O"}};
        TaggingScores d = score_tagging(gold, pred);
        QCOMPARE(d.micro.gold, (int64_t)2);
        QCOMPARE(d.micro.true_positives, (int64_t)2);
        QVERIFY(near(d.micro.f1, 1.0));
        TaggingScores s = score_tagging(gold, pred, EntityMode::Strict, TagScheme::IOB2);
        QCOMPARE(s.micro.gold, (int64_t)1);
        QCOMPARE(s.micro.predicted, (int64_t)2);
        QVERIFY(near(s.micro.precision, 0.5));
        QVERIFY(near(s.micro.recall, 1.0));
        QVERIFY(near(s.micro.f1, 2.0 / 3.0));
    }

    // No predicted entities: precision 0 (nothing predicted), recall 0 of 2, F1 0. Token accuracy: only the "O"
    // at position 2 matches: 1 / 4. Nothing anywhere: all zero (seqeval's zero_division "warn" gives 0).
    void emptyPredictions() {
        Seqs gold{{"B-PER", "I-PER", "O", "B-LOC"}};
        Seqs pred{{"O", "O", "O", "O"}};
        TaggingScores s = score_tagging(gold, pred);
        QCOMPARE(s.micro.gold, (int64_t)2);
        QCOMPARE(s.micro.predicted, (int64_t)0);
        QVERIFY(near(s.micro.precision, 0) && near(s.micro.recall, 0) && near(s.micro.f1, 0));
        QVERIFY(near(s.token_accuracy, 0.25));
        TaggingScores none = score_tagging({{"O", "O"}}, {{"O", "O"}});
        QCOMPARE(none.micro.gold, (int64_t)0);
        QVERIFY(near(none.micro.f1, 0));
        QVERIFY(near(none.token_accuracy, 1.0));
        QVERIFY(none.per_type.empty());
    }

    // IOBES. Gold B-PER E-PER S-LOC O; pred B-PER I-PER S-LOC O.
    // Default: pred's I-PER is followed by S-LOC, which ends the chunk (prev I, tag S) -> PER 0..1, as in gold
    // (B E). Both have PER 0..1 and LOC 2..2 -> F1 1.
    // Strict IOBES: pred's B-PER I-PER is never closed by E- (the S-LOC after I- matches no end pattern), so pred
    // has {LOC} alone: tp 1, predicted 1, gold 2 -> P 1, R 0.5, F1 = 2 * 0.5 / 1.5 = 2/3.
    void iobesStrictNeedsTheEnd() {
        Seqs gold{{"B-PER", "E-PER", "S-LOC", "O"}};
        Seqs pred{{"B-PER", "I-PER", "S-LOC", "O"}};
        QVERIFY(near(score_tagging(gold, pred).micro.f1, 1.0));
        TaggingScores s = score_tagging(gold, pred, EntityMode::Strict, TagScheme::IOBES);
        QCOMPARE(s.micro.true_positives, (int64_t)1);
        QCOMPARE(s.micro.predicted, (int64_t)1);
        QCOMPARE(s.micro.gold, (int64_t)2);
        QVERIFY(near(s.micro.precision, 1.0) && near(s.micro.recall, 0.5) && near(s.micro.f1, 2.0 / 3.0));
    }

    // IOB1 strict: I-PER I-PER B-PER O I-LOC -> PER 0..1 (I I, then B of the same type ends it), PER 2..2 (B after
    // I of the same type begins one), LOC 4..4 (I after O). A B- after O does not begin an IOB1 entity.
    void iob1Strict() {
        auto e = entities_strict({{"I-PER", "I-PER", "B-PER", "O", "I-LOC"}}, TagScheme::IOB1);
        QCOMPARE((int)e.size(), 3);
        QCOMPARE(e[0].type, std::string("PER"));
        QCOMPARE(e[0].start, (int64_t)0);
        QCOMPARE(e[0].end, (int64_t)1);
        QCOMPARE(e[1].start, (int64_t)2);
        QCOMPARE(e[1].end, (int64_t)2);
        QCOMPARE(e[2].type, std::string("LOC"));
        QCOMPARE(e[2].start, (int64_t)4);
        QVERIFY(entities_strict({{"O", "B-PER", "O"}}, TagScheme::IOB1).empty());
        // A type change inside: B-PER I-LOC (default mode) is PER 0..0 and LOC 1..1.
        auto d = entities_default({{"B-PER", "I-LOC"}});
        QCOMPARE((int)d.size(), 2);
        QCOMPARE(d[0].type, std::string("PER"));
        QCOMPARE(d[0].end, (int64_t)0);
        QCOMPARE(d[1].type, std::string("LOC"));
        QCOMPARE(d[1].start, (int64_t)1);
    }

    // Strict mode refuses a tag its scheme does not allow (seqeval raises ValueError), naming it.
    void strictRefusesForeignPrefixes() {
        try {
            score_tagging({{"B-PER", "E-PER"}}, {{"B-PER", "I-PER"}}, EntityMode::Strict, TagScheme::IOB2);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("E-PER") != std::string::npos, e.what());
            QVERIFY2(std::string(e.what()).find("sentence 1, tag 2") != std::string::npos, e.what());
        }
        try {
            score_tagging({{"O"}}, {{"O", "O"}});
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("sentence 1 has 1 gold tags but 2 predicted") != std::string::npos, e.what());
        }
    }

    // Per type over several sentences. Gold: PER x2, LOC x1, ORG x1; pred: PER x2 (one right), LOC x1 (right),
    // MISC x1 (not in gold). PER: tp 1, P 1/2, R 1/2, F1 1/2. LOC: 1, 1, 1. ORG: tp 0, predicted 0 -> 0, 0, 0.
    // MISC: tp 0, predicted 1, gold 0 -> 0. Micro: tp 2, predicted 4, gold 4 -> 0.5. Macro over the 4 types:
    // (0.5 + 1 + 0 + 0) / 4 = 0.375.
    void perTypeScores() {
        Seqs gold{{"B-PER", "I-PER", "O", "B-LOC"}, {"B-ORG", "O", "B-PER"}};
        // Joined: sentence 0 at 0..3, the separator at 4, sentence 1 at 5..7. Gold PER 0..1, LOC 3, ORG 5, PER 7;
        // pred PER 0..1, LOC 3, MISC 5, PER 6..7 (the second PER's span is wrong).
        Seqs pred{{"B-PER", "I-PER", "O", "B-LOC"}, {"B-MISC", "B-PER", "I-PER"}};
        TaggingScores s = score_tagging(gold, pred);
        QCOMPARE((int)s.per_type.size(), 4);
        QVERIFY(near(s.per_type.at("PER").precision, 0.5) && near(s.per_type.at("PER").recall, 0.5));
        QVERIFY(near(s.per_type.at("LOC").f1, 1.0));
        QCOMPARE(s.per_type.at("ORG").gold, (int64_t)1);
        QVERIFY(near(s.per_type.at("ORG").f1, 0.0));
        QCOMPARE(s.per_type.at("MISC").predicted, (int64_t)1);
        QCOMPARE(s.per_type.at("MISC").gold, (int64_t)0);
        QCOMPARE(s.micro.true_positives, (int64_t)2);
        QCOMPARE(s.micro.predicted, (int64_t)4);
        QCOMPARE(s.micro.gold, (int64_t)4);
        QVERIFY(near(s.micro.f1, 0.5));
        QVERIFY(near(s.macro_f1, 0.375));
    }

    // CoNLL: -DOCSTART- lines, blank lines between sentences, CRLF, a BOM, the tag in the last column by default.
    void readsConll() {
        QTemporaryDir tmp;
        const std::string p = write(tmp, "a.conll",
                                    "\xEF\xBB\xBF-DOCSTART- -X- -X- O\r\n\r\n"
                                    "EU NNP B-NP B-ORG\r\nrejects VBZ B-VP O\r\nGerman JJ B-NP B-MISC\r\n\r\n"
                                    "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n\n  \n"
                                    "-DOCSTART- -X- -X- O\n\nBRUSSELS NNP B-NP B-LOC\n");
        TaggedDataset d = load_tagged(p, {});
        QCOMPARE((int)d.sentences.size(), 3);
        QCOMPARE(d.documents, (int64_t)2);
        QCOMPARE(d.sentences[0].words, (std::vector<std::string>{"EU", "rejects", "German"}));
        QCOMPARE(d.sentences[0].line, (int64_t)3);
        QCOMPARE(d.sentences[1].line, (int64_t)7);
        QCOMPARE(d.sentences[0].document, (int64_t)0);
        QCOMPARE(d.sentences[2].document, (int64_t)1);
        QCOMPARE(d.scheme, TagScheme::IOB2);
        // "O" first, then by type, B before I.
        QCOMPARE(d.label_names, (std::vector<std::string>{"O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-PER"}));
        QCOMPARE(d.tag_strings()[1], (std::vector<std::string>{"B-PER", "I-PER"}));
        QCOMPARE(d.word_count(), (int64_t)6);
        // Another column: the chunk tags.
        TaggedOptions o;
        o.tag_column = 2;
        TaggedDataset c = load_tagged(p, o);
        QCOMPARE(c.tag_strings()[0], (std::vector<std::string>{"B-NP", "B-VP", "B-NP"}));
        QVERIFY(looks_like_tagged_data(p));
    }

    void detectsSchemes() {
        QCOMPARE(detect_tag_scheme({{"B-PER", "I-PER", "O"}}), TagScheme::IOB2);
        QCOMPARE(detect_tag_scheme({{"I-PER", "I-PER", "O", "I-LOC", "B-LOC"}}), TagScheme::IOB1);
        QCOMPARE(detect_tag_scheme({{"B-PER", "E-PER", "S-LOC"}}), TagScheme::IOBES);
        QCOMPARE(detect_tag_scheme({{"O", "O"}}), TagScheme::IOB2);
        QCOMPARE(detect_tag_scheme({{"NNP", "VBZ"}}), TagScheme::None);
        QCOMPARE(parse_tag_scheme("BIO"), std::optional<TagScheme>(TagScheme::IOB2));
        QCOMPARE(parse_tag_scheme("bioes"), std::optional<TagScheme>(TagScheme::IOBES));
        QVERIFY(!parse_tag_scheme("xyz"));
    }

    // JSONL with string tags, or integer tags with the names given.
    void readsJsonl() {
        QTemporaryDir tmp;
        const std::string p = write(tmp, "a.jsonl",
                                    "{\"tokens\": [\"Ann\", \"runs\"], \"tags\": [\"B-PER\", \"O\"]}\n\n"
                                    "{\"tokens\": [\"in\", \"Rome\"], \"tags\": [\"O\", \"B-LOC\"]}\n");
        TaggedDataset d = load_tagged(p, {});
        QCOMPARE((int)d.sentences.size(), 2);
        QCOMPARE(d.sentences[1].line, (int64_t)3);
        QCOMPARE(d.label_names, (std::vector<std::string>{"O", "B-LOC", "B-PER"}));
        const std::string q = write(tmp, "b.jsonl", "{\"tokens\": [\"Ann\", \"runs\"], \"ner_tags\": [1, 0]}\n");
        TaggedOptions o;
        o.label_names = {"O", "B-PER", "I-PER"};
        TaggedDataset e = load_tagged(q, o);
        QCOMPARE(e.tag_strings()[0], (std::vector<std::string>{"B-PER", "O"}));
        QCOMPARE(e.label_names.size(), (size_t)3);
        try {
            load_tagged(q, {});
            QFAIL("no error");
        } catch (const Error& err) {
            QVERIFY2(std::string(err.what()).find("b.jsonl:1: ner_tags[0] is an integer") != std::string::npos, err.what());
        }
        QVERIFY(looks_like_tagged_data(p));
    }

    // Bad rows name the file and line; with Skip they are collected and the rest is read.
    void badRows() {
        QTemporaryDir tmp;
        auto expect = [](const std::string& path, const TaggedOptions& o, const std::string& part) {
            try {
                load_tagged(path, o);
            } catch (const Error& e) {
                QVERIFY2(std::string(e.what()).find(part) != std::string::npos, e.what());
                return;
            }
            QFAIL(("no error for " + part).c_str());
        };
        const std::string p = write(tmp, "bad.conll", "Ann B-PER\nruns\n\nin O\nRome B-LOC\n");
        expect(p, {}, "bad.conll:2: expected at least 2 fields, got 1");
        TaggedOptions skip;
        skip.on_bad_row = OnBadRow::Skip;
        TaggedDataset d = load_tagged(p, skip);
        QCOMPARE((int)d.sentences.size(), 1);   // the first sentence is dropped whole
        QCOMPARE((int)d.bad_rows.size(), 1);
        QCOMPARE(d.bad_rows[0].line, (int64_t)2);
        const std::string j = write(tmp, "bad.jsonl", "{\"tokens\": [\"a\", \"b\"], \"tags\": [\"O\"]}\n{\"tokens\": 3}\n");
        expect(j, {}, "bad.jsonl:1: 2 tokens but 1 tags");
        const std::string k = write(tmp, "k.jsonl", "{\"tokens\": [\"a\"], \"tags\": [\"O\"]}\n{\"tokens\": 3}\n");
        expect(k, {}, "k.jsonl:2: missing list \"tokens\"");
        const std::string iob = write(tmp, "e.conll", "Ann E-PER\n");
        TaggedOptions iob2;
        iob2.scheme = TagScheme::IOB2;
        expect(iob, iob2, "e.conll:1: tag \"E-PER\" is not iob2");
        TaggedOptions names;
        names.label_names = {"O", "B-PER"};
        const std::string u = write(tmp, "u.conll", "Ann B-PER\n\nRome B-LOC\n");
        expect(u, names, "u.conll:3: unknown tag \"B-LOC\" (tags: O, B-PER)");
        const std::string empty = write(tmp, "empty.conll", "\n\n-DOCSTART- O\n\n");
        expect(empty, {}, "empty.conll: no sentences");
        expect(tmp.path().toStdString() + "/missing.conll", {}, "missing.conll");
        // Plain tags (POS) are read with scheme none.
        const std::string pos = write(tmp, "pos.conll", "The DT\ncat NN\n");
        QCOMPARE(load_tagged(pos, {}).scheme, TagScheme::None);
        QCOMPARE(load_tagged(pos, {}).label_names, (std::vector<std::string>{"DT", "NN"}));
    }

    void splitIsSeeded() {
        TaggedDataset d;
        d.label_names = {"O"};
        for (int i = 0; i < 10; ++i) d.sentences.push_back({{"w" + std::to_string(i)}, {0}, i + 1, 0});
        auto [a, b] = split_tagged(d, 0.3, 7);
        QCOMPARE((int)b.sentences.size(), 3);
        QCOMPARE((int)a.sentences.size(), 7);
        auto [c, e] = split_tagged(d, 0.3, 7);
        for (size_t i = 0; i < 3; ++i) QCOMPARE(b.sentences[i].words, e.sentences[i].words);
        QVERIFY(b.sentences[0].line < b.sentences[1].line);   // file order kept
    }
};

QTEST_GUILESS_MAIN(TstTagging)
#include "tst_tagging.moc"
