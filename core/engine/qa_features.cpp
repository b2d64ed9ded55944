#include "core/engine/qa_features.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <type_traits>
#include <unordered_map>

#include "core/io/error.h"
#include "core/text/unicode.h"

namespace ptune {

std::vector<std::pair<int64_t, int64_t>> context_words(const std::string& context) {
    std::vector<std::pair<int64_t, int64_t>> words;
    int64_t start = -1;
    size_t i = 0;
    while (i < context.size()) {
        const size_t at = i;
        const char32_t c = text::next_cp(context, i);
        if (text::is_whitespace(c)) {
            if (start >= 0) words.emplace_back(start, static_cast<int64_t>(at));
            start = -1;
        } else if (start < 0) {
            start = static_cast<int64_t>(at);
        }
    }
    if (start >= 0) words.emplace_back(start, static_cast<int64_t>(context.size()));
    return words;
}

namespace {

// A context's tokens with their byte ranges in the context.
struct ContextTokens {
    Encoding enc;
};

ContextTokens tokenize_context(const std::string& context, const Tokenizer& tok) {
    const auto spans = context_words(context);
    std::vector<std::string> words;
    words.reserve(spans.size());
    for (const auto& [b, e] : spans) words.push_back(context.substr(static_cast<size_t>(b), static_cast<size_t>(e - b)));
    ContextTokens c;
    c.enc = tok.encode_words(words, false);
    for (size_t k = 0; k < c.enc.ids.size(); ++k) {
        const int64_t w = c.enc.word_ids[k];
        const int64_t base = spans[static_cast<size_t>(w)].first;
        c.enc.offsets[k] = {base + c.enc.offsets[k].first, base + c.enc.offsets[k].second};
    }
    return c;
}

// Tokens [b, b + n) of `e`; per-token fields `e` does not have (encode() gives no word ids or offsets) stay empty.
Encoding slice(const Encoding& e, size_t b, size_t n) {
    auto part = [b, n](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        return v.size() >= b + n ? V(v.begin() + static_cast<std::ptrdiff_t>(b),
                                     v.begin() + static_cast<std::ptrdiff_t>(b + n))
                                 : V();
    };
    Encoding s;
    s.ids = part(e.ids);
    s.tokens = part(e.tokens);
    s.word_ids = part(e.word_ids);
    s.offsets = part(e.offsets);
    s.type_ids.assign(n, 0);
    s.special_mask.assign(n, 0);
    return s;
}

}  // namespace

QaFeatures make_qa_features(const QaDataset& d, const Tokenizer& tok, const QaFeatureOptions& opt) {
    if (opt.max_len <= 0) throw Error("max_len must be positive");
    QaFeatures out;
    std::unordered_map<int64_t, ContextTokens> contexts;   // tokenized once per context
    const int64_t specials = tok.num_special_tokens(true);
    for (size_t ei = 0; ei < d.examples.size(); ++ei) {
        const QaExample& ex = d.examples[ei];
        auto it = contexts.find(ex.context);
        if (it == contexts.end()) it = contexts.emplace(ex.context, tokenize_context(d.context_of(ex), tok)).first;
        const Encoding& ctx = it->second.enc;
        Encoding q = tok.encode(ex.question, std::nullopt, false);
        if (opt.max_question_len > 0 && static_cast<int64_t>(q.ids.size()) > opt.max_question_len) {
            q = slice(q, 0, static_cast<size_t>(opt.max_question_len));
            ++out.cut_questions;
        }
        q.word_ids.assign(q.ids.size(), -1);
        q.offsets.assign(q.ids.size(), {0, 0});
        const int64_t room = opt.max_len - static_cast<int64_t>(q.ids.size()) - specials;
        if (room <= 0)
            throw Error(ex.where + ": the question takes " + std::to_string(q.ids.size()) + " tokens and the special "
                        "tokens " + std::to_string(specials) + ", which leaves no room for the context in max_len " +
                        std::to_string(opt.max_len) + " (raise max_len or lower max_question_len)");
        const int64_t n = static_cast<int64_t>(ctx.ids.size());
        // Windows overlap by doc_stride tokens, so each starts room - doc_stride tokens after the last: a stride
        // not below the room would never move on (the tokenizers library refuses it too).
        if (n > room && opt.doc_stride >= room)
            throw Error(ex.where + ": the context needs windows of " + std::to_string(room) + " tokens (max_len " +
                        std::to_string(opt.max_len) + " less the question's " + std::to_string(q.ids.size()) +
                        " and " + std::to_string(specials) + " special tokens), which cannot overlap by doc_stride " +
                        std::to_string(opt.doc_stride) + "; lower doc_stride (--doc-stride) below " +
                        std::to_string(room) + " or raise max_len");
        const int64_t stride = std::max<int64_t>(0, opt.doc_stride);
        int64_t windows = 0;
        for (int64_t start = 0;;) {
            const int64_t len = std::min(room, n - start);
            Encoding part = slice(ctx, static_cast<size_t>(start), static_cast<size_t>(std::max<int64_t>(len, 0)));
            Encoding pair = tok.post_process(q, part, true);
            QaFeature f;
            f.example = ei;
            f.ids = std::move(pair.ids);
            f.type_ids = std::move(pair.type_ids);
            f.offsets.assign(f.ids.size(), {-1, -1});
            int64_t first_ctx = -1, last_ctx = -1;
            for (size_t k = 0; k < f.ids.size(); ++k) {
                if (pair.sequence_ids[k] != 1) continue;
                f.offsets[k] = pair.offsets[k];
                if (first_ctx < 0) first_ctx = static_cast<int64_t>(k);
                last_ctx = static_cast<int64_t>(k);
            }
            f.cls_index = 0;
            for (size_t k = 0; k < f.ids.size(); ++k)
                if (pair.special_mask[k]) {
                    f.cls_index = static_cast<int64_t>(k);
                    break;
                }
            f.start_label = f.end_label = f.cls_index;
            if (!ex.answers.empty() && first_ctx >= 0) {
                const int64_t s = ex.answers.front().start;
                const int64_t e = s + static_cast<int64_t>(ex.answers.front().text.size());
                if (f.offsets[static_cast<size_t>(first_ctx)].first <= s &&
                    f.offsets[static_cast<size_t>(last_ctx)].second >= e) {
                    int64_t ts = first_ctx, te = last_ctx;
                    while (ts + 1 <= last_ctx && f.offsets[static_cast<size_t>(ts + 1)].first <= s) ++ts;
                    while (te - 1 >= ts && f.offsets[static_cast<size_t>(te - 1)].second >= e) --te;
                    f.start_label = ts;
                    f.end_label = te;
                }
            }
            out.max_tokens = std::max<int64_t>(out.max_tokens, static_cast<int64_t>(f.ids.size()));
            out.features.push_back(std::move(f));
            ++windows;
            if (start + len >= n) break;
            start = start + len - stride;
        }
        if (windows > 1) ++out.windowed_examples;
    }
    return out;
}

std::vector<QaAnswerPrediction> decode_qa(const QaDataset& d, const QaFeatures& f,
                                          const std::vector<std::vector<float>>& start_logits,
                                          const std::vector<std::vector<float>>& end_logits,
                                          const QaDecodeOptions& opt) {
    if (start_logits.size() != f.size() || end_logits.size() != f.size())
        throw Error("decode_qa: " + std::to_string(start_logits.size()) + " start and " +
                    std::to_string(end_logits.size()) + " end logit rows for " + std::to_string(f.size()) +
                    " features");
    std::vector<std::vector<size_t>> of_example(d.examples.size());
    for (size_t i = 0; i < f.size(); ++i) of_example[f.features[i].example].push_back(i);
    const size_t n_best = static_cast<size_t>(std::max<int64_t>(1, opt.n_best));

    auto top = [&](const std::vector<float>& v) {
        std::vector<size_t> idx(v.size());
        std::iota(idx.begin(), idx.end(), size_t{0});
        std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] > v[b]; });
        if (idx.size() > n_best) idx.resize(n_best);
        return idx;
    };

    std::vector<QaAnswerPrediction> out(d.examples.size());
    for (size_t ei = 0; ei < d.examples.size(); ++ei) {
        const QaExample& ex = d.examples[ei];
        const std::string& context = d.context_of(ex);
        QaAnswerPrediction& p = out[ei];
        p.id = ex.id;
        std::vector<QaCandidate> cands;
        bool have_null = false;
        QaCandidate null_cand;
        for (size_t fi : of_example[ei]) {
            const QaFeature& feat = f.features[fi];
            const auto& sl = start_logits[fi];
            const auto& el = end_logits[fi];
            if (sl.size() < feat.ids.size() || el.size() < feat.ids.size())
                throw Error("decode_qa: feature " + std::to_string(fi) + " has " + std::to_string(feat.ids.size()) +
                            " tokens but fewer logits");
            const size_t c = static_cast<size_t>(feat.cls_index);
            const double null_score = static_cast<double>(sl[c]) + static_cast<double>(el[c]);
            if (!have_null || null_cand.score > null_score) {
                have_null = true;
                null_cand = QaCandidate{};
                null_cand.start_logit = sl[c];
                null_cand.end_logit = el[c];
                null_cand.score = null_score;
            }
            const std::vector<float> s_real(sl.begin(), sl.begin() + static_cast<std::ptrdiff_t>(feat.ids.size()));
            const std::vector<float> e_real(el.begin(), el.begin() + static_cast<std::ptrdiff_t>(feat.ids.size()));
            for (size_t s : top(s_real)) {
                for (size_t e : top(e_real)) {
                    if (feat.offsets[s].first < 0 || feat.offsets[e].first < 0) continue;
                    if (e < s || static_cast<int64_t>(e - s + 1) > opt.max_answer_len) continue;
                    QaCandidate cand;
                    cand.start = feat.offsets[s].first;
                    cand.end = feat.offsets[e].second;
                    cand.start_logit = sl[s];
                    cand.end_logit = el[e];
                    cand.score = cand.start_logit + cand.end_logit;
                    cands.push_back(cand);
                }
            }
        }
        if (opt.version2 && have_null) cands.push_back(null_cand);
        std::stable_sort(cands.begin(), cands.end(),
                         [](const QaCandidate& a, const QaCandidate& b) { return a.score > b.score; });
        if (cands.size() > n_best) cands.resize(n_best);
        if (opt.version2 && have_null &&
            std::none_of(cands.begin(), cands.end(), [](const QaCandidate& c) { return c.start < 0; }))
            cands.push_back(null_cand);
        for (QaCandidate& c : cands)
            if (c.start >= 0 && c.end >= c.start)
                c.text = context.substr(static_cast<size_t>(c.start), static_cast<size_t>(c.end - c.start));
        if (cands.empty() || (cands.size() == 1 && cands[0].start < 0)) {
            QaCandidate empty;
            empty.text = "empty";
            cands.insert(cands.begin(), empty);
        }
        double mx = cands[0].score;
        for (const QaCandidate& c : cands) mx = std::max(mx, c.score);
        double sum = 0;
        for (const QaCandidate& c : cands) sum += std::exp(c.score - mx);
        for (QaCandidate& c : cands) c.probability = std::exp(c.score - mx) / sum;
        if (!opt.version2) {
            p.text = cands[0].text;
            p.start = cands[0].start, p.end = cands[0].end;
        } else {
            size_t i = 0;
            while (i + 1 < cands.size() && cands[i].start < 0 && cands[i].text.empty()) ++i;
            const QaCandidate& best = cands[i];
            p.null_odds = null_cand.score - best.start_logit - best.end_logit;
            p.text = p.null_odds > opt.null_threshold ? std::string() : best.text;
            if (!p.text.empty()) p.start = best.start, p.end = best.end;
        }
        p.n_best = std::move(cands);
    }
    return out;
}

}  // namespace ptune
