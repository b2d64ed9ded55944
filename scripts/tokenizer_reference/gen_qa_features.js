// Expected extractive-QA features for tests/fixtures/qa: what transformers' run_qa.py gets from a fast tokenizer
// (tokenizer(question, context, truncation="only_second", max_length, stride, return_overflowing_tokens=True,
// return_offsets_mapping=True)): every window's ids, type ids and the context tokens' offsets, and the training
// labels as run_qa.py's prepare_train_features sets them (the first answer; the classifier token when the window
// does not hold the whole answer or the question has none), with the answer's token search kept inside the
// context (the Hugging Face course's form; run_qa.py's loop can run past the context when the answer ends it).
// The Hugging Face tokenizers library (npm tokenizers 0.23.2) encodes the whole (question, context) pair on the
// built-in model's tokenizer.json: ids, type ids, offsets, sequence ids. The windows are cut here as the library's
// Encoding::truncate cuts the second sequence (tokenizers/src/tokenizer/encoding.rs: parts of room = max_length -
// question - special tokens, each starting room - stride after the last, until one reaches the end), because this
// npm build's own overflowing encodings of a pair never reach past the first max_length context tokens (a context
// of 26 tokens with max_length 24 loses its last 2), which the Python library does not do.
// Usage: NODE_PATH=... node gen_qa_features.js <repo root>
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const MAX_LEN = 24, STRIDE = 6, QUESTIONS = 40;

(async () => {
  const root = process.argv[2];
  if (!root) throw new Error('usage: gen_qa_features.js <repo root>');
  const tok = await Tokenizer.fromFile(path.join(root, 'resources/builtin/model/tokenizer.json'));
  const squad = JSON.parse(fs.readFileSync(path.join(root, 'tests/fixtures/qa/valid-v2.json'), 'utf8'));
  const out = { library: 'tokenizers 0.23.2 (npm)', data: 'valid-v2.json', max_len: MAX_LEN, doc_stride: STRIDE,
                questions: [] };
  const cls = tok.tokenToId('[CLS]');
  for (const p of squad.data[0].paragraphs) {
    for (const q of p.qas) {
      if (out.questions.length >= QUESTIONS) break;
      const e = await tok.encode(q.question, p.context);
      const ids = Array.from(e.getIds()), types = Array.from(e.getTypeIds()), seq = e.getSequenceIds();
      const offs = e.getOffsets();
      const ctx = [];
      seq.forEach((x, k) => { if (x === 1) ctx.push(k); });
      const head = ctx[0], tail = ctx[ctx.length - 1] + 1;   // [head, tail): the context's tokens
      const room = MAX_LEN - (ids.length - ctx.length);
      const ranges = [];
      if (ctx.length <= room) ranges.push([0, ctx.length]);
      else for (let start = 0; ; start += room - STRIDE) {
        const stop = Math.min(start + room, ctx.length);
        ranges.push([start, stop]);
        if (stop === ctx.length) break;
      }
      const windows = [];
      for (const [a, b] of ranges) {
        const pick = k => k < head || k >= tail || (k >= head + a && k < head + b);
        const wi = [], wt = [], ws = [], wo = [];
        ids.forEach((id, k) => {
          if (!pick(k)) return;
          wi.push(id); wt.push(types[k]); ws.push(seq[k]);
          wo.push(seq[k] === 1 ? [offs[k][0], offs[k][1]] : [-1, -1]);
        });
        const cls_index = wi.indexOf(cls);
        let start = cls_index, end = cls_index;
        if (q.answers.length > 0) {
          const an = q.answers[0], s = an.answer_start, t = s + an.text.length;
          let first = 0;
          while (ws[first] !== 1) first++;
          let last = wi.length - 1;
          while (ws[last] !== 1) last--;
          if (wo[first][0] <= s && wo[last][1] >= t) {
            let i = first;
            while (i <= last && wo[i][0] <= s) i++;
            let j = last;
            while (j >= first && wo[j][1] >= t) j--;
            start = i - 1;
            end = j + 1;
          }
        }
        windows.push({ ids: wi, type_ids: wt, offsets: wo, start, end });
      }
      out.questions.push({ id: q.id, windows });
    }
  }
  const lines = ['{', `  "library": ${JSON.stringify(out.library)},`, `  "data": ${JSON.stringify(out.data)},`,
                 `  "max_len": ${MAX_LEN},`, `  "doc_stride": ${STRIDE},`, '  "questions": ['];
  out.questions.forEach((q, i) => {
    lines.push(`    {"id": ${JSON.stringify(q.id)}, "windows": [`);
    q.windows.forEach((w, k) => lines.push(`      ${JSON.stringify(w)}${k + 1 < q.windows.length ? ',' : ''}`));
    lines.push(`    ]}${i + 1 < out.questions.length ? ',' : ''}`);
  });
  lines.push('  ]', '}', '');
  fs.writeFileSync(path.join(root, 'tests/fixtures/qa/expected_features.json'), lines.join('\n'));
  console.log(out.questions.length, 'questions,', out.questions.reduce((n, q) => n + q.windows.length, 0), 'windows');
})().catch(e => { console.error(e.message); process.exit(1); });
