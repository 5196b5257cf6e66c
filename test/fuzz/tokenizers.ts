// fuzz/tokenizers: seeds and mutated cases for the tokenizer formats (tokenizer.json, tokenizer_config.json,
// vocab.json + merges.txt / encoder.json + vocab.bpe, tokenizer.model, tokenizer.bin). A case returns null for
// a valid load that behaves (ids in range, byte-level decode lossless, BOS/EOS as the config names them), a
// string describing a silent wrong result, or throws.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import protobuf from 'protobufjs';
import { tokenizerFromFiles, type Tokenizer } from '../../src/tokenizers/load.js';
import { SentencePieceTokenizer } from '../../src/tokenizers/sentencepiece.js';
import { Llama2cTokenizer } from '../../src/tokenizers/llama2c.js';
import { bytesToUnicode } from '../../src/tokenizers/bpe.js';
import { concat, emit, mutateBytes, mutateJson, toTree, utf8, type Node, type Rng } from './mutate.js';

const REPO = resolve(import.meta.dirname, '../..');
const SHARED = resolve(REPO, '../shared/data');
export const shared = (f: string) => new Uint8Array(readFileSync(resolve(SHARED, f)));

export interface Case { what: string; run(): Promise<string | null> }
export interface Format { name: string; cases: number; make(r: Rng, i: number): Case }

const SAMPLES = ['Hello wörld 🙂 <s> </s> <|endoftext|> ab  c\n\tx', '', ' a', '\ud800b', 'a'.repeat(34) + '!', 'the thin a  the'];
const wellFormed = (s: string) => new TextDecoder().decode(utf8(s));

/** A loaded tokenizer must encode into its own id range and decode; byte-level BPE must round-trip exactly (special
 *  tokens as text, and no added token that strips the spaces around it). */
export function checkTokenizer(tok: Tokenizer): string | null {
  if (!Number.isInteger(tok.vocabSize) || tok.vocabSize <= 0) return `vocabSize is ${tok.vocabSize}`;
  for (const id of [tok.bos, tok.eos]) if (id !== null && !(Number.isInteger(id) && id >= 0 && id < tok.vocabSize)) return `bos/eos ${id} outside the vocabulary`;
  for (const s of SAMPLES) {
    const strips = ((tok as { added?: { tokens: { lstrip?: boolean; rstrip?: boolean }[] } }).added?.tokens ?? []).some((t) => t.lstrip || t.rstrip);
    for (const opts of [{ splitSpecialTokens: true }, undefined]) {
      const ids = tok.encode(s, opts);
      for (const id of ids) if (!(Number.isInteger(id) && id >= 0 && id < tok.vocabSize)) return `encode(${JSON.stringify(s)}) gave id ${id} of ${tok.vocabSize}`;
      const d = tok.decode(ids);
      if (typeof d !== 'string') return `decode gave ${typeof d}`;
      if (tok.kind === 'byte-bpe' && opts && !strips && d !== wellFormed(s) && d !== ' ' + wellFormed(s)) {
        return `byte-level decode(encode(${JSON.stringify(s)})) = ${JSON.stringify(d)}`;
      }
    }
  }
  return null;
}

// ---- seeds ----------------------------------------------------------------------------------------------------

const B2U = bytesToUnicode();
const SMALL_MERGES = ['Ġ t', 'h e', 'Ġt he', 'i n', 'Ġ a', 'Ġthe n'];
/** a byte-level BPE: the 256 byte tokens, six merges, <|endoftext|> */
function byteLevelVocab(): Record<string, number> {
  const vocab: Record<string, number> = {};
  B2U.forEach((ch, b) => { vocab[ch] = b; });
  for (const m of SMALL_MERGES) vocab[m.replace(' ', '')] = Object.keys(vocab).length;
  vocab['<|endoftext|>'] = Object.keys(vocab).length;
  return vocab;
}
export const BYTE_VOCAB = byteLevelVocab();
export const byteLevelJson = () => ({
  version: '1.0', truncation: null, padding: null,
  added_tokens: [{ id: BYTE_VOCAB['<|endoftext|>'], content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
  normalizer: null, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: 'ByteLevel' }, decoder: { type: 'ByteLevel' },
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false,
    byte_fallback: false, vocab: BYTE_VOCAB, merges: SMALL_MERGES },
});
export const tok512Json = () => JSON.parse(readFileSync(resolve(REPO, 'test/ref/tok512_tokenizer.json'), 'utf8'));

