// fuzz/data: seeds and mutated cases for safetensors files, llm.c token shards and the task files. Loaded values
// are checked against what the case really holds, decoded here independently: a safetensors tensor must equal
// the bytes at its range from where the data section truly starts (a reader that trusts a wrong header length
// reads shifted values: a silent result), shard tokens must equal the file's body.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SafetensorsFile, memorySource } from '../../src/formats/safetensors.js';
import { parseShard, SHARD_HEADER_BYTES } from '../../src/data/shard.js';
import { ShardLoader, memoryShards } from '../../src/data/loader.js';
import { parseTask, TASK_FILES, type TaskName, type ChoiceDoc, type PageDoc } from '../../src/tasks/data.js';
import { concat, emit, mutateBytes, mutateJson, toTree, utf8, type Node } from './mutate.js';
import type { Format } from './tokenizers.js';

// ---- safetensors ----------------------------------------------------------------------------------------------

type Dt = 'F32' | 'F16' | 'BF16' | 'I32';
interface T { name: string; dtype: Dt; shape: number[]; values: number[] }
const SIZE: Record<Dt, number> = { F32: 4, F16: 2, BF16: 2, I32: 4 };

/** IEEE half -> number, by the definition (not the reader's code) */
function half(h: number): number {
  const e = (h >> 10) & 31, m = h & 1023, s = h & 0x8000 ? -1 : 1;
  return e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * 2 ** (e - 15) * (1 + m / 1024);
}
const toHalf = (x: number) => { for (let h = 0; h < 0x7c00; h++) if (half(h) === Math.abs(x)) return h | (x < 0 ? 0x8000 : 0); throw new Error(`${x} is not a half`); };

function encodeTensor(t: T): Uint8Array {
  const out = new Uint8Array(t.values.length * SIZE[t.dtype]);
  const dv = new DataView(out.buffer);
  t.values.forEach((v, i) => {
    if (t.dtype === 'F32') dv.setFloat32(4 * i, v, true);
    else if (t.dtype === 'I32') dv.setInt32(4 * i, v, true);
    else if (t.dtype === 'F16') dv.setUint16(2 * i, toHalf(v), true);
    else { const f = new DataView(new ArrayBuffer(4)); f.setFloat32(0, v, true); dv.setUint16(2 * i, f.getUint32(0, true) >>> 16, true); }
  });
  return out;
}

/** what bytes [b, e) of the data section mean as dtype, decoded here */
function decodeRange(bytes: Uint8Array, dtype: string): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), out: number[] = [];
  if (dtype === 'F32') for (let i = 0; i + 4 <= bytes.length; i += 4) out.push(dv.getFloat32(i, true));
  else if (dtype === 'F16') for (let i = 0; i + 2 <= bytes.length; i += 2) out.push(half(dv.getUint16(i, true)));
  else for (let i = 0; i + 2 <= bytes.length; i += 2) { const f = new DataView(new ArrayBuffer(4)); f.setUint32(0, dv.getUint16(i, true) << 16, true); out.push(f.getFloat32(0, true)); }
  return out;
}

/** a safetensors file as the reference writer lays it out; `order` permutes the data (offsets need not follow key order) */
function build(ts: T[], meta: Record<string, string> | null, order: number[]): { header: Record<string, unknown>; data: Uint8Array } {
  const header: Record<string, unknown> = meta ? { __metadata__: meta } : {};
  const blobs = ts.map(encodeTensor), offs: number[] = [];
  let o = 0;
  for (const i of order) { offs[i] = o; o += blobs[i].length; }
  ts.forEach((t, i) => { header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offs[i], offs[i] + blobs[i].length] }; });
  return { header, data: concat(order.map((i) => blobs[i])) };
}

function withHeader(json: string, data: Uint8Array): { file: Uint8Array; start: number } {
  let j: Uint8Array = utf8(json);
  const pad = (8 - (j.length % 8)) % 8;
  j = concat([j, utf8(' '.repeat(pad))]);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setUint32(0, j.length, true);
  return { file: concat([len, j, data]), start: 8 + j.length };
}

