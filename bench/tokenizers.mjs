// bench/tokenizers: encode throughput of our GPT-2 BPE next to js-tiktoken and tiktoken's WASM build (r50k_base)
// on the same texts, ids checked equal in the same run; SentencePiece and llama2.c encode; packing and loader
// throughput. Prints markdown tables. Run: `npm run build && node bench/tokenizers.mjs` (CPU only, no GPU).
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getEncoding } from 'js-tiktoken';
import { get_encoding } from 'tiktoken';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = resolve(REPO, '../shared/data');
const REPS = Number(process.env.REPS ?? 3);

const mbOf = (s) => Buffer.byteLength(s, 'utf8') / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** seconds of one call, and its result */
function time(f) { const t0 = performance.now(); const r = f(); return [(performance.now() - t0) / 1000, r]; }
function same(a, b) { if (a.length !== b.length) return false; for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false; return true; }

const api = await import('../dist/node.mjs');
const file = (f) => new Uint8Array(readFileSync(join(SHARED, f)));
const TEXTS = {
  'tinyshakespeare': readFileSync(join(SHARED, 'tinyshakespeare/input.txt'), 'utf8'),
  'wikitext-2 test.txt': readFileSync(join(SHARED, 'wikitext-2/test.txt'), 'utf8'),
  'wiki.test.raw (CRLF)': readFileSync(join(SHARED, 'wikitext-2/wiki.test.raw'), 'utf8'),
  'tinystories': readFileSync(join(SHARED, 'tinystories-sample/tinystories_val.txt'), 'utf8'),
};
const gpt2Files = { 'encoder.json': file('gpt2-bpe/encoder.json'), 'vocab.bpe': file('gpt2-bpe/vocab.bpe') };

console.log(`# tokenizer bench (node ${process.version}, dist/node.mjs)\n`);

// 1. GPT-2 BPE vs js-tiktoken vs tiktoken WASM
const [loadS, gpt2] = await (async () => { const t0 = performance.now(); const t = await api.tokenizerFromFiles(gpt2Files); return [(performance.now() - t0) / 1000, t]; })();
const jst = getEncoding('r50k_base');
const wasm = get_encoding('r50k_base');
console.log(`GPT-2 BPE (r50k_base), MB/s of UTF-8 input, median of ${REPS} runs (ours cold = first encode of a fresh tokenizer, empty word cache; load ${(loadS * 1000).toFixed(0)} ms)\n`);
console.log('| text | MB | tokens | ours (cold) | ours | js-tiktoken | tiktoken (WASM) | ours / tiktoken WASM | ids equal |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
let sum = { ours: 0, wasm: 0 };
for (const [name, s] of Object.entries(TEXTS)) {
  const mb = mbOf(s);
  const fresh = await api.tokenizerFromFiles(gpt2Files);
  const [cold, ids] = time(() => fresh.encode(s));
  const ours = [], js = [], tw = [];
  let a, b, c;
  for (let r = 0; r < REPS; r++) {
    let t;
    [t, a] = time(() => gpt2.encode(s)); ours.push(t);
    [t, b] = time(() => jst.encode(s, [], [])); js.push(t);
    [t, c] = time(() => wasm.encode_ordinary(s)); tw.push(t);
  }
  const equal = same(a, b) && same(a, c) && same(ids, a);
  if (!equal) { console.error(`ids differ on ${name}`); process.exitCode = 1; }
  sum.ours += median(ours); sum.wasm += median(tw);
  console.log(`| ${name} | ${mb.toFixed(2)} | ${a.length} | ${(mb / cold).toFixed(1)} | ${(mb / median(ours)).toFixed(1)} | ` +
    `${(mb / median(js)).toFixed(1)} | ${(mb / median(tw)).toFixed(1)} | ${(median(tw) / median(ours)).toFixed(2)}x | ${equal ? 'yes' : 'NO'} |`);
}
wasm.free();
console.log(`\nall texts: ours ${(sum.wasm / sum.ours).toFixed(2)}x tiktoken WASM\n`);

// 2. the other tokenizers (no reference in this run: their ids are checked in test/tokenizers.test.ts)
console.log('| tokenizer | text | MB/s encode | MB/s decode |');
console.log('| --- | --- | ---: | ---: |');
const others = [
  ['sentencepiece tok512.model', await api.tokenizerFromFiles({ 'tokenizer.model': file('stories260k/tok512.model') })],
  ['tokenizer.json (Llama style, tok512)', await api.tokenizerFromFiles({ 'tokenizer.json': new Uint8Array(readFileSync(join(REPO, 'test/ref/tok512_tokenizer.json'))) })],
  ['llama2.c tok512.bin', await api.tokenizerFromFiles({ 'tok512.bin': file('stories260k/tok512.bin') })],
  ['GPT-2 BPE', gpt2],
];
for (const [name, tok] of others) {
  for (const t of ['tinystories', 'wikitext-2 test.txt']) {
    const s = TEXTS[t], mb = mbOf(s);
    tok.encode(s);
    const enc = [], dec = [];
    let ids;
    for (let r = 0; r < REPS; r++) { let x; [x, ids] = time(() => tok.encode(s)); enc.push(x); [x] = time(() => tok.decode(ids)); dec.push(x); }
    console.log(`| ${name} | ${t} | ${(mb / median(enc)).toFixed(1)} | ${(mb / median(dec)).toFixed(1)} |`);
  }
}

// 3. packing: files -> shards on disk, and the loader over them
const tmp = mkdtempSync(join(tmpdir(), 'inheritune-bench-'));
try {
  console.log('\n| packing | input MB | tokens | MB/s | Mtokens/s |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  const inputs = ['tinyshakespeare/input.txt', 'wikitext-2/test.txt', 'tinystories-sample/tinystories_val.txt'].map((f) => join(SHARED, f));
  const mb = inputs.reduce((n, p) => n + readFileSync(p).byteLength, 0) / 1e6;
  for (const [name, tok, docs] of [['GPT-2, blank-line docs', gpt2, 'blankline'], ['GPT-2, file docs', gpt2, 'file'],
    ['sentencepiece, blank-line docs', others[0][1], 'blankline']]) {
    const fresh = tok.kind === 'byte-bpe' ? await api.tokenizerFromFiles(gpt2Files) : tok;
    const t0 = performance.now();
    const r = await api.packFiles(fresh, inputs, join(tmp, docs + tok.kind), { docs, val: '1%', shardTokens: 1 << 20 });
    const s = (performance.now() - t0) / 1000;
    const n = r.train.tokens + r.val.tokens;
    console.log(`| ${name} | ${mb.toFixed(2)} | ${n} | ${(mb / s).toFixed(1)} | ${(n / s / 1e6).toFixed(2)} |`);
  }
  const src = await api.openShards(await api.listShards(join(tmp, 'blanklinebyte-bpe'), 'train'));
  console.log('\n| loader (shards on disk) | B x T | batches/s | Mtokens/s |');
  console.log('| --- | --- | ---: | ---: |');
  for (const mode of ['sequential', 'random']) {
    const l = new api.ShardLoader(src, { B: 8, T: 1024, mode, seed: 1 });
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < 1000) { await l.next(); n++; }
    const s = (performance.now() - t0) / 1000;
    console.log(`| ${mode} | 8 x 1024 | ${(n / s).toFixed(0)} | ${((n * 8 * 1024) / s / 1e6).toFixed(1)} |`);
  }
  await src.close();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
