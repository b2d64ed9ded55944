#!/usr/bin/env node
// Makes tests/fixtures/tokenizers/real/: for each model family a trimmed tokenizer.json and, in expected.json,
// the ids the Hugging Face `tokenizers` library (npm package tokenizers@0.23.2) gives for a broad text set.
//
//   cd /tmp/tokref && npm install tokenizers@0.23.2
//   NODE_PATH=/tmp/tokref/node_modules node scripts/tokenizer_reference/gen_expected.js \
//       /work/shared/tokenizers-real tests/fixtures/tokenizers/real
//
// The published tokenizer.json files are large (up to 11 MB), so each is trimmed to what the texts use:
// WordPiece keeps the tokens of the results; BPE keeps every token that is a piece of a resulting token, every
// single-character and <0xNN> token, and the merges among those. A BPE word is merged in rank order and the
// merges that fire are all kept, so the trimmed model gives the same tokens; added tokens keep their ids (they
// are put into the model's vocabulary). The script checks that the trimmed file gives the library the same ids
// as the published one for every text, and the expected ids are those.
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const FAMILIES = ['bert-base-uncased', 'bert-base-multilingual-cased', 'roberta-base', 'gpt2', 'llama3', 'qwen3',
                  'mistral-7b', 'phi3-mini', 'falcon-7b', 'clip', 't5-small'];

const TEXTS = [
  '',
  'Hello, world!',
  'The quick brown fox jumps over the lazy dog.',
  '  leading and trailing spaces  ',
  'multiple   spaces\t\ttabs\n\nnewlines\r\nCRLF',
  ' ', '\n', '\t \n \r\n  ',
  'a' + ' '.repeat(20) + 'b' + '\n'.repeat(5) + 'c',
  'vertical\u000Btab form\u000Cfeed next\u0085line',
  '\u000B\u000C\u0085',
  'nul\u0000char bell\u0007 esc\u001B del\u007F c1\u0080\u009F',
  'zero\u200Bwidth joiner\u200Dnon\u200Cjoiner word\u2060joiner',
  'soft\u00ADhyphen bom\uFEFFstart bidi\u200E\u202Eoverride\u202C',
  'replacement \uFFFD char',
  'private \uE000\uF8FF use \u{F0000}\u{10FFFD}',
  'unassigned \u0378\u0379 \u0380 \u{E0080} \u{2FFFE} \u{50000}',
  'noncharacters \uFDD0\uFFFE\uFFFF \u{1FFFF}',
  'mongolian\u180Evowel separator \u180E alone',
  'nbsp\u00A0and\u2007figure\u202Fnarrow\u3000ideographic\u2028line\u2029para \u1680ogham',
  'Unicode 15/16: \u{1FAE8} \u{1FA89} \u{31350} \u{2EBF0} \u{11F02} \u{1C89}\u{1C8A} \u{A7CB} \u{10D50}\u{10D70} ' +
      '\u{1E5D0} \u{105C0} \u{1CCF0}',
  'Kawi digits \u{11F50}\u{11F59} Garay digits \u{10D40}\u{10D49} Egyptian \u{13460}',
  'newer punctuation \u2E4F\u2E5D \u{11F43} newer marks \u0898\u08CA \u1AC0 \uA9BD \u{11F00} older \u166D\u{111C9}',
  'decompositions \u{11935}\u{11930} \u{11938} \u32FF \u{1F16C} \u{1E030}',
  'mark order a\u0326\u0D3C\u0301 \u0D15\u0D3C\u0D4D o\u1AC0\u0301\u0316 \u{16FF0}\u0300',
  'Emoji: 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🇯🇵 🧑🏿‍💻 #️⃣',
  'CJK: 你好，世界！日本語のテキスト。한국어 텍스트. 𠀀𪜀',
  'Accents: café naïve résumé Ångström façade São Paulo Ελληνικά Ὀδυσσεύς',
  'decomposed: cafe\u0301 n\u0303 A\u030A',
  'Vietnamese: Tiếng Việt có dấu',
  'Arabic: مرحبا بالعالم ١٢٣ Hebrew: שָׁלוֹם',
  'Devanagari: नमस्ते दुनिया Thai: สวัสดีครับ',
  'Tamil: தமிழ் Bengali: বাংলা Khmer: ខ្មែរ',
  'Cyrillic: Привет, мир! ЁЖЗ',
  'German: Straße GROẞ İstanbul ǅ ﬁ ﬀ ℌ ㎏ ①②',
  'Math: ∑_{i=1}^{n} x² ≤ ∞ ½ ⅓ 2³ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  'numbers 1234567890 3.14159 1,000,000 12345678',
  'code: def f(x):\n    return x**2  # comment\n\tif a != b: pass',
  'URLs https://example.com/path?q=1&r=2#frag user@example.org',
  'punctuation !!! ??? ... --- \'\'\' """ ``` ~~~ ((([[[{{{',
  'contractions: I\'m you\'re he\'s we\'ve they\'ll I\'d don\'t IT\'S WE\'VE \'ſ',
  'x\u0301\u0302\u0303 stacked marks',
  '[CLS] hi [SEP]',
  '[CLS][SEP][PAD][MASK][UNK]',
  'hello [MASK] world',
  '<|endoftext|>',
  'before<|endoftext|>after <|endoftext|> spaced',
  '<s>text</s> <pad> <unk> <mask>  x',
  '<|startoftext|>clip<|endoftext|>',
  '<|begin_of_text|>hi<|eot_id|>',
  '<|im_start|>user\nhi<|im_end|>',
  '<|user|>\nHello<|end|>\n<|assistant|> answer',
  '>>TITLE<< falcon >>ABSTRACT<<',
  '\u2581metaspace\u2581char and \u2581\u2581double',
  'a'.repeat(120),
  'supercalifragilisticexpialidocious antidisestablishmentarianism',
  'MiXeD CaSe WoRdS and ALLCAPS',
  'trailing newline\n',
];