export function safetensorsFormat(cases: number): Format {
  const seq = (n: number, a: number) => Array.from({ length: n }, (_, i) => a + i * 0.25);
  const seeds = [
    build([{ name: 'model.embed.weight', dtype: 'F32', shape: [4, 3], values: seq(12, 1) }, { name: 'b', dtype: 'F32', shape: [3], values: seq(3, -7) },
      { name: 'z', dtype: 'F32', shape: [0, 5], values: [] }, { name: 's', dtype: 'F32', shape: [], values: [42] }], { format: 'pt' }, [0, 1, 2, 3]),
    build([{ name: 'h', dtype: 'F16', shape: [5], values: [1, -2.5, 65504, 2 ** -24, 0.5] }, { name: 'bf', dtype: 'BF16', shape: [2, 2], values: [1, -2.5, 3.140625, 96] },
      { name: 'f', dtype: 'F32', shape: [2], values: [1e-30, -3] }, { name: 'i', dtype: 'I32', shape: [1], values: [7] }], null, [2, 0, 3, 1]),
  ].map((s) => ({ tree: toTree(s.header), data: s.data }));
  return {
    name: 'safetensors', cases,
    make(r, i) {
      const seed = seeds[i % seeds.length];
      let { file, start } = withHeader(emit(seed.tree), seed.data);
      let what: string;
      const kind = r.int(10);
      if (kind < 4) { // the header's JSON, re-padded, with a correct length: the data starts right after it
        const m = mutateJson(r, seed.tree);
        ({ file, start } = withHeader(m.text, seed.data));
        what = `header: ${m.what}`;
      } else if (kind < 6) { // the header length: the data still starts where it did
        file = file.slice();
        const dv = new DataView(file.buffer), n = dv.getUint32(0, true);
        const v = r.pick([n - 1, n - 2, n - 3, n - 7, n - 8, n + 1, n + 8, 0, 1, 2, 0xffffffff]);
        dv.setUint32(0, v >>> 0, true);
        if (r.chance(0.2)) dv.setUint32(4, r.pick([1, 0xffffffff]), true);
        what = `header length ${n} -> ${v}`;
      } else if (kind < 8) { // flips and sets, in place (data section or header)
        const inData = r.chance(0.6);
        const m = mutateBytes(r, file, inData ? start : 8, inData ? file.length : start);
        if (m.bytes.length !== file.length) { what = `resize: ${m.what}`; file = m.bytes; start = -1; } // insert/delete: the truth is unknown
        else { file = m.bytes; what = `${inData ? 'data' : 'header'}: ${m.what}`; }
        if (inData && r.chance(0.3)) { new DataView(file.buffer).setFloat32(start + 4 * r.int((file.length - start) >> 2), r.pick([NaN, Infinity, -Infinity]), true); what += ', a NaN/Inf'; }
      } else if (kind < 9) { // padding that is not spaces
        file = file.slice();
        file[start - 1] = r.pick([0x0a, 0x09, 0x00, 0x7d]);
        what = 'padding byte';
      } else {
        const m = r.chance(0.5) ? { bytes: file.slice(0, r.int(file.length)), what: 'truncate' } : { bytes: concat([file, Uint8Array.of(0, 0, 0, 0)]), what: 'append 4 bytes' };
        file = m.bytes;
        what = m.what;
      }
      const bytes = file, truth = start;
      return {
        what,
        async run() {
          const f = await SafetensorsFile.open(memorySource(bytes), 'fuzz.safetensors');
          for (const [key, t] of f.tensors) {
            const numel = t.shape.reduce((a, b) => a * b, 1);
            if (numel * SIZE[t.dtype as Dt] !== t.end - t.begin && SIZE[t.dtype as Dt]) return `tensor '${key}': shape x dtype != range`;
            let got: Float32Array;
            try { got = await f.read(key); } catch (e) { if ((e as Error).name === 'InherituneError') continue; throw e; }
            if (truth < 0) continue;
            if (truth + t.end > bytes.length) return `tensor '${key}' was read from past the true data section`;
            const want = decodeRange(bytes.subarray(truth + t.begin, truth + t.end), t.dtype);
            if (want.length !== got.length || want.some((w, k) => !Object.is(Math.fround(w), got[k]))) {
              return `tensor '${key}' read [${Array.from(got.slice(0, 4))}...] but the file holds [${want.slice(0, 4)}...] there`;
            }
          }
          return null;
        },
      };
    },
  };
}

