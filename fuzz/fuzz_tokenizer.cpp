// tokenizer.json: every normalizer, pre-tokenizer, model, post-processor and decoder kind, then encoding texts
// (single, pair, truncated, with special tokens literally) and decoding the ids.
#include <cstdint>

#include "core/io/error.h"
#include "core/text/tokenizer.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = fuzz::write_file("tokenizer.json", data, size);
    try {
        auto tok = ptune::Tokenizer::from_json_file(path);
        for (const char* text : {"Hello, world! [SEP] <s> \xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80 \xE4\xB8\xAD\xE6\x96\x87  x\t\n",
                                 "", "a"}) {
            auto e = tok->encode(text);
            (void)tok->decode(e.ids, true);
            (void)tok->decode(e.ids, false);
            auto p = tok->encode(text, std::string("second text"), true, 8);
            if (p.ids.size() > 8 && !p.ids.empty()) {
                // Truncation may be impossible when the special tokens alone exceed the limit; that is an error,
                // not a longer result.
                fuzz::fail("encode(max_len 8) returned " + std::to_string(p.ids.size()) + " ids");
            }
        }
    } catch (const ptune::Error&) {
    }
    return 0;
}