function jsonSeeds(): Node[] {
  const meta = tok512Json();
  meta.normalizer = null;
  meta.pre_tokenizer = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: true };
  const regex = tok512Json();
  regex.normalizer.normalizers.unshift({ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }, { type: 'NFKC' });
  const seq = byteLevelJson();
  (seq as any).pre_tokenizer = { type: 'Sequence', pretokenizers: [seq.pre_tokenizer] };
  return [byteLevelJson(), tok512Json(), meta, regex, seq].map(toTree);
}

// ---- tokenizer.json, tokenizer_config.json --------------------------------------------------------------------

/** the parts of a tokenizer.json that decide its ids; a file whose other parts alone changed must encode as its seed */
const READ = ['model', 'added_tokens', 'normalizer', 'pre_tokenizer'];
const readParts = (j: unknown): string | null => {
  try {
    return j && typeof j === 'object' && !Array.isArray(j) ? JSON.stringify(READ.map((k) => (j as Record<string, unknown>)[k] ?? null)) : null;
  } catch { return null; } // nested too deep to compare
};

export function tokenizerJsonFormat(cases: number): Format {
  const seeds = jsonSeeds();
  const wants: Promise<{ parts: string; ids: number[][] }>[] = seeds.map(async (seed) => {
    const tok = await tokenizerFromFiles({ 'tokenizer.json': utf8(emit(seed)) });
    return { parts: readParts(JSON.parse(emit(seed)))!, ids: SAMPLES.map((s) => tok.encode(s)) };
  });
  return {
    name: 'tokenizer.json', cases,
    make(r, i) {
      const k = i % seeds.length;
      const m = mutateJson(r, seeds[k]);
      return {
        what: `seed ${k}: ${m.what}`,
        async run() {
          const tok = await tokenizerFromFiles({ 'tokenizer.json': utf8(m.text) });
          const wrong = checkTokenizer(tok);
          if (wrong) return wrong;
          // only fields the loader does not read changed (decoder, post_processor, version, ...): the seed's ids
          const want = await wants[k];
          if (readParts(JSON.parse(m.text)) === want.parts &&
            SAMPLES.some((s, n) => JSON.stringify(tok.encode(s)) !== JSON.stringify(want.ids[n]))) {
            return 'only unread fields changed, but the ids differ from the seed\'s';
          }
          return null;
        },
      };
    },
  };
}

export function tokenizerConfigFormat(cases: number): Format {
  const json = utf8(JSON.stringify(byteLevelJson()));
  const seed = toTree({ add_bos_token: false, bos_token: '<|endoftext|>', eos_token: { content: '<|endoftext|>', lstrip: false, __type: 'AddedToken' },
    model_max_length: 1024, tokenizer_class: 'GPT2Tokenizer' });
  const nameOf = (v: unknown): string | undefined => typeof v === 'string' ? v : v && typeof v === 'object' && !Array.isArray(v) &&
    typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : undefined;
  return {
    name: 'tokenizer_config.json', cases,
    make(r) {
      const m = mutateJson(r, seed);
      return {
        what: m.what,
        async run() {
          const tok = await tokenizerFromFiles({ 'tokenizer.json': json, 'tokenizer_config.json': utf8(m.text) });
          // what the config says, read here independently (JSON.parse keeps the last of a duplicated key, as the loader does)
          const cfg = JSON.parse(m.text);
          for (const k of ['bos', 'eos'] as const) {
            const named = nameOf(cfg[`${k}_token`]);
            const want = named === undefined ? BYTE_VOCAB['<|endoftext|>'] : BYTE_VOCAB[named];
            if (tok[k] !== want) return `${k} is ${tok[k]} but the config names ${JSON.stringify(named)} (id ${want})`;
          }
          return checkTokenizer(tok);
        },
      };
    },
  };
}