// ---- llm.c shards ---------------------------------------------------------------------------------------------

export function shardFormat(cases: number): Format {
  const mk = (version: 1 | 2, magic: number, n: number) => {
    const out = new Uint8Array(SHARD_HEADER_BYTES + n * (version === 1 ? 2 : 4));
    const dv = new DataView(out.buffer);
    dv.setInt32(0, magic, true); dv.setInt32(4, magic === 20240801 ? 7 : version, true); dv.setInt32(8, n, true);
    for (let i = 0; i < n; i++) version === 1 ? dv.setUint16(SHARD_HEADER_BYTES + 2 * i, (i * 37) % 1000, true) : dv.setUint32(SHARD_HEADER_BYTES + 4 * i, (i * 37) % 1000, true);
    return out;
  };
  const seeds = [mk(1, 20240520, 64), mk(2, 20240520, 40), mk(2, 20240801, 33)];
  return {
    name: 'llm.c shard', cases,
    make(r, i) {
      let b: Uint8Array = seeds[i % seeds.length].slice(), what: string;
      if (r.chance(0.4)) {
        const at = r.pick([0, 4, 8, 8, 12, 1020]);
        const v = r.pick([0, 1, 2, 3, 7, -1, 20240520, 20240801, 31, 32, 33, 40, 64, 65, 2 ** 31 - 1, -(2 ** 31), 1e9]);
        new DataView(b.buffer).setInt32(at, v, true);
        what = `header int ${at} = ${v}`;
      } else {
        const m = mutateBytes(r, b, r.chance(0.5) ? SHARD_HEADER_BYTES : 0);
        b = m.bytes;
        what = m.what;
      }
      const vocabSize = 1000;
      return {
        what,
        async run() {
          const s = parseShard(b, 'fuzz.bin');
          const dv = new DataView(b.buffer, b.byteOffset, b.byteLength), bpt = s.bytesPerToken;
          if (SHARD_HEADER_BYTES + s.ntok * bpt !== b.length) return `ntok ${s.ntok} does not match ${b.length} bytes`;
          for (let k = 0; k < s.ntok; k++) {
            const want = bpt === 2 ? dv.getUint16(SHARD_HEADER_BYTES + 2 * k, true) : dv.getUint32(SHARD_HEADER_BYTES + 4 * k, true);
            if (s.tokens[k] !== want) return `token ${k} is ${s.tokens[k]}, the file holds ${want}`;
          }
          if (s.ntok < 9) return null;
          const l = new ShardLoader(memoryShards([b]), { B: 2, T: 4, mode: 'sequential', epochs: 1, vocabSize });
          let pos = 0;
          try {
            for (let batch = await l.next(); batch; batch = await l.next(), pos += 8) {
              for (let k = 0; k < 8; k++) if (batch.x[k] !== s.tokens[pos + k] || batch.y[k] !== s.tokens[pos + k + 1]) return `batch at ${pos} differs from the shard`;
            }
          } catch (e) {
            if ((e as Error).name === 'InherituneError' && s.tokens.some((t) => t >= vocabSize)) return null; // refused: a token >= vocabSize
            throw e;
          }
          if (Array.from(s.tokens.subarray(0, pos + 1)).some((t) => t >= vocabSize)) return `a token >= vocabSize ${vocabSize} was served`;
          return null;
        },
      };
    },
  };
}