// Sentences already split into words (token classification: transformers' is_split_into_words=True). Byte-level
// BPE families are encoded as transformers' NER recipes load them, with add_prefix_space=True (every word gets a
// leading space); the reference sets that flag on the ByteLevel pre-tokenizer.
const WORD_LISTS = [
  ['EU', 'rejects', 'German', 'call', 'to', 'boycott', 'British', 'lamb', '.'],
  ['Peter', 'Blackburn'],
  ['BRUSSELS', '1996-08-22'],
  ['Café', 'naïve', 'Ångström', 'résumé', ',', "don't", '!'],
  ['日本語', 'の', 'テキスト', '中文字符', '한국어'],
  ['👍', '👨\u200d👩\u200d👧', 'emoji:', '🇫🇷'],
  ['a', '', 'b', ' ', 'c'],
  ['[CLS]', '<s>', '<|endoftext|>', 'x'],
  ['multi word', 'tab\there', 'UPPER', 'CamelCase', '3.14', '-7', 'http://x.y/z?a=1'],
  ['Ⅻ', 'ﬁne', '①', '２３', 'ß', 'İstanbul', 'ς'],
];

function withPrefixSpace(j) {
  const fix = p => {
    if (!p) return;
    if (p.type === 'ByteLevel') p.add_prefix_space = true;
    if (p.type === 'Sequence') p.pretokenizers.forEach(fix);
  };
  // Offsets untrimmed: the library's trim_offsets (RoBERTa's post-processor) moves the start of a token past its
  // leading "Ġ" even where add_prefix_space put that space there, so "EU" would read (1, 2). ptune keeps the
  // characters a token covers; the ids do not change.
  const untrim = p => {
    if (!p) return;
    if ('trim_offsets' in p) p.trim_offsets = false;
    if (p.type === 'Sequence') (p.processors || []).forEach(untrim);
  };
  const c = JSON.parse(JSON.stringify(j));
  fix(c.pre_tokenizer);
  untrim(c.post_processor);
  return c;
}