// ---- vocab.json + merges.txt ----------------------------------------------------------------------------------

export function vocabMergesFormat(cases: number): Format {
  const vocab = toTree(BYTE_VOCAB);
  const merges = ['#version: 0.2', ...SMALL_MERGES, ''];
  const junk = ['a', 'a b c', ' ', 'Ġ  t', '\t', 'Ġ zz', '#version: 0.2', 'x y', 'Ġt Ġt', 'h e', '\r', 'Ġ'.repeat(3000) + ' t'];
  return {
    name: 'vocab.json + merges.txt', cases,
    make(r) {
      const whats: string[] = [];
      let vtext = emit(vocab), lines = merges.slice();
      if (r.chance(0.6)) { const m = mutateJson(r, vocab); vtext = m.text; whats.push(`vocab: ${m.what}`); }
      if (r.chance(0.6) || whats.length === 0) {
        const at = 1 + r.int(lines.length - 1), op = r.int(5);
        if (op === 0) lines.splice(at, 1);
        else if (op === 1) lines.splice(at, 0, lines[at] ?? 'x y');
        else if (op === 2) lines.splice(at, 0, r.pick(junk));
        else if (op === 3) lines = lines.reverse();
        else lines = lines.map((l) => l + '\r');
        whats.push(`merges: line op ${op}`);
      }
      let mbytes: Uint8Array = utf8(lines.join('\n'));
      if (r.chance(0.15)) { const m = mutateBytes(r, mbytes); mbytes = m.bytes; whats.push(`merges bytes: ${m.what}`); }
      const [vn, mn] = r.chance(0.5) ? ['vocab.json', 'merges.txt'] : ['encoder.json', 'vocab.bpe'];
      const files: Record<string, Uint8Array> = { [vn]: utf8(vtext), [mn]: mbytes };
      if (r.chance(0.03)) delete files[r.pick([vn, mn])];
      return { what: whats.join('; '), run: async () => checkTokenizer(await tokenizerFromFiles(files)) };
    },
  };
}

// ---- tokenizer.model (protobuf) -------------------------------------------------------------------------------

/** a protobuf field: scalar (varint, fixed32 float, fixed64) or length-delimited (bytes or a sub-message) */
type Field = { f: number; wire: number; v: number | Uint8Array | Field[] };

function encodeFields(fields: Field[], w = protobuf.Writer.create()): protobuf.Writer {
  for (const x of fields) {
    w.uint32(((x.f << 3) | x.wire) >>> 0);
    if (x.wire === 0) w.int64(typeof x.v === 'number' && Number.isFinite(x.v) ? Math.trunc(x.v) : 0);
    else if (x.wire === 1) w.double(typeof x.v === 'number' ? x.v : 0);
    else if (x.wire === 5) w.float(typeof x.v === 'number' ? x.v : 0);
    else if (x.wire === 2) {
      if (Array.isArray(x.v)) { w.fork(); encodeFields(x.v, w); w.ldelim(); } else w.bytes(x.v instanceof Uint8Array ? x.v : new Uint8Array(0));
    }
  }
  return w;
}

