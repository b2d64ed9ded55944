// Word-level tagged data: CoNLL and JSONL (the first input byte picks the file's extension and the options), with
// -DOCSTART- lines, tag columns, scheme detection or a given scheme, given tag names, bad rows skipped or stopped
// at; then the entity metrics of the tags against themselves in both modes.
#include <cstdint>

#include "core/eval/entity_metrics.h"
#include "core/io/error.h"
#include "core/io/tagged_data.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t pick = data[0];
    static const char* const kNames[] = {"data.conll", "data.jsonl", "eng.train", "data.txt"};
    const std::string path = fuzz::write_file(kNames[pick & 3], data + 1, size - 1);
    ptune::TaggedOptions o;
    o.on_bad_row = pick & 4 ? ptune::OnBadRow::Skip : ptune::OnBadRow::Stop;
    if (pick & 8) o.tag_column = 1;
    if (pick & 16) o.scheme = (pick & 32) ? ptune::TagScheme::IOBES : ptune::TagScheme::IOB2;
    if (pick & 64) o.label_names = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
    if (pick & 128) o.max_sentences = 3;
    (void)ptune::looks_like_tagged_data(path);
    try {
        ptune::TaggedDataset d = ptune::load_tagged(path, o);
        if (d.scheme == ptune::TagScheme::Auto) fuzz::fail("the scheme stayed auto");
        if (o.max_sentences > 0 && (int64_t)d.sentences.size() > o.max_sentences) fuzz::fail("max_sentences exceeded");
        for (const auto& s : d.sentences) {
            if (s.words.size() != s.tags.size() || s.words.empty()) fuzz::fail("words and tags differ in number");
            for (int t : s.tags)
                if (t < 0 || t >= (int)d.label_names.size()) fuzz::fail("a tag id outside the tag names");
        }
        const auto tags = d.tag_strings();
        const ptune::TaggingScores same = ptune::score_tagging(tags, tags);
        if (same.micro.gold > 0 && same.micro.f1 != 1.0) fuzz::fail("tags against themselves: F1 is not 1");
        if (same.token_accuracy != 1.0) fuzz::fail("tags against themselves: accuracy is not 1");
        if (d.scheme != ptune::TagScheme::None) {
            // Every tag was checked against the scheme, so strict mode must accept them.
            const ptune::TaggingScores strict = ptune::score_tagging(tags, tags, ptune::EntityMode::Strict, d.scheme);
            if (strict.micro.gold > 0 && strict.micro.f1 != 1.0) fuzz::fail("strict: F1 is not 1");
        }
    } catch (const ptune::Error&) {
    }
    return 0;
}