// The node binding (0.23.2) takes only strings, so a pre-tokenized input is encoded the way the library's
// encode_single_sequence treats InputSequence::PreTokenized: every word on its own (added tokens, normalizer,
// pre-tokenizer, model, offsets from 0), the encodings concatenated, then the post-processor. The special tokens
// the post-processor puts around one sequence are read off encode('x') with and without them.
async function encodeWords(tok) {
  const bare = await tok.encode('x', null, { addSpecialTokens: false });
  const full = await tok.encode('x', null, { addSpecialTokens: true });
  const b = Array.from(bare.getIds()), f = Array.from(full.getIds());
  let at = -1;
  for (let k = 0; k + b.length <= f.length; k++)
    if (b.every((id, i) => f[k + i] === id)) { at = k; break; }
  if (at < 0) throw new Error('cannot find the sequence inside its special tokens');
  const pre = { ids: f.slice(0, at), tokens: full.getTokens().slice(0, at) };
  const post = { ids: f.slice(at + b.length), tokens: full.getTokens().slice(at + b.length) };
  const ids = [], tokens = [], words = [], offsets = [];
  for (const ws of WORD_LISTS) {
    const i = [...pre.ids], t = [...pre.tokens], w = pre.ids.map(() => -1), o = pre.ids.map(() => [0, 0]);
    for (let k = 0; k < ws.length; k++) {
      const e = await tok.encode(ws[k], null, { addSpecialTokens: false });
      for (const id of e.getIds()) { i.push(id); w.push(k); }
      t.push(...e.getTokens());
      o.push(...e.getOffsets());   // within the word, in code points (the binding's unit)
    }
    i.push(...post.ids); t.push(...post.tokens); w.push(...post.ids.map(() => -1));
    o.push(...post.ids.map(() => [0, 0]));
    ids.push(i); tokens.push(t); words.push(w); offsets.push(o);
  }
  return { ids, tokens, words, offsets };
}

function charsOf(s) { return Array.from(s); }

function substrings(token) {
  const cs = charsOf(token);
  const out = [];
  for (let i = 0; i < cs.length; i++) {
    let s = '';
    for (let j = i; j < cs.length; j++) { s += cs[j]; out.push(s); }
  }
  return out;
}

function mergeParts(m) { return Array.isArray(m) ? m : m.split(' '); }

// A Unigram vocabulary is a list whose index is the id, so it keeps its length: the pieces the results use, every
// one-character piece (where none exists the model adds an unknown node, which would change the lattice), the
// lowest-scored piece (it sets the unknown score) and the added tokens stay; every other piece becomes a unique
// dummy no text here contains (U+FDEF, a noncharacter, and its index) with score 0. The best path of every text is
// still there with its score, and every path the trimmed model has, the full one has too: the same ids.
function trimUnigram(json, outputs) {
  const vocab = json.model.vocab;
  const keep = new Set();
  for (const toks of outputs) for (const t of toks) keep.add(t);
  for (const a of json.added_tokens) keep.add(a.content);
  let minAt = 0;
  vocab.forEach(([p, score], i) => { if (score < vocab[minAt][1]) minAt = i; });
  json.model.vocab = vocab.map(([p, score], i) =>
    keep.has(p) || charsOf(p).length === 1 || i === minAt || i === json.model.unk_id ? [p, score] : ['\uFDEF' + i, 0]);
  return json;
}

function trim(json, outputs, full) {
  if (json.model.type === 'Unigram' || Array.isArray(json.model.vocab)) return trimUnigram(json, outputs);
  const model = json.model;
  const vocab = model.vocab;
  const keep = new Set();
  const type = model.type || (model.merges ? 'BPE' : 'WordPiece');
  for (const toks of outputs)
    for (const t of toks) {
      if (type === 'BPE') { for (const s of substrings(t)) if (s in vocab) keep.add(s); }
      else if (t in vocab) keep.add(t);
    }
  if (model.unk_token && model.unk_token in vocab) keep.add(model.unk_token);
  if (type === 'BPE')
    for (const t in vocab) if (charsOf(t).length === 1 || /^<0x[0-9A-F]{2}>$/.test(t)) keep.add(t);
  const newVocab = {};
  for (const t in vocab) if (keep.has(t)) newVocab[t] = vocab[t];
  for (const a of json.added_tokens) {
    const id = full.tokenToId(a.content);
    if (id === null || id !== a.id) throw new Error(`added token ${a.content}: id ${id} != ${a.id}`);
    newVocab[a.content] = id;
  }
  model.vocab = newVocab;
  if (type === 'BPE') {
    const suffix = model.continuing_subword_prefix || '';
    model.merges = model.merges.filter(m => {
      const [a, b] = mergeParts(m);
      const merged = a + (suffix && b.startsWith(suffix) ? b.slice(suffix.length) : b);
      return keep.has(a) && keep.has(b) && keep.has(merged);
    });
  }
  return json;
}

async function encodeAll(tok) {
  const ids = [], tokens = [];
  for (const text of TEXTS) {
    const e = await tok.encode(text, null, { addSpecialTokens: true });
    ids.push(e.getIds());
    tokens.push(e.getTokens());
  }
  return { ids, tokens };
}