function spmSeed(): Field[] {
  const piece = (p: string | Uint8Array, score: number, type: number): Field =>
    ({ f: 1, wire: 2, v: [{ f: 1, wire: 2, v: typeof p === 'string' ? utf8(p) : p }, { f: 2, wire: 5, v: score }, { f: 3, wire: 0, v: type }] });
  const pieces = [piece('<unk>', 0, 2), piece('<s>', 0, 3), piece('</s>', 0, 3)];
  for (let b = 0; b < 256; b++) pieces.push(piece(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0, 6));
  ['\u2581t', 'he', '\u2581the', 'in', '\u2581a', 'th', '\u2581', 't', 'h', 'e', 'a', 'i', 'n'].forEach((p, i) => pieces.push(piece(p, -i, 1)));
  return [...pieces,
    { f: 2, wire: 2, v: [{ f: 3, wire: 0, v: 2 }, { f: 35, wire: 0, v: 1 }, { f: 40, wire: 0, v: 0 }, { f: 41, wire: 0, v: 1 }, { f: 42, wire: 0, v: 2 }, { f: 43, wire: 0, v: -1 }] },
    { f: 3, wire: 2, v: [{ f: 1, wire: 2, v: utf8('identity') }, { f: 3, wire: 0, v: 1 }, { f: 4, wire: 0, v: 1 }, { f: 5, wire: 0, v: 1 }] }];
}

const PB_INTS = [0, 1, 2, 3, 4, 5, 6, 7, -1, -2, 255, 256, 288, 511, 512, 1e9, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 40];
const PB_FLOATS = [0, -0, 1, -1e30, 3.4e38, NaN, Infinity, -Infinity, 1e-45];
const PB_BYTES = [new Uint8Array(0), utf8('<unk>'), utf8('<s>'), utf8('\u2581t'), utf8('<0x41>'), Uint8Array.of(0xff, 0xfe), Uint8Array.of(0xed, 0xa0, 0x80),
  utf8('x'.repeat(5000)), utf8('<0xZZ>'), utf8('a')];

function mutateFields(r: Rng, top: Field[]): string {
  // a random walk to a field list, then one edit there
  let list = top, depth = 0;
  while (depth < 3 && r.chance(0.6)) {
    const subs = list.filter((x) => Array.isArray(x.v));
    if (!subs.length) break;
    list = r.pick(subs).v as Field[];
    depth++;
  }
  const i = r.int(list.length || 1), x = list[i];
  switch (r.int(8)) {
    case 0: if (x) { x.v = x.wire === 5 || x.wire === 1 ? r.pick(PB_FLOATS) : x.wire === 2 && !Array.isArray(x.v) ? r.pick(PB_BYTES) : r.pick(PB_INTS); } return 'value';
    case 1: if (x) x.wire = r.pick([0, 1, 2, 3, 4, 5, 6, 7]); return 'wire type';
    case 2: if (x) x.f = r.pick([0, 1, 2, 3, 4, 5, 24, 35, 40, 41, 42, 43, 44, 99, 536870911]); return 'field number';
    case 3: if (x) list.splice(r.int(list.length + 1), 0, structuredClone(x)); return 'duplicate field';
    case 4: list.splice(i, 1); return 'delete field';
    case 5: list.splice(r.int(list.length + 1), 0, { f: r.pick([1, 2, 3, 7, 1000]), wire: r.pick([0, 2, 5]), v: r.chance(0.5) ? r.pick(PB_INTS) : r.pick(PB_BYTES) }); return 'insert field';
    case 6: if (x && Array.isArray(x.v)) x.v = [{ f: x.f, wire: 2, v: x.v }]; return 'nest';
    default: if (x && Array.isArray(x.v)) x.v = []; return 'empty message';
  }
}

