// pack: llm.c shard layout round-trip, documents -> shards (separators, train/val split, subsets, long
// documents cut in chunks), packFiles over shared data, and the loader (sequential/random, epochs, exact resume).
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { tokenizerFromFiles, type Tokenizer } from '../src/tokenizers/load.js';
import { DocSplitter, Packer, parseAmount, docHash, type PackOptions } from '../src/data/pack.js';
import { encodeShard, parseShard, parseShardHeader, shardHeader, SHARD_HEADER_BYTES } from '../src/data/shard.js';
import { ShardLoader, memoryShards, type Batch, type LoaderOptions } from '../src/data/loader.js';
import { packFiles, listShards, openShards } from '../src/node/pack.js';
import { InherituneError } from '../src/util/errors.js';

const REPO = resolve(import.meta.dirname, '..');
const SHARED = resolve(REPO, '../shared/data');
const shared = (f: string) => new Uint8Array(readFileSync(resolve(SHARED, f)));
const text = (f: string) => readFileSync(resolve(SHARED, f), 'utf8');

let gpt2: Tokenizer, spm: Tokenizer, l2c: Tokenizer, tmp: string;
beforeAll(async () => {
  gpt2 = await tokenizerFromFiles({ 'encoder.json': shared('gpt2-bpe/encoder.json'), 'vocab.bpe': shared('gpt2-bpe/vocab.bpe') });
  spm = await tokenizerFromFiles({ 'tokenizer.model': shared('stories260k/tok512.model') });
  l2c = await tokenizerFromFiles({ 'tok512.bin': shared('stories260k/tok512.bin') });
  tmp = mkdtempSync(join(tmpdir(), 'inheritune-pack-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Packs documents in memory; returns the shards per split as token arrays. */
async function packDocs(tok: Tokenizer, docs: string[], opts: PackOptions) {
  const shards = { train: [] as Uint8Array[], val: [] as Uint8Array[] };
  const p = new Packer(tok, opts, (split, i, bytes) => { expect(i).toBe(shards[split].length); shards[split].push(bytes); });
  for (const d of docs) await p.add(d);
  const summary = await p.finish();
  const flat = (s: Uint8Array[]) => s.flatMap((b) => Array.from(parseShard(b).tokens));
  return { summary, shards, train: flat(shards.train), val: flat(shards.val) };
}

/** Splits a token stream at each separator id: the documents' ids. */
function docsOf(ids: number[], sep: number): number[][] {
  const out: number[][] = [];
  for (const id of ids) { if (id === sep) out.push([]); else out[out.length - 1].push(id); }
  return out;
}

describe('llm.c shard format', () => {
  it('writes the 256 x int32 header then little-endian tokens, and reads it back', () => {
    const toks = [0, 1, 50256, 65535, 7];
    const b = encodeShard(toks, 1);
    expect(b.byteLength).toBe(1024 + 2 * toks.length);
    const v = new DataView(b.buffer);
    expect([v.getInt32(0, true), v.getInt32(4, true), v.getInt32(8, true), v.getInt32(12, true), v.getInt32(1020, true)]).toEqual([20240520, 1, 5, 0, 0]);
    expect(v.getUint16(1024 + 4, true)).toBe(50256);
    expect(Array.from(parseShard(b).tokens)).toEqual(toks);
    const b2 = encodeShard([70000, 1, 4294967295], 2);
    expect(new DataView(b2.buffer).getInt32(4, true)).toBe(2);
    expect(Array.from(parseShard(b2).tokens)).toEqual([70000, 1, 4294967295]);
    expect(parseShard(b2).tokens).toBeInstanceOf(Uint32Array);
    expect(Array.from(shardHeader(3, 2).subarray(0, 12))).toEqual([0x88, 0xd8, 0x34, 0x01, 2, 0, 0, 0, 3, 0, 0, 0]); // 20240520 = 0x0134d888
    // llm.c's LLaMA-3 shards (magic 20240801, version 7, uint32) are read too
    const l3 = encodeShard([1, 2], 2);
    new DataView(l3.buffer).setInt32(0, 20240801, true); new DataView(l3.buffer).setInt32(4, 7, true);
    expect(Array.from(parseShard(l3).tokens)).toEqual([1, 2]);
  });

  it('rejects bad headers, sizes and tokens with InherituneErrors', () => {
    const b = encodeShard([1, 2, 3], 1);
    const bad = (f: () => unknown, re: RegExp) => { expect(f).toThrow(InherituneError); expect(f).toThrow(re); };
    bad(() => parseShard(b.subarray(0, 1000)), /truncated: 1000 bytes/);
    bad(() => parseShard(b.subarray(0, 1028)), /header says 3 tokens \(1030 bytes\) but the file has 1028 bytes/);
    const m = b.slice(); new DataView(m.buffer).setInt32(0, 12345, true);
    bad(() => parseShard(m), /magic 12345 \/ version 1 is not an llm.c token shard/);
    const v = b.slice(); new DataView(v.buffer).setInt32(4, 3, true);
    bad(() => parseShard(v), /version 3/);
    bad(() => encodeShard([70000], 1), /token 70000 at 0 does not fit version 1/);
    expect(parseShardHeader(b, 's', b.byteLength)).toEqual({ version: 1, ntok: 3, bytesPerToken: 2 });
  });
});

describe('Packer', () => {
  const docs = text('tinystories-sample/tinystories_val.txt').split('\n\n').filter(Boolean).slice(0, 400);

  it('prepends BOS (= <|endoftext|> for GPT-2) to each document, llm.c style, and cuts shards of shardTokens', async () => {
    const r = await packDocs(gpt2, docs, { shardTokens: 5000, val: 0 });
    const all = [50256, ...docs.flatMap((d) => [...gpt2.encode(d), 50256])].slice(0, -1);
    expect(r.train).toEqual(all);
    expect(r.shards.train.slice(0, -1).every((s) => parseShard(s).ntok === 5000)).toBe(true);
    expect(r.summary).toMatchObject({ version: 1, docs: 400, kept: 400, train: { tokens: all.length, docs: 400 }, val: { tokens: 0, shards: 0 } });
    // SentencePiece: BOS = 1 before each document; 'eos' and 'both' separators
    const s = await packDocs(spm, docs.slice(0, 20), { val: 0, separator: 'both' });
    expect(s.train).toEqual(docs.slice(0, 20).flatMap((d) => spm.encode(d, { bos: true, eos: true })));
    const e = await packDocs(spm, docs.slice(0, 20), { val: 0, separator: 'eos' });
    expect(e.train).toEqual(docs.slice(0, 20).flatMap((d) => spm.encode(d, { eos: true })));
  });

  it('splits off validation documents and subsets by seeded per-document hashes (reproducible)', async () => {
    const a = await packDocs(gpt2, docs, { val: '10%', subset: '50%', seed: 7 });
    const b = await packDocs(gpt2, docs, { val: '10%', subset: '50%', seed: 7 });
    expect(a.train).toEqual(b.train);
    expect(a.val).toEqual(b.val);
    const kept = docs.filter((_, i) => docHash(7, i, 0) < 0.5);
    const val = kept.filter((_, j) => docHash(7, docs.indexOf(kept[j]), 1) < 0.1);
    expect(a.summary.kept).toBe(kept.length);
    expect(a.summary.kept).toBeGreaterThan(160);
    expect(a.summary.kept).toBeLessThan(240);
    expect(docsOf(a.val, 50256).map((ids) => gpt2.decode(ids))).toEqual(val);
    expect(docsOf(a.train, 50256).map((ids) => gpt2.decode(ids))).toEqual(kept.filter((d) => !val.includes(d)));
    const c = await packDocs(gpt2, docs, { val: '10%', subset: '50%', seed: 8 });
    expect(c.train).not.toEqual(a.train);
  });

  it('stops a "N tokens" subset at exactly N tokens', async () => {
    const total = (await packDocs(gpt2, docs, { val: 0 })).train.length;
    const r = await packDocs(gpt2, docs, { val: '1000 tokens', subset: '20000 tokens', expectedTokens: total });
    expect(r.train.length + r.val.length).toBe(20000);
    expect(r.summary.truncated).toBe(true);
    expect(r.val.length).toBeGreaterThanOrEqual(1000);
    expect(r.val.length).toBeLessThan(1000 + 1200); // whole documents: at most one over
    await expect(packDocs(gpt2, docs, { subset: '2M tokens' })).rejects.toThrow(/needs the expected corpus size/);
    expect(parseAmount('0.1%', 'x')).toEqual({ fraction: 0.001 });
    expect(parseAmount('1.5M tokens', 'x')).toEqual({ tokens: 1500000 });
    expect(parseAmount(' 250000 ', 'x')).toEqual({ tokens: 250000 });
    expect(() => parseAmount('lots', 'subset')).toThrow(/subset: cannot read "lots"/);
    expect(() => parseAmount('150%', 'val')).toThrow(/not between 0% and 100%/);
  });

  it('encodes a long document in chunks with exactly the ids of encoding it whole (GPT-2, SentencePiece, llama2.c)', async () => {
    const big = text('tinyshakespeare/input.txt').slice(0, 300000);
    for (const tok of [gpt2, spm, l2c]) {
      const pieces: number[] = [];
      const q = new Packer(tok, { val: 0, chunkChars: 4096 }, (_s, _i, b) => { for (const t of parseShard(b).tokens) pieces.push(t); });
      const d = new DocSplitter('file', q, 'text', 'big');
      d.start();
      for (let i = 0; i < big.length; i += 1000) await d.push(big.slice(i, i + 1000)); // arbitrary stream chunks
      await d.finish();
      await q.finish();
      const whole = tok.kind === 'llama2c' ? tok.encode(big) : tok.encode(big, { bos: true });
      expect(pieces.length, tok.kind).toBe(whole.length);
      expect(pieces, tok.kind).toEqual(whole);
    }
  });

  it('splits JSONL and blank-line documents from arbitrary stream chunks', async () => {
    const got: string[] = [];
    const sink = { begin() { got.push(''); }, text(s: string) { got[got.length - 1] += s; }, end() {} };
    const jl = new DocSplitter('jsonl', sink, 'context');
    jl.start();
    const src = '{"context": "a\\nb", "x": 1}\n\n{"context": "ü🙂"}\r\n{"context": ""}';
    for (const ch of src) await jl.push(ch);
    await jl.finish();
    expect(got).toEqual(['a\nb', 'ü🙂', '']);
    got.length = 0;
    const bl = new DocSplitter('blankline', sink);
    bl.start();
    const blocks = 'one\ntwo\n\n \t\nthree\r\n\r\n\n\nfour';
    for (let i = 0; i < blocks.length; i += 3) await bl.push(blocks.slice(i, i + 3));
    await bl.finish();
    expect(got).toEqual(['one\ntwo', 'three', 'four']);
    const bad = new DocSplitter('jsonl', sink, 'text', 'x.jsonl');
    await expect(bad.push('{"text": 1}\n')).rejects.toThrow(/x.jsonl: line 1 has no string field "text"/);
    await expect(new DocSplitter('jsonl', sink, 'text', 'y.jsonl').push('nope\n')).rejects.toThrow(/y.jsonl: line 1 is not valid JSON/);
  });
});

describe('packFiles and the loader', () => {
  it('packs shared files into shards on disk, with a manifest, that decode back to the documents', async () => {
    const out = join(tmp, 'stories');
    const r = await packFiles(gpt2, [resolve(SHARED, 'tinystories-sample/tinystories_val.txt')], out,
      { docs: 'blankline', shardTokens: 50000, val: '5%', prefix: 'ts' });
    const train = await listShards(out, 'train', 'ts'), val = await listShards(out, 'val', 'ts');
    expect(train).toEqual(r.files.train);
    expect(val).toEqual(r.files.val);
    expect(train.length).toBe(Math.ceil(r.train.tokens / 50000));
    const manifest = JSON.parse(readFileSync(r.manifest, 'utf8'));
    expect(manifest).toMatchObject({ tokenizer: { kind: 'byte-bpe', vocabSize: 50257, bos: 50256 }, train: { tokens: r.train.tokens } });
    const toks = (paths: string[]) => paths.flatMap((p) => Array.from(parseShard(new Uint8Array(readFileSync(p))).tokens));
    const blocks = text('tinystories-sample/tinystories_val.txt').split(/\n\s*\n/).map((b) => b.replace(/\n+$/, '')).filter(Boolean);
    const got = [...docsOf(toks(train), 50256), ...docsOf(toks(val), 50256)].map((ids) => gpt2.decode(ids)).sort();
    expect(got).toEqual([...blocks].sort());
    expect(r.val.docs / r.docs).toBeGreaterThan(0.02);
    expect(r.val.docs / r.docs).toBeLessThan(0.09);
    // "N tokens" subsets get the corpus size from a sample of the first file
    const s = await packFiles(spm, [resolve(SHARED, 'lambada-openai/lambada_openai.jsonl')], join(tmp, 'lambada'),
      { docs: 'jsonl', textField: 'context', subset: '100000 tokens', val: 0 });
    expect(s.train.tokens).toBe(100000);
    expect(s.expectedTokens).toBeGreaterThan(300000);
    await expect(packFiles(gpt2, [join(tmp, 'missing.txt')], tmp)).rejects.toThrow(/does not exist/);
  });

  const batches = async (l: ShardLoader, n: number) => { const out: Batch[] = []; for (let i = 0; i < n; i++) out.push((await l.next())!); return out; };

  it('serves sequential windows in llm.c order: x = tokens[p : p+B*T], y shifted by one, shard by shard, epoch by epoch', async () => {
    const a = Uint16Array.from({ length: 100 }, (_, i) => i), b = Uint16Array.from({ length: 50 }, (_, i) => 1000 + i);
    const c = Uint16Array.from({ length: 10 }, (_, i) => 2000 + i); // too short for a batch: skipped
    const l = new ShardLoader(memoryShards([encodeShard(a, 1), c, b]), { B: 2, T: 10, mode: 'sequential', epochs: 2 });
    const got = await batches(l, 8);
    expect(Array.from(got[0].x)).toEqual(Array.from(a.subarray(0, 20)));
    expect(Array.from(got[0].y)).toEqual(Array.from(a.subarray(1, 21)));
    expect(got.map((g) => g.x[0])).toEqual([0, 20, 40, 60, 1000, 1020, 0, 20]); // 80 + 21 > 100: next shard
    expect(got.map((g) => g.epoch)).toEqual([0, 0, 0, 0, 0, 0, 1, 1]);
    await batches(l, 4);
    expect(await l.next()).toBeNull(); // 2 epochs done
    expect(() => new ShardLoader(memoryShards([c]), { B: 2, T: 10, mode: 'sequential' })).toThrow(/no shard holds 21 tokens/);
  });

  it('serves seeded random windows with replacement, and resumes exactly from a saved state (both modes, files or memory)', async () => {
    const out = join(tmp, 'shake');
    await packFiles(spm, [resolve(SHARED, 'tinyshakespeare/input.txt')], out, { docs: 'blankline', shardTokens: 100000, val: 0 });
    const paths = await listShards(out, 'train');
    expect(paths.length).toBeGreaterThan(3);
    const files = await openShards(paths);
    const mem = memoryShards(paths.map((p) => new Uint8Array(readFileSync(p))));
    try {
      for (const mode of ['random', 'sequential'] as const) {
        const opts: LoaderOptions = { B: 4, T: 64, mode, seed: 42 };
        const l = new ShardLoader(files, opts);
        const first = await batches(l, 25);
        const saved = JSON.stringify(l.state());
        const rest = await batches(l, 25);
        const resumed = new ShardLoader(mem, opts, JSON.parse(saved));
        expect(await batches(resumed, 25), mode).toEqual(rest);
        expect(await batches(new ShardLoader(mem, opts), 25), mode).toEqual(first);
        for (const g of first) expect(Array.from(g.x.subarray(1, 64))).toEqual(Array.from(g.y.subarray(0, 63)));
        if (mode === 'random') {
          const other = await batches(new ShardLoader(mem, { ...opts, seed: 43 }), 25);
          expect(other).not.toEqual(first);
          const rows = new Set(first.flatMap((g) => [0, 1, 2, 3].map((b) => g.x.subarray(b * 64, b * 64 + 16).join())));
          expect(rows.size).toBe(100); // 100 different windows
        }
      }
      expect(() => new ShardLoader(mem, { B: 4, T: 32, mode: 'random' }, new ShardLoader(mem, { B: 4, T: 64, mode: 'random' }).state()))
        .toThrow(/saved state .* is for another loader/);
    } finally {
      await files.close();
    }
    writeFileSync(join(tmp, 'bad.bin'), new Uint8Array(100));
    await expect(openShards([join(tmp, 'bad.bin')])).rejects.toThrow(/truncated: 100 bytes/);
  });

  it('refuses tokens at or above vocabSize, and windows shorter than asked for (a changing ShardSource)', async () => {
    const toks = Uint16Array.from({ length: 40 }, (_, i) => i === 25 ? 600 : i % 512);
    const l = new ShardLoader(memoryShards([toks]), { B: 1, T: 10, mode: 'sequential', vocabSize: 512 });
    expect(Array.from((await l.next())!.x)).toEqual(Array.from(toks.subarray(0, 10)));
    await l.next(); // tokens 10..20
    await expect(l.next()).rejects.toThrow(/shard 0 holds the token 600 at position 25, not below the model's vocab_size 512/);
    expect(() => new ShardLoader(memoryShards([toks]), { B: 1, T: 10, mode: 'sequential', vocabSize: 0 })).toThrow(/`vocabSize` must be a positive integer/);
    const short = { sizes: [40], read: (_i: number, start: number, n: number) => toks.subarray(start, start + n - 1) };
    await expect(new ShardLoader(short, { B: 1, T: 10, mode: 'random' }).next()).rejects.toThrow(/shard 0 gave 10 tokens at \d+ where 11 were asked for/);
  });

  it('keeps the core isomorphic: nothing outside src/node/ imports a Node built-in', () => {
    const files = (readdirSync(resolve(REPO, 'src'), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts') && !f.startsWith('node/') && !f.startsWith('gen/'));
    expect(files.length).toBeGreaterThan(30);
    for (const f of files) {
      const src = readFileSync(resolve(REPO, 'src', f), 'utf8');
      expect(src.match(/from '(node:[^']+|fs|path|os|webgpu)'/g), f).toBeNull();
    }
    expect(SHARD_HEADER_BYTES).toBe(1024);
  });
});