// ---- task files -----------------------------------------------------------------------------------------------

export function taskFormat(cases: number): Format {
  const SHARED = resolve(import.meta.dirname, '../../../shared/data');
  const head = (f: string, n: number) => readFileSync(resolve(SHARED, f), 'utf8').split('\n').slice(0, n).join('\n') + '\n';
  const seeds: [TaskName, Record<string, string>][] = [
    ['lambada_openai', { 'lambada_openai.jsonl': head('lambada-openai/lambada_openai.jsonl', 3) }],
    ['piqa', { 'valid.jsonl': head('piqa/valid.jsonl', 3), 'valid-labels.lst': head('piqa/valid-labels.lst', 3) }],
    ['arc_easy', { 'arc_easy.jsonl': head('arc-easy/arc_easy.jsonl', 3) }],
    ['boolq', { 'boolq.jsonl': head('boolq/boolq.jsonl', 2) }],
    ['winogrande', { 'winogrande.jsonl': head('winogrande/winogrande.jsonl', 3) }],
    ['hellaswag', { 'hellaswag_val_full.txt': head('hellaswag/hellaswag_val_full.txt', 12) }],
    ['wikitext', { 'wiki.test.raw': ' = A = \r\n x @-@ y ( z ) , " q " \r\n = = Sub = = \r\n w [ 1 ] \r\n = B = \r\n v \r\n' }],
  ];
  const inserts = ['(', ')', '"', "'", '[', '{', ' '.repeat(20000), '\u3000'.repeat(5000), '( ' + ' '.repeat(20000), '" ' + '\t'.repeat(20000),
    '= ', ' = ', '@-@', '\r\n', '\n', '\n\n', '7', '0', '\ud800', ''];
  return {
    name: 'task files', cases,
    make(r, i) {
      const [task, base] = seeds[i % seeds.length];
      const files = { ...base };
      const name = r.pick(TASK_FILES[task]);
      const lines = files[name].split('\n');
      let what: string;
      const k = r.int(Math.max(1, lines.length - 1));
      if (name.endsWith('.jsonl') && r.chance(0.6)) {
        const line = lines[k];
        let tree: Node;
        try { tree = toTree(JSON.parse(line)); } catch { tree = { k: 'lit', v: line }; }
        const m = mutateJson(r, tree);
        lines[k] = m.text.replace(/\n/g, ' ');
        what = `${name} line ${k + 1}: ${m.what}`;
      } else {
        const op = r.int(5), s = lines[k] ?? '', at = r.int(s.length + 1);
        if (op === 0) lines.splice(k, 1);
        else if (op === 1) lines.splice(k, 0, lines[k] ?? '');
        else if (op === 2) lines[k] = s.slice(0, at);
        else lines[k] = s.slice(0, at) + r.pick(inserts) + s.slice(at);
        what = `${name} line ${k + 1}: op ${op}`;
      }
      files[name] = lines.join('\n');
      return {
        what,
        async run() {
          const docs = parseTask(task, files);
          if (!docs.length) return 'no items';
          for (const d of docs as (ChoiceDoc | PageDoc)[]) {
            if ('page' in d) { if (typeof d.page !== 'string' || typeof d.text !== 'string') return 'a page is not text'; continue; }
            if (!(Number.isInteger(d.gold) && d.gold >= 0 && d.gold < d.choices.length)) return `gold ${d.gold} of ${d.choices.length} choices`;
            if (d.choices.some((c) => typeof c !== 'string' || c.length === 0)) return 'an empty or non-string choice';
            if (d.requests.length !== (task === 'lambada_openai' ? 1 : d.choices.length)) return `${d.requests.length} requests for ${d.choices.length} choices`;
            if (d.requests.some((q) => typeof q[0] !== 'string' || typeof q[1] !== 'string')) return 'a request is not two strings';
          }
          return null;
        },
      };
    },
  };
}