export function sentencePieceFormat(cases: number): Format {
  const real = shared('stories260k/tok512.model');
  const seed = spmSeed();
  return {
    name: 'tokenizer.model', cases,
    make(r, i) {
      let bytes: Uint8Array, what: string;
      if (i % 2 === 0) {
        const fields = structuredClone(seed);
        const whats = Array.from({ length: 1 + r.int(3) }, () => mutateFields(r, fields));
        bytes = encodeFields(fields).finish();
        what = `synthetic: ${whats.join(', ')}`;
      } else if (r.chance(0.5)) { // tok512.model + appended fields (a repeated sub-message merges into the first)
        const extra: Field[] = [{ f: r.pick([1, 2, 3]), wire: 2, v: [{ f: r.pick([1, 2, 3, 24, 35, 40, 41, 42, 43]), wire: r.pick([0, 0, 0, 5, 2]), v: r.pick(PB_INTS) }] }];
        bytes = concat([real, encodeFields(extra).finish()]);
        what = `tok512 + ${JSON.stringify(extra[0].v)}`;
      } else {
        const m = mutateBytes(r, real);
        bytes = m.bytes;
        what = `tok512 bytes: ${m.what}`;
      }
      if (r.chance(0.2)) { const m = mutateBytes(r, bytes); bytes = m.bytes; what += `; bytes: ${m.what}`; }
      return { what, run: async () => checkTokenizer(await SentencePieceTokenizer.fromBytes(bytes)) };
    },
  };
}

// ---- tokenizer.bin (llama2.c) ---------------------------------------------------------------------------------

function parseBin(b: Uint8Array): { max: number; pieces: { score: number; bytes: Uint8Array }[] } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const pieces: { score: number; bytes: Uint8Array }[] = [];
  for (let o = 4; o < b.length;) {
    const len = dv.getInt32(o + 4, true);
    pieces.push({ score: dv.getFloat32(o, true), bytes: b.slice(o + 8, o + 8 + len) });
    o += 8 + len;
  }
  return { max: dv.getInt32(0, true), pieces };
}

function writeBin(max: number, pieces: { score: number; bytes: Uint8Array; len?: number }[]): Uint8Array {
  const out = new Uint8Array(4 + pieces.reduce((n, p) => n + 8 + p.bytes.length, 0));
  const dv = new DataView(out.buffer);
  dv.setInt32(0, max, true);
  let o = 4;
  for (const p of pieces) {
    dv.setFloat32(o, p.score, true); dv.setInt32(o + 4, p.len ?? p.bytes.length, true); out.set(p.bytes, o + 8);
    o += 8 + p.bytes.length;
  }
  return out;
}

export function llama2cFormat(cases: number): Format {
  const real = parseBin(shared('stories260k/tok512.bin'));
  return {
    name: 'tokenizer.bin', cases,
    make(r) {
      const pieces = real.pieces.map((p) => ({ ...p, len: undefined as number | undefined }));
      let max = real.max;
      const whats: string[] = [];
      for (let n = 1 + r.int(2); n > 0; n--) {
        const k = r.int(pieces.length), op = r.int(7);
        if (op === 0) max = r.pick([0, -1, 1, 3, 6, 7, 8, 65536, 65537, 2 ** 31 - 1]);
        else if (op === 1) pieces[k].len = r.pick([-1, 0, 7, 8, 255, 65536, 2 ** 31 - 1, -(2 ** 31)]);
        else if (op === 2) pieces[k].score = r.pick([NaN, Infinity, -Infinity, -0, 1e30, -1e10]);
        else if (op === 3) pieces[k].bytes = r.pick([new Uint8Array(0), utf8('<0x41>'), Uint8Array.of(0xff), utf8(' '), utf8('abcdefgh')]);
        else if (op === 4) pieces.splice(k, 1);
        else if (op === 5) pieces.splice(k, 0, { ...pieces[k] });
        else pieces.length = r.int(pieces.length);
        whats.push(`op ${op} at ${k}`);
      }
      let bytes = writeBin(max, pieces);
      if (r.chance(0.3)) { const m = mutateBytes(r, bytes); bytes = m.bytes; whats.push(m.what); }
      const vocabSize = r.pick([undefined, undefined, undefined, undefined, 512, 512, 512, 511, 0, 1e9, 0.5]);
      return {
        what: `${whats.join(', ')}; vocabSize ${vocabSize}`,
        run: async () => checkTokenizer(await Llama2cTokenizer.fromBytes(bytes, { vocabSize })),
      };
    },
  };
}
