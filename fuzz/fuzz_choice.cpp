// Multiple-choice data: COPA, SWAG and generic JSONL rows (the first input byte picks the options), bad rows
// skipped or stopped at; then what the data promises: every question has a context, two or more non-empty choices
// and a label inside them (or -1 where unlabelled rows are allowed), unique ids, lines in file order, and a split
// that keeps every question.
#include <cstdint>
#include <set>

#include "core/io/choice_data.h"
#include "core/io/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t pick = data[0];
    const std::string path = fuzz::write_file(pick & 1 ? "copa.jsonl" : "rows.txt", data + 1, size - 1);
    ptune::ChoiceOptions o;
    o.on_bad_row = pick & 2 ? ptune::OnBadRow::Skip : ptune::OnBadRow::Stop;
    o.allow_unlabelled = pick & 4;
    if (pick & 8) o.max_examples = 3;
    (void)ptune::looks_like_choice_data(path);
    try {
        const ptune::ChoiceDataset d = ptune::load_choice(path, o);
        if (d.examples.empty()) fuzz::fail("an empty data set was returned");
        if (o.max_examples > 0 && (int64_t)d.examples.size() > o.max_examples) fuzz::fail("max_examples exceeded");
        if (o.on_bad_row == ptune::OnBadRow::Stop && !d.bad_rows.empty()) fuzz::fail("bad rows kept while stopping");
        std::set<std::string> ids;
        int64_t line = 0;
        for (const auto& e : d.examples) {
            if (e.choices.size() < 2) fuzz::fail("a question with fewer than two choices");
            for (const auto& c : e.choices)
                if (c.find_first_not_of(" \t\r\n") == std::string::npos) fuzz::fail("an empty choice");
            if (e.label < (o.allow_unlabelled ? -1 : 0) || e.label >= (int64_t)e.choices.size())
                fuzz::fail("a label outside the choices");
            if (e.id.empty() || !ids.insert(e.id).second) fuzz::fail("an empty or duplicate id");
            if (e.line <= line) fuzz::fail("questions out of file order");
            line = e.line;
        }
        if (d.min_choices() < 2 || d.max_choices() < d.min_choices()) fuzz::fail("choice counts");
        auto [train, valid] = ptune::split_choice(d, 0.5, pick);
        if (train.examples.size() + valid.examples.size() != d.examples.size()) fuzz::fail("the split lost questions");
    } catch (const ptune::Error&) {
    }
    return 0;
}
