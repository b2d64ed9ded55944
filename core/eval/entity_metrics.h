#pragma once
// Entity-level precision, recall and F1 for tagged sequences, exactly as seqeval computes them, and token accuracy.
//
// Default mode (seqeval's f1_score(y_true, y_pred) without `mode`): the sentences are joined into one sequence
// with an "O" between them (so no entity crosses a sentence end) and chunks are read with seqeval's
// start_of_chunk/end_of_chunk rules, which accept any mix of IOB1, IOB2, IOE and IOBES: an I- after O (or after
// another type) begins a chunk, a B- always does, E- and S- end one. Tags are PREFIX-TYPE or a bare prefix
// (type "_"); anything else counts as the first character's prefix, as seqeval does (it only warns).
// Strict mode (mode="strict" with a scheme): per sentence, an entity counts only when it begins and ends as the
// scheme says (IOB2: B- then I- of the same type; IOB1; IOBES: B- I-* E- or S-); a tag whose prefix the scheme
// does not allow throws ptune::Error naming the sentence, position and tag (seqeval raises ValueError).
//
// An entity is (type, sentence-independent span); true positives are entities present in both. Per type and
// micro: precision = tp / predicted (0 without predictions), recall = tp / gold (0 without gold entities),
// F1 = 2PR / (P + R) (0 when P + R = 0). Types are those in the gold or the predictions, sorted.
// Token accuracy: equal tags / all tags (seqeval's accuracy_score), every tag counted, "O" included.
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "core/io/tagged_data.h"

namespace ptune {

struct EntitySpan {
    std::string type;
    int64_t sentence = 0;  // strict mode: the sentence index; default mode: 0
    int64_t start = 0;     // first tag (default mode: position in the joined sequence)
    int64_t end = 0;       // last tag, inclusive
    bool operator<(const EntitySpan& o) const {
        return std::tie(type, sentence, start, end) < std::tie(o.type, o.sentence, o.start, o.end);
    }
    bool operator==(const EntitySpan& o) const {
        return type == o.type && sentence == o.sentence && start == o.start && end == o.end;
    }
};

struct EntityScore {
    int64_t true_positives = 0, predicted = 0, gold = 0;
    double precision = 0, recall = 0, f1 = 0;
};

struct TaggingScores {
    EntityScore micro;
    std::map<std::string, EntityScore> per_type;
    double macro_f1 = 0;          // mean of per-type F1 (seqeval's "macro avg")
    double token_accuracy = 0;
    int64_t tokens = 0;
};

enum class EntityMode { Default, Strict };

// seqeval's get_entities over the sentences joined with "O" (offsets in the joined sequence).
std::vector<EntitySpan> entities_default(const std::vector<std::vector<std::string>>& sentences);
// seqeval's strict entities (Entities(sentences, scheme)); scheme IOB2, IOB1 or IOBES.
std::vector<EntitySpan> entities_strict(const std::vector<std::vector<std::string>>& sentences, TagScheme scheme);

// Gold and predicted tags, sentence by sentence (same lengths; throws ptune::Error naming the first sentence that
// differs). Strict mode needs an entity scheme; None (or Default mode) reads chunks the default way. With scheme
// None the entity scores are computed all the same, but only token accuracy is meaningful.
TaggingScores score_tagging(const std::vector<std::vector<std::string>>& gold,
                            const std::vector<std::vector<std::string>>& predicted, EntityMode mode = EntityMode::Default,
                            TagScheme scheme = TagScheme::IOB2);

}  // namespace ptune