function loadJson(j) {
  const tok = Tokenizer.fromString(JSON.stringify(j));
  tok.disableTruncation();
  tok.disablePadding();
  return tok;
}

function load(file) {
  const tok = Tokenizer.fromFile(file);
  tok.disableTruncation();  // bert-base-multilingual-cased stores truncation and padding settings
  tok.disablePadding();
  return tok;
}

(async () => {
  const [src, out] = process.argv.slice(2);
  if (!src || !out) throw new Error('usage: gen_expected.js <tokenizers-real dir> <output dir>');
  const expected = { library: 'tokenizers 0.23.2 (npm)', add_special_tokens: true, texts: TEXTS, ids: {},
                     word_lists: WORD_LISTS, word_ids: {}, words: {},
                     word_offsets: {} };
  for (const fam of FAMILIES) {
    const file = path.join(src, fam, 'tokenizer.json');
    const full = load(file);
    const ref = await encodeAll(full);
    const wordRef = await encodeWords(loadJson(withPrefixSpace(JSON.parse(fs.readFileSync(file, 'utf8')))));
    const trimmed = trim(JSON.parse(fs.readFileSync(file, 'utf8')), ref.tokens.concat(wordRef.tokens), full);
    fs.mkdirSync(path.join(out, fam), { recursive: true });
    const outFile = path.join(out, fam, 'tokenizer.json');
    fs.writeFileSync(outFile, JSON.stringify(trimmed));
    const again = await encodeAll(load(outFile));
    TEXTS.forEach((t, i) => {
      if (JSON.stringify(again.ids[i]) !== JSON.stringify(ref.ids[i]))
        throw new Error(`${fam}: the trimmed file gives other ids for text ${i} ${JSON.stringify(t)}`);
    });
    const wordsAgain = await encodeWords(loadJson(withPrefixSpace(trimmed)));
    WORD_LISTS.forEach((ws, i) => {
      if (JSON.stringify(wordsAgain.ids[i]) !== JSON.stringify(wordRef.ids[i]))
        throw new Error(`${fam}: the trimmed file gives other ids for word list ${i} ${JSON.stringify(ws)}`);
    });
    expected.ids[fam] = ref.ids;
    expected.word_ids[fam] = wordRef.ids;
    expected.words[fam] = wordRef.words;
    expected.word_offsets[fam] = wordRef.offsets;
    console.log(`${fam}: ${Object.keys(trimmed.model.vocab).length} tokens, ` +
                `${(trimmed.model.merges || []).length} merges, ${fs.statSync(outFile).size} bytes`);
  }
  // One line per text and family, so that diffs stay readable.
  const lines = ['{', `  "library": ${JSON.stringify(expected.library)},`,
                 `  "add_special_tokens": true,`, '  "texts": ['];
  TEXTS.forEach((t, i) => lines.push(`    ${JSON.stringify(t)}${i + 1 < TEXTS.length ? ',' : ''}`));
  lines.push('  ],', '  "ids": {');
  FAMILIES.forEach((fam, f) => {
    lines.push(`    ${JSON.stringify(fam)}: [`);
    expected.ids[fam].forEach((ids, i) =>
      lines.push(`      ${JSON.stringify(ids)}${i + 1 < TEXTS.length ? ',' : ''}`));
    lines.push(`    ]${f + 1 < FAMILIES.length ? ',' : ''}`);
  });
  lines.push('  },', '  "word_lists": [');
  WORD_LISTS.forEach((ws, i) => lines.push(`    ${JSON.stringify(ws)}${i + 1 < WORD_LISTS.length ? ',' : ''}`));
  lines.push('  ],');
  for (const key of ['word_ids', 'words', 'word_offsets']) {
    lines.push(`  ${JSON.stringify(key)}: {`);
    FAMILIES.forEach((fam, f) => {
      lines.push(`    ${JSON.stringify(fam)}: [`);
      expected[key][fam].forEach((ids, i) =>
        lines.push(`      ${JSON.stringify(ids)}${i + 1 < WORD_LISTS.length ? ',' : ''}`));
      lines.push(`    ]${f + 1 < FAMILIES.length ? ',' : ''}`);
    });
    lines.push(key === 'word_offsets' ? '  }' : '  },');
  }
  lines.push('}', '');
  fs.writeFileSync(path.join(out, 'expected.json'), lines.join('\n'));
})().catch(e => { console.error(e.message); process.exit(1); });
