// Data files: TSV, CSV and JSONL (the first input byte picks the file's extension and the options), with header
// detection, quoting, column and label resolution, bad rows skipped or stopped at.
#include <cstdint>

#include "core/io/data.h"
#include "core/io/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t pick = data[0];
    static const char* const kNames[] = {"data.tsv", "data.csv", "data.jsonl", "data.txt"};
    const std::string path = fuzz::write_file(kNames[pick & 3], data + 1, size - 1);
    ptune::DataOptions o;
    o.on_bad_row = pick & 4 ? ptune::OnBadRow::Skip : ptune::OnBadRow::Stop;
    if (pick & 8) o.has_header = (pick & 16) != 0;
    if (pick & 32) o.label_names = {"negative", "positive"};
    if (pick & 64) o.label_column = "1";
    if (pick & 128) o.max_rows = 3;
    try {
        ptune::Dataset d = ptune::load_dataset(path, o);
        for (const auto& r : d.rows)
            if (r.label < 0 || r.label >= (int)d.label_names.size())
                fuzz::fail("a row's label id " + std::to_string(r.label) + " is outside its " +
                           std::to_string(d.label_names.size()) + " label names");
        if (o.max_rows > 0 && (int64_t)d.rows.size() > o.max_rows) fuzz::fail("max_rows exceeded");
        (void)d.label_counts();
    } catch (const ptune::Error&) {
    }
    return 0;
}
