// Llama2cTokenizer (src/tokenizers/llama2c.ts + asm/llama2c.ts) against llama2.c run.c's encode/decode.
// Reference ids: test/ref/llama2c_tok.json, written by test/ref/llama2c_tok_ref.py (a naive Python port of
// run.c's encode). Shared data (tok512.bin, texts) is read from ../shared/data beside the repo, never copied.
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Llama2cTokenizer } from '../src/tokenizers/llama2c.js';
import { InherituneError } from '../src/util/errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SHARED = path.resolve(here, '../../shared/data');
const TOK_BIN = path.join(SHARED, 'stories260k/tok512.bin');
if (!existsSync(TOK_BIN)) throw new Error(`shared data not found at ${SHARED}: these tests need ../shared/data beside the repo`);

interface RefCase { name: string; text?: string; file?: string; start?: number; length?: number; n: number; ids: number[] }
const REF: { cases: RefCase[] } = JSON.parse(readFileSync(path.join(here, 'ref/llama2c_tok.json'), 'utf8'));

const texts = new Map<string, string>();
function readShared(file: string): string {
  let t = texts.get(file);
  if (t === undefined) texts.set(file, (t = readFileSync(path.join(SHARED, file), 'utf8')));
  return t;
}
/** Code-point slice [start, start + length), as Python's str slicing in the reference script. */
function codePoints(text: string, start: number, length: number): string {
  const step = (i: number) => (text.codePointAt(i)! > 0xffff ? 2 : 1);
  let i = 0, cp = 0;
  for (; cp < start && i < text.length; cp++) i += step(i);
  const from = i;
  for (; cp < start + length && i < text.length; cp++) i += step(i);
  return text.slice(from, i);
}
function caseText(c: RefCase): string {
  return c.text ?? codePoints(readShared(c.file!), c.start!, c.length!);
}
function refCase(name: string): RefCase {
  const c = REF.cases.find((x) => x.name === name);
  if (!c) throw new Error(`no case ${name} in test/ref/llama2c_tok.json`);
  return c;
}

const tokBytes = new Uint8Array(readFileSync(TOK_BIN));
const load = (opts?: { vocabSize?: number }) => Llama2cTokenizer.fromBytes(tokBytes, opts);

