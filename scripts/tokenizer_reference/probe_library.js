// Per-code-point behaviour of the tokenizers library (npm tokenizers@0.23.2): which characters each normalizer,
// pre-tokenizer and regex class treats specially. Output: JSON for make_unicode_tables.py.
//   NODE_PATH=/tmp/tokref/node_modules node probe_library.js lib_props.json   (about a minute)
const t = require('tokenizers');
const fs = require('fs');
function tokJson(pre, norm) {
  return JSON.stringify({version:"1.0", truncation:null, padding:null, added_tokens:[], normalizer:norm||null,
    pre_tokenizer:pre||null, post_processor:null, decoder:null,
    model:{type:"WordPiece", unk_token:"[UNK]", continuing_subword_prefix:"##", max_input_chars_per_word:100, vocab:{"[UNK]":0}}});
}
const clean = t.bertNormalizer({cleanText:true, handleChineseChars:false, stripAccents:false, lowercase:false});
const strip = t.bertNormalizer({cleanText:false, handleChineseChars:false, stripAccents:true, lowercase:false});
const lower = t.lowercase();
const nfd = t.nfdNormalizer(), nfkd = t.nfkdNormalizer(), nfc = t.nfcNormalizer(), nfkc = t.nfkcNormalizer();
const bertPre = t.bertPreTokenizer();
const wsPre = t.whitespacePreTokenizer();
const wsSplit = t.whitespaceSplitPreTokenizer();
const digits = t.digitsPreTokenizer(true);
const stripAll = t.stripAccentsNormalizer();
const rx = {};
for (const [name, pat] of [["re_s","\\s"],["re_L","\\p{L}"],["re_N","\\p{N}"],["re_w","\\w"]]) {
  rx[name] = t.Tokenizer.fromString(tokJson({type:"Split", pattern:{Regex:pat}, behavior:"Removed", invert:false})).getPreTokenizer();
}
const out = {};
const add = (k, cp, v) => { (out[k] = out[k] || []).push(v === undefined ? cp : [cp, v]); };
const cps = s => Array.from(s).map(c => c.codePointAt(0));
for (let cp = 0; cp <= 0x10FFFF; cp++) {
  if (cp >= 0xD800 && cp <= 0xDFFF) continue;
  const c = String.fromCodePoint(cp);
  const s = "a" + c + "b";
  const r = clean.normalizeString(s);
  if (r === "ab") add("clean_del", cp); else if (r === "a b" && c !== " ") add("clean_space", cp);
  else if (r !== s) add("clean_other", cp, cps(r));
  let v = strip.normalizeString(c); if (v !== c) add("strip", cp, cps(v));
  v = lower.normalizeString(c); if (v !== c) add("lower", cp, cps(v));
  v = nfd.normalizeString(c); if (v !== c) add("nfd", cp, cps(v));
  v = nfkd.normalizeString(c); if (v !== c) add("nfkd", cp, cps(v));
  v = nfc.normalizeString(c); if (v !== c) add("nfc", cp, cps(v));
  v = nfkc.normalizeString(c); if (v !== c) add("nfkc", cp, cps(v));
  let p = bertPre.preTokenizeString(s);
  if (p.length === 3) add("bert_punc", cp); else if (p.length === 2) add("bert_ws", cp); else if (p.length !== 1) add("bert_other", cp, p.length);
  p = wsSplit.preTokenizeString(s); if (p.length !== 1) add("ws", cp);
  p = wsPre.preTokenizeString("a" + c);
  if (p.length === 1 && p[0][0] === "a" + c) add("w_word", cp); else if (p.length === 1) add("w_space", cp);
  p = digits.preTokenizeString(s); if (p.length !== 1) add("numeric", cp);
  for (const k in rx) if (rx[k].preTokenizeString(c).length === 0) add(k, cp);
  if (stripAll.normalizeString("a" + c) === "a") add("mark", cp);
  // a non-zero combining class (below 240) moves c before U+0345 (class 240)
  if (cp === 0x345 || nfd.normalizeString("a\u0345" + c) === "a" + c + "\u0345") add("ccc", cp);
}
fs.writeFileSync(process.argv[2] || "lib_props.json", JSON.stringify(out));
for (const k in out) console.log(k, out[k].length);