describe('Llama2cTokenizer (tok512.bin)', () => {
  it('encodes "Once upon a time" as run.c does', async () => {
    const tok = await load({ vocabSize: 512 });
    expect(tok.vocabSize).toBe(512);
    expect(tok.bos).toBe(1);
    expect(tok.eos).toBe(2);
    expect(tok.maxTokenLength).toBe(7);
    expect(tok.pieces[410]).toBe(' ');
    expect(tok.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    expect(tok.encode('Once upon a time', { eos: true })).toEqual([1, 403, 407, 261, 378, 2]);
    expect(tok.encode('Once upon a time', { bos: false })).toEqual([403, 407, 261, 378]);
    expect(tok.encode('')).toEqual([1]);
    expect(tok.encode('', { bos: false, eos: true })).toEqual([2]);
    expect(tok.decode([1, 403, 407, 261, 378])).toBe('Once upon a time');
  });

  it('gives ids identical to the naive Python port of run.c on every reference text', async () => {
    const tok = await load();
    expect(REF.cases.length).toBeGreaterThanOrEqual(12);
    for (const c of REF.cases) {
      const ids = tok.encode(caseText(c));
      expect(ids.length, c.name).toBe(c.n);
      expect(ids, c.name).toEqual(c.ids);
    }
    // stories260k/golden/SOURCE.md: the first 60,000 characters of tinystories_val.txt are 28,770 ids
    const ts = refCase('tinystories_60k');
    expect(ts.file).toBe('tinystories-sample/tinystories_val.txt');
    expect(tok.encode(caseText(ts)).length).toBe(28770);
  });

  it('round-trips decode(encode(s)) === s exactly (the decoder strips the dummy-prefix space after BOS)', async () => {
    const tok = await load();
    for (const c of REF.cases) {
      const s = caseText(c);
      expect(tok.decode(tok.encode(s)), c.name).toBe(s);
      expect(tok.decode(tok.encode(s, { eos: true })), c.name).toBe(s);
    }
    // without BOS nothing is stripped: the dummy prefix comes back
    expect(tok.decode(tok.encode('Hello', { bos: false }))).toBe(' Hello');
    // byte fallback: characters that are not pieces come back from their UTF-8 bytes, decoded together
    const emoji = tok.encode('🙂');
    expect(emoji).toEqual([1, 410, 0xf0 + 3, 0x9f + 3, 0x99 + 3, 0x82 + 3]);
    expect(tok.decode(emoji)).toBe('🙂');
    expect(tok.decode([68])).toBe('A'); // <0x41>
    // text that merely looks like a byte piece stays text (tok512 has no "<0", "0x"... merges)
    expect(tok.encode('<0x41>')).not.toContain(68);
    expect(tok.decode(tok.encode('<0x41>'))).toBe('<0x41>');
    // a leading byte-order mark and NUL survive (run.c could not see past a NUL; we encode it as <0x00>)
    for (const s of ['\ufeffBOM', 'a\u0000b', '\r\n\t  x  ']) expect(tok.decode(tok.encode(s))).toBe(s);
    expect(tok.encode('a\u0000b')).toContain(3);

    // the whole tinystories sample (~0.8 MB) in one go, the merge loop is O(log n) per merge
    const all = readShared('tinystories-sample/tinystories_val.txt');
    const mb = new TextEncoder().encode(all).byteLength / 1e6;
    const t0 = performance.now();
    const ids = tok.encode(all);
    const s = (performance.now() - t0) / 1000;
    console.log(`encode tinystories_val.txt: ${mb.toFixed(2)} MB -> ${ids.length} ids in ${(s * 1000).toFixed(0)} ms ` +
      `(${(mb / s).toFixed(1)} MB/s)`);
    expect(ids.slice(0, 28770 - 200)).toEqual(refCase('tinystories_60k').ids.slice(0, 28770 - 200));
    expect(s).toBeLessThan(5); // loose bound for slow CI machines; ~0.1-0.2 s on a laptop
    expect(tok.decode(ids)).toBe(all);
  });

  it('matches a naive run.c merge loop on a synthetic vocab full of score ties (-0 == +0, -1e10 never merges)', async () => {
    const extra: [string, number][] = [
      ['a', -5], ['b', -5], ['c', -5], [' ', -5], ['ab', -1], ['ba', -1], ['aa', -1], ['bb', -0], ['ca', 0],
      ['abc', 0], ['aab', -1], [' a', -1], ['  ', -0], [' ab', -2], ['cab', -1e10], ['bc', NaN], ['aba', -1e9],
      ['bab', 0], ['abab', -0], ['<', -5], ['0', -5], ['x', -5], ['6', -5], ['1', -5], ['>', -5],
      ['a6', -0], ['61', 0], ['<0', -3], ['<0x', -3], ['<0x6', -3], ['<0x61', -3], // + '>' = the byte piece <0x61> (score 0)
    ];
    const pieces: [string, number][] = [['<unk>', 0], ['\n<s>\n', 0], ['\n</s>\n', 0]];
    for (let b = 0; b < 256; b++) pieces.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0]);
    pieces.push(...extra);
    const enc = new TextEncoder();
    const bytes = pieces.map(([p]) => enc.encode(p));
    const file = new Uint8Array(4 + bytes.reduce((n, b) => n + 8 + b.length, 0));
    const v = new DataView(file.buffer);
    v.setInt32(0, Math.max(...bytes.map((b) => b.length)), true);
    let o = 4;
    pieces.forEach(([, score], i) => {
      v.setFloat32(o, score, true); v.setInt32(o + 4, bytes[i].length, true); file.set(bytes[i], o + 8);
      o += 8 + bytes[i].length;
    });
    const tok = await Llama2cTokenizer.fromBytes(file);
    // run.c's encode, literally (texts are ASCII plus 'é', so one char = one code unit here)
    const lookup = new Map(pieces.map(([p], i) => [p, i]));
    const score = Float32Array.from(pieces, ([, s]) => s);
    const naive = (text: string): number[] => {
      const ids = [1];
      if (text.length) ids.push(lookup.get(' ')!);
      for (const ch of text) {
        const id = lookup.get(ch);
        if (id !== undefined) ids.push(id); else for (const b of enc.encode(ch)) ids.push(b + 3);
      }
      for (;;) {
        let best = Math.fround(-1e10), bestId = -1, bestIdx = -1;
        for (let i = 0; i + 1 < ids.length; i++) {
          const id = lookup.get(pieces[ids[i]][0] + pieces[ids[i + 1]][0]);
          if (id !== undefined && score[id] > best) { best = score[id]; bestId = id; bestIdx = i; }
        }
        if (bestIdx < 0) return ids;
        ids.splice(bestIdx, 2, bestId);
      }
    };
    let seed = 12345;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const alphabet = ['a', 'b', 'c', ' ', 'a', 'b', 'é', '<', '0', 'x', '6', '1', '>'];
    for (let t = 0; t < 400; t++) {
      let s = '';
      for (let n = rand(60); n > 0; n--) s += alphabet[rand(alphabet.length)];
      expect(tok.encode(s), JSON.stringify(s)).toEqual(naive(s));
    }
    // -0 and +0 tie, so the leftmost pair wins: "a6" (-0) before "61" (+0)
    expect(tok.encode('a61', { bos: false })).toEqual([lookup.get(' ')!, lookup.get('a6')!, lookup.get('1')!]);
    // the literal "<0x61>" merges into the byte piece (as run.c's string lookup would), which decodes to "a"
    expect(tok.encode('<0x61>')).toEqual(naive('<0x61>'));
    expect(tok.encode('<0x61>')).toContain(0x61 + 3);
    expect(tok.decode(tok.encode('<0x61>'))).toBe('a');
  });

  describe('bad input gives InherituneError with a hint', () => {
    const dv = () => {
      const b = tokBytes.slice();
      return { b, v: new DataView(b.buffer) };
    };
    async function expectError(p: Promise<unknown>, re: RegExp) {
      const e = await p.then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(InherituneError);
      expect((e as Error).message).toMatch(re);
      expect((e as Error).message).toContain('---> HINT:');
    }

    it('rejects a truncated file', async () => {
      await expectError(Llama2cTokenizer.fromBytes(new Uint8Array(0)), /truncated.*0 bytes/);
      await expectError(Llama2cTokenizer.fromBytes(tokBytes.slice(0, 3)), /truncated/);
      // cut inside piece 300's bytes: its length field points past the end
      let off = 4;
      const v = new DataView(tokBytes.buffer, tokBytes.byteOffset);
      for (let i = 0; i < 300; i++) off += 8 + v.getInt32(off + 4, true);
      await expectError(Llama2cTokenizer.fromBytes(tokBytes.slice(0, off + 9)), /piece 300's length field .* past the end/);
      // cut inside piece 300's 8-byte header
      await expectError(Llama2cTokenizer.fromBytes(tokBytes.slice(0, off + 5)), /truncated: piece 300 .*header/);
      // cut cleanly after 300 pieces: fine without vocabSize, a mismatch with it
      expect((await Llama2cTokenizer.fromBytes(tokBytes.slice(0, off))).vocabSize).toBe(300);
      await expectError(Llama2cTokenizer.fromBytes(tokBytes.slice(0, off), { vocabSize: 512 }), /holds 300 pieces.*vocab_size is 512/);
      // cut before the byte-fallback pieces are complete
      let off100 = 4;
      for (let i = 0; i < 100; i++) off100 += 8 + v.getInt32(off100 + 4, true);
      await expectError(Llama2cTokenizer.fromBytes(tokBytes.slice(0, off100)), /holds 100 pieces, fewer than the 259/);
    });

    it('rejects a negative or oversized length field', async () => {
      const { b, v } = dv();
      v.setInt32(4 + 4, -1, true); // piece 0's len
      await expectError(Llama2cTokenizer.fromBytes(b), /piece 0 .*negative length -1/);
      const x = dv();
      x.v.setInt32(4 + 4, 1_000_000, true);
      await expectError(Llama2cTokenizer.fromBytes(x.b), /piece 0 .*1000000 bytes long, more than max_token_length = 7/);
    });

    it('rejects a negative, zero or absurd max_token_length', async () => {
      for (const m of [-7, 0, 0x7fffffff]) {
        const { b, v } = dv();
        v.setInt32(0, m, true);
        await expectError(Llama2cTokenizer.fromBytes(b), new RegExp(`max_token_length = ${m} is not a plausible`));
      }
      const { b, v } = dv();
      v.setInt32(0, 3, true); // smaller than the longest piece
      await expectError(Llama2cTokenizer.fromBytes(b), /more than max_token_length = 3/);
    });

    it('names both numbers when the vocab size does not match the model', async () => {
      await expectError(load({ vocabSize: 32000 }), /holds 512 pieces but the model's vocab_size is 32000[^]*HINT:.*vocab_size 32000/);
      await expectError(load({ vocabSize: 300 }), /holds 512 pieces but the model's vocab_size is 300[^]*vocabSize: 512/);
      await expectError(load({ vocabSize: -1 }), /vocabSize must be a positive integer/);
      expect((await load({ vocabSize: 512 })).vocabSize).toBe(512);
    });

    it('rejects ids outside the vocab in decode', async () => {
      const tok = await load();
      expect(() => tok.decode([1, 512])).toThrow(InherituneError);
      expect(() => tok.decode([1, -1])).toThrow(/id -1 at position 1/);
      expect(() => tok.decode([1.5])).toThrow(InherituneError);
    });
  });
});
